"""Browsing the directory: taxonomy in several languages, areas in any spelling, round trips."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI

from graph.areas import AreaLevel, AreaRecord, area_rows, upsert_areas
from graph.driver import Graph
from graph.organisations import OrganisationInput, OrganisationKind, upsert_organisations
from seed.loader import DATA_DIR, seed
from tests import directory
from tests.api.graphql.conftest import GraphQLClient

SEED_NEEDS = {
    n["code"]: n["labels"]
    for n in json.loads((DATA_DIR / "needs.json").read_text(encoding="utf-8"))
}


@pytest.fixture
async def seeded(graph: Graph) -> Graph:
    await seed(graph)
    return graph


NEEDS_TREE = """
query Needs($lang: String) {
  needs(lang: $lang, topLevelOnly: true) { code label narrower { code label } }
}
"""


async def test_needs_tree_in_albanian_and_german(gql: GraphQLClient, seeded: Graph) -> None:
    sq = (await gql(NEEDS_TREE, {"lang": "sq"}))["data"]["needs"]
    de = (await gql(NEEDS_TREE, {"lang": "de"}))["data"]["needs"]
    by_code_sq = {n["code"]: n for n in sq}
    by_code_de = {n["code"]: n for n in de}
    assert "employment" in by_code_sq
    assert "employment.job-placement" in {c["code"] for c in by_code_sq["employment"]["narrower"]}
    assert by_code_sq["employment"]["label"] != by_code_de["employment"]["label"]
    assert by_code_de["employment"]["label"] == SEED_NEEDS["employment"]["de"]
    assert by_code_sq["employment"]["label"] == SEED_NEEDS["employment"]["sq"]
    # Every top-level term is a root, and the narrower ones are not repeated at the top.
    assert all("." not in code for code in by_code_sq)


async def test_accept_language_is_the_fallback(gql: GraphQLClient, seeded: Graph) -> None:
    query = "{ needs { code label } }"
    labels = {n["code"]: n["label"] for n in (await gql(query, lang="sr-Cyrl"))["data"]["needs"]}
    assert labels["employment"] == SEED_NEEDS["employment"]["sr-Cyrl"]


AREA_BY_NAME = """
query Find($name: String!) { areas(name: $name, level: MUNICIPALITY) { nodes { id } } }
"""


@pytest.mark.parametrize(
    ("spelling", "area_id"),
    [
        ("Pejë", "XK-peje"),
        ("Peja", "XK-peje"),
        ("Peć", "XK-peje"),
        ("Pec", "XK-peje"),
        ("Пећ", "XK-peje"),
        ("Prizreni", "XK-prizren"),
        ("Призрен", "XK-prizren"),
        ("Uroševac", "XK-ferizaj"),
        ("Урошевац", "XK-ferizaj"),
        ("Gjakova", "XK-gjakove"),
        ("Ђаковица", "XK-gjakove"),
    ],
)
async def test_any_spelling_finds_the_municipality(
    gql: GraphQLClient, seeded: Graph, spelling: str, area_id: str
) -> None:
    body = await gql(AREA_BY_NAME, {"name": spelling})
    assert area_id in [n["id"] for n in body["data"]["areas"]["nodes"]], body


async def test_all_38_kosovo_municipalities_resolve_in_three_scripts(
    gql: GraphQLClient, seeded: Graph
) -> None:
    query = """
    { area(id: "XK") { children(first: 100) { nodes {
        id names { lang value } } } } }
    """
    municipalities = (await gql(query))["data"]["area"]["children"]["nodes"]
    assert len(municipalities) == 38
    for m in municipalities:
        names = {n["lang"]: n["value"] for n in m["names"]}
        for lang in ("sq", "sr-Latn", "sr-Cyrl"):
            found = await gql(AREA_BY_NAME, {"name": names[lang]})
            assert m["id"] in [n["id"] for n in found["data"]["areas"]["nodes"]], (lang, names)


PAGE_OF_SERVICES = """
query Page($first: Int!) {
  organisation(id: "org-krct") {
    services(first: $first) {
      pageInfo { hasNextPage }
      nodes {
        name
        organisation { name country { name } }
        needs { code label broader { code } }
        targetGroups { label }
        coverage { id name parent { id } }
        locations { area { name } }
      }
    }
  }
}
"""


async def test_a_page_of_services_costs_a_constant_number_of_round_trips(
    gql: GraphQLClient, countries: Graph, app: FastAPI
) -> None:
    await directory.build(countries)
    await directory.add_services(
        countries,
        [
            (
                f"svc-{i:03}",
                directory.service(
                    name=f"Service {i:03}",
                    covers=["XK-prizren", "XK"] if i % 2 else ["XK"],
                    locations=[{"area": "XK-prizren"}],
                ),
            )
            for i in range(60)
        ],
    )
    api_graph: Graph = app.state.graph

    async def round_trips(first: int) -> int:
        before = api_graph.transactions
        body = await gql(PAGE_OF_SERVICES, {"first": first})
        assert "errors" not in body, body
        nodes = body["data"]["organisation"]["services"]["nodes"]
        assert len(nodes) == first
        assert nodes[0]["needs"][0]["broader"] == {"code": "psychosocial"}
        return api_graph.transactions - before

    # Cold: organisation, its services page, then one batch per relation kind and level.
    assert await round_trips(50) <= 8
    # Areas, needs and target groups are then in the process's reference cache: what is
    # left does not depend on the page size either.
    small, large = await round_trips(5), await round_trips(50)
    assert small == large


NESTED_LISTS = """
{
  organisations(first: 25) {
    nodes { id services(first: 3) { nodes { id } } }
  }
  area(id: "XK") {
    children(first: 25) {
      nodes {
        id
        children(first: 3) { nodes { id } }
        services(first: 3) { nodes { id } }
        organisations(first: 3) { nodes { id } }
      }
    }
  }
}
"""


async def test_nested_lists_cost_one_read_per_level_not_per_parent(
    gql: GraphQLClient, countries: Graph, app: FastAPI
) -> None:
    """20 regions, each with a town, an organisation based there and a service covering it:
    each nested list is one read for all 20 parents."""
    await directory.build(countries)
    regions = [f"XK-r{i:02}" for i in range(20)]
    await countries.write(
        upsert_areas,
        rows=area_rows(
            [
                AreaRecord(id=r, level=AreaLevel.REGION, parent="XK", names={"en": f"Region {r}"})
                for r in regions
            ]
            + [
                AreaRecord(
                    id=f"{r}-town", level=AreaLevel.MUNICIPALITY, parent=r, names={"en": "Town"}
                )
                for r in regions
            ]
        ),
    )
    await countries.write(
        upsert_organisations,
        rows=[
            (
                f"org-{r}",
                OrganisationInput(
                    name=f"Org {r}", kind=OrganisationKind.NGO, country="XK", based_in=r
                ),
                {},
            )
            for r in regions
        ],
    )
    await directory.add_services(
        countries,
        [
            (f"svc-{r}", directory.service(organisation_id=f"org-{r}", name=f"S {r}", covers=[r]))
            for r in regions
        ],
    )
    api_graph: Graph = app.state.graph
    before = api_graph.transactions
    body = await gql(NESTED_LISTS)
    assert "errors" not in body, body
    spent = api_graph.transactions - before

    organisations = body["data"]["organisations"]["nodes"]
    assert len(organisations) == 22
    assert all(
        len(o["services"]["nodes"]) == 1 for o in organisations if o["id"].startswith("org-XK")
    )
    children = [c for c in body["data"]["area"]["children"]["nodes"] if c["id"] in regions]
    assert len(children) == 20
    for child in children:
        assert child["children"]["nodes"] == [{"id": f"{child['id']}-town"}]
        assert child["services"]["nodes"] == [{"id": f"svc-{child['id']}"}]
        assert child["organisations"]["nodes"] == [{"id": f"org-{child['id']}"}]
    # organisations, their services, the area, its children, and one read for each of the
    # three lists nested in the children: 7, whatever the number of parents.
    assert spent <= 7, spent
