"""Standard Webhooks signing: `whsec_` secrets and the `webhook-*` headers of a delivery."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - the spec's prefix, not a secret
SECRET_BYTES = 32  # the spec asks for 24 to 64 random bytes


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


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
