"""`leadgate db`: database migrations."""

from __future__ import annotations

from typing import Annotated

import typer

from leadgate.cli.common import settings

app = typer.Typer(help="Database migrations.")


@app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from leadgate.migrate import upgrade

    upgrade(settings(), revision)
    typer.echo(f"database at {revision}")


# `-1` is a revision, not an unknown option.
@app.command("downgrade", context_settings={"ignore_unknown_options": True})
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target, e.g. -1 or base.")]) -> None:
    """Revert migrations down to REVISION."""
    from leadgate.migrate import downgrade

    downgrade(settings(), revision)
    typer.echo(f"database at {revision}")


@app.command("current")
def db_current() -> None:
    """Print the database's revision and whether it is the newest."""
    from leadgate.migrate import current_revision_of, head_revision

    config = settings()
    current = current_revision_of(config)
    marker = " (head)" if current == head_revision(config) else ""
    typer.echo(f"{current or 'empty'}{marker}")
