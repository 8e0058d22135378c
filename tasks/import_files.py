"""Import files: what HubSpot's importer takes, chunked under its per-file limits.

Writes, under the output folder:
- ``hubspot/contacts-marketing-NNN.csv`` and ``hubspot/contacts-non-marketing-NNN.csv``:
  header row = HubSpot property internal names, ``email`` first;
- ``hubspot/opt-out-<status>.csv``: an ``Email`` column, one file per opt-out status;
- ``lineage.csv``: for every contact, the file and line it was planned into, the source rows
  it came from, so a HubSpot error on a line is traced back to the rows that made it, and
  when it last changed at its sources (``last_changed``, ISO 8601 UTC, empty when unknown);
- ``plan.json``: what the load does (property group and properties, each enumeration with the
  options its cells use, imports, the static lists to fill, opt-outs). Besides the sources'
  columns, every import file carries ``onramp_provenance`` (:data:`PROVENANCE_PROPERTY`, in the
  ``onramp`` group).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from schemas.contact import (
    BOOKKEEPING_COLUMNS,
    EMAIL,
    LAST_CHANGED,
    LAST_CHANGED_FORMAT,
    MAX_PROVENANCE_CHARS,
    OPT_OUT_STATUS,
    OUTCOME,
    PROVENANCE,
    SOURCES,
)
from tasks.csv_safety import sink_safe_csv
from tasks.output import OutputFolder
from tasks.transform.consent import Outcome
from tasks.transform.profile import CustomProperty, SourceProfile

PLAN_FORMAT_VERSION = 1
HUBSPOT_DIR = "hubspot"
LINEAGE_FILE = "lineage.csv"
PLAN_FILE = "plan.json"
REJECTED_OPT_OUTS_FILE = f"{HUBSPOT_DIR}/opt-out-rejected-rows.csv"
"""The opt-out file of the addresses only rejected opt-out rows name (``tasks.transform.rejected_opt_outs``)."""

# HubSpot takes at most 1,048,576 rows (header included) or 512 MB per file. Stay a margin
# below both: the byte size is estimated before quoting.
MAX_ROWS_PER_FILE = 1_000_000
MAX_BYTES_PER_FILE = 450 * 1024 * 1024

IMPORT_FILE_STEMS = {
    Outcome.MARKETING: "contacts-marketing",
    Outcome.NON_MARKETING: "contacts-non-marketing",
}
"""The outcomes imported as contacts, and their file names."""

OPT_OUT_EMAIL_COLUMN = "Email"
"""An opt-out file's one column."""
STATIC_LISTS = {Outcome.MARKETING: "marketing contacts"}
"""The outcomes whose contacts the load adds to a static list for their source, and what the
list's name calls them (DESIGN: marketing contacts are "added to a static list for its source")."""
MARKETING_ALREADY_SET = "marketing_already_set"
"""A ``plan.json`` key written only by a recurring sync's delta (``tasks/sync.py``): the
plan-relative name of a CSV file (one ``email`` column) of the marketing files' contacts an
earlier successful run already made marketing. The load reads their marketing status first and
keeps non-marketing those HubSpot holds as set so by hand (``tasks/load/opted_out.py``); a load
that ignores the key sends them as any marketing contact. A migration's plan has none."""
MARKETING_ALREADY_SET_FILE = "marketing-already-set.csv"
"""The file :data:`MARKETING_ALREADY_SET` names in a sync's delta plan."""
LIST_NAME = "Onramp — {source} {members} (plan {plan_id})"
"""A static list's name. The plan id (a hash of the plan's imports) rather than a date keeps the
name the same when a migration is planned again to resume it on another day."""
_PLAN_ID_CHARS = 8

ENUMERATION = "enumeration"

MULTI_VALUE_SEPARATORS = {"checkbox": ";"}
"""The enumeration field types whose cells hold several options, and how they are joined."""

ONRAMP_PROPERTY_GROUP = {"name": "onramp", "label": "Onramp"}
"""The group of the properties Onramp itself sets on every contact (not a source's columns)."""
PROVENANCE_PROPERTY = {
    "name": PROVENANCE,
    "label": "Onramp provenance",
    "type": "string",
    # textarea: a contact merged from many sources has a long value (HubSpot keeps at most
    # MAX_PROVENANCE_CHARS; the merge cuts it there).
    "fieldType": "textarea",
    "groupName": ONRAMP_PROPERTY_GROUP["name"],
    "description": (
        "The source formats and statuses this contact was migrated from by Onramp "
        f"(format:status, sorted, '; '-separated; at most {MAX_PROVENANCE_CHARS} characters)."
    ),
}
"""The property that carries each contact's provenance (its column in the import files)."""

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_FILE = "file"
_LINE = "line"
_COUNT = "_count"
_OPT_OUT_KEY = "_opt_out"
_VALUE = "value"
_CELL_OVERHEAD_BYTES = 3
"""Added to each cell's size in a row's estimate: its separator and a margin."""


