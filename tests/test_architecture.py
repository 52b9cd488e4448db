"""Checks on the code itself: tenant isolation that cannot be forgotten, migrations in step."""

from __future__ import annotations

import ast
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import leadgate
from leadgate.models import Base
from tests.conftest import Backend

SRC = Path(leadgate.__file__).parent
# Repositories that may query without the tenant helper, and why.
UNSCOPED_ALLOWED = {
    "KeyLookupRepository": "finds a key by its secret's HMAC before the tenant is known",
    "KeyOwnerRepository": "operators' CLI names a key by id",
    "KeyExpiryScanRepository": "the expiry sweep looks at every tenant's keys",
    "KeySecretCensusRepository": "server-secret rotation counts every tenant's key secrets",
    "TenantRepository": "the tenants table is the scope itself",
    "UserRepository": "users are people who may belong to several tenants",
    "ConsoleSessionRepository": "a console session is found by its token before a tenant is known",
    "LoginFailureRepository": "failed sign-ins are counted before a user or tenant is known",
    "MembershipLookupRepository": "the tenant switcher lists a user's tenants",
    "InvitationLookupRepository": "an invitation link is found by its token before its tenant",
    "ConfirmationLookupRepository": "a double opt-in link names its token, nothing else",
    "PublicFormRepository": "a visitor's post names a form by its public id, nothing else",
    "SourceLookupRepository": "a provider's payload names its source by id before the tenant",
    "WebhookQueueRepository": "the webhook worker serves every tenant; CLI names endpoints by id",
    "AutomationQueueRepository": "the automation worker evaluates every tenant's events",
}
QUERY_BUILDERS = {"select", "update", "delete", "insert"}
SCOPING_MARKS = (
    "self._scoped",
    "self._tenant_filter(",
    "self._with_tenant(",
    "tenant_id=self.tenant_id",
)


def _query_calls(node: ast.AST) -> list[ast.Call]:
    calls = []
    for child in ast.walk(node):
        if isinstance(child, ast.Call):
            func = child.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in QUERY_BUILDERS or name == "insert_ignoring_conflicts":
                calls.append(child)
    return calls


def test_every_tenant_query_goes_through_the_scoping_helper() -> None:
    problems = []
    for path in sorted(SRC.rglob("repository.py")):
        source = path.read_text()
        tree = ast.parse(source)
        for cls in [n for n in tree.body if isinstance(n, ast.ClassDef)]:
            bases = {getattr(b, "id", getattr(b, "attr", "")) for b in cls.bases}
            scoped = "TenantScopedRepository" in bases
            for func in [
                n for n in cls.body if isinstance(n, ast.AsyncFunctionDef | ast.FunctionDef)
            ]:
                if not _query_calls(func):
                    continue
                body = ast.get_source_segment(source, func) or ""
                if scoped and not any(mark in body for mark in SCOPING_MARKS):
                    problems.append(
                        f"{path.name}:{cls.name}.{func.name} queries without tenant scope"
                    )
                if not scoped and cls.name not in UNSCOPED_ALLOWED:
                    problems.append(f"{path.name}:{cls.name} is not a TenantScopedRepository")
    assert problems == []


def test_no_sql_outside_repositories() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name in ("repository.py", "sql.py", "db.py") or "migrations" in path.parts:
            continue
        if "session.execute(" in path.read_text():
            offenders.append(str(path.relative_to(SRC)))
    assert offenders == []


def test_services_never_commit() -> None:
    offenders = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if p.name in ("service.py", "repository.py") and ".commit()" in p.read_text()
    ]
    assert offenders == []


def test_migrations_match_the_models(backend: Backend) -> None:
    def diff(connection: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))

    engine: AsyncEngine = backend.app.state.database.engine

    async def run() -> list[object]:
        async with engine.connect() as connection:
            return await connection.run_sync(diff)

    assert backend.run(run()) == []
