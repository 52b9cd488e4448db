"""Contract fuzzing: schemathesis generates requests from leadgate's own OpenAPI document.

Bounded for CI: `LEADGATE_FUZZ_EXAMPLES` examples per operation and generation mode (default 25),
derandomized so a run is repeatable. Run longer with, e.g.,
`LEADGATE_FUZZ_EXAMPLES=1000 make test PYTEST_ARGS="-k fuzz"`.
Checks: no 5xx, status codes and content types as documented, bodies matching their schemas, and
every error in the §7 shape. Valid (positive) and invalid (negative) requests are both generated.

The fuzzer's key cannot change itself: the run over every operation uses a key with every scope
but `keys:write`, and key management (create, update, roll, revoke) runs apart with a manager key
whose target is always another, freshly made key, so the fuzzer can neither revoke nor throttle
the key it works with, and key management is fuzzed against real keys, not only unknown ids.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from leadgate.api_keys.scopes import ALL_SCOPES
from leadgate.app import create_app
from leadgate.models import ApiKey
from leadgate.settings import Settings
from tests.conftest import Backend
from tests.factories import KeyInfo, TenantInfo, create_api_key, create_tenant, fetch_rows

EXAMPLES = int(os.environ.get("LEADGATE_FUZZ_EXAMPLES", "25"))


def _document() -> dict[str, Any]:
    settings_ = Settings(data_dir=Path(tempfile.mkdtemp()), secret_key="x" * 40)
    return create_app(settings_).openapi()


DOCUMENT = _document()
OPERATIONS = [
    f"{method.upper()} {path}"
    for path, item in DOCUMENT["paths"].items()
    for method in item
    if method in ("get", "post", "put", "patch", "delete")
]


# Operations that change a key named in the path: fuzzed with the manager key, on another key.
KEY_CHANGES = [
    "PATCH /api/v1/api-keys/{key_id}",
    "POST /api/v1/api-keys/{key_id}/roll",
    "DELETE /api/v1/api-keys/{key_id}",
]
KEY_MANAGEMENT = ["POST /api/v1/api-keys", *KEY_CHANGES]
FUZZER_SCOPES = [scope for scope in ALL_SCOPES if scope != "keys:write"]


@dataclass(frozen=True)
class FuzzKeys:
    tenant: TenantInfo
    caller: KeyInfo  # every scope but keys:write: it cannot change any key, its own included
    manager: KeyInfo  # every scope; only ever pointed at other keys


@pytest.fixture(scope="module")
def fuzz_keys(backend: Backend) -> FuzzKeys:
    tenant = create_tenant(backend)
    return FuzzKeys(
        tenant=tenant,
        caller=create_api_key(backend, tenant, FUZZER_SCOPES, name="fuzzer"),
        manager=create_api_key(backend, tenant, list(ALL_SCOPES), name="fuzz manager"),
    )


def _fuzz(operation: Any, mode: GenerationMode, call: Any) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        call(case)

    run()


def _operation(label: str) -> Any:
    schema = schemathesis.openapi.from_dict(DOCUMENT)
    return next(o for o in operations_of(schema) if o.label == label)


def error_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx/5xx body is `{"error", "message", "details", "requestId"}`."""
    if response.status_code < 400:
        return None
    body = response.json()
    assert isinstance(body.get("error"), str), body
    assert isinstance(body.get("message"), str), body
    assert isinstance(body.get("details"), list), body
    assert body.get("requestId") == response.headers.get("x-request-id", [None])[0], body
    return None


def operations_of(schema: OpenApiSchema) -> list[APIOperation[Any, Any, Any, Any]]:
    """The document's operations; one schemathesis cannot read fails the test."""
    found = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        found.append(result.ok())
    return found


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    error_shape,
]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("label", OPERATIONS)
def test_api_contract(
    backend: Backend, fuzz_keys: FuzzKeys, label: str, mode: GenerationMode
) -> None:
    def call(case: Any) -> None:
        headers = {**(case.headers or {}), "X-API-Key": fuzz_keys.caller.key}
        case.call_and_validate(base_url=backend.url, headers=headers, checks=CHECKS)

    _fuzz(_operation(label), mode, call)
    # The fuzzer's key is still itself: never revoked, rolled, renamed or limited.
    [key] = [
        k for k in fetch_rows(backend, ApiKey, fuzz_keys.tenant.id) if k.id == fuzz_keys.caller.id
    ]
    assert (key.revoked_at, key.scopes, key.rate_limit_per_minute) == (None, FUZZER_SCOPES, None)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("label", KEY_MANAGEMENT)
def test_key_management_contract(
    backend: Backend, fuzz_keys: FuzzKeys, label: str, mode: GenerationMode
) -> None:
    def call(case: Any) -> None:
        if label in KEY_CHANGES:
            # Aimed at a fresh key: a real one (not just unknown ids), never the manager.
            target = create_api_key(backend, fuzz_keys.tenant, ["leads:read"])
            case.path_parameters = {**(case.path_parameters or {}), "key_id": target.id}
        headers = {**(case.headers or {}), "X-API-Key": fuzz_keys.manager.key}
        case.call_and_validate(base_url=backend.url, headers=headers, checks=CHECKS)

    _fuzz(_operation(label), mode, call)
    [key] = [
        k for k in fetch_rows(backend, ApiKey, fuzz_keys.tenant.id) if k.id == fuzz_keys.manager.id
    ]
    assert key.revoked_at is None
    assert key.rate_limit_per_minute is None
