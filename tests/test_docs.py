"""The OpenAPI document and the explorer, served without any CDN."""

from __future__ import annotations

import re

import httpx


def test_openapi_documents_lead_intake(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    create = document["paths"]["/api/v1/leads"]["post"]
    content = create["requestBody"]["content"]
    assert set(content) == {"application/json", "application/x-www-form-urlencoded"}
    schema = document["components"]["schemas"]["LeadCreate"]
    assert {"firstName", "lastName"} <= set(schema["required"])
    assert "201" in create["responses"]
    assert "409" in create["responses"]
    assert "ApiKeyHeader" in document["components"]["securitySchemes"]
    assert "/api/leads/intake" not in document["paths"]


def test_explorer_assets_are_local(client: httpx.Client) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources
    assert all(s.startswith("/static/") for s in sources)
    for source in sources:
        assert client.get(source).status_code == 200, source
    assert client.get("/", follow_redirects=False).headers["location"] == "/console"


def test_configuration_reference_is_current() -> None:
    from typer.testing import CliRunner

    from leadgate.cli import app
    from leadgate.settings_doc import documented_path, render

    generated = CliRunner().invoke(app, ["config-docs"]).stdout
    assert generated == render()
    assert documented_path().read_text() == generated, (
        "docs/configuration.md is stale: run `leadgate config-docs > docs/configuration.md`"
    )
    assert "`LEADGATE_SECRET_KEY`" in generated


def test_operation_ids_are_the_handlers_names_and_unique(client: httpx.Client) -> None:
    """Generated clients name their methods after operation ids: short, stable and unique."""
    paths = client.get("/openapi.json").json()["paths"]
    ids = [operation["operationId"] for item in paths.values() for operation in item.values()]
    assert len(ids) == len(set(ids))
    assert paths["/api/v1/leads"]["post"]["operationId"] == "create_lead"
    assert not [i for i in ids if "_api_v1_" in i]
