from graph.driver import Graph
from graph.migrations import MIGRATIONS, applied_migrations, latest_version, migrate


async def _schema(graph: Graph) -> tuple[list[str], list[str]]:
    async with graph.driver.session(database=graph.database) as session:
        constraints = [r["name"] async for r in await session.run("SHOW CONSTRAINTS YIELD name")]
        indexes = [r["name"] async for r in await session.run("SHOW INDEXES YIELD name")]
    return sorted(constraints), sorted(indexes)


async def test_versions_ascend() -> None:
    # Versions need not be consecutive (graph/migrations.py); they are applied in this order.
    versions = [m.version for m in MIGRATIONS]
    assert versions == sorted(set(versions))
    assert versions[-1] == latest_version()


async def test_all_migrations_are_recorded(graph: Graph) -> None:
    applied = await graph.read(applied_migrations)
    assert [m.version for m in applied] == [m.version for m in MIGRATIONS]


async def test_running_migrations_again_changes_nothing(graph: Graph) -> None:
    before = await _schema(graph)
    recorded_before = await graph.read(applied_migrations)

    assert await migrate(graph) == []

    assert await _schema(graph) == before
    assert await graph.read(applied_migrations) == recorded_before
    assert "organisation_id" in before[0]
