"""A whole plan into HubSpot: properties, then opt-outs, then imports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.load import settings
from tasks.load.client import HubSpotPortal
from tasks.load.imports import import_contacts_files
from tasks.load.log import get_logger
from tasks.load.optouts import apply_opt_outs
from tasks.load.plan import read_plan
from tasks.load.properties import ensure_properties


def load_plan(
    portal: HubSpotPortal,
    plan_dir: str | Path,
    *,
    poll_interval: float = settings.IMPORT_POLL_INTERVAL_SECONDS,
) -> dict[str, Any]:
    """Load a plan directory into a portal.

    The order matters: properties exist before any import maps a column to them, and opt-outs
    are recorded before any import could make one of those addresses a marketing contact.

    Args:
        portal: The portal.
        plan_dir: The planner's output directory (local).
        poll_interval: Seconds between import status polls.

    Returns:
        The load report, JSON-serialisable (the run report keeps it under ``"load"``)::

            {"portal": url,
             "properties": {"group", "created", "existing", "type_mismatches"},
             "opt_outs": {"files": [{"file", "status", "rows", "addresses", "unsubscribed",
                                     "failed", "mode"}],
                          "unsubscribed": N, "failed": N},
             "imports": [{"file", "name", "outcome", "marketable", "rows", "import_id",
                          "previous_import_ids", "state", "attempts", "counters", "list_ids",
                          "rows_failed", "rows_with_value_errors"}],
             "lists": [{"list_id", "file", "import_id"}],
             "errors": [{"file", "line", "error_type", "scope", "message", "sources", ...}],
             "rows_failed": N, "rows_with_value_errors": N}

        ``rows_failed`` counts the rows of the plan that did not make it: distinct failed lines
        of finished imports and opt-out files, and every row of an import that did not end DONE.
        ``rows_with_value_errors`` counts rows imported with a value HubSpot refused (``scope``
        ``value`` errors say which).

    Raises:
        LoadError: The load cannot go on; the message says why and what to do.
    """
    plan = read_plan(plan_dir)
    logger = get_logger()
    logger.info(
        "loading %d import files and %d opt-out files into %s", len(plan.imports), len(plan.opt_outs), portal.url
    )
    properties = ensure_properties(portal, plan)
    opt_outs = apply_opt_outs(portal, plan)
    imports = import_contacts_files(portal, plan, poll_interval=poll_interval)
    errors = opt_outs.pop("errors")
    for result in imports:
        errors.extend(result.pop("errors"))
    report = {
        "portal": portal.url,
        "properties": properties,
        "opt_outs": opt_outs,
        "imports": imports,
        "lists": [
            {"list_id": list_id, "file": result["file"], "import_id": result["import_id"]}
            for result in imports
            for list_id in result["list_ids"]
        ],
        "errors": errors,
        "rows_failed": opt_outs["failed"] + sum(result["rows_failed"] for result in imports),
        "rows_with_value_errors": sum(result["rows_with_value_errors"] for result in imports),
    }
    logger.info("load finished: %d rows failed", report["rows_failed"])
    return report


load_plan_task = task(
    load_plan,
    name="hubspot-load-plan",
    task_run_name="load plan into HubSpot",
    retries=0,
    cache_policy=NO_CACHE,
)
