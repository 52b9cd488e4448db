"""The forms commands of the CLI: create (from options or the API's body), list, show, disable
and enable, delete, and the quarantine (list, release, delete), each audited as the operator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from leadgate.models import AuditEvent, Lead, QuarantinedSubmission, WebForm
from tests.conftest import Backend, Cli
from tests.factories import count_rows, create_tenant, fetch_rows
from tests.test_forms import FIELDS, JSON_HEADERS, SHOP, make_form, visitor


def _json(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_forms_lifecycle_from_a_terminal(
    backend: Backend, client: httpx.Client, cli: Cli, tmp_path: Path
) -> None:
    tenant = create_tenant(backend)
    created = _json(
        cli(
            "forms", "create", "--tenant", tenant.slug, "--name", "Contact",
            "--field", "firstName:First name:required", "--field", "lastName:Last name:required",
            "--field", "email:E-mail", "--origin", SHOP, "--redirect", "https://shop.example/ok",
            "--json",
        )
    )  # fmt: skip
    assert [(f["name"], f["required"]) for f in created["fields"]] == [
        ("firstName", True), ("lastName", True), ("email", False),
    ]  # fmt: skip
    assert created["allowedOrigins"] == [SHOP]
    assert created["redirectUrl"] == "https://shop.example/ok"
    form_id = created["id"]
    # The API sees what the CLI made.
    fetched = client.get(f"/api/v1/forms/{form_id}", headers=tenant.headers).json()
    assert fetched["name"] == "Contact"

    body = tmp_path / "form.json"
    body.write_text(json.dumps({"name": "From JSON", "fields": FIELDS, "tags": ["web"]}))
    from_json = _json(
        cli("forms", "create", "--tenant", tenant.slug, "--from-json", str(body), "--json")
    )
    assert from_json["tags"] == ["web"]

    listed = cli("forms", "list", "--tenant", tenant.slug)
    assert listed.exit_code == 0, listed.output
    assert f"{form_id}  enabled   Contact" in listed.output
    assert "firstName*,lastName*,email" in listed.output
    shown = cli("forms", "show", form_id, "--tenant", tenant.slug)
    assert created["urls"]["submit"] in shown.output

    disabled = _json(cli("forms", "disable", form_id, "--tenant", tenant.slug, "--json"))
    assert disabled["enabled"] is False
    refused = client.post(f"/f/{form_id}", json=visitor(), headers=JSON_HEADERS)
    assert refused.status_code != 200
    assert _json(cli("forms", "enable", form_id, "--tenant", tenant.slug, "--json"))["enabled"]

    deleted = cli("forms", "delete", form_id, "--tenant", tenant.slug)
    assert deleted.exit_code == 0, deleted.output
    assert client.get(f"/api/v1/forms/{form_id}", headers=tenant.headers).status_code == 404
    actions = sorted(
        e.action for e in fetch_rows(backend, AuditEvent, tenant.id) if e.target_id == form_id
    )
    assert actions == ["form.created", "form.deleted", "form.updated", "form.updated"]
    assert all(
        e.actor == {"type": "system", "id": "cli", "name": "leadgate CLI"}
        for e in fetch_rows(backend, AuditEvent, tenant.id)
        if e.target_id == form_id
    )


def test_forms_create_errors_write_nothing(backend: Backend, cli: Cli, tmp_path: Path) -> None:
    tenant = create_tenant(backend)
    audited = count_rows(backend, AuditEvent, tenant.id)
    no_last_name = cli(
        "forms", "create", "--tenant", tenant.slug, "--name", "X",
        "--field", "firstName:First:required",
    )  # fmt: skip
    assert no_last_name.exit_code == 1
    assert "lastName must be a required field" in no_last_name.output
    bad_field = cli("forms", "create", "--tenant", tenant.slug, "--name", "X", "--field", "email")
    assert bad_field.exit_code == 1
    assert "expected name:label" in bad_field.output
    bad_origin = cli(
        "forms", "create", "--tenant", tenant.slug, "--name", "X",
        "--field", "firstName:F:required", "--field", "lastName:L:required",
        "--origin", "shop.example/path",
    )  # fmt: skip
    assert bad_origin.exit_code == 1
    assert "is not an origin" in bad_origin.output
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    unreadable = cli("forms", "create", "--tenant", tenant.slug, "--from-json", str(broken))
    assert unreadable.exit_code == 1
    assert "cannot read" in unreadable.output
    unknown = cli("forms", "list", "--tenant", "no-such-tenant")
    assert unknown.exit_code == 1
    assert "no tenant" in unknown.output
    missing = cli("forms", "disable", "form_missing", "--tenant", tenant.slug)
    assert missing.exit_code == 1
    assert "No form form_missing" in missing.output
    assert count_rows(backend, WebForm, tenant.id) == 0
    assert count_rows(backend, AuditEvent, tenant.id) == audited


def test_quarantine_from_a_terminal(backend: Backend, client: httpx.Client, cli: Cli) -> None:
    tenant = create_tenant(backend)
    form = make_form(client, tenant)
    for _ in range(2):
        bot = client.post(
            f"/f/{form['id']}", json={**visitor(), "_lg_hp": "x"}, headers=JSON_HEADERS
        )
        assert bot.status_code == 200
    held = _json(cli("forms", "quarantine", "--tenant", tenant.slug, "--json"))
    assert [h["reasons"] for h in held] == [["honeypot"], ["honeypot"]]
    text = cli("forms", "quarantine", "--tenant", tenant.slug, "--form", form["id"])
    assert f"{held[0]['id']}  {form['id']}" in text.output

    both = cli("forms", "quarantine", "--tenant", tenant.slug, "--release", "a", "--delete", "b")
    assert both.exit_code == 1
    assert count_rows(backend, QuarantinedSubmission, tenant.id) == 2

    released = _json(
        cli("forms", "quarantine", "--tenant", tenant.slug, "--release", held[0]["id"], "--json")
    )
    assert released["outcome"] == "created"
    [lead] = [lead for lead in fetch_rows(backend, Lead, tenant.id) if lead.deleted_at is None]
    assert lead.id == released["leadId"]
    deleted = cli("forms", "quarantine", "--tenant", tenant.slug, "--delete", held[1]["id"])
    assert deleted.exit_code == 0, deleted.output
    assert count_rows(backend, QuarantinedSubmission, tenant.id) == 0
    again = cli("forms", "quarantine", "--tenant", tenant.slug, "--delete", held[1]["id"])
    assert again.exit_code == 1
    assert "No quarantined submission" in again.output
    audited = {
        e.action: e.actor["id"]
        for e in fetch_rows(backend, AuditEvent, tenant.id)
        if e.action.startswith("form_submission.")
    }
    assert audited == {"form_submission.released": "cli", "form_submission.deleted": "cli"}
