"""/health against the real Neo4j, and through a loopback proxy that can cut it off."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest

from core.settings import Settings
from homeward.app import create_app


async def test_health_reports_neo4j_up(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["neo4j"]["state"] == "up"
    assert body["neo4j"]["agent"].startswith("Neo4j/5.")


class CuttableProxy:
    """Forwards 127.0.0.1:<port> to Neo4j until cut; `restore` listens again on the same port.
    `freeze` keeps the connections open but forwards nothing (a Neo4j that hangs) until
    `thaw`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.server: asyncio.Server | None = None
        self.pipes: set[asyncio.Task[None]] = set()
        self.writers: set[asyncio.StreamWriter] = set()
        self.flowing = asyncio.Event()
        self.flowing.set()

    def freeze(self) -> None:
        self.flowing.clear()

    def thaw(self) -> None:
        self.flowing.set()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while data := await reader.read(65536):
                await self.flowing.wait()
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers |= {writer, up_writer}
        for task in (self._pipe(reader, up_writer), self._pipe(up_reader, writer)):
            t = asyncio.create_task(task)
            self.pipes.add(t)
            t.add_done_callback(self.pipes.discard)

    async def restore(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        for task in list(self.pipes):
            task.cancel()
        await self.server.wait_closed()
        self.writers.clear()


@pytest.fixture
async def proxy(neo4j_uri: str) -> AsyncIterator[CuttableProxy]:
    p = CuttableProxy(int(neo4j_uri.rsplit(":", 1)[1]))
    await p.restore()
    try:
        yield p
    finally:
        if p.server is not None and p.server.is_serving():
            await p.cut()


async def test_health_is_503_while_neo4j_is_away_and_recovers(
    proxy: CuttableProxy, test_settings: Settings
) -> None:
    settings = test_settings.model_copy(update={"neo4j_uri": f"bolt://127.0.0.1:{proxy.port}"})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            assert (await client.get("/health")).status_code == 200

            await proxy.cut()
            loop = asyncio.get_running_loop()
            started = loop.time()
            down = await client.get("/health")
            assert loop.time() - started < 2.5
            assert down.status_code == 503
            assert down.json()["status"] == "unavailable"
            assert down.json()["neo4j"]["state"] == "unreachable"
            assert down.json()["neo4j"]["error"]

            await proxy.restore()
            up = await client.get("/health")
            assert up.status_code == 200, up.text
            assert up.json()["neo4j"]["state"] == "up"


async def test_a_neo4j_that_hangs_gives_a_503_within_the_query_timeout_and_the_api_recovers(
    proxy: CuttableProxy, test_settings: Settings
) -> None:
    timeout_s = 1.5
    settings = test_settings.model_copy(
        update={"neo4j_uri": f"bolt://127.0.0.1:{proxy.port}", "neo4j_query_timeout_s": timeout_s}
    )
    query = {"query": '{ organisation(id: "org-that-hangs") { name } }'}
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            assert (await client.post("/graphql", json=query)).status_code == 200

            proxy.freeze()  # connections stay open, nothing comes back
            loop = asyncio.get_running_loop()
            started = loop.time()
            hung = await client.post("/graphql", json=query)
            waited = loop.time() - started
            assert hung.status_code == 503, hung.text
            assert hung.json()["errors"][0]["extensions"]["code"] == "DATABASE_UNAVAILABLE"
            # The limit, plus at most one connection timeout for a fresh connection's
            # handshake, never the indefinite wait of an unanswered socket.
            assert timeout_s <= waited < timeout_s + settings.neo4j_connection_timeout_s + 1

            proxy.thaw()
            recovered = await client.post("/graphql", json=query)
            assert recovered.status_code == 200, recovered.text
