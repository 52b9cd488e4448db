"""What a rule reads: which events can trigger one, the record an event is about, and whether
the record's fields meet the conditions."""

from __future__ import annotations

from typing import Any

TRIGGERS = (
    "lead.created", "lead.updated", "lead.converted", "contact.created", "contact.updated",
    "deal.created", "deal.updated", "deal.won", "deal.lost",
)  # fmt: skip


def record_of(event_type: str, data: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(record type, record id, the record's fields as the event carries them)."""
    if event_type == "lead.converted":
        return "lead", str(data["leadId"]), dict(data.get("lead") or {})
    record_type = event_type.split(".", 1)[0]
    return record_type, str(data["id"]), data


def _value(record: dict[str, Any], field: str) -> Any:
    if field == "tags":
        return [t["name"] if isinstance(t, dict) else t for t in record.get("tags") or []]
    if field.startswith("customFields."):
        return (record.get("customFields") or {}).get(field.split(".", 1)[1])
    return record.get(field)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()
    return bool(a == b)


def condition_holds(record: dict[str, Any], condition: dict[str, Any]) -> bool:
    value = _value(record, condition["field"])
    op, expected = condition.get("op", "eq"), condition.get("value")
    if op == "exists":
        present = value not in (None, "", [])
        return present if expected in (None, True) else not present
    if op == "eq":
        return _same(value, expected)
    if op == "neq":
        return not _same(value, expected)
    if op == "in":
        return isinstance(expected, list) and any(_same(value, e) for e in expected)
    if op == "contains":
        if isinstance(value, list):
            return any(_same(v, expected) for v in value)
        return isinstance(value, str) and str(expected).casefold() in value.casefold()
    if op in ("gt", "lt"):
        try:
            return value > expected if op == "gt" else value < expected  # type: ignore[no-any-return]
        except TypeError:
            return False
    return False


def matches(record: dict[str, Any], conditions: list[dict[str, Any]]) -> bool:
    """All conditions hold (none: always)."""
    return all(condition_holds(record, c) for c in conditions)
