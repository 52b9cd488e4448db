"""The `leadgate` command: serve, migrate, provision tenants and manage keys from a terminal.

One module per area, each a `typer.Typer` sub-app (or, for a top-level command, a function)
registered here; `common` holds what they share.
"""

from __future__ import annotations

import typer

from leadgate.cli import (
    crm,
    db,
    forms,
    keys,
    leads,
    privacy,
    secrets,
    serve,
    teams,
    tenants,
    usage,
    webhooks,
)

app = typer.Typer(help="leadgate: lead intake for CRMs, with a complete API-key lifecycle.")
app.command()(serve.serve)
app.command("config-docs")(serve.config_docs)
app.command("usage")(usage.usage)
app.command()(webhooks.worker)
app.add_typer(db.app, name="db")
app.add_typer(tenants.app, name="tenant")
app.add_typer(keys.app, name="keys")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(secrets.app, name="secrets")
app.add_typer(leads.app, name="leads")
app.add_typer(teams.app, name="teams")
app.add_typer(forms.app, name="forms")
app.add_typer(privacy.app, name="privacy")
app.add_typer(crm.automations_app, name="automations")
app.add_typer(crm.reports_app, name="reports")

__all__ = ["app"]
