"""The default call checklist (version 1). Every answer is a closed choice."""

from datetime import datetime

from django.utils.translation import gettext, gettext_noop

from scheduling.screening import text_screen
from verification.claims import claims_verifiable
from verification.models import CallRecord, ChecklistTemplate

# The answers' words, for the catalogues (the page shows each translated; the stored answer stays).
ANSWER_WORDS = [gettext_noop("yes"), gettext_noop("no"), gettext_noop("match"), gettext_noop("mismatch"),
                gettext_noop("unclear"), gettext_noop("passport"), gettext_noop("national_id"),
                gettext_noop("driving_licence"), gettext_noop("other"), gettext_noop("pass")]

DEFAULT_ITEMS = [
    {"key": "consent",
     "label": gettext_noop("Consent: the freelancer agrees to the check (what is and is not kept was explained)"),
     "choices": ["yes", "no"]},
    {"key": "presence", "label": gettext_noop("Presence: the freelancer read out the code shown on their page"),
     "choices": ["match", "mismatch", "unclear"]},
    {"key": "id_type", "label": gettext_noop("ID document type"),
     "choices": ["passport", "national_id", "driving_licence", "other"]},
    {"key": "id_issuer", "label": gettext_noop("ID issued by the country on the profile"),
     "choices": ["yes", "no", "unclear"]},
    {"key": "id_name", "label": gettext_noop("Name on the ID matches the profile"),
     "choices": ["yes", "no", "unclear"]},
    {"key": "facts", "label": gettext_noop("Profile fact"), "per_claim": True, "max_claims": 3,
     "choices": ["pass", "unclear", "mismatch"]},
    {"key": "close", "label": gettext_noop("Close: outcome told and the appeal route explained"),
     "choices": ["yes", "no"]},
]



def checklist_items_screen(items) -> None:
    """A new checklist version never asks about the person: every label and choice is screened
    like staff free text (`ProtectedTermsInText` names the item)."""
    for index, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, dict):
            words = [str(item.get("label", "")), *map(str, item.get("choices", []) or [])]
            text_screen(" ; ".join(words), field=f"item {index + 1} ({item.get('key', '?')})")


def checklist_current(*, now: datetime) -> ChecklistTemplate:
    """The newest checklist version; the default one if none exists yet."""
    return ChecklistTemplate.objects.order_by("-version").first() or ChecklistTemplate.objects.get_or_create(
        version=1, defaults={"items": DEFAULT_ITEMS, "created_at": now, "created_by": "system"})[0]


def checklist_questions(call: CallRecord) -> list[dict]:
    """The call's checklist version expanded for its case: one question per profile fact."""
    questions = []
    for item in call.checklist.items:
        if item.get("per_claim"):
            for claim in claims_verifiable(call.case.profile_claims)[: item.get("max_claims", 3)]:
                questions.append({"key": f"fact:{claim['field']}", "label": f"{gettext(item['label'])}: "
                                  f"{claim['field']} = {claim['value']}", "choices": item["choices"]})
        else:
            questions.append({"key": item["key"], "label": gettext(item["label"]), "choices": item["choices"]})
    return questions
