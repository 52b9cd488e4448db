"""Sending the double opt-in e-mail over SMTP (the standard library's client, on a thread)."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage

import structlog

from leadgate.errors import ServiceUnavailable
from leadgate.settings import Settings

log = structlog.get_logger("leadgate.forms.mail")
SMTP_TIMEOUT_SECONDS = 10.0


def configured(settings: Settings) -> bool:
    return bool(settings.smtp_host)


def confirmation_message(
    settings: Settings, *, to: str, form_name: str, link: str, hours: float
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = f"Please confirm your e-mail address ({form_name})"
    message.set_content(
        f'You (or someone using your address) sent the form "{form_name}".\n\n'
        f"To confirm, open this link within {hours:g} hours:\n\n{link}\n\n"
        "If it was not you, ignore this message: nothing is kept unless you confirm.\n"
    )
    return message


def _send(settings: Settings, message: EmailMessage) -> None:
    assert settings.smtp_host is not None
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username and settings.smtp_password is not None:
            smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        smtp.send_message(message)


async def send(settings: Settings, message: EmailMessage) -> None:
    """Sends, or raises 503: the caller's transaction then rolls back and keeps nothing."""
    try:
        await asyncio.to_thread(_send, settings, message)
    except (OSError, smtplib.SMTPException) as error:
        log.warning("smtp_failed", error=type(error).__name__)
        raise ServiceUnavailable(
            "The confirmation e-mail could not be sent; retry shortly.",
            headers={"Retry-After": "30"},
        ) from None
