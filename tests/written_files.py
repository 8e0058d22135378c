"""Reading back what a plan wrote, for tests that assert on every file a person opens."""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Written independently of tasks/csv_safety.py: these are the only cells DESIGN.md lets
# through unquoted although they start like a formula.
_NUMBER = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?")
_PHONE = re.compile(r"\+?[0-9 ().\-/]*[0-9][0-9 ().\-/]*")


def written_csvs(output: Path) -> list[Path]:
    """Every CSV a plan wrote for a person: rejects, lineage, import and opt-out files."""
    return sorted(output.rglob("*.csv"))


def read_rows(path: Path) -> list[list[str]]:
    """All records of a written CSV, header included."""
    # The corpus writes cells of megabytes; csv's field limit is process-wide, so it is lifted
    # only while reading and put back for the code under test.
    limit = csv.field_size_limit(sys.maxsize)
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return list(csv.reader(handle))
    finally:
        csv.field_size_limit(limit)


def column(path: Path, name: str) -> list[str]:
    """The values of one column of a written CSV."""
    header, *records = read_rows(path)
    index = header.index(name)
    return [record[index] for record in records]


def formula_cells(output: Path) -> list[tuple[str, int, str]]:
    """Cells a spreadsheet would run as formulas, as ``(file, record, cell)``; [] when safe."""
    found = []
    for path in written_csvs(output):
        for number, record in enumerate(read_rows(path)):
            for cell in record:
                if cell.startswith(_FORMULA_START) and not (_NUMBER.fullmatch(cell) or _PHONE.fullmatch(cell)):
                    found.append((str(path.relative_to(output)), number, cell[:40]))
    return found


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``: relative path → bytes (symlinks and pipes by name only)."""
    return {
        str(path.relative_to(folder)): path.read_bytes() if path.is_file() and not path.is_symlink() else b""
        for path in sorted(folder.rglob("*"))
        if not path.is_dir() or path.is_symlink()
    }
