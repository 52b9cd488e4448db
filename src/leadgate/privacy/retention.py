"""How long each kind of record is kept, per tenant over deployment defaults, and the purge.

The housekeeping task runs `purge_tenant` for every tenant on each pass. Each kind is purged in
batches of `retention_batch_size` rows, one short transaction per batch, so neither backend's
writers wait long behind it; `leadgate_retention_purged_total{kind}` counts what went.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from leadgate.db import Database
from leadgate.metrics import RETENTION_PURGED
from leadgate.privacy.repository import RetentionRepository
from leadgate.settings import Settings

# The periods a tenant may set (`tenants.settings["retention"]`), by their API names.
PERIODS = (
    "eventPayloads",
    "events",
    "deliveryAttempts",
    "idempotencyRecords",
    "usage",
    "audit",
)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Days each kind is kept. `idempotency_records` None: until the record's own expiry."""

    event_payloads: float
    events: float
    delivery_attempts: float
    idempotency_records: float | None
    usage: float
    audit: float
    # Deployment-wide only (no tenant period): inbound source payloads, quarantined form
    # submissions. Expired double opt-in confirmations go on every pass.
    source_payloads: float = 30.0
    form_quarantine: float = 30.0

    def as_api(self) -> dict[str, float | None]:
        return {
            "eventPayloads": self.event_payloads,
            "events": self.events,
            "deliveryAttempts": self.delivery_attempts,
            "idempotencyRecords": self.idempotency_records,
            "usage": self.usage,
            "audit": self.audit,
        }


def deployment_policy(settings: Settings) -> RetentionPolicy:
    return RetentionPolicy(
        event_payloads=settings.retention_event_payload_days,
        events=settings.retention_event_days,
        delivery_attempts=settings.retention_delivery_attempt_days,
        idempotency_records=settings.retention_idempotency_days,
        usage=settings.retention_usage_days,
        audit=settings.retention_audit_days,
        source_payloads=settings.sources_payload_retention_days,
        form_quarantine=settings.retention_form_quarantine_days,
    )


def tenant_overrides(tenant_settings: dict[str, Any]) -> dict[str, float]:
    stored = tenant_settings.get("retention") or {}
    return {name: float(stored[name]) for name in PERIODS if stored.get(name) is not None}


def policy_for(settings: Settings, tenant_settings: dict[str, Any]) -> RetentionPolicy:
    deployment = deployment_policy(settings)
    values = {**deployment.as_api(), **tenant_overrides(tenant_settings)}
    return RetentionPolicy(
        event_payloads=_days(values["eventPayloads"]),
        events=_days(values["events"]),
        delivery_attempts=_days(values["deliveryAttempts"]),
        idempotency_records=values["idempotencyRecords"],
        usage=_days(values["usage"]),
        audit=_days(values["audit"]),
        source_payloads=deployment.source_payloads,
        form_quarantine=deployment.form_quarantine,
    )


def _days(value: float | None) -> float:
    assert value is not None  # only the idempotency period may be open
    return value


Step = Callable[[RetentionRepository, int], Awaitable[int]]


def _steps(policy: RetentionPolicy, now: datetime) -> list[tuple[str, Step]]:
    def before(days: float) -> datetime:
        return now - timedelta(days=days)

    steps: list[tuple[str, Step]] = [
        # Whole events first: what they take needs no emptying afterwards.
        ("events", lambda repo, n: repo.delete_events(before(policy.events), n)),
        (
            "event_payloads",
            lambda repo, n: repo.empty_event_payloads(before(policy.event_payloads), now, n),
        ),
        (
            "delivery_attempts",
            lambda repo, n: repo.delete_attempts(before(policy.delivery_attempts), n),
        ),
        ("usage_counts", lambda repo, n: repo.delete_usage_counts(before(policy.usage), n)),
        ("audit_events", lambda repo, n: repo.delete_audit_events(before(policy.audit), n)),
        (
            "source_payloads",
            lambda repo, n: repo.delete_source_payloads(before(policy.source_payloads), n),
        ),
        (
            "form_quarantine",
            lambda repo, n: repo.delete_quarantined_submissions(before(policy.form_quarantine), n),
        ),
        ("form_confirmations", lambda repo, n: repo.delete_expired_confirmations(now, n)),
    ]
    idempotency_days = policy.idempotency_records
    if idempotency_days is not None:
        steps.append(
            (
                "idempotency_records",
                lambda repo, n: repo.delete_idempotency_records(before(idempotency_days), n),
            )
        )
    return steps


async def purge_tenant(
    database: Database,
    settings: Settings,
    tenant_id: str,
    tenant_settings: dict[str, Any],
    now: datetime,
) -> dict[str, int]:
    """Everything of one tenant past its retention, as of `now`; counts by kind."""
    policy = policy_for(settings, tenant_settings)
    batch = settings.retention_batch_size
    purged: dict[str, int] = {}
    for kind, step in _steps(policy, now):
        total = 0
        while True:
            # One transaction per batch: the housekeeping pass is this module's transaction edge.
            async with database.sessionmaker() as session, session.begin():
                done = await step(RetentionRepository(session, tenant_id), batch)
            total += done
            if done < batch:
                break
        if total:
            RETENTION_PURGED.labels(kind).inc(total)
        purged[kind] = total
    return purged
