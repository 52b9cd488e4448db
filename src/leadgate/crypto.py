"""API-key material: generation, checksum, and the HMAC under which keys are stored."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import zlib
from dataclasses import dataclass

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_LENGTH = 32  # 32 base62 characters: ~190 bits of randomness
CHECKSUM_LENGTH = 6  # 62**6 > 2**32, so a CRC32 always fits
HINT_LENGTH = 4
PREFIX_PATTERN = r"[a-z][a-z0-9]{1,11}"
_PREFIX_RE = re.compile(rf"^{PREFIX_PATTERN}$")
_KEY_RE = re.compile(
    rf"^(?P<prefix>{PREFIX_PATTERN})_(?P<body>[0-9A-Za-z]{{{RANDOM_LENGTH}}})"
    rf"(?P<checksum>[0-9A-Za-z]{{{CHECKSUM_LENGTH}}})$"
)


def encode_fixed(value: int, alphabet: str, length: int) -> str:
    """`value` in base len(alphabet), left-padded to exactly `length` digits."""
    base = len(alphabet)
    chars = []
    for _ in range(length):
        value, rem = divmod(value, base)
        chars.append(alphabet[rem])
    return "".join(reversed(chars))


def checksum(body: str) -> str:
    return encode_fixed(zlib.crc32(body.encode("ascii")), BASE62, CHECKSUM_LENGTH)


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    plaintext: str
    hint: str


def generate_api_key(prefix: str) -> GeneratedKey:
    body = "".join(secrets.choice(BASE62) for _ in range(RANDOM_LENGTH))
    plaintext = f"{prefix}_{body}{checksum(body)}"
    return GeneratedKey(plaintext=plaintext, hint=f"{prefix}_{body[:HINT_LENGTH]}")


def is_valid_prefix(prefix: str) -> bool:
    return _PREFIX_RE.match(prefix) is not None


def is_well_formed(candidate: str, prefix: str | None = None) -> bool:
    """True when `candidate` is a key (any valid prefix, or exactly `prefix` when given) with a
    valid checksum; never raises. Verification passes no prefix: a key keeps working after the
    deployment's or its tenant's prefix changes, since the prefix is part of the stored HMAC."""
    if not isinstance(candidate, str) or len(candidate) > 64:
        return False
    match = _KEY_RE.match(candidate)
    if match is None or (prefix is not None and match["prefix"] != prefix):
        return False
    return hmac.compare_digest(checksum(match["body"]), match["checksum"])


def hash_api_key(plaintext: str, secret: bytes) -> str:
    """HMAC-SHA256 of a key under the server secret: what the database stores and looks up."""
    return hmac.new(secret, plaintext.encode(), hashlib.sha256).hexdigest()


def key_pattern(prefix: str | None = None) -> str:
    """The regular expression secret scanners can use to find keys: of one prefix, or (None) of
    every prefix a deployment or tenant may choose."""
    head = re.escape(prefix) if prefix is not None else PREFIX_PATTERN
    return rf"\b{head}_[0-9A-Za-z]{{{RANDOM_LENGTH + CHECKSUM_LENGTH}}}\b"
