"""The plan's steps as Prefect tasks: thin wrappers over the plain functions.

Each task works on a whole source or the whole plan, never on a row, so the number of task
runs grows with the number of sources, not with the size of the export.
"""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from tasks.events import DEFAULT_REJECTS_ALERT_FRACTION, emit_run_events
from tasks.extract.mailchimp import RawSource
from tasks.extract.tables import ReadFile, ReadOptions, read_source
from tasks.import_files import HUBSPOT_DIR, PlanLimits
from tasks.output import OutputFolder
from tasks.plan import Profiles, plan_sources
from tasks.report import REJECTS_FILE, markdown_report, source_warnings, summary_rows, write_report
from tasks.report_html import REPORT_HTML_FILE, reject_reasons, render_report_html


@task(name="extract-files", task_run_name="extract {source}", cache_policy=NO_CACHE)
def extract_files(source: str, staging_dir: Path, options: ReadOptions) -> list[ReadFile]:
    """Stage a source and read each of its files lazily, each recognised by its own profile."""
    files = read_source(source, staging_dir, options)
    for file in files:
        get_run_logger().info("%s: read as %s", file.raw.uri, file.profile.name)
    return files


@task(name="plan", cache_policy=NO_CACHE)
def plan(raws: list[RawSource], out: OutputFolder, profiles: Profiles, limits: PlanLimits) -> dict:
    """Validate, transform and merge every file; write the import files, rejects and report."""
    out.replace_folder(HUBSPOT_DIR)
    report = plan_sources(raws, out, profiles, limits)
    logger = get_run_logger()
    for source in report["sources"]:
        logger.info("%s: %d rows, %d rejected", source["uri"], source["rows"], source["rejected"])
    for line in source_warnings(report):
        logger.warning(line)
    logger.info("contacts: %s; %d duplicate rows merged", report["contacts"], report["duplicates_merged"])
    return report


@task(name="publish-report", cache_policy=NO_CACHE)
def publish_report(report: dict, out: OutputFolder, rejects_alert_fraction: float = DEFAULT_REJECTS_ALERT_FRACTION) -> None:
    """Write the final reports (JSON and HTML), upload the output folder, publish the artifacts
    and emit the run's events (``tasks/events.py``)."""
    location = write_report(report, out)
    reasons = reject_reasons(out.path(REJECTS_FILE))
    out.path(REPORT_HTML_FILE).write_text(render_report_html(report, reasons), encoding="utf-8")
    out.publish()
    create_table_artifact(summary_rows(report), key="onramp-ledger", description="Rows read and rejected per source file")
    create_markdown_artifact(markdown_report(report), key="onramp-report", description=f"Run report ({location})")
    emit_run_events(report, out.url, rejects_alert_fraction)