@dataclass(frozen=True)
class PlanLimits:
    """Per-file limits for the import files (HubSpot's, minus a margin, unless overridden)."""

    max_rows: int = MAX_ROWS_PER_FILE
    max_bytes: int = MAX_BYTES_PER_FILE


def chunk_bounds(row_bytes: pl.Series, limits: PlanLimits) -> list[tuple[int, int]]:
    """Split rows into consecutive ``[start, end)`` chunks under both per-file limits.

    Args:
        row_bytes: The estimated size of each row in bytes.
        limits: The most rows and bytes one file may hold.

    Returns:
        Chunk bounds covering every row, in order; a row larger than the byte limit gets a
        chunk of its own (HubSpot then reports it, rather than Onramp dropping it).
    """
    total = row_bytes.len()
    ends = row_bytes.cast(pl.Int64).cum_sum()
    bounds: list[tuple[int, int]] = []
    start = 0
    while start < total:
        already = int(ends[start - 1]) if start else 0
        by_bytes = int(ends.search_sorted(already + limits.max_bytes, side="right"))
        end = min(start + limits.max_rows, max(by_bytes, start + 1), total)
        bounds.append((start, end))
        start = end
    return bounds


def opt_out_file_names(statuses: Iterable[str]) -> dict[str, str]:
    """Each opt-out status's file: ``Unsubscribed`` → ``hubspot/opt-out-unsubscribed.csv``.

    Statuses whose names make one file name (``opted out`` and ``opted-out``, ``Bounced`` and
    ``bounced``), or the name of :data:`REJECTED_OPT_OUTS_FILE`, each take their own name's hash
    after it (``opt-out-opted-out-1a2b3c4d.csv``): one status's file written over another's would
    lose its opt-outs.
    """
    def slug(status: str) -> str:
        return _NOT_SLUG.sub("-", status.lower()).strip("-") or "opted-out"

    def named(stem: str) -> str:
        return f"{HUBSPOT_DIR}/opt-out-{stem}.csv"

    plain = {status: named(slug(status)) for status in statuses}
    taken = Counter([*plain.values(), REJECTED_OPT_OUTS_FILE])
    return {
        status: file if taken[file] == 1 else named(f"{slug(status)}-{hashlib.sha256(status.encode()).hexdigest()[:8]}")
        for status, file in plain.items()
    }


def by_outcome(contacts: pl.LazyFrame | pl.DataFrame) -> dict[str, pl.LazyFrame]:
    """Canonical contacts split by outcome, as :func:`write_plan` takes them (each in order)."""
    contacts = contacts.lazy()
    return {outcome.value: contacts.filter(pl.col(OUTCOME) == outcome.value) for outcome in Outcome}


def sources_label(profiles: Sequence[SourceProfile]) -> str:
    """What a run's imports and lists are named after: its profiles' labels in input order,
    ``Klaviyo + Pipedrive`` for a run reading both (one source's name would claim the other's
    contacts as its own)."""
    return " + ".join(dict.fromkeys(profile.label for profile in profiles))


