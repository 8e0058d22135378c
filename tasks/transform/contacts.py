"""From validated source rows to canonical contacts: map columns, decide consent, merge by email.

The rules (DESIGN.md, "Domain rules"):
- emails are trimmed and lowercased before they are compared, and the spellings of an
  internationalised domain (``xn--`` or Unicode, composed or not) are made one;
- each row gets the consent outcome of its status; the most restrictive outcome of an
  email's rows wins, and an opt-out anywhere is final;
- properties come from the most recently changed row (then the earliest in input order);
  a blank never overwrites a value, it is filled from the other rows. The contact keeps that
  row's change time as ``last_changed`` (the latest of its rows'), so a later run can tell
  whether a source's row is newer than what was sent (``tasks/sync.py``). A change time no
  format of its source reads counts as none (its row ranks with the undated rows, after every
  dated one), and is accounted for (:func:`count_unread_change_times`);
- a cell of a column going to a number, date or datetime property that cannot be read as that
  type, or a cell longer than HubSpot holds in a property, is not sent, as if blank, and is
  accounted for (``tasks/typed_values.py``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from schemas import lineage
from schemas.contact import (
    EMAIL,
    INTERNATIONAL_DOMAIN,
    LAST_CHANGED,
    MAX_PROVENANCE_CHARS,
    OPT_OUT_STATUS,
    OUTCOME,
    PROVENANCE,
    PROVENANCE_CUT_MARK,
    PROVENANCE_SEPARATOR,
    ROWS_MERGED,
    SOURCES,
    SOURCES_SEPARATOR,
    canonical_address,
    is_valid_email,
    normalise_email,
)
from tasks.transform.catalog import TimeReading, holds_nothing, parse_time, parsed_time_column
from tasks.transform.consent import ConsentPolicy, Outcome, outcome_from_severity_expr, severity_expr
from tasks.transform.profile import CustomProperty, SourceProfile
from tasks.typed_values import (
    DROPPED,
    READINGS,
    TOO_LONG,
    TypedColumn,
    dropped_column,
    unsent,
    within_length,
    without_dropped,
)

if TYPE_CHECKING:
    from tasks.typed_values import StagedRows

_SEVERITY = "_severity"
_ROW_OUTCOME = "_row_outcome"
_LAST_CHANGED = "_last_changed"
_FILE_INDEX = "_file_index"
_INPUT_ORDER = "_input_order"
_COUNT = "_count"
_FIRST = "_first"
_PARSED = "_parsed_"
_TYPED = "_typed_"
_FILE_STRIDE = 1 << 32
"""Positions are ``file index * _FILE_STRIDE + row``: no file has 2**32 rows."""
ROWS_PER_EMAIL_PARTITION = 1_000_000
"""Rows whose emails one pass per email holds (see :func:`email_partitions`): the duplicate
search's and the contract's uniqueness check's."""
UNREAD_CHANGE_TIME_CELLS = "_unread_change_times"
"""The mapped rows' column of change times no format of their source reads: a struct, one field
per change-time column, the cell where it is unread (else null). Carried to the staged rows and
counted there (:func:`count_unread_change_times`), never merged."""
CHANGE_TIMES_UNREAD = "change_times_unread"
"""``report.json``'s list of unread change times counted per source file and column."""
ROWS_PER_MERGE = 100_000
"""Rows of duplicated emails merged in memory at once (every column of each). At 5M rows,
~210,000 rows share an email with another; merged at once they took ~540 MiB more than the
plan held before, and set its peak."""


@dataclass(frozen=True)
class ColumnRoute:
    """Where one source column went: the report says it for every column."""

    source: str
    column: str
    property: str
    kind: str  # "email", "default", "custom"

    def as_dict(self) -> dict[str, str]:
        return {"source": self.source, "column": self.column, "property": self.property, "kind": self.kind}


