"""Crash safety with real processes: `leadgate serve` killed, stopped gently, and its PostgreSQL
or Redis taken away, while clients keep writing leads.

The counts each test sees are printed (`pytest -s`) and docs/operations-failures.md quotes them.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from leadgate.models import Lead
from tests.conftest import BACKENDS, Backend, running_backend
from tests.factories import create_tenant, fetch_rows, unique_lead
from tests.processes import (
    leadgate_env,
    start_server,
    stop,
)
from tests.receiver import wait_until

CLIENTS = 8
# No request may take longer than this while the database is away (the settings below bound
# each wait at a few seconds; the rest is margin for a loaded machine).
REQUEST_BOUND_SECONDS = 10.0


@dataclass
class Outcome:
    """One request of a load client, as the client saw it."""

    body: dict[str, Any]
    idempotency_key: str
    started: float
    seconds: float = 0.0
    status: int | None = None  # None: no HTTP response (see `error`)
    error: str | None = None  # the §7 error code, or the transport error's class
    reached_server: bool = True  # False only when the connection could not be opened
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def email(self) -> str:
        return str(self.body["email"])

    @property
    def unknown(self) -> bool:
        """Sent, and no answer: the lead may or may not have been written."""
        return self.status is None and self.reached_server


class LeadLoad:
    """`clients` threads, each posting unique leads one after another until stopped.

    With `stop_on_transport_error` a client ends at its first request without an answer (the
    server died); otherwise it carries on (the server stays up while its database is away).
    """

    def __init__(
        self,
        url: str,
        headers: dict[str, str],
        *,
        clients: int = CLIENTS,
        stop_on_transport_error: bool = True,
        pause: float = 0.0,
        idempotent: bool = True,
    ) -> None:
        self.url = url
        self.headers = headers
        self.stop_on_transport_error = stop_on_transport_error
        self.pause = pause
        self.idempotent = idempotent
        self.outcomes: list[Outcome] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]

    def __enter__(self) -> LeadLoad:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self, timeout: float = 60) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout)
        assert not any(thread.is_alive() for thread in self.threads), "a client hung"

    def results(self) -> list[Outcome]:
        with self.lock:
            return list(self.outcomes)

    def answered(self, status: int, since: float = 0.0) -> int:
        return sum(1 for o in self.results() if o.status == status and o.started >= since)

    def wait_for(self, status: int, count: int, since: float = 0.0, timeout: float = 60) -> None:
        wait_until(lambda: self.answered(status, since) >= count, timeout=timeout)

    def _client(self) -> None:
        limits = httpx.Limits(max_keepalive_connections=1)
        with httpx.Client(timeout=REQUEST_BOUND_SECONDS * 3, limits=limits) as http:
            while not self.stopping.is_set():
                outcome = self._post(http)
                with self.lock:
                    self.outcomes.append(outcome)
                if outcome.status is None and self.stop_on_transport_error:
                    return
                if self.pause:
                    time.sleep(self.pause)

    def _post(self, http: httpx.Client) -> Outcome:
        outcome = Outcome(unique_lead(), f"crash-{uuid.uuid4().hex}", time.monotonic())
        headers = dict(self.headers)
        if self.idempotent:
            headers["Idempotency-Key"] = outcome.idempotency_key
        try:
            response = http.post(f"{self.url}/api/v1/leads", json=outcome.body, headers=headers)
        except httpx.ConnectError as error:
            outcome.reached_server = False
            outcome.error = type(error).__name__
        except httpx.TransportError as error:
            outcome.error = type(error).__name__
        else:
            outcome.status = response.status_code
            outcome.headers = dict(response.headers)
            if response.status_code >= 400:
                try:
                    outcome.error = response.json()["error"]
                except (ValueError, KeyError, TypeError):
                    outcome.error = "not JSON: " + response.text[:100]
        outcome.seconds = time.monotonic() - outcome.started
        return outcome


def lead_emails(backend: Backend, tenant_id: str) -> list[str]:
    """Every lead's e-mail, once per lead (a duplicate would show twice)."""
    return [lead.email for lead in fetch_rows(backend, Lead, tenant_id)]


