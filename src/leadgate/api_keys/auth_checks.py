"""Checks `authenticate` makes on a verified key: its client certificate, its nearing expiry."""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime

from fastapi import Request

from leadgate.api_keys.cache import VerifiedKey
from leadgate.api_keys.mtls import client_thumbprint
from leadgate.api_keys.service import EXPIRY_WARNING
from leadgate.errors import MtlsRequired
from leadgate.models import utcnow
from leadgate.schemas import iso_utc
from leadgate.settings import Settings


def check_client_certificate(request: Request, settings: Settings, key: VerifiedKey) -> None:
    """A key with `enforceMtls` needs a verified client certificate pinned on the key."""
    thumbprint = client_thumbprint(request, settings)
    if thumbprint is None:
        raise MtlsRequired("This API key requires a verified client certificate (mTLS).")
    if thumbprint not in key.mtls_thumbprints:
        raise MtlsRequired("The client certificate is not one pinned on this API key.")


def expiry_warning_headers(key: VerifiedKey, now: datetime | None = None) -> dict[str, str]:
    """`Deprecation` (RFC 9745), `Sunset` (RFC 8594) and a readable `Warning` within 7 days."""
    now = now or utcnow()
    if key.expires_at is None or key.expires_at - now > EXPIRY_WARNING:
        return {}
    deprecated_since = key.expires_at - EXPIRY_WARNING
    return {
        "Deprecation": f"@{int(deprecated_since.timestamp())}",
        "Sunset": format_datetime(key.expires_at, usegmt=True),
        "Warning": f'299 leadgate "API key {key.key_id} expires at {iso_utc(key.expires_at)}; '
        'roll it or create a new one"',
    }
