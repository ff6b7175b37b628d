"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd): records what arrives, and can be
stopped and started again on the same port to play a mail server that is down."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from core.settings import Settings, SmtpTls


@dataclass(frozen=True)
class Arrived:
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())


class _Handler:
    def __init__(self, server: MailServer) -> None:
        self.server = server

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.server.lock:
            self.server.arrived.append(Arrived(list(envelope.rcpt_tos), message))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MailServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.arrived: list[Arrived] = []
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> MailServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def settings(self, base: Settings) -> Settings:
        """`base` with mail through this server (no TLS on the loopback)."""
        return base.model_copy(
            update={
                "smtp_host": "127.0.0.1",
                "smtp_port": self.port,
                "smtp_tls": SmtpTls.NONE,
                "smtp_timeout_s": 2.0,
                "mail_from": "homeward@example.org",
                "public_url": "https://homeward.example.org",
            }
        )

    def to(self, address: str) -> list[Arrived]:
        with self.lock:
            return [a for a in self.arrived if address in a.recipients]