@dataclass(frozen=True)
class ContactRows:
    """One file's accepted rows, mapped to HubSpot property columns."""

    frame: pl.LazyFrame
    routes: list[ColumnRoute]
    custom_properties: list[CustomProperty]
    typed_columns: tuple[TypedColumn, ...] = ()
    """Its checked columns: those going to a number, date or datetime property, in header
    order, then those held to HubSpot's length limit. Their cells HubSpot would refuse are not
    sent, and are in the frame's ``DROPPED`` column."""
    change_columns: tuple[str, ...] = ()
    """Its change-time columns, in the profile's order: their cells no format reads are in the
    frame's ``UNREAD_CHANGE_TIME_CELLS`` column."""

    @property
    def mapped_columns(self) -> list[str]:
        """Its source columns that fill a property, but the email's, in header order: those
        whose longest cell ``tasks.typed_values.longest_cells`` measures."""
        return list(dict.fromkeys(r.column for r in self.routes if r.kind != "email"))


def map_rows(
    rows: pl.DataFrame | pl.LazyFrame,
    headers: Sequence[str],
    email_column: str,
    uri: str,
    profile: SourceProfile,
    policy: ConsentPolicy,
    too_long: Collection[str] = (),
) -> ContactRows:
    """Map one file's accepted rows to property columns with an outcome and a change time.

    A time column's cells are read as times (its change time, a date or datetime property)
    from the reader's working column of them (``catalog.parsed_time_column``: a plain file's,
    in the date order the file proves), else with the profile's ``timestamp_format`` (a
    provider's own records, written so). A change time no format reads counts as none.

    Args:
        rows: Accepted rows: the file's header columns (strings) plus lineage (and the working
            columns of its times, when its reader read them).
        headers: The file's headers, in file order.
        email_column: The header holding the email address.
        uri: The file, for the column routes.
        profile: The source format's profile.
        policy: The run's consent policy for this format.
        too_long: Columns that may hold a cell longer than HubSpot holds in a property
            (``tasks.typed_values.too_long_columns``): only they are held to the limit.
    """
    targets: dict[str, list[str]] = {}
    customs: dict[str, CustomProperty] = {}
    routes = [ColumnRoute(uri, email_column, EMAIL, "email")]
    # Columns the profile does not list each get a property of their own (``Fav Colour`` and
    # ``Fav-Colour`` would otherwise share one, and a row keep one of the two values); a column
    # filling a property another fills first is kept whole in one of its own as well.
    for header, target in profile.routes_with_copies([h for h in headers if h != email_column]):
        if isinstance(target, CustomProperty):
            customs.setdefault(target.name, target)
            name, kind = target.name, "custom"
        else:
            name, kind = target, "default"
        targets.setdefault(name, []).append(header)
        routes.append(ColumnRoute(uri, header, name, kind))

    as_written = TimeReading((profile.timestamp_format,), excel_serials=False)
    carried_times = set(rows.collect_schema().names())
    change_headers = [
        h for column in profile.last_changed_columns for h in headers if h.strip().lower() == column.lower()
    ]
    # Every column going to a number, date or datetime property is read as its type (see
    # ``tasks.typed_values``): a cell that cannot be is not sent, and is carried in ``DROPPED``.
    readings = {
        h: (name, READINGS[customs[name].type])
        for name, sources in targets.items()
        if name in customs and customs[name].type in READINGS
        for h in sources
    }
    # A typed reading's value is never that long: only the other columns are held to the limit.
    limited = {h: name for name, sources in targets.items() for h in sources if h in too_long and h not in readings}
    typed = {h: pl.col(_TYPED + h) for h in [*readings, *limited]}

    def value_of(name: str, sources: list[str]) -> pl.Expr:
        # Two headers for one property (e.g. "Phone" and "Phone Number"): first non-empty wins
        # (for a typed property, first readable).
        values = [typed.get(h, pl.col(h)) for h in sources]
        value = values[0] if len(values) == 1 else pl.coalesce(values)
        custom = customs.get(name)
        if custom is not None and custom.values == "tag_list":
            value = _tag_list(value)
        return value.alias(name)

    change_times = [pl.col(_PARSED + h) for h in change_headers]
    outcome = policy.status_outcome_expr(pl.col(lineage.SOURCE_STATUS))
    time_headers = [h for h, (_, reading) in readings.items() if reading.times]
    # Cells are cleaned, and time columns parsed, once, before the select uses them as often
    # as it needs: polars does not share a repeated expression here, and a time column is a
    # property and a change time both. Times are parsed from the cleaned cells, not cleaned
    # once more (the email column alone is not cleaned: normalise_email trims it).
    cleaned = {h: _blank_to_null(pl.col(h)) for h in headers if h != email_column}

    def time_of(h: str) -> pl.Expr:
        carried = parsed_time_column(h)
        if carried in carried_times:
            return pl.col(carried)
        return parse_time(pl.col(h) if h in cleaned else _blank_to_null(pl.col(h)), as_written)

    prepared = (
        rows.lazy()
        .with_columns(cell.alias(h) for h, cell in cleaned.items())
        .with_columns(time_of(h).alias(_PARSED + h) for h in dict.fromkeys([*change_headers, *time_headers]))
    ).with_columns(
        # Read once: the property and the carried cell both use it.
        *(reading.read(pl.col(h), pl.col(_PARSED + h)).alias(_TYPED + h) for h, (_, reading) in readings.items()),
        *(within_length(pl.col(h)).alias(_TYPED + h) for h in limited),
    )
    dropped_values = dropped_column({h: unsent(pl.col(h), value) for h, value in typed.items()})
    # An unread change time is null, as a blank one is: its row ranks after every dated row. One
    # saying nothing (NULL, -, Never, 0000-00-00) is no time nobody could read: not counted.
    # Judged on the unread cells alone (nearly all null, which string functions skip), not every cell.
    unread_change_times = [_said_something(unsent(pl.col(h), pl.col(_PARSED + h))).alias(h) for h in change_headers]
    frame = prepared.select(
        normalise_email(pl.col(email_column)).alias(EMAIL),
        *(value_of(name, sources) for name, sources in targets.items()),
        (pl.coalesce(change_times) if change_times else pl.lit(None, pl.Datetime("us"))).alias(_LAST_CHANGED),
        outcome.alias(_ROW_OUTCOME),
        *lineage.ALL,
        *([] if dropped_values is None else [dropped_values]),
        *([pl.struct(unread_change_times).alias(UNREAD_CHANGE_TIME_CELLS)] if unread_change_times else []),
    )
    typed_columns = (
        *(TypedColumn(h, name, reading.reason) for h, (name, reading) in readings.items()),
        *(TypedColumn(h, name, TOO_LONG) for h, name in limited.items()),
    )
    return ContactRows(
        frame=frame,
        routes=routes,
        custom_properties=list(customs.values()),
        typed_columns=typed_columns,
        change_columns=tuple(change_headers),
    )


