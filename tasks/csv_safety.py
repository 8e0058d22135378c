"""Writing CSV files people open in spreadsheets: formula cells are neutralised.

A cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return is run as a formula by
Excel, LibreOffice and Google Sheets (CSV injection). Such cells get a leading apostrophe,
except plain numbers and phone numbers (``-5``, ``+1 619 305 8111``), which are data and must
reach HubSpot unchanged.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

_FORMULA_START = r"^[=+\-@\t\r]"
_PLAIN_NUMBER = r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?$"
_PHONE_NUMBER = r"^\+?[0-9 ().\-/]*[0-9][0-9 ().\-/]*$"


def neutralise_formulas(value: pl.Expr) -> pl.Expr:
    """Prefix an apostrophe to a string cell a spreadsheet would run as a formula."""
    dangerous = (
        value.str.contains(_FORMULA_START)
        & ~value.str.contains(_PLAIN_NUMBER)
        & ~value.str.contains(_PHONE_NUMBER)
    )
    return pl.when(dangerous).then(pl.lit("'") + value).otherwise(value)


def write_safe_csv(frame: pl.DataFrame, path: Path) -> None:
    """Write ``frame`` as UTF-8 CSV with every string cell (and header) neutralised.

    Args:
        frame: Rows to write; non-string columns are written as they are.
        path: Destination file; its folder is created if needed.
    """
    strings = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    safe = frame.with_columns(neutralise_formulas(pl.col(name)).alias(name) for name in strings)
    headers = pl.Series(safe.columns, dtype=pl.String).to_frame("header")
    safe.columns = headers.select(neutralise_formulas(pl.col("header"))).to_series().to_list()
    path.parent.mkdir(parents=True, exist_ok=True)
    safe.write_csv(path, quote_style="necessary")

