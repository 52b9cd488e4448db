"""OpenAPI for bodies that leadgate parses itself (JSON or form, with an optional `api_key`)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

_REF = "#/components/schemas/{model}"
_extra_schemas: dict[str, Any] = {}


def request_body(
    model: type[BaseModel], *, form: bool = False, required: bool = True
) -> dict[str, Any]:
    """`openapi_extra` documenting `model` as the route's body (JSON, and HTML form if `form`)."""
    schema = model.model_json_schema(ref_template=_REF, by_alias=True)
    _extra_schemas.update(schema.pop("$defs", {}))
    _extra_schemas[model.__name__] = schema
    ref = {"$ref": _REF.format(model=model.__name__)}
    content: dict[str, Any] = {"application/json": {"schema": ref}}
    if form:
        content["application/x-www-form-urlencoded"] = {"schema": ref}
    return {"requestBody": {"required": required, "content": content}}


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                servers=app.servers,
            )
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for name, schema in _extra_schemas.items():
                schemas.setdefault(name, schema)
            _leadgate_errors(document)
            document["components"].setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
            document["security"] = [{"ApiKeyHeader": []}, {"BearerAuth": []}]
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


_WRITES = ("post", "put", "patch", "delete")
_UNPROCESSABLE = {
    "description": "An `Idempotency-Key` reused with another body (`idempotency_key_reused`)",
    "content": {"application/json": {"schema": {"$ref": _REF.format(model="ErrorBody")}}},
}


def _leadgate_errors(document: dict[str, Any]) -> None:
    """FastAPI documents a 422 `HTTPValidationError` wherever a route has parameters; leadgate
    answers invalid input with 400 in the error body (`ERROR_RESPONSES`) instead. A write's
    real 422 is an Idempotency-Key reused with another body; a read has none. Generated clients
    then type every error answer as `ErrorBody`."""
    validation_ref = _REF.format(model="HTTPValidationError")
    for operations in document.get("paths", {}).values():
        for method, operation in operations.items():
            responses = operation.get("responses", {})
            answer = responses.get("422", {})
            schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
            if schema.get("$ref") != validation_ref:
                continue
            if method in _WRITES:
                responses["422"] = _UNPROCESSABLE
            else:
                del responses["422"]
    schemas = document.get("components", {}).get("schemas", {})
    if "HTTPValidationError" not in str(document.get("paths")):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)


SECURITY_SCHEMES = {
    "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "BearerAuth": {"type": "http", "scheme": "bearer"},
    "ApiKeyQuery": {"type": "apiKey", "in": "query", "name": "api_key"},
}
