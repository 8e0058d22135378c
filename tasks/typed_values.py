"""Values HubSpot would refuse: of typed properties (number, date, datetime) that cannot be read
as their type, and of any property longer than HubSpot holds.

HubSpot refuses such a value and drops it from the contact (``COULD_NOT_PARSE_NUMBER``,
``COULD_NOT_PARSE_DATE``, a value over 65,536 characters): sent raw, it would vanish in HubSpot,
unseen. So the plan reads each cell of a column going to a typed property as that type, and
holds a column with a cell longer than that to the limit (:func:`within_length`); a cell refused
so is not sent (the property is left blank, so in the merge an older row's value fills it, as a
blank is filled; never cut, which would send a value the source does not hold), the contact is
kept, and the value is accounted for: a count per source file and column in ``report.json``, a
warning line, and the value with its lineage in ``value-rejects.csv``.

The check costs no pass of its own: :func:`map_rows` (``tasks.transform.contacts``) carries
each row's refused cells in one column of the staged rows (:data:`DROPPED`, a struct of a
field per checked column, null where the cell is sent), which the staging query sinks with the
rows in the same parse of the CSV; :func:`write_value_rejects` reads that column back from the
staged Parquet (nearly all nulls, so nearly free), and the merge drops it
(:func:`without_dropped`), so it never reaches the contacts or the import files.

Lengths are not checked cell by cell in every column: a wide file would pay for a carried field
per column. The staging query takes one more count in the same parse, each mapped column's
longest cell in bytes (:func:`longest_cells`); a file with a column over the limit (nearly
never) is staged again with only those columns held to it (:func:`too_long_columns`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import polars as pl

from schemas import lineage
from schemas.contact import MAX_PROVENANCE_CHARS
from tasks.csv_safety import sink_safe_csv
from tasks.output import OutputFolder

if TYPE_CHECKING:  # contacts imports this module
    from tasks.transform.contacts import ContactRows

VALUE_REJECTS_FILE = "value-rejects.csv"
DROPPED = "_dropped_values"
"""The staged rows' column of cells not sent: a struct, one field per checked source column."""
VALUE_REJECT_COLUMNS = ("source", "row", "column", "property", "value", "reason")
"""The columns of ``value-rejects.csv``."""
VALUES_DROPPED = "values_dropped"
"""``report.json``'s list of dropped values counted per source file and column."""


MAX_VALUE_CHARS = MAX_PROVENANCE_CHARS
"""HubSpot's limit on a property value, in characters (its provenance is cut to it)."""
TOO_LONG = f"longer than the {MAX_VALUE_CHARS:,} characters HubSpot holds in a property"
"""Why a cell over :data:`MAX_VALUE_CHARS` is not sent, for ``value-rejects.csv``."""


def longest_cells(rows: pl.LazyFrame, columns: Sequence[str]) -> pl.LazyFrame | None:
    """One row: each column's longest cell in bytes (None for no column).

    Bytes, not characters: a string's byte length is kept with it, so this costs next to
    nothing, and no cell has more characters than bytes, so a column whose longest cell has no
    more bytes than :data:`MAX_VALUE_CHARS` holds no cell too long (:func:`too_long_columns`).
    Counted on the cells as read, before they are trimmed: an upper bound again.
    """
    if not columns:
        return None
    return rows.select(pl.col(column).str.len_bytes().max() for column in columns)


def too_long_columns(longest: pl.DataFrame | None) -> list[str]:
    """The columns that may hold a cell HubSpot refuses for its length, from :func:`longest_cells`.

    Only these need :func:`within_length` (nearly never any).
    """
    if longest is None or longest.is_empty():
        return []
    return [column for column, most in longest.row(0, named=True).items() if most is not None and most > MAX_VALUE_CHARS]


