"""A state-changing console request from another site is refused even with a valid CSRF token:
its `Origin` must be the console's own, and a browser's `Sec-Fetch-Site: cross-site` is refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from leadgate.models import AuditEvent, Tag
from tests.conftest import Backend
from tests.console_helpers import ConsoleClient, sign_up, tenant_id_of
from tests.factories import count_rows


@pytest.fixture(autouse=True)
def _close_browsers() -> Iterator[None]:
    yield
    ConsoleClient.close_all()


FOREIGN = [
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Origin": "http://127.0.0.1.evil.example"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Origin": "{own}", "Sec-Fetch-Site": "cross-site"},
]


def test_a_cross_site_post_with_a_valid_token_is_refused(backend: Backend) -> None:
    account = sign_up(backend)
    browser = account.client
    tenant_id = tenant_id_of(backend, account.slug)
    browser.get("/console/tags")
    audits = count_rows(backend, AuditEvent, tenant_id)
    for headers in FOREIGN:
        sent = {k: v.replace("{own}", backend.url) for k, v in headers.items()}
        body = {"name": "forged", "color": "#112233", "csrf_token": browser.csrf}
        response = browser.http.post("/console/tags", data=body, headers=sent)
        assert response.status_code == 403, (sent, response.status_code, response.text[:300])
        assert "another site" in response.text
    assert count_rows(backend, Tag, tenant_id) == 0
    assert count_rows(backend, AuditEvent, tenant_id) == audits
    # The console's own pages: same origin, or no header at all (older browsers, scripts).
    for headers in ({"Origin": backend.url, "Sec-Fetch-Site": "same-origin"}, {}):
        body = {"name": f"ok-{len(headers)}", "color": "#112233", "csrf_token": browser.csrf}
        response = browser.http.post("/console/tags", data=body, headers=headers)
        assert response.status_code in (201, 303), response.text[:300]
    assert count_rows(backend, Tag, tenant_id) == 2


def test_sign_in_from_another_site_is_refused(backend: Backend) -> None:
    account = sign_up(backend)
    stranger = ConsoleClient(backend)
    stranger.get("/console/sign-in")
    body = {"email": account.email, "password": "wrong password!", "csrf_token": stranger.csrf}
    response = stranger.http.post(
        "/console/sign-in", data=body, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert "lg_session" not in response.cookies
