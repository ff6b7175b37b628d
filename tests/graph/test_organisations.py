import pytest

from core.errors import NotFound, ValidationFailed
from graph.driver import Graph
from graph.organisations import (
    OrganisationInput,
    OrganisationKind,
    get_organisation,
    register_organisation,
)
from graph.users import SYSTEM


def _krct(**overrides: object) -> OrganisationInput:
    data: dict[str, object] = {
        "name": "Kosovo Rehabilitation Centre for Torture Victims",
        "acronym": "KRCT",
        "kind": "health_provider",
        "country": "xk",
        "alternate_names": ["  KRCT ", "KRCT", ""],
    }
    return OrganisationInput.model_validate(data | overrides)


async def _count(graph: Graph, label: str) -> int:
    async with graph.driver.session(database=graph.database) as session:
        record = await (await session.run(f"MATCH (n:{label}) RETURN count(n) AS c")).single()
    assert record is not None
    return int(record["c"])


def test_input_is_normalised() -> None:
    data = _krct()
    assert data.country == "XK"
    assert data.alternate_names == ["KRCT"]
    assert data.kind is OrganisationKind.HEALTH_PROVIDER


async def test_registered_organisation_reads_back(countries: Graph) -> None:
    created = await countries.write(register_organisation, id="org-1", data=_krct(), actor=SYSTEM)
    assert created.version == 1
    assert created.created_at == created.updated_at

    read = await countries.read(get_organisation, id="org-1")
    assert read == created
    async with countries.driver.session() as session:
        rec = await (
            await session.run("MATCH (:Organisation {id: 'org-1'})-[:BASED_IN]->(a) RETURN a.id")
        ).single()
    assert rec is not None
    assert rec[0] == "XK"


async def test_a_retried_registration_does_not_duplicate(countries: Graph) -> None:
    first = await countries.write(register_organisation, id="org-1", data=_krct(), actor=SYSTEM)
    again = await countries.write(register_organisation, id="org-1", data=_krct(), actor=SYSTEM)
    assert again == first
    assert await _count(countries, "Organisation") == 1


async def test_unknown_country_is_refused_and_nothing_is_written(countries: Graph) -> None:
    with pytest.raises(ValidationFailed) as failure:
        await countries.write(
            register_organisation, id="org-2", data=_krct(country="ZZ"), actor=SYSTEM
        )
    assert [(p.field, p.message) for p in failure.value.problems] == [
        ("country", "unknown country code 'ZZ'")
    ]
    assert await _count(countries, "Organisation") == 0


async def test_a_municipality_is_not_a_country(countries: Graph) -> None:
    # Bypass the input pattern to show that the graph itself checks the level of the area.
    data = _krct().model_copy(update={"country": "XK-prizren"})
    with pytest.raises(ValidationFailed, match="unknown country code 'XK-prizren'"):
        await countries.write(register_organisation, id="org-3", data=data, actor=SYSTEM)
    assert await _count(countries, "Organisation") == 0


async def test_missing_organisation_is_not_found(graph: Graph) -> None:
    with pytest.raises(NotFound, match="organisation 'nope' not found"):
        await graph.read(get_organisation, id="nope")


async def test_based_in_must_lie_in_the_country(countries: Graph) -> None:
    inside = _krct(based_in="XK-prizren")
    created = await countries.write(register_organisation, id="org-4", data=inside, actor=SYSTEM)
    assert created.based_in == "XK-prizren"
    for wrong in ("XK-nowhere", "DE"):
        with pytest.raises(ValidationFailed, match="is not an area of XK"):
            await countries.write(
                register_organisation, id="org-5", data=_krct(based_in=wrong), actor=SYSTEM
            )
