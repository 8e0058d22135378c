"""The one-off migration (backfill): plan, then load into one HubSpot portal.

``plan_contacts`` only plans (no HubSpot); ``migrate_contacts`` plans and loads. Both are thin
wiring of the tasks in ``tasks/``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from prefect import flow

from schemas.params import MigrationParameters, PlanParameters
from tasks.output import OutputFolder
from tasks.plan import PlanLimits
from tasks.steps import extract_source, map_file, merge, publish_report, validate_file, write_outputs
from tasks.transform.profile import load_profile

PROFILE = "mailchimp"


def _plan(params: PlanParameters, out: OutputFolder) -> dict:
    profile = load_profile(PROFILE)
    policy = profile.consent.with_overrides(params.consent_overrides)
    limits = PlanLimits(max_rows=params.max_rows_per_file, max_bytes=params.max_bytes_per_file)
    with tempfile.TemporaryDirectory(prefix="onramp-staging-") as staging:
        raws = [raw for source in params.sources for raw in extract_source(source, Path(staging))]
        validated = [(raw, validate_file(raw)) for raw in raws]
        mapped = [map_file(raw, v.accepted, profile, policy) for raw, v in validated]
        contacts = merge([m.frame for m in mapped])
    return write_outputs(contacts, validated, mapped, profile, out, limits)


@flow(name="onramp-plan", validate_parameters=True)
def plan_contacts(params: PlanParameters) -> dict:
    """Extract, validate and transform the sources; write the plan and report. Talks to no HubSpot."""
    out = OutputFolder(params.output)
    report = _plan(params, out)
    publish_report(report, out)
    return report
