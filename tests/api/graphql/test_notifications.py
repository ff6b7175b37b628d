"""In-app notices: the receiving partner hears of a new referral, the sending counsellor of
an overdue answer, each status change and a recorded visit; each person reads and marks only
their own."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from graph.driver import Graph
from graph.referrals import announce_follow_ups_due, announce_overdue
from tests.api.graphql.conftest import START, Clock, GraphQLClient
from tests.api.graphql.test_referrals import (  # noqa: F401 - `world` is a fixture
    ACCEPT,
    FOLLOW_UP,
    _ok,
    sent_referral,
    world,
)

NOTICES = """
query N($unread: Boolean) { notifications(unreadOnly: $unread) {
  unreadCount nodes { id kind referralId reference status previousStatus readAt }
} }
"""
MARK = """
mutation M($ids: [ID!]) { markNotificationsRead(ids: $ids) {
  __typename
  ... on NotificationsRead { marked unreadCount }
  ... on ValidationError { fields { field message } }
} }
"""


async def notices(gql: GraphQLClient, token: str, unread: bool = False) -> dict[str, Any]:
    body = await gql(NOTICES, {"unread": unread}, token=token)
    assert "errors" not in body, body
    found: dict[str, Any] = body["data"]["notifications"]
    return found


async def test_each_side_is_told_what_the_other_did_and_marks_it_read(
    gql: GraphQLClient,
    world: dict[str, str],  # noqa: F811
    graph: Graph,
    clock: Clock,
) -> None:
    counsellor, receiver = world["counsellor"], world["partner_b"]
    referral_id = await sent_referral(gql, world)

    told = await notices(gql, receiver)
    assert told["unreadCount"] == 1
    [received] = told["nodes"]
    assert received["kind"] == "REFERRAL_RECEIVED"
    assert received["referralId"] == referral_id
    assert received["status"] == "SENT"
    assert received["reference"].startswith("HW-")
    # The counsellor sent it (nobody is told of their own step); the partner of the
    # sending organisation is not on the receiving side.
    assert (await notices(gql, counsellor))["unreadCount"] == 0
    assert (await notices(gql, world["partner"]))["unreadCount"] == 0

    clock.now = START + timedelta(days=4)
    assert await graph.write(announce_overdue, now=clock.now) == 1
    clock.now = START + timedelta(days=5)
    await _ok(await gql(ACCEPT, {"id": referral_id}, token=receiver), "acceptReferral")
    clock.now = START + timedelta(days=40)
    visit = {
        "referralId": referral_id,
        "monthsAfterArrival": 1,
        "visitedOn": (START.date() + timedelta(days=31)).isoformat(),
        "employment": "UNEMPLOYED",
        "schooling": "ALL_CHILDREN",
        "healthCareAccess": "YES",
        "housing": "TEMPORARY",
        "feelsSafe": "PARTLY",
        "intendsToLeave": "UNDECIDED",
    }
    await _ok(await gql(FOLLOW_UP, {"input": visit}, token=receiver), "recordFollowUp")

    mine = await notices(gql, counsellor)
    assert mine["unreadCount"] == 3
    assert [(n["kind"], n["status"], n["previousStatus"]) for n in mine["nodes"]] == [
        ("VISIT_RECORDED", "ACCEPTED", None),
        ("STATUS_CHANGED", "ACCEPTED", "SENT"),
        ("ANSWER_OVERDUE", "SENT", None),
    ]
    # The receiver acted and recorded the visit itself: still only its one notice.
    assert (await notices(gql, receiver))["unreadCount"] == 1

    # Someone else's notice is not found by id; one's own is marked once.
    newest = mine["nodes"][0]["id"]
    foreign = (await gql(MARK, {"ids": [newest]}, token=receiver))["data"]
    assert foreign["markNotificationsRead"] == {
        "__typename": "NotificationsRead",
        "marked": 0,
        "unreadCount": 1,
    }
    own = (await gql(MARK, {"ids": [newest]}, token=counsellor))["data"]
    assert own["markNotificationsRead"]["marked"] == 1
    assert own["markNotificationsRead"]["unreadCount"] == 2
    again = (await gql(MARK, {"ids": [newest]}, token=counsellor))["data"]
    assert again["markNotificationsRead"]["marked"] == 0
    unread = await notices(gql, counsellor, unread=True)
    assert [n["kind"] for n in unread["nodes"]] == ["STATUS_CHANGED", "ANSWER_OVERDUE"]
    everything = (await gql(MARK, {}, token=counsellor))["data"]["markNotificationsRead"]
    assert everything == {"__typename": "NotificationsRead", "marked": 2, "unreadCount": 0}
    read = await notices(gql, counsellor)
    assert all(n["readAt"] is not None for n in read["nodes"])

    too_many = await gql(MARK, {"ids": [str(i) for i in range(101)]}, token=counsellor)
    assert too_many["data"]["markNotificationsRead"]["fields"][0]["field"] == "ids"


async def test_notices_need_a_signed_in_person(
    gql: GraphQLClient,
    world: dict[str, str],  # noqa: F811
) -> None:
    body = await gql(NOTICES, {})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


MAIL = "{ mailPreference { frequency language } }"
SET_MAIL = """
mutation S($f: MailFrequency!, $l: String!) { setMailPreference(frequency: $f, language: $l) {
  __typename
  ... on MailPreference { frequency language }
  ... on ValidationError { fields { field message } }
} }
"""


async def test_a_person_chooses_how_they_hear_of_notices_by_mail(
    gql: GraphQLClient, people: dict[str, str]
) -> None:
    token = people["partner_b"]
    body = await gql(MAIL, token=token)
    assert body["data"]["mailPreference"] == {"frequency": "IMMEDIATE", "language": "en"}

    set_ = await gql(SET_MAIL, {"f": "DIGEST", "l": "sq"}, token=token)
    assert set_["data"]["setMailPreference"] == {
        "__typename": "MailPreference",
        "frequency": "DIGEST",
        "language": "sq",
    }
    refused = await gql(SET_MAIL, {"f": "NONE", "l": "fr"}, token=token)
    result = refused["data"]["setMailPreference"]
    assert result["__typename"] == "ValidationError"
    assert [f["field"] for f in result["fields"]] == ["language"]
    # Each person's own: the counsellor's is untouched.
    other = await gql(MAIL, token=people["counsellor"])
    assert other["data"]["mailPreference"]["frequency"] == "IMMEDIATE"
    assert (await gql(MAIL, token=token))["data"]["mailPreference"]["language"] == "sq"


async def test_the_sending_counsellor_is_told_once_when_a_visit_falls_due_unrecorded(
    gql: GraphQLClient,
    world: dict[str, str],  # noqa: F811
    graph: Graph,
    clock: Clock,
) -> None:
    counsellor = world["counsellor"]
    referral_id = await sent_referral(gql, world)  # arrival planned at START
    schedule = (1, 3, 6, 12)
    assert await graph.write(announce_follow_ups_due, now=START, schedule=schedule) == 0
    await _ok(await gql(ACCEPT, {"id": referral_id}, token=world["partner_b"]), "acceptReferral")
    before = (await notices(gql, counsellor))["unreadCount"]

    month = START + timedelta(days=32)
    assert await graph.write(announce_follow_ups_due, now=month, schedule=schedule) == 1
    assert await graph.write(announce_follow_ups_due, now=month, schedule=schedule) == 0
    told = await notices(gql, counsellor)
    assert told["unreadCount"] == before + 1
    due = told["nodes"][0]
    assert (due["kind"], due["referralId"], due["status"]) == (
        "FOLLOW_UP_DUE",
        referral_id,
        "ACCEPTED",
    )
    # The partner is not told; the three-month visit is announced when it falls due.
    assert all(
        n["kind"] != "FOLLOW_UP_DUE" for n in (await notices(gql, world["partner_b"]))["nodes"]
    )
    later = START + timedelta(days=92)
    assert await graph.write(announce_follow_ups_due, now=later, schedule=schedule) == 1
