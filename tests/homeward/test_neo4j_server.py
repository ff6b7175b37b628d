import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import LocalNeo4jError
from homeward import neo4j_server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        instance = neo4j_server.LocalNeo4j(home=tmp_path / "neo4j", port=port)
        with pytest.raises(
            LocalNeo4jError, match=rf"port {port} on 127\.0\.0\.1 is already in use"
        ):
            neo4j_server.start(instance, timeout_s=5)
    assert not instance.pid_file.exists()


def test_missing_jars_say_how_to_get_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(neo4j_server, "LIB_DIR", tmp_path / "empty")
    instance = neo4j_server.LocalNeo4j(home=tmp_path / "neo4j", port=_free_port())
    with pytest.raises(LocalNeo4jError, match=r"make neo4j"):
        neo4j_server.start(instance, timeout_s=5)


def test_a_launcher_that_dies_reports_its_log(tmp_path: Path) -> None:
    # A page cache size Neo4j cannot parse makes the real launcher exit during start-up.
    instance = neo4j_server.LocalNeo4j(home=tmp_path / "neo4j", port=_free_port(), pagecache="lots")
    with pytest.raises(LocalNeo4jError) as failure:
        neo4j_server.start(instance, timeout_s=60)
    assert "exited with status" in failure.value.message
    assert "NumberFormatException" in failure.value.message
    assert neo4j_server.running_pid(instance) is None


def test_stop_of_an_instance_that_never_ran_is_harmless(tmp_path: Path) -> None:
    instance = neo4j_server.LocalNeo4j(home=tmp_path / "never", port=_free_port())
    assert neo4j_server.stop(instance) is False


def test_the_session_instance_is_ours_and_listening(neo4j_uri: str) -> None:
    port = int(neo4j_uri.rsplit(":", 1)[1])
    assert neo4j_server.port_in_use(port)


# The waiting logic against real processes standing in for a starting Neo4j: a Python child
# that writes a log the way Neo4j does (or stops writing, or dies), with short bounds.


@pytest.fixture
def child() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()


def _spawn(started: list[subprocess.Popen[bytes]], script: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-c", script])
    started.append(process)
    return process


def test_a_process_that_dies_fails_at_once_with_its_log(
    tmp_path: Path, child: list[subprocess.Popen[bytes]]
) -> None:
    log = tmp_path / "neo4j.log"
    process = _spawn(
        child,
        f"import pathlib, sys; pathlib.Path({str(log)!r}).write_text('starting\\n"
        "ERROR port [/tmp/x] refused\\n'); sys.exit(3)",
    )
    began = time.monotonic()
    with pytest.raises(LocalNeo4jError) as failure:
        neo4j_server.wait_until_ready(
            process, logs=[log], ready=lambda: False, timeout_s=600, stall_s=120
        )
    assert time.monotonic() - began < 10
    assert "exited with status 3 while starting" in failure.value.message
    assert "ERROR port [/tmp/x] refused" in failure.value.message


def test_a_log_that_keeps_moving_outlasts_the_stall_bound(
    tmp_path: Path, child: list[subprocess.Popen[bytes]]
) -> None:
    log, up = tmp_path / "debug.log", tmp_path / "up"
    # Writes for 3 s, three times the stall bound, then answers.
    process = _spawn(
        child,
        "import pathlib, time\n"
        f"log, up = pathlib.Path({str(log)!r}), pathlib.Path({str(up)!r})\n"
        "for i in range(15):\n"
        "    with log.open('a') as f: f.write(f'recovering {i}\\n')\n"
        "    time.sleep(0.2)\n"
        "up.touch()\n"
        "time.sleep(60)\n",
    )
    lines: list[str] = []
    neo4j_server.wait_until_ready(
        process,
        logs=[tmp_path / "missing.log", log],
        ready=up.exists,
        timeout_s=60,
        stall_s=1.0,
        progress=lines.append,
        progress_every_s=0.5,
        poll_s=0.1,
    )
    assert up.exists()
    assert lines, "no progress line while waiting"
    assert all(line.startswith("waiting for Neo4j (") for line in lines)
    assert any(line.endswith("s, log still moving)") for line in lines)


def test_a_log_that_stops_moving_gives_up_after_the_stall_bound(
    tmp_path: Path, child: list[subprocess.Popen[bytes]]
) -> None:
    log = tmp_path / "debug.log"
    process = _spawn(
        child,
        f"import pathlib, time; pathlib.Path({str(log)!r}).write_text('stuck here\\n'); "
        "time.sleep(60)",
    )
    lines: list[str] = []
    began = time.monotonic()
    with pytest.raises(LocalNeo4jError) as failure:
        neo4j_server.wait_until_ready(
            process,
            logs=[log],
            ready=lambda: False,
            timeout_s=60,
            stall_s=1.5,
            progress=lines.append,
            progress_every_s=0.5,
            poll_s=0.1,
        )
    assert time.monotonic() - began < 20
    assert re.search(r"its log has not moved for \d+ s; it looks stuck", failure.value.message)
    assert "stuck here" in failure.value.message
    assert process.poll() is None, "the waiter itself kills nothing; start() does"
    assert any("log quiet" in line for line in lines)


def test_the_hard_cap_holds_even_while_the_log_moves(
    tmp_path: Path, child: list[subprocess.Popen[bytes]]
) -> None:
    log = tmp_path / "debug.log"
    process = _spawn(
        child,
        "import pathlib, time\n"
        f"log = pathlib.Path({str(log)!r})\n"
        "while True:\n"
        "    with log.open('a') as f: f.write('busy\\n')\n"
        "    time.sleep(0.1)\n",
    )
    with pytest.raises(LocalNeo4jError) as failure:
        neo4j_server.wait_until_ready(
            process, logs=[log], ready=lambda: False, timeout_s=2, stall_s=60, poll_s=0.1
        )
    assert "did not answer within 2 s (HOMEWARD_NEO4J_START_TIMEOUT)" in failure.value.message
