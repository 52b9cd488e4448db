"""Which fields make two leads duplicates, per tenant: e-mail, E.164 phone, first + last name.

A lead claims one key per matching field; the partial unique indexes on those keys refuse a
second live lead with the same one. A field the tenant does not match on gets no key (NULL),
which the indexes leave alone."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from leadgate.leads.normalize import email_key, name_key

MATCH_FIELDS: tuple[str, ...] = ("email", "phone", "name")
DEFAULT_MATCH_FIELDS: tuple[str, ...] = ("email", "name")


def claim_keys(
    fields: Collection[str],
    *,
    email: str | None,
    phone: str | None,
    first_name: str,
    last_name: str,
) -> dict[str, Any]:
    """The lead's duplicate keys under the tenant's matching fields. `phone` is already E.164
    (the lead schemas normalise it), so two spellings of one number share a key."""
    return {
        "email_key": email_key(email) if "email" in fields else None,
        "phone_key": phone or None if "phone" in fields else None,
        "name_key": name_key(first_name, last_name) if "name" in fields else None,
    }
