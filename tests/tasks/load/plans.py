"""Small plan directories written by hand, shaped as the planner's contract says."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write_plan(
    directory: Path,
    *,
    contacts: dict[str, tuple[dict[str, Any], list[str], list[list[str]]]] | None = None,
    opt_outs: dict[str, tuple[str, list[str]]] | None = None,
    properties: list[dict[str, Any]] | None = None,
    group: dict[str, str] | None = None,
    source: str = "file:///exports/audience.zip",
    lists: list[dict[str, Any]] | None = None,
) -> Path:
    """Write plan.json, the files it names and lineage.csv.

    Args:
        directory: Where to write.
        contacts: ``{file: (entry fields, header, rows)}``: each contacts file, plan-relative.
        opt_outs: ``{file: (status, emails)}``.
        properties: Custom property create bodies.
        group: The property group.
        source: The source URI lineage points at; each row's source row is ``<source>:<n>``
            with ``n`` counting every row written, from 2.
        lists: The static lists (``{"key", "name", "outcome", "files"}``), left out when ``None``.

    Returns:
        The directory.
    """
    lineage: list[list[str]] = []
    source_row = 1
    imports = []
    for file, (fields, header, rows) in (contacts or {}).items():
        write_csv(directory / file, header, rows)
        for line, row in enumerate(rows, start=2):
            source_row += 1
            lineage.append([row[0], fields.get("outcome", "marketing"), file, str(line), f"{source}:{source_row}"])
        imports.append({"file": file, "rows": len(rows), "columns": header, **fields})
    opt_out_entries = []
    for file, (status, emails) in (opt_outs or {}).items():
        write_csv(directory / file, ["Email"], [[email] for email in emails])
        for line, email in enumerate(emails, start=2):
            source_row += 1
            lineage.append([email, "opted_out", file, str(line), f"{source}:{source_row}"])
        opt_out_entries.append({"file": file, "status": status, "rows": len(emails)})
    write_csv(directory / "lineage.csv", ["email", "outcome", "file", "line", "sources"], lineage)
    plan = {
        "format_version": 1,
        "property_group": group,
        "properties": properties or [],
        "imports": imports,
        "opt_outs": opt_out_entries,
        "lineage": "lineage.csv",
    } | ({"lists": lists} if lists is not None else {})
    (directory / "plan.json").write_text(json.dumps(plan, indent=2), encoding="utf-8")
    return directory
