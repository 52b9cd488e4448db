"""The CRM commands of the CLI: automations and their runs, the funnel and pipeline reports."""

from __future__ import annotations

import json

import httpx

from tests.conftest import Backend, Cli
from tests.factories import create_tenant, unique_lead
from tests.test_crm_automations import wait_for


def test_automations_and_reports_from_a_terminal(
    backend: Backend,
    client: httpx.Client,
    cli: Cli,
) -> None:
    tenant = create_tenant(backend)
    rule = client.post(
        "/api/v1/automations",
        json={"name": "Tag all", "eventType": "lead.created",
              "actions": [{"type": "add_tags", "tags": ["new"]}]},
        headers=tenant.headers,
    ).json()  # fmt: skip
    lead = client.post("/api/v1/leads", json=unique_lead(), headers=tenant.headers).json()
    client.post(f"/api/v1/leads/{lead['id']}/convert", json={"deal": {"name": "D", "amount": 900}},
                headers=tenant.headers)  # fmt: skip

    listed = cli("automations", "list", "--tenant", tenant.slug)
    assert listed.exit_code == 0, listed.output
    assert f"{rule['id']}  enabled   lead.created  Tag all" in listed.output

    def runs() -> list[dict[str, object]]:
        result = cli("automations", "runs", rule["id"], "--tenant", tenant.slug, "--json")
        assert result.exit_code == 0, result.output
        return list(json.loads(result.output))

    found = wait_for(runs)
    assert found[0]["recordId"] == lead["id"]
    assert found[0]["matched"] is True
    missing = cli("automations", "runs", "auto_missing", "--tenant", tenant.slug)
    assert missing.exit_code == 1
    assert "No automation auto_missing" in missing.output

    funnel = cli("reports", "funnel", "--tenant", tenant.slug, "--json")
    assert [(s["step"], s["count"]) for s in json.loads(funnel.output)] == [
        ("leads", 1), ("contacts", 1), ("deals", 1), ("won", 0),
    ]  # fmt: skip
    pipeline = cli("reports", "pipeline", "--tenant", tenant.slug)
    assert "Qualification" in pipeline.output
    assert "900" in pipeline.output
