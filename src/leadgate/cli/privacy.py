"""`leadgate privacy`: erase or export a person, and the suppression list, from a terminal."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.api_keys.grantor import OPERATOR
from leadgate.cli.common import JsonFlag, TenantOption, emit, fail, run, tenant_by_slug
from leadgate.settings import Settings

app = typer.Typer(help="Personal data: erasure, export, the suppression list (docs/privacy.md).")

EmailOption = Annotated[str | None, typer.Option("--email", help="The person's e-mail.")]
PhoneOption = Annotated[str | None, typer.Option("--phone", help="The person's phone.")]


@app.command("erase")
def privacy_erase(
    tenant: TenantOption,
    email: EmailOption = None,
    phone: PhoneOption = None,
    suppress: Annotated[
        bool,
        typer.Option(
            "--suppress/--no-suppress", help="Put the e-mail on the suppression list (default)."
        ),
    ] = True,
    as_json: JsonFlag = False,
) -> None:
    """Delete every lead of the tenant with this e-mail or phone and scrub every copy of their
    data; audited, and emits `person.erased` (ids and counts only)."""
    from leadgate.privacy import service

    async def work(session: AsyncSession, config: Settings) -> dict[str, Any]:
        found = await tenant_by_slug(session, tenant)
        person = await service.identify_in_tenant(session, config, found.id, email, phone)
        erasure = await service.erase_person(
            session,
            config,
            tenant_id=found.id,
            person=person,
            suppress=suppress,
            actor=OPERATOR.actor,
        )
        return erasure.model_dump(mode="json", by_alias=True)

    erasure = run(work)
    counts = erasure["counts"]
    emit(
        erasure,
        as_json,
        f"Erasure {erasure['id']}: {counts['leads']} leads deleted, {counts['contacts']} "
        f"contacts and {counts['activities']} activities deleted, {counts['events']} event "
        f"payloads emptied, {counts['pendingDeliveries']} pending deliveries cancelled, "
        f"{counts['deliveryAttempts']} attempts and {counts['idempotencyRecords']} idempotency "
        f"records scrubbed, {counts['quarantinedSubmissions']} quarantined submissions and "
        f"{counts['pendingConfirmations']} pending confirmations deleted, "
        f"{counts['sourcePayloads']} source payloads emptied"
        + ("; the e-mail is suppressed." if erasure["suppressed"] else "."),
    )


@app.command("export")
def privacy_export(
    tenant: TenantOption, email: EmailOption = None, phone: PhoneOption = None
) -> None:
    """Print, as JSON, every record of the tenant that is the person or holds their data."""
    from leadgate.privacy import service

    async def work(session: AsyncSession, config: Settings) -> dict[str, Any]:
        found = await tenant_by_slug(session, tenant)
        person = await service.identify_in_tenant(session, config, found.id, email, phone)
        export = await service.export_person(session, config, tenant_id=found.id, person=person)
        return export.model_dump(mode="json", by_alias=True)

    emit(run(work), True, "")


@app.command("suppress")
def privacy_suppress(
    tenant: TenantOption,
    email: Annotated[str, typer.Option("--email", help="The address to refuse at intake.")],
    reason: Annotated[
        str, typer.Option("--reason", help="unsubscribed, requested or erased.")
    ] = "requested",
) -> None:
    """Put an address on the tenant's suppression list (only its keyed hash is stored)."""
    from leadgate.privacy import service

    if reason not in ("unsubscribed", "requested", "erased"):
        fail("--reason must be unsubscribed, requested or erased")

    async def work(session: AsyncSession, config: Settings) -> bool:
        found = await tenant_by_slug(session, tenant)
        person = await service.identify_in_tenant(session, config, found.id, email, None)
        assert person.email is not None
        return await service.add_suppression(session, config, found.id, person.email, reason)

    added = run(work)
    typer.echo("Suppressed." if added else "Already suppressed.")


@app.command("unsuppress")
def privacy_unsuppress(
    tenant: TenantOption,
    email: Annotated[str, typer.Option("--email", help="The address to accept again.")],
) -> None:
    """Take an address off the tenant's suppression list."""
    from leadgate.privacy import service

    async def work(session: AsyncSession, config: Settings) -> bool:
        found = await tenant_by_slug(session, tenant)
        person = await service.identify_in_tenant(session, config, found.id, email, None)
        assert person.email is not None
        return await service.remove_suppression(session, config, found.id, person.email)

    if not run(work):
        fail("the address was not suppressed")
    typer.echo("No longer suppressed.")
