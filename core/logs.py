"""Structured logs: one JSON object per line, each carrying the id of the request it belongs to.

What may appear: time, level, logger, message, request_id, and the fields named in `FIELDS`
(operation name, route, status, duration, ...). Request bodies, variables, headers and
client addresses are never logged; as a second line of defence anything shaped like a
bearer token or an API token is blanked out of messages and tracebacks.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.settings import Settings


@dataclass(slots=True)
class RequestInfo:
    """What the log lines and metrics of one request share; filled in as it is handled."""

    request_id: str
    operation: str | None = None


CURRENT_REQUEST: ContextVar[RequestInfo | None] = ContextVar("homeward_request", default=None)

# Extra attributes a log call may pass (`log.info(..., extra={"status": 200})`); others are
# dropped, so that a careless `extra` cannot carry personal data into the logs.
FIELDS = (
    "operation",
    "method",
    "route",
    "status",
    "duration_ms",
    "kind",
    "job",
    "path",
)

_SECRETS = re.compile(r"(?i)(bearer\s+)\S+|hwt_[A-Za-z0-9]+_[A-Za-z0-9_\-]+")


def redact(text: str) -> str:
    return _SECRETS.sub(lambda m: f"{m.group(1)}[redacted]" if m.group(1) else "[redacted]", text)


def current_request_id() -> str | None:
    info = CURRENT_REQUEST.get()
    return info.request_id if info is not None else None


def _stamp_request_id(
    factory: Callable[..., logging.LogRecord],
) -> Callable[..., logging.LogRecord]:
    """Records carry the request id from the moment they are made, so a handler that formats
    them later (a queue, a test's capture) still knows the request."""
    if getattr(factory, "stamps_request_id", False):
        return factory

    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        record.request_id = current_request_id()
        return record

    make.stamps_request_id = True  # type: ignore[attr-defined]
    return make


logging.setLogRecordFactory(_stamp_request_id(logging.getLogRecordFactory()))

# The Neo4j driver's debug lines print every query with its parameters: e-mail addresses,
# token hashes, referral ciphertexts. They stay out of the logs even at LOG_LEVEL=debug.
logging.getLogger("neo4j").setLevel(logging.INFO)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None)
        if request_id is not None:
            entry["request_id"] = request_id
        for field in FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """For a developer's terminal: the same content, one readable line."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = redact(super().format(record))
        request_id = getattr(record, "request_id", None)
        extras = [f"{f}={getattr(record, f)}" for f in FIELDS if getattr(record, f, None)]
        if request_id:
            extras.insert(0, f"request_id={request_id}")
        return f"{line} [{' '.join(extras)}]" if extras else line


def configure_logging(settings: Settings) -> None:
    """The process's one log handler on stderr; uvicorn's loggers go through it too."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # Our own access line (api/observability.py) replaces uvicorn's, which would log the
    # query string and the client's address.
    logging.getLogger("uvicorn.access").disabled = True
