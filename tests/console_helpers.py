"""A scripted browser for the console over HTTP: cookies, CSRF tokens read from the pages."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.models import Base
from tests.conftest import Backend

CSRF_RE = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
PASSWORD = "correct horse battery"


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match is not None, "no CSRF token on the page"
    return match.group(1)


class ConsoleClient:
    """One browser: its own cookie jar and the CSRF token of the last page it loaded."""

    opened: list[ConsoleClient] = []

    def __init__(self, backend: Backend) -> None:
        ConsoleClient.opened.append(self)
        self.http = httpx.Client(base_url=backend.url, timeout=30, follow_redirects=False)
        self.csrf = ""

    def close(self) -> None:
        self.http.close()

    @classmethod
    def close_all(cls) -> None:
        while cls.opened:
            cls.opened.pop().close()

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.get(path, **kwargs)
        if CSRF_RE.search(response.text):
            self.csrf = csrf_of(response.text)
        return response

    def post(self, path: str, data: dict[str, Any], *, csrf: bool = True) -> httpx.Response:
        body = dict(data)
        if csrf:
            body["csrf_token"] = self.csrf
        response = self.http.post(path, data=body)
        if CSRF_RE.search(response.text):
            self.csrf = csrf_of(response.text)
        return response

    def follow(self, response: httpx.Response) -> httpx.Response:
        assert response.status_code == 303, (response.status_code, response.text[:500])
        return self.get(response.headers["location"])


@dataclass
class Account:
    client: ConsoleClient
    email: str
    slug: str
    name: str


def sign_up(
    backend: Backend,
    *,
    slug: str | None = None,
    name: str = "Ada Lovelace",
    password: str = PASSWORD,
) -> Account:
    browser = ConsoleClient(backend)
    browser.get("/console/sign-up")
    email = f"ada.{uuid.uuid4().hex[:10]}@example.com"
    slug = slug or f"co-{uuid.uuid4().hex[:10]}"
    response = browser.post(
        "/console/sign-up",
        {"name": name, "email": email, "password": password, "company": "Acme Law", "slug": slug},
    )
    assert response.status_code == 303, response.text[:2000]
    assert response.headers["location"] == "/console/settings/api-keys"
    browser.follow(response)
    return Account(browser, email, slug, name)


def sign_in(backend: Backend, email: str, password: str = PASSWORD) -> ConsoleClient:
    browser = ConsoleClient(backend)
    browser.get("/console/sign-in")
    response = browser.post("/console/sign-in", {"email": email, "password": password})
    assert response.status_code == 303, response.text[:2000]
    browser.follow(response)
    return browser


def count_all(backend: Backend, model: type[Base], **filters: Any) -> int:
    """Rows of a table that is not tenant-scoped (users, sessions), optionally filtered."""

    async def work(session: AsyncSession) -> int:
        statement = sa.select(sa.func.count()).select_from(model)
        for name, value in filters.items():
            statement = statement.where(getattr(model, name) == value)
        return int((await session.execute(statement)).scalar_one())

    return backend.transaction(work)


def tenant_id_of(backend: Backend, slug: str) -> str:
    from leadgate.tenants.repository import TenantRepository

    async def work(session: AsyncSession) -> str:
        tenant = await TenantRepository(session).by_slug(slug)
        assert tenant is not None
        return tenant.id

    return backend.transaction(work)


def user_id_of(backend: Backend, email: str) -> str:
    from leadgate.users.repository import UserRepository

    async def work(session: AsyncSession) -> str:
        user = await UserRepository(session).by_email(email)
        assert user is not None
        return user.id

    return backend.transaction(work)


def generate_key(browser: ConsoleClient, **fields: Any) -> httpx.Response:
    browser.get("/console/settings/api-keys/new")
    data: dict[str, Any] = {
        "name": f"key-{uuid.uuid4().hex[:8]}",
        "scopes": ["leads:write"],
        "expiration": "90",
        "team_access": "all-accounts",
    }
    data.update(fields)
    return browser.post("/console/settings/api-keys", data)


KEY_RE = re.compile(r'id="new-key" class="mono" readonly value="([A-Za-z0-9_]+)"')


def key_from_page(html: str) -> str:
    match = KEY_RE.search(html)
    assert match is not None, html[:3000]
    return match.group(1)


def found(pattern: str, html: str, flags: int = 0) -> str:
    """The first group of `pattern` in a page; fails the test when it is not there."""
    match = re.search(pattern, html, flags)
    assert match is not None, (pattern, html[:3000])
    return match.group(1)


def invite(owner: ConsoleClient, role: str) -> str:
    owner.get("/console/team")
    response = owner.post("/console/team/invitations", {"role": role})
    assert response.status_code == 201, response.text[:500]
    return found(r'id="invite-link" class="mono" readonly value="([^"]+)"', response.text)


def join(backend: Backend, link: str, name: str = "Mo Member") -> tuple[ConsoleClient, str]:
    browser = ConsoleClient(backend)
    path = link.split(backend.url, 1)[1]
    page = browser.get(path)
    assert page.status_code == 200
    assert "Accept invitation" in page.text
    email = f"m.{uuid.uuid4().hex[:8]}@example.com"
    response = browser.post(path, {"name": name, "email": email, "password": PASSWORD})
    assert response.status_code == 303, response.text[:500]
    browser.follow(response)
    return browser, email
