"""Every main page, signed in as each role, in each of the five languages: no message key
shows instead of its words, dates are written as the language writes them, and consent and
withheld categories are named, not given as codes."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest
from fastapi import FastAPI

from api.graphql.schema import schema
from core.i18n import read_catalogue
from graph.driver import Graph
from graph.duplicates import Kind, scan
from tests import directory
from tests.api.graphql.conftest import START, GraphQLClient
from tests.api.graphql.test_referrals import consent, create, sent_referral
from tests.web.test_pages import _signed_in
from web.session import LANGUAGES

KEYS = {str(m.id) if isinstance(m.id, str) else str(m.id[0]) for m in read_catalogue("en") if m.id}
KEY_LIKE = re.compile(r"[A-Za-z_]+(?:\.[A-Za-z_]+)+")
# Attributes people read (or hear) as well as the text.
READ_ATTRIBUTES = {"title", "aria-label", "placeholder", "alt", "value"}


class _Words(HTMLParser):
    """What a person reads on a page: its text and read attributes, not scripts or ids."""

    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        # A value is read only on a button drawn by an input; an option's or a checkbox's
        # value is what the form sends, not what the person sees.
        shown = tag == "input" and dict(attrs).get("type") in ("submit", "button")
        for name, value in attrs:
            if value and name in READ_ATTRIBUTES and (name != "value" or shown):
                self.words.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.words.append(data)


def shown_keys(html: str) -> set[str]:
    parser = _Words()
    parser.feed(html)
    return {k for k in KEY_LIKE.findall(" ".join(parser.words)) if k in KEYS}


def _graphql_names() -> set[str]:
    """The API's own words a page must never show: every camelCase field and argument name
    of the schema (`caseReference`, `grantConsent`) and the input paths built of them."""
    names: set[str] = set()
    for type_ in schema._schema.type_map.values():
        for name, field in (getattr(type_, "fields", None) or {}).items():
            names.add(name)
            names.update(getattr(field, "args", None) or {})
    return {n for n in names if re.search(r"[a-z][A-Z]", n)}


GRAPHQL_NAMES = _graphql_names()
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*[A-Za-z0-9]")


def shown_internals(html: str, ids: set[str]) -> set[str]:
    """GraphQL names, `input.` paths and the given internal ids among the words shown."""
    parser = _Words()
    parser.feed(html)
    words = set(WORD.findall(" ".join(parser.words)))
    return {w for w in words if w in GRAPHQL_NAMES or w in ids or w.startswith("input.")}


@pytest.fixture
async def world(
    app: FastAPI, client: httpx.AsyncClient, people: dict[str, str], graph: Graph
) -> dict[str, str]:
    """A sent referral from A to B's trauma service, a draft one with consent to share needs
    and health, and a duplicate pair of B's services; tokens by person and the referrals'
    ids."""
    app.state.clock = lambda: START
    await directory.build(graph)
    offered = directory.service(organisation_id="org-b")
    await directory.add_services(graph, [("svc-b", offered), ("svc-b2", offered)])
    await scan(graph, kind=Kind.SERVICE)
    gql = GraphQLClient(client)
    referral = await sent_referral(gql, people)
    draft = await create(gql, people["counsellor"])
    await consent(gql, people["counsellor"], draft["id"], ["NEEDS", "HEALTH"])
    return people | {"referral": referral, "draft": str(draft["id"])}


SEARCH = "/app/search?needs=psychosocial.trauma-therapy&place=Prizren"
PAGES = {
    "counsellor": [
        "/app/search",
        SEARCH,
        "/app/referrals",
        "/app/referrals/{referral}",
        "/app/referrals/{referral}/handout",
        "/app/referrals/{draft}",
        "/app/referrals/new?service=svc-b&destination=XK-prizren",
        "/app/cases/new",
        "/app/services/svc-b",
        "/app/notifications",
    ],
    "partner_b": [
        "/app/organisation",
        "/app/organisation/edit",
        "/app/services/new",
        "/app/services/svc-b/edit",
        "/app/incoming",
        "/app/referrals/{referral}",
        "/app/notifications",
    ],
    "coordinator": [
        "/app/gaps",
        "/app/support",
        "/app/overlaps",
        "/app/arrivals",
        "/app/duplicates",
    ],
    "admin": [
        "/app/gaps",
        "/app/duplicates",
        "/app/notifications",
        "/app/admin/users",
        "/app/admin/organisations",
    ],
}


async def test_no_page_in_any_language_shows_a_message_key(
    client: httpx.AsyncClient, world: dict[str, str]
) -> None:
    # Ids that only the database and the API know; the pages say names.
    internal = {world["referral"], world["draft"], "org-a", "org-b", "svc-b", "svc-b2"}
    internal |= {"user-" + person for person in PAGES} | {"XK-prizren", "XK-prishtine"}
    for person, paths in PAGES.items():
        await _signed_in(client, world[person])
        for lang in LANGUAGES:
            for path in paths:
                url = path.format(referral=world["referral"], draft=world["draft"])
                page = await client.get(url + ("&" if "?" in url else "?") + f"lang={lang}")
                assert page.status_code == 200, (person, lang, url, page.status_code)
                assert shown_keys(page.text) == set(), (person, lang, url)
                assert shown_internals(page.text, internal) == set(), (person, lang, url)


def test_the_key_finder_finds_a_key_in_text_but_not_in_ids_or_scripts() -> None:
    assert shown_keys("<p>Needs: nav.search</p>") == {"nav.search"}
    assert shown_keys('<button value="x" aria-label="dup.same">x</button>') == {"dup.same"}
    assert shown_keys('<p id="nav.search">x</p><script>t("nav.search")</script>') == set()
    assert shown_keys("<p>psychosocial.trauma-therapy</p>") == set()
    found = shown_internals("<p>input.needs: no caseReference for org-a</p>", {"org-a"})
    assert found == {"input.needs", "caseReference", "org-a"}
    assert shown_internals('<a href="/app/services/org-a">Organisation A</a>', {"org-a"}) == set()


async def test_dates_and_categories_in_the_page_language(
    client: httpx.AsyncClient, world: dict[str, str]
) -> None:
    await _signed_in(client, world["counsellor"])
    listed = await client.get("/app/referrals?lang=de")
    day = START.date()
    assert f">{day.day:02d}.{day.month:02d}.{day.year}</time>" in listed.text
    assert f">{day.isoformat()}</time>" not in listed.text
    page = await client.get(f"/app/referrals/{world['draft']}?lang=sq")
    assert "skicë" in page.text  # Albanian for the draft status, not the English word
    given = re.search(r'id="consent-given">([^<]*)<', page.text)
    assert given is not None
    assert "shëndeti" in given.group(1)
    assert "nevojat" in given.group(1)
    assert "health" not in given.group(1).lower()
    assert not re.search(r"\d{4}-\d{2}-\d{2}", given.group(1))
