"""How fast the HubSpot emulator answers, so it is never what a load benchmark measures.

    python -m benchmarks.emulator [--inputs N] [--threads T] [--rows R]

Two figures, over real HTTP on loopback with the official hubspot-api-client:

- batch-upsert inputs a second: ``N`` contacts upserted by email in batches of 100 (each input
  traced, as the load sends them) from ``T`` threads, each with its own client and token;
- seconds from creating a ``R``-row import (upload included) until it is ``DONE``.

The ten-second limit is raised for the run: HubSpot's own limit (at most 25 requests a second
per token) would otherwise be what the first figure measures. Goals (issue 3): at least 2,000
inputs a second and a 1,000,000-row import in under 60 seconds.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from hubspot import HubSpot
from hubspot.crm.contacts import BatchInputSimplePublicObjectBatchInputUpsert

from emulators.hubspot import EmulatorServer, serve_in_background

BATCH_SIZE = 100
GOAL_INPUTS_PER_SECOND = 2_000
GOAL_IMPORT_SECONDS = 60.0
_POLL_SECONDS = 0.2
_CSV_BLOCK_ROWS = 100_000


def _batches(inputs: int) -> list[list[dict]]:
    rows = [
        {"idProperty": "email", "id": f"upsert{n}@example.com", "objectWriteTraceId": str(n),
         "properties": {"email": f"upsert{n}@example.com", "firstname": f"First{n}"}}
        for n in range(inputs)
    ]
    return [rows[start:start + BATCH_SIZE] for start in range(0, inputs, BATCH_SIZE)]


def upserts_per_second(hub: EmulatorServer, inputs: int, threads: int) -> float:
    """Upsert ``inputs`` new contacts from ``threads`` clients and return inputs a second.

    Raises:
        RuntimeError: the portal does not hold every contact afterwards.
    """
    batches = _batches(inputs)
    clients = [HubSpot(access_token=f"bench-{n}", host=hub.url) for n in range(threads)]

    def send(worker: int) -> None:
        api = clients[worker].crm.contacts.batch_api
        for batch in batches[worker::threads]:
            # The raw answer: the SDK's own parsing of 100 results (dateutil, ~1.4 ms each) is
            # client time, not the emulator's.
            answer = api.upsert(
                BatchInputSimplePublicObjectBatchInputUpsert(inputs=batch), _preload_content=False
            )
            if answer.status != 200:
                raise RuntimeError(f"batch upsert answered {answer.status}: {answer.data[:200]!r}")

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, range(threads)))
    elapsed = time.perf_counter() - started
    if len(hub.emulator.portal.emails) != inputs:
        raise RuntimeError(f"{len(hub.emulator.portal.emails)} contacts after {inputs} upserts")
    return inputs / elapsed


def write_import_file(path: Path, rows: int) -> None:
    """Write an import CSV of ``rows`` distinct contacts, in large blocks (seconds for 1M rows)."""
    with path.open("w", encoding="utf-8") as out:
        out.write("Email,First Name,Last Name\n")
        for start in range(0, rows, _CSV_BLOCK_ROWS):
            stop = min(start + _CSV_BLOCK_ROWS, rows)
            out.write("".join(f"import{n}@example.com,First{n},Last{n}\n" for n in range(start, stop)))


def _import_request(file_name: str) -> str:
    columns = [("Email", "email"), ("First Name", "firstname"), ("Last Name", "lastname")]
    mappings = [
        {"columnObjectTypeId": "0-1", "columnName": column, "propertyName": prop}
        for column, prop in columns
    ]
    mappings[0]["columnType"] = "HUBSPOT_ALTERNATE_ID"
    return json.dumps({
        "name": "benchmark",
        "importOperations": {"0-1": "UPSERT"},
        "marketableContactImport": True,
        "files": [{"fileName": file_name, "fileFormat": "CSV",
                   "fileImportPage": {"hasHeader": True, "columnMappings": mappings}}],
    })


def import_seconds(hub: EmulatorServer, path: Path, rows: int) -> tuple[float, float]:
    """Import the file at ``path``; return the wall and CPU seconds from its creation to ``DONE``.

    The CPU seconds are this process's (emulator and poller): unlike the wall time, they do not
    grow when other work shares the machine.

    Raises:
        RuntimeError: the import did not end ``DONE`` with ``rows`` contacts created.
    """
    imports = HubSpot(access_token="bench-import", host=hub.url).crm.imports.core_api
    started, cpu_started = time.perf_counter(), time.process_time()
    job = imports.create(files=str(path), import_request=_import_request(path.name))
    while job.state not in ("DONE", "FAILED", "CANCELED"):
        time.sleep(_POLL_SECONDS)
        job = imports.get_by_id(int(job.id))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    created = (job.metadata.counters or {}).get("CREATED_OBJECTS")
    if job.state != "DONE" or created != rows:
        raise RuntimeError(f"import ended {job.state} with {created} of {rows} contacts created")
    return elapsed, cpu


def _verdict(ok: bool) -> str:
    return "ok" if ok else "BELOW GOAL"


def main(argv: list[str] | None = None) -> None:
    """Measure both figures and print them, one line each, last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=20_000, help="contacts to batch-upsert")
    parser.add_argument("--threads", type=int, default=4, help="client threads for the upserts")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the import file")
    args = parser.parse_args(argv)

    with serve_in_background(tier="api-add-on", ten_second_limit=10**9, daily_limit=10**9) as hub:
        rate = upserts_per_second(hub, args.inputs, args.threads)
        hub.emulator.reset()
        with tempfile.TemporaryDirectory(prefix="onramp-bench-") as folder:
            path = Path(folder) / "contacts.csv"
            started = time.perf_counter()
            write_import_file(path, args.rows)
            written = time.perf_counter() - started
            print(f"import file: {args.rows:,} rows, {path.stat().st_size / 1e6:.0f} MB, "
                  f"written in {written:.1f} s", flush=True)
            seconds, cpu = import_seconds(hub, path, args.rows)

    print(f"batch upsert: {rate:,.0f} inputs/s ({args.inputs:,} inputs, {args.threads} threads; "
          f"goal >= {GOAL_INPUTS_PER_SECOND:,})  {_verdict(rate >= GOAL_INPUTS_PER_SECOND)}")
    print(f"import: {args.rows:,} rows to DONE in {seconds:.1f} s, {cpu:.1f} s of CPU "
          f"(goal < {GOAL_IMPORT_SECONDS:.0f} s)  {_verdict(seconds < GOAL_IMPORT_SECONDS)}")


if __name__ == "__main__":
    main()