def within_length(cell: pl.Expr) -> pl.Expr:
    """The cell when HubSpot holds it whole, else null (:data:`MAX_VALUE_CHARS`).

    Counted in characters; it runs only on the columns :func:`too_long_columns` found by bytes.
    """
    return pl.when(cell.str.len_chars() <= MAX_VALUE_CHARS).then(cell)


def _number(cell: pl.Expr, parsed_time: pl.Expr) -> pl.Expr:
    # HubSpot does not document the syntax of a number property's value; this refuses what is
    # clearly no decimal number. Polars' float parsing takes ASCII decimal numbers only (maybe
    # signed, maybe with an exponent), so "1_000", "1,000", "+5:30", "0x10" and other scripts'
    # digits are null; the words it takes (NaN, inf, Infinity) and what overflows a double
    # ("1e400") are not finite. One cast, no regular expression: this runs on every cell.
    return pl.when(cell.cast(pl.Float64, strict=False).is_finite()).then(cell)


def _datetime(cell: pl.Expr, parsed_time: pl.Expr) -> pl.Expr:
    # Unix milliseconds: the one datetime form HubSpot's importer takes whatever the import's
    # dateFormat ("HubSpot API endpoints accept UNIX formatted timestamps in milliseconds",
    # developers.hubspot.com/docs/faq/how-should-timestamps-be-formatted-for-hubspots-apis).
    return parsed_time.dt.epoch("ms").cast(pl.String)


def _date(cell: pl.Expr, parsed_time: pl.Expr) -> pl.Expr:
    # A date property takes midnight UTC only; any other time is an error (same FAQ).
    return parsed_time.dt.truncate("1d").dt.epoch("ms").cast(pl.String)


@dataclass(frozen=True)
class TypedReading:
    """How a typed property's cells are read.

    Attributes:
        read: (cleaned cell, the cell parsed with the source's time format) → the value to
            send, null when the cell cannot be read as the type.
        reason: Why a cell that cannot be read is not sent, for ``value-rejects.csv``.
        times: Whether ``read`` uses the parsed time (so the cell must be parsed).
    """

    read: Callable[[pl.Expr, pl.Expr], pl.Expr]
    reason: str
    times: bool


READINGS: dict[str, TypedReading] = {
    "number": TypedReading(_number, "not a number", times=False),
    "datetime": TypedReading(_datetime, "not a time any format of this source reads", times=True),
    "date": TypedReading(_date, "not a date any format of this source reads", times=True),
}
"""HubSpot property type → how its cells are read. No HubSpot default property Onramp maps to
(names, address, phones, company, job title, website, lifecycle stage, ...) has one of these
types, so only profiles' ``[custom_properties]`` are read."""


@dataclass(frozen=True)
class TypedColumn:
    """A source column whose cells are checked (read as a type, or held to the length limit):
    what ``value-rejects.csv`` says of the cells it refuses."""

    column: str
    property: str
    reason: str


def unsent(cell: pl.Expr, value: pl.Expr) -> pl.Expr:
    """The cell when it is not sent (a cell no reading takes), else null.

    Args:
        cell: The cleaned cell (trimmed, null when blank).
        value: Its value to send, as its property type's ``TypedReading.read`` or
            :func:`within_length` gives it.
    """
    return pl.when(cell.is_not_null() & value.is_null()).then(cell)


def dropped_column(dropped: dict[str, pl.Expr]) -> pl.Expr | None:
    """The :data:`DROPPED` column of a file's checked columns (column → cell not sent), or None
    for a file without any."""
    if not dropped:
        return None
    return pl.struct([cell.alias(column) for column, cell in dropped.items()]).alias(DROPPED)


def without_dropped(files: Sequence[pl.LazyFrame]) -> list[pl.LazyFrame]:
    """Mapped rows without the :data:`DROPPED` column (a Parquet scan then never reads it)."""
    return [f.drop(DROPPED, strict=False) for f in files]


