"""Inbound sources over HTTP: each provider's documented sample payload and signature scheme,
forged requests refused with nothing written, mappings, previews, replays and retention."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from leadgate.housekeeping import purge_once
from leadgate.models import AuditEvent, Lead, SourcePayload, utcnow
from tests.conftest import Backend, app_server
from tests.factories import TenantInfo, count_rows, create_api_key, create_tenant, update_row

FIXTURES = Path(__file__).parent / "fixtures" / "sources"
TYPEFORM_MAPPING = {
    "rules": [
        {"from": "first_name", "to": "firstName"},
        {"from": "last_name", "to": "lastName"},
        {"from": "email", "to": "email"},
        {"from": "phone", "to": "phone"},
        {"from": "rating", "to": "custom:rating"},
        {"from": "pictures", "to": "custom:cities"},
        {"to": "source", "value": "typeform"},
    ],
    "tags": ["Inbound"],
}


def sample(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / f"{name}.json").read_text()))


def make_source(client: httpx.Client, tenant: TenantInfo, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v1/sources", json=fields, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def path_of(source: dict[str, Any]) -> str:
    return str(httpx.URL(source["url"]).path)


def typeform_headers(secret: str, body: bytes) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {
        "Content-Type": "application/json",
        "Typeform-Signature": "sha256=" + base64.b64encode(digest).decode(),
    }


def webflow_headers(secret: str, body: bytes, stamp: int | None = None) -> dict[str, str]:
    stamp = int(time.time() * 1000) if stamp is None else stamp
    message = f"{stamp}:".encode() + body
    return {
        "Content-Type": "application/json",
        "x-webflow-timestamp": str(stamp),
        "x-webflow-signature": hmac.new(secret.encode(), message, hashlib.sha256).hexdigest(),
    }


def leads_of(client: httpx.Client, tenant: TenantInfo) -> list[dict[str, Any]]:
    response = client.get("/api/v1/leads", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def payloads(client: httpx.Client, tenant: TenantInfo, source_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/sources/{source_id}/payloads", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def test_typeform_sample_becomes_a_lead_and_a_forged_one_is_refused(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    source = make_source(client, tenant, name="Typeform", kind="typeform", mapping=TYPEFORM_MAPPING)
    assert source["url"].endswith(f"/inbound/sources/{source['id']}")
    body = json.dumps(sample("typeform")).encode()

    forged = client.post(
        path_of(source), content=body, headers=typeform_headers("not-the-secret-at-all", body)
    )
    assert forged.status_code == 401
    assert forged.json()["error"] == "invalid_signature"
    unsigned = client.post(
        path_of(source), content=body, headers={"Content-Type": "application/json"}
    )
    assert unsigned.status_code == 401
    assert count_rows(backend, SourcePayload, tenant.id) == 0
    assert count_rows(backend, Lead, tenant.id) == 0

    response = client.post(
        path_of(source), content=body, headers=typeform_headers(source["secret"], body)
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["outcome"] == "created"
    [lead] = leads_of(client, tenant)
    assert lead["id"] == result["leadId"]
    assert (lead["firstName"], lead["lastName"]) == ("Laura", "Lorem ipsum dolor")
    assert lead["email"] == "an_account@example.com"
    assert lead["phone"] == "+15555550123"
    assert lead["source"] == "typeform"
    assert [t["name"] for t in lead["tags"]] == ["Inbound"]
    assert lead["createdBy"] == {"type": "source", "id": source["id"], "name": "Typeform"}
    assert lead["requestSource"] == "inbound_source"
    # The hidden fields' click id and UTM tag are the lead's attribution.
    assert lead["customFields"] == {
        "rating": 5,
        "cities": "London, Sydney",
        "gclid": "Cj0KCQiA-typeform-click",
        "utm_campaign": "spring",
    }
    [kept] = payloads(client, tenant, source["id"])
    assert kept["outcome"] == "created"
    assert kept["leadId"] == lead["id"]
    assert kept["body"]["form_response"]["token"] == "a3a12ec67a1365927098a606107fac15"


def test_webflow_form_submission_signature_and_timestamp(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    secret = "webflow-client-secret-0123456789"
    source = make_source(client, tenant, name="Site", kind="webflow", secret=secret)
    body = json.dumps(sample("webflow")).encode()
    stale = int(time.time() * 1000) - 10 * 60 * 1000
    for headers in (
        webflow_headers("another-secret-0123456789abc", body),
        webflow_headers(secret, body, stamp=stale),
        {**webflow_headers(secret, body), "x-webflow-timestamp": "yesterday"},
    ):
        refused = client.post(path_of(source), content=body, headers=headers)
        assert refused.status_code == 401, headers
        assert refused.json()["error"] == "invalid_signature"
    assert count_rows(backend, SourcePayload, tenant.id) == 0
    assert count_rows(backend, Lead, tenant.id) == 0

    response = client.post(path_of(source), content=body, headers=webflow_headers(secret, body))
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "created"
    [lead] = leads_of(client, tenant)
    # The default Webflow mapping: First Name / Last Name; `email` is not `Email`, so unmapped.
    assert (lead["firstName"], lead["lastName"], lead["source"]) == (
        "Zaphod",
        "Beeblebrox",
        "webflow",
    )
    assert lead["customFields"] == {"gclid": "EAIaIQobChMI-webflow-click"}

    # A webflow source needs the secret Webflow signs with.
    missing = client.post(
        "/api/v1/sources", json={"name": "x", "kind": "webflow"}, headers=tenant.headers
    )
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"


def test_google_ads_lead_form_test_data_and_a_real_lead(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    source = make_source(client, tenant, name="Ads", kind="google_ads")
    payload = sample("google_ads")

    wrong = client.post(path_of(source), json={**payload, "google_key": "guessed-key"})
    assert wrong.status_code == 401
    missing = client.post(
        path_of(source), json={k: v for k, v in payload.items() if k != "google_key"}
    )
    assert missing.status_code == 401
    assert count_rows(backend, SourcePayload, tenant.id) == 0

    # "Send test data" in Google Ads: kept as a test, never a lead.
    test = client.post(path_of(source), json={**payload, "google_key": source["secret"]})
    assert test.status_code == 200, test.text
    assert test.json() == {"payloadId": test.json()["payloadId"], "outcome": "test", "leadId": None}
    assert count_rows(backend, Lead, tenant.id) == 0

    real = client.post(
        path_of(source), json={**payload, "google_key": source["secret"], "is_test": False}
    )
    assert real.status_code == 200, real.text
    assert real.json()["outcome"] == "created"
    [lead] = leads_of(client, tenant)
    assert (lead["firstName"], lead["lastName"]) == ("FirstName", "LastName")
    assert (lead["email"], lead["phone"], lead["zipcode"]) == (
        "test@example.com",
        "+16505550123",
        "94043",
    )
    assert lead["source"] == "google_ads"
    assert lead["customFields"] == {"gclid": payload["gcl_id"]}
    kept = payloads(client, tenant, source["id"])
    assert [p["outcome"] for p in kept] == ["created", "test"]
    # The key is a credential: it is not kept with the payload.
    assert all("google_key" not in p["body"] for p in kept)


@pytest.mark.parametrize("verification", ["hmac", "secret"])
def test_generic_json_source(backend: Backend, client: httpx.Client, verification: str) -> None:
    tenant = create_tenant(backend)
    source = make_source(
        client,
        tenant,
        name="Landing page",
        kind="json",
        verification=verification,
        mapping={
            "rules": [
                {"from": "contact.name", "to": "fullName"},
                {"from": "contact.email", "to": "email"},
                {"from": "answers.0", "to": "custom:budget"},
            ]
        },
    )
    body = json.dumps(
        {"contact": {"name": "Ada Lovelace", "email": "ada@Example.COM"}, "answers": [5000]}
    ).encode()
    if verification == "hmac":
        good = "sha256=" + hmac.new(source["secret"].encode(), body, hashlib.sha256).hexdigest()
        bad = "sha256=" + hmac.new(b"wrong", body, hashlib.sha256).hexdigest()
        name = "X-Leadgate-Signature"
    else:
        good, bad, name = source["secret"], "wrong-secret", "X-Leadgate-Secret"
    json_type = {"Content-Type": "application/json"}
    refused = client.post(path_of(source), content=body, headers={**json_type, name: bad})
    assert refused.status_code == 401
    assert count_rows(backend, SourcePayload, tenant.id) == 0
    response = client.post(path_of(source), content=body, headers={**json_type, name: good})
    assert response.status_code == 200, response.text
    [lead] = leads_of(client, tenant)
    assert (lead["firstName"], lead["lastName"], lead["email"]) == (
        "Ada",
        "Lovelace",
        "ada@example.com",
    )
    assert lead["customFields"] == {"budget": 5000}

    not_json = client.post(path_of(source), content=b"[1, 2]", headers={**json_type, name: good})
    assert not_json.status_code == 400
    assert not_json.json()["error"] == "invalid_request"
    assert count_rows(backend, SourcePayload, tenant.id) == 1


def test_a_failed_mapping_is_fixed_and_the_payload_replayed_into_one_lead(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    # The wrong refs: Typeform's first name is `first_name`, not `given_name`.
    wrong = {"rules": [{"from": "given_name", "to": "firstName"}, {"from": "email", "to": "email"}]}
    source = make_source(client, tenant, name="Typeform", kind="typeform", mapping=wrong)
    body = json.dumps(sample("typeform")).encode()
    response = client.post(
        path_of(source), content=body, headers=typeform_headers(source["secret"], body)
    )
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "failed"
    assert count_rows(backend, Lead, tenant.id) == 0
    [failed] = payloads(client, tenant, source["id"])
    assert failed["error"]["error"] == "invalid_request"
    assert {d["field"] for d in failed["error"]["details"]} == {"firstName", "lastName"}

    # The console's preview on the last payload shows the fix works before it is saved.
    preview = client.post(
        f"/api/v1/sources/{source['id']}/preview",
        json={"mapping": TYPEFORM_MAPPING},
        headers=tenant.headers,
    )
    assert preview.status_code == 200, preview.text
    assert preview.json()["payloadId"] == failed["id"]
    assert preview.json()["outcome"] == "created"
    assert preview.json()["lead"]["firstName"] == "Laura"
    assert preview.json()["fields"]["first_name"] == "Laura"
    assert preview.json()["attribution"]["gclid"] == "Cj0KCQiA-typeform-click"
    assert count_rows(backend, Lead, tenant.id) == 0

    fixed = client.patch(
        f"/api/v1/sources/{source['id']}",
        json={"mapping": TYPEFORM_MAPPING},
        headers=tenant.headers,
    )
    assert fixed.status_code == 200, fixed.text
    replay_path = f"/api/v1/sources/{source['id']}/payloads/{failed['id']}/replay"
    # Several replays at once: the payload makes exactly one lead.
    answers: list[httpx.Response] = []

    def replay() -> None:
        with httpx.Client(base_url=backend.url, timeout=30) as own:
            answers.append(own.post(replay_path, headers=tenant.headers))

    threads = [threading.Thread(target=replay) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 409, 409, 409], [a.text for a in answers]
    assert {a.json()["error"] for a in answers if a.status_code == 409} == {
        "payload_not_replayable"
    }
    [replayed] = [a.json() for a in answers if a.status_code == 200]
    assert replayed["outcome"] == "created"
    assert replayed["attempts"] == 2
    [lead] = leads_of(client, tenant)
    assert lead["id"] == replayed["leadId"]
    assert lead["firstName"] == "Laura"


def test_a_duplicate_is_kept_with_the_lead_it_matched(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    source = make_source(client, tenant, name="Typeform", kind="typeform", mapping=TYPEFORM_MAPPING)
    body = json.dumps(sample("typeform")).encode()
    headers = typeform_headers(source["secret"], body)
    first = client.post(path_of(source), content=body, headers=headers).json()
    second = client.post(path_of(source), content=body, headers=headers).json()
    assert (first["outcome"], second["outcome"]) == ("created", "duplicate")
    assert second["leadId"] is None
    kept = payloads(client, tenant, source["id"])
    assert kept[0]["error"]["error"] == "duplicate_lead"
    assert kept[0]["error"]["existingLeadId"] == first["leadId"]
    assert count_rows(backend, Lead, tenant.id) == 1
    # A payload that made a lead is not replayed.
    again = client.post(
        f"/api/v1/sources/{source['id']}/payloads/{kept[1]['id']}/replay", headers=tenant.headers
    )
    assert again.status_code == 409
    assert count_rows(backend, Lead, tenant.id) == 1


def test_payloads_are_bounded_per_source(backend: Backend) -> None:
    tenant = create_tenant(backend)
    with (
        app_server(backend, sources_payloads_kept=10) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        source = make_source(client, tenant, name="Ads", kind="google_ads")
        body = {**sample("google_ads"), "google_key": source["secret"]}
        ids = []
        for _ in range(13):
            response = client.post(path_of(source), json=body)
            assert response.status_code == 200, response.text
            ids.append(response.json()["payloadId"])
        response = client.get(
            f"/api/v1/sources/{source['id']}/payloads?limit=100", headers=tenant.headers
        )
        kept = [p["id"] for p in response.json()["data"]]
    assert kept == list(reversed(ids))[:10]
    assert count_rows(backend, SourcePayload, tenant.id) == 10


def test_sources_api_scopes_tenants_and_audit(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    other = create_tenant(backend)
    reader = create_api_key(backend, tenant, ["sources:read"])
    leads_only = create_api_key(backend, tenant, ["leads:write"])
    create = {"name": "Form", "kind": "json"}

    assert client.post("/api/v1/sources", json=create).status_code == 401
    denied = client.post("/api/v1/sources", json=create, headers=reader.headers)
    assert denied.status_code == 403
    assert denied.json()["error"] == "insufficient_scope"
    assert client.get("/api/v1/sources", headers=leads_only.headers).status_code == 403
    bad = client.post("/api/v1/sources", json={"name": "x", "kind": "fax"}, headers=tenant.headers)
    assert bad.status_code == 400
    bad_rule = client.post(
        "/api/v1/sources",
        json={**create, "mapping": {"rules": [{"from": "a", "to": "shoeSize"}]}},
        headers=tenant.headers,
    )
    assert bad_rule.status_code == 400
    assert count_rows(backend, AuditEvent, tenant.id, action="inbound_source.created") == 0

    source = make_source(client, tenant, **create)
    assert (
        "secret" not in client.get(f"/api/v1/sources/{source['id']}", headers=reader.headers).json()
    )
    listed = client.get("/api/v1/sources", headers=reader.headers).json()["data"]
    assert [s["id"] for s in listed] == [source["id"]]
    # Another tenant sees nothing of it.
    for method, path in (
        ("GET", f"/api/v1/sources/{source['id']}"),
        ("PATCH", f"/api/v1/sources/{source['id']}"),
        ("DELETE", f"/api/v1/sources/{source['id']}"),
        ("GET", f"/api/v1/sources/{source['id']}/payloads"),
    ):
        answer = client.request(
            method, path, json={} if method == "PATCH" else None, headers=other.headers
        )
        assert answer.status_code == 404, (method, path)
    assert client.get("/api/v1/sources", headers=other.headers).json()["data"] == []

    disabled = client.patch(
        f"/api/v1/sources/{source['id']}", json={"enabled": False}, headers=tenant.headers
    )
    assert disabled.status_code == 200
    assert disabled.json()["enabled"] is False
    body = b'{"firstName": "A", "lastName": "B"}'
    signed = "sha256=" + hmac.new(source["secret"].encode(), body, hashlib.sha256).hexdigest()
    off = client.post(
        path_of(source),
        content=body,
        headers={"Content-Type": "application/json", "X-Leadgate-Signature": signed},
    )
    assert off.status_code == 404
    assert count_rows(backend, SourcePayload, tenant.id) == 0

    assert (
        client.delete(f"/api/v1/sources/{source['id']}", headers=tenant.headers).status_code == 204
    )
    assert client.get(f"/api/v1/sources/{source['id']}", headers=tenant.headers).status_code == 404
    actions = [
        a
        for a in ("inbound_source.created", "inbound_source.updated", "inbound_source.deleted")
        if count_rows(backend, AuditEvent, tenant.id, action=a) == 1
    ]
    assert len(actions) == 3


def test_forged_requests_are_throttled_per_address(backend: Backend) -> None:
    tenant = create_tenant(backend)
    with (
        app_server(backend, auth_failure_limit=3) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        source = make_source(client, tenant, name="Ads", kind="google_ads")
        body = {**sample("google_ads"), "is_test": False}
        for _ in range(3):
            forged = client.post(path_of(source), json={**body, "google_key": "guess"})
            assert forged.status_code == 401
        blocked = client.post(path_of(source), json={**body, "google_key": source["secret"]})
        assert blocked.status_code == 429
    assert count_rows(backend, SourcePayload, tenant.id) == 0
    assert count_rows(backend, Lead, tenant.id) == 0


def test_housekeeping_purges_payloads_past_retention(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    source = make_source(client, tenant, name="Ads", kind="google_ads")
    body = {**sample("google_ads"), "google_key": source["secret"]}
    old, recent = (client.post(path_of(source), json=body).json()["payloadId"] for _ in range(2))
    update_row(backend, SourcePayload, old, received_at=utcnow() - timedelta(days=31))
    purged = backend.run(purge_once(backend.app.state.database, backend.settings))
    assert purged.retention["source_payloads"] >= 1
    assert [p["id"] for p in payloads(client, tenant, source["id"])] == [recent]
