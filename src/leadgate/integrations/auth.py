"""The scopes REST-hook routes need: the webhooks' for hooks, the leads' for find-or-create."""

from __future__ import annotations

from leadgate.leads.auth import LeadsWrite
from leadgate.webhooks.auth import WebhooksRead, WebhooksWrite

__all__ = ["LeadsWrite", "WebhooksRead", "WebhooksWrite"]
