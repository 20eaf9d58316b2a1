"""Profile claims: the facts a representative confirms on the call. Only verifiable facts are
accepted (an allow-list); a claim about gender, ethnicity, religion or any other field is refused
with a 400 naming it, before anything is stored. Claim values are screened like staff free text."""

from typing import Any

from scheduling.errors import DomainError
from scheduling.screening import text_screen

ALLOWED_CLAIM_FIELDS: tuple[str, ...] = (
    "name", "display_name", "country", "location", "city", "payout_name", "payout_country", "title", "company",
    "website",
)


class ClaimNotAllowed(DomainError):
    code = "claim_not_allowed"

    def __init__(self, *, index: int, field: str):
        super().__init__(
            f'"{field}" is not a field a call can verify. Profile claims may only be: '
            f"{', '.join(ALLOWED_CLAIM_FIELDS)}.",
            extra={"field": f"profile_claims[{index}].field", "claim": field, "allowed": list(ALLOWED_CLAIM_FIELDS)},
        )


def claims_checked(claims: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The claims as stored (field names normalised), or a refusal naming the first bad one."""
    checked = []
    for index, claim in enumerate(claims):
        field = str(claim.get("field", "")).strip().lower().replace(" ", "_").replace("-", "_")
        if field not in ALLOWED_CLAIM_FIELDS:
            raise ClaimNotAllowed(index=index, field=str(claim.get("field", "")))
        value = str(claim.get("value", ""))
        text_screen(value, field=f"profile_claims[{index}].value")
        checked.append({"field": field, "value": value})
    return checked


def claims_verifiable(claims: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored claims the checklist may ask about (a claim stored before the allow-list is skipped)."""
    return [claim for claim in claims if claim.get("field") in ALLOWED_CLAIM_FIELDS]
