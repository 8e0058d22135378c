"""Writing CSV files people open in spreadsheets: formula cells are neutralised.

A cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return is run as a formula by
Excel, LibreOffice and Google Sheets (CSV injection). Such cells get a leading apostrophe,
except plain numbers and phone numbers (``-5``, ``+1 619 305 8111``), which are data and must
reach HubSpot unchanged. The apostrophe is for people opening the files: whatever sends a
file's values to HubSpot takes it off again (:func:`restore_formulas`, ``unneutralise``). A source
value that itself starts with an apostrophe before a formula character or another apostrophe
(``'=1+2``, a note's ``'-- regards``) gets one more, so taking one off gives every value back.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""The first characters that make a spreadsheet run a cell as a formula."""
NEUTRALISED_STARTS = ("'", *FORMULA_STARTS)
"""What follows the apostrophe of a neutralised cell: a formula character, or the value's own
leading apostrophe (``'=1+2`` is written ``''=1+2``)."""
# One anchored match decides both: a formula start, or an apostrophe the restore would take off.
_NEEDS_APOSTROPHE = r"^(?:[=+\-@\t\r]|'['=+\-@\t\r])"
_NEUTRALISED = r"^'(['=+\-@\t\r])"
_PLAIN_NUMBER = r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?$"
_PHONE_NUMBER = r"^\+?[0-9 ().\-/]*[0-9][0-9 ().\-/]*$"


def neutralise_formulas(value: pl.Expr) -> pl.Expr:
    """Prefix an apostrophe to a string cell a spreadsheet would run as a formula.

    Only cells starting with a formula character go on to the number tests, and the prefix is
    only added to those: every other cell is null in the later steps, which polars skips, so
    the cost over all cells is one anchored first-character match.
    """
    suspect = pl.when(value.str.contains(_NEEDS_APOSTROPHE)).then(value)
    data = suspect.str.contains(_PLAIN_NUMBER) | suspect.str.contains(_PHONE_NUMBER)
    return pl.when(data.not_()).then(pl.lit("'") + suspect).otherwise(value)


def restore_formulas(value: pl.Expr) -> pl.Expr:
    """A neutralised cell as the value it stands for: without the apostrophe in front of a
    formula character or another apostrophe (``'=SUM(A1)`` is ``=SUM(A1)``, ``''=x`` is ``'=x``);
    any other cell as it is."""
    return value.str.replace(_NEUTRALISED, "$1")


def write_safe_csv(frame: pl.DataFrame, path: Path) -> None:
    """Write ``frame`` as UTF-8 CSV with every string cell (and header) neutralised.

    Args:
        frame: Rows to write; non-string columns are written as they are.
        path: Destination file; its folder is created if needed.
    """
    sink_safe_csv(frame.lazy(), path)


def sink_safe_csv(frame: pl.LazyFrame, path: Path, *, lazy: bool = False) -> pl.LazyFrame | None:
    """Stream ``frame`` to a UTF-8 CSV, neutralised as :func:`write_safe_csv` does.

    Args:
        frame: Rows to write, lazily; they are never all held in memory.
        path: Destination file; its folder is created if needed.
        lazy: Return the sink as a lazy query (for ``pl.collect_all``) instead of running it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    return safe_frame(frame).sink_csv(path, quote_style="necessary", lazy=lazy)


def safe_frame(frame: pl.LazyFrame) -> pl.LazyFrame:
    """``frame`` with every string cell and every header neutralised."""
    schema = frame.collect_schema()
    strings = [name for name, dtype in schema.items() if dtype == pl.String]
    safe = frame.with_columns(neutralise_formulas(pl.col(name)).alias(name) for name in strings)
    headers = pl.Series(schema.names(), dtype=pl.String).to_frame("header")
    safe_headers = headers.select(neutralise_formulas(pl.col("header"))).to_series().to_list()
    return safe.rename(dict(zip(schema.names(), safe_headers, strict=True)))
