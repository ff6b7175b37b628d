"""The words of the mails Homeward sends, in the recipient's language (core/i18n.py): one
notice, the day's digest, a password link. Pure: the outbox (graph/mail/) says what a mail
carries and `api.mail_delivery` sends it.

A mail names a referral by its reference and links to its page; it never carries what the
referral says (the household, its needs, notes): whoever opens the link reads the referral
with their own rights after signing in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from core.i18n import Translator, translator


@dataclass(frozen=True, slots=True)
class NoticeLine:
    """One notice as a mail tells it (the fields of graph.notifications.Notification)."""

    kind: str
    referral_id: str
    reference: str
    status: str | None


def notice_text(t: Translator, notice: NoticeLine) -> str:
    status = t("status." + notice.status.upper()) if notice.status else ""
    return t("notification." + notice.kind.upper(), reference=notice.reference, status=status)


def referral_link(base_url: str, referral_id: str) -> str:
    return f"{base_url}/app/referrals/{referral_id}"


def _message(
    *, sender: str, to: str, subject: str, body: str, language: str, now: datetime, mail_id: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    # The outbox id, so that a mail sent twice (delivery is at least once) is recognisable.
    message["Message-ID"] = make_msgid(idstring=mail_id, domain=sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    # After set_content, which replaces every Content- header.
    message["Content-Language"] = language
    return message


def _footer(t: Translator, base_url: str) -> str:
    return "\n\n-- \n" + t("mail.footer", link=f"{base_url}/app/settings")


def notice_mail(
    notices: list[NoticeLine],
    *,
    digest: bool,
    language: str | None,
    base_url: str,
    sender: str,
    to: str,
    now: datetime,
    mail_id: str,
) -> EmailMessage:
    """One notice (`digest` False), or the day's notices listed in one mail."""
    t = translator(language)
    if digest:
        subject = t("mail.digest.subject", date=t.date(now))
        lines = [t("mail.digest.intro"), ""]
        for notice in notices:
            lines += [
                "- " + notice_text(t, notice),
                "  " + referral_link(base_url, notice.referral_id),
            ]
        body = "\n".join(lines)
    else:
        (notice,) = notices
        subject = notice_text(t, notice)
        body = t(
            "mail.notice.body",
            notice=subject,
            link=referral_link(base_url, notice.referral_id),
        )
    return _message(
        sender=sender,
        to=to,
        subject=f"Homeward: {subject}",
        body=body + _footer(t, base_url),
        language=t.locale.replace("_", "-"),
        now=now,
        mail_id=mail_id,
    )


def password_mail(
    link: str,
    *,
    valid_hours: int,
    invitation: bool = False,
    language: str | None,
    sender: str,
    to: str,
    now: datetime,
    mail_id: str,
) -> EmailMessage:
    """The one-time link with which a person sets a new password, or (`invitation`) their
    first one."""
    t = translator(language)
    kind = "mail.invitation" if invitation else "mail.password"
    return _message(
        sender=sender,
        to=to,
        subject="Homeward: " + t(kind + ".subject"),
        body=t(kind + ".body", email=to, link=link, hours=valid_hours),
        language=t.locale.replace("_", "-"),
        now=now,
        mail_id=mail_id,
    )
