"""Spreadsheet workbooks (XLSX, XLSM, XLS, ODS) as sources: each contact sheet staged as a UTF-8 CSV.

A Constant Contact XLSX export or a CRM report saved from Excel holds the contacts on one
sheet or several (contacts, leads), sometimes beside notes or pivot sheets. Either the user
names one sheet (``export.xlsx#Contacts``) or every sheet whose header row is a contact
list's is taken; each is then written as a plain CSV so every later step reads workbooks and
text files alike. Cells are read as text (calamine
formats a date cell as ``2020-09-25 16:45:13``; a plain number as its digits), and empty rows
are kept inside the data so ``_source_row`` stays the row Excel shows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
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


def stage_sheets(
    staged: StagedFile,
    staging_dir: Path,
    sheet: str | None,
    is_contact_list: Callable[[list[str]], bool],
    looks_like_header: Callable[[list[str]], bool] | None = None,
    header_search_rows: int = 1,
    unread_sheet_problem: Callable[[str], str | None] | None = None,
) -> list[StagedFile]:
    """Write the contact sheets of a workbook as UTF-8 CSVs, every cell as text.

    Args:
        staged: The workbook.
        staging_dir: Where the CSVs are written.
        sheet: The sheet to read; None to take every sheet whose header row is a contact
            list's (a workbook of contacts and leads holds two lists, and neither may be lost).
        is_contact_list: Whether a header row is a contact list's (it has an email column).
        looks_like_header: Whether a later row reads as a header row, to name it in the refusal
            when no sheet starts with one (a title above the header); None looks for none.
        header_search_rows: How far down a sheet such a row is looked for.
        unread_sheet_problem: Why a sheet left unread (no contact list's header row) must not
            be, by its name (``Unsubscribed``: its people would never be opted out); None when
            it may. Asked only when every contact sheet is read.

    Returns:
        Each sheet as a CSV, its URI ``<workbook>#<sheet>``, in workbook order.

    Raises:
        InputError: The workbook cannot be read, the named sheet does not exist, no sheet
            has a contact list's header row, or a sheet left unread must not be.
    """
    workbook = _open(staged)
    headers = {name: _first_row(workbook, name) for name in workbook.sheet_names}
    if sheet is not None and sheet not in headers:
        raise InputError(staged.uri, f"no sheet {sheet!r} (sheets: {', '.join(headers)})")
    names = [sheet] if sheet is not None else [name for name, row in headers.items() if is_contact_list(row)]
    unread = [name for name in headers if name not in names] if sheet is None and unread_sheet_problem else []
    for name in unread:
        if problem := unread_sheet_problem(name):
            raise InputError(f"{staged.uri}#{name}", problem)
    if not names:
        raise InputError(staged.uri, _no_contact_sheet(workbook, list(headers), looks_like_header, header_search_rows))
    return [_stage_sheet(workbook, staged, staging_dir, name) for name in names]


def _no_contact_sheet(
    workbook: fastexcel.ExcelReader, names: list[str], looks_like_header: Callable[[list[str]], bool] | None, search_rows: int
) -> str:
    """Why no sheet is read: none starts with a contact header row; naming a later row that
    looks like one (a title or a date above the header), when a sheet has one."""
    for name in names if looks_like_header else ():
        frame = workbook.load_sheet(name, header_row=None, n_rows=search_rows, dtypes="string").to_polars()
        for number, row in enumerate(frame.iter_rows(), start=1):
            if number > 1 and looks_like_header([value or "" for value in row]):
                return (
                    f"no sheet has a contact header row on its first row; sheet {name!r} row {number} "
                    "looks like the header: remove the rows above it"
                )
    return f"no sheet has a contact header row (sheets: {', '.join(names)})"


def _stage_sheet(workbook: fastexcel.ExcelReader, staged: StagedFile, staging_dir: Path, name: str) -> StagedFile:
    rows = workbook.load_sheet(name, header_row=None, dtypes="string").to_polars()
    # calamine reads a sheet's whole used range: formatting left on empty rows below the data
    # would otherwise become rows without an email.
    filled = rows.select(pl.any_horizontal(pl.all().is_not_null() & (pl.all() != ""))).to_series()
    last = filled.arg_true().max() if filled.any() else -1
    uri = f"{staged.uri}{SHEET_SEPARATOR}{name}"
    target = staging_dir / "sheets" / f"{hashlib.sha256(uri.encode()).hexdigest()[:16]}.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    rows.head(last + 1).write_csv(target, include_header=False)
    return staged.part(SHEET_SEPARATOR, name, target)


def _open(staged: StagedFile) -> fastexcel.ExcelReader:
    check_workbook_extent(staged.path, staged.uri)
    try:
        return fastexcel.read_excel(staged.path)
    except Exception as error:  # fastexcel raises its own hierarchy, one per calamine failure
        if _is_markup(staged.path):
            raise InputError(
                staged.uri,
                "not a workbook but a web page under a workbook's name (Salesforce's and Zoho's \"Export to Excel\" "
                "write one): open it in Excel and save it as .xlsx or CSV",
            ) from error
        raise InputError(staged.uri, f"not a readable workbook: {str(error).splitlines()[0]}") from error


MARKUP_HEAD_BYTES = 512
"""The first bytes of a file looked at for HTML markup."""


def _is_markup(path: Path) -> bool:
    """Whether a file starts, past a byte order mark and blanks, as HTML or XML does (``<html>``,
    ``<?xml``, ``<table>``): a report saved as a web page under an ``.xls`` name."""
    with path.open("rb") as handle:
        head = handle.read(MARKUP_HEAD_BYTES)
    return head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"<")


def _first_row(workbook: fastexcel.ExcelReader, name: str) -> list[str]:
    frame = workbook.load_sheet(name, header_row=None, n_rows=1, dtypes="string").to_polars()
    return [value or "" for value in frame.row(0)] if frame.height else []
