"""The tenant's audit log: who did what to which key (and other sensitive objects), and when."""

from leadgate.audit.service import record

__all__ = ["record"]
