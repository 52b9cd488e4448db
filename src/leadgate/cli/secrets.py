"""`leadgate secrets`: moving API keys and webhook secrets to a new server secret."""

from __future__ import annotations

from typing import Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.cli.common import JsonFlag, emit, fail, run
from leadgate.settings import Settings

app = typer.Typer(help="Server-secret rotation (docs/operations.md).")


@app.command("status")
def secrets_status(as_json: JsonFlag = False) -> None:
    """How many live API keys and webhook signing secrets are still on an older server secret.

    Remove a secret from LEADGATE_PREVIOUS_SECRET_KEYS only when nothing is left on it: an API
    key not used meanwhile stops working (its plaintext is needed to re-hash it).
    """
    from leadgate.api_keys.secret_rotation import secret_rotation_status
    from leadgate.webhooks.service import sealed_secrets_status

    async def work(session: AsyncSession, config: Settings) -> dict[str, Any]:
        keys = await secret_rotation_status(session, config)
        sealed = await sealed_secrets_status(session, config)
        return {
            "apiKeys": {
                "current": keys.current,
                "previous": keys.previous,
                "unrecorded": keys.unrecorded,
                "unknown": keys.unknown,
                "notCurrent": keys.not_current,
            },
            "webhookSecrets": {
                "current": sealed.current,
                "previous": sealed.previous,
                "unreadable": sealed.unreadable,
            },
        }

    result = run(work)
    keys, sealed = result["apiKeys"], result["webhookSecrets"]
    previous = ", ".join(str(n) for n in keys["previous"]) or "none configured"
    emit(
        result,
        as_json,
        f"API-key secrets under the current server secret: {keys['current']}\n"
        f"  under each previous secret: {previous}\n"
        f"  hashed before the server secret was recorded: {keys['unrecorded']}\n"
        f"  under a secret neither current nor previous: {keys['unknown']}\n"
        f"Webhook signing secrets readable with the current server secret: {sealed['current']}\n"
        f"  only with a previous one (`leadgate secrets rotate-webhooks`): {sealed['previous']}\n"
        f"  unreadable: {sealed['unreadable']}",
    )


@app.command("rotate-webhooks")
def secrets_rotate_webhooks() -> None:
    """Re-encrypt every webhook signing secret under the current server secret."""
    from leadgate.webhooks.service import reseal_all_secrets

    result = run(reseal_all_secrets)
    typer.echo(
        f"re-encrypted {result.previous} webhook signing secrets "
        f"({result.current} already current, {result.unreadable} unreadable)"
    )
    if result.unreadable:
        fail(
            f"{result.unreadable} signing secrets are readable with neither the current nor a "
            "previous server secret: add the secret they were sealed with to "
            "LEADGATE_PREVIOUS_SECRET_KEYS, or rotate those endpoints' secrets"
        )
