"""How close the load runs to HubSpot's rate ceiling, against the emulator at Professional limits.

    python -m benchmarks.load [--seconds 60] [--imports-rows 1000000] [--opt-out-seconds 20] [--latency 0]

Three runs, one emulated portal each (190 requests per 10 s, as Professional), every answer
``--latency`` seconds late. By default the emulator answers at once; HubSpot takes a few hundred
milliseconds to over a second to upsert 100 contacts, and only enough requests in flight hold
the ceiling through that (``REQUESTS_IN_FLIGHT`` in ``tasks/load/settings.py``).

- **Imports**: one file of ``--imports-rows`` contacts through the Imports API; time from the
  upload to ``DONE`` and rows a second (the emulator's processing speed, not HubSpot's: HubSpot
  takes minutes for a million rows, so read this as "the load adds nothing").
- **Opt-outs** through the single-address path (no batch scopes): requests a second against the
  ceiling of 19 a second (each address is one unsubscribe and one read-back).
- **Batch upsert**, last: ``--seconds`` worth of contacts at the ceiling (190 requests × 100
  records per 10 s = 1,900 records a second), so the run lasts at least that long. The last line
  is ``load: <N> records/s = <P>% of ceiling, failed rows: <F>, 429s: <Q>``, 429s counted by the
  emulator. Goal: P >= 95 at no latency, F = 0, Q = 0.

The first line names the latency and the rate budget's bound at it: the budget counts each
request from its grant until a window after its answer, so with answers ``L`` seconds late at
most ``(190 - 1) / (10 + L)`` requests a second go out (90.4 % of the ceiling at 1 s), however
many are in flight.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import tempfile
import time
from collections.abc import Iterable
from multiprocessing import Queue
from pathlib import Path

from emulators.hubspot import serve_in_background
from emulators.hubspot.settings import BURST_LIMITS
from tasks.load import settings
from tasks.load.client import HubSpotPortal
from tasks.load.imports import import_contacts_file
from tasks.load.optouts import apply_opt_out_file
from tasks.load.plan import read_plan
from tasks.load.upsert import upsert_contacts_file

TIER = "professional"
TOKEN = "pat-benchmark"
WINDOW_SECONDS = 10.0
CONTACTS_FILE = "hubspot/contacts-non-marketing-001.csv"
OPT_OUT_FILE = "hubspot/opt-out-unsubscribed.csv"


def requests_per_second_ceiling() -> float:
    """HubSpot's burst limit for the tier, per second."""
    return BURST_LIMITS[TIER] / WINDOW_SECONDS


def budget_bound(latency: float) -> float:
    """The share of the ceiling the rate budget lets out when every answer takes ``latency`` s."""
    window_share = WINDOW_SECONDS / (WINDOW_SECONDS + latency)
    return (BURST_LIMITS[TIER] - settings.RATE_LIMIT_RESERVE) / BURST_LIMITS[TIER] * window_share


