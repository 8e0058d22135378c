"""A recurring sync of file sources: what changed since the last successful run, as a plan.

Each run plans the whole source as a migration does, then compares the planned contacts with
the snapshot the last successful run left (one row per email: its outcome and a digest of its
planned row) and writes a **delta plan** — the same ``plan.json`` layout, holding only the new
opt-outs and the new or changed contacts — that the ordinary load runs on. The snapshot is
replaced only after a load that went through, so a failed run is simply tried again.

Consent is one-way: an email the snapshot holds as opted out stays opted out, whatever a later
export says (``DESIGN.md``: an opt-out signal anywhere is final), so it is never upserted again.

The snapshot lives beside the output, ``<output>/.onramp-sync/<key>/snapshot.parquet``, where
``key`` names the sources and the portal: the next scheduled run with the same parameters finds
it, another source or portal starts from nothing.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import polars as pl

from tasks.load.optouts import normalise_email
from tasks.load.plan import LoadPlan, read_plan
from tasks.transform.consent import Outcome

SYNC_FOLDER = ".onramp-sync"
SNAPSHOT_FILE = "snapshot.parquet"
DELTA_FOLDER = "sync-delta"
SNAPSHOT_SCHEMA = {"email": pl.String, "outcome": pl.String, "digest": pl.String}
OPTED_OUT = Outcome.OPTED_OUT.value


def sync_key(sources: Iterable[str], portal_url: str) -> str:
    """The name of a sync's state: its sources (in any order) and the portal it feeds."""
    identity = json.dumps({"sources": sorted(sources), "portal": portal_url.rstrip("/")})
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


def snapshot_location(output: str, key: str) -> str:
    """Where the snapshot of sync ``key`` is kept under the output folder (a path or URL)."""
    return f"{output.rstrip('/')}/{SYNC_FOLDER}/{key}/{SNAPSHOT_FILE}"


def read_snapshot(location: str) -> pl.DataFrame | None:
    """The last successful run's snapshot, or None before the first one."""
    fs, path = fsspec.core.url_to_fs(location)
    if not fs.exists(path):
        return None
    with fs.open(path, "rb") as handle:
        return pl.read_parquet(handle)


def write_snapshot(location: str, snapshot: pl.DataFrame) -> None:
    """Replace the snapshot; written aside first, so a crash mid-write leaves the old one whole."""
    fs, path = fsspec.core.url_to_fs(location)
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    with fs.open(f"{path}.partial", "wb") as handle:
        snapshot.write_parquet(handle)
    fs.mv(f"{path}.partial", path)


def snapshot_generation(snapshot: pl.DataFrame | None) -> str:
    """A name for the snapshot a run starts from: a retry of a failed run starts from the same
    one and finds its finished load steps; the next run after a success starts afresh."""
    if snapshot is None:
        return "initial"
    return hashlib.sha256(snapshot.sort("email").write_ipc(None).getvalue()).hexdigest()[:16]


def _rows(path: Path) -> tuple[list[str], int, Iterator[tuple[int, list[str]]]]:
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


def planned_state(plan: LoadPlan) -> pl.DataFrame:
    """Every planned email with its outcome and a digest of its planned row (opt-outs: status)."""
    emails: list[str] = []
    outcomes: list[str] = []
    digests: list[str] = []
    for entry, is_opt_out in [(e, False) for e in plan.imports] + [(e, True) for e in plan.opt_outs]:
        header, email_index, rows = _rows(plan.path(entry["file"]))
        for _, cells in rows:
            email = normalise_email(cells[email_index]) if len(cells) > email_index else ""
            if not email:
                continue
            emails.append(email)
            outcomes.append(OPTED_OUT if is_opt_out else entry["outcome"])
            row = f"status:{entry.get('status')}" if is_opt_out else "\x1f".join(header + cells)
            digests.append(hashlib.sha256(row.encode()).hexdigest()[:32])
    return pl.DataFrame({"email": emails, "outcome": outcomes, "digest": digests}, schema=SNAPSHOT_SCHEMA).unique(
        "email", keep="first", maintain_order=True
    )


@dataclass(frozen=True)
class Delta:
    """What a sync run sends, and the snapshot to keep once it has landed.

    Attributes:
        opt_outs: Emails opted out since the snapshot (sent first).
        contacts: Emails new or changed since the snapshot, none of them ever opted out.
        kept_opted_out: Emails the export now plans as contacts that the snapshot holds as
            opted out: not sent, still opted out.
        next_snapshot: The snapshot after a successful run.
    """

    opt_outs: frozenset[str]
    contacts: frozenset[str]
    kept_opted_out: frozenset[str]
    next_snapshot: pl.DataFrame

    def counts(self, planned: int) -> dict[str, int]:
        """The delta's counts, as the run report keeps them under ``"sync"``."""
        return {
            "planned_contacts": planned,
            "new_opt_outs": len(self.opt_outs),
            "new_or_changed_contacts": len(self.contacts),
            "kept_opted_out": len(self.kept_opted_out),
            "unchanged": planned - len(self.opt_outs) - len(self.contacts) - len(self.kept_opted_out),
        }


