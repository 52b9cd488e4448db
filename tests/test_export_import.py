"""CSV export over HTTP and the CLI, CLI import (safe to re-run), tenant settings, purge."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.leads.csv_format import COLUMNS
from leadgate.models import Event, Lead, Tag, Tenant
from tests.conftest import Backend, Cli
from tests.factories import (
    TenantInfo,
    count_rows,
    create_tenant,
    eventually_status,
    unique_lead,
)


def create(client: httpx.Client, tenant: TenantInfo, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v1/leads", json=unique_lead(**fields), headers=tenant.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_export_streams_every_matching_lead(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    first = create(
        client, tenant, tags=["VIP", "Expo"], customFields={"utm": "x"}, company="=HYPERLINK()"
    )
    second = create(client, tenant, status="qualified")
    create_tenant(backend)  # another tenant's leads never appear

    response = client.get("/api/v1/leads/export.csv", headers=tenant.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="leads.csv"'
    rows = parse(response.text)
    assert list(rows[0]) == list(COLUMNS)
    assert [r["id"] for r in rows] == [second["id"], first["id"]]
    row = rows[1]
    assert row["email"] == first["email"]
    assert row["phone"] == "+15551234567"
    assert row["tags"] == "Expo;VIP"
    assert json.loads(row["customFields"]) == {"utm": "x"}
    assert row["company"] == "'=HYPERLINK()"  # never a formula in a spreadsheet
    assert row["createdAt"] == first["createdAt"]

    qualified = client.get(
        "/api/v1/leads/export.csv", params={"status": "qualified"}, headers=tenant.headers
    )
    assert [r["id"] for r in parse(qualified.text)] == [second["id"]]
    none = client.get("/api/v1/leads/export.csv", params={"tag": "nope"}, headers=tenant.headers)
    assert parse(none.text) == []
    assert none.text.startswith("id,firstName")


def test_export_pages_through_more_than_one_batch(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    leads = [unique_lead() for _ in range(25)]
    assert (
        client.post("/api/v1/leads/batch", json={"leads": leads}, headers=tenant.headers)
    ).status_code == 207
    settings = backend.app.state.settings
    original = settings.export_batch_size
    settings.export_batch_size = 10
    try:
        response = client.get("/api/v1/leads/export.csv", headers=tenant.headers)
    finally:
        settings.export_batch_size = original
    ids = [r["id"] for r in parse(response.text)]
    assert len(ids) == len(set(ids)) == 25


def test_cli_export_then_import_into_another_tenant_twice(
    backend: Backend, client: httpx.Client, cli: Cli, tmp_path: Path
) -> None:
    source = create_tenant(backend)
    for index in range(5):
        create(client, source, tags=["Imported"], customFields={"n": index})
    exported = cli("leads", "export", "--tenant", source.slug)
    assert exported.exit_code == 0, exported.output
    rows = parse(exported.stdout)
    assert len(rows) == 5
    newest = rows[0]["createdAt"].removesuffix("Z")
    since = cli("leads", "export", "--tenant", source.slug, "--created-after", newest)
    assert [r["id"] for r in parse(since.stdout)] == [rows[0]["id"]]
    before = cli(
        "leads", "export", "--tenant", source.slug, "--created-before", newest, "--tag", "imported"
    )
    assert [r["id"] for r in parse(before.stdout)] == [r["id"] for r in rows[1:]]
    path = tmp_path / "leads.csv"
    path.write_text(exported.stdout, encoding="utf-8")

    target = create_tenant(backend)
    first = cli("leads", "import", "--tenant", target.slug, str(path))
    assert first.exit_code == 0, first.output
    assert "5 created, 0 merged, 0 duplicates, 0 invalid" in first.stdout
    assert count_rows(backend, Lead, target.id) == 5
    assert count_rows(backend, Tag, target.id) == 1
    assert count_rows(backend, Event, target.id, type="lead.created") == 5

    second = cli("leads", "import", "--tenant", target.slug, str(path))
    assert second.exit_code == 0, second.output
    assert "0 created, 0 merged, 5 duplicates, 0 invalid" in second.stdout
    assert count_rows(backend, Lead, target.id) == 5

    imported = client.get("/api/v1/leads", headers=target.headers).json()["data"]
    by_email = {lead["email"]: lead for lead in imported}
    for row in rows:
        lead = by_email[row["email"]]
        assert lead["requestSource"] == "import"
        assert lead["createdBy"]["type"] == "system"
        assert [t["name"] for t in lead["tags"]] == ["Imported"]
        assert json.dumps(lead["customFields"]) == row["customFields"]


def test_import_reports_bad_rows_and_keeps_the_good(
    backend: Backend, cli: Cli, tmp_path: Path
) -> None:
    tenant = create_tenant(backend)
    path = tmp_path / "mixed.csv"
    path.write_text(
        "\ufefffirstName,lastName,email,phone,customFields\n"
        "Ada,Lovelace,ada@example.org,,\n"
        "Grace,,grace@example.org,,\n"
        "Alan,Turing,not-an-email,,\n"
        "Edsger,Dijkstra,,12,\n"
        "Barbara,Liskov,,,{broken\n"
        "ADA,lovelace,,,\n",
        encoding="utf-8",
    )
    result = cli("leads", "import", "--tenant", tenant.slug, str(path))
    assert result.exit_code == 1
    assert "6 rows: 1 created, 0 merged, 1 duplicates, 4 invalid" in result.stdout
    assert "row 3: lastName" in result.stderr
    assert "row 4: email" in result.stderr
    assert "row 5: phone" in result.stderr
    assert "row 6: customFields" in result.stderr
    assert count_rows(backend, Lead, tenant.id) == 1


def test_import_merge_and_bad_input(
    backend: Backend, client: httpx.Client, cli: Cli, tmp_path: Path
) -> None:
    tenant = create_tenant(backend)
    lead = create(client, tenant, city=None)
    path = tmp_path / "merge.csv"
    path.write_text(f"firstName,lastName,city\n{lead['firstName']},{lead['lastName']},Paris\n")
    merged = cli("leads", "import", "--tenant", tenant.slug, "--on-duplicate", "merge", str(path))
    assert merged.exit_code == 0, merged.output
    assert "1 merged" in merged.stdout
    assert (
        client.get(f"/api/v1/leads/{lead['id']}", headers=tenant.headers).json()["city"] == "Paris"
    )

    bad_header = tmp_path / "bad.csv"
    bad_header.write_text("first,last\nA,B\n")
    refused = cli("leads", "import", "--tenant", tenant.slug, str(bad_header))
    assert refused.exit_code == 1
    assert "unknown columns: first, last" in refused.stderr
    wrong = cli("leads", "import", "--tenant", tenant.slug, "--on-duplicate", "allow", str(path))
    assert wrong.exit_code == 1
    unknown_tenant = cli("leads", "import", "--tenant", "no-such-tenant", str(path))
    assert unknown_tenant.exit_code == 1
    assert "no tenant" in unknown_tenant.stderr
    assert count_rows(backend, Lead, tenant.id) == 1


def test_tenant_update_changes_the_duplicate_policy(
    backend: Backend, client: httpx.Client, cli: Cli
) -> None:
    tenant = create_tenant(backend)
    body = unique_lead()
    assert client.post("/api/v1/leads", json=body, headers=tenant.headers).status_code == 201

    updated = cli(
        "tenant", "update", tenant.slug, "--duplicate-policy", "allow", "--phone-region", "gb",
        "--json",
    )  # fmt: skip
    assert updated.exit_code == 0, updated.output
    assert json.loads(updated.stdout)["duplicatePolicy"] == "allow"
    assert json.loads(updated.stdout)["phoneRegion"] == "GB"
    # Servers cache a key with its tenant's settings: the CLI's change reaches them at once
    # over Redis, or within the cache lifetime (1 s) without it (docs/api-keys.md).
    post_again = lambda: client.post("/api/v1/leads", json=body, headers=tenant.headers)  # noqa: E731
    assert eventually_status(post_again, 201) is not None
    local = client.post(
        "/api/v1/leads", json=unique_lead(phone="020 7946 0958"), headers=tenant.headers
    )
    assert local.json()["phone"] == "+442079460958"

    text = cli("tenant", "update", tenant.slug, "--duplicate-policy", "reject")
    assert "duplicate policy reject" in text.stdout
    assert eventually_status(post_again, 409) is not None
    for args in (("--duplicate-policy", "sometimes"), ("--phone-region", "USA")):
        refused = cli("tenant", "update", tenant.slug, *args)
        assert refused.exit_code == 1
    assert cli("tenant", "update", "no-such-tenant", "--duplicate-policy", "allow").exit_code == 1
    (row,) = [t for t in fetch_all_tenants(backend) if t.id == tenant.id]
    assert row.duplicate_policy == "reject"
    assert row.phone_region == "GB"


def test_cli_purge(backend: Backend, client: httpx.Client, cli: Cli) -> None:
    tenant = create_tenant(backend)
    lead = create(client, tenant)
    assert client.delete(f"/api/v1/leads/{lead['id']}", headers=tenant.headers).status_code == 200
    kept = cli("leads", "purge")
    assert kept.exit_code == 0
    assert count_rows(backend, Lead, tenant.id) == 1
    purged = cli("leads", "purge", "--older-than-days", "0")
    assert purged.exit_code == 0
    assert "Purged" in purged.stdout
    assert count_rows(backend, Lead, tenant.id) == 0


def fetch_all_tenants(backend: Backend) -> list[Tenant]:
    import sqlalchemy as sa

    async def work(session: AsyncSession) -> list[Tenant]:
        return list((await session.execute(sa.select(Tenant))).scalars().all())

    return backend.transaction(work)
