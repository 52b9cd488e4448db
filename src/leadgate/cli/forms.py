"""`leadgate forms`: a tenant's web forms and the submissions held in their quarantine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.api_keys.grantor import OPERATOR
from leadgate.cli.common import JsonFlag, TenantOption, emit, fail, run, tenant_by_slug
from leadgate.settings import Settings

app = typer.Typer(
    help="Web forms: hosted pages and embeds that create leads, and their quarantine."
)

FormId = Annotated[str, typer.Argument(help="The form's id (form_…).")]


def _form_line(form: dict[str, Any]) -> str:
    state = "enabled " if form["enabled"] else "disabled"
    fields = ",".join(f["name"] + ("*" if f["required"] else "") for f in form["fields"])
    return f"{form['id']}  {state}  {form['name']:<30} {fields}"


def _form_text(form: dict[str, Any]) -> str:
    spam = form["spam"]
    return "\n".join(
        [
            _form_line(form),
            f"  page:     {form['urls']['hosted']}",
            f"  submit:   {form['urls']['submit']}",
            f"  origins:  {' '.join(form['allowedOrigins']) or '(any)'}",
            f"  redirect: {form['redirectUrl'] or '(none)'}",
            f"  spam:     honeypot {spam['honeypot']}, min fill {spam['minFillSeconds']} s, "
            f"proof of work {spam['proofOfWork']}",
        ]
    )


def _field(text: str) -> dict[str, Any]:
    """`name:label[:required]` as an API field."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        fail(f"--field {text!r}: expected name:label or name:label:required")
    if len(parts) == 3 and parts[2] != "required":
        fail(f"--field {text!r}: the third part can only be 'required'")
    return {"name": parts[0], "label": parts[1], "required": len(parts) == 3}


def _create_body(
    name: str | None,
    fields: list[str],
    origins: list[str],
    redirect: str | None,
    from_json: Path | None,
) -> Any:
    from leadgate.forms.schemas import FormCreate

    if from_json is not None:
        if name or fields or origins or redirect:
            fail(
                "--from-json takes the whole body; leave out --name, --field, --origin, --redirect"
            )
        try:
            raw: Any = json.loads(from_json.read_text())
        except (OSError, ValueError) as error:
            fail(f"cannot read {from_json}: {error}")
    else:
        if not name:
            fail("--name is required (or --from-json FILE)")
        raw = {"name": name, "fields": [_field(f) for f in fields]}
        if origins:
            raw["allowedOrigins"] = origins
        if redirect:
            raw["redirectUrl"] = redirect
    try:
        return FormCreate.model_validate(raw)
    except ValidationError as error:
        fail(
            "invalid form"
            + "".join(
                f"\n  {'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                for e in error.errors()
            )
        )


@app.command("list")
def forms_list(tenant: TenantOption, as_json: JsonFlag = False) -> None:
    """List a tenant's forms (required fields marked *)."""
    from leadgate.forms.service import form_out, list_forms

    async def work(session: AsyncSession, config: Settings) -> list[dict[str, Any]]:
        found = await tenant_by_slug(session, tenant)
        return [
            form_out(f, config).model_dump(mode="json", by_alias=True)
            for f in await list_forms(session, found.id)
        ]

    forms = run(work)
    emit(forms, as_json, "\n".join(_form_line(f) for f in forms) or "(no forms)")


@app.command("show")
def forms_show(form_id: FormId, tenant: TenantOption, as_json: JsonFlag = False) -> None:
    """Show a form: its fields, URLs, origins and spam checks."""
    from leadgate.forms.service import form_out, get_form

    async def work(session: AsyncSession, config: Settings) -> dict[str, Any]:
        found = await tenant_by_slug(session, tenant)
        form = await get_form(session, found.id, form_id)
        return form_out(form, config).model_dump(mode="json", by_alias=True)

    form = run(work)
    emit(form, as_json, _form_text(form))