def write_plan(
    contacts: Mapping[str, pl.LazyFrame],
    profile: SourceProfile,
    custom_properties: list[CustomProperty],
    out: OutputFolder,
    limits: PlanLimits = PlanLimits(),
    source_label: str | None = None,
) -> dict:
    """Write the import files, opt-out files, lineage and ``plan.json``.

    The files are streamed: what is held in memory is a count per outcome and column, and one
    byte estimate per contact of an outcome at a time (to cut its chunks). Each file reads its
    own outcome's contacts only, and an import file only its own rows of them (a slice with no
    filter before it reaches the Parquet reader, which skips the rest).

    Args:
        contacts: Outcome → its canonical contacts (one per email) from the merge, in their
            order (:func:`by_outcome` splits one frame); every outcome present. They are
            scanned a few times, so they should be cheap to scan (Parquet).
        profile: The run's primary source profile (its property group).
        custom_properties: Every custom property the mapping produced; only those with a
            value in some import file are created in HubSpot.
        out: The run's output folder.
        limits: Per-file limits.
        source_label: What the imports and lists are named after (:func:`sources_label` of
            the run's profiles); the profile's own label when not given.

    Returns:
        The plan, as written to ``plan.json``.
    """
    label = source_label or profile.label
    names = contacts[Outcome.MARKETING.value].collect_schema().names()
    property_columns = [c for c in names if c != EMAIL and c not in BOOKKEEPING_COLUMNS]
    tally, all_columns_bytes = _tally(contacts, property_columns)
    sinks: list[pl.LazyFrame] = []
    imports: list[dict] = []
    placed: list[pl.LazyFrame] = []
    for outcome, stem in IMPORT_FILE_STEMS.items():
        group = contacts[outcome.value]
        # A column with no value for an outcome is not sent for it.
        columns = [EMAIL, *(c for c in property_columns if tally.get((outcome.value, c), 0))]
        # A column left out is null in every row of the outcome: it only added its overhead.
        left_out = len(property_columns) + 1 - len(columns)
        row_bytes = all_columns_bytes[outcome.value].cast(pl.Int64) - _CELL_OVERHEAD_BYTES * left_out
        for number, (start, end) in enumerate(chunk_bounds(row_bytes, limits), start=1):
            file = f"{HUBSPOT_DIR}/{stem}-{number:03d}.csv"
            chunk = group.slice(start, end - start)
            sinks.append(sink_safe_csv(chunk.select(columns), out.path(file), lazy=True))
            imports.append(
                {
                    "file": file,
                    "outcome": outcome.value,
                    "marketable": outcome is Outcome.MARKETING,
                    # The contacts go to the source's static list instead (``lists``), one list
                    # per source and status rather than one per file.
                    "create_list": False,
                    **({"list": outcome.value} if outcome in STATIC_LISTS else {}),
                    "rows": end - start,
                    "columns": columns,
                    "name": f"Onramp {label} {outcome.value.replace('_', '-')} {number:03d}",
                }
            )
            placed.append(_placement(chunk, file))

    opt_outs: list[dict] = []
    opted_out = contacts[Outcome.OPTED_OUT.value]
    files = opt_out_file_names(sorted(s for o, s in tally if o == _OPT_OUT_KEY))
    for status, file in files.items():
        members = opted_out.filter(pl.col(OPT_OUT_STATUS) == status)
        sinks.append(sink_safe_csv(members.select(pl.col(EMAIL).alias(OPT_OUT_EMAIL_COLUMN)), out.path(file), lazy=True))
        opt_outs.append({"file": file, "status": status, "rows": tally[(_OPT_OUT_KEY, status)]})
        placed.append(_placement(members, file))

    lineage_columns = [EMAIL, OUTCOME, _FILE, _LINE, SOURCES, LAST_CHANGED]
    lineage = pl.concat(placed) if placed else pl.LazyFrame(schema=dict.fromkeys(lineage_columns, pl.String) | {_LINE: pl.Int64})
    sinks.append(sink_safe_csv(lineage.select(lineage_columns), out.path(LINEAGE_FILE), lazy=True))
    # One file at a time: polars' Parquet reader decodes ahead of a slower CSV writer and holds
    # it, so files written side by side hold as much as all of them (4.4 GB at 5M contacts).
    for sink in sinks:
        sink.collect()

    used = {c for entry in imports for c in entry["columns"]}
    planned = [p for p in custom_properties if p.name in used]
    options = enumeration_options(pl.concat(list(contacts.values())), planned)
    onramp_properties = [PROVENANCE_PROPERTY] if PROVENANCE in used else []
    group = {"name": profile.group_name, "label": profile.group_label}
    plan = {
        "format_version": PLAN_FORMAT_VERSION,
        "property_group": group,
        # The load creates every group listed here; the source's own comes first.
        **({"property_groups": [group, ONRAMP_PROPERTY_GROUP]} if onramp_properties else {}),
        "properties": [p.hubspot_definition(options.get(p.name)) for p in planned] + onramp_properties,
        "imports": imports,
        "lists": static_lists(imports, label, out),
        "opt_outs": opt_outs,
        "lineage": LINEAGE_FILE,
    }
    write_plan_file(plan, out)
    return plan