class StagedRows(Protocol):
    """What :func:`write_value_rejects` reads of a staged file (``tasks.plan.StagedFile``)."""

    @property
    def mapped(self) -> ContactRows: ...

    @property
    def accepted(self) -> list[Path]: ...


def write_value_rejects(staged: Sequence[StagedRows], out: OutputFolder) -> list[dict]:
    """Stream every cell not sent to ``value-rejects.csv``, and count them.

    Args:
        staged: The staged files, in input order.
        out: The run's output folder.

    Returns:
        For ``report.json``'s :data:`VALUES_DROPPED`: per source file and column with cells not sent,
        its ``source``, ``column``, ``property``, ``reason`` and ``values``, in input order, then
        in order of the first row with one.
    """
    frames = [_value_rejects(s) for s in staged if s.mapped.typed_columns]
    table = pl.concat(frames) if frames else pl.LazyFrame(schema=dict.fromkeys(VALUE_REJECT_COLUMNS, pl.String) | {"row": pl.Int64})
    sink_safe_csv(table, out.path(VALUE_REJECTS_FILE))
    # Counted from the staged rows again, not from the file: its cells are formula-neutralised.
    counts = table.group_by("source", "column", "property", "reason", maintain_order=True).agg(pl.len().alias("values"))
    return counts.collect().to_dicts()


def _value_rejects(staged: StagedRows) -> pl.LazyFrame:
    """One file's cells not sent, in row then column order."""
    columns = staged.mapped.typed_columns
    names = [c.column for c in columns]
    rows = pl.scan_parquet(staged.accepted, glob=False).select(lineage.SOURCE_URI, lineage.SOURCE_ROW, DROPPED)
    # Only rows with a cell not sent go on: a few, so the unpivot and sort below are cheap.
    fields = [pl.col(DROPPED).struct.field(name) for name in names]
    with_drops = rows.filter(pl.any_horizontal(field.is_not_null() for field in fields))
    return (
        with_drops.select(lineage.SOURCE_URI, lineage.SOURCE_ROW, *(field.alias(name) for field, name in zip(fields, names, strict=True)))
        .unpivot(index=[lineage.SOURCE_URI, lineage.SOURCE_ROW], variable_name="column", value_name="value")
        .drop_nulls("value")
        .with_columns(pl.col("column").cast(pl.Enum(names)))
        .sort(lineage.SOURCE_ROW, "column")
        .select(
            pl.col(lineage.SOURCE_URI).alias("source"),
            pl.col(lineage.SOURCE_ROW).cast(pl.Int64).alias("row"),
            pl.col("column").cast(pl.String),
            pl.col("column").cast(pl.String).replace_strict({c.column: c.property for c in columns}).alias("property"),
            pl.col("value"),
            pl.col("column").cast(pl.String).replace_strict({c.column: c.reason for c in columns}).alias("reason"),
        )
    )


VALUES_NAMED = 5
"""Columns with cells not sent named per file in a warning (report.json has them all)."""


def value_reject_warnings(report: dict) -> list[str]:
    """One line per source file with cells HubSpot would refuse (:func:`write_value_rejects`).

    Such a cell is not sent (HubSpot would refuse it and drop it unseen); the contact is, with
    the property blank or filled from another of its rows.
    """
    by_source: dict[str, list[dict]] = {}
    for count in report.get(VALUES_DROPPED) or []:
        by_source.setdefault(count["source"], []).append(count)
    lines = []
    for source, counts in by_source.items():
        named = ", ".join(f"{c['column']} {c['values']} ({c['reason']})" for c in counts[:VALUES_NAMED])
        more = f" and {len(counts) - VALUES_NAMED} more column(s)" if len(counts) > VALUES_NAMED else ""
        total = sum(c["values"] for c in counts)
        lines.append(
            f"warning: {source}: {total} value(s) HubSpot would refuse are not sent "
            f"(the contacts are): {named}{more}; each is in {VALUE_REJECTS_FILE}"
        )
    return lines
