"""Nothing about appearance or protected characteristics is recorded. The only free text on a call
(an escalation note) is checked against these terms and refused with a clear message."""

import re

TERMS = [
    # gender and sex
    "gender", "male", "female", "man", "woman", "boy", "girl", "transgender", "trans", "pregnant",
    # race, ethnicity, appearance
    "race", "racial", "ethnic", "ethnicity", "skin", "complexion", "black", "white", "asian", "african", "hispanic",
    "latino", "arab", "hair", "beard", "weight", "fat", "thin", "tall", "short", "ugly", "pretty", "looks",
    # age
    "age", "old", "older", "young", "younger", "elderly", "teen", "teenager",
    # disability and health
    "disabled", "disability", "wheelchair", "blind", "deaf", "mute", "stutter", "sick", "illness", "health",
    # religion
    "religion", "religious", "muslim", "christian", "jewish", "hindu", "buddhist", "sikh", "hijab", "turban",
    "headscarf", "veil", "cross",
    # accent and language fluency
    "accent", "fluent", "fluency", "broken english", "native speaker",
]
_PATTERN = re.compile(r"\b(" + "|".join(re.escape(t) for t in sorted(TERMS, key=len, reverse=True)) + r")\b",
                      re.IGNORECASE)


def protected_terms_in(text: str) -> list[str]:
    return sorted({match.group(0).lower() for match in _PATTERN.finditer(text)})
