"""Prefect events a run emits with its counts, so users can attach automations to them.

- ``onramp.plan.completed``, ``onramp.migration.completed``, ``onramp.sync.completed`` (or
  ``…failed`` when the load stopped): the run's ledger, and the load's failed rows;
- ``onramp.rejects.threshold-exceeded``: more than the run's ``rejects_alert_fraction`` of the
  rows read were rejected (a wrong export, a broken column), worth a person's look before the
  next scheduled run sends anything.

The resource is the run's output folder, so an automation can watch one migration or all of
them (``onramp.output.*``); Prefect relates the event to the flow run that emitted it. Events
carry counts only: no email, no token.
"""

from __future__ import annotations

from typing import Any

from prefect.events import emit_event

DEFAULT_REJECTS_ALERT_FRACTION = 0.05
REJECTS_EXCEEDED = "onramp.rejects.threshold-exceeded"
RESOURCE_PREFIX = "onramp.output."


def run_kind(report: dict) -> str:
    """What the run was, by what its report holds: ``sync``, ``migration`` or ``plan``."""
    if "sync" in report:
        return "sync"
    if report.keys() & {"load", "dry_run", "load_stopped"}:
        return "migration"
    return "plan"


def run_events(report: dict, rejects_alert_fraction: float = DEFAULT_REJECTS_ALERT_FRACTION) -> list[tuple[str, dict[str, Any]]]:
    """The events a finished (or stopped) run emits, as ``(name, payload)``, without sending them.

    Args:
        report: The run report (``report.json``'s content).
        rejects_alert_fraction: Rejected rows over rows read above which the threshold event
            is emitted.
    """
    read = report["rows_read"]
    fraction = report["rows_rejected"] / read if read else 0.0
    counts: dict[str, Any] = {
        "rows_read": read,
        "rows_rejected": report["rows_rejected"],
        "rejected_fraction": round(fraction, 6),
        "duplicates_merged": report["duplicates_merged"],
        "contacts": dict(report["contacts"]),
    }
    if "load" in report:
        counts["rows_failed"] = report["load"]["rows_failed"]
        counts["opted_out_in_hubspot"] = report["load"]["opt_outs"]["unsubscribed"]
    if "sync" in report:
        counts["sync"] = {key: value for key, value in report["sync"].items() if isinstance(value, int)}
    ending = "failed" if "load_stopped" in report else "completed"
    events = [(f"onramp.{run_kind(report)}.{ending}", counts)]
    if fraction > rejects_alert_fraction:
        events.append((REJECTS_EXCEEDED, {**counts, "threshold": rejects_alert_fraction}))
    return events


def emit_run_events(report: dict, location: str, rejects_alert_fraction: float = DEFAULT_REJECTS_ALERT_FRACTION) -> list[str]:
    """Emit the run's events (see :func:`run_events`) about its output folder ``location``.

    Returns:
        The names of the events emitted.
    """
    resource = {"prefect.resource.id": f"{RESOURCE_PREFIX}{location}", "prefect.resource.name": location}
    events = run_events(report, rejects_alert_fraction)
    for name, payload in events:
        emit_event(name, resource=resource, payload=payload)
    return [name for name, _ in events]
