"""Usage counters (per key, hour, route and status class) and console notices."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.models.base import Base, TenantScoped, utcnow


class UsageCount(TenantScoped, Base):
    """Requests of one key in one hour on one route with one status class (`2xx`, `429`, …)."""

    __tablename__ = "usage_counts"
    __table_args__ = (sa.Index("ix_usage_counts_tenant_hour", "tenant_id", "hour"),)

    api_key_id: Mapped[str] = mapped_column(
        sa.String(40), sa.ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    method: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    route: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    status_class: Mapped[str] = mapped_column(sa.String(3), primary_key=True)
    count: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class Notice(TenantScoped, Base):
    """A message for the console, e.g. a key nearing its limit; one per key, kind and period."""

    __tablename__ = "notices"
    __table_args__ = (
        sa.UniqueConstraint("api_key_id", "kind", "period"),
        sa.Index("ix_notices_tenant_created", "tenant_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    api_key_id: Mapped[str | None] = mapped_column(
        sa.String(40), sa.ForeignKey("api_keys.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(sa.String(40))
    period: Mapped[str] = mapped_column(sa.String(20))
    message: Mapped[str] = mapped_column(sa.Text())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
