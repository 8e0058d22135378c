"""A run's Prefect events, read back from the server as an automation would see them."""

from __future__ import annotations

import time

from prefect import get_client
from prefect.events.filters import EventFilter, EventResourceFilter

from flows.cli import SAMPLE_EXPORT
from flows.migrate import plan_contacts
from schemas.params import PlanParameters
from tasks.events import REJECTS_EXCEEDED, RESOURCE_PREFIX, run_events

# The server stores events a little after they are sent: read until they are there.
READ_ATTEMPTS = 60


def events_about(resource_id: str, expected: int) -> list:
    """The server's events about one resource, once ``expected`` of them are stored."""
    with get_client(sync_client=True) as client:
        for _ in range(READ_ATTEMPTS):
            events = client.read_events(EventFilter(resource=EventResourceFilter(id=[resource_id])), limit=50).events
            if len(events) >= expected:
                return events
            time.sleep(0.5)
    return events


def test_a_plan_emits_its_counts_and_the_rejects_alert(prefect_api_url, tmp_path):
    out = str(tmp_path / "plan")
    report = plan_contacts(PlanParameters(sources=[str(SAMPLE_EXPORT)], output=out, rejects_alert_fraction=0.01))

    events = {event.event: event for event in events_about(f"{RESOURCE_PREFIX}{out}", expected=2)}

    assert set(events) == {"onramp.plan.completed", REJECTS_EXCEEDED}
    completed = events["onramp.plan.completed"].payload
    assert completed["rows_read"] == report["rows_read"]
    assert completed["contacts"] == report["contacts"]
    assert events[REJECTS_EXCEEDED].payload["threshold"] == 0.01
    assert events[REJECTS_EXCEEDED].payload["rows_rejected"] == report["rows_rejected"] > 0
    assert any(r.id.startswith("prefect.flow-run.") for r in events["onramp.plan.completed"].related)


def test_the_event_names_follow_the_run_and_the_alert_its_threshold():
    ledger = {"rows_read": 100, "rows_rejected": 5, "duplicates_merged": 0, "contacts": {"marketing": 95, "non_marketing": 0, "opted_out": 0}}
    load = {"rows_failed": 0, "opt_outs": {"unsubscribed": 0}}

    assert [name for name, _ in run_events(ledger)] == ["onramp.plan.completed"]
    assert [name for name, _ in run_events(ledger, 0.04)] == ["onramp.plan.completed", REJECTS_EXCEEDED]
    assert [name for name, _ in run_events({**ledger, "load": load})] == ["onramp.migration.completed"]
    assert [name for name, _ in run_events({**ledger, "load_stopped": "daily quota"})] == ["onramp.migration.failed"]
    assert [name for name, _ in run_events({**ledger, "load": load, "sync": {"upserted": 3}})] == ["onramp.sync.completed"]
    assert run_events({**ledger, "rows_read": 0, "rows_rejected": 0}, 0.0)[0][1]["rejected_fraction"] == 0.0
