"""Leaked keys: revoking keys that someone reports exposed, and GitHub secret-scanning reports.

Anyone may report a key value (`POST /api-keys/revoke-leaked`, modelled on GitHub's credential
revocation API): whoever holds a working key can revoke it, so no authentication is needed, and
the answer is the same whatever the values were. GitHub's secret-scanning partner program sends
signed reports (`POST /secret-scanning/github`); the signature is verified against the public
keys an operator configures (`LEADGATE_GITHUB_SECRET_SCANNING_KEYS`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature as BadSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate import crypto
from leadgate.api_keys.authenticator import check_usable
from leadgate.api_keys.repository import KeyLookupRepository
from leadgate.api_keys.service import revoke_api_key
from leadgate.errors import ApiError, InvalidSignature
from leadgate.ids import new_id
from leadgate.models import utcnow
from leadgate.settings import Settings
from leadgate.usage.repository import NoticeRepository

LEAK_REPORT_ACTOR = {"type": "system", "id": "leak-report", "name": "Leaked-key report"}
GITHUB_ACTOR = {"type": "system", "id": "github-secret-scanning", "name": "GitHub secret scanning"}
LEAKED = "leaked"


async def revoke_leaked_keys(
    session: AsyncSession,
    settings: Settings,
    tokens: Sequence[str],
    *,
    actor: dict[str, Any],
    ip: str | None = None,
    where: dict[str, str] | None = None,
) -> set[str]:
    """Revokes, with reason `leaked`, every key one of `tokens` works for; returns those tokens.

    Every token is hashed and all are looked up in one query whatever they look like, so a
    report costs the same whether or not it holds keys (a revocation's writes aside, which the
    reporter can only cause with a working key). `where` maps a token to where it was seen.
    Each affected tenant gets an audit record, an `api_key.revoked` event and a console notice.
    """
    hashes = {
        token: crypto.hash_api_key(token, settings.secret_bytes) for token in dict.fromkeys(tokens)
    }
    records = await KeyLookupRepository(session).records_by_secret_hash(list(hashes.values()))
    working: set[str] = set()
    for token, secret_hash in hashes.items():
        record = records.get(secret_hash)
        if record is None or not crypto.is_well_formed(token):
            continue
        try:
            check_usable(record)
        except ApiError:
            continue  # revoked, expired or rolled past its grace: nothing left to protect
        working.add(token)
        key = await revoke_api_key(
            session,
            tenant_id=record.tenant_id,
            key_id=record.key_id,
            actor=actor,
            reason=LEAKED,
            ip=ip,
        )
        seen = (where or {}).get(token)
        await NoticeRepository(session, key.tenant_id).insert_once(
            {
                "id": new_id("ntc"),
                "api_key_id": key.id,
                "kind": "api_key_leaked",
                "period": LEAKED,
                "message": (
                    f"API key {key.name!r} ({key.hint}…) was reported exposed"
                    f"{f' at {seen}' if seen else ''} and has been revoked "
                    f"({actor['name']}). Give its clients a new key."
                ),
                "created_at": utcnow(),
            }
        )
    return working


def verify_github_signature(
    settings: Settings, identifier: str | None, signature: str | None, body: bytes
) -> None:
    """Raises 401 unless `signature` (base64 DER ECDSA P-256/SHA-256 over the raw body) was
    made by the configured GitHub public key named `identifier`."""
    pem = settings.github_secret_scanning_keys.get((identifier or "").strip())
    if pem is None or not signature:
        raise InvalidSignature("Unknown or missing GitHub public key identifier or signature.")
    public_key = load_pem_public_key(pem.encode())
    if not isinstance(public_key, ec.EllipticCurvePublicKey):  # pragma: no cover - settings check
        raise InvalidSignature("The configured GitHub public key is not an ECDSA key.")
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
        public_key.verify(raw, body, ec.ECDSA(hashes.SHA256()))
    except (BadSignature, binascii.Error, ValueError):
        raise InvalidSignature("The GitHub signature does not match the body.") from None


def token_hash(token: str) -> str:
    """How GitHub names a token in the answer: SHA-256 of it, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()
