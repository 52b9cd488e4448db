"""Third-party CAPTCHA answers (Turnstile, hCaptcha, reCAPTCHA), verified server to server.

Each provider takes the same `siteverify` form post (`secret`, `response`, `remoteip`) and
answers JSON with `success`. The verify URLs are settings, so a deployment (or a test) can
point them at its own server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import httpx
import structlog

from leadgate.settings import Settings

log = structlog.get_logger("leadgate.forms.captcha")

Provider = Literal["turnstile", "hcaptcha", "recaptcha"]
VERIFY_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    field: str  # the form field the provider's widget fills in
    script: str  # the provider's widget script, for the hosted page
    widget_class: str
    origins: tuple[str, ...]  # what the hosted page's CSP must allow for the widget


PROVIDERS: dict[str, ProviderInfo] = {
    "turnstile": ProviderInfo(
        "cf-turnstile-response",
        "https://challenges.cloudflare.com/turnstile/v0/api.js",
        "cf-turnstile",
        ("https://challenges.cloudflare.com",),
    ),
    "hcaptcha": ProviderInfo(
        "h-captcha-response",
        "https://js.hcaptcha.com/1/api.js",
        "h-captcha",
        ("https://hcaptcha.com", "https://*.hcaptcha.com"),
    ),
    "recaptcha": ProviderInfo(
        "g-recaptcha-response",
        "https://www.google.com/recaptcha/api.js",
        "g-recaptcha",
        ("https://www.google.com", "https://www.gstatic.com"),
    ),
}


def configured(settings: Settings, provider: str) -> bool:
    return _secret_and_url(settings, provider) is not None


def _secret_and_url(settings: Settings, provider: str) -> tuple[str, str] | None:
    secret, url = {
        "turnstile": (settings.forms_turnstile_secret, settings.forms_turnstile_verify_url),
        "hcaptcha": (settings.forms_hcaptcha_secret, settings.forms_hcaptcha_verify_url),
        "recaptcha": (settings.forms_recaptcha_secret, settings.forms_recaptcha_verify_url),
    }.get(provider, (None, ""))
    return None if secret is None else (secret.get_secret_value(), url)


async def verify(settings: Settings, provider: str, answer: object, remote_ip: str | None) -> bool:
    """Whether the provider accepts the visitor's answer. No answer, a provider that cannot be
    reached or does not say `success: true` all count as not verified."""
    found = _secret_and_url(settings, provider)
    if found is None or not isinstance(answer, str) or not answer or len(answer) > 4096:
        return False
    secret, url = found
    data = {"secret": secret, "response": answer}
    if remote_ip:
        data["remoteip"] = remote_ip
    try:
        async with httpx.AsyncClient(timeout=VERIFY_TIMEOUT_SECONDS) as client:
            response = await client.post(url, data=data)
        body = response.json()
    except (httpx.HTTPError, ValueError) as error:
        log.warning("captcha_unverifiable", provider=provider, error=type(error).__name__)
        return False
    return isinstance(body, dict) and body.get("success") is True
