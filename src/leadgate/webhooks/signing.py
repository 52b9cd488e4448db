"""Standard Webhooks signing: `whsec_` secrets and the `webhook-*` headers of a delivery."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime

from cryptography.fernet import Fernet, MultiFernet
from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - the spec's prefix, not a secret
SECRET_BYTES = 32  # the spec asks for 24 to 64 random bytes


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _fernet(server_secret: bytes) -> Fernet:
    # A key of its own, derived from the server secret, for this one purpose.
    key = hmac.new(server_secret, b"leadgate:webhook-secrets:v1", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str, server_secret: bytes) -> str:
    """A signing secret as stored: encrypted (HMAC signing needs it back, so it cannot be a
    hash); a copy of the database alone does not let anyone forge leadgate's webhooks."""
    return _fernet(server_secret).encrypt(secret.encode()).decode()


def unseal(token: str, server_secret: bytes, previous: Sequence[bytes] = ()) -> str:
    """Decrypts under the current server secret, or one being rotated out (`previous`)."""
    keys = [_fernet(server_secret), *(_fernet(old) for old in previous)]
    return MultiFernet(keys).decrypt(token.encode()).decode()


def reseal(token: str, server_secret: bytes, previous: Sequence[bytes]) -> str:
    """The same signing secret, encrypted under the current server secret."""
    return seal(unseal(token, server_secret, previous), server_secret)


def signature_header(
    signing_secrets: Sequence[str], message_id: str, at: datetime, body: str
) -> str:
    """`v1,<sig>` per secret, space-separated: receivers accept the message if any one matches,
    which is what lets an old and a new secret sign side by side during a rotation."""
    return " ".join(Webhook(secret).sign(message_id, at, body) for secret in signing_secrets)


def signed_headers(
    signing_secrets: Sequence[str], message_id: str, at: datetime, body: str
) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature_header(signing_secrets, message_id, at, body),
    }
