"""Which language a freelancer reads: one rule for pages, emails, invites and the API.

In order: the language they picked on a page (`Case.language_choice`), the marketplace's `language`
for them, their browser's Accept-Language (pages and the API only), English. A tag we do not ship
falls back to the closest we do (`pt-PT` -> `pt-br`, `es-MX` -> `es`, `zh-CN` -> `zh-hans`, `tl` ->
`fil`) or is skipped. See docs/languages.md.
"""

from django.conf import settings
from django.utils.translation import get_language_info, get_supported_language_variant
from django.utils.translation.trans_real import parse_accept_lang_header

# Tags that mean a language we ship under another code.
ALIASES = {"tl": "fil", "zh-cn": "zh-hans", "zh-sg": "zh-hans", "zh-my": "zh-hans"}


def language_supported(tag: str | None) -> str | None:
    """The code in settings.LANGUAGES that serves `tag` (a BCP 47 tag, any case), or None."""
    if not tag or tag == "*" or len(tag) > 35:
        return None
    tag = tag.strip().replace("_", "-").lower()
    tag = ALIASES.get(tag, ALIASES.get(tag.split("-")[0], tag))
    try:
        return get_supported_language_variant(tag)
    except LookupError:
        return None


def language_from_header(accept_language: str) -> str | None:
    """The first language of an Accept-Language header that we ship, or None."""
    for tag, _quality in parse_accept_lang_header(accept_language or "")[:10]:
        code = language_supported(tag)
        if code:
            return code
    return None


def case_language(case, *, accept_language: str = "") -> str:
    """The language to show this case's freelancer: their choice on the page, the marketplace's,
    their browser's (when a request is at hand), English."""
    return (language_supported(case.language_choice) or language_supported(case.freelancer.language)
            or language_from_header(accept_language) or settings.LANGUAGE_CODE)


def language_choices() -> list[tuple[str, str]]:
    """(code, name in that language) for the switcher (settings.LANGUAGES names each in its own)."""
    return list(settings.LANGUAGES)


def language_name(code: str) -> str:
    """A language's name in its own language (`Português`), or the tag when we do not know it."""
    try:
        return get_language_info(code)["name_local"]
    except KeyError:
        return code


def speaks(tags: list[str], code: str) -> bool:
    """Whether one of the representatives' tags (`pt-BR`, `pt`, `es`) is the language `code`."""
    base = code.split("-")[0]
    return any(language_supported(tag) == code or tag.lower().split("-")[0] == base for tag in tags)
