"""The plan's steps as Prefect tasks: thin wrappers over the plain functions.

Each task works on a whole source or file, never on a row, so the number of task runs
grows with the number of files, not with the size of the export.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from schemas.contact import CanonicalContactSchema
from schemas.mailchimp import REJECT_REASONS, export_file_schema
from tasks.extract.mailchimp import RawSource, read_export
from tasks.output import OutputFolder
from tasks.plan import PlanLimits, write_plan
from tasks.report import SourceSummary, build_report, markdown_report, summary_rows, write_rejects, write_report
from tasks.transform.consent import ConsentPolicy
from tasks.transform.contacts import ContactRows, map_rows, merge_contacts
from tasks.transform.profile import CustomProperty, SourceProfile
from tasks.validate import ValidatedFile, split_rejects


@task(name="extract-source", task_run_name="extract {source}", cache_policy=NO_CACHE)
def extract_source(source: str, staging_dir: Path) -> list[RawSource]:
    """Stage a source and read each of its export files lazily."""
    files = read_export(source, staging_dir)
    get_run_logger().info("%s: %d export file(s)", source, len(files))
    return files


@task(name="validate-file", cache_policy=NO_CACHE)
def validate_file(raw: RawSource) -> ValidatedFile:
    """Check one file against its kind's schema; unusable rows become rejects."""
    validated = split_rejects(raw.frame.collect(), export_file_schema(raw.status, raw.email_column), REJECT_REASONS, raw.uri)
    get_run_logger().info(
        "%s: %d rows accepted, %d rejected", raw.uri, validated.accepted.height, validated.rejects.height
    )
    return validated


@task(name="map-file", cache_policy=NO_CACHE)
def map_file(raw: RawSource, accepted: pl.DataFrame, profile: SourceProfile, policy: ConsentPolicy) -> ContactRows:
    """Map one file's accepted rows to HubSpot properties and consent outcomes."""
    return map_rows(accepted, raw.headers, raw.email_column, raw.uri, profile, policy)


@task(name="merge-contacts", cache_policy=NO_CACHE)
def merge(files: list[pl.LazyFrame]) -> pl.DataFrame:
    """One contact per email, most restrictive outcome winning; checked against the contract."""
    contacts = merge_contacts(files)
    CanonicalContactSchema.validate(contacts)
    return contacts


@task(name="write-plan", cache_policy=NO_CACHE)
def write_outputs(
    contacts: pl.DataFrame,
    validated: list[tuple[RawSource, ValidatedFile]],
    mapped: list[ContactRows],
    profile: SourceProfile,
    out: OutputFolder,
    limits: PlanLimits,
) -> dict:
    """Write the import files, opt-out files, rejects and report; returns the report."""
    customs: dict[str, CustomProperty] = {}
    for rows in mapped:
        for prop in rows.custom_properties:
            customs.setdefault(prop.name, prop)
    plan = write_plan(contacts, profile, list(customs.values()), out, limits)
    write_rejects([v.rejects for _, v in validated], out)
    sources = [
        SourceSummary(
            uri=raw.uri,
            format=raw.format,
            status=raw.status,
            rows=v.accepted.height + v.rejects.height,
            rejected=v.rejects.height,
        )
        for raw, v in validated
    ]
    routes = [route.as_dict() for rows in mapped for route in rows.routes]
    report = build_report(sources, contacts, routes, plan)
    write_report(report, out)
    return report


@task(name="publish-report", cache_policy=NO_CACHE)
def publish_report(report: dict, out: OutputFolder) -> None:
    """Write the final report, upload the output folder, and publish the run's artifacts."""
    location = write_report(report, out)
    out.publish()
    create_table_artifact(summary_rows(report), key="onramp-ledger", description="Rows read and rejected per source file")
    create_markdown_artifact(markdown_report(report), key="onramp-report", description=f"Run report ({location})")
