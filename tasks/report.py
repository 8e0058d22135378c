"""The run's ledger: every row read is rejected, merged into another, or a contact.

``rows_read == rows_rejected + duplicates_merged + marketing + non_marketing + opted_out``
always holds; :func:`build_report` refuses to write a report where it does not.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from schemas import lineage
from schemas.contact import OUTCOME, ROWS_MERGED
from tasks.csv_safety import sink_safe_csv
from tasks.output import OutputFolder
from tasks.transform.consent import Outcome

REPORT_FILE = "report.json"
REJECTS_FILE = "rejects.csv"

REJECT_COLUMNS = {
    lineage.SOURCE_URI: "source",
    lineage.SOURCE_ROW: "row",
    lineage.SOURCE_STATUS: "status",
    lineage.SOURCE_FORMAT: "format",
    lineage.EXTRA_FIELDS: "extra fields",
}
"""Lineage column → its header in rejects.csv."""


class LedgerError(AssertionError):
    """The ledger does not balance: a bug in Onramp, never to be written as a report."""


@dataclass(frozen=True)
class SourceSummary:
    """What one source file contributed."""

    uri: str
    format: str
    status: str
    rows: int
    rejected: int

    def as_dict(self) -> dict:
        return {"uri": self.uri, "format": self.format, "status": self.status, "rows": self.rows, "rejected": self.rejected}


def build_report(
    sources: Sequence[SourceSummary],
    contacts: pl.DataFrame | pl.LazyFrame,
    columns: Sequence[dict],
    plan: dict,
) -> dict:
    """Assemble the ledger of a plan.

    Args:
        sources: One summary per source file.
        contacts: The merged contacts (``outcome`` and ``rows_merged`` columns), in memory
            or lazily (only those two columns are read).
        columns: Where every source column went.
        plan: The written plan (its files are listed in the report).

    Raises:
        LedgerError: The counts do not balance.
    """
    per_outcome = (
        contacts.lazy()
        .group_by(OUTCOME)
        .agg(pl.len().alias("contacts"), pl.col(ROWS_MERGED).cast(pl.Int64).sum().alias("rows"))
        .collect()
    )
    counts = {row[OUTCOME]: row["contacts"] for row in per_outcome.iter_rows(named=True)}
    outcomes = {o.value: int(counts.get(o.value, 0)) for o in Outcome}
    rows_read = sum(s.rows for s in sources)
    rows_rejected = sum(s.rejected for s in sources)
    duplicates_merged = int(per_outcome.get_column("rows").sum()) - int(per_outcome.get_column("contacts").sum())
    report = {
        "rows_read": rows_read,
        "rows_rejected": rows_rejected,
        "duplicates_merged": duplicates_merged,
        "contacts": outcomes,
        "sources": [s.as_dict() for s in sources],
        "columns": list(columns),
        "files": {
            "rejects": REJECTS_FILE,
            "imports": [{"file": i["file"], "outcome": i["outcome"], "rows": i["rows"]} for i in plan["imports"]],
            "opt_outs": [{"file": o["file"], "status": o["status"], "rows": o["rows"]} for o in plan["opt_outs"]],
            "lineage": plan["lineage"],
            "plan": "plan.json",
        },
    }
    check_ledger(report)
    return report


def check_ledger(report: dict) -> None:
    """Raise :class:`LedgerError` unless every row read is accounted for."""
    accounted = report["rows_rejected"] + report["duplicates_merged"] + sum(report["contacts"].values())
    if report["rows_read"] != accounted:
        raise LedgerError(f"ledger does not balance: {report['rows_read']} rows read, {accounted} accounted for")


def write_rejects(rejects: Sequence[pl.LazyFrame], out: OutputFolder) -> int:
    """Stream every rejected row to ``rejects.csv``: lineage, reason, original values.

    Args:
        rejects: Each file's rejects (lineage, reason, original values), lazily, in input
            order; each is scanned once for its count, so they should be cheap to scan.
        out: The run's output folder.

    Returns:
        The number of rows written.
    """
    counted = [(r, r.select(pl.len()).collect().item()) for r in rejects]
    # Only files with rejects add their columns to the header.
    frames = [r.rename(REJECT_COLUMNS, strict=False) for r, count in counted if count]
    if frames:
        table = pl.concat(frames, how="diagonal_relaxed")
    else:
        table = pl.LazyFrame(schema={"source": pl.String, "row": pl.Int64, "status": pl.String, "format": pl.String, "reason": pl.String})
    sink_safe_csv(table, out.path(REJECTS_FILE))
    return sum(count for _, count in counted)


def write_report(report: dict, out: OutputFolder) -> str:
    """Write ``report.json``; returns where a person finds it."""
    out.path(REPORT_FILE).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out.location(REPORT_FILE)


def summary_rows(report: dict) -> list[dict]:
    """The ledger as table rows (one per source file, then totals), for artifacts and the CLI."""
    rows = [
        {"source": s["uri"], "status": s["status"], "rows": s["rows"], "rejected": s["rejected"]}
        for s in report["sources"]
    ]
    rows.append({"source": "TOTAL", "status": "", "rows": report["rows_read"], "rejected": report["rows_rejected"]})
    return rows


def markdown_report(report: dict) -> str:
    """A short human report of the run: the ledger, outcomes, files and load results."""
    c = report["contacts"]
    lines = [
        "# Onramp run report",
        "",
        "| rows read | rejected | duplicates merged | marketing | non-marketing | opted out |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {report['rows_read']} | {report['rows_rejected']} | {report['duplicates_merged']} "
        f"| {c['marketing']} | {c['non_marketing']} | {c['opted_out']} |",
        "",
        "## Sources",
        "",
        "| file | status | rows | rejected |",
        "|---|---|---:|---:|",
        *(f"| `{s['uri']}` | {s['status']} | {s['rows']} | {s['rejected']} |" for s in report["sources"]),
        "",
        "## Files",
        "",
        *(f"- `{i['file']}`: {i['rows']} {i['outcome']} contacts" for i in report["files"]["imports"]),
        *(f"- `{o['file']}`: {o['rows']} opted out ({o['status']})" for o in report["files"]["opt_outs"]),
        f"- `{report['files']['rejects']}`: {report['rows_rejected']} rejected rows",
    ]
    load = report.get("load")
    if load:
        lines += ["", "## Load", "", "```json", json.dumps(load.get("summary", load), indent=2)[:4000], "```"]
    return "\n".join(lines) + "\n"
