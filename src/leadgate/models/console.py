"""Console sign-in state: sessions, failed sign-ins (for throttling) and team invitations."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.models.base import Base, TenantScoped, utcnow


class ConsoleSession(Base):
    """A signed-in browser. Only the SHA-256 of the cookie's token is stored."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[str] = mapped_column(
        sa.String(40), sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # The tenant the user is working in; switching tenants changes it.
    tenant_id: Mapped[str | None] = mapped_column(
        sa.String(40), sa.ForeignKey("tenants.id", ondelete="SET NULL")
    )
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    user_agent: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class LoginFailure(Base):
    """One failed sign-in, counted per account and per IP over a sliding window."""

    __tablename__ = "console_login_failures"
    __table_args__ = (
        sa.Index("ix_console_login_failures_email_created", "email", "created_at"),
        sa.Index("ix_console_login_failures_ip_created", "ip", "created_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    ip: Mapped[str] = mapped_column(sa.String(45))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Invitation(TenantScoped, Base):
    """A single-use link that makes whoever opens it a member of the tenant with `role`."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    role: Mapped[str] = mapped_column(sa.String(10))
    created_by: Mapped[str | None] = mapped_column(
        sa.String(40), sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    accepted_by: Mapped[str | None] = mapped_column(
        sa.String(40), sa.ForeignKey("users.id", ondelete="SET NULL")
    )
