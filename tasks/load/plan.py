"""Reading the planner's output: ``plan.json``, the files it names, and ``lineage.csv``.

The contract (written by the planner, read here):

- ``plan.json``: ``format_version`` 1, ``property_group``, ``properties``, ``imports``,
  ``lists`` (optional), ``opt_outs`` and ``lineage`` (the lineage file, relative to the plan
  directory).
- every file path in it is relative to the plan directory, and is the same string the lineage
  file uses in its ``file`` column;
- ``lineage.csv``: ``email,outcome,file,line,sources,last_changed``, where ``line`` is the
  record's line in ``file`` with the header as line 1 (the numbering HubSpot's import errors
  use), ``sources`` the source rows as ``uri:row`` joined by `` | `` and ``last_changed`` when
  the contact last changed at its sources (ISO 8601 UTC, empty when unknown; the sync reads it).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.csv_safety import NEUTRALISED_STARTS
from tasks.errors import LoadError

PLAN_FORMAT_VERSION = 1
SOURCES_SEPARATOR = " | "


@dataclass(frozen=True)
class LoadPlan:
    """A plan directory, read.

    Attributes:
        directory: The plan directory.
        data: ``plan.json`` as parsed.
        derived: Files the load sends in place of planned ones (``tasks/load/opted_out.py``): a
            plan of their own, with its own lineage, whose files :meth:`path` and
            :func:`tie_back` find there; ``None`` when every file is sent as planned.
    """

    directory: Path
    data: dict[str, Any]
    derived: LoadPlan | None = None

    @property
    def imports(self) -> list[dict[str, Any]]:
        """The contacts files to import, in plan order."""
        return list(self.data.get("imports", []))

    @property
    def lists(self) -> list[dict[str, Any]]:
        """The static lists to create and fill: ``{"key", "name", "outcome", "files"}``; an
        import entry's ``list`` names its list's key."""
        return list(self.data.get("lists", []))

    @property
    def opt_outs(self) -> list[dict[str, Any]]:
        """The opt-out files to apply, in plan order."""
        return list(self.data.get("opt_outs", []))

    @property
    def property_group(self) -> dict[str, Any] | None:
        """The custom property group, when the plan has one."""
        return self.data.get("property_group")

    @property
    def property_groups(self) -> list[dict[str, Any]]:
        """Every custom property group: ``property_groups`` when the sources mix formats, else
        the one ``property_group``."""
        groups = self.data.get("property_groups")
        if groups:
            return list(groups)
        return [self.property_group] if self.property_group else []

    @property
    def properties(self) -> list[dict[str, Any]]:
        """The custom properties, as Properties API create bodies."""
        return list(self.data.get("properties", []))

    @property
    def files(self) -> frozenset[str]:
        """The plan-relative names of its contacts and opt-out files."""
        return frozenset(entry["file"] for entry in self.imports + self.opt_outs)

    def path(self, relative: str) -> Path:
        """The local path of a file the plan names (a derived one's, when it has one)."""
        if self.derived is not None and relative in self.derived.files:
            return self.derived.path(relative)
        return self.directory / relative

    @property
    def lineage_path(self) -> Path:
        """The lineage file."""
        return self.path(self.data.get("lineage", "lineage.csv"))


def read_plan(plan_dir: str | Path) -> LoadPlan:
    """Read ``plan.json`` from a plan directory.

    Args:
        plan_dir: The directory the planner wrote (a local path).

    Returns:
        The plan.

    Raises:
        LoadError: No readable ``plan.json``, or one of a format this code does not know.
    """
    directory = Path(plan_dir)
    try:
        data = json.loads((directory / "plan.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise LoadError(f"{directory / 'plan.json'}: cannot read the load plan ({error})") from None
    version = data.get("format_version") if isinstance(data, dict) else None
    if version != PLAN_FORMAT_VERSION:
        raise LoadError(
            f"{directory / 'plan.json'}: plan format_version {version!r}, expected {PLAN_FORMAT_VERSION}"
        )
    return LoadPlan(directory=directory, data=data)


def unneutralise(cell: str) -> str:
    """A planned CSV cell as the value it stands for: without the apostrophe the planner puts in
    front of a cell a spreadsheet would run as a formula (``'-joe@x.com`` is ``-joe@x.com``), or
    of a value's own leading apostrophe (``''=x`` is ``'=x``), as ``tasks.csv_safety.restore_formulas`` does."""
    if cell.startswith("'") and cell[1:2] in NEUTRALISED_STARTS:
        return cell[1:]
    return cell


def read_header(path: Path) -> list[str]:
    """The header row of a planned CSV file."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return next(csv.reader(handle), [])


def iter_column(path: Path, column: str) -> Iterator[tuple[int, str]]:
    """Yield ``(line, value)`` for one column of a planned CSV, header matched case-insensitively.

    ``line`` counts records with the header as line 1, as lineage and HubSpot do, so a cell
    holding a newline does not shift the numbering.

    Raises:
        LoadError: The file has no such column.
    """
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [name.strip().lower() for name in next(reader, [])]
        if column.lower() not in header:
            raise LoadError(f"{path}: no {column!r} column in the header")
        index = header.index(column.lower())
        for line, row in enumerate(reader, start=2):
            if len(row) > index:
                yield line, row[index]


def tie_back(plan: LoadPlan, errors: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fill each error's ``sources`` from lineage, by its ``file`` and ``line``.

    The lineage file is read once, as a stream, keeping only the rows asked for, so memory
    follows the number of errors rather than the size of the migration.

    Args:
        plan: The plan whose lineage to read.
        errors: Dicts with ``file`` (plan-relative) and ``line`` (an int, or ``None`` / 0 for an
            error about a whole file); they are updated in place.

    Returns:
        The same errors, as a list, each with ``sources`` (a list of ``uri:row``; empty when the
        error concerns no single row or lineage does not know it).
    """
    errors = list(errors)
    own = errors
    if plan.derived is not None:
        # A derived file's lines are its own: its lineage, not the plan's, names their sources.
        derived_files = plan.derived.files
        tie_back(plan.derived, [error for error in errors if error["file"] in derived_files])
        own = [error for error in errors if error["file"] not in derived_files]
    wanted = {(error["file"], error["line"]) for error in own if error.get("line")}
    found: dict[tuple[str, int], list[str]] = {}
    if wanted and plan.lineage_path.exists():
        with plan.lineage_path.open(newline="", encoding="utf-8-sig") as handle:
            for row in csv.DictReader(handle):
                try:
                    key = (row["file"], int(row["line"]))
                except (KeyError, TypeError, ValueError):
                    continue
                if key in wanted:
                    found[key] = [part for part in (row.get("sources") or "").split(SOURCES_SEPARATOR) if part]
    for error in own:
        error["sources"] = found.get((error["file"], error.get("line")), [])
    return errors
