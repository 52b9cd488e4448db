"""What each kind of source sends: how its signature is checked and how its payload becomes a
flat set of provider fields (`{field: value}`) that a mapping reads.

Signature schemes, as the providers document them:
- Typeform: `Typeform-Signature: sha256=` + base64(HMAC-SHA256(secret, raw body)).
- Webflow: `x-webflow-signature` = hex(HMAC-SHA256(secret, "<x-webflow-timestamp>:<raw body>")),
  the timestamp in milliseconds; older than five minutes is refused (replays).
- Google Ads lead form extensions: the `google_key` field of the body equals the source's key.
- Generic JSON: `X-Leadgate-Signature: sha256=` + hex(HMAC-SHA256(secret, raw body)), or, with
  shared-secret verification, the secret itself in `X-Leadgate-Secret`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any, Literal

SourceKind = Literal["typeform", "webflow", "google_ads", "json"]
KINDS: tuple[str, ...] = ("typeform", "webflow", "google_ads", "json")
WEBFLOW_TOLERANCE_MS = 5 * 60 * 1000
MAX_FIELDS = 200
# Ad-click identifiers and campaign tags: whichever a payload carries becomes the lead's
# attribution, under these names, whatever the provider's field is called.
CLICK_IDS: dict[str, str] = {
    "gclid": "gclid",
    "gcl_id": "gclid",
    "gbraid": "gbraid",
    "wbraid": "wbraid",
    "fbclid": "fbclid",
    "msclkid": "msclkid",
    "ttclid": "ttclid",
    "li_fat_id": "li_fat_id",
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "utm_term": "utm_term",
    "utm_content": "utm_content",
}


def _hmac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def verify(
    kind: str,
    verification: str,
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    payload: Mapping[str, Any],
    *,
    now_ms: int | None = None,
) -> bool:
    """Whether the request really comes from the provider holding `secret`."""
    if kind == "typeform":
        given = headers.get("typeform-signature", "")
        expected = "sha256=" + base64.b64encode(_hmac(secret, body)).decode()
        return hmac.compare_digest(given.encode(), expected.encode())
    if kind == "webflow":
        stamp = headers.get("x-webflow-timestamp", "")
        if not stamp.isdigit():
            return False
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        if abs(now_ms - int(stamp)) > WEBFLOW_TOLERANCE_MS:
            return False
        expected = _hmac(secret, stamp.encode() + b":" + body).hex()
        return hmac.compare_digest(
            headers.get("x-webflow-signature", "").encode(), expected.encode()
        )
    if kind == "google_ads":
        key = payload.get("google_key")
        return isinstance(key, str) and hmac.compare_digest(key.encode(), secret.encode())
    if verification == "secret":
        return hmac.compare_digest(headers.get("x-leadgate-secret", "").encode(), secret.encode())
    given = headers.get("x-leadgate-signature", "").removeprefix("sha256=")
    return hmac.compare_digest(given.encode(), _hmac(secret, body).hex().encode())


def is_test(kind: str, payload: Mapping[str, Any]) -> bool:
    """Google Ads' "send test data" button sends `is_test: true`: kept, never made a lead."""
    return kind == "google_ads" and payload.get("is_test") is True


