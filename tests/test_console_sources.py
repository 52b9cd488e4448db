"""The console's sources pages: adding a source, the mapping editor and its live preview on the
last payload, fixing a mapping and replaying a failed payload, and what members may not do."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest

from leadgate.models import AuditEvent, InboundSource, Lead, SourcePayload
from tests.conftest import Backend
from tests.console_helpers import ConsoleClient, invite, join, sign_up, tenant_id_of
from tests.factories import count_rows
from tests.test_sources import sample, typeform_headers


@pytest.fixture(autouse=True)
def _close_browsers() -> Iterator[None]:
    yield
    ConsoleClient.close_all()


FIXED = {
    "rule_from": ["first_name", "last_name", "type:email", ""],
    "rule_value": ["", "", "", "typeform"],
    "rule_to": ["firstName", "lastName", "email", "source"],
    "tags": "Inbound, Spring",
    "team_id": "",
}


def test_source_mapping_preview_and_replay_in_the_console(backend: Backend) -> None:
    account = sign_up(backend)
    owner = account.client
    tenant_id = tenant_id_of(backend, account.slug)
    owner.get("/console/sources")
    assert owner.post("/console/sources", {"name": "x", "kind": "fax"}).status_code == 400
    assert owner.post("/console/sources", {"name": "Site", "kind": "webflow"}).status_code == 400
    denied = owner.post("/console/sources", {"name": "Form", "kind": "typeform"}, csrf=False)
    assert denied.status_code == 403
    assert count_rows(backend, InboundSource, tenant_id) == 0

    created = owner.post("/console/sources", {"name": "Form", "kind": "typeform"})
    assert created.status_code == 201
    url = re.search(r'id="source-url" class="mono" readonly value="([^"]+)"', created.text)
    secret = re.search(r'id="source-secret" class="mono" readonly value="([^"]+)"', created.text)
    assert url is not None
    assert secret is not None
    source_id = url.group(1).rsplit("/", 1)[1]
    path = f"/console/sources/{source_id}"
    assert secret.group(1) not in owner.get(path).text
    assert "No payload received yet" in owner.get(path).text

    # The default Typeform mapping has no name fields: the payload is kept as failed.
    body = json.dumps(sample("typeform")).encode()
    with httpx.Client(base_url=backend.url, timeout=30) as provider:
        answer = provider.post(
            httpx.URL(url.group(1)).path,
            content=body,
            headers=typeform_headers(secret.group(1), body),
        )
    assert answer.json()["outcome"] == "failed"
    page = owner.get(path)
    payload_id = answer.json()["payloadId"]
    assert f'data-payload-id="{payload_id}"' in page.text
    assert 'data-preview-outcome="failed"' in page.text
    assert "<code>first_name</code>" in page.text  # the provider fields to map

    # The live preview of the edited mapping, on the last payload; nothing written.
    preview = owner.post(path + "/preview", FIXED)
    assert preview.status_code == 200
    assert 'data-preview-outcome="created"' in preview.text
    assert "Laura Lorem ipsum dolor" in preview.text
    assert "Cj0KCQiA-typeform-click" in preview.text
    bad_rule = owner.post(path + "/preview", {**FIXED, "rule_to": ["shoeSize", "", "", ""]})
    assert 'data-preview-outcome="failed"' in bad_rule.text
    audits = count_rows(backend, AuditEvent, tenant_id)
    assert count_rows(backend, Lead, tenant_id) == 0

    refused = owner.post(path + "/mapping", {**FIXED, "rule_to": ["shoeSize", "", "", ""]})
    assert refused.status_code == 400
    assert count_rows(backend, AuditEvent, tenant_id) == audits
    saved = owner.post(path + "/mapping", FIXED)
    assert saved.status_code == 303
    page = owner.follow(saved)
    assert "Mapping saved" in page.text
    assert 'value="last_name"' in page.text

    replayed = owner.post(path + "/replay", {"payload_id": payload_id})
    assert replayed.status_code == 303
    assert count_rows(backend, Lead, tenant_id) == 1
    assert count_rows(backend, SourcePayload, tenant_id, outcome="created") == 1
    again = owner.post(path + "/replay", {"payload_id": payload_id})
    assert again.status_code == 409
    assert count_rows(backend, Lead, tenant_id) == 1

    # A member sees the source and previews, but changes nothing.
    member, _email = join(backend, invite(owner, "member"))
    page = member.get(path)
    assert page.status_code == 200
    assert "Save mapping" not in page.text
    assert member.post(path + "/preview", FIXED).status_code == 200
    audits = count_rows(backend, AuditEvent, tenant_id)
    for action, data in (
        ("/mapping", FIXED),
        ("/enabled", {"enabled": "false"}),
        ("/replay", {"payload_id": payload_id}),
        ("/delete", {}),
    ):
        assert member.post(path + action, data).status_code == 403, action
    assert member.post("/console/sources", {"name": "M", "kind": "json"}).status_code == 403
    assert count_rows(backend, InboundSource, tenant_id) == 1
    assert count_rows(backend, AuditEvent, tenant_id) == audits

    owner.get(path)
    assert owner.post(path + "/enabled", {"enabled": "false"}).status_code == 303
    assert count_rows(backend, InboundSource, tenant_id, enabled=False) == 1
    assert owner.post(path + "/delete", {}).status_code == 303
    assert count_rows(backend, InboundSource, tenant_id) == 0
    assert count_rows(backend, Lead, tenant_id) == 1
    assert owner.get(path).status_code == 404
