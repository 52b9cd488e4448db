"""HTTP routes of pipelines, stages and deals."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.contacts.csv_format import stream_records, text
from leadgate.db import Session
from leadgate.deals import service
from leadgate.deals.auth import DealsRead, DealsWrite
from leadgate.deals.repository import DealFilters, DealRepository
from leadgate.deals.schemas import (
    MAX_PAGE,
    DealCreate,
    DealHistory,
    DealOut,
    DealPage,
    DealStatus,
    DealUpdate,
    Deleted,
    PipelineCreate,
    PipelineList,
    PipelineOut,
    PipelineUpdate,
    StageCreate,
    StageUpdate,
)
from leadgate.idempotency.route import IdempotentRoute
from leadgate.leads.repository import Position
from leadgate.openapi import request_body
from leadgate.payload import read_body
from leadgate.responses import CONFLICT_RESPONSE, ERROR_RESPONSES, csv_download

router = APIRouter(tags=["deals"], responses=ERROR_RESPONSES, route_class=IdempotentRoute)


# --- pipelines -------------------------------------------------------------------------------


@router.get("/pipelines", response_model=PipelineList, summary="List pipelines")
async def list_pipelines(principal: DealsRead, session: Session) -> PipelineList:
    """Every pipeline with its stages in order; the default pipeline exists from the start."""
    return await service.list_pipelines(session, principal)


@router.post(
    "/pipelines",
    status_code=201,
    response_model=PipelineOut,
    summary="Create a pipeline",
    openapi_extra=request_body(PipelineCreate),
)
async def create_pipeline(request: Request, principal: DealsWrite, session: Session) -> PipelineOut:
    """Stages are given in order; each is `open`, `won` or `lost` with a probability (percent;
    by default 50, 100 and 0)."""
    data = await read_body(request, PipelineCreate)
    return await service.create_pipeline(session, principal, data)


@router.get("/pipelines/{pipeline_id}", response_model=PipelineOut, summary="Get a pipeline")
async def get_pipeline(pipeline_id: str, principal: DealsRead, session: Session) -> PipelineOut:
    return await service.get_pipeline(session, principal, pipeline_id)


@router.patch(
    "/pipelines/{pipeline_id}",
    response_model=PipelineOut,
    summary="Rename a pipeline or make it the default",
    openapi_extra=request_body(PipelineUpdate),
)
async def update_pipeline(
    request: Request, pipeline_id: str, principal: DealsWrite, session: Session
) -> PipelineOut:
    data = await read_body(request, PipelineUpdate)
    return await service.update_pipeline(session, principal, pipeline_id, data)


@router.delete(
    "/pipelines/{pipeline_id}",
    response_model=Deleted,
    summary="Delete a pipeline",
    responses=CONFLICT_RESPONSE,
)
async def delete_pipeline(pipeline_id: str, principal: DealsWrite, session: Session) -> Deleted:
    """409 `pipeline_in_use` for the default pipeline or one that still has deals."""
    return await service.delete_pipeline(session, principal, pipeline_id)


@router.post(
    "/pipelines/{pipeline_id}/stages",
    status_code=201,
    response_model=PipelineOut,
    summary="Add a stage",
    openapi_extra=request_body(StageCreate),
)
async def add_stage(
    request: Request, pipeline_id: str, principal: DealsWrite, session: Session
) -> PipelineOut:
    data = await read_body(request, StageCreate)
    return await service.add_stage(session, principal, pipeline_id, data)


@router.patch(
    "/pipelines/{pipeline_id}/stages/{stage_id}",
    response_model=PipelineOut,
    summary="Change or move a stage",
    openapi_extra=request_body(StageUpdate),
    responses=CONFLICT_RESPONSE,
)
async def update_stage(
    request: Request, pipeline_id: str, stage_id: str, principal: DealsWrite, session: Session
) -> PipelineOut:
    """`position` moves the stage (the others shift); a stage holding deals keeps its kind."""
    data = await read_body(request, StageUpdate)
    return await service.update_stage(session, principal, pipeline_id, stage_id, data)


@router.delete(
    "/pipelines/{pipeline_id}/stages/{stage_id}",
    response_model=PipelineOut,
    summary="Delete a stage",
    responses=CONFLICT_RESPONSE,
)
async def delete_stage(
    pipeline_id: str, stage_id: str, principal: DealsWrite, session: Session
) -> PipelineOut:
    """409 `pipeline_in_use` while deals are in the stage, or for a pipeline's last stage."""
    return await service.delete_stage(session, principal, pipeline_id, stage_id)


# --- deals -----------------------------------------------------------------------------------


