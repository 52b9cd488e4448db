"""A key never carries more than its creator's role may grant (docs/api-keys.md, "Who may grant
which scope"): a console member cannot mint, widen or roll a key into owner/admin powers (the
audit log through keys:read, webhook subscriptions through webhooks:write), in the console or
through the API with a key a member made."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from leadgate.api_keys.grantor import GRANTABLE_SCOPES
from leadgate.api_keys.scopes import ALL_SCOPES
from leadgate.migrate import downgrade, upgrade
from leadgate.models import ApiKey, ApiKeySecret, AuditEvent, WebhookEndpoint
from tests.conftest import BACKENDS, Backend, running_backend
from tests.console_helpers import (
    ConsoleClient,
    generate_key,
    invite,
    join,
    sign_up,
    tenant_id_of,
)
from tests.factories import (
    KeyInfo,
    TenantInfo,
    count_rows,
    create_api_key,
    create_tenant,
    fetch_rows,
    update_row,
)

MEMBER_MAY_NOT = ["keys:read", "keys:write", "webhooks:write"]


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


def _written(backend: Backend, tenant_id: str) -> tuple[int, int, int]:
    return (
        count_rows(backend, ApiKey, tenant_id),
        count_rows(backend, ApiKeySecret, tenant_id),
        count_rows(backend, AuditEvent, tenant_id),
    )


def test_the_grant_table_covers_every_scope_and_roles_nest() -> None:
    assert GRANTABLE_SCOPES["owner"] == frozenset(ALL_SCOPES)
    assert GRANTABLE_SCOPES["member"] <= GRANTABLE_SCOPES["admin"] <= GRANTABLE_SCOPES["owner"]
    assert not set(MEMBER_MAY_NOT) & GRANTABLE_SCOPES["member"]


def test_a_console_member_cannot_grant_owner_admin_scopes(backend: Backend) -> None:
    owner = sign_up(backend)
    tenant_id = tenant_id_of(backend, owner.slug)
    member, _email = join(backend, invite(owner.client, "member"))
    assert (
        generate_key(member, name="mine", scopes=["leads:read", "leads:write"]).status_code == 201
    )
    mine = _key_id(member, "mine")
    broad_name = f"broad-{uuid.uuid4().hex[:6]}"
    assert generate_key(owner.client, name=broad_name, scopes=["webhooks:write"]).status_code == 201
    broad = _key_id(owner.client, broad_name)
    before = _written(backend, tenant_id)

    # The member's form offers only what a member may grant.
    form = member.get("/console/settings/api-keys/new")
    for scope in MEMBER_MAY_NOT:
        assert f'value="{scope}"' not in form.text
    for scope in MEMBER_MAY_NOT:
        response = generate_key(member, name=f"try-{scope}", scopes=["leads:read", scope])
        assert response.status_code == 403, (scope, response.text[:300])
        assert scope in response.text
        edit = f"/console/settings/api-keys/{mine}/edit"
        member.get(edit)
        response = member.post(edit, {"name": "mine", "scopes": ["leads:read", scope]})
        assert response.status_code == 403, (scope, response.text[:300])
    # Nor roll (nor change) a key that carries them.
    roll = f"/console/settings/api-keys/{broad}/roll"
    member.get(f"/console/settings/api-keys/{mine}/roll")
    assert member.post(roll, {"grace_period": "0"}).status_code == 403
    assert _written(backend, tenant_id) == before
    [stored] = [k for k in fetch_rows(backend, ApiKey, tenant_id) if k.id == mine]
    assert stored.scopes == ["leads:read", "leads:write"]

    # An admin may grant them.
    admin, _ = join(backend, invite(owner.client, "admin"))
    response = generate_key(admin, name="audit reader", scopes=["keys:read", "webhooks:write"])
    assert response.status_code == 201, response.text[:300]


def _member_key(backend: Backend, tenant: TenantInfo, scopes: list[str]) -> KeyInfo:
    """A key a console member made before grants were bounded by role."""
    key = create_api_key(backend, tenant, scopes)
    created_by = {"type": "user", "id": "usr_member", "name": "Mo", "role": "member"}
    update_row(backend, ApiKey, key.id, created_by=created_by)
    return key


def test_a_members_key_cannot_grant_beyond_the_members_role(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    legacy = _member_key(
        backend, tenant, ["leads:read", "keys:read", "keys:write", "webhooks:write"]
    )
    sibling = create_api_key(backend, tenant, ["leads:read"])
    hooked = create_api_key(backend, tenant, ["webhooks:write"])
    before = _written(backend, tenant.id)
    headers = legacy.headers

    body = {"name": "escalate", "permissions": ["leads:read", "webhooks:write"]}
    response = client.post("/api/v1/api-keys", json=body, headers=headers)
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "insufficient_scope"
    response = client.patch(
        f"/api/v1/api-keys/{sibling.id}", json={"permissions": ["keys:read"]}, headers=headers
    )
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "insufficient_scope"
    for key_id in (hooked.id, legacy.id):
        response = client.post(f"/api/v1/api-keys/{key_id}/roll", json={}, headers=headers)
        assert response.status_code == 403, (key_id, response.text)
        assert response.json()["error"] == "insufficient_scope"
    # Within the member's grants it still works.
    body = {"name": "reader", "permissions": ["leads:read"]}
    assert client.post("/api/v1/api-keys", json=body, headers=headers).status_code == 201
    after = _written(backend, tenant.id)
    assert after[0] == before[0] + 1
    assert count_rows(backend, WebhookEndpoint, tenant.id) == 0
    [stored] = [k for k in fetch_rows(backend, ApiKey, tenant.id) if k.id == sibling.id]
    assert stored.scopes == ["leads:read"]


@pytest.mark.parametrize("name", BACKENDS)
def test_upgrading_narrows_keys_members_made_before(name: str, tmp_path: Path) -> None:
    """Migration 0009: a member's key loses the scopes a member may not grant (audited); an
    owner's key and an operator's are left alone."""
    with running_backend(name, tmp_path) as backend:
        tenant = create_tenant(backend)
        broad = ["leads:read", "keys:read", "keys:write", "webhooks:write"]
        member_key = _member_key(backend, tenant, broad)
        owners_key = create_api_key(backend, tenant, broad)
        update_row(
            backend,
            ApiKey,
            owners_key.id,
            created_by={"type": "user", "id": "usr_owner", "name": "O", "role": "owner"},
        )
        downgrade(backend.settings, "0008")
        upgrade(backend.settings)
        scopes = {k.id: k.scopes for k in fetch_rows(backend, ApiKey, tenant.id)}
        assert scopes[member_key.id] == ["leads:read"]
        assert scopes[owners_key.id] == broad
        assert scopes[tenant.key_id] == list(ALL_SCOPES)
        [audit] = [
            a
            for a in fetch_rows(backend, AuditEvent, tenant.id)
            if a.action == "api_key.scopes_changed"
        ]
        assert audit.target_id == member_key.id
        assert audit.before == {"scopes": broad}
        assert audit.after is not None
        assert audit.after["scopes"] == ["leads:read"]