def diff(planned: pl.DataFrame, previous: pl.DataFrame | None) -> Delta:
    """Compare the planned state with the last successful run's snapshot.

    Args:
        planned: :func:`planned_state` of this run's plan.
        previous: The snapshot, or None on the first run (everything is new).
    """
    previous = previous if previous is not None else pl.DataFrame(schema=SNAPSHOT_SCHEMA)
    was_opted_out = previous.filter(pl.col("outcome") == OPTED_OUT)
    opted_out = planned.filter(pl.col("outcome") == OPTED_OUT)
    contacts = planned.filter(pl.col("outcome") != OPTED_OUT)
    kept = contacts.join(was_opted_out, on="email", how="semi")
    changed = contacts.join(was_opted_out, on="email", how="anti").join(previous, on=["email", "outcome", "digest"], how="anti")
    new_opt_outs = opted_out.join(was_opted_out, on="email", how="anti")
    # Every opt-out ever seen stays in the snapshot, even once the export stops listing it.
    next_snapshot = pl.concat([planned.join(was_opted_out, on="email", how="anti"), was_opted_out])
    return Delta(
        opt_outs=frozenset(new_opt_outs["email"]),
        contacts=frozenset(changed["email"]),
        kept_opted_out=frozenset(kept["email"]),
        next_snapshot=next_snapshot,
    )


def write_delta_plan(plan: LoadPlan, delta: Delta, directory: Path) -> LoadPlan:
    """Write the plan of what the delta sends: the plan's files cut to the delta's emails.

    Files keep their names and headers; empty ones are left out; lineage follows the rows to
    their new lines, so a HubSpot error still names its source row.

    Args:
        plan: This run's full plan.
        delta: What to send.
        directory: The delta plan's folder (emptied first).
    """
    shutil.rmtree(directory, ignore_errors=True)
    moved: dict[tuple[str, int], int] = {}
    kept_entries: dict[str, list[dict[str, Any]]] = {"imports": [], "opt_outs": []}
    for kind, wanted in (("imports", delta.contacts), ("opt_outs", delta.opt_outs)):
        for entry in getattr(plan, kind):
            rows = _copy_rows(plan.path(entry["file"]), directory / entry["file"], wanted)
            for new_line, old_line in enumerate(rows, start=2):
                moved[(entry["file"], old_line)] = new_line
            if rows:
                kept_entries[kind].append({**entry, "rows": len(rows)})
            else:
                (directory / entry["file"]).unlink()
    _copy_lineage(plan.lineage_path, directory / plan.data.get("lineage", "lineage.csv"), moved)
    data = {**plan.data, **kept_entries}
    (directory / "plan.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    return read_plan(directory)


def _copy_rows(source: Path, target: Path, emails: frozenset[str]) -> list[int]:
    """Copy the header and the rows of ``emails`` from ``source`` to ``target``, cells as they
    are (formula neutralisation included); return the copied rows' old lines."""
    target.parent.mkdir(parents=True, exist_ok=True)
    header, email_index, rows = _rows(source)
    copied = []
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for line, cells in rows:
            if len(cells) > email_index and normalise_email(cells[email_index]) in emails:
                writer.writerow(cells)
                copied.append(line)
    return copied


def _copy_lineage(source: Path, target: Path, moved: dict[tuple[str, int], int]) -> None:
    """Keep the lineage rows of the copied rows, at their new lines."""
    if not source.exists():
        return
    with source.open(newline="", encoding="utf-8-sig") as reading, target.open("w", newline="", encoding="utf-8") as writing:
        reader = csv.DictReader(reading)
        writer = csv.DictWriter(writing, fieldnames=reader.fieldnames or [], lineterminator="\n")
        writer.writeheader()
        for row in reader:
            line = moved.get((row.get("file", ""), int(row.get("line") or 0)))
            if line is not None:
                writer.writerow({**row, "line": line})


def failed_emails(plan: LoadPlan, errors: Iterable[dict[str, Any]]) -> set[str]:
    """The emails of the delta rows HubSpot did not take (``row``-scoped load errors)."""
    wanted = {(error["file"], error["line"]) for error in errors if error.get("scope") == "row" and error.get("line")}
    emails = set()
    for file in {file for file, _ in wanted}:
        _, email_index, rows = _rows(plan.path(file))
        emails |= {normalise_email(cells[email_index]) for line, cells in rows if (file, line) in wanted and len(cells) > email_index}
    return emails


def snapshot_after(delta: Delta, previous: pl.DataFrame | None, failed: set[str]) -> pl.DataFrame:
    """The snapshot to keep after a load: the delta's, except that emails whose rows failed keep
    their previous entry (or none), so the next run sends them again."""
    kept = delta.next_snapshot.filter(~pl.col("email").is_in(sorted(failed)))
    if previous is None or not failed:
        return kept
    return pl.concat([kept, previous.filter(pl.col("email").is_in(sorted(failed)))])