@pytest.fixture(scope="module", params=BACKENDS)
def quiet(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    """A backend whose own in-process server delivers no webhooks: only the `leadgate serve`
    processes a test starts do, so what they leave in the outbox stays there."""
    name = request.param
    data_dir = tmp_path_factory.mktemp(f"data-crash-{name}")
    with running_backend(name, data_dir, webhooks_worker_enabled=False) as backend:
        yield backend


# --- SIGKILL ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_sigkill_under_load_loses_no_acknowledged_lead(quiet: Backend, tmp_path: Path) -> None:
    tenant = create_tenant(quiet)
    # A claim its dead server never finished may be taken again after 2 s (default 300 s).
    env = leadgate_env(quiet.env(), access_log="false", idempotency_abandoned_after_seconds="2")
    server = start_server(env, tmp_path / "server.log")
    try:
        with LeadLoad(server.url, tenant.headers) as load:
            load.wait_for(201, 40)  # every client is writing
            time.sleep(1.0)
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(timeout=10)
            load.stop()
    finally:
        stop(server.process, signal.SIGKILL)
    outcomes = load.results()
    acknowledged = {o.email for o in outcomes if o.status == 201}
    unknown = {o.email: o for o in outcomes if o.unknown}
    others = [(o.status, o.error) for o in outcomes if o.status not in (201, None)]
    found = lead_emails(quiet, tenant.id)
    lost = acknowledged - set(found)
    unacknowledged = set(found) - acknowledged
    counts = (
        f"[{quiet.name}] SIGKILL under load: {len(outcomes)} requests, "
        f"{len(acknowledged)} acknowledged (201), {len(unknown)} without an answer, "
        f"{len(found)} leads found, {len(lost)} lost, "
        f"{len(unacknowledged)} written but never acknowledged"
    )
    print(counts)
    assert others == [], counts
    assert lost == set(), counts
    assert unacknowledged <= set(unknown), counts  # only answers the kill swallowed
    assert len(found) == len(set(found)), counts

    # A new process serves at once, and retrying an unanswered request with its key writes its
    # lead exactly once: a replay if the lead was written, else a fresh 201.
    restarted = start_server(env, tmp_path / "server-2.log")
    try:
        with httpx.Client(base_url=restarted.url, timeout=30) as http:
            fresh = http.post("/api/v1/leads", json=unique_lead(), headers=tenant.headers)
            assert fresh.status_code == 201, fresh.text
            replays = 0
            for email, outcome in unknown.items():
                response = _retry_keyed(http, tenant.headers, outcome)
                assert response.status_code == 201, response.text
                replayed = response.headers.get("Idempotent-Replayed") == "true"
                assert replayed == (email in unacknowledged), email
                replays += replayed
        print(f"[{quiet.name}] after restart: {len(unknown)} retried, {replays} replayed")
    finally:
        stop(restarted.process)
    assert "Traceback" not in restarted.output()
    emails = lead_emails(quiet, tenant.id)
    assert len(emails) == len(set(emails))  # never two leads for one request
    assert set(unknown) <= set(emails)


def _retry_keyed(http: httpx.Client, headers: dict[str, str], outcome: Outcome) -> httpx.Response:
    """The same request again; 409 `idempotency_key_in_use` while the dead process's claim has
    not yet been abandoned (2 s here)."""
    keyed = {**headers, "Idempotency-Key": outcome.idempotency_key}
    deadline = time.monotonic() + 30
    while True:
        response = http.post("/api/v1/leads", json=outcome.body, headers=keyed)
        if response.status_code != 409 or time.monotonic() > deadline:
            return response
        assert response.json()["error"] == "idempotency_key_in_use", response.text
        time.sleep(0.25)
