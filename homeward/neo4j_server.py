"""The local Neo4j: an embedded Community DBMS started by `neo4j/Launcher.java`.

Only used when no external Neo4j is configured (`NEO4J_URI` unset). The jars come from Maven
(`make neo4j`); nothing is downloaded here. A pid file in the home folder records the process
this project started, so `stop` only ever signals that process.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from neo4j import GraphDatabase
from neo4j.exceptions import DriverError, Neo4jError

from core.errors import LocalNeo4jError
from core.settings import PROJECT_ROOT

LIB_DIR = PROJECT_ROOT / ".neo4j" / "lib"
LAUNCHER = PROJECT_ROOT / "neo4j" / "Launcher.java"
HOST = "127.0.0.1"

# How long the logs may stay still before a start counts as stuck. Neo4j writes to debug.log
# all through store recovery and index population, so on a busy machine a slow start still
# shows movement; two minutes of silence from a live process means it hangs.
START_STALL_S = 120.0
# How often a waiting start says that it is still waiting.
PROGRESS_EVERY_S = 10.0

# Popen objects of the instances this process started: kept so that they are reaped by
# `stop` instead of being garbage-collected while the database still runs.
_STARTED: dict[int, subprocess.Popen[bytes]] = {}

# The flags Neo4j 5's own start script passes (server.jvm.additional in the default
# neo4j.conf), minus those that only matter for a long-running production server.
JVM_FLAGS = (
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Djdk.tls.ephemeralDHKeySize=2048",
    "-Djdk.tls.rejectClientInitiatedRenegotiation=true",
    "-Dlog4j2.disable.jmx=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "-Dfile.encoding=UTF-8",
)


@dataclass(frozen=True, slots=True)
class LocalNeo4j:
    """Where one local instance lives and how big it may get."""

    home: Path
    port: int
    heap: str = "512m"
    pagecache: str = "256m"

    @property
    def uri(self) -> str:
        return f"bolt://{HOST}:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.home / "homeward-neo4j.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "launcher.log"

    @property
    def log_files(self) -> tuple[Path, ...]:
        """The launcher's output (Neo4j's user log goes there too) and Neo4j's own logs."""
        logs = self.home / "logs"
        return (self.log_file, logs / "neo4j.log", logs / "debug.log")


def jars_installed() -> bool:
    return LIB_DIR.is_dir() and any(LIB_DIR.glob("neo4j-5*.jar"))


def port_in_use(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def running_pid(instance: LocalNeo4j) -> int | None:
    """The pid of the instance we started, if that process is still alive."""
    try:
        pid = int(instance.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def _log_tail(logs: Sequence[Path], lines: int = 40) -> str:
    parts: list[str] = []
    for path in logs:
        if path.exists():
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path} (last {len(text)} lines) ---\n" + "\n".join(text))
    return "\n".join(parts) or "(no log written)"


def _bolt_ready(uri: str) -> bool:
    try:
        with GraphDatabase.driver(uri, auth=None, connection_timeout=2.0) as driver:
            driver.verify_connectivity()
    except (DriverError, Neo4jError, OSError):
        return False
    return True


def start(
    instance: LocalNeo4j,
    *,
    timeout_s: float = 600.0,
    stall_s: float = START_STALL_S,
    progress: Callable[[str], None] | None = None,
) -> int:
    """Start the instance unless it already runs; return its pid once Bolt answers (see
    `wait_until_ready` for how long that may take)."""
    pid = running_pid(instance)
    if pid is not None:
        if _bolt_ready(instance.uri):
            return pid
        raise LocalNeo4jError(
            f"Neo4j process {pid} from {instance.home} is running but not answering on "
            f"{instance.uri}; stop it with `homeward db stop`"
        )
    if not jars_installed():
        raise LocalNeo4jError(
            f"Neo4j jars not found in {LIB_DIR}; run `make neo4j` (Maven resolves them)"
        )
    java = shutil.which("java")
    if java is None:
        raise LocalNeo4jError("java not found on PATH; Neo4j 5.26 needs Java 17")
    if port_in_use(instance.port):
        raise LocalNeo4jError(
            f"port {instance.port} on {HOST} is already in use; stop whatever listens there "
            "or choose another port (HOMEWARD_NEO4J_PORT)"
        )

    instance.home.mkdir(parents=True, exist_ok=True)
    command = [
        java,
        f"-Xms{instance.heap}",
        f"-Xmx{instance.heap}",
        *JVM_FLAGS,
        "-cp",
        f"{LIB_DIR}/*",
        str(LAUNCHER),
        "--home",
        str(instance.home),
        "--port",
        str(instance.port),
        "--pagecache",
        instance.pagecache,
    ]
    with instance.log_file.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in a terminal must not kill the database
        )
    _STARTED[process.pid] = process
    instance.pid_file.write_text(str(process.pid))

    try:
        wait_until_ready(
            process,
            logs=instance.log_files,
            ready=lambda: _bolt_ready(instance.uri),
            what=f"Neo4j on {instance.uri}",
            timeout_s=timeout_s,
            stall_s=stall_s,
            progress=progress,
        )
    except LocalNeo4jError:
        if process.poll() is None:
            _terminate(process.pid, grace_s=10.0)
        _STARTED.pop(process.pid, None)
        instance.pid_file.unlink(missing_ok=True)
        raise
    return process.pid


