"""Reports through HTTP on both backends, checked against counts the test computes itself."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, datetime

import httpx

from leadgate.models import Deal, Lead
from tests.conftest import Backend
from tests.factories import create_api_key, create_team_for, create_tenant, unique_lead, update_row

DATES = [
    datetime(2026, 9, 3, 23, 30, tzinfo=UTC),  # a Thursday
    datetime(2026, 9, 6, 10, 0, tzinfo=UTC),  # Sunday: same ISO week as the 3rd
    datetime(2026, 9, 7, 0, 10, tzinfo=UTC),  # Monday: the next week
    datetime(2026, 10, 1, 12, 0, tzinfo=UTC),
    datetime(2026, 10, 31, 23, 59, tzinfo=UTC),
]
SOURCES = ["website", "fair", "website", "website", None]


def test_leads_report_by_period(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    for when, source in zip(DATES, SOURCES, strict=True):
        lead = client.post("/api/v1/leads", json=unique_lead(source=source),
                           headers=tenant.headers).json()  # fmt: skip
        update_row(backend, Lead, lead["id"], created_at=when)
    months = client.get("/api/v1/reports/leads", params={"groupBy": "source", "period": "month"},
                        headers=tenant.headers)  # fmt: skip
    assert months.status_code == 200, months.text
    expected = Counter((d.strftime("%Y-%m-01"), s) for d, s in zip(DATES, SOURCES, strict=True))
    got = {(r["period"], r["key"]): r["count"] for r in months.json()["data"]}
    assert got == dict(expected)
    weeks = client.get("/api/v1/reports/leads", params={"groupBy": "status", "period": "week",
                       "from": "2026-09-01T00:00:00Z", "to": "2026-10-01T00:00:00Z"},
                       headers=tenant.headers).json()["data"]  # fmt: skip
    assert {(r["period"], r["key"]): r["count"] for r in weeks} == {
        ("2026-08-31", "new"): 2,
        ("2026-09-07", "new"): 1,
    }
    days = client.get("/api/v1/reports/leads", params={"period": "day", "format": "csv"},
                      headers=tenant.headers)  # fmt: skip
    assert days.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(days.text)))
    assert {r["period"] for r in rows} == {d.date().isoformat() for d in DATES}
    assert sum(int(r["count"]) for r in rows) == len(DATES)
    bad = client.get("/api/v1/reports/leads", params={"period": "year"}, headers=tenant.headers)
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid_request"


def test_funnel_pipeline_and_revenue(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    stages = client.get("/api/v1/pipelines", headers=tenant.headers).json()["data"][0]["stages"]
    leads = [
        client.post("/api/v1/leads", json=unique_lead(), headers=tenant.headers).json()
        for _ in range(6)
    ]
    deals = []
    for index, lead in enumerate(leads[:4]):
        body = {"deal": {"name": f"D{index}", "amount": 10000 * (index + 1)}} if index < 3 else {}
        result = client.post(f"/api/v1/leads/{lead['id']}/convert", json=body,
                             headers=tenant.headers).json()  # fmt: skip
        if result["deal"]:
            deals.append(result["deal"])
    # Deal 0 won, deal 1 in Proposal (40%), deal 2 stays in Qualification (10%); one EUR deal.
    client.patch(f"/api/v1/deals/{deals[0]['id']}", json={"stageId": stages[3]["id"]},
                 headers=tenant.headers)  # fmt: skip
    client.patch(f"/api/v1/deals/{deals[1]['id']}", json={"stageId": stages[1]["id"]},
                 headers=tenant.headers)  # fmt: skip
    client.post("/api/v1/deals", json={"name": "Euro", "amount": 777, "currency": "EUR"},
                headers=tenant.headers)  # fmt: skip

    funnel = client.get("/api/v1/reports/funnel", headers=tenant.headers).json()["data"]
    assert [(s["step"], s["count"]) for s in funnel] == [
        ("leads", 6), ("contacts", 4), ("deals", 3), ("won", 1),
    ]  # fmt: skip
    assert [s["conversionRate"] for s in funnel] == [1.0, round(4 / 6, 4), 0.75, round(1 / 3, 4)]

    pipeline = client.get("/api/v1/reports/pipeline", headers=tenant.headers).json()["data"]
    by_stage = {(r["stageName"], r["currency"]): r for r in pipeline}
    assert by_stage[("Qualification", "USD")]["amount"] == 30000
    assert by_stage[("Qualification", "USD")]["weightedAmount"] == 3000
    assert by_stage[("Qualification", "EUR")]["weightedAmount"] == 777 * 10 // 100
    assert by_stage[("Proposal", "USD")]["weightedAmount"] == 20000 * 40 // 100
    assert by_stage[("Won", "USD")]["deals"] == 1
    assert by_stage[("Negotiation", None)]["deals"] == 0
    assert [r["position"] for r in pipeline] == sorted(r["position"] for r in pipeline)

    closed = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
    update_row(backend, Deal, deals[0]["id"], closed_at=closed)
    revenue = client.get("/api/v1/reports/revenue", headers=tenant.headers).json()["data"]
    assert revenue == [{"period": "2026-07-01", "currency": "USD", "deals": 1, "amount": 10000}]
    csv_text = client.get("/api/v1/reports/pipeline", params={"format": "csv"},
                          headers=tenant.headers).text  # fmt: skip
    header = csv_text.splitlines()[0]
    assert header == ("stageId,stageName,position,kind,probability,currency,deals,amount,"
                      "weightedAmount")  # fmt: skip
    usage = client.get("/api/v1/reports/usage", headers=tenant.headers)
    assert usage.status_code == 200
    missing = client.get("/api/v1/reports/pipeline", params={"pipelineId": "pipe_x"},
                         headers=tenant.headers)  # fmt: skip
    assert missing.status_code == 404


def test_reports_auth(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    team = create_team_for(backend, tenant, "East")
    reader = create_api_key(backend, tenant, ["reports:read"])
    wrong = create_api_key(backend, tenant, ["leads:read", "deals:read"])
    scoped = create_api_key(backend, tenant, ["reports:read"], team_scope="accounts",
                            team_ids=[team])  # fmt: skip
    for path in ("leads", "funnel", "pipeline", "revenue", "usage"):
        url = f"/api/v1/reports/{path}"
        assert client.get(url, headers=reader.headers).status_code == 200
        denied = client.get(url, headers=wrong.headers)
        assert denied.status_code == 403
        assert denied.json()["error"] == "insufficient_scope"
        limited = client.get(url, headers=scoped.headers)
        assert limited.status_code == 403
        assert limited.json()["error"] == "forbidden"
        assert client.get(url).status_code == 401
