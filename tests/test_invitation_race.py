"""One invitation makes one member, however many people submit its form at the same moment."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import httpx
import pytest

from leadgate.models import AuditEvent, Invitation, Membership, User
from tests.conftest import Backend
from tests.console_helpers import (
    PASSWORD,
    ConsoleClient,
    count_all,
    invite,
    sign_up,
    tenant_id_of,
)
from tests.factories import count_rows, fetch_rows

CONTENDERS = 8


@pytest.fixture(autouse=True)
def _close_browsers() -> Iterator[None]:
    yield
    ConsoleClient.close_all()


def test_concurrent_acceptances_of_one_invitation_make_one_member(backend: Backend) -> None:
    owner = sign_up(backend)
    tenant_id = tenant_id_of(backend, owner.slug)
    path = invite(owner.client, "admin").split(backend.url, 1)[1]
    # Every contender opens the link first (each has read the invitation as pending) ...
    browsers = [ConsoleClient(backend) for _ in range(CONTENDERS)]
    for browser in browsers:
        assert browser.get(path).status_code == 200
    # ... then all submit together.
    start = threading.Barrier(CONTENDERS)
    answers: list[httpx.Response] = []
    emails: list[str] = []
    lock = threading.Lock()

    def accept(browser: ConsoleClient) -> None:
        email = f"race.{uuid.uuid4().hex[:10]}@example.com"
        body = {"name": "Racer", "email": email, "password": PASSWORD}
        with lock:
            emails.append(email)
        start.wait(timeout=30)
        response = browser.post(path, body)
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=accept, args=(b,)) for b in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [303] + [404] * (CONTENDERS - 1), statuses
    assert count_rows(backend, Membership, tenant_id, role="admin") == 1
    assert count_rows(backend, AuditEvent, tenant_id, action="member.joined") == 1
    # The losers' sign-ups went with their refused requests.
    assert sum(count_all(backend, User, email=email) for email in emails) == 1
    invitations = fetch_rows(backend, Invitation, tenant_id)
    assert [row.accepted_at is not None for row in invitations] == [True]
