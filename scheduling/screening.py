"""Nothing about appearance or protected characteristics is recorded (the product's guarantee 6).

Every free text staff write (a call's note, a reviewer's statement, an admin's reason, a time-off
note) and every profile claim the marketplace sends is screened here BEFORE anything is stored:
stored text ends up in the append-only audit log, where it could never be removed.

It lives in the lowest app (like `scheduling.errors`) so every app can screen before it stores.

How a text is matched, so that ordinary notes pass and hostile ones do not:
- words, not substrings: the text is cut into words ("cross-checked" is "cross" + "checked"),
  so "human" never matches "man" and "message" never matches "age";
- inflections: each word is also tried without its plural, past, -ing, -ly, -er, -est or -ness
  ending, and irregular forms are mapped ("women" -> "woman", "accented" -> "accent");
- synonyms: each category lists its words and the usual synonyms ("appearance", "looks",
  "good-looking"; "accent", "broken English", "non-native");
- ambiguous words ("old", "short", "black", "age", ...) are refused only when they are
  about a person: a person word ("he", "their", "the freelancer", "guy", ...) shortly before with
  no thing ("document", "call", "photo", ...) in between, or a person word right after ("an old
  guy"); "years old" is always an age, and a cross is one only when worn ("wore a cross").
"""

import re
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from scheduling.errors import DomainError, message

# category -> words refused wherever they appear (base forms; inflections are derived)
PROTECTED: dict[str, tuple[str, ...]] = {
    "gender or sex": (
        "gender", "sex", "male", "female", "man", "woman", "boy", "girl", "lady", "gentleman", "guy", "gal",
        "transgender", "trans", "nonbinary", "feminine", "masculine", "effeminate", "pregnant", "pregnancy",
    ),
    "race, ethnicity or skin": (
        "race", "racial", "ethnic", "ethnicity", "skin", "complexion", "caucasian", "asian", "african", "hispanic",
        "latino", "latina", "arab", "negro",
    ),
    "appearance": (
        "appearance", "attractive", "unattractive", "ugly", "beautiful", "handsome", "hair", "hairstyle", "bald",
        "beard", "moustache", "mustache", "tattoo", "piercing", "makeup", "weight", "overweight", "obese", "skinny",
        "height", "physique",
    ),
    "age": ("elderly", "teen", "teenager", "underage", "wrinkle", "wrinkly", "geriatric", "juvenile"),
    "disability or health": (
        "disabled", "disability", "handicap", "handicapped", "wheelchair", "blind", "deaf", "stutter",
        "stammer", "limp", "illness", "disease", "health", "medical", "mental", "autism", "autistic", "adhd",
        "dyslexia", "dyslexic", "impairment", "impaired", "crutch", "prosthetic", "sick",
    ),
    "religion or belief": (
        "religion", "religious", "muslim", "islamic", "christian", "catholic", "jewish", "jew", "hindu",
        "buddhist", "sikh", "atheist", "hijab", "niqab", "burqa", "turban", "headscarf", "veil", "kippah",
        "yarmulke", "crucifix", "church", "mosque", "synagogue", "prayer",
    ),
    "accent or fluency": ("accent", "fluent", "fluency", "pronunciation", "dialect"),
    "sexual orientation or family": (
        "gay", "lesbian", "homosexual", "heterosexual", "bisexual", "queer", "married", "divorced", "widow",
        "widowed", "husband", "wife", "boyfriend", "girlfriend",
    ),
}

# phrases (as word sequences) refused wherever they appear
PHRASES: dict[str, tuple[str, ...]] = {
    "race, ethnicity or skin": ("mixed race",),
    "appearance": ("good looking", "his looks", "her looks", "their looks", "looked like a", "dressed like",
                   "skin tone", "eye colour", "eye color"),
    "age": ("years old", "year old", "his age", "her age", "their age", "too young", "looked young",
            "looks young", "looked old", "looks old"),
    "accent or fluency": ("broken english", "native speaker", "non native", "mother tongue", "poor english",
                          "spoke with a", "speaks with a", "foreign sounding"),
    "religion or belief": ("wore a cross", "wears a cross", "wearing a cross", "cross necklace", "cross pendant"),
    "disability or health": ("sign language", "is mute", "was mute", "hard of hearing"),
}

# category -> words refused only when they are about a person (see the module's docstring)
AMBIGUOUS: dict[str, tuple[str, ...]] = {
    "age": ("old", "young", "age"),
    "appearance": ("short", "tall", "fat", "thin", "pretty"),
    "race, ethnicity or skin": ("black", "white", "brown", "dark"),
    "disability or health": ("ill",),
}

PERSON_WORDS = frozenset((
    "he", "she", "him", "her", "his", "hers", "they", "them", "their", "theirs", "himself", "herself", "themselves",
    "freelancer", "person", "people", "individual", "applicant", "candidate", "someone", "somebody", "holder",
    "caller", "participant", "speaker", "man", "woman", "guy", "lady", "boy", "girl",
))
PERSON_NOUNS = PERSON_WORDS - {"he", "she", "him", "her", "his", "hers", "they", "them", "their", "theirs", "himself",
                               "herself", "themselves"}
