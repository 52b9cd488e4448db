"""The console's inbound-sources pages: the list, adding a source (its URL and secret shown
once), the mapping editor with a live preview on the last payload received, and the payloads
with their outcomes and replay. Every change goes through `leadgate.sources.service`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from leadgate.console.auth import InTenant, Manager, check_csrf
from leadgate.console.forms import Form
from leadgate.console.rendering import (
    invalid_fields,
    page_error,
    page_errors,
    redirect,
    refuse,
    render,
)
from leadgate.console.service import member_actor
from leadgate.db import Session
from leadgate.errors import ApiError
from leadgate.sources import service
from leadgate.sources.providers import KINDS
from leadgate.sources.schemas import (
    LEAD_TARGETS,
    MappingPreview,
    SourceCreate,
    SourceMapping,
    SourceUpdate,
)
from leadgate.web import get_settings

router = APIRouter(prefix="/console", dependencies=[Depends(check_csrf)])
BLANK_RULES = 3
KIND_LABELS = {
    "typeform": "Typeform",
    "webflow": "Webflow form",
    "google_ads": "Google Ads lead form",
    "json": "Generic JSON",
}


class SourceForm(Form):
    name: str = ""
    kind: str = "typeform"
    verification: str = "hmac"
    secret: str = ""


class MappingForm(Form):
    rule_from: list[str] = []
    rule_to: list[str] = []
    rule_value: list[str] = []
    tags: str = ""
    team_id: str = ""
    action: str = "save"

    def mapping_body(self) -> dict[str, Any]:
        rules = []
        for origin, target, value in zip(
            self.rule_from, self.rule_to, self.rule_value, strict=False
        ):
            if not target.strip() or not (origin.strip() or value.strip()):
                continue  # a blank row of the editor
            rule: dict[str, Any] = {"to": target.strip()}
            if origin.strip():
                rule["from"] = origin.strip()
            else:
                rule["value"] = value.strip()
            rules.append(rule)
        tags = [t.strip() for t in self.tags.split(",") if t.strip()]
        return {"rules": rules, "tags": tags, "teamId": self.team_id.strip() or None}


class ReplayPayloadForm(Form):
    payload_id: str = ""


def _editor_rows(mapping: SourceMapping) -> list[dict[str, str]]:
    rows = [
        {
            "from": rule.from_ or "",
            "to": rule.to,
            "value": "" if rule.value is None else str(rule.value),
        }
        for rule in mapping.rules
    ]
    return rows + [{"from": "", "to": "", "value": ""}] * BLANK_RULES


def _targets() -> list[str]:
    return [*LEAD_TARGETS, "custom:"]


async def _list_context(session: Session, current: InTenant, form: SourceForm) -> dict[str, Any]:
    sources = await service.list_sources(session, current.tenant.id)
    return {"sources": sources, "form": form, "kinds": KINDS, "kind_labels": KIND_LABELS}


@router.get("/sources", include_in_schema=False)
async def sources_page(request: Request, session: Session, current: InTenant) -> Response:
    context = await _list_context(session, current, SourceForm())
    return render(request, "console/sources.html", context)


@router.post("/sources", include_in_schema=False)
async def create_source(request: Request, session: Session, current: Manager) -> Response:
    form = SourceForm.read(await request.form())
    settings = get_settings(request)
    body: dict[str, Any] = {"name": form.name.strip(), "kind": form.kind}
    if form.kind == "json":
        body["verification"] = form.verification
    if form.secret.strip():
        body["secret"] = form.secret.strip()
    try:
        try:
            data = SourceCreate.model_validate(body)
        except ValidationError as error:
            raise invalid_fields(error) from None
        source, secret = await service.create_source(
            session,
            settings,
            tenant_id=current.tenant.id,
            data=data,
            actor=member_actor(current.user, current.role),
        )
    except ApiError as error:
        context = await _list_context(session, current, form)
        raise refuse(request, error, "console/sources.html", context) from None
    context = {
        "source": service.source_out(settings, source),
        "secret": secret,
        "kind_labels": KIND_LABELS,
    }
    return render(request, "console/source_secret.html", context, status=201)


async def _source_context(
    request: Request,
    session: Session,
    current: InTenant,
    source_id: str,
    mapping: SourceMapping | None = None,
) -> dict[str, Any]:
    settings = get_settings(request)
    source = await service.get_source(session, current.tenant.id, source_id)
    shown = mapping or service.mapping_of(source)
    payloads, has_more = await service.list_payloads(
        session, current.tenant.id, source_id, outcome=None, before=None, limit=25
    )
    preview = await service.preview(
        session,
        settings,
        tenant_id=current.tenant.id,
        source_id=source_id,
        mapping=shown,
        payload_id=None,
    )
    return {
        "source": service.source_out(settings, source),
        "kind_labels": KIND_LABELS,
        "rows": _editor_rows(shown),
        "tags": ", ".join(shown.tags),
        "team_id": shown.team_id or "",
        "targets": _targets(),
        "payloads": payloads,
        "more_payloads": has_more,
        "preview": preview,
    }


@router.get("/sources/{source_id}", include_in_schema=False)
async def source_page(
    request: Request, source_id: str, session: Session, current: InTenant
) -> Response:
    with page_errors():
        context = await _source_context(request, session, current, source_id)
    return render(request, "console/source.html", context)


def _read_mapping(form: MappingForm) -> SourceMapping:
    try:
        return SourceMapping.model_validate(form.mapping_body())
    except ValidationError as error:
        raise invalid_fields(error) from None


@router.post("/sources/{source_id}/preview", include_in_schema=False)
async def preview_fragment(
    request: Request, source_id: str, session: Session, current: InTenant
) -> Response:
    """The editor's live preview: what the mapping being edited makes of the last payload."""
    form = MappingForm.read(await request.form())
    try:
        preview = await service.preview(
            session,
            get_settings(request),
            tenant_id=current.tenant.id,
            source_id=source_id,
            mapping=_read_mapping(form),
            payload_id=None,
        )
    except ApiError as error:
        if error.status_code == 404:
            raise page_error(error) from None
        preview = MappingPreview(
            payload_id=None,
            fields={},
            attribution={},
            outcome="failed",
            error={"error": error.code, "message": error.message, "details": error.details},
        )
    return render(request, "console/_source_preview.html", {"preview": preview})