@app.command("create")
def forms_create(
    tenant: TenantOption,
    name: Annotated[str | None, typer.Option("--name", help="The form's name.")] = None,
    fields: Annotated[
        list[str] | None,
        typer.Option(
            "--field", help="name:label[:required], repeatable (firstName, email, or custom)."
        ),
    ] = None,
    origins: Annotated[
        list[str] | None,
        typer.Option("--origin", help="Origin allowed to embed and post it, repeatable."),
    ] = None,
    redirect: Annotated[
        str | None, typer.Option("--redirect", help="Where the browser goes after submitting.")
    ] = None,
    from_json: Annotated[
        Path | None,
        typer.Option("--from-json", help="A file with the API's create body (POST /forms)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a form from options or from the API's JSON body."""
    from leadgate.forms.service import create_form, form_out

    body = _create_body(name, fields or [], origins or [], redirect, from_json)

    async def work(session: AsyncSession, config: Settings) -> dict[str, Any]:
        found = await tenant_by_slug(session, tenant)
        form = await create_form(
            session, config, tenant_id=found.id, data=body, actor=OPERATOR.actor
        )
        return form_out(form, config).model_dump(mode="json", by_alias=True)

    form = run(work)
    emit(form, as_json, f"Created form {form['name']} ({form['id']}).\n{_form_text(form)}")


def _set_enabled(form_id: str, tenant: str, enabled: bool) -> dict[str, Any]:
    from leadgate.forms.schemas import FormUpdate
    from leadgate.forms.service import form_out, update_form

    async def work(session: AsyncSession, config: Settings) -> dict[str, Any]:
        found = await tenant_by_slug(session, tenant)
        form = await update_form(
            session,
            config,
            tenant_id=found.id,
            form_id=form_id,
            data=FormUpdate(enabled=enabled),
            actor=OPERATOR.actor,
        )
        return form_out(form, config).model_dump(mode="json", by_alias=True)

    return run(work)


@app.command("disable")
def forms_disable(form_id: FormId, tenant: TenantOption, as_json: JsonFlag = False) -> None:
    """Disable a form: its page and submit URL stop taking submissions."""
    form = _set_enabled(form_id, tenant, False)
    emit(form, as_json, f"Disabled form {form['id']}.")


@app.command("enable")
def forms_enable(form_id: FormId, tenant: TenantOption, as_json: JsonFlag = False) -> None:
    """Enable a disabled form again."""
    form = _set_enabled(form_id, tenant, True)
    emit(form, as_json, f"Enabled form {form['id']}.")


@app.command("delete")
def forms_delete(form_id: FormId, tenant: TenantOption, as_json: JsonFlag = False) -> None:
    """Delete a form; the leads it created stay."""
    from leadgate.forms.service import delete_form

    async def work(session: AsyncSession, _config: Settings) -> None:
        found = await tenant_by_slug(session, tenant)
        await delete_form(session, tenant_id=found.id, form_id=form_id, actor=OPERATOR.actor)

    run(work)
    emit({"id": form_id, "deleted": True}, as_json, f"Deleted form {form_id}.")


@app.command("quarantine")
def forms_quarantine(
    tenant: TenantOption,
    form_id: Annotated[
        str | None, typer.Option("--form", help="Only this form's submissions.")
    ] = None,
    release: Annotated[
        str | None,
        typer.Option("--release", help="Create this held submission's lead now."),
    ] = None,
    delete: Annotated[
        str | None, typer.Option("--delete", help="Drop this held submission.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List submissions held as suspect, or release or delete one."""
    from leadgate.forms import service

    if release and delete:
        fail("give --release or --delete, not both")

    async def work(session: AsyncSession, _config: Settings) -> Any:
        found = await tenant_by_slug(session, tenant)
        if release:
            released = await service.release(
                session, tenant_id=found.id, submission_id=release, actor=OPERATOR.actor
            )
            return released.model_dump(mode="json", by_alias=True)
        if delete:
            await service.delete_quarantined(
                session, tenant_id=found.id, submission_id=delete, actor=OPERATOR.actor
            )
            return {"id": delete, "deleted": True}
        held = await service.list_quarantine(session, found.id, form_id=form_id)
        return [service.quarantined_out(s).model_dump(mode="json", by_alias=True) for s in held]

    result = run(work)
    if release:
        lead = f" lead {result['leadId']}" if result.get("leadId") else ""
        emit(result, as_json, f"Released {result['id']}: {result['outcome']}{lead}.")
    elif delete:
        emit(result, as_json, f"Deleted quarantined submission {delete}.")
    else:
        lines = [
            f"{s['id']}  {s['formId']}  {s['createdAt']}  {','.join(s['reasons'])}  "
            f"{s['lead'].get('email') or ''}"
            for s in result
        ]
        emit(result, as_json, "\n".join(lines) or "(no quarantined submissions)")
