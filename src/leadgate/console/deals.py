"""The pipeline board: a pipeline's stages as columns of deals; a deal moved by dragging it or
by its own Move form (the keyboard path); new deals."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from leadgate.console.auth import InTenant, check_csrf
from leadgate.console.contacts import (
    form_values,
    given_values,
    member_principal_of,
    minor_units,
    parse_body,
)
from leadgate.console.rendering import page_errors, redirect, refuse, render
from leadgate.db import Session
from leadgate.deals import service as deals
from leadgate.deals.repository import DealFilters
from leadgate.deals.schemas import DealCreate, DealUpdate
from leadgate.errors import ApiError

router = APIRouter(prefix="/console", dependencies=[Depends(check_csrf)])
BOARD_SIZE = 100

# --- the pipeline board ----------------------------------------------------------------------


async def _board_context(request: Request, session: Session, current: InTenant) -> dict[str, Any]:
    principal = member_principal_of(current)
    pipelines = (await deals.list_pipelines(session, principal)).data
    wanted = request.query_params.get("pipeline")
    pipeline = next((p for p in pipelines if p.id == wanted), None) or next(
        p for p in pipelines if p.is_default
    )
    page = await deals.list_deals(
        session, principal, DealFilters(pipeline_id=pipeline.id), cursor=None, limit=BOARD_SIZE
    )
    columns = [
        {"stage": stage, "deals": [d for d in page.data if d.stage_id == stage.id]}
        for stage in pipeline.stages
    ]
    return {
        "pipelines": pipelines,
        "pipeline": pipeline,
        "columns": columns,
        "truncated": page.has_more,
        "form": {},
    }


@router.get("/deals", include_in_schema=False)
async def board_page(request: Request, session: Session, current: InTenant) -> Response:
    return render(request, "console/board.html", await _board_context(request, session, current))


@router.post("/deals", include_in_schema=False)
async def create_deal(request: Request, session: Session, current: InTenant) -> Response:
    values = await form_values(request)
    body = given_values(
        values, ("name", "currency", "pipelineId", "contactId", "expectedCloseDate")
    )
    if values.get("amount"):
        body["amount"] = minor_units(values["amount"])
    try:
        await deals.create_deal(session, member_principal_of(current), parse_body(DealCreate, body))
    except ApiError as error:
        context = {**await _board_context(request, session, current), "form": values}
        raise refuse(request, error, "console/board.html", context) from None
    return redirect(f"/console/deals?pipeline={values.get('pipelineId', '')}")


@router.post("/deals/{deal_id}/stage", include_in_schema=False)
async def move_deal(
    request: Request, deal_id: str, session: Session, current: InTenant
) -> Response:
    values = await form_values(request)
    with page_errors():
        deal = await deals.update_deal(
            session,
            member_principal_of(current),
            deal_id,
            parse_body(DealUpdate, {"stageId": values.get("stageId", "")}),
        )
    back = values.get("back") == "deal"
    return redirect(
        f"/console/deals/{deal.id}" if back else f"/console/deals?pipeline={deal.pipeline_id}"
    )
