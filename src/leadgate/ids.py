"""Opaque, prefixed, time-sortable ids (`lead_…`, `key_…`): 48-bit ms time + 80 random bits."""

from __future__ import annotations

import base64
import os
import time

from leadgate.crypto import encode_fixed

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower-case
_FROM_RFC4648 = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _ALPHABET.encode())


def new_id(prefix: str) -> str:
    """`<prefix>_` + 26 characters that sort by creation time (to the millisecond): the time in
    10 base32 digits, then 80 random bits in 16.

    The 130 bits are base32-encoded in C (RFC 4648, then mapped to the alphabet) rather than
    digit by digit: ids are made several times per request. `encode_id` is the plain definition
    the tests hold this to."""
    return id_of(prefix, time.time_ns() // 1_000_000, int.from_bytes(os.urandom(10), "big"))


def id_of(prefix: str, millis: int, rand: int) -> str:
    value = (millis << 80) | rand
    # 20 bytes are 32 base32 digits; the top 6 of them hold bits a 48-bit time never sets.
    digits = base64.b32encode(value.to_bytes(20, "big"))[6:]
    return f"{prefix}_{digits.translate(_FROM_RFC4648).decode()}"


def encode_id(prefix: str, millis: int, rand: int) -> str:
    """The id `new_id` makes of a time and 80 random bits, digit by digit."""
    return f"{prefix}_{encode_fixed(millis, _ALPHABET, 10)}{encode_fixed(rand, _ALPHABET, 16)}"