THING_WORDS = frozenset((
    "document", "id", "passport", "licence", "license", "card", "photo", "picture", "image", "call", "video",
    "connection", "camera", "link", "file", "record", "note", "version", "address", "name", "profile", "account",
    "meeting", "session", "screen", "background", "room", "signal", "audio", "sound", "internet", "network",
    "payout", "bank", "statement", "bill", "copy", "scan", "date", "expiry", "format", "text", "print", "title",
    "check", "list", "time", "delay", "wait", "break", "answer", "question", "email", "phone", "device",
))
_WINDOW = 5  # how far back a person word makes an ambiguous word about them

_IRREGULAR = {
    "women": "woman", "men": "man", "ladies": "lady", "gentlemen": "gentleman", "wives": "wife", "children": "child",
    "kids": "kid", "guys": "guy", "elder": "old", "elders": "old", "eldest": "old", "sicker": "sick",
    "crutches": "crutch", "widows": "widow",
}
_SUFFIXES = ("s", "es", "ies", "ed", "d", "ing", "ly", "er", "est", "ness")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
_SENTENCE = re.compile(r"[.!?;:\n]+")


def _forms(word: str) -> set[str]:
    """The word and the base forms it may be an inflection of ("accented" -> "accent", "aged" ->
    "age", "disabilities" -> "disability", "fatter" -> "fat", "women" -> "woman")."""
    forms = {word, _IRREGULAR.get(word, word)}
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            stem = word[: -len(suffix)]
            forms.add(stem)
            if suffix == "ies":
                forms.add(stem + "y")
            if suffix in ("ed", "ing", "er", "est"):
                forms.add(stem + "e")
            if len(stem) >= 3 and stem[-1] == stem[-2]:
                forms.add(stem[:-1])
    return forms


def _index(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {term: category for category, terms in table.items() for term in terms}


_PROTECTED = _index(PROTECTED)
_AMBIGUOUS = _index(AMBIGUOUS)
_PHRASE_CATEGORY = {phrase: category for category, phrases in PHRASES.items() for phrase in phrases}
_PHRASES = re.compile(r"\b(" + "|".join(re.escape(p) for p in sorted(_PHRASE_CATEGORY, key=len, reverse=True))
                      + r")\b")
MAX_LENGTH = 5000  # every field that is screened is shorter; a longer text is refused before matching


def _words(sentence: str) -> list[str]:
    words = []
    for match in _WORD.finditer(sentence.lower()):
        word = match.group(0).replace("’", "'")
        words.append(word[:-2] if word.endswith("'s") else word)
    return words


@dataclass(frozen=True)
class Finding:
    word: str
    category: str


def protected_terms_found(text: str) -> list[Finding]:
    """What in `text` is about a protected characteristic or appearance (empty: the text may be stored)."""
    findings: dict[str, Finding] = {}
    for sentence in _SENTENCE.split(text.replace("-", " ")):
        words = _words(sentence)
        bases = [_forms(word) for word in words]
        for position, word in enumerate(words):
            hit = next((_PROTECTED[form] for form in sorted(bases[position]) if form in _PROTECTED), None)
            if hit:
                findings.setdefault(word, Finding(word, hit))
                continue
            ambiguous = next((_AMBIGUOUS[form] for form in sorted(bases[position]) if form in _AMBIGUOUS), None)
            if ambiguous and _about_a_person(words, bases, position):
                findings.setdefault(word, Finding(word, ambiguous))
        for match in _PHRASES.finditer(" ".join(words)):
            findings.setdefault(match.group(1), Finding(match.group(1), _PHRASE_CATEGORY[match.group(1)]))
    return sorted(findings.values(), key=lambda f: f.word)


def _about_a_person(words: list[str], bases: list[set[str]], position: int) -> bool:
    if position + 1 < len(words):
        following = bases[position + 1]
        if following & THING_WORDS:
            return False  # "a short call", "a dark room"
        if following & PERSON_NOUNS:
            return True  # "an old guy", "a black freelancer"
    for back in range(position - 1, max(-1, position - 1 - _WINDOW), -1):
        if bases[back] & THING_WORDS:
            return False  # "his ID document is too old"
        if bases[back] & PERSON_WORDS:
            return True  # "she looked old", "the freelancer is short"
    return False


def protected_terms_in(text: str) -> list[str]:
    """The words found (kept for callers that only need the words)."""
    return [finding.word for finding in protected_terms_found(text)]


class ProtectedTermsInText(DomainError):
    """400: the text mentions a protected characteristic or appearance; nothing was stored."""

    code = "protected_terms"

    def __init__(self, *, field: str, findings: list[Finding]):
        words = ", ".join(f'"{f.word}"' for f in findings)
        categories = ", ".join(sorted({f.category for f in findings}))
        super().__init__(
            message(_("The %(field)s mentions %(words)s (%(categories)s): nothing about appearance or a protected "
                      "characteristic is recorded. Describe what was checked (the document, the profile facts), not "
                      "the person."), field=field.replace("_", " "), words=words, categories=categories),
            extra={"field": field, "terms": [f.word for f in findings]},
        )


def text_screen(text: str, *, field: str) -> str:
    """Refuse (raise) a free text that mentions a protected characteristic; return it unchanged otherwise.
    Call it before anything is written."""
    if len(text or "") > MAX_LENGTH:
        raise DomainError(message(_("The %(field)s is too long (at most %(most)s characters)."),
                                  field=field.replace("_", " "), most=MAX_LENGTH))
    findings = protected_terms_found(text or "")
    if findings:
        raise ProtectedTermsInText(field=field, findings=findings)
    return text
