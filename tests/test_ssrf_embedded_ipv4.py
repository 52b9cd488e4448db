"""IPv6 addresses that carry an IPv4 address (NAT64, 6to4, Teredo, IPv4-compatible and -mapped)
are judged by the IPv4 they carry; deprecated site-local addresses are refused. Both when a
webhook URL is saved and when the worker connects."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from leadgate.models import AuditEvent, WebhookEndpoint
from leadgate.webhooks.transport import public_only_transport
from leadgate.webhooks.urls import UnsafeUrl, check_target, is_public
from tests.conftest import Backend, app_server
from tests.factories import count_rows, create_tenant

# (address, what it carries): each one reaches a non-public IPv4 address or a non-public network.
REFUSED = [
    ("64:ff9b::7f00:1", "NAT64 well-known prefix, 127.0.0.1"),
    ("64:ff9b::a9fe:a9fe", "NAT64 well-known prefix, 169.254.169.254 (cloud metadata)"),
    ("64:ff9b::10.0.0.1", "NAT64 well-known prefix, 10.0.0.1 in dotted form"),
    ("64:ff9b:1::a00:1", "NAT64 local-use prefix, 10.0.0.1"),
    ("64:ff9b:1:7f00:0:100::", "NAT64 local-use prefix, /48 layout, 127.0.0.1"),
    ("2002:7f00:1::", "6to4, 127.0.0.1"),
    ("2002:a9fe:a9fe::1", "6to4, 169.254.169.254"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo, client 127.0.0.1"),
    ("2001:0:7f00:1::", "Teredo, server 127.0.0.1"),
    ("::7f00:1", "IPv4-compatible, 127.0.0.1"),
    ("::127.0.0.1", "IPv4-compatible, 127.0.0.1 in dotted form"),
    ("::a9fe:a9fe", "IPv4-compatible, 169.254.169.254"),
    ("::ffff:127.0.0.1", "IPv4-mapped, 127.0.0.1"),
    ("::ffff:a9fe:a9fe", "IPv4-mapped, 169.254.169.254"),
    ("fec0::1", "deprecated site-local"),
    ("fed0::7f00:1", "deprecated site-local"),
]
# The same forms carrying a public IPv4 address stay usable.
ALLOWED = [
    "64:ff9b::808:808",
    "2002:808:808::1",
    "::ffff:8.8.8.8",
    "2606:2800:220:1::1",
]


@pytest.mark.parametrize(("address", "form"), REFUSED)
def test_embedded_non_public_ipv4_is_refused(address: str, form: str) -> None:
    assert not is_public(address), form
    with pytest.raises(UnsafeUrl, match="non-public"):
        asyncio.run(check_target(f"https://[{address}]/hook", allow_private=False))


@pytest.mark.parametrize("address", ALLOWED)
def test_embedded_public_ipv4_is_allowed(address: str) -> None:
    assert is_public(address)


def test_the_worker_never_connects_to_them() -> None:
    async def go() -> None:
        async with httpx.AsyncClient(transport=public_only_transport()) as client:
            for address, _form in REFUSED:
                with pytest.raises(httpx.ConnectError, match="non-public"):
                    await client.post(f"https://[{address}]:9/hook", content=b"{}")

    asyncio.run(go())


def test_webhook_urls_with_them_are_not_saved(backend: Backend) -> None:
    tenant = create_tenant(backend)
    with (
        app_server(backend, webhooks_allow_private=False) as production,
        httpx.Client(base_url=production.url, timeout=30) as client,
    ):
        for address, form in REFUSED:
            body = {"url": f"https://[{address}]/hook"}
            response = client.post("/api/v1/webhook-endpoints", json=body, headers=tenant.headers)
            assert response.status_code == 400, (form, response.text)
            assert response.json()["error"] == "invalid_request"
            assert response.json()["details"][0]["field"] == "url"
    assert count_rows(backend, WebhookEndpoint, tenant.id) == 0
    assert count_rows(backend, AuditEvent, tenant.id, target_type="webhook_endpoint") == 0
