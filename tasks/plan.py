"""The plan: from extracted export files to import files, opt-out files, rejects and the ledger.

``plan_sources`` is the whole plan as one plain function, so tests and benchmarks run it
without the Prefect engine; ``tasks.steps`` wraps it as one task.

It streams: each source CSV is parsed once, validated and mapped on the way, into two Parquet
files in a work folder (the file's rejects, its mapped accepted rows), one slice of rows at
a time (memory stays flat); everything after reads those, which is cheap.
Only the emails seen more than once are merged in memory (see ``stream_contacts_by_file``); the
contacts are staged as Parquet once more, one file per outcome, checked against their contract
by pandera, and streamed into the import files.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from pandera.config import ValidationDepth, config_context

from schemas import lineage
from schemas.contact import EMAIL, OUTCOME, CanonicalContactSchema, ContactRowSchema, UniqueEmailSchema
from schemas.mailchimp import REJECT_REASONS, ROW_RULES, export_file_schema
from tasks.errors import InputError
from tasks.extract.api_settings import PER_ROW_STATUS
from tasks.extract.excel import split_sheet
from tasks.extract.mailchimp import RawSource, disagreeing_column
from tasks.extract.text import stray_quote_refusal
from tasks.import_files import PlanLimits, sources_label, write_plan, write_plan_file
from tasks.output import OutputFolder
from tasks.property_groups import add_property_groups
from tasks.report import SourceSummary, build_report, write_rejects, write_report
from tasks.transform.catalog import name_opt_out_of, parsed_time_column, profile_names, unread_status_values
from tasks.transform.consent import OWN_STATUS_HINT, ConsentPolicy, Outcome, first_refused_override
from tasks.transform.contacts import (
    CHANGE_TIMES_UNREAD,
    ContactRows,
    count_unread_change_times,
    email_partitions,
    map_rows,
    stream_contacts_by_file,
)
from tasks.transform.profile import CustomProperty, SourceProfile, load_profile
from tasks.transform.rejected_opt_outs import REPORT_KEY, RejectedFile, RejectedOptOutCounts, named_addresses, opt_out_named, plan_unmatched
from tasks.typed_values import VALUES_DROPPED, longest_cells, too_long_columns, write_value_rejects
from tasks.validate import split_rejects

WORK_FOLDER_PREFIX = ".onramp-work-"
"""The plan's scratch folder, made inside the output folder (so nothing lands elsewhere) and
removed when the plan ends."""


CONCURRENT_SCANS_ENV = {"POLARS_MAX_CONCURRENT_SCANS": "1"}
"""Polars' scan of several files opens and decodes some of them at once, ahead of a slower
consumer, and holds what it decoded: writing the first import file of 3.3M contacts in ten
Parquet files peaked anywhere between 970 and 1,210 MiB at 5M rows, run to run. One file at a
time held 980 MiB every time, for 2-5 % more CPU. Polars reads the variable at each query; a
value the user set is kept."""

ROWS_PER_SLICE = 500_000
"""Rows of a file staged by one query. Polars' CSV reader parses ahead of a slower transform,
holding what it parsed, so one query's memory grows with the rows it reads; a file bigger than
this is staged slice by slice, which keeps memory flat as exports grow. Measured on a 3.5M-row
file: a peak of 1.35 GB in 1M-row slices, 1.05 GB in 500,000-row slices, for the same CPU
(each slice's query skips the rows before it, which costs little)."""


SCRATCH_PARQUET = {"statistics": False, "lazy": True}
"""How the work folder's Parquet files are sunk. No column statistics: nothing reads them
(the files are read whole, or a slice at a time by row count), and computing them for every
string column cost a fifth to a third of the CPU of writing them (a 485,000-row slice: 1.0-1.2
CPU s with them, 0.8 without)."""


@dataclass(frozen=True)
class StagedFile:
    """One source file after its single pass: rejects and mapped rows, staged as Parquet.

    Attributes:
        raw: The extracted file.
        mapped: How its columns were mapped (the frame of its first slice).
        rejects: Its rejects, one Parquet file per slice, in file order.
        accepted: Its mapped accepted rows, one Parquet file per slice, in file order.
        unread_statuses: Its consent values no rule reads (``catalog.unread_status_values``,
            over its rows, rejects included), most rows first: each a dict of
            ``UNREAD_STATUS_COLUMNS`` and the ``outcome`` of the status its rows got.
        duplicate_headers: Its repeated headers, in column order: each a dict of its
            ``column``, its ``copies``, the ``rows_disagreeing`` (rejects included) where
            they hold different non-empty values, and what such a row ``keeps``.
    """

    raw: RawSource
    mapped: ContactRows
    rejects: list[Path]
    accepted: list[Path]
    unread_statuses: tuple[dict, ...] = ()
    duplicate_headers: tuple[dict, ...] = ()

    def counts(self) -> tuple[int, int]:
        """Rows read and rows rejected (from the Parquet metadata: nothing is read)."""
        rejected = pl.scan_parquet(self.rejects, glob=False).select(pl.len()).collect().item()
        accepted = pl.scan_parquet(self.accepted, glob=False).select(pl.len()).collect().item()
        return accepted + rejected, rejected


DEFAULT_PROFILE = "mailchimp"
"""The primary profile of a plan that reads no file."""

Profiles = Mapping[str, tuple[SourceProfile, ConsentPolicy]]
"""Source format → its profile and the run's consent policy for it."""


def consent_profiles(profiles: Iterable[SourceProfile], overrides: Mapping[str, str]) -> dict[str, tuple[SourceProfile, ConsentPolicy]]:
    """Each format's profile with the run's consent overrides applied (opt-outs stay locked).

    The files' profiles already carry the overrides when they were read with them
    (``ReadOptions.consent_overrides``, which also rank a row's readings): applying them again
    changes nothing. This is where a status no profile of the run gives is refused.

    The overrides no run may make whatever its files were refused before any file was read
    (``check_run_overrides``, which every flow calls first); each policy refuses those that
    would weaken its own opt-outs again as they are applied, so a caller that skipped that
    check (a test, a benchmark) still cannot weaken consent for any row it plans.

    Args:
        profiles: The profiles the files were read with, in input order; the first one is the
            run's primary profile (its property group is the plan's). None read: ``DEFAULT_PROFILE``.
        overrides: The run's status → outcome overrides.

    Raises:
        InputError: An override one of the profiles refuses (``ConsentPolicy.with_overrides``:
            it re-maps an opt-out, re-maps ``unrecognised`` or makes a never-marketing status
            marketing), or one naming a status none of the profiles gives a row (a typo, which
            would change nothing).
    """
    read_with = list(profiles) or [load_profile(DEFAULT_PROFILE)]
    # Applied before the statuses are compared: ``unrecognised`` is refused for what it is, not
    # as a status no row has.
    policies = {p.format: (p, p.consent.with_overrides(overrides)) for p in read_with}
    check_override_statuses(overrides, [p.consent for p in read_with])
    return policies


def refused_run_override(overrides: Mapping[str, str], hint: str = "") -> tuple[str, str] | None:
    """The first of a run's overrides no run may make, whatever its files, and why; or None.

    Checked against every bundled profile before any file is read (a file's profile is known
    only from its headers): an override weakening an opt-out of any profile giving that status
    is refused naming those profiles, and so are ``unrecognised`` and a ``NEVER_MARKETING_STATUSES``
    status made marketing (``tasks.transform.consent.first_refused_override``).

    Args:
        overrides: Status → outcome, as given (``--consent``, an account's ``consent_overrides``).
        hint: What to do instead, added to the refusal of an opt-out re-mapped.

    Returns:
        The refused override's status, as given, and why; None when every override may be made.
    """
    policies = {name: load_profile(name).consent for name in profile_names()}
    return first_refused_override(overrides, policies, hint)


def check_run_overrides(overrides: Mapping[str, str]) -> None:
    """Refuse a run's ``--consent`` override no run may make (:func:`refused_run_override`).

    Raises:
        InputError: ``--consent: <why>``, naming the status and the profiles it is an opt-out
            in, and how a value of the user's own file gets an outcome (``OWN_STATUS_HINT``: a
            run may read a mapping file; an account of a manifest reads none, so its refusal
            has no such hint).
    """
    refused = refused_run_override(overrides, OWN_STATUS_HINT)
    if refused:
        raise InputError("--consent", refused[1])


def check_override_statuses(overrides: Mapping[str, str], policies: Sequence[ConsentPolicy]) -> None:
    """Refuse an override naming a status that no policy of the run knows.

    A profile reads every source value into its own closed set of statuses (a value it does not
    know takes its default status), so such an override can match no row: it is a typo
    (``subscibed``), and running on without it would plan what the user meant to change.

    Raises:
        InputError: An override names a status unknown to every policy, with the known ones.
    """
    known = {status for policy in policies for status in policy.outcomes}
    unknown = sorted(status for status in overrides if status.lower() not in known)
    if unknown:
        formats = ", ".join(sorted({policy.format for policy in policies}))
        raise InputError(
            "--consent",
            f"no {formats} row has the status {unknown[0]!r}: the statuses are {', '.join(sorted(known))}",
        )


def plan_sources(
    raws: Sequence[RawSource],
    out: OutputFolder,
    profiles: Profiles,
    limits: PlanLimits = PlanLimits(),
) -> dict:
    """Validate, transform and merge every file; write the plan, rejects and report.

    Args:
        raws: The extracted files, in input order (their staging folder must still exist).
        out: The run's output folder.
        profiles: Every file's format → its profile and consent policy; the first entry is
            the run's primary profile, whose property group is the plan's (see
            :func:`consent_profiles`). The imports and lists are named after every entry.
        limits: Per-file limits for the import files.

    Returns:
        The report, as written to ``report.json``.
    """
    primary = next(iter(profiles.values()))[0]
    for name, value in CONCURRENT_SCANS_ENV.items():
        os.environ.setdefault(name, value)
    with tempfile.TemporaryDirectory(prefix=WORK_FOLDER_PREFIX, dir=out.local) as folder:
        work = Path(folder)
        staged = stage_sources(raws, work, profiles)
        rejected = [RejectedFile(pl.scan_parquet(s.rejects, glob=False), s.raw.email_column, s.raw.headers, profiles[s.raw.format][1]) for s in staged]
        named = named_addresses(rejected)
        contacts_by_outcome, rejected_opt_outs = stage_contacts(staged, work, named)
        contact_files = [path for paths in contacts_by_outcome.values() for path in paths]
        check_contract(contact_files)
        contacts = pl.scan_parquet(contact_files, glob=False)

        customs: dict[str, CustomProperty] = {}
        for s in staged:
            for prop in s.mapped.custom_properties:
                customs.setdefault(prop.name, prop)
        by_outcome = {outcome: pl.scan_parquet(paths, glob=False) for outcome, paths in contacts_by_outcome.items()}
        plan = write_plan(by_outcome, primary, list(customs.values()), out, limits, sources_label([p for p, _ in profiles.values()]))
        unmatched = plan_unmatched(named, contact_files, out)
        if unmatched is not None:
            plan = {**plan, "opt_outs": [*plan["opt_outs"], unmatched]}
            write_plan_file(plan, out)
        plan = add_property_groups(plan, [p for p, _ in profiles.values()], out)
        write_rejects([pl.scan_parquet(s.rejects, glob=False) for s in staged], out)
        values_dropped = write_value_rejects(staged, out)
        sources = [
            SourceSummary(s.raw.uri, s.raw.format, s.raw.status, *s.counts(), s.unread_statuses, s.duplicate_headers, s.raw.notes)
            for s in staged
        ]
        routes = [route.as_dict() for s in staged for route in s.mapped.routes]
        skipped = {file.uri: file.as_dict() for raw in raws for file in raw.skipped_files}
        report = build_report(sources, contacts, routes, plan, list(skipped.values()))
        report[VALUES_DROPPED] = values_dropped
        report[CHANGE_TIMES_UNREAD] = count_unread_change_times(staged)
        report[REPORT_KEY] = rejected_opt_outs.as_dict()
    write_report(report, out)
    return report


def stage_sources(raws: Sequence[RawSource], work: Path, profiles: Profiles) -> list[StagedFile]:
    """Parse every source file once: validate, map, and sink each file's rejects and mapped rows.

    Args:
        raws: The extracted files (lazy scans), in input order.
        work: The plan's work folder; slice ``s`` of file ``n`` goes to
            ``<n>-<s>.rejects.parquet`` and ``<n>-<s>.rows.parquet`` there.
        profiles: Every file's format → its profile and consent policy.

    Raises:
        InputError: A file as a whole does not fit its schema (checked before anything is read).
    """
    return [stage_file(raw, work / f"{index:05d}", *profiles[raw.format]) for index, raw in enumerate(raws)]


def stage_file(raw: RawSource, stem: Path, profile: SourceProfile, policy: ConsentPolicy) -> StagedFile:
    """Stage one file :data:`ROWS_PER_SLICE` rows at a time, one polars query per slice.

    Files go one after the other, not side by side: what a query holds grows with the rows it
    reads, so one slice at a time is what keeps memory flat.

    Args:
        raw: The extracted file (a lazy scan).
        stem: Slice ``s`` goes to ``<stem>-<s>.rejects.parquet`` and ``<stem>-<s>.rows.parquet``.
        profile: The source format's profile.
        policy: The run's consent policy.

    Raises:
        InputError: The file as a whole does not fit its schema, or a quoted cell in it is
            followed by more text (``"O"Brien``), which polars refuses only as it parses.
    """
    if reserved := [header for header in raw.headers if header in lineage.RESERVED]:
        raise InputError(raw.uri, f"the header {reserved[0]!r} is a name Onramp gives its own column: rename that column", line=1)
    parts: list[StagedFile] = []
    count_parts: dict[str, list[pl.DataFrame]] = {UNREAD_COUNT: [], DISAGREEING_COUNT: []}
    too_long: list[str] = []
    # A slice that came back short was the file's last.
    while not parts or parts[-1].counts()[0] == ROWS_PER_SLICE:
        number = len(parts)
        rows = raw.frame.slice(number * ROWS_PER_SLICE, ROWS_PER_SLICE)
        part, sinks, counts = staging_query(
            dataclasses.replace(raw, frame=rows), stem.with_name(f"{stem.name}-{number:05d}"), profile, policy, too_long
        )
        try:
            results = pl.collect_all([*sinks, *counts.values()])
        except pl.exceptions.ComputeError as error:
            refusal = stray_quote_refusal(error, raw.local_path, raw.uri)
            if refusal is None:
                raise
            raise refusal from error
        counted = dict(zip(counts, results[len(sinks) :], strict=True))
        more_too_long = [c for c in too_long_columns(counted.pop(LONGEST_CELLS, None)) if c not in too_long]
        if more_too_long:
            # A column with a cell HubSpot refuses for its length (nearly never): the file is
            # staged again from its first slice with that column held to the limit, so every
            # slice carries the same refused cells' columns.
            too_long.extend(more_too_long)
            parts, count_parts = [], {UNREAD_COUNT: [], DISAGREEING_COUNT: []}
            continue
        for name, result in counted.items():
            count_parts[name].append(result)
        parts.append(part)
    rejects = [path for part in parts for path in part.rejects]
    accepted = [path for part in parts for path in part.accepted]
    return StagedFile(
        raw,
        parts[0].mapped,
        rejects,
        accepted,
        _unread_statuses(count_parts[UNREAD_COUNT], policy),
        _duplicate_headers(count_parts[DISAGREEING_COUNT], raw),
    )


def _duplicate_headers(parts: Sequence[pl.DataFrame], raw: RawSource) -> tuple[dict, ...]:
    """A file's repeated headers, with the rows where their copies disagree summed over its
    slices (see ``StagedFile.duplicate_headers``)."""
    disagreeing = pl.concat(parts).sum().row(0, named=True) if parts else {}
    return tuple(
        {
            "column": header,
            "copies": raw.header_copies.get(header, 0),
            "rows_disagreeing": int(disagreeing.get(disagreeing_column(header)) or 0),
            "keeps": raw.keeps(header),
        }
        for header in raw.duplicate_headers
    )


def _unread_statuses(parts: Sequence[pl.DataFrame], policy: ConsentPolicy) -> tuple[dict, ...]:
    """A file's unread consent values summed over its slices, most rows first, each with the
    outcome of the status its rows got."""
    if not parts:
        return ()
    total = (
        pl.concat(parts)
        .group_by("column", "value", "status")
        .agg(pl.col("rows").sum())
        .sort(["rows", "column", "value", "status"], descending=[True, False, False, False])
    )
    return tuple({**row, "outcome": policy.outcome_of(row["status"]).value} for row in total.iter_rows(named=True))


UNREAD_COUNT = "unread status values"
DISAGREEING_COUNT = "disagreeing duplicate headers"
LONGEST_CELLS = "longest cells"
"""The counts a file's staging query takes in the same parse as its sinks (``staging_query``)."""


def staging_query(
    raw: RawSource, stem: Path, profile: SourceProfile, policy: ConsentPolicy, too_long: Sequence[str] = ()
) -> tuple[StagedFile, list[pl.LazyFrame], dict[str, pl.LazyFrame]]:
    """The staging of one file (or slice of it): where its Parquet files go, the two lazy
    sinks that write them, and the counts taken on the way.

    Args:
        raw: The extracted file (a lazy scan, perhaps of a slice of its rows).
        stem: Where its Parquet files go (``<stem>.rejects.parquet``, ``<stem>.rows.parquet``).
        profile: The source format's profile.
        policy: The run's consent policy.
        too_long: Columns held to HubSpot's length limit (``map_rows``).

    Returns:
        The staged file (its Parquet files exist once the sinks ran), the two sinks that write
        them, and the counts: for a file whose rules read consent values one by one, under
        ``UNREAD_COUNT``, the count of values they do not read (``catalog.unread_status_values``);
        for a file with repeated headers, under ``DISAGREEING_COUNT``, the rows where each one's
        copies disagree (a one-row table, a column per header, named ``disagreeing_column``);
        under ``LONGEST_CELLS``, each mapped column's longest cell (``longest_cells``).
        Collected together, they share one parse of the CSV.

    Raises:
        InputError: The file as a whole does not fit its schema.
    """
    schema = export_file_schema(raw.status, raw.email_column)
    validated = split_rejects(raw.frame, schema, ROW_RULES, REJECT_REASONS, raw.uri)
    mapped = map_rows(validated.accepted, raw.headers, raw.email_column, raw.uri, profile, policy, too_long)
    staged = StagedFile(raw, mapped, [stem.with_suffix(".rejects.parquet")], [stem.with_suffix(".rows.parquet")])
    # The reader's disagreement columns are counted, never written, and its times read are
    # mapped, never written. Dropped from the rejects once they are selected, not from the frame
    # the sinks share: a query on top of that frame would no longer share its parse.
    disagreeing = [disagreeing_column(header) for header in raw.duplicate_headers]
    times_read = [parsed_time_column(header) for header in raw.headers]
    sinks = [
        validated.rejects.drop(disagreeing)
        .drop(times_read, strict=False)
        .sink_parquet(staged.rejects[0], compression="uncompressed", **SCRATCH_PARQUET),
        mapped.frame.sink_parquet(staged.accepted[0], compression="lz4", **SCRATCH_PARQUET),
    ]
    # Counted over every row checked, rejects too: polars shares the parse only with a query
    # that starts from the very frame the sinks share, and a filter on it would break that
    # (measured: a second parse, twice the CPU).
    counts = {
        UNREAD_COUNT: unread_status_values(validated.checked, raw.status_values, _name_opts_out(raw)),
        DISAGREEING_COUNT: validated.checked.select(pl.col(disagreeing).sum()) if disagreeing else None,
        LONGEST_CELLS: longest_cells(validated.checked, mapped.mapped_columns),
    }
    return staged, sinks, {name: count for name, count in counts.items() if count is not None}


def _name_opts_out(raw: RawSource) -> bool:
    """Whether the name of a file whose status is per row opts out its rows no column reads
    (``unsubscribes.csv``): not a provider API's members, nor a Mailchimp export's file, whose
    status is the file's."""
    return raw.status == PER_ROW_STATUS and name_opt_out_of(raw.format, *split_sheet(raw.uri)) is not None


def stage_contacts(
    staged: Sequence[StagedFile], work: Path, named: pl.DataFrame
) -> tuple[dict[str, list[Path]], RejectedOptOutCounts]:
    """Merge every file's mapped rows into one contact per email, sunk to Parquet in ``work``.

    The staged slices go in as files of their own (a file's slices are consecutive, so input
    order is kept) and their contacts are sunk one slice at a time: memory stays flat. Each
    slice's contacts are split by outcome on the way (one query, three sinks), so every file
    the plan writes reads its own outcome's contacts only, rather than filtering all of them
    once per file. A contact whose email a rejected opt-out row names is opted out before the
    split (``rejected_opt_outs.opt_out_named``).

    Args:
        staged: The staged files, in input order.
        work: The plan's work folder.
        named: The addresses rejected opt-out rows name (``rejected_opt_outs.named_addresses``).

    Returns:
        Outcome → its contacts' Parquet files, one per staged slice, in order (everything
        after reads them a few times); and what the rejected opt-out rows did.
    """
    parts = [pl.scan_parquet(path, glob=False) for s in staged for path in s.accepted]
    paths: dict[str, list[Path]] = {outcome.value: [] for outcome in Outcome}
    tallies: list[pl.DataFrame] = []
    # LZ4: a third of the uncompressed size for little CPU; zstd cost more to write and read
    # than the disk it saves, as the files are read back several times.
    for number, contacts in enumerate(stream_contacts_by_file(parts)):
        contacts, tally = opt_out_named(contacts, named)
        sinks = []
        for outcome, outcome_paths in paths.items():
            outcome_paths.append(work / f"contacts-{number:05d}-{outcome}.parquet")
            members = contacts.filter(pl.col(OUTCOME) == outcome)
            sinks.append(members.sink_parquet(outcome_paths[-1], compression="lz4", **SCRATCH_PARQUET))
        tallies.extend(pl.collect_all(sinks if tally is None else [*sinks, tally])[len(sinks) :])
    return paths, RejectedOptOutCounts.of(named, tallies)


def check_contract(contact_files: Sequence[Path]) -> None:
    """Pandera checks the canonical contract on every contact (a failure is an Onramp bug).

    Pandera's uniqueness check holds every email it checks, so the contract is checked in
    bounded pieces: each contact's own checks on consecutive files of at most
    :data:`ROWS_PER_CONTRACT_CHECK` contacts at a time, and email uniqueness across all files
    one email-hash partition at a time (an email's contacts share one). Each piece is read
    into memory first: given a lazy frame, pandera runs every check as a query of its own,
    reading the Parquet files again each time.

    Args:
        contact_files: The contacts' Parquet files (from :func:`stage_contacts`), in any order.

    Raises:
        pandera.errors.SchemaError: A contact breaks the contract; its ``check`` names the
            failing check.
    """
    columns = list(CanonicalContactSchema.columns)
    with config_context(validation_depth=ValidationDepth.SCHEMA_AND_DATA):
        for files in _batches(contact_files, ROWS_PER_CONTRACT_CHECK):
            ContactRowSchema.validate(pl.scan_parquet(files, glob=False).select(columns).collect())
        for partition in email_partitions(pl.scan_parquet(contact_files, glob=False).select(EMAIL)):
            UniqueEmailSchema.validate(partition.collect())


ROWS_PER_CONTRACT_CHECK = ROWS_PER_SLICE
"""Contacts whose contract columns one check of :func:`check_contract` holds: as many as a
staged slice, the most one contacts file holds. Batching the small files (most of a plan's
files hold one outcome of a slice, many of them none) spares pandera's cost per call, ~17 ms
even for an empty file."""


def _batches(files: Sequence[Path], max_rows: int) -> list[list[Path]]:
    """``files`` in order, grouped into consecutive runs of at most ``max_rows`` rows (a bigger
    file alone); row counts come from the Parquet metadata."""
    batches: list[list[Path]] = []
    rows = 0
    for path in files:
        count = pl.scan_parquet(path, glob=False).select(pl.len()).collect().item()
        if not batches or rows + count > max_rows:
            batches.append([])
            rows = 0
        batches[-1].append(path)
        rows += count
    return batches
