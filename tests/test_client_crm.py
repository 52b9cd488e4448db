"""The Python client's CRM methods against a real server."""

from __future__ import annotations

import pytest

from leadgate.client import Client, LeadgateError
from tests.conftest import Backend
from tests.factories import create_tenant, unique_lead


def test_convert_move_log_and_report(backend: Backend) -> None:
    tenant = create_tenant(backend)
    with Client(tenant.key, backend.url) as leadgate:
        lead = leadgate.create_lead(unique_lead())
        converted = leadgate.convert_lead(
            lead.id, title="CTO", deal={"name": "Acme", "amount": 4200, "currency": "EUR"}
        )
        assert converted.contact.lead_id == lead.id
        assert converted.deal is not None
        with pytest.raises(LeadgateError) as refused:
            leadgate.convert_lead(lead.id)
        assert refused.value.error == "lead_already_converted"
        stages = leadgate.list_pipelines()[0].stages
        won = leadgate.update_deal(converted.deal.id, stage_id=stages[3].id)
        assert won.status == "won"
        assert [c.to_stage_id for c in leadgate.deal_history(won.id)] == [
            stages[0].id,
            stages[3].id,
        ]
        note = leadgate.create_activity(
            kind="note", record_type="deal", record_id=won.id, subject="Signed"
        )
        timeline = leadgate.timeline("deal", won.id)
        assert note.id in {e.id for e in timeline.data}
        assert leadgate.get_contact(converted.contact.id) == converted.contact
        assert [c.id for c in leadgate.list_contacts().data] == [converted.contact.id]
        assert [d.id for d in leadgate.list_deals(status="won").data] == [won.id]
        rule = leadgate.create_automation(
            {"name": "Task", "eventType": "deal.won",
             "actions": [{"type": "create_task", "subject": "Kick-off"}]}
        )  # fmt: skip
        run = leadgate.trigger_automation(rule.id, "deal", won.id)
        assert run.matched
        assert run.actions_taken == [{"type": "create_task", "subject": "Kick-off"}]
        funnel = leadgate.report("funnel")
        assert [s["count"] for s in funnel["data"]] == [1, 1, 1, 1]
        revenue = leadgate.report("revenue", period="month")
        assert revenue["data"][0]["amount"] == 4200
