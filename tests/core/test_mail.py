"""The words of the mails in every language: no message key, the reference and the link."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.mail import NoticeLine, notice_mail, password_mail

NOW = datetime(2026, 3, 1, 7, 5, tzinfo=UTC)
NOTICES = [
    NoticeLine("referral_received", "r-1", "HW-2026-ABC123-1", "sent"),
    NoticeLine("status_changed", "r-1", "HW-2026-ABC123-1", "in_progress"),
    NoticeLine("answer_overdue", "r-2", "HW-2026-XYZ789-1", "sent"),
    NoticeLine("visit_recorded", "r-2", "HW-2026-XYZ789-1", "accepted"),
    NoticeLine("follow_up_due", "r-2", "HW-2026-XYZ789-1", "accepted"),
]


@pytest.mark.parametrize("language", ["en", "de", "sq", "sr-Latn", "sr-Cyrl"])
def test_every_mail_is_worded_in_the_language_without_keys(language: str) -> None:
    site = "https://h.example"
    to = {"sender": "h@example.org", "to": "p@example.org"}
    digest = notice_mail(
        NOTICES, digest=True, language=language, base_url=site, now=NOW, mail_id="m1", **to
    )
    one = notice_mail(
        NOTICES[1:2], digest=False, language=language, base_url=site, now=NOW, mail_id="m2", **to
    )
    reset = password_mail(
        f"{site}/app/password/hwp_x_y",
        valid_hours=72,
        language=language,
        now=NOW,
        mail_id="m3",
        sender=to["sender"],
        to=to["to"],
    )
    for message in (digest, one, reset):
        text = str(message["Subject"]) + message.get_content()
        for key in ("mail.", "notification.", "status.", "settings."):
            assert key not in text.replace("example.org", ""), (language, text)
        assert message["Content-Language"] == language
    assert "https://h.example/app/referrals/r-1" in one.get_content()
    assert "HW-2026-ABC123-1" in str(one["Subject"])
    assert digest.get_content().count("https://h.example/app/referrals/") == 5
    assert "https://h.example/app/password/hwp_x_y" in reset.get_content()
