"""Console limits that need their own server: the per-IP sign-in throttle and expiries.

Every test client connects from 127.0.0.1, so tripping the per-IP throttle on the shared
server would lock other tests out; this module starts a leadgate of its own with small limits.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.app import create_app
from leadgate.migrate import upgrade
from leadgate.models import ConsoleSession, Invitation, LoginFailure, utcnow
from tests.conftest import Backend, ServerThread, make_settings
from tests.console_helpers import (
    PASSWORD,
    ConsoleClient,
    count_all,
    invite,
    sign_in,
    sign_up,
    user_id_of,
)


@pytest.fixture(scope="module")
def small_limits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    data_dir: Path = tmp_path_factory.mktemp("console-limits")
    settings = make_settings(
        "sqlite",
        data_dir,
        console_login_max_failures_per_ip=3,
        console_login_max_failures_per_account=100,
        console_login_window_seconds=120,
    )
    upgrade(settings)
    server = ServerThread(create_app(settings))
    server.start()
    try:
        yield Backend(name="sqlite-limits", settings=settings, server=server)
    finally:
        ConsoleClient.close_all()
        server.stop()


def test_sign_in_is_throttled_per_ip(small_limits: Backend) -> None:
    account = sign_up(small_limits)
    browser = ConsoleClient(small_limits)
    browser.get("/console/sign-in")
    for _ in range(3):
        email = f"guess.{uuid.uuid4().hex[:6]}@example.com"
        response = browser.post("/console/sign-in", {"email": email, "password": "guess-guess"})
        assert response.status_code == 401
    response = browser.post("/console/sign-in", {"email": account.email, "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed sign-ins from your network. Wait 2 minutes" in response.text
    # A session made before the throttle keeps working.
    assert account.client.get("/console/team").status_code == 200


def test_expired_sessions_and_invitations_are_refused(small_limits: Backend) -> None:
    owner = sign_up(small_limits)
    link = invite(owner.client, "member")

    async def expire(session: AsyncSession) -> None:
        from sqlalchemy import delete, update

        past = utcnow() - timedelta(seconds=1)
        await session.execute(update(Invitation).values(expires_at=past))
        await session.execute(update(ConsoleSession).values(expires_at=past))
        # Forget the per-IP test's failures: this module's server is shared.
        await session.execute(delete(LoginFailure))

    small_limits.transaction(expire)
    page = ConsoleClient(small_limits).get(link.split(small_limits.url, 1)[1])
    assert page.status_code == 404
    assert "expired" in page.text
    response = owner.client.get("/console/team")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/sign-in")
    # Signing in again starts a new session and drops the user's expired ones.
    sign_in(small_limits, owner.email)
    user_id = user_id_of(small_limits, owner.email)
    assert count_all(small_limits, ConsoleSession, user_id=user_id) == 1
