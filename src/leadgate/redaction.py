"""What the logs may show of a request's path: secrets that travel in a path are redacted."""

from __future__ import annotations

import re

# Paths whose next segment is a secret (a link token that grants something to its holder).
# A new kind of link token adds its prefix here; tests/test_secrets_hygiene.py checks the log.
SECRET_PATH_PREFIXES = ("/console/invitations/",)
_SECRET_PATH_RE = re.compile(
    "(" + "|".join(re.escape(prefix) for prefix in SECRET_PATH_PREFIXES) + ")[^/?#&\\s]+",
    re.IGNORECASE,
)


def redact_path(path: str) -> str:
    """The path as the logs may show it: every link token replaced by `[redacted]`."""
    return _SECRET_PATH_RE.sub(r"\1[redacted]", path)
