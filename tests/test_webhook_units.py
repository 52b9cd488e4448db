"""Webhook pieces that need no leadgate server: the URL policy (SSRF), signing, one attempt
against a real local receiver, settings."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import InvalidToken
from standardwebhooks import Webhook

from leadgate.models import utcnow
from leadgate.settings import Settings
from leadgate.webhooks.delivery import AttemptResult, attempt, new_client
from leadgate.webhooks.repository import Job
from leadgate.webhooks.signing import generate_secret, seal, signed_headers, unseal
from leadgate.webhooks.urls import UnsafeUrl, check_target, is_public
from tests.receiver import Received, always, running_receiver


def settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(environment="test", data_dir=tmp_path, **values)


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "ftp://example.com/hook",
        "https://127.0.0.1/hook",
        "https://localhost:8443/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://172.16.5.4/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[fe80::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://0.0.0.0/hook",
        "https://224.0.0.1/hook",
        "https://user:pw@93.184.215.14/hook",
        "https://93.184.215.14/hook#frag",
        "https://93.184.215.14:99999/hook",
        "https:///nohost",
        "https://no-such-host.invalid/hook",
        "https://" + "a" * 2050 + ".com/",
    ],
)
def test_unsafe_urls_are_refused_in_production(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        asyncio.run(check_target(url, allow_private=False))


def test_public_https_urls_pass() -> None:
    asyncio.run(check_target("https://93.184.215.14/hook", allow_private=False))
    asyncio.run(check_target("https://[2606:2800:220:1::1]:8443/x?y=1", allow_private=False))
    assert is_public("8.8.8.8")
    assert not is_public("::ffff:10.0.0.1")


def test_development_allows_http_and_loopback_but_not_other_schemes() -> None:
    asyncio.run(check_target("http://127.0.0.1:9000/hook", allow_private=True))
    asyncio.run(check_target("https://localhost/hook", allow_private=True))
    with pytest.raises(UnsafeUrl):
        asyncio.run(check_target("file:///etc/passwd", allow_private=True))


def test_private_targets_default_by_environment(tmp_path: Path) -> None:
    assert settings(tmp_path).webhooks_private_allowed is True
    production = Settings(
        environment="production",
        secret_key="s" * 40,
        database_url="postgresql+asyncpg://x@localhost/db",
    )
    assert production.webhooks_private_allowed is False
    assert settings(tmp_path, webhooks_allow_private=False).webhooks_private_allowed is False
    with pytest.raises(ValueError, match="LEASE"):
        settings(tmp_path, webhooks_timeout_seconds=30, webhooks_lease_seconds=10)


def test_retry_schedule_reads_a_json_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADGATE_WEBHOOKS_RETRY_SCHEDULE", "[1, 2.5, 60]")
    assert settings(tmp_path).webhooks_retry_schedule == [1.0, 2.5, 60.0]


def test_secrets_and_signatures_follow_standard_webhooks() -> None:
    secret, other = generate_secret(), generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[6:])) == 32
    assert secret != other
    body = '{"type":"lead.created","timestamp":"2026-11-21T08:41:12.441Z","data":{}}'
    headers = signed_headers([secret, other], "evt_1", utcnow(), body)
    assert headers["webhook-id"] == "evt_1"
    assert headers["webhook-timestamp"].isdigit()
    assert Webhook(secret).verify(body, headers)["type"] == "lead.created"
    assert Webhook(other).verify(body, headers)["type"] == "lead.created"


def test_secrets_are_sealed_at_rest() -> None:
    secret = generate_secret()
    sealed = seal(secret, b"server-secret-one")
    assert secret not in sealed
    assert len(sealed) <= 255
    assert unseal(sealed, b"server-secret-one") == secret
    with pytest.raises(InvalidToken):
        unseal(sealed, b"server-secret-two")


def job(url: str, secret: str, config: Settings) -> Job:
    return Job(
        delivery_id="whd_1",
        tenant_id="ten_1",
        endpoint_id="whep_1",
        url=url,
        secrets=(seal(secret, config.secret_bytes),),
        event_id="evt_1",
        event_type="lead.created",
        event_created_at=datetime(2026, 11, 21, 8, 41, 12, 441000, tzinfo=UTC),
        data={"id": "lead_1", "firstName": "Zoë"},
        attempts=0,
        trigger="event",
    )


def send(config: Settings, target: Job) -> AttemptResult:
    async def go() -> AttemptResult:
        async with new_client(config) as client:
            return await attempt(client, config, target)

    return asyncio.run(go())


def test_an_attempt_is_signed_and_logged(tmp_path: Path) -> None:
    secret = generate_secret()
    with running_receiver(always(201, "é".encode() * 2000)) as receiver:
        config = settings(tmp_path)
        result = send(config, job(receiver.url, secret, config))
        [request] = receiver.received()
    assert result.succeeded
    assert result.status_code == 201
    assert result.error is None
    assert result.response_body is not None
    assert len(result.response_body) <= 2048
    assert result.response_body.startswith("é")
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload == {
        "type": "lead.created",
        "timestamp": "2026-11-21T08:41:12.441Z",
        "data": {"id": "lead_1", "firstName": "Zoë"},
    }
    assert request.body.decode() == result.request_body


def test_redirects_are_not_followed(tmp_path: Path) -> None:
    with running_receiver(always(302, b"", {"Location": "http://169.254.169.254/"})) as receiver:
        config = settings(tmp_path)
        result = send(config, job(receiver.url, generate_secret(), config))
        assert len(receiver.received()) == 1
    assert result.status_code == 302
    assert not result.succeeded


def test_retry_after_as_an_http_date(tmp_path: Path) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    with running_receiver(always(503, b"", {"Retry-After": later})) as receiver:
        config = settings(tmp_path)
        result = send(config, job(receiver.url, generate_secret(), config))
    assert result.retry_after is not None
    assert 25 <= result.retry_after <= 31
    with running_receiver(always(503, b"", {"Retry-After": "soon"})) as receiver:
        assert send(config, job(receiver.url, generate_secret(), config)).retry_after is None
    with running_receiver(always(500, b"", {"Retry-After": "5"})) as receiver:
        assert send(config, job(receiver.url, generate_secret(), config)).retry_after is None


def test_slow_receivers_time_out(tmp_path: Path) -> None:
    config = settings(tmp_path, webhooks_timeout_seconds=0.3, webhooks_lease_seconds=5)
    with running_receiver(delay=1.5) as receiver:
        result = send(config, job(receiver.url, generate_secret(), config))
    assert result.status_code is None
    assert result.error is not None
    assert "timed out" in result.error


def test_private_targets_are_refused_at_delivery_time_too(tmp_path: Path) -> None:
    """An endpoint whose host now resolves to a private address (DNS rebinding) gets nothing."""
    config = settings(tmp_path, webhooks_allow_private=False)

    def never(_n: int, _request: Received) -> tuple[int, dict[str, str], bytes]:
        raise AssertionError("must not be called")

    with running_receiver(never) as receiver:
        result = send(config, job(receiver.url, generate_secret(), config))
        assert receiver.received() == []
    assert result.status_code is None
    assert result.error is not None
    assert result.error.startswith("refused URL")


def test_worker_survives_an_unreachable_database(tmp_path: Path) -> None:
    from leadgate.db import Database
    from leadgate.webhooks.worker import WebhookWorker

    config = settings(
        tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/missing/dir/leadgate.db",
        webhooks_poll_seconds=0.05,
    )

    async def go() -> None:
        database = Database(config)
        worker = WebhookWorker(database, config)
        task = asyncio.create_task(worker.run())
        await asyncio.sleep(0.3)  # several failing rounds, each logged
        assert not task.done()
        await worker.shutdown(task)
        assert task.done()
        await database.dispose()

    asyncio.run(go())


def test_unreadable_secrets_after_a_server_secret_change(tmp_path: Path) -> None:
    before = settings(tmp_path, secret_key="a" * 40)
    after = settings(tmp_path, secret_key="b" * 40)
    old, new = generate_secret(), generate_secret()
    with running_receiver() as receiver:
        # Current secret unreadable: the attempt fails without sending anything.
        result = send(after, job(receiver.url, old, before))
        assert receiver.received() == []
        assert result.error is not None
        assert "LEADGATE_SECRET_KEY" in result.error
        # Rotated since: the readable new secret signs alone; the unreadable old one is left out.
        rotated = job(receiver.url, new, after)
        rotated = dataclasses.replace(rotated, secrets=(*rotated.secrets, seal(old, b"a" * 40)))
        assert send(after, rotated).succeeded
        [request] = receiver.received()
    assert len(request.headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(request.body, request.headers)


def test_retry_schedule_refuses_negative_delays(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="RETRY_SCHEDULE"):
        settings(tmp_path, webhooks_retry_schedule=[5, -1])


def test_connections_go_only_to_checked_public_addresses() -> None:
    """The transport resolves and checks the name itself and connects to the address it checked,
    so no later DNS answer (rebinding) can send a request inward."""
    import httpx

    from leadgate.webhooks.transport import PublicOnlyBackend, public_only_transport

    async def go() -> None:
        async with httpx.AsyncClient(transport=public_only_transport()) as client:
            for url in ("https://127.0.0.1:9/x", "http://localhost:9/x", "http://[::1]:9/x"):
                with pytest.raises(httpx.ConnectError, match="non-public"):
                    await client.post(url)
            with pytest.raises(httpx.ConnectError, match="cannot resolve"):
                await client.post("https://no-such-host.invalid/x")
        with running_receiver() as receiver:
            allow_all = public_only_transport(allowed=lambda _address: True)
            async with httpx.AsyncClient(transport=allow_all) as client:
                assert (await client.post(receiver.url, content=b"{}")).status_code == 200
        with pytest.raises(httpcore.ConnectError):
            await PublicOnlyBackend().connect_unix_socket("/tmp/x.sock")

    import httpcore

    asyncio.run(go())


def test_production_clients_use_the_public_only_transport(tmp_path: Path) -> None:
    import httpx

    config = settings(tmp_path, webhooks_allow_private=False)

    async def go() -> None:
        async with new_client(config) as client:
            with pytest.raises(httpx.ConnectError, match="non-public"):
                await client.post("https://127.0.0.1:9/hook")

    asyncio.run(go())