def _said_something(cell: pl.Expr) -> pl.Expr:
    """``cell`` where it says something, else null (``catalog.holds_nothing``)."""
    return pl.when(~holds_nothing(cell.str.to_lowercase())).then(cell)


def count_unread_change_times(staged: Sequence[StagedRows]) -> list[dict]:
    """The change times no format of their source reads, per source file and column.

    Such a row counts as one without a change time: in a merge, a dated row of its email gives
    the properties, however old (a blank cell is the same). A person should know: most often
    the file writes its dates in a form or order the profile does not read.

    Args:
        staged: The staged files, in input order.

    Returns:
        For ``report.json``'s :data:`CHANGE_TIMES_UNREAD`: per source file and column with one,
        its ``source``, ``column``, ``rows``, ``first_row`` and that row's ``first_value``, in
        input order, then in column order.
    """
    counts = []
    for file in staged:
        columns = file.mapped.change_columns
        if not columns:
            continue
        fields = [pl.col(UNREAD_CHANGE_TIME_CELLS).struct.field(column).alias(column) for column in columns]
        # Only rows with an unread change time are collected: a few.
        unread = (
            pl.scan_parquet(file.accepted, glob=False)
            .select(lineage.SOURCE_URI, lineage.SOURCE_ROW, *fields)
            .filter(pl.any_horizontal(pl.col(column).is_not_null() for column in columns))
            .collect()
            .sort(lineage.SOURCE_ROW)
        )
        for column in columns:
            cells = unread.filter(pl.col(column).is_not_null())
            if cells.is_empty():
                continue
            first = cells.row(0, named=True)
            counts.append(
                {
                    "source": first[lineage.SOURCE_URI],
                    "column": column,
                    "rows": cells.height,
                    "first_row": first[lineage.SOURCE_ROW],
                    "first_value": first[column],
                }
            )
    return counts


