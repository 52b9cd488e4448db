"""Contract fuzzing: schemathesis generates requests from leadgate's own OpenAPI document.

Bounded for CI: `LEADGATE_FUZZ_EXAMPLES` examples per operation and generation mode (default 25),
derandomized so a run is repeatable. Run longer with, e.g.,
`LEADGATE_FUZZ_EXAMPLES=1000 make test PYTEST_ARGS="-k fuzz"`.
Checks: no 5xx, status codes and content types as documented, bodies matching their schemas, and
every error in the §7 shape. Valid (positive) and invalid (negative) requests are both generated.
"""

from __future__ import annotations

import os
import tempfile
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

from leadgate.app import create_app
from leadgate.settings import Settings
from tests.conftest import Backend
from tests.factories import TenantInfo, create_tenant

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


@pytest.fixture(scope="module")
def fuzz_tenant(backend: Backend) -> TenantInfo:
    return create_tenant(backend)


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
    backend: Backend, fuzz_tenant: TenantInfo, label: str, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_dict(DOCUMENT)
    operation = next(o for o in operations_of(schema) if o.label == label)

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        headers = {**(case.headers or {}), "X-API-Key": fuzz_tenant.key}
        case.call_and_validate(base_url=backend.url, headers=headers, checks=CHECKS)

    run()
