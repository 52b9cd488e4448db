"""Keys bound to client certificates (`enforceMtls`), over real TLS handshakes.

A CA, a server certificate and client certificates are made here. leadgate terminates TLS itself
(client certificate optional at the handshake, verified against the CA), or sits behind a
trusted proxy that forwards the verified thumbprint.
"""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
import uvicorn

from leadgate.api_keys.mtls import uvicorn_tls_options
from leadgate.app import create_app
from leadgate.models import ApiKey
from tests.certs import Pki, client_context, make_pki
from tests.conftest import Backend, ServerThread, app_server
from tests.factories import (
    count_rows,
    create_api_key,
    create_tenant,
    eventually_status,
    unique_lead,
)
from tests.processes import LEADGATE, free_port, leadgate_env, wait_until_up


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


class TlsServerThread(ServerThread):
    def __init__(self, backend: Backend, pki: Pki) -> None:
        super().__init__(create_app(backend.settings))
        options = uvicorn_tls_options(str(pki.server.cert), str(pki.server.key), str(pki.ca.path))
        self.server = uvicorn.Server(
            uvicorn.Config(
                self.app, log_level="warning", access_log=False, lifespan="on", **options
            )
        )

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def tls_server(backend: Backend, pki: Pki) -> Iterator[TlsServerThread]:
    server = TlsServerThread(backend, pki)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _call(url: str, context: ssl.SSLContext, key: str) -> httpx.Response:
    with httpx.Client(base_url=url, verify=context, timeout=10) as http:
        return http.post("/api/v1/leads", json=unique_lead(), headers={"X-API-Key": key})


def test_a_pinned_client_certificate_is_required(
    backend: Backend, tls_server: TlsServerThread, pki: Pki
) -> None:
    tenant = create_tenant(backend)
    key = create_api_key(
        backend,
        tenant,
        ["leads:write"],
        enforce_mtls=True,
        mtls_thumbprints=[pki.client.thumbprint],
    )
    with_cert = _call(tls_server.url, client_context(pki.ca, pki.client), key.key)
    assert with_cert.status_code == 201, with_cert.text
    before = count_rows(backend, ApiKey, tenant.id)
    without = _call(tls_server.url, client_context(pki.ca), key.key)
    assert without.status_code == 401
    assert without.json()["error"] == "mtls_required"
    unpinned = _call(tls_server.url, client_context(pki.ca, pki.unpinned), key.key)
    assert unpinned.status_code == 401
    assert unpinned.json()["error"] == "mtls_required"
    assert "not one pinned" in unpinned.json()["message"]
    # A certificate from another CA fails the handshake itself.
    with pytest.raises(httpx.TransportError):
        _call(tls_server.url, client_context(pki.ca, pki.foreign), key.key)
    # Plain HTTP to leadgate without TLS carries no certificate at all.
    with httpx.Client(base_url=backend.url) as plain:
        refused = plain.post("/api/v1/leads", json=unique_lead(), headers=key.headers)
    assert refused.status_code == 401
    assert refused.json()["error"] == "mtls_required"
    assert count_rows(backend, ApiKey, tenant.id) == before


def test_keys_without_mtls_work_with_or_without_a_certificate(
    backend: Backend, tls_server: TlsServerThread, pki: Pki
) -> None:
    tenant = create_tenant(backend)
    assert _call(tls_server.url, client_context(pki.ca), tenant.key).status_code == 201
    assert _call(tls_server.url, client_context(pki.ca, pki.client), tenant.key).status_code == 201


def test_pinning_through_the_api(
    backend: Backend, client: httpx.Client, tls_server: TlsServerThread, pki: Pki
) -> None:
    tenant = create_tenant(backend)
    colons = ":".join(pki.client.thumbprint[i : i + 2] for i in range(0, 64, 2)).upper()
    made = client.post(
        "/api/v1/api-keys",
        json={
            "name": "bound",
            "permissions": ["leads:write"],
            "enforceMtls": True,
            "mtlsThumbprints": [colons],
        },
        headers=tenant.headers,
    )
    assert made.status_code == 201, made.text
    assert made.json()["mtlsThumbprints"] == [pki.client.thumbprint]
    key = made.json()["apiKey"]
    assert _call(tls_server.url, client_context(pki.ca, pki.client), key).status_code == 201
    # Pin another certificate later: the old one stops working at once.
    repinned = client.patch(
        f"/api/v1/api-keys/{made.json()['id']}",
        json={"mtlsThumbprints": [pki.unpinned.thumbprint]},
        headers=tenant.headers,
    )
    assert repinned.status_code == 200
    # The TLS server is another app (as another process would be): it hears of the change over
    # Redis, or without Redis within the cache TTL — 1 s either way.
    new = eventually_status(
        lambda: _call(tls_server.url, client_context(pki.ca, pki.unpinned), key), 201
    )
    assert new is not None
    old = _call(tls_server.url, client_context(pki.ca, pki.client), key)
    assert old.status_code == 401
    unpinned_mtls = client.post(
        "/api/v1/api-keys",
        json={"name": "nopin", "permissions": ["leads:write"], "enforceMtls": True},
        headers=tenant.headers,
    )
    assert unpinned_mtls.status_code == 400


