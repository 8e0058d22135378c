"""Copies of a plan's CSV files cut to some of their rows, their lineage following the rows.

A derived plan (a sync's delta, a marketing file split by who HubSpot holds as unsubscribed)
sends fewer rows than the plan, or sends them from other files; a HubSpot error on one of its
lines must still name the source row that made it, so each copy says which planned lines it
kept and the lineage is copied with every kept row at its new file and line. The copies'
folder is a plan of its own (:func:`write_derived_plan`), which the load sends in place of
the planned files (:attr:`tasks.load.plan.LoadPlan.derived`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from tasks.load.optouts import normalise_email
from tasks.load.plan import LoadPlan, read_plan

PlannedLine = tuple[str, int]
"""A row of the plan: its file (as the plan names it) and line (header = 1)."""


def planned_rows(path: Path) -> tuple[list[str], int, Iterator[tuple[int, list[str]]]]:
    """A planned CSV's header, the index of its email column, and its ``(line, cells)``
    (header = line 1, counted in records as lineage counts them)."""
    handle = path.open(newline="", encoding="utf-8-sig")
    reader = csv.reader(handle)
    header = next(reader, [])
    email_index = [name.strip().lower() for name in header].index("email")

    def rows() -> Iterator[tuple[int, list[str]]]:
        with handle:
            yield from enumerate(reader, start=2)

    return header, email_index, rows()


def copy_rows(source: Path, target: Path, keep: Callable[[str], bool]) -> list[int]:
    """Copy the header and the rows whose email ``keep`` takes from ``source`` to ``target``.

    Cells are copied as they are (formula neutralisation included); a row too short to hold an
    email cell is never copied.

    Args:
        source: A planned CSV file.
        target: The copy (its folder is made).
        keep: Takes a row's email as the load compares it (``normalise_email``).

    Returns:
        The copied rows' lines in ``source``, in order (the copy's line ``n`` is entry ``n - 2``).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    header, email_index, rows = planned_rows(source)
    copied = []
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for line, cells in rows:
            if len(cells) > email_index and keep(normalise_email(cells[email_index])):
                writer.writerow(cells)
                copied.append(line)
    return copied


def copy_lineage(source: Path, target: Path, moved: Mapping[PlannedLine, PlannedLine]) -> None:
    """Copy the lineage rows of the copied rows, each at its new file and line.

    Args:
        source: The plan's ``lineage.csv`` (nothing is written when it does not exist).
        target: The copy.
        moved: Each copied row's planned file and line → its file and line in the copy.
    """
    if not source.exists():
        return
    with source.open(newline="", encoding="utf-8-sig") as reading, target.open("w", newline="", encoding="utf-8") as writing:
        reader = csv.DictReader(reading)
        writer = csv.DictWriter(writing, fieldnames=reader.fieldnames or [], lineterminator="\n")
        writer.writeheader()
        for row in reader:
            place = moved.get((row.get("file", ""), int(row.get("line") or 0)))
            if place is not None:
                writer.writerow({**row, "file": place[0], "line": place[1]})


def write_derived_plan(plan: LoadPlan, imports: list[dict[str, Any]], directory: Path) -> LoadPlan:
    """Write the ``plan.json`` of copies written to ``directory`` and read it back.

    The derived plan is the plan's own but for what it sends: ``imports`` only (no opt-outs, no
    lists, which the planned plan still sends), its lineage the ``lineage.csv`` written beside them.

    Args:
        plan: The plan the copies were made from.
        imports: The ``imports`` entries of the files in ``directory``.
        directory: The copies' folder (it exists).

    Returns:
        The derived plan, for :attr:`LoadPlan.derived`.
    """
    data = {**plan.data, "imports": imports, "opt_outs": [], "lists": [], "lineage": "lineage.csv"}
    (directory / "plan.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    return read_plan(directory)
