"""What the console says after a load: a stopped load still prints the plan's ledger and where the
report is, and the contacts files are counted by how they went to HubSpot."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import flows.cli
from flows.cli import _print_summary, main
from tasks.errors import LoadError

CONTACTS = {"marketing": 33, "non_marketing": 4, "opted_out": 10}
LEDGER = "rows read 60  rejected 8  duplicates merged 5  ->  marketing 33  non-marketing 4  opted out 10"
STOP = "POST /crm/v3/imports: the portal's daily HubSpot API quota is spent (before the stop: done properties; 0 of 37 contacts sent)"


def planned(**more) -> dict:
    return {"rows_read": 60, "rows_rejected": 8, "duplicates_merged": 5, "contacts": CONTACTS, "sources": [], **more}


def engine_stopping_with(report_written: dict | None, age_seconds: float = 0):
    """A stand-in for the flow: writes the report the run left (if any; ``age_seconds`` before it
    started, an earlier run's), then stops as a load does."""

    def engine(flow, params):
        if report_written is not None:
            report = Path(params.output) / "report.json"
            report.write_text(json.dumps(report_written), encoding="utf-8")
            if age_seconds:
                written = report.stat().st_mtime - age_seconds
                os.utime(report, (written, written))
        raise LoadError(STOP)

    return engine


def test_a_stopped_load_prints_the_ledger_and_where_the_report_is(tmp_path, capsys, monkeypatch, prefect_api_url):
    out = tmp_path / "out"
    monkeypatch.setattr(flows.cli, "_in_engine", engine_stopping_with(planned(load_stopped=STOP, load_done={})))

    status = main(["migrate", str(flows.cli.SAMPLE_EXPORT), "--out", str(out)])

    printed = capsys.readouterr()
    assert status == 1
    assert LEDGER in printed.out
    assert "the load stopped before it finished: report.json load_stopped says why, load_done what was done" in printed.out
    assert printed.out.rstrip().endswith(f"report: {out}/report.json")
    assert printed.err == f"onramp: error: load failed: {STOP}\n"


@pytest.mark.parametrize(
    "left", [None, planned(load_stopped="an earlier run's stop"), planned()], ids=["no report", "earlier stop", "earlier run"]
)
def test_a_report_that_is_not_this_stops_is_not_printed(tmp_path, capsys, monkeypatch, prefect_api_url, left):
    out = tmp_path / "out"
    monkeypatch.setattr(flows.cli, "_in_engine", engine_stopping_with(left))

    status = main(["migrate", str(flows.cli.SAMPLE_EXPORT), "--out", str(out)])

    assert status == 1
    assert capsys.readouterr().out == ""


def test_an_earlier_runs_report_of_the_same_stop_is_not_printed(tmp_path, capsys, monkeypatch, prefect_api_url):
    out = tmp_path / "out"
    stopped_an_hour_ago = engine_stopping_with(planned(load_stopped=STOP, load_done={}), age_seconds=3600)
    monkeypatch.setattr(flows.cli, "_in_engine", stopped_an_hour_ago)

    assert main(["migrate", str(flows.cli.SAMPLE_EXPORT), "--out", str(out)]) == 1
    assert capsys.readouterr().out == ""


def file_result(path: str | None, import_id: int | None, *failed_before: int) -> dict:
    return {"import_id": import_id, "previous_import_ids": list(failed_before), **({"path": path} if path else {})}


@pytest.mark.parametrize(
    ("files", "counted"),
    [
        ([file_result(None, 1), file_result(None, 2)], "2 import(s)"),
        ([file_result(None, 1), file_result("upsert", None)], "1 import(s), 1 file(s) by batch upsert"),
        # The demo: both files upserted; the marketing one's status set by an import (HubSpot holds 1).
        ([file_result("upsert", 5), file_result("upsert", None)],
         "1 import(s), 2 file(s) by batch upsert (the marketing status of 1 of them by import)"),
        # An import HubSpot ended FAILED, submitted again in the run: both count toward the day's.
        ([file_result(None, 2, 1), file_result(None, 3)], "3 import(s) (1 of them FAILED and submitted again)"),
        # HubSpot refused to create the second file's import (the imports a day): none exists.
        ([file_result(None, 1), file_result(None, None)], "1 import(s)"),
        # A rerun took up a stopped run's marketing-status import and sent one for the rows it lacked.
        ([{**file_result("upsert", 7), "earlier_import_ids": [6]}],
         "2 import(s), 1 file(s) by batch upsert (the marketing status of 1 of them by import)"),
    ],
    ids=["imports", "one of each", "upserts", "a failed import submitted again", "an import refused at creation", "an earlier run's import taken up"],
)
def test_contacts_files_are_counted_by_how_they_went(capsys, files, counted):
    load = {"portal": "http://127.0.0.1:1", "portal_id": None, "imports": files, "opt_outs": {"unsubscribed": 10}, "rows_failed": 0}

    _print_summary(planned(load=load), "out")

    [line] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("HubSpot (")]
    assert line == f"HubSpot (http://127.0.0.1:1): {counted}, 10 opted out, 0 row(s) failed"