def provider_fields(kind: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload as flat fields a mapping can name."""
    if kind == "typeform":
        fields = _typeform(payload)
    elif kind == "webflow":
        fields = _webflow(payload)
    elif kind == "google_ads":
        fields = _google_ads(payload)
    else:
        fields = _flatten(payload)
    return dict(list(fields.items())[:MAX_FIELDS])


def click_ids(fields: Mapping[str, Any]) -> dict[str, str]:
    """The click ids and UTM tags among the provider fields, by their usual names."""
    found: dict[str, str] = {}
    for name, value in fields.items():
        leaf = name.rsplit(".", 1)[-1].lower()
        if leaf in CLICK_IDS and value not in (None, ""):
            found.setdefault(CLICK_IDS[leaf], str(value))
    return found


def _typeform_value(answer: Mapping[str, Any]) -> Any:
    kind = answer.get("type")
    if kind == "choice":
        choice = answer.get("choice") or {}
        return choice.get("label") or choice.get("other")
    if kind == "choices":
        choices = answer.get("choices") or {}
        return ", ".join([*choices.get("labels", []), *filter(None, [choices.get("other")])])
    if kind == "payment":
        return (answer.get("payment") or {}).get("amount")
    return answer.get(str(kind))


def _typeform(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Answers by their field's `ref` (stable across form edits), and also by the field's type
    (`type:email`, `type:phone_number`: the first such answer), hidden fields as `hidden.<name>`."""
    response = payload.get("form_response") or {}
    fields: dict[str, Any] = {}
    for answer in response.get("answers") or []:
        if not isinstance(answer, dict):
            continue
        field = answer.get("field") or {}
        value = _typeform_value(answer)
        key = field.get("ref") or field.get("id")
        if key:
            fields[str(key)] = value
        fields.setdefault(f"type:{answer.get('type')}", value)
    for name, value in (response.get("hidden") or {}).items():
        fields[f"hidden.{name}"] = value
    for name in ("form_id", "token", "submitted_at", "landed_at"):
        if name in response:
            fields[name] = response[name]
    return fields


def _webflow(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The form's inputs by their names, plus the form's name and the site's id."""
    inner = payload.get("payload") or {}
    fields: dict[str, Any] = {str(name): value for name, value in (inner.get("data") or {}).items()}
    for name, value in (("formName", inner.get("name")), ("siteId", inner.get("siteId"))):
        if value is not None:
            fields[name] = value
    return fields


def _google_ads(payload: Mapping[str, Any]) -> dict[str, Any]:
    """`user_column_data` by `column_id` (FULL_NAME, EMAIL, PHONE_NUMBER, …), then the ids."""
    fields: dict[str, Any] = {}
    for column in payload.get("user_column_data") or []:
        if isinstance(column, dict) and column.get("column_id"):
            fields[str(column["column_id"])] = column.get("string_value")
    for name in ("lead_id", "gcl_id", "campaign_id", "adgroup_id", "creative_id", "form_id"):
        if payload.get(name) is not None:
            fields[name] = payload[name]
    return fields


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested objects as dotted paths (`contact.email`), list items by index (`items.0`)."""
    if isinstance(value, dict):
        items = [(f"{prefix}.{k}" if prefix else str(k), v) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(f"{prefix}.{i}" if prefix else str(i), v) for i, v in enumerate(value)]
    else:
        return {prefix: value}
    flat: dict[str, Any] = {}
    for key, item in items:
        flat.update(_flatten(item, key))
    return flat


# A new source starts with the mapping its provider's usual fields need.
DEFAULT_MAPPINGS: dict[str, dict[str, Any]] = {
    "typeform": {
        "rules": [
            {"from": "type:email", "to": "email"},
            {"from": "type:phone_number", "to": "phone"},
            {"to": "source", "value": "typeform"},
        ]
    },
    "webflow": {
        "rules": [
            {"from": "Name", "to": "fullName"},
            {"from": "First Name", "to": "firstName"},
            {"from": "Last Name", "to": "lastName"},
            {"from": "Email", "to": "email"},
            {"from": "Phone", "to": "phone"},
            {"to": "source", "value": "webflow"},
        ]
    },
    "google_ads": {
        "rules": [
            {"from": "FULL_NAME", "to": "fullName"},
            {"from": "FIRST_NAME", "to": "firstName"},
            {"from": "LAST_NAME", "to": "lastName"},
            {"from": "EMAIL", "to": "email"},
            {"from": "WORK_EMAIL", "to": "email"},
            {"from": "PHONE_NUMBER", "to": "phone"},
            {"from": "WORK_PHONE", "to": "phone"},
            {"from": "COMPANY_NAME", "to": "company"},
            {"from": "STREET_ADDRESS", "to": "address"},
            {"from": "CITY", "to": "city"},
            {"from": "REGION", "to": "state"},
            {"from": "POSTAL_CODE", "to": "zipcode"},
            {"from": "COUNTRY", "to": "country"},
            {"to": "source", "value": "google_ads"},
        ]
    },
    "json": {
        "rules": [
            {"from": "firstName", "to": "firstName"},
            {"from": "lastName", "to": "lastName"},
            {"from": "email", "to": "email"},
            {"from": "phone", "to": "phone"},
        ]
    },
}
