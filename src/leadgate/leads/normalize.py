"""Normalising the contact fields of a lead: email, phone, website and the duplicate keys."""

from __future__ import annotations

from urllib.parse import urlsplit

import phonenumbers
from email_validator import EmailNotValidError, validate_email

MAX_URL_LENGTH = 2048


def normalize_email(value: str) -> str:
    """A syntactically valid address with its domain lower-cased (the local part is kept)."""
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(str(error)) from None
    return f"{result.local_part}@{result.ascii_domain.lower()}"


def email_key(email: str | None) -> str | None:
    """Emails compare case-insensitively."""
    return email.casefold() if email else None


def normalize_phone(value: str, region: str) -> str:
    """E.164 (`+15551234567`); numbers without a country code are read in the tenant's region."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise ValueError("not a phone number") from None
    # `is_possible_number` (length and country) rather than `is_valid_number`: the seed's own
    # example, +1 555-123-4567, is a fictional 555 number that real forms send all the time.
    if not phonenumbers.is_possible_number(number):
        raise ValueError("not a possible phone number for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_website(value: str) -> str:
    """An http(s) URL; a bare domain (`acme.com`) gets `https://`."""
    candidate = value if "://" in value else f"https://{value}"
    parts = urlsplit(candidate)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host or " " in candidate:
        raise ValueError("must be an http(s) URL")
    if "." not in host and host != "localhost":
        raise ValueError("must be an http(s) URL with a domain")
    if len(candidate) > MAX_URL_LENGTH:
        raise ValueError(f"must be at most {MAX_URL_LENGTH} characters")
    return candidate


def name_key(first_name: str, last_name: str) -> str:
    """First + last name compared case-insensitively and with inner spacing folded."""
    first = " ".join(first_name.casefold().split())
    last = " ".join(last_name.casefold().split())
    return f"{first}\x1f{last}"