def write_plan_file(plan: dict, out: OutputFolder) -> None:
    """Write (or rewrite, once a later step added to it) ``plan.json``, what the load reads."""
    out.path(PLAN_FILE).write_text(json.dumps(plan, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def static_lists(imports: list[dict], source_label: str, out: OutputFolder) -> list[dict]:
    """The static lists the load creates and fills, one per outcome in :data:`STATIC_LISTS` that
    has contacts.

    A list is named by a hash of the plan's imports and of its files' contents: two migrations
    of other people with the same columns and counts must not fill (and take opt-outs out of)
    one list, while a rerun of the same plan fills its own list again.

    Args:
        imports: The plan's import entries (an entry names its list by ``list``, the key here),
            their files written.
        source_label: The source's name, for the list names.
        out: The run's output folder, which holds the import files.

    Returns:
        ``[{"key", "name", "outcome", "files"}]``; a list already bearing the name in the portal
        is this plan's own (a run cut short made it) and the load fills it
        (``tasks.load.lists.ensure_list``).
    """
    digest = hashlib.sha256(json.dumps(imports, sort_keys=True).encode())
    for entry in imports:
        with out.path(entry["file"]).open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    plan_id = digest.hexdigest()[:_PLAN_ID_CHARS]
    lists = []
    for outcome, members in STATIC_LISTS.items():
        files = [entry["file"] for entry in imports if entry.get("list") == outcome.value]
        if files:
            name = LIST_NAME.format(source=source_label, members=members, plan_id=plan_id)
            lists.append({"key": outcome.value, "name": name, "outcome": outcome.value, "files": files})
    return lists


def enumeration_options(contacts: pl.LazyFrame, properties: list[CustomProperty]) -> dict[str, list[dict]]:
    """The options of each enumeration property: the distinct values its cells hold.

    A multi-select (``checkbox``) cell holds several values joined by ``;``, HubSpot's
    separator; any other enumeration cell holds one. An option's ``value`` is the cell text
    itself: HubSpot's object APIs take only an option's internal value, and the batch-upsert
    path sends the very cells the importer reads, so the cells must be values, not labels. They
    are safe as values by construction (trimmed, non-empty, no ``;``).

    Args:
        contacts: The canonical contacts.
        properties: The planned custom properties (those not enumerations are ignored).

    Returns:
        Property name → HubSpot ``OptionInput`` dicts in a stable order (case-insensitive, then
        exact), ``displayOrder`` counting from 0.
    """
    enumerations = [p for p in properties if p.type == ENUMERATION]
    queries = [
        contacts.select(_option_values(pl.col(p.name), p.field_type).alias(_VALUE)).drop_nulls().unique()
        for p in enumerations
    ]
    found = pl.collect_all(queries) if queries else []
    options = {}
    for prop, values in zip(enumerations, found):
        ordered = sorted(values[_VALUE].to_list(), key=lambda value: (value.casefold(), value))
        options[prop.name] = [
            {"label": value, "value": value, "hidden": False, "displayOrder": order} for order, value in enumerate(ordered)
        ]
    return options


def _option_values(cell: pl.Expr, field_type: str) -> pl.Expr:
    """One row per value a cell holds (split on HubSpot's multi-value separator when it has one)."""
    separator = MULTI_VALUE_SEPARATORS.get(field_type)
    values = cell.str.split(separator).explode() if separator else cell
    values = values.str.strip_chars()
    return pl.when(values != "").then(values)


def _tally(contacts: Mapping[str, pl.LazyFrame], property_columns: list[str]) -> tuple[dict[tuple[str, str], int], dict[str, pl.Series]]:
    """One pass of counts and sizes.

    Returns:
        ``(outcome, column)`` → values present and ``(_OPT_OUT_KEY, status)`` → contacts; and
        for each imported outcome, its rows' estimated sizes with every column
        (:func:`_row_bytes`), to cut its files.
    """
    per_outcome = pl.concat(
        [frame.select(pl.lit(outcome).alias(OUTCOME), pl.col(property_columns).count()) for outcome, frame in contacts.items()]
    )
    per_status = contacts[Outcome.OPTED_OUT.value].group_by(OPT_OUT_STATUS).agg(pl.len().alias(_COUNT))
    sizes = [_row_bytes(contacts[outcome.value], [EMAIL, *property_columns]) for outcome in IMPORT_FILE_STEMS]
    outcomes, statuses, *row_bytes = pl.collect_all([per_outcome, per_status, *sizes])
    counts = {(row[OUTCOME], c): row[c] for row in outcomes.iter_rows(named=True) for c in property_columns}
    counts |= {(_OPT_OUT_KEY, row[OPT_OUT_STATUS]): row[_COUNT] for row in statuses.iter_rows(named=True)}
    return counts, {outcome.value: bytes_.to_series() for outcome, bytes_ in zip(IMPORT_FILE_STEMS, row_bytes, strict=True)}


def _row_bytes(rows: pl.LazyFrame, columns: list[str]) -> pl.LazyFrame:
    """Each row's estimated size in the file, before quoting (a narrow column)."""
    estimate = pl.sum_horizontal(pl.col(c).cast(pl.String).str.len_bytes().fill_null(0) + _CELL_OVERHEAD_BYTES for c in columns)
    return rows.select(estimate.alias(_COUNT))


def _placement(members: pl.LazyFrame, file: str) -> pl.LazyFrame:
    """Where each contact landed: the file and its line there (the header is line 1), with its
    sources and change time as lineage writes them."""
    return members.select(
        EMAIL, OUTCOME, pl.lit(file).alias(_FILE), SOURCES, pl.col(LAST_CHANGED).dt.strftime(LAST_CHANGED_FORMAT)
    ).with_row_index(_LINE, offset=2).select(EMAIL, OUTCOME, _FILE, pl.col(_LINE).cast(pl.Int64), SOURCES, LAST_CHANGED)
