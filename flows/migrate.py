"""The one-off migration (backfill): plan, then load into one HubSpot portal.

``plan_contacts`` only plans (no HubSpot); ``migrate_contacts`` plans and loads. Both are thin
wiring of the tasks in ``tasks/``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from prefect import flow

from schemas.params import MigrationParameters, PlanParameters
from tasks.load.client import HubSpotPortal, resolve_token
from tasks.load.run import load_plan_task
from tasks.output import OutputFolder
from tasks.import_files import PlanLimits
from tasks.steps import extract_source, plan, publish_report
from tasks.transform.profile import load_profile

PROFILE = "mailchimp"


def check_parameters(params: PlanParameters) -> None:
    """Fail fast, before any task runs, on a consent policy that cannot be applied.

    Raises:
        InputError: An override names an unknown outcome or re-maps an opt-out status.
    """
    load_profile(PROFILE).consent.with_overrides(params.consent_overrides)


def _plan(params: PlanParameters, out: OutputFolder) -> dict:
    profile = load_profile(PROFILE)
    policy = profile.consent.with_overrides(params.consent_overrides)
    limits = PlanLimits(max_rows=params.max_rows_per_file, max_bytes=params.max_bytes_per_file)
    with tempfile.TemporaryDirectory(prefix="onramp-staging-") as staging:
        raws = [raw for source in params.sources for raw in extract_source(source, Path(staging))]
        return plan(raws, out, profile, policy, limits)


@flow(name="onramp-plan", validate_parameters=True)
def plan_contacts(params: PlanParameters) -> dict:
    """Extract, validate and transform the sources; write the plan and report. Talks to no HubSpot."""
    out = OutputFolder(params.output)
    report = _plan(params, out)
    publish_report(report, out)
    return report


@flow(name="onramp-migrate", validate_parameters=True)
def migrate_contacts(params: MigrationParameters) -> dict:
    """Plan the sources, then load the plan into one HubSpot portal and report both.

    The token is resolved before any work, so a missing one fails in seconds, not after the plan.
    """
    portal = HubSpotPortal(params.portal_url, resolve_token(params.token_secret_block, params.token_env))
    out = OutputFolder(params.output)
    report = _plan(params, out)
    report["load"] = load_plan_task(portal, out.local)
    publish_report(report, out)
    return report