class LogWatch:
    """When any of some log files last grew or changed (size or modification time)."""

    def __init__(self, paths: Sequence[Path], *, now: float) -> None:
        self._paths = tuple(paths)
        self._seen = self._state()
        self.changed_at = now

    def _state(self) -> tuple[tuple[int, int] | None, ...]:
        state: list[tuple[int, int] | None] = []
        for path in self._paths:
            try:
                stat = path.stat()
            except FileNotFoundError:
                state.append(None)
            else:
                state.append((stat.st_size, stat.st_mtime_ns))
        return tuple(state)

    def quiet_for(self, now: float) -> float:
        """Seconds since the logs last moved, as of `now`."""
        state = self._state()
        if state != self._seen:
            self._seen = state
            self.changed_at = now
        return now - self.changed_at


def wait_until_ready(
    process: subprocess.Popen[bytes],
    *,
    logs: Sequence[Path],
    ready: Callable[[], bool],
    what: str = "Neo4j",
    timeout_s: float,
    stall_s: float = START_STALL_S,
    progress: Callable[[str], None] | None = None,
    progress_every_s: float = PROGRESS_EVERY_S,
    poll_s: float = 0.5,
) -> None:
    """Wait while the process lives and its logs keep moving, until `ready()` says yes.

    A fixed deadline gave up on starts that were slow but sound (a busy machine, a large
    store to recover); waiting for ever would hang on a stuck one. So: a process that exits
    fails at once, logs that stay still for `stall_s` mean stuck, and `timeout_s` is the hard
    cap. Every `progress_every_s` a line says how long it has been.
    """
    started = time.monotonic()
    watch = LogWatch(logs, now=started)
    next_report = started + progress_every_s
    while True:
        if process.poll() is not None:
            raise LocalNeo4jError(
                f"{what} exited with status {process.returncode} while starting.\n"
                + _log_tail(logs)
            )
        if ready():
            return
        now = time.monotonic()
        quiet = watch.quiet_for(now)
        elapsed = now - started
        if elapsed >= timeout_s:
            raise LocalNeo4jError(
                f"{what} did not answer within {timeout_s:.0f} s "
                "(HOMEWARD_NEO4J_START_TIMEOUT).\n" + _log_tail(logs)
            )
        if quiet >= stall_s:
            raise LocalNeo4jError(
                f"{what} did not answer and its log has not moved for {quiet:.0f} s; "
                "it looks stuck.\n" + _log_tail(logs)
            )
        if progress is not None and now >= next_report:
            moving = (
                "log still moving" if quiet < progress_every_s else f"log quiet for {quiet:.0f} s"
            )
            progress(f"waiting for Neo4j ({elapsed:.0f} s, {moving})")
            next_report = now + progress_every_s
        time.sleep(poll_s)


def _terminate(pid: int, *, grace_s: float) -> None:
    process = _STARTED.pop(pid, None)
    if process is not None:
        process.terminate()
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return


def stop(instance: LocalNeo4j, *, grace_s: float = 30.0) -> bool:
    """Stop the instance cleanly (SIGTERM runs Neo4j's shutdown); False if it was not running."""
    pid = running_pid(instance)
    if pid is None:
        instance.pid_file.unlink(missing_ok=True)
        return False
    _terminate(pid, grace_s=grace_s)
    instance.pid_file.unlink(missing_ok=True)
    return True
