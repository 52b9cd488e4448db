"""Reading a request body once, as JSON or an HTML form, for the handler and for key lookup."""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import parse_qsl

import orjson
from fastapi import Request
from pydantic import BaseModel

from leadgate.errors import InvalidRequest, UnsupportedMediaType

JSON_TYPES = ("application/json", "application/merge-patch+json")
FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_FIELDS = 1000
CREDENTIAL_FIELD = "api_key"
M = TypeVar("M", bound=BaseModel)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def is_form(request: Request) -> bool:
    return media_type(request) == FORM_TYPE


async def read_payload(request: Request) -> dict[str, Any]:
    """The body as a dict; cached on the request so auth and handler parse it once."""
    cached: dict[str, Any] | None = getattr(request.state, "payload", None)
    if cached is not None:
        return cached
    body = await request.body()
    payload = _parse(media_type(request), body) if body.strip() else {}
    nul_at = find_nul(payload)
    if nul_at is not None:
        raise InvalidRequest(
            "Text may not contain NUL characters.",
            details=[{"field": nul_at or None, "message": "contains U+0000", "type": "nul"}],
        )
    # The body's API key is a credential, not data: kept apart so handlers never see it and
    # `auth.credentials` reads it without changing the payload.
    request.state.body_api_key = payload.pop(CREDENTIAL_FIELD, None)
    request.state.payload = payload
    return payload


async def read_body(request: Request, model: type[M]) -> M:
    """The body validated as `model`. Routes parse bodies here rather than through FastAPI's
    body parameters, so an HTML form works too and the body may carry the `api_key`."""
    return model.model_validate(await read_payload(request))


async def read_body_api_key(request: Request) -> Any:
    """The `api_key` field of the body (None when absent), read once with the payload."""
    await read_payload(request)
    return request.state.body_api_key


def find_nul(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string (or key) holding U+0000, which no database stores."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    items: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return child
            items.append((child, item))
    elif isinstance(value, list):
        items = [
            (f"{path}.{index}" if path else str(index), item) for index, item in enumerate(value)
        ]
    for child, item in items:
        found = find_nul(item, child)
        if found is not None:
            return found
    return None


def parse_json(body: bytes) -> Any:
    """A JSON body of any shape (400 when it is not JSON, or holds U+0000 in a string)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        # orjson also refuses nesting deeper than 1024 levels here, so no RecursionError later.
        raise InvalidRequest(
            "The body is not valid JSON (UTF-8).",
            details=[{"field": None, "message": str(exc).split(":", 1)[0], "type": "json_invalid"}],
        ) from None
    nul_at = find_nul(data)
    if nul_at is not None:
        raise InvalidRequest(
            "Text may not contain NUL characters.",
            details=[{"field": nul_at or None, "message": "contains U+0000", "type": "nul"}],
        )
    return data


def _parse(kind: str, body: bytes) -> dict[str, Any]:
    if kind in JSON_TYPES or kind.endswith("+json") or kind == "":
        data = parse_json(body)
        if not isinstance(data, dict):
            raise InvalidRequest(
                "The body must be a JSON object.",
                details=[{"field": None, "message": "expected an object", "type": "json_type"}],
            )
        return data
    if kind == FORM_TYPE:
        return _parse_form(body)
    raise UnsupportedMediaType(
        f"Send application/json or {FORM_TYPE}, not {kind}.",
    )


def _parse_form(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text,
            keep_blank_values=False,
            max_num_fields=MAX_FORM_FIELDS,
            encoding="utf-8",
            errors="strict",
        )
    except UnicodeDecodeError:
        raise InvalidRequest("The form body is not valid UTF-8.") from None
    except ValueError:
        raise InvalidRequest(f"A form may carry at most {MAX_FORM_FIELDS} fields.") from None
    data: dict[str, Any] = {}
    custom: dict[str, str] = {}
    for name, value in pairs:
        if name.startswith("customFields[") and name.endswith("]"):
            custom[name[len("customFields[") : -1]] = value
        elif name.endswith("[]") or name in data:
            # Repeated fields (`tagIds=a&tagIds=b` or `tags[]=x`) collect into a list.
            key = name.removesuffix("[]")
            existing = data.get(key)
            if existing is None:
                data[key] = [value]
            elif isinstance(existing, list):
                existing.append(value)
            else:
                data[key] = [existing, value]
        else:
            data[name] = value
    if custom:
        data["customFields"] = custom
    return data