@router.post("/sources/{source_id}/mapping", include_in_schema=False)
async def save_mapping(
    request: Request, source_id: str, session: Session, current: Manager
) -> Response:
    form = MappingForm.read(await request.form())
    try:
        mapping = _read_mapping(form)
        await service.update_source(
            session,
            get_settings(request),
            tenant_id=current.tenant.id,
            source_id=source_id,
            data=SourceUpdate(mapping=mapping),
            actor=member_actor(current.user, current.role),
        )
    except ApiError as error:
        if error.status_code == 404:
            raise page_error(error) from None
        context = await _source_context(request, session, current, source_id)
        raise refuse(request, error, "console/source.html", context) from None
    return redirect(f"/console/sources/{source_id}?saved=1")


@router.post("/sources/{source_id}/enabled", include_in_schema=False)
async def enable_source(
    request: Request, source_id: str, session: Session, current: Manager
) -> Response:
    form = await request.form()
    with page_errors():
        await service.update_source(
            session,
            get_settings(request),
            tenant_id=current.tenant.id,
            source_id=source_id,
            data=SourceUpdate(enabled=form.get("enabled") == "true"),
            actor=member_actor(current.user, current.role),
        )
    return redirect(f"/console/sources/{source_id}")


@router.post("/sources/{source_id}/replay", include_in_schema=False)
async def replay_payload(
    request: Request, source_id: str, session: Session, current: Manager
) -> Response:
    form = ReplayPayloadForm.read(await request.form())
    with page_errors():
        payload = await service.replay(
            session,
            get_settings(request),
            tenant_id=current.tenant.id,
            source_id=source_id,
            payload_id=form.payload_id,
        )
    return redirect(f"/console/sources/{source_id}?replayed={payload.id}&outcome={payload.outcome}")


@router.post("/sources/{source_id}/delete", include_in_schema=False)
async def delete_source(
    request: Request, source_id: str, session: Session, current: Manager
) -> Response:
    with page_errors():
        await service.delete_source(
            session,
            get_settings(request),
            tenant_id=current.tenant.id,
            source_id=source_id,
            actor=member_actor(current.user, current.role),
        )
    return redirect("/console/sources")