@pytest.fixture(scope="module")
def proxied(backend: Backend) -> Iterator[ServerThread]:
    """leadgate behind a proxy at 127.0.0.1 that forwards the verified thumbprint."""
    with app_server(backend, trusted_proxies=["127.0.0.0/8", "::1"]) as server:
        yield server


def test_a_trusted_proxy_forwards_the_thumbprint(
    backend: Backend, client: httpx.Client, proxied: ServerThread, pki: Pki
) -> None:
    tenant = create_tenant(backend)
    key = create_api_key(
        backend,
        tenant,
        ["leads:write"],
        enforce_mtls=True,
        mtls_thumbprints=[pki.client.thumbprint],
    )
    header = backend.settings.mtls_thumbprint_header
    with httpx.Client(base_url=proxied.url) as http:
        ok = http.post(
            "/api/v1/leads",
            json=unique_lead(),
            headers={**key.headers, header: pki.client.thumbprint.upper()},
        )
        assert ok.status_code == 201, ok.text
        wrong = http.post(
            "/api/v1/leads",
            json=unique_lead(),
            headers={**key.headers, header: pki.unpinned.thumbprint},
        )
        assert wrong.status_code == 401
        assert wrong.json()["error"] == "mtls_required"
        garbage = http.post(
            "/api/v1/leads", json=unique_lead(), headers={**key.headers, header: "nonsense"}
        )
        assert garbage.json()["error"] == "mtls_required"
        # nginx's `$ssl_client_escaped_cert`: the verified certificate, URL-encoded PEM.
        cert_header = backend.settings.mtls_certificate_header
        escaped = quote(pki.client.cert.read_text())
        forwarded = http.post(
            "/api/v1/leads", json=unique_lead(), headers={**key.headers, cert_header: escaped}
        )
        assert forwarded.status_code == 201, forwarded.text
        broken = http.post(
            "/api/v1/leads", json=unique_lead(), headers={**key.headers, cert_header: "%2D%2D"}
        )
        assert broken.json()["error"] == "mtls_required"
    # The same header from an address that is not a trusted proxy is ignored.
    spoofed = client.post(
        "/api/v1/leads",
        json=unique_lead(),
        headers={**key.headers, header: pki.client.thumbprint},
    )
    assert spoofed.status_code == 401
    assert spoofed.json()["error"] == "mtls_required"


def test_trusted_proxy_matching() -> None:
    from leadgate.api_keys.mtls import is_trusted_proxy
    from leadgate.settings import Settings

    settings = Settings(trusted_proxies=["10.0.0.0/8", "192.0.2.1"], secret_key="x" * 40)
    assert is_trusted_proxy("10.1.2.3", settings)
    assert is_trusted_proxy("192.0.2.1", settings)
    assert not is_trusted_proxy("192.0.2.2", settings)
    assert not is_trusted_proxy("not-an-ip", settings)
    assert not is_trusted_proxy(None, settings)
    assert not is_trusted_proxy("10.1.2.3", Settings(secret_key="x" * 40))


@pytest.mark.slow
def test_leadgate_serve_terminates_tls_and_verifies_client_certificates(
    backend: Backend, pki: Pki
) -> None:
    """`leadgate serve --ssl-*` as a real process: handshakes with and without the certificate."""
    tenant = create_tenant(backend)
    key = create_api_key(
        backend,
        tenant,
        ["leads:write"],
        enforce_mtls=True,
        mtls_thumbprints=[pki.client.thumbprint],
    )
    port = free_port()
    env = leadgate_env(backend.env(), access_log="false")
    process = subprocess.Popen(
        [
            LEADGATE, "serve", "--port", str(port),
            "--ssl-certfile", str(pki.server.cert), "--ssl-keyfile", str(pki.server.key),
            "--ssl-ca-certs", str(pki.ca.path),
        ],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = f"https://127.0.0.1:{port}"
    try:
        banner = process.stdout.readline() if process.stdout else ""
        assert f"https://127.0.0.1:{port}" in banner
        wait_until_up(url, process, verify=client_context(pki.ca))
        assert _call(url, client_context(pki.ca, pki.client), key.key).status_code == 201
        without = _call(url, client_context(pki.ca), key.key)
        assert without.status_code == 401
        assert without.json()["error"] == "mtls_required"
        with pytest.raises(httpx.TransportError):
            _call(url, client_context(pki.ca, pki.foreign), key.key)
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=20)
    assert "Traceback" not in errors
