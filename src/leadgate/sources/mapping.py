"""Turning a source's provider fields into the body of a lead, by the source's mapping."""

from __future__ import annotations

from typing import Any

from leadgate.leads.schemas import CustomValue
from leadgate.sources.providers import click_ids
from leadgate.sources.schemas import CUSTOM_PREFIX, SourceMapping


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict):
        return None
    if isinstance(value, list):
        value = ", ".join(str(item) for item in value if item is not None)
    if isinstance(value, bool):
        return "true" if value else "false"
    text = " ".join(str(value).split())
    return text or None


def _custom(value: Any) -> CustomValue:
    if isinstance(value, str | int | float | bool):
        return value
    return _text(value)


def lead_body(mapping: SourceMapping, fields: dict[str, Any]) -> dict[str, Any]:
    """The `POST /leads` body the mapping makes of these provider fields.

    Rules apply in order and a later rule that finds a value wins, so a mapping can list a
    provider's alternatives (`EMAIL`, then `WORK_EMAIL`). A provider field that is absent or
    empty fills nothing. Click ids and UTM tags become custom fields unless a rule set them.
    """
    body: dict[str, Any] = {}
    custom: dict[str, CustomValue] = {}
    for rule in mapping.rules:
        raw = fields.get(rule.from_) if rule.from_ is not None else rule.value
        if rule.to.startswith(CUSTOM_PREFIX):
            value = _custom(raw)
            if value not in (None, ""):
                custom[rule.to.removeprefix(CUSTOM_PREFIX)] = value
            continue
        text = _text(raw)
        if text is None:
            continue
        if rule.to == "fullName":
            first, _, last = text.partition(" ")
            body["firstName"] = first
            if last:
                body["lastName"] = last
        else:
            body[rule.to] = text
    for name, value in click_ids(fields).items():
        custom.setdefault(name, value)
    if custom:
        body["customFields"] = custom
    if mapping.tags:
        body["tags"] = list(mapping.tags)
    if mapping.team_id:
        body["teamId"] = mapping.team_id
    return body
