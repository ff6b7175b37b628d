"""Sending the mail outbox (graph/mail/) through SMTP: `deliver_mail_due`, run periodically
by the API (`api.app`), queues the day's digests when their hour has come, claims the mails
that are due, writes each in its recipient's language (core/mail.py) and hands them to the
mail server over one connection, recording each outcome. A mail the server does not take is
tried again as a webhook delivery is (`api.webhook_delivery.attempt_outcome`), so nothing is lost
while the server is down.

smtplib blocks, so a batch is sent in a worker thread.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from pydantic import BaseModel

from api.passwords import link_url
from api.webhook_delivery import attempt_outcome
from core.crypto import DataCipher, KeyMissing
from core.mail import NoticeLine, notice_mail, password_mail
from core.settings import Settings, SmtpTls
from graph.driver import Graph
from graph.mail.outbox import (
    LINK_MAILS,
    ClaimedMail,
    MailKind,
    claim_due,
    purge_mails,
    queue_digests,
    record_outcomes,
)
from graph.passwords import LINK_LIFETIME
from graph.webhooks import DeliveryOutcome, DeliveryState

# A notice mailed days late (the server was down that long, or mail was switched on after
# notices piled up) tells of what the inbox shows already: it is given up, not sent.
MAX_AGE = timedelta(days=2)
# How long the outbox remembers a mail that was sent or given up.
KEEP = timedelta(days=30)
BATCH = 50


class MailReport(BaseModel):
    """What one `deliver_mail_due` round did."""

    digests: int = 0
    purged: int = 0
    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0


@dataclass(frozen=True, slots=True)
class SmtpServer:
    host: str
    port: int
    tls: SmtpTls
    user: str | None
    password: str | None
    timeout_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpServer:
        if not settings.smtp_host:
            raise ValueError("no SMTP host is set (HOMEWARD_SMTP_HOST)")
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            tls=settings.smtp_tls,
            user=settings.smtp_user,
            password=(
                settings.smtp_password.get_secret_value() if settings.smtp_password else None
            ),
            timeout_s=settings.smtp_timeout_s,
        )


def _connect(server: SmtpServer) -> smtplib.SMTP:
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if server.tls is SmtpTls.TLS:
        smtp = smtplib.SMTP_SSL(server.host, server.port, timeout=server.timeout_s, context=context)
    else:
        smtp = smtplib.SMTP(server.host, server.port, timeout=server.timeout_s)
        if server.tls is SmtpTls.STARTTLS:
            smtp.starttls(context=context)
    if server.user:
        smtp.login(server.user, server.password or "")
    return smtp


def send_batch(server: SmtpServer, messages: dict[str, EmailMessage]) -> dict[str, str | None]:
    """Hand `messages` (by mail id) to the server over one connection: mail id -> None when
    the server took it, else why not. Blocking; run it in a thread."""
    if not messages:
        return {}
    try:
        smtp = _connect(server)
    except (OSError, smtplib.SMTPException) as exc:
        # Refused, unreachable, TLS or login failed: every mail waits for the next round.
        reason = f"mail server unavailable: {type(exc).__name__}"
        return dict.fromkeys(messages, reason)
    errors: dict[str, str | None] = {}
    try:
        for mail_id, message in messages.items():
            try:
                smtp.send_message(message)
                errors[mail_id] = None
            except smtplib.SMTPRecipientsRefused:
                errors[mail_id] = "recipient refused"
            except smtplib.SMTPResponseException as exc:
                errors[mail_id] = f"SMTP {exc.smtp_code}"
            except (OSError, smtplib.SMTPException) as exc:
                errors[mail_id] = f"mail server unavailable: {type(exc).__name__}"
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    for mail_id in messages:
        errors.setdefault(mail_id, "mail server unavailable")
    return errors


def _compose(
    mail: ClaimedMail, *, settings: Settings, cipher: DataCipher, now: datetime
) -> EmailMessage | DeliveryOutcome:
    """The message of a claimed mail, or the outcome of a mail that will not be sent."""
    if mail.email is None:
        return DeliveryOutcome(
            id=mail.id, state=DeliveryState.CANCELLED, attempts=mail.attempts, error="no account"
        )
    if now - mail.created_at > MAX_AGE:
        return DeliveryOutcome(
            id=mail.id, state=DeliveryState.FAILED, attempts=mail.attempts, error="too old"
        )
    if mail.kind in LINK_MAILS:
        try:
            link = cipher.decrypt(mail.secret_enc) if mail.secret_enc else None
        except KeyMissing:
            link = None
        if link is None:
            return DeliveryOutcome(
                id=mail.id,
                state=DeliveryState.FAILED,
                attempts=mail.attempts,
                error="the link cannot be decrypted with the data keys",
            )
        return password_mail(
            link_url(settings.base_url, link),
            valid_hours=int(LINK_LIFETIME.total_seconds() // 3600),
            invitation=mail.kind is MailKind.INVITATION,
            language=mail.language,
            sender=settings.mail_from,
            to=mail.email,
            now=now,
            mail_id=mail.id,
        )
    if not mail.notices:  # the notices were erased with their referral
        return DeliveryOutcome(
            id=mail.id, state=DeliveryState.CANCELLED, attempts=mail.attempts, error="no notice"
        )
    lines = [NoticeLine(n.kind.value, n.referral_id, n.reference, n.status) for n in mail.notices]
    return notice_mail(
        lines,
        digest=mail.kind is MailKind.DIGEST,
        base_url=settings.base_url,
        language=mail.language,
        sender=settings.mail_from,
        to=mail.email,
        now=now,
        mail_id=mail.id,
    )


async def deliver_mail_due(
    graph: Graph,
    *,
    now: datetime,
    settings: Settings,
    cipher: DataCipher,
    limit: int = BATCH,
) -> MailReport:
    """Queue the digests that are due, then send up to `limit` due mails and record each
    outcome. Safe to run in several processes at once (mails are claimed under a lease)."""
    if now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware")
    server = SmtpServer.from_settings(settings)
    report = MailReport()
    report.digests = await graph.write(queue_digests, now=now, hour=settings.mail_digest_hour)
    report.purged = await graph.write(purge_mails, before=now - KEEP)
    claim = str(uuid.uuid4())
    claimed = await graph.write(claim_due, now=now, limit=limit, claim=claim)
    report.claimed = len(claimed)
    if not claimed:
        return report
    outcomes: list[DeliveryOutcome] = []
    messages: dict[str, EmailMessage] = {}
    by_id = {m.id: m for m in claimed}
    for mail in claimed:
        composed = _compose(mail, settings=settings, cipher=cipher, now=now)
        if isinstance(composed, DeliveryOutcome):
            outcomes.append(composed)
        else:
            messages[mail.id] = composed
    errors = await asyncio.to_thread(send_batch, server, messages)
    outcomes += [
        attempt_outcome(i, attempts_before=by_id[i].attempts, error=error, now=now)
        for i, error in errors.items()
    ]
    await graph.write(record_outcomes, outcomes=outcomes, held=[], claim=claim, now=now)
    for o in outcomes:
        if o.state is DeliveryState.DELIVERED:
            report.delivered += 1
        elif o.state is DeliveryState.FAILED:
            report.failed += 1
        elif o.state is DeliveryState.CANCELLED:
            report.cancelled += 1
        else:
            report.retrying += 1
    return report
