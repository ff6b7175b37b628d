"""Prometheus metrics of one process, served at `/metrics` (api/observability.py).

The registry is the process's own rather than prometheus-client's global one, so that only
Homeward's series are exposed and tests can read values without the client's defaults.
Every label takes values from a bounded set: route templates, transaction function names,
error class names, and GraphQL operation names capped by `OperationNames`.
"""

from __future__ import annotations

import re
import threading

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

# From a 5 ms GraphQL answer to a 10 s gap matrix.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_LATENCY = Histogram(
    "homeward_http_request_duration_seconds",
    "Time from a request's arrival to its last response byte.",
    ["method", "route", "operation"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
HTTP_REQUESTS = Counter(
    "homeward_http_requests",
    "Requests answered, by route, GraphQL operation and status code.",
    ["method", "route", "operation", "status"],
    registry=REGISTRY,
)
NEO4J_LATENCY = Histogram(
    "homeward_neo4j_transaction_duration_seconds",
    "Time of one read or write transaction through graph.driver.Graph, retries included.",
    ["access", "work"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
ERRORS = Counter(
    "homeward_errors",
    "Failures by kind: rate_limited, body_too_large, unauthenticated, graphql_validation, "
    "a domain error's class name, unexpected, database_unavailable.",
    ["kind"],
    registry=REGISTRY,
)

NOT_GRAPHQL = ""
OTHER = "other"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class OperationNames:
    """GraphQL operation names as label values. Clients choose them, so a caller could mint a
    new time series per request; after `limit` distinct names the rest count as `other`."""

    def __init__(self, limit: int = 200) -> None:
        self.limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def label(self, name: str | None) -> str:
        if not name:
            return "anonymous"
        if not _NAME.match(name):
            return OTHER
        with self._lock:
            if name in self._seen:
                return name
            if len(self._seen) >= self.limit:
                return OTHER
            self._seen.add(name)
            return name


OPERATION_NAMES = OperationNames()


def count_error(kind: str) -> None:
    ERRORS.labels(kind=kind).inc()
