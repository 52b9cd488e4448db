"""Opaque, prefixed, time-sortable ids (`lead_…`, `key_…`): 48-bit ms time + 80 random bits."""

from __future__ import annotations

import os
import time

from leadgate.crypto import encode_fixed

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower-case


def new_id(prefix: str) -> str:
    """`<prefix>_` + 26 characters that sort by creation time (to the millisecond)."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    return f"{prefix}_{encode_fixed(millis, _ALPHABET, 10)}{encode_fixed(rand, _ALPHABET, 16)}"