def one_spelling(files: Sequence[pl.LazyFrame]) -> list[pl.LazyFrame]:
    """The files with each internationalised address in one spelling (:func:`canonical_address`).

    ``jane@xn--bcher-kva.de`` in one source and ``jane@bücher.de`` in another are one mailbox,
    and must merge into one contact: else an opt-out under one spelling would leave the other
    subscribed. The spelling needs Python (IDNA), so rather than run it over every row, one
    narrow pass finds the few addresses that may have another spelling, and those are replaced
    by a lookup; files without any come back as they are. A respelling the form check would
    refuse is not made (the address was valid as it came).

    Args:
        files: Mapped rows per file (from :func:`map_rows`).
    """
    candidates = (
        pl.concat([f.select(EMAIL) for f in files])
        .filter(pl.col(EMAIL).str.contains(INTERNATIONAL_DOMAIN))
        .unique()
        .collect()
        .get_column(EMAIL)
    )
    spellings = pl.DataFrame(
        {"as_read": candidates, "as_one": [canonical_address(address) for address in candidates]},
        schema={"as_read": pl.String, "as_one": pl.String},
    ).filter((pl.col("as_read") != pl.col("as_one")) & is_valid_email(pl.col("as_one")))
    if spellings.is_empty():
        return list(files)
    as_one = pl.col(EMAIL).replace(spellings.get_column("as_read"), spellings.get_column("as_one"))
    return [f.with_columns(as_one) for f in files]


def merge_contacts(files: Sequence[pl.LazyFrame]) -> pl.DataFrame:
    """Merge every file's mapped rows into one contact per email, in memory.

    :func:`stream_contacts_by_file` gives the same contacts without holding every row; this
    is the merge it applies to duplicated emails only.

    Args:
        files: Mapped rows per file (from :func:`map_rows`), in input order.

    Returns:
        One row per email, in order of first appearance: ``email``, ``outcome``,
        ``opt_out_status`` (the status of the most recent opted-out row), every property
        column, ``onramp_provenance`` (the distinct ``format:status`` of its rows, sorted,
        ``; ``-joined), ``sources`` (``uri:row`` of each merged row), ``rows_merged`` and
        ``last_changed`` (the latest change time of its rows, null when none has one).
    """
    if not files:
        return pl.DataFrame(
            schema=dict.fromkeys(_contact_columns([]), pl.String) | {ROWS_MERGED: pl.UInt32, LAST_CHANGED: pl.Datetime("us")}
        )
    return _merged(one_spelling(_without_carried(files)))


