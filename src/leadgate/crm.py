"""The CRM areas (contacts, deals and pipelines, activities, automations, reports), mounted
together under the API prefixes."""

from __future__ import annotations

from fastapi import APIRouter

from leadgate.activities.router import router as activities_router
from leadgate.automations.router import router as automations_router
from leadgate.contacts.router import router as contacts_router
from leadgate.deals.router import router as deals_router
from leadgate.reports.router import router as reports_router

routers: tuple[APIRouter, ...] = (
    contacts_router,
    deals_router,
    activities_router,
    automations_router,
    reports_router,
)
