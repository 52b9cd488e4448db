"""Leaked keys: `POST /api-keys/revoke-leaked` (anyone) and GitHub secret scanning (signed)."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from leadgate.crypto import generate_api_key, is_well_formed, key_pattern
from leadgate.models import ApiKey, AuditEvent, Event, Notice, utcnow
from tests.conftest import Backend
from tests.factories import (
    KeyInfo,
    TenantInfo,
    count_rows,
    create_api_key,
    create_tenant,
    fetch_rows,
    update_row,
)

REVOKE = "/api/v1/api-keys/revoke-leaked"
GITHUB = "/api/v1/secret-scanning/github"


def _key(backend: Backend, tenant_id: str, key_id: str) -> ApiKey:
    return next(k for k in fetch_rows(backend, ApiKey, tenant_id) if k.id == key_id)


def _assert_revoked_as_leaked(backend: Backend, tenant: TenantInfo, key: KeyInfo) -> None:
    row = _key(backend, tenant.id, key.id)
    assert row.revoked_at is not None
    assert row.revoked_reason == "leaked"
    audits = [
        a
        for a in fetch_rows(backend, AuditEvent, tenant.id)
        if a.action == "api_key.revoked" and a.target_id == key.id
    ]
    assert len(audits) == 1
    assert audits[0].actor["type"] == "system"
    assert audits[0].after is not None
    assert audits[0].after["reason"] == "leaked"
    events = [
        e
        for e in fetch_rows(backend, Event, tenant.id)
        if e.type == "api_key.revoked" and e.data["id"] == key.id
    ]
    assert len(events) == 1
    assert events[0].data["reason"] == "leaked"
    assert key.key not in orjson.dumps(events[0].data).decode()
    notices = [n for n in fetch_rows(backend, Notice, tenant.id) if n.api_key_id == key.id]
    assert [n.kind for n in notices] == ["api_key_leaked"]


def test_a_reported_key_is_revoked_and_its_tenant_told(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    leaked = create_api_key(backend, tenant, ["leads:read"])
    assert client.get("/api/v1/api-keys/self", headers=leaked.headers).status_code == 200
    response = client.post(REVOKE, json={"keys": [leaked.key]})
    assert response.status_code == 202, response.text
    assert response.json() == {"received": 1}
    refused = client.get("/api/v1/api-keys/self", headers=leaked.headers)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_api_key"
    _assert_revoked_as_leaked(backend, tenant, leaked)
    # The tenant's other keys are untouched; its notice is in the usage notices.
    notices = client.get("/api/v1/usage/notices", headers=tenant.headers)
    assert notices.status_code == 200, notices.text
    assert any(n["kind"] == "api_key_leaked" for n in notices.json()["data"])
    # Reporting it again changes nothing and answers the same.
    again = client.post(REVOKE, json={"keys": [leaked.key]})
    assert (again.status_code, again.json()) == (202, {"received": 1})
    assert count_rows(backend, Event, tenant.id, type="api_key.revoked") == 1


def test_the_answer_is_the_same_whatever_the_keys_were(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    live = create_api_key(backend, tenant, ["leads:read"])
    unknown = generate_api_key(backend.settings.key_prefix).plaintext  # well formed, not issued
    mutated = live.key[:-1] + ("A" if live.key[-1] != "A" else "B")  # checksum fails
    answers = set()
    for keys in ([unknown], [mutated], ["not a key at all"], [unknown, mutated, live.key]):
        response = client.post(REVOKE, json={"keys": keys})
        answers.add((response.status_code, response.headers["content-type"], len(keys)))
        assert response.json() == {"received": len(keys)}
    assert {(status, kind) for status, kind, _ in answers} == {(202, "application/json")}
    _assert_revoked_as_leaked(backend, tenant, live)
    assert count_rows(backend, ApiKey, tenant.id) == 2  # nothing made, nothing else revoked
    assert _key(backend, tenant.id, tenant.key_id).revoked_at is None


def test_expired_revoked_and_rolled_secrets_are_not_revoked_again(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    rolled = create_api_key(backend, tenant, ["leads:read"])
    response = client.post(
        f"/api/v1/api-keys/{rolled.id}/roll", json={"gracePeriodMinutes": 0}, headers=tenant.headers
    )
    new_secret = response.json()["apiKey"]
    # The old secret no longer works: reporting it must not revoke the key's new secret.
    assert client.post(REVOKE, json={"keys": [rolled.key]}).status_code == 202
    assert client.get("/api/v1/api-keys/self", headers={"X-API-Key": new_secret}).status_code == 200
    assert count_rows(backend, AuditEvent, tenant.id, action="api_key.revoked") == 0
    assert count_rows(backend, Notice, tenant.id) == 0
    # Nor is a key already revoked, or one past its expiry, revoked (again).
    expired = create_api_key(backend, tenant, ["leads:read"])
    update_row(backend, ApiKey, expired.id, expires_at=utcnow() - timedelta(minutes=1))
    revoked = create_api_key(backend, tenant, ["leads:read"])
    assert (
        client.delete(f"/api/v1/api-keys/{revoked.id}", headers=tenant.headers).status_code == 200
    )
    assert client.post(REVOKE, json={"keys": [expired.key, revoked.key]}).status_code == 202
    assert _key(backend, tenant.id, expired.id).revoked_at is None
    assert _key(backend, tenant.id, revoked.id).revoked_reason == "requested"
    assert count_rows(backend, AuditEvent, tenant.id, action="api_key.revoked") == 1
    assert count_rows(backend, Notice, tenant.id) == 0


@pytest.mark.parametrize(
    "body",
    [{}, {"keys": []}, {"keys": "lg_x"}, {"keys": [1]}, {"keys": ["x"] * 1001}, {"other": 1}],
    ids=["empty", "no-keys", "string", "number", "too-many", "unknown-field"],
)
def test_malformed_reports_are_400(
    backend: Backend, client: httpx.Client, body: dict[str, object]
) -> None:
    response = client.post(REVOKE, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"


def test_reports_are_limited_per_address(
    backend: Backend, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backend.settings, "leak_report_limit_per_minute", 3)
    statuses = [client.post(REVOKE, json={"keys": ["lg_nothing"]}).status_code for _ in range(6)]
    assert statuses[:3] == [202, 202, 202]
    assert statuses[-1] == 429
    refused = client.post(REVOKE, json={"keys": ["lg_nothing"]})
    assert refused.json()["error"] == "rate_limited"
    assert int(refused.headers["retry-after"]) >= 1


# --- GitHub secret scanning ---------------------------------------------------------------


class GithubSigner:
    """Plays GitHub: a P-256 key pair whose public half the server is configured with."""

    def __init__(self) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.identifier = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
        self.pem = (
            self.private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def sign(self, body: bytes) -> str:
        return base64.b64encode(self.private_key.sign(body, ec.ECDSA(hashes.SHA256()))).decode()

    def headers(self, body: bytes) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "Github-Public-Key-Identifier": self.identifier,
            "Github-Public-Key-Signature": self.sign(body),
        }


@pytest.fixture
def github(backend: Backend) -> Iterator[GithubSigner]:
    signer = GithubSigner()
    backend.settings.github_secret_scanning_keys[signer.identifier] = signer.pem
    yield signer
    backend.settings.github_secret_scanning_keys.pop(signer.identifier, None)


def _report(*tokens: str) -> bytes:
    return orjson.dumps(
        [
            {
                "token": token,
                "type": "leadgate_api_key",
                "url": "https://github.com/octocat/hello/blob/abc/config.py",
                "source": "content",
            }
            for token in tokens
        ]
    )


def test_github_report_revokes_true_positives(
    backend: Backend, client: httpx.Client, github: GithubSigner
) -> None:
    tenant = create_tenant(backend)
    leaked = create_api_key(backend, tenant, ["leads:write"])
    stranger = generate_api_key(backend.settings.key_prefix).plaintext
    body = _report(leaked.key, stranger)
    response = client.post(GITHUB, content=body, headers=github.headers(body))
    assert response.status_code == 200, response.text
    assert response.json() == [
        {
            "token_hash": hashlib.sha256(leaked.key.encode()).hexdigest(),
            "token_type": "leadgate_api_key",
            "label": "true_positive",
        },
        {
            "token_hash": hashlib.sha256(stranger.encode()).hexdigest(),
            "token_type": "leadgate_api_key",
            "label": "false_positive",
        },
    ]
    _assert_revoked_as_leaked(backend, tenant, leaked)
    notice = next(n for n in fetch_rows(backend, Notice, tenant.id) if n.api_key_id == leaked.id)
    assert "github.com/octocat" in notice.message
    # Sent again (GitHub retries): the key is no longer live, so a false positive now.
    again = client.post(GITHUB, content=body, headers=github.headers(body))
    assert [item["label"] for item in again.json()] == ["false_positive", "false_positive"]


@pytest.mark.parametrize("forgery", ["unknown-identifier", "bad-signature", "other-body", "none"])
def test_github_reports_with_bad_signatures_are_401(
    backend: Backend, client: httpx.Client, github: GithubSigner, forgery: str
) -> None:
    tenant = create_tenant(backend)
    leaked = create_api_key(backend, tenant, ["leads:write"])
    body = _report(leaked.key)
    headers = github.headers(body)
    if forgery == "unknown-identifier":
        headers["Github-Public-Key-Identifier"] = "0" * 64
    elif forgery == "bad-signature":
        headers["Github-Public-Key-Signature"] = "bm90IGEgc2lnbmF0dXJl"
    elif forgery == "other-body":
        headers = github.headers(_report("lg_something_else"))
    else:
        headers = {"Content-Type": "application/json"}
    response = client.post(GITHUB, content=body, headers=headers)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_signature"
    assert _key(backend, tenant.id, leaked.id).revoked_at is None
    assert count_rows(backend, Notice, tenant.id) == 0


def test_github_signed_garbage_is_400(
    backend: Backend, client: httpx.Client, github: GithubSigner
) -> None:
    for body in (b"not json", b'{"token": "x"}', b'[{"type": "no token"}]'):
        response = client.post(GITHUB, content=body, headers=github.headers(body))
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"] == "invalid_request"


def test_revoked_event_carries_the_reason_for_ordinary_revocations(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    key = create_api_key(backend, tenant, ["leads:read"])
    assert client.delete(f"/api/v1/api-keys/{key.id}", headers=tenant.headers).status_code == 200
    event = next(e for e in fetch_rows(backend, Event, tenant.id) if e.type == "api_key.revoked")
    assert event.data["reason"] == "requested"
    assert _key(backend, tenant.id, key.id).revoked_reason == "requested"


# --- the key pattern documented for secret scanners -------------------------------------------

SECURITY_DOC = Path(__file__).resolve().parents[1] / "docs" / "security.md"


def _doc_block(language: str) -> str:
    section = SECURITY_DOC.read_text().split("### Key pattern for secret scanners", 1)[1]
    match = re.search(rf"```{language}\n(.*?)```", section, re.DOTALL)
    assert match is not None, f"no {language} block in the key-pattern section"
    return match.group(1).strip()


def test_the_documented_pattern_finds_fresh_keys_and_not_mutated_ones() -> None:
    pattern = re.compile(_doc_block("regex"))
    assert pattern.pattern == key_pattern()  # the doc and the code agree
    namespace: dict[str, Any] = {}
    exec(_doc_block("python"), namespace)  # the documented checksum check
    looks_like_a_leadgate_key = namespace["looks_like_a_leadgate_key"]
    for prefix in ("snap", "hcrm", "lx", "abcdefghijkl"):  # every prefix a tenant may choose
        other = generate_api_key(prefix).plaintext
        assert pattern.search(f"token={other}")
        assert looks_like_a_leadgate_key(other)
    for _ in range(50):
        key = generate_api_key("lg").plaintext
        assert pattern.search(f"config = {{'token': '{key}'}}")
        assert looks_like_a_leadgate_key(key)
        body = key[3:]
        flipped = body[:10] + ("A" if body[10] != "A" else "B") + body[11:]
        mutated = {
            "short": key[:-1],
            "long": key + "x",
            "one-letter prefix": "l_" + body,
            "upper-case prefix": "LG_" + body,
            "prefix too long": "abcdefghijklm_" + body,
            "non-base62": key[:20] + "-" + key[21:],
        }
        for what, candidate in mutated.items():
            assert not pattern.search(f" {candidate} "), what
            assert not looks_like_a_leadgate_key(candidate), what
        # One changed character still matches the pattern; the checksum tells it apart.
        assert not looks_like_a_leadgate_key("lg_" + flipped)
        assert not is_well_formed("lg_" + flipped, "lg")


def test_a_full_report_of_1000_values_is_one_lookup(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    leaked = create_api_key(backend, tenant, ["leads:read"])
    values = [generate_api_key(backend.settings.key_prefix).plaintext for _ in range(999)]
    response = client.post(REVOKE, json={"keys": [*values[:500], leaked.key, *values[500:]]})
    assert (response.status_code, response.json()) == (202, {"received": 1000})
    _assert_revoked_as_leaked(backend, tenant, leaked)


def test_the_console_shows_a_leaked_key_and_its_notice(backend: Backend) -> None:
    from tests.console_helpers import ConsoleClient, generate_key, key_from_page, sign_up

    try:
        account = sign_up(backend)
        key = key_from_page(generate_key(account.client, scopes=["leads:read"]).text)
        with httpx.Client(base_url=backend.url, timeout=30) as http:
            assert http.post(REVOKE, json={"keys": [key]}).status_code == 202
        listing = account.client.get("/console/settings/api-keys").text
        assert 'data-revoked-reason="leaked"' in listing
        usage = account.client.get("/console/usage").text
        assert "was reported exposed and has been revoked" in usage
    finally:
        ConsoleClient.close_all()


def test_scanning_keys_must_be_ecdsa_pem(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa
    from pydantic import ValidationError

    from leadgate.settings import Settings

    rsa_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    for pem in ("not a key", rsa_pem):
        with pytest.raises(ValidationError, match="public key 'k1'"):
            Settings(data_dir=tmp_path, github_secret_scanning_keys={"k1": pem})
    good = GithubSigner()
    settings = Settings(data_dir=tmp_path, github_secret_scanning_keys={good.identifier: good.pem})
    assert settings.github_secret_scanning_keys == {good.identifier: good.pem}