def _merged(files: Sequence[pl.LazyFrame]) -> pl.DataFrame:
    """:func:`merge_contacts` of files whose addresses are already in one spelling."""
    rows = pl.concat(
        [f.with_columns(pl.lit(i, pl.UInt32).alias(_FILE_INDEX)) for i, f in enumerate(files)],
        how="diagonal_relaxed",
    )
    # Explicit orders: polars 2 streams and does not keep row order through a lazy group_by.
    # The rows are collected in priority order: a DataFrame's group_by keeps each group's rows
    # in frame order (documented), so "first by priority" needs no sort per group and column.
    rows = (
        rows.sort(_FILE_INDEX, lineage.SOURCE_ROW)
        .with_row_index(_INPUT_ORDER)
        .sort(_LAST_CHANGED, _INPUT_ORDER, descending=[True, False], nulls_last=True)
        .with_columns(severity_expr(pl.col(_ROW_OUTCOME)).alias(_SEVERITY))
        .collect()
    )
    properties = property_columns(files)
    opted_out = pl.col(_ROW_OUTCOME) == Outcome.OPTED_OUT.value
    merged = (
        rows.group_by(EMAIL)
        .agg(
            outcome_from_severity_expr(pl.col(_SEVERITY).max()).alias(OUTCOME),
            pl.col(lineage.SOURCE_STATUS).filter(opted_out).first().alias(OPT_OUT_STATUS),
            *(pl.col(p).drop_nulls().first().alias(p) for p in properties),
            _bounded_provenance(_provenance_entry().unique().sort().str.join(PROVENANCE_SEPARATOR)).alias(PROVENANCE),
            _source_expr().sort_by(_INPUT_ORDER).str.join(SOURCES_SEPARATOR).alias(SOURCES),
            pl.len().cast(pl.UInt32).alias(ROWS_MERGED),
            pl.col(_LAST_CHANGED).max().alias(LAST_CHANGED),
            pl.col(_INPUT_ORDER).min().alias(_INPUT_ORDER),
        )
        .sort(_INPUT_ORDER)
        .drop(_INPUT_ORDER)
    )
    return merged


def stream_contacts_by_file(files: Sequence[pl.LazyFrame]) -> list[pl.LazyFrame]:
    """The contacts of :func:`merge_contacts` as lazy streams, one per file: the contacts whose
    first row is in it. No file is held in memory.

    Most emails appear once: their row is their contact. A narrow pass (email and input
    position only) finds the emails seen more than once and where each first appears; only
    those emails' rows are merged in memory. Every file then streams through once more, in
    input order, keeping the rows of the other emails as they are, and the merged contacts
    are slotted in at their first row's position (both streams are sorted by position, so
    this is a streaming merge, not a sort, and no join touches the single rows). Sinking the
    streams one at a time bounds what a query holds by the biggest file, not the export
    (polars' Parquet reader reads ahead of a slower sink and holds what it read).

    Args:
        files: Mapped rows per file (from :func:`map_rows`), in input order. They are scanned
            three times, so they should be cheap to scan (staged Parquet, not CSV).

    Returns:
        One stream per file, in order (one empty stream for no file); concatenated, the
        contacts of :func:`merge_contacts`, with its columns and order.
    """
    if not files:
        return [merge_contacts([]).lazy()]
    files = one_spelling(_without_carried(files))
    columns = _contact_columns(property_columns(files))
    positioned = [f.with_columns(_position_expr(i)) for i, f in enumerate(files)]
    duplicated = _duplicated_emails(positioned)
    # A membership test against the few duplicated emails: cheaper than a join over every row.
    is_duplicated = pl.col(EMAIL).is_in(duplicated.get_column(EMAIL).implode())
    # In email-hash partitions: each merge holds its own emails' rows only. Each is in order of
    # first appearance, and the sort of ``firsts`` below orders them all.
    merged = pl.concat(
        [_merged([f.filter(pl.col(EMAIL).is_in(emails.implode())) for f in files]) for emails in _merge_partitions(duplicated)]
    )
    firsts = duplicated.join(merged, on=EMAIL).sort(_FIRST).rename({_FIRST: _INPUT_ORDER})
    streams = []
    for index, rows in enumerate(positioned):
        singles = rows.filter(is_duplicated.not_()).select(
            _INPUT_ORDER, *(_single_value(c, rows.collect_schema().names()) for c in columns)
        )
        schema = singles.collect_schema()
        own_firsts = firsts.filter(pl.col(_INPUT_ORDER) // _FILE_STRIDE == index).select(
            pl.col(c).cast(schema[c]) for c in schema.names()
        )
        streams.append(singles.merge_sorted(own_firsts.lazy(), key=_INPUT_ORDER).drop(_INPUT_ORDER))
    return streams


