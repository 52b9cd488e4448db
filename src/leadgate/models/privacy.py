"""The suppression list: people a tenant must not take in again, known only by a keyed hash."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.models.base import Base, TenantScoped, utcnow


class Suppression(TenantScoped, Base):
    """An e-mail address refused at intake. Only HMAC(server secret, address) is stored, so the
    list can answer "is this address suppressed?" without holding the address itself."""

    __tablename__ = "suppressions"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "email_hash"),)

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    email_hash: Mapped[str] = mapped_column(sa.String(64))
    reason: Mapped[str] = mapped_column(sa.String(20))  # erased|unsubscribed|requested
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
