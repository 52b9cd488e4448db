"""The workspace's members as the API shows them: never a password hash, session or token."""

from __future__ import annotations

from typing import Literal

from leadgate.schemas import ResponseModel, Timestamp


class MemberOut(ResponseModel):
    id: str
    name: str
    email: str
    role: Literal["owner", "admin", "member"]
    member_since: Timestamp


class MemberList(ResponseModel):
    data: list[MemberOut]
