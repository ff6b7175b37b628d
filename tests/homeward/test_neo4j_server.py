import socket
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
