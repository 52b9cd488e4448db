"""Finding the API key in a request: header, bearer token, query parameter or body field."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from leadgate.errors import InvalidRequest
from leadgate.payload import CREDENTIAL_FIELD, JSON_TYPES, is_form, media_type, read_body_api_key


@dataclass(frozen=True, slots=True)
class Credential:
    value: str
    source: str  # header | bearer | query | body


async def find_credential(request: Request) -> Credential | None:
    """The key the request carries, by PRODUCT.md §2's order of places.

    Two places carrying different keys is ambiguous and refused, rather than guessing which
    one the client meant. A pure read: asking twice in one request gives the same answer.
    """
    found: list[Credential] = []
    header = request.headers.get("x-api-key")
    if header is not None:
        found.append(Credential(header.strip(), "header"))
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer":
            found.append(Credential(token.strip(), "bearer"))
    query = request.query_params.get(CREDENTIAL_FIELD)
    if query is not None:
        found.append(Credential(query.strip(), "query"))
    if request.method in ("POST", "PUT", "PATCH") and _may_carry_key(request):
        value = await read_body_api_key(request)
        if value is not None:
            found.append(Credential(value.strip() if isinstance(value, str) else "", "body"))
    if not found:
        return None
    if len({credential.value for credential in found}) > 1:
        raise InvalidRequest(
            "The request carries different API keys in different places; send exactly one.",
            details=[
                {"field": credential.source, "message": "API key given here", "type": "ambiguous"}
                for credential in found
            ],
        )
    return found[0]


def _may_carry_key(request: Request) -> bool:
    kind = media_type(request)
    return is_form(request) or kind in JSON_TYPES or kind.endswith("+json")
