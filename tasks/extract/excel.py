"""Spreadsheet workbooks (XLSX, XLSM, XLS, ODS) as sources: one sheet, staged as a UTF-8 CSV.

A Constant Contact XLSX export or a CRM report saved from Excel holds the contacts on one
sheet, sometimes beside notes or pivot sheets. The sheet is either named by the user
(``export.xlsx#Contacts``) or chosen by its header row; it is then written as a plain CSV so
every later step reads workbooks and text files alike. Cells are read as text (calamine
formats a date cell as ``2020-09-25 16:45:13``; a plain number as its digits), and empty rows
are kept inside the data so ``_source_row`` stays the row Excel shows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path

import fastexcel
import polars as pl

from tasks.errors import InputError
from tasks.extract.sources import StagedFile
from tasks.extract.workbook_limits import check_workbook_extent

SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
SHEET_SEPARATOR = "#"
"""Joins a workbook's URI and a sheet's name, as in ``export.xlsx#Contacts``."""


def is_spreadsheet(name: str) -> bool:
    """Whether a file name (or URI, with or without ``#sheet``) names a workbook."""
    return split_sheet(name)[0].lower().endswith(SPREADSHEET_SUFFIXES)


def split_sheet(source: str) -> tuple[str, str | None]:
    """``"x.xlsx#Contacts"`` → ``("x.xlsx", "Contacts")``; a name with no sheet → ``(name, None)``."""
    base, separator, sheet = source.rpartition(SHEET_SEPARATOR)
    if separator and base.lower().endswith(SPREADSHEET_SUFFIXES):
        return base, sheet
    return source, None


def sheet_headers(staged: StagedFile) -> dict[str, list[str]]:
    """Each sheet's first row, as text, by sheet name in workbook order.

    Raises:
        InputError: The file is not a workbook calamine can open.
    """
    workbook = _open(staged)
    return {name: _first_row(workbook, name) for name in workbook.sheet_names}


def stage_sheet(
    staged: StagedFile,
    staging_dir: Path,
    sheet: str | None,
    score: Callable[[list[str]], int],
) -> StagedFile:
    """Write one sheet of a workbook as a UTF-8 CSV, every cell as text.

    Args:
        staged: The workbook.
        staging_dir: Where the CSV is written.
        sheet: The sheet to read; None to take the sheet whose header row scores highest
            (the first such sheet on a tie).
        score: How much a header row looks like a contact list (0: not at all).

    Returns:
        The sheet as a CSV, its URI ``<workbook>#<sheet>``.

    Raises:
        InputError: The named sheet does not exist, or no sheet has a header row that scores.
    """
    headers = sheet_headers(staged)
    name = sheet if sheet is not None else _best_sheet(headers, score)
    if name is None:
        raise InputError(staged.uri, f"no sheet has a contact header row (sheets: {', '.join(headers)})")
    if name not in headers:
        raise InputError(staged.uri, f"no sheet {sheet!r} (sheets: {', '.join(headers)})")
    rows = _open(staged).load_sheet(name, header_row=None, dtypes="string").to_polars()
    # calamine reads a sheet's whole used range: formatting left on empty rows below the data
    # would otherwise become rows without an email.
    filled = rows.select(pl.any_horizontal(pl.all().is_not_null() & (pl.all() != ""))).to_series()
    last = filled.arg_true().max() if filled.any() else -1
    uri = f"{staged.uri}{SHEET_SEPARATOR}{name}"
    target = staging_dir / "sheets" / f"{hashlib.sha256(uri.encode()).hexdigest()[:16]}.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    rows.head(last + 1).write_csv(target, include_header=False)
    return StagedFile(uri=uri, path=target)


def _open(staged: StagedFile) -> fastexcel.ExcelReader:
    check_workbook_extent(staged.path, staged.uri)
    try:
        return fastexcel.read_excel(staged.path)
    except Exception as error:  # fastexcel raises its own hierarchy, one per calamine failure
        raise InputError(staged.uri, f"not a readable workbook: {str(error).splitlines()[0]}") from error


def _first_row(workbook: fastexcel.ExcelReader, name: str) -> list[str]:
    frame = workbook.load_sheet(name, header_row=None, n_rows=1, dtypes="string").to_polars()
    return [value or "" for value in frame.row(0)] if frame.height else []


def _best_sheet(headers: Mapping[str, list[str]], score: Callable[[list[str]], int]) -> str | None:
    scores = {name: score(row) for name, row in headers.items()}
    best = max(scores, key=lambda name: scores[name], default=None)
    return best if best is not None and scores[best] > 0 else None