@router.post(
    "/deals",
    status_code=201,
    response_model=DealOut,
    summary="Create a deal",
    openapi_extra=request_body(DealCreate),
)
async def create_deal(request: Request, principal: DealsWrite, session: Session) -> DealOut:
    """`amount` is in minor units (cents) of `currency`. Without `stageId` the deal enters the
    first stage of `pipelineId` (or of the default pipeline)."""
    data = await read_body(request, DealCreate)
    return await service.create_deal(session, principal, data)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


async def deal_filter_params(
    principal: DealsRead,
    status: DealStatus | None = None,
    pipeline_id: Annotated[str | None, Query(alias="pipelineId", max_length=40)] = None,
    stage_id: Annotated[str | None, Query(alias="stageId", max_length=40)] = None,
    contact_id: Annotated[str | None, Query(alias="contactId", max_length=40)] = None,
    team_id: Annotated[str | None, Query(alias="teamId", max_length=40)] = None,
    owner_id: Annotated[str | None, Query(alias="ownerId", max_length=40)] = None,
    close_after: Annotated[
        date | None, Query(alias="closeAfter", description="Expected close date, inclusive.")
    ] = None,
    close_before: Annotated[
        date | None, Query(alias="closeBefore", description="Expected close date, exclusive.")
    ] = None,
    created_after: Annotated[datetime | None, Query(alias="createdAfter")] = None,
    created_before: Annotated[datetime | None, Query(alias="createdBefore")] = None,
) -> DealFilters:
    return DealFilters(
        status=status,
        pipeline_id=pipeline_id,
        stage_id=stage_id,
        contact_id=contact_id,
        team_id=team_id,
        owner_id=owner_id,
        close_after=close_after,
        close_before=close_before,
        created_after=_utc(created_after),
        created_before=_utc(created_before),
        team_ids=None if principal.team_scope == "all-accounts" else principal.team_ids,
    )


Filters = Annotated[DealFilters, Depends(deal_filter_params)]


@router.get("/deals", response_model=DealPage, summary="List deals")
async def list_deals(
    principal: DealsRead,
    session: Session,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 25,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> DealPage:
    """Deals newest first; pass `nextCursor` as `cursor` for the next page."""
    return await service.list_deals(session, principal, filters, cursor=cursor, limit=limit)


DEAL_COLUMNS = (
    "id", "name", "amount", "currency", "pipelineId", "stageId", "status", "contactId",
    "leadId", "teamId", "ownerId", "expectedCloseDate", "closedAt", "createdAt", "updatedAt",
)  # fmt: skip


def _deal_row(deal: Any) -> list[str]:
    out = service.deal_out({c.key: getattr(deal, c.key) for c in deal.__table__.columns})
    values = out.model_dump(by_alias=True)
    return [text(values[column]) for column in DEAL_COLUMNS]


@router.get(
    "/deals/export.csv",
    response_class=StreamingResponse,
    summary="Export deals as CSV",
    responses={200: {"content": {"text/csv": {}}, "description": "The matching deals"}},
)
async def export_deals(request: Request, principal: DealsRead, filters: Filters) -> Any:
    """Streams every matching deal (the list's filters) as CSV, newest first; amounts in minor
    units."""
    tenant_id = principal.tenant_id

    async def page(session: AsyncSession, after: Position | None, limit: int) -> Any:
        return await DealRepository(session, tenant_id).page(filters, after=after, limit=limit)

    stream = stream_records(
        request.app.state.database,
        DEAL_COLUMNS,
        page,
        _deal_row,
        request.app.state.settings.export_batch_size,
    )
    return csv_download(stream, "deals.csv")


@router.get("/deals/{deal_id}", response_model=DealOut, summary="Get a deal")
async def get_deal(deal_id: str, principal: DealsRead, session: Session) -> DealOut:
    return await service.get_deal(session, principal, deal_id)


@router.patch(
    "/deals/{deal_id}",
    response_model=DealOut,
    summary="Update or move a deal",
    openapi_extra=request_body(DealUpdate),
)
async def update_deal(
    request: Request, deal_id: str, principal: DealsWrite, session: Session
) -> DealOut:
    """`stageId` moves the deal (the move is kept in its history); entering a won stage emits
    `deal.won`, a lost stage `deal.lost`, and closes the deal (`closedAt`)."""
    data = await read_body(request, DealUpdate)
    return await service.update_deal(session, principal, deal_id, data)


@router.delete("/deals/{deal_id}", response_model=Deleted, summary="Delete a deal")
async def delete_deal(deal_id: str, principal: DealsWrite, session: Session) -> Deleted:
    return await service.delete_deal(session, principal, deal_id)


@router.get("/deals/{deal_id}/history", response_model=DealHistory, summary="A deal's stages")
async def deal_history(deal_id: str, principal: DealsRead, session: Session) -> DealHistory:
    """Every stage the deal entered, oldest first, with who moved it."""
    return DealHistory(data=await service.deal_history(session, principal, deal_id))
