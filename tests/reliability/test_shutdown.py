"""SIGTERM to a real `homeward serve` process: a request in flight is answered in full, the
process then exits by itself with status 0, and it accepts nothing new meanwhile.

The lifespan's part (periodic jobs given their grace) is tested in tests/api/test_background.py
without a process; this is the whole path through uvicorn's signal handling.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from core.settings import PROJECT_ROOT
from tests.reliability.conftest import free_port

pytestmark = pytest.mark.neo4j

QUERY = b'{"query": "{ needs { code } }"}'
GRACE_S = 10
HOMEWARD = str(Path(sys.executable).parent / "homeward")


@pytest.fixture
def server(neo4j_uri: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    port = free_port()
    env = dict(os.environ) | {
        "NEO4J_URI": neo4j_uri,
        "HOMEWARD_ENV": "test",
        "HOMEWARD_DATA_KEYS": Fernet.generate_key().decode("ascii"),
        "HOMEWARD_WEBHOOK_INTERVAL_S": "0",
        "HOMEWARD_HOUSEKEEPING_INTERVAL_S": "0",
        "HOMEWARD_SHUTDOWN_GRACE_S": str(GRACE_S),
        "HOMEWARD_LOG_FORMAT": "json",
    }
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "homeward"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the API did not start within 60 s"
                time.sleep(0.2)
        yield process, tmp_path / "serve.log"
    finally:
        if process.poll() is None:
            process.kill()  # only this test's own process
            process.wait(timeout=30)
        log.close()


def _read_response(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def test_sigterm_lets_a_request_in_flight_finish_and_the_process_exit_cleanly(
    server: tuple[subprocess.Popen[bytes], Path],
) -> None:
    process, log = server
    port = int(str(process.args[-1]))  # type: ignore[index]
    # A request whose body is still arriving when the signal comes: in flight for the server.
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(
        b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: "
        + str(len(QUERY)).encode()
        + b"\r\n\r\n"
        + QUERY[:10]
    )
    time.sleep(0.5)
    signalled = time.monotonic()
    process.send_signal(signal.SIGTERM)
    # Nothing new is accepted while it drains (polled: a busy machine may take a moment to
    # handle the signal).
    refused = False
    while not refused and time.monotonic() - signalled < GRACE_S / 2:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            time.sleep(0.1)
        except OSError:
            refused = True
    assert refused, "new connections were still accepted after SIGTERM"
    assert process.poll() is None, "the process ended with a request in flight"

    sock.sendall(QUERY[10:])
    status, body = _read_response(sock)
    sock.close()
    assert status == 200, body
    assert isinstance(json.loads(body)["data"]["needs"], list)

    # uvicorn ends by raising the signal it caught again once shut down, so that a process
    # manager sees the stop it asked for (systemd counts SIGTERM as a clean exit).
    assert process.wait(timeout=GRACE_S + 10) in (0, -signal.SIGTERM)
    assert time.monotonic() - signalled < GRACE_S + 5
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    said = [line.get("message", line.get("msg", "")) for line in lines]
    # In this order: stop accepting, answer the request in flight, end the lifespan (the
    # driver is closed there), end the process.
    steps = [
        "Shutting down",
        "POST /graphql 200",
        "Waiting for application shutdown.",
        "Neo4j driver closed",
        "Finished server process",
    ]
    at = [next(i for i, line in enumerate(said) if line.startswith(step)) for step in steps]
    assert at == sorted(at), said[-8:]
