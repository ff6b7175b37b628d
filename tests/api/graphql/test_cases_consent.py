"""The household's one consent for its case: a further recipient extends the signed form
instead of starting a second one, and revoking it withdraws every recipient at once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.api.graphql.conftest import START, GraphQLClient
from tests.api.graphql.test_cases import (
    CASE,
    CONSENT,
    REVOKE,
    _fields,
    _open,
    _refer,
    world,  # noqa: F401 (the fixture)
)
from tests.api.graphql.test_referrals import READ, SEND

EXTEND = """
mutation E($input: CaseConsentRecipientsInput!) { extendCaseConsent(input: $input) {
  __typename
  ... on ConsentPayload { consent { id categories valid recipients { id } } }
  ... on ValidationError { message fields { field message } }
  ... on NotFoundError { message }
} }
"""


def _form(case_id: str, recipients: list[str]) -> dict[str, Any]:
    return {
        "input": {
            "caseId": case_id,
            "recipients": recipients,
            "categories": ["NEEDS", "HOUSEHOLD"],
            "purpose": "reintegration support for the family after return",
            "evidenceReference": "signed form M-2026-0042 (illustrative)",
            "expiresOn": (START.date() + timedelta(days=365)).isoformat(),
        }
    }


async def test_a_further_recipient_extends_the_one_consent_and_revoking_covers_it(
    gql: GraphQLClient,
    world: dict[str, str],  # noqa: F811
) -> None:
    counsellor = world["counsellor"]
    case = await _open(gql, counsellor)
    therapy = await _refer(gql, counsellor, case["id"], "svc-b", ["psychosocial.trauma-therapy"])
    granted = await gql(CONSENT, _form(case["id"], ["org-b"]), token=counsellor)
    consent = granted["data"]["grantCaseConsent"]["consent"]
    assert [o["id"] for o in consent["recipients"]] == ["org-b"]

    # Later the family also wants counselling at KRCT: a referral, then the same form.
    counselling = await _refer(
        gql, counsellor, case["id"], "svc-krct", ["psychosocial.trauma-therapy"]
    )
    second = await gql(CONSENT, _form(case["id"], ["org-krct"]), token=counsellor)
    assert _fields(second, "grantCaseConsent") == ["input.caseId"]
    # Only organisations the case refers to; nothing is added when one is wrong.
    wrong = await gql(
        EXTEND,
        {"input": {"consentId": consent["id"], "recipients": ["org-krct", "org-d"]}},
        token=counsellor,
    )
    assert _fields(wrong, "extendCaseConsent") == ["input.recipients.1"]
    # Only the owner extends it; to anyone else it does not exist.
    foreign = await gql(
        EXTEND,
        {"input": {"consentId": consent["id"], "recipients": ["org-krct"]}},
        token=world["partner_krct"],
    )
    assert foreign["data"]["extendCaseConsent"]["__typename"] == "NotFoundError"

    extended = await gql(
        EXTEND,
        {"input": {"consentId": consent["id"], "recipients": ["org-krct", "org-b"]}},
        token=counsellor,
    )
    result = extended["data"]["extendCaseConsent"]["consent"]
    assert result["id"] == consent["id"]
    assert [o["id"] for o in result["recipients"]] == ["org-b", "org-krct"]
    assert result["categories"] == ["HOUSEHOLD", "NEEDS"]

    seen = (await gql(CASE, {"id": case["id"]}, token=counsellor))["data"]["returnCase"]
    assert [(k["id"], [o["id"] for o in k["recipients"]]) for k in seen["consents"]] == [
        (consent["id"], ["org-b", "org-krct"])
    ]
    # The extension covers the new referral: it can be sent, and KRCT reads the household.
    for referral in (therapy, counselling):
        sent = await gql(SEND, {"id": referral["id"]}, token=counsellor)
        assert sent["data"]["sendReferral"]["referral"]["status"] == "SENT", sent
    krct = (await gql(CASE, {"id": case["id"]}, token=world["partner_krct"]))["data"]["returnCase"]
    assert [m["role"] for m in krct["members"]] == ["MOTHER", "FATHER", "DAUGHTER", "SON"]

    # Revoking the one form withdraws both recipients at once.
    revoked = await gql(REVOKE, {"id": consent["id"]}, token=counsellor)
    assert revoked["data"]["revokeCaseConsent"]["consent"]["valid"] is False
    for token, referral in ((world["partner_b"], therapy), (world["partner_krct"], counselling)):
        read = (await gql(READ, {"id": referral["id"]}, token=token))["data"]["referral"]
        assert "HOUSEHOLD" in read["withheldCategories"], read
    late = await gql(
        EXTEND,
        {"input": {"consentId": consent["id"], "recipients": ["org-krct"]}},
        token=counsellor,
    )
    assert _fields(late, "extendCaseConsent") == ["input.consentId"]
    # After revocation the household may sign a new form.
    again = await gql(CONSENT, _form(case["id"], ["org-b", "org-krct"]), token=counsellor)
    assert again["data"]["grantCaseConsent"]["__typename"] == "ConsentPayload", again