def _without_carried(files: Sequence[pl.LazyFrame]) -> list[pl.LazyFrame]:
    """Mapped rows without the columns carried for the report only (cells not sent, unread
    change times): a Parquet scan then never reads them."""
    return [f.drop(UNREAD_CHANGE_TIME_CELLS, strict=False) for f in without_dropped(files)]


def property_columns(files: Sequence[pl.LazyFrame]) -> list[str]:
    """The property columns of mapped files, in order of first appearance."""
    internal = {EMAIL, _LAST_CHANGED, _ROW_OUTCOME, DROPPED, UNREAD_CHANGE_TIME_CELLS, *lineage.ALL}
    names = (c for f in files for c in f.collect_schema().names() if c not in internal)
    return list(dict.fromkeys(names))


def _contact_columns(properties: Sequence[str]) -> list[str]:
    return [EMAIL, OUTCOME, OPT_OUT_STATUS, *properties, PROVENANCE, SOURCES, ROWS_MERGED, LAST_CHANGED]


def _position_expr(file_index: int) -> pl.Expr:
    """A row's input position as one sortable integer: its file, then its row in the file."""
    return (pl.lit(file_index, pl.Int64) * _FILE_STRIDE + pl.col(lineage.SOURCE_ROW)).alias(_INPUT_ORDER)


def _source_expr() -> pl.Expr:
    return pl.format("{}:{}", lineage.SOURCE_URI, lineage.SOURCE_ROW)


def _provenance_entry() -> pl.Expr:
    """One row's provenance: its source format and status, e.g. ``mailchimp-export:subscribed``."""
    return pl.format("{}:{}", lineage.SOURCE_FORMAT, pl.col(lineage.SOURCE_STATUS).fill_null(""))


def _bounded_provenance(value: pl.Expr) -> pl.Expr:
    """A provenance cut to HubSpot's string limit, a mark at the end saying it was cut."""
    cut = value.str.slice(0, MAX_PROVENANCE_CHARS - len(PROVENANCE_CUT_MARK)) + pl.lit(PROVENANCE_CUT_MARK)
    return pl.when(value.str.len_chars() > MAX_PROVENANCE_CHARS).then(cut).otherwise(value)


def _duplicated_emails(positioned: Sequence[pl.LazyFrame]) -> pl.DataFrame:
    """The emails seen more than once, each with its row count and the position of its first row.

    The one pass that holds something per email, and only the email and two integers. It holds
    that for every distinct email at once, so it runs in partitions by email hash, each holding
    at most about :data:`ROWS_PER_EMAIL_PARTITION` rows' emails: memory stays flat as exports
    grow, and all the rows of an email fall in one partition.
    """
    narrow = pl.concat([f.select(EMAIL, _INPUT_ORDER) for f in positioned])
    found = []
    for rows_of in email_partitions(narrow):
        counts = rows_of.group_by(EMAIL).agg(pl.len().alias(_COUNT), pl.col(_INPUT_ORDER).min().alias(_FIRST))
        found.append(counts.filter(pl.col(_COUNT) > 1).collect())
    return pl.concat(found)


def _merge_partitions(duplicated: pl.DataFrame) -> list[pl.Series]:
    """The duplicated emails in email-hash partitions of about :data:`ROWS_PER_MERGE` rows.

    Args:
        duplicated: The emails seen more than once, with their row counts (from
            :func:`_duplicated_emails`).

    Returns:
        Each partition's emails; one partition (maybe empty) when they are few.
    """
    emails = duplicated.select(EMAIL)
    partitions = _email_hash_partitions(int(duplicated.get_column(_COUNT).sum()), ROWS_PER_MERGE)
    return [emails.filter(partition).get_column(EMAIL) for partition in partitions] or [emails.get_column(EMAIL)]


