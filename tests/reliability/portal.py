"""What the load's fault and crash tests share: the emulator's view of a load, and the CLI run.

Each test proves its claim with the emulator's own request counts and state dump: what was
sent, how often, and what the portal holds in the end. Used by ``tests/flows/test_load_resume.py``
and ``tests/reliability/``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import requests

from schemas.params import MigrationParameters
from tests.flows.test_migrate import expected_outcomes

TOKEN = "test-token"
# Reads sent as POST: everything else that is not a GET writes.
READ_ROUTES = ("batch/read", "unsubscribe-all/read", "/search")
VOLATILE = {"hs_object_id", "createdate", "lastmodifieddate", "hs_lastmodifieddate"}


def writes(hub) -> dict[tuple[str, str], int]:
    """Successful writes the emulator answered, by (method, route)."""
    counts: dict[tuple[str, str], int] = {}
    for (method, route, status), count in list(hub.emulator.request_counts.items()):
        if method != "GET" and status < 300 and not any(part in route for part in READ_ROUTES):
            counts[(method, route)] = counts.get((method, route), 0) + count
    return counts


def requests_answered(hub) -> int:
    """Every HubSpot request the emulator answered so far, whatever its status."""
    return sum(list(hub.emulator.request_counts.values()))


def answered_429s(hub) -> int:
    """429 answers the emulator gave (ten-second window and daily quota)."""
    return sum(count for (_, _, status), count in list(hub.emulator.request_counts.items()) if status == 429)


class FaultCounter:
    """Counts the faults the emulator's injector draws (error statuses and dropped connections),
    whatever ``configure`` does to the injector: installed on the class by ``monkeypatch``."""

    def __init__(self, monkeypatch) -> None:
        from emulators.hubspot.faults import FaultInjector

        self.count = 0
        draw = FaultInjector.draw

        def counting(injector):
            fault = draw(injector)
            self.count += bool(fault.drop or fault.error is not None)
            return fault

        monkeypatch.setattr(FaultInjector, "draw", counting)


def record(**figures) -> None:
    """Append a test's figures (faults injected, crashes survived, rows lost) to the JSON-lines
    file ``ONRAMP_RELIABILITY_FIGURES`` names, for ``python -m benchmarks.reliability``."""
    target = os.environ.get("ONRAMP_RELIABILITY_FIGURES")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(figures) + "\n")


def raw_state(hub) -> dict:
    return requests.get(f"{hub.url}/_emulator/state", timeout=30).json()


def portal_state(hub) -> dict:
    """What the portal holds, without ids and timestamps: contacts by email, opt-outs, lists."""
    state = raw_state(hub)
    contacts = {c["properties"]["email"]: {k: v for k, v in c["properties"].items() if k not in VOLATILE} for c in state["contacts"]}
    emails = {c["id"]: c["properties"]["email"] for c in state["contacts"]}
    lists = {item["name"]: sorted(emails[m] for m in item["members"]) for item in state["lists"]}
    return {"contacts": contacts, "opt_outs": sorted(state["optOuts"]), "lists": lists}


def contacts_created_twice(hub) -> list[str]:
    """Emails the portal holds more than one contact record for."""
    counts = Counter(c["properties"]["email"] for c in raw_state(hub)["contacts"])
    return sorted(email for email, count in counts.items() if count > 1)


def params(tmp_path: Path, hub, out: str = "out", **options) -> MigrationParameters:
    return MigrationParameters(sources=[str(tmp_path / "export.zip")], output=str(tmp_path / out), portal_url=hub.url, **options)


def rows_lost(hub, report: dict, truth) -> int:
    """Planned contacts neither in HubSpot nor in the ledger's failed rows, plus opt-outs not
    applied: what a load must never leave (0)."""
    expected = expected_outcomes(truth)
    state = portal_state(hub)
    missing = len((expected["marketing"] | expected["non_marketing"]) - set(state["contacts"]))
    return max(missing - report["load"]["rows_failed"], 0) + len(expected["opted_out"] - set(state["opt_outs"]))


def assert_every_row_accounted_for(hub, report: dict, truth) -> None:
    """Every planned contact is in HubSpot (once) or in the ledger with HubSpot's error, and
    every opt-out is applied."""
    expected = expected_outcomes(truth)
    load = report["load"]
    state = portal_state(hub)
    failed = {(e["file"], e["line"]) for e in load["errors"] if e["scope"] == "row"}
    assert len(failed) == load["rows_failed"]
    contacts = expected["marketing"] | expected["non_marketing"]
    assert len(state["contacts"]) + load["rows_failed"] >= len(contacts)
    assert set(state["contacts"]) <= contacts
    assert set(state["opt_outs"]) >= expected["opted_out"]
    assert {e for e, c in state["contacts"].items() if c["hs_marketable_status"] == "true"} <= expected["marketing"]
    assert load["reconciliation"]["mismatches"] == []
    assert contacts_created_twice(hub) == []


def run_cli(tmp_path: Path, hub, prefect_api_url: str, load_path: str = "imports", out: str = "out",
            env: dict | None = None) -> subprocess.Popen:
    """``onramp migrate`` of ``tmp_path/export.zip`` as a user runs it, in a process of its own."""
    env = {**os.environ, "PREFECT_API_URL": prefect_api_url, "HUBSPOT_ACCESS_TOKEN": TOKEN, **(env or {})}
    command = [sys.executable, "-m", "flows.cli", "migrate", str(tmp_path / "export.zip"), "--out", str(tmp_path / out),
               "--portal-url", hub.url, "--load-path", load_path]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
