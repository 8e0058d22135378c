"""The plan: from extracted export files to import files, opt-out files, rejects and the ledger.

``plan_sources`` is the whole plan as one plain function, so tests and benchmarks run it
without the Prefect engine; ``tasks.steps`` wraps it as one task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from schemas.contact import CanonicalContactSchema
from schemas.mailchimp import REJECT_REASONS, export_file_schema
from tasks.extract.mailchimp import RawSource
from tasks.import_files import PlanLimits, write_plan
from tasks.output import OutputFolder
from tasks.property_groups import add_property_groups
from tasks.report import SourceSummary, build_report, write_rejects, write_report
from tasks.transform.consent import ConsentPolicy
from tasks.transform.contacts import map_rows, merge_contacts
from tasks.transform.profile import CustomProperty, SourceProfile
from tasks.validate import split_rejects


def plan_sources(
    raws: Sequence[RawSource],
    out: OutputFolder,
    profile: SourceProfile,
    policy: ConsentPolicy,
    limits: PlanLimits = PlanLimits(),
    profiles: Mapping[str, tuple[SourceProfile, ConsentPolicy]] | None = None,
) -> dict:
    """Validate, transform and merge every file; write the plan, rejects and report.

    Args:
        raws: The extracted files, in input order (their staging folder must still exist).
        out: The run's output folder.
        profile: The source format's profile.
        policy: The run's consent policy.
        limits: Per-file limits for the import files.
        profiles: Each file's own profile and consent policy by ``raw.format``, when the sources
            mix formats; a format not in it uses ``profile`` and ``policy``.

    Returns:
        The report, as written to ``report.json``.
    """
    validated = [
        split_rejects(raw.frame.collect(), export_file_schema(raw.status, raw.email_column), REJECT_REASONS, raw.uri)
        for raw in raws
    ]
    mapped = [
        map_rows(v.accepted, raw.headers, raw.email_column, raw.uri, *(profiles or {}).get(raw.format, (profile, policy)))
        for raw, v in zip(raws, validated, strict=True)
    ]
    contacts = merge_contacts([m.frame for m in mapped])
    CanonicalContactSchema.validate(contacts)

    customs: dict[str, CustomProperty] = {}
    for rows in mapped:
        for prop in rows.custom_properties:
            customs.setdefault(prop.name, prop)
    plan = write_plan(contacts, profile, list(customs.values()), out, limits)
    plan = add_property_groups(plan, [p for p, _ in (profiles or {}).values()], out)
    write_rejects([v.rejects for v in validated], out)
    sources = [
        SourceSummary(raw.uri, raw.format, raw.status, rows=v.accepted.height + v.rejects.height, rejected=v.rejects.height)
        for raw, v in zip(raws, validated, strict=True)
    ]
    routes = [route.as_dict() for rows in mapped for route in rows.routes]
    report = build_report(sources, contacts, routes, plan)
    write_report(report, out)
    return report
