"""Bounds on a workbook before calamine reads it: a sheet's cells are allocated as one range.

calamine (through fastexcel) allocates a sheet's whole used range, from its first to its last
cell, at once. A workbook of a few kilobytes with one cell at ``XFD1048576`` thus asks for
17 billion cells (~512 GiB) and the process aborts inside Rust, beyond any ``except``. The
sheets' XML is streamed once (a chunk at a time, never whole) to find each sheet's extent from
its cell references; a workbook whose extent exceeds MAX_SHEET_CELLS is refused with one line.
The ``<dimension>`` element is not trusted (calamine does not trust it either).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from tasks.errors import InputError
from tasks.extract.sources import refuse_zip_bomb

MAX_SHEET_CELLS = 30_000_000
"""About 1 GiB of calamine cells (32 bytes each): a million contacts of 30 columns. A bigger
contact list is an export to save as CSV, which is streamed instead."""

CHUNK_BYTES = 1 << 20
_OVERLAP = 64
_SHEET_PART = re.compile(r"xl/worksheets/[^/]+\.xml")
_CELL_REFERENCE = re.compile(rb'<(?:[A-Za-z0-9_]+:)?c\b[^>]*?\sr="([A-Z]{1,3})([0-9]{1,7})"')


def check_workbook_extent(path: Path, uri: str) -> None:
    """Refuse an XLSX/XLSM workbook a sheet of which spans more than MAX_SHEET_CELLS.

    Not a zip (an old ``.xls``, an encrypted workbook, junk): left to calamine's own error.

    Raises:
        InputError: A sheet's cell references span more cells than the bound, or a sheet's XML
            is a zip bomb.
    """
    refuse_encrypted_workbook(path, uri)
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if _SHEET_PART.fullmatch(info.filename):
                    refuse_zip_bomb(info, f"{uri}!{info.filename}")
                    with archive.open(info) as part:
                        _check_part(part, uri, info.filename)
    except (zipfile.BadZipFile, EOFError, OSError, RuntimeError, NotImplementedError):
        return  # calamine says what is wrong with the archive, in its own words


def _check_part(part, uri: str, name: str) -> None:
    rows = [None, None]
    columns = [None, None]
    tail = b""
    while chunk := part.read(CHUNK_BYTES):
        data = tail + chunk
        for letters, digits in _CELL_REFERENCE.findall(data):
            row, column = int(digits), _column_number(letters)
            rows = [min(rows[0] or row, row), max(rows[1] or row, row)]
            columns = [min(columns[0] or column, column), max(columns[1] or column, column)]
        tail = data[-_OVERLAP:]
    if rows[0] is None:
        return
    cells = (rows[1] - rows[0] + 1) * (columns[1] - columns[0] + 1)
    if cells > MAX_SHEET_CELLS:
        raise InputError(
            uri,
            f"sheet {name.rsplit('/', 1)[-1]} spans {cells:,} cells (rows {rows[0]:,}-{rows[1]:,}, "
            f"columns {columns[0]:,}-{columns[1]:,}), more than {MAX_SHEET_CELLS:,}: save the contacts as CSV",
        )


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + (letter - 64)
    return number


OLE2_SIGNATURE = bytes.fromhex("D0CF11E0A1B11AE1")
OOXML_SUFFIXES = (".xlsx", ".xlsm")


def refuse_encrypted_workbook(path: Path, uri: str) -> None:
    """An ``.xlsx`` that is an OLE2 compound file is a password-protected (encrypted) workbook:
    Excel wraps the encrypted zip in one. (A legacy ``.xls`` is OLE2 too, and readable.)

    Raises:
        InputError: The workbook is encrypted.
    """
    if not uri.lower().endswith(OOXML_SUFFIXES):
        return
    with path.open("rb") as handle:
        if handle.read(len(OLE2_SIGNATURE)) == OLE2_SIGNATURE:
            raise InputError(uri, "password-protected (encrypted) workbook: save it without a password, or as CSV")
