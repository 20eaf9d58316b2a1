"""The freelancer picks the language of their pages and emails (remembered on the case)."""

from datetime import datetime

from django.db import transaction
from django.utils import translation

from notifications.services import outbox_context_update_pending
from verification.errors import LanguageNotOffered
from verification.languages import case_language, language_choices
from verification.messages import reason_category
from verification.services.audit import audit_record
from verification.services.cases import case_lock, case_save


@transaction.atomic
def case_language_choose(*, case_id, language: str, actor: str, now: datetime):
    """Remember the freelancer's language for the case: pages, and every email still waiting to be
    sent (they are rendered in it), follow it from now on. Audited; choosing the same again writes
    nothing."""
    if language not in {code for code, _name in language_choices()}:
        raise LanguageNotOffered()
    case, now = case_lock(case_id, now=now)
    if case.language_choice == language:
        return case
    before = {"language_choice": case.language_choice, "language": case_language(case)}
    case.language_choice = language
    case_save(case, fields=["language_choice"], now=now)
    audit_record(case=case, actor=actor, action="language_chosen", now=now, before=before,
                 after={"language_choice": language})
    outbox_context_update_pending(case_ref=case.id, key="language", value=language, now=now)
    with translation.override(language):
        outbox_context_update_pending(case_ref=case.id, key="reason_category", value=reason_category(case), now=now)
    return case
