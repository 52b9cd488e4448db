"""Every number is bounded where it enters, to what its column holds: crafted digits, huge
numbers and extreme dates are a 4xx (or the console's form error), never a 500, and write
nothing."""

from __future__ import annotations

import io
import logging
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from leadgate.models import ApiKey, ApiKeySecret, AuditEvent
from tests.conftest import Backend
from tests.console_helpers import ConsoleClient, generate_key, sign_up, tenant_id_of
from tests.factories import count_rows, create_tenant, fetch_rows
from tests.receiver import wait_until

INT4_MAX = 2**31 - 1
NINES = "9" * 5000
# str.isdigit() says yes to all of these; int() refuses them (or, for NINES, its digit limit).
CRAFTED = ["²", "³", "¹", "٣", NINES, "-1", "+5", " 1 0 "]


@pytest.fixture(autouse=True)
def _close_browsers() -> Iterator[None]:
    yield
    ConsoleClient.close_all()


def _key_id(browser: ConsoleClient, name: str) -> str:
    page = browser.get("/console/settings/api-keys")
    match = re.search(
        rf'data-key-id="(key_[0-9a-z]+)">\s*<td data-label="Name"><strong>{name}<', page.text
    )
    assert match is not None
    return match.group(1)


def test_console_number_fields_refuse_crafted_digits(backend: Backend) -> None:
    account = sign_up(backend)
    browser = account.client
    tenant_id = tenant_id_of(backend, account.slug)
    name = f"key-{uuid.uuid4().hex[:6]}"
    assert generate_key(browser, name=name).status_code == 201
    key_id = _key_id(browser, name)
    keys, secrets, audits = (
        count_rows(backend, ApiKey, tenant_id),
        count_rows(backend, ApiKeySecret, tenant_id),
        count_rows(backend, AuditEvent, tenant_id),
    )
    for value in CRAFTED:
        for field in ("expiration", "rate_limit"):
            response = generate_key(browser, name=f"crafted-{field}", **{field: value})
            assert response.status_code == 400, (field, value, response.text[:300])
        edit = f"/console/settings/api-keys/{key_id}/edit"
        browser.get(edit)
        response = browser.post(
            edit, {"name": name, "scopes": ["leads:write"], "rate_limit": value}
        )
        assert response.status_code == 400, (value, response.text[:300])
        assert "whole number" in response.text
        roll = f"/console/settings/api-keys/{key_id}/roll"
        browser.get(roll)
        response = browser.post(roll, {"grace_period": value})
        assert response.status_code == 400, (value, response.text[:300])
    assert count_rows(backend, ApiKey, tenant_id) == keys
    assert count_rows(backend, ApiKeySecret, tenant_id) == secrets
    assert count_rows(backend, AuditEvent, tenant_id) == audits


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("createdAfter", "0001-01-01T00:00:00+14:00"),
        ("createdBefore", "9999-12-31T23:59:59-14:00"),
        ("createdAfter", "0001-01-01T00:00:00+00:01"),
    ],
)
def test_lead_filters_refuse_dates_outside_the_calendar(
    backend: Backend, client: httpx.Client, name: str, value: str
) -> None:
    tenant = create_tenant(backend)
    for path in ("/api/v1/leads", "/api/v1/leads/export.csv"):
        response = client.get(path, params={name: value}, headers=tenant.headers)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["error"] == "invalid_request"
        assert f"query.{name}" in [detail["field"] for detail in response.json()["details"]]


def test_lead_filters_keep_the_extreme_dates_that_exist(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    params = {"createdAfter": "0001-01-01T14:00:00+14:00", "createdBefore": "9999-12-31T00:00:00Z"}
    response = client.get("/api/v1/leads", params=params, headers=tenant.headers)
    assert response.status_code == 200, response.text


def test_monthly_quota_is_bounded_to_its_column(
    backend: Backend, client: httpx.Client, server_log: Path
) -> None:
    tenant = create_tenant(backend)
    over = INT4_MAX + 1 + int(uuid.uuid4().int % 1000)
    # The key's first use records itself in the audit log (in the background): before counting.
    assert client.get("/api/v1/api-keys", headers=tenant.headers).status_code == 200
    wait_until(
        lambda: count_rows(backend, AuditEvent, tenant.id, action="api_key.used_from_new_ip") == 1
    )
    keys, audits = (
        count_rows(backend, ApiKey, tenant.id),
        count_rows(backend, AuditEvent, tenant.id),
    )
    body = {"name": "quota", "permissions": ["leads:read"], "monthlyQuota": over}
    response = client.post("/api/v1/api-keys", json=body, headers=tenant.headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert response.json()["details"][0]["field"] == "monthlyQuota"
    response = client.patch(
        f"/api/v1/api-keys/{tenant.key_id}", json={"monthlyQuota": over}, headers=tenant.headers
    )
    assert response.status_code == 400, response.text
    assert response.json()["details"][0]["field"] == "monthlyQuota"
    assert count_rows(backend, ApiKey, tenant.id) == keys
    assert count_rows(backend, AuditEvent, tenant.id) == audits
    assert [k.monthly_quota for k in fetch_rows(backend, ApiKey, tenant.id)] == [None]
    assert str(over) not in server_log.read_text()
    # The largest the column holds is accepted.
    body = {"name": "quota", "permissions": ["leads:read"], "monthlyQuota": INT4_MAX}
    response = client.post("/api/v1/api-keys", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    assert response.json()["monthlyQuota"] == INT4_MAX


def test_a_driver_error_quoting_a_value_is_logged_without_it(
    backend: Backend, server_log: Path
) -> None:
    """The driver's own message quotes the value (`hide_parameters` does not reach it): neither
    leadgate's log nor uvicorn's report of the 500 may carry it."""
    number = INT4_MAX + 1 + int(uuid.uuid4().int % 10**6)
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    uvicorn_log = logging.getLogger("uvicorn.error")
    uvicorn_log.addHandler(handler)
    try:
        response = httpx.get(
            backend.url + "/__test__/db-number-error",
            headers={"X-Number": str(number)},
            timeout=30,
        )
        if backend.name == "sqlite":
            assert response.status_code == 200  # SQLite holds 64-bit integers
            return
        assert response.status_code == 500
        # uvicorn reports the exception again after the answer has left: waited for.
        wait_until(lambda: "CAST($1 AS INTEGER)" in server_log.read_text())
        wait_until(lambda: "CAST($1 AS INTEGER)" in captured.getvalue())
    finally:
        uvicorn_log.removeHandler(handler)
    assert str(number) not in server_log.read_text()
    assert str(number) not in captured.getvalue()
