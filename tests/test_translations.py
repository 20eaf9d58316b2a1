"""The message catalogues (locale/<lang>/LC_MESSAGES/django.po), checked as a release would be:

- every language in settings.LANGUAGES has one, and it holds every string marked in the code
  (extracted afresh here with makemessages: a new string fails until `make messages` adds it and a
  translator translates it);
- every entry is translated (no empty msgstr, no fuzzy entry), in every plural form;
- placeholders (`%(deadline)s`, `{duration}`, `%s`) and markup (`<strong>`, `<a href=...>`) survive;
- the compiled .mo is current with its .po (`make catalogues` builds it).

These fail while translations are missing: that is the point (docs/languages.md says how to fix).
"""

import gettext
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.utils.translation import to_locale

from verify_site.catalogues import compiled_bytes

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "locale"
LANGUAGES = [code for code, _name in settings.LANGUAGES if code != settings.LANGUAGE_CODE]
PLACEHOLDER = re.compile(r"%\([a-z_0-9]+\)[sd]|%[sd]|\{[a-z_0-9]+\}")
TAG = re.compile(r"</?[a-z]+\b")


def po_path(code: str) -> Path:
    return LOCALE / to_locale(code) / "LC_MESSAGES" / "django.po"


def catalogue(code: str):
    with po_path(code).open("rb") as source:
        return read_po(source, locale=to_locale(code), domain="django")


def entries(code: str):
    return [message for message in catalogue(code) if message.id]


def forms(message) -> list[tuple[str, str]]:
    """(source, translation) pairs: one per plural form (each form against the plural source, the
    first against the singular)."""
    if isinstance(message.id, tuple):
        singular, plural = message.id
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        return [(singular if index == 0 else plural, text) for index, text in enumerate(strings)]
    return [(message.id, message.string)]


def label(message) -> str:
    source = message.id[0] if isinstance(message.id, tuple) else message.id
    return source[:70]


@pytest.mark.parametrize("code", LANGUAGES)
def test_every_language_has_a_catalogue(code):
    assert po_path(code).exists(), f"no catalogue for {code}: run `make messages`"


@pytest.fixture(scope="module")
def marked_now(tmp_path_factory) -> set:
    """The msgids marked in the code right now: makemessages run on a copy of the source."""
    assert shutil.which("xgettext"), "GNU gettext is needed to extract the strings (apt-get install gettext)"
    copy = tmp_path_factory.mktemp("source")
    for name in ("manage.py", "verify_site", "verification", "scheduling", "notifications"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
        else:
            shutil.copy(source, copy / name)
    (copy / "locale").mkdir()
    env = {**os.environ, "DEBUG": "true", "PYTHONPATH": str(copy)}
    subprocess.run([sys.executable, "manage.py", "makemessages", "-l", "en", "--no-location", "--no-wrap"],
                   cwd=copy, env=env, check=True, capture_output=True, timeout=300)
    with (copy / "locale" / "en" / "LC_MESSAGES" / "django.po").open("rb") as source:
        return {message.id for message in read_po(source) if message.id}


@pytest.mark.parametrize("code", LANGUAGES)
def test_the_catalogue_holds_every_string_marked_in_the_code(code, marked_now):
    have = {message.id for message in entries(code)}
    missing = sorted(str(i)[:80] for i in marked_now - have)
    assert not missing, (f"{len(missing)} string(s) marked in the code are not in the {code} catalogue: "
                         f"run `make messages`, then translate them. First: {missing[:5]}")


@pytest.mark.parametrize("code", LANGUAGES)
def test_every_entry_is_translated_and_none_is_fuzzy(code):
    untranslated = [label(m) for m in entries(code) if not all(text.strip() for _source, text in forms(m))]
    fuzzy = [label(m) for m in entries(code) if m.fuzzy]
    assert not untranslated, f"{code}: {len(untranslated)} untranslated, e.g. {untranslated[:5]}"
    assert not fuzzy, f"{code}: {len(fuzzy)} fuzzy (review them, then drop the flag), e.g. {fuzzy[:5]}"


@pytest.mark.parametrize("code", LANGUAGES)
def test_placeholders_and_markup_are_preserved(code):
    broken = []
    for message in entries(code):
        for source, text in forms(message):
            if not text:
                continue  # reported by the completeness test
            wanted = sorted(PLACEHOLDER.findall(source))
            got = sorted(PLACEHOLDER.findall(text))
            # a plural form may leave the count out ("一个" for one), never add or rename one
            if got != wanted and not (isinstance(message.id, tuple) and set(got) <= set(wanted) and got):
                broken.append(f"{label(message)!r}: {wanted} -> {got}")
            if sorted(TAG.findall(source)) != sorted(TAG.findall(text)):
                broken.append(f"{label(message)!r}: markup {TAG.findall(source)} -> {TAG.findall(text)}")
    assert not broken, f"{code}: {len(broken)} entries change placeholders or markup: {broken[:5]}"


@pytest.mark.parametrize("code", [settings.LANGUAGE_CODE, *LANGUAGES])
def test_the_compiled_catalogue_is_current(code):
    mo = po_path(code).with_suffix(".mo")
    assert mo.exists(), f"{mo} is missing: run `make catalogues`"
    assert mo.read_bytes() == compiled_bytes(po_path(code)), f"{mo} is older than its .po: run `make catalogues`"
    with mo.open("rb") as source:
        assert gettext.GNUTranslations(source).info()["language"] == to_locale(code)  # gettext reads it


def test_filipino_and_every_catalogue_declare_their_language_and_plural_rule():
    for code in [settings.LANGUAGE_CODE, *LANGUAGES]:
        header = catalogue(code)
        assert header.locale is not None
        assert header.num_plurals >= 1 and "INTEGER" not in header.plural_forms, code
