"""A webhook receiver on 127.0.0.1 for tests: records every request, can fail on purpose."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Webhooks go to public addresses only; the receiver's network is allowed by name.
RECEIVER_NETWORKS = ["127.0.0.1/32"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Concurrent dispatchers open many connections at once; the default backlog of 5 would
    # drop some and turn the test into one of connect timeouts.
    request_queue_size = 128

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up (timeout tests) is expected, not worth a traceback


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """Answers `fail_status` to the first `fail_first` requests (all of them while
    `fail_first` is negative), waits `delay_s` before answering, and 204 otherwise."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.fail_first = 0
        self.fail_status = 500
        self.delay_s = 0.0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.requests.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    failing = receiver.fail_first < 0 or len(receiver.requests) <= (
                        receiver.fail_first
                    )
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                self.send_response(receiver.fail_status if failing else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet test output

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def delivery_ids(self) -> list[str]:
        with self._lock:
            return [r.headers["x-homeward-delivery"] for r in self.requests]
