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
            document["components"].setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
            document["security"] = [{"ApiKeyHeader": []}, {"BearerAuth": []}]
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


SECURITY_SCHEMES = {
    "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "BearerAuth": {"type": "http", "scheme": "bearer"},
    "ApiKeyQuery": {"type": "apiKey", "in": "query", "name": "api_key"},
}