def email_partitions(rows: pl.LazyFrame) -> list[pl.LazyFrame]:
    """``rows`` split by email hash into partitions of about :data:`ROWS_PER_EMAIL_PARTITION` rows.

    All the rows of an email fall in one partition, so anything computed per email (a count,
    a uniqueness check) can run one partition at a time and hold one partition's emails, not
    the export's.

    Args:
        rows: Rows with an ``email`` column; each partition scans them once more.

    Returns:
        The partitions, as lazy filters of ``rows`` (``rows`` itself when one is enough).
    """
    count = rows.select(pl.len()).collect().item()
    return [rows.filter(partition) for partition in _email_hash_partitions(count, ROWS_PER_EMAIL_PARTITION)] or [rows]


def _email_hash_partitions(rows: int, rows_per_partition: int) -> list[pl.Expr]:
    """Filters splitting ``rows`` rows by email hash into partitions of about
    ``rows_per_partition`` (all the rows of an email in one); none when one partition is enough."""
    partitions = -(-rows // rows_per_partition)
    if partitions <= 1:
        return []
    return [pl.col(EMAIL).hash() % partitions == partition for partition in range(partitions)]


def _single_value(column: str, own: Sequence[str]) -> pl.Expr:
    """A contact column of an email seen once: the value of its only row."""
    return {
        EMAIL: pl.col(EMAIL),
        OUTCOME: pl.col(_ROW_OUTCOME),
        OPT_OUT_STATUS: pl.when(pl.col(_ROW_OUTCOME) == Outcome.OPTED_OUT.value).then(pl.col(lineage.SOURCE_STATUS)),
        PROVENANCE: _bounded_provenance(_provenance_entry()),
        SOURCES: _source_expr(),
        ROWS_MERGED: pl.lit(1, pl.UInt32),
        LAST_CHANGED: pl.col(_LAST_CHANGED),
    }.get(column, pl.col(column) if column in own else pl.lit(None, pl.String)).alias(column)


def _blank_to_null(value: pl.Expr) -> pl.Expr:
    # Polars does not share the repeated ``strip_chars()``: each cell is trimmed twice (0.88
    # CPU s over 20 columns of the 680,000-row subscribed file, 0.55 trimmed once with
    # ``replace("", None)``). But ``replace`` on every column of a wide file costs far more: the
    # hostile corpus's 2,000-column file took 96 s instead of 15.
    value = value.str.strip_chars()
    return pl.when(value == "").then(None).otherwise(value)


TAG_SEPARATOR_STAND_IN = "\uff1b"
"""What a ``;`` inside a tag is written as (HubSpot joins a multi-select's values with ``;``)."""


def _tag_list(value: pl.Expr) -> pl.Expr:
    """``"Member","2025 waiver"`` → ``Member;2025 waiver`` (HubSpot's multi-value separator).

    A tag holding that separator (``"Q1;Q2 promo"``) would become two options, so its ``;`` is
    written as the full-width ``；`` (U+FF1B, ``Q1；Q2 promo``): one tag stays one option, apart
    from a tag ``Q1,Q2 promo``, and reads the same.
    """
    names = (
        pl.when(value.str.starts_with('"'))
        .then(value.str.strip_chars('"').str.split('","'))
        .otherwise(value.str.split(","))
    )
    # One list.eval, not two: each pass over the lists costs as much as the rest of the mapping.
    # And each value used once (``replace("", None)``, not a filter or when/then over it):
    # polars does not share a repeated expression here, so ``joined`` used twice ran the
    # list.eval twice (0.64 against 0.28 CPU s over the subscribed file's 700,000 tag cells).
    cleaned = (
        pl.element()
        .str.replace_all('""', '"', literal=True)
        .str.replace_all(";", TAG_SEPARATOR_STAND_IN, literal=True)
        .str.strip_chars()
        .replace("", None)
    )
    return names.list.eval(cleaned.drop_nulls()).list.join(";").replace("", None)