def write_plan(directory: Path, contacts: int, opt_outs: int) -> Path:
    """A plan with one non-marketing contacts file and one opt-out file, of generated rows."""
    (directory / "hubspot").mkdir(parents=True)
    with (directory / CONTACTS_FILE).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "firstname", "lastname", "city"])
        writer.writerows((f"person{n}@example.com", f"First{n}", f"Last{n}", "Lisbon") for n in range(contacts))
    with (directory / OPT_OUT_FILE).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Email"])
        writer.writerows([f"gone{n}@example.com"] for n in range(opt_outs))
    plan = {
        "format_version": 1,
        "property_group": None,
        "properties": [],
        "imports": [
            {"file": CONTACTS_FILE, "outcome": "non_marketing", "marketable": False, "create_list": False,
             "rows": contacts, "columns": ["email", "firstname", "lastname", "city"], "name": "Onramp benchmark"}
        ],
        "opt_outs": [{"file": OPT_OUT_FILE, "status": "unsubscribed", "rows": opt_outs}],
        "lineage": "lineage.csv",
    }
    (directory / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    return directory


def count_429s(request_counts: Iterable[tuple[tuple[str, str, int], int]]) -> int:
    """429 answers among the emulator's request counts."""
    return sum(count for (_, _, status), count in request_counts if status == 429)


def bench_imports(rows: int, work: Path, latency: float = 0.0) -> str:
    """Import ``rows`` contacts in one file; report time to DONE and rows a second."""
    plan = read_plan(write_plan(work / "imports", rows, 0))
    with serve_in_background(tier=TIER, latency=latency) as hub:
        portal = HubSpotPortal(hub.url, TOKEN)
        started = time.monotonic()
        result = import_contacts_file(portal, plan, plan.imports[0], poll_interval=0.5)
        elapsed = time.monotonic() - started
    return (
        f"imports: {rows:,} contacts {result['state']} in {elapsed:.1f} s = {rows / elapsed:,.0f} rows/s, "
        f"failed rows: {result['rows_failed']}, requests: {sum(hub.emulator.request_counts.values())}"
    )


def bench_opt_outs(seconds: float, work: Path, latency: float = 0.0) -> str:
    """Opt out ``seconds`` worth of addresses one call each; report requests a second vs the ceiling."""
    ceiling = requests_per_second_ceiling()
    addresses = int(seconds * ceiling / 2)  # an unsubscribe and a read-back each
    plan = read_plan(write_plan(work / "opt-outs", 0, addresses))
    with serve_in_background(tier=TIER, batch_comm_prefs_allowed=False, latency=latency) as hub:
        portal = HubSpotPortal(hub.url, TOKEN)
        started = time.monotonic()
        result = apply_opt_out_file(portal, plan, plan.opt_outs[0])
        elapsed = time.monotonic() - started
        counts = hub.emulator.request_counts
        sent = sum(counts.values())
    rate = sent / elapsed
    return (
        f"opt-outs (single-address): {result['unsubscribed']:,} of {addresses:,} addresses in {elapsed:.1f} s, "
        f"{rate:.1f} requests/s = {100 * rate / ceiling:.1f}% of ceiling, failed rows: {result['failed']}, "
        f"429s: {count_429s(counts.items())}"
    )


def _upsert_in_child(url: str, plan_dir: str, results: Queue) -> None:
    plan = read_plan(plan_dir)
    started = time.monotonic()
    result = upsert_contacts_file(HubSpotPortal(url, TOKEN), plan, plan.imports[0])
    results.put((result, time.monotonic() - started))


def bench_upsert(seconds: float, work: Path, latency: float = 0.0) -> str:
    """Upsert ``seconds`` worth of contacts at the ceiling; the benchmark's last line.

    The load runs in a process of its own, as it would against HubSpot: sharing this one's
    interpreter lock with the emulator would make each measure the other's CPU time.
    """
    ceiling = requests_per_second_ceiling() * settings.UPSERT_BATCH_SIZE
    rows = int(seconds * ceiling)
    plan_dir = write_plan(work / "upsert", rows, 0)
    with serve_in_background(tier=TIER, latency=latency) as hub:
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        child = context.Process(target=_upsert_in_child, args=(hub.url, str(plan_dir), results))
        child.start()
        result, elapsed = results.get()
        child.join()
        counts = hub.emulator.request_counts
        records = result["counters"]["CREATED_OBJECTS"] + result["counters"]["UPDATED_OBJECTS"]
        rate = records / elapsed
        return (
            f"load: {rate:,.0f} records/s = {100 * rate / ceiling:.1f}% of ceiling, "
            f"failed rows: {result['rows_failed']}, 429s: {count_429s(counts.items())}"
        )


def main(argv: list[str] | None = None) -> None:
    """Run the three benchmarks and print one line each, the batch-upsert figure last."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="batch-upsert run length (at the ceiling)")
    parser.add_argument("--imports-rows", type=int, default=1_000_000, help="contacts in the Imports run (0 skips it)")
    parser.add_argument("--opt-out-seconds", type=float, default=20.0, help="opt-out run length (0 skips it)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds the emulator waits before each answer")
    args = parser.parse_args(argv)
    if args.latency < 0:
        parser.error(f"--latency must be 0 or more seconds, not {args.latency}")
    if args.seconds <= 0:
        # The batch-upsert figure is the benchmark's last line: a run of no contacts has none.
        parser.error(f"--seconds must be more than 0, not {args.seconds}")
    print(
        f"emulator latency: {args.latency:.2f} s an answer (budget's bound: {100 * budget_bound(args.latency):.1f}% "
        f"of ceiling); threads: {settings.UPSERT_THREADS} upsert, {settings.OPT_OUT_THREADS} opt-out",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="onramp-bench-load-") as directory:
        work = Path(directory)
        # A budget of its own, so no earlier run on this machine holds part of the window.
        os.environ[settings.STATE_DIR_ENV_VAR] = str(work / "state")
        if args.imports_rows:
            print(bench_imports(args.imports_rows, work, args.latency), flush=True)
        if args.opt_out_seconds:
            print(bench_opt_outs(args.opt_out_seconds, work, args.latency), flush=True)
        print(bench_upsert(args.seconds, work, args.latency), flush=True)


if __name__ == "__main__":
    main()
