"""HubSpot's imports a day (500; 50 on free portals; rolling 24 hours): the load counts the
imports it creates per portal, warns once a run near the limit, and an import HubSpot refuses for
it is an unfinished file named with its likely cause and when to rerun, at once, without the
ten-second window's retries. Into the emulator over HTTP (``max_imports_per_day``)."""

from __future__ import annotations

import json
import logging
import multiprocessing
import re
from datetime import datetime, timedelta, timezone

import pytest
import requests

from tasks.load import load_plan, settings
from tasks.load.client import HubSpotPortal
from tasks.load.imports import (
    import_contacts_file,
    import_contacts_files,
    imports_day_warning,
    imports_limit_refusal,
    refused_for_imports_limit,
)
from tasks.load.ratelimit import ImportCount, ImportLog
from tasks.load.resume import ImportJournal, step_finished
from tasks.load.retry import HttpError
from tests.tasks.load.conftest import TOKEN, count_requests
from tests.tasks.load.reruns import already_done, load_in_a_flow
from tests.tasks.load.test_load_emulator import MARKETING, NON_MARKETING, migration
from tests.tasks.load.test_resume import small_plan
from tests.tasks.load.test_tags_lists_companies import plan_dir
from tests.tasks.load.test_unfinished_steps import (
    EMAILS,
    MARKETING_ROWS,
    NON_MARKETING_ROWS,
    imports_created,
    marketing_status,
)
from tasks.load.upsert import IMPORTS
from tasks.report import load_lines

POLL = 0.02
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc)
REFUSAL = re.compile(
    r"HubSpot refused to create the import \((?P<said>[^)]*)\): the portal may have reached its imports a day "
    r"\(500; 50 on free portals, which may also import only 500,000 rows a day; rolling 24 hours; (?P<made>.*?)\)\. "
    r"(?P<rerun>Rerun .*)"
)


def contacts_files(tmp_path):
    """Two contacts files (4 and 2 rows), nothing else."""
    return migration(tmp_path, opt_outs={}, properties=[], group=None)


def utc_rounded_up(moment: datetime) -> str:
    """The minute a rerun is told to wait for: never one before ``moment``."""
    minute = moment.replace(second=0, microsecond=0)
    return f"{minute if minute == moment else minute + timedelta(minutes=1):%Y-%m-%d %H:%M} UTC"


def warnings(caplog, text: str) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING and text in record.getMessage()]


def answer(status: int, **body) -> HttpError:
    return HttpError(status, json.dumps(body).encode(), {}, "POST /crm/v3/imports")


def test_an_import_past_the_portals_imports_a_day_is_refused_at_once_with_its_cause(portal, emulator, tmp_path, caplog):
    emulator.configure(max_imports_per_day=1)

    [first, second] = import_contacts_files(portal, contacts_files(tmp_path), poll_interval=POLL)

    assert first["state"] == "DONE"
    assert (second["state"], second["import_id"], second["rows_failed"]) == ("REJECTED", None, 2)
    [error, *rows] = second["errors"]
    assert error["error_type"] == "IMPORT_REJECTED" and len(rows) == 2
    refusal = REFUSAL.fullmatch(error["message"])
    assert refusal, error["message"]
    assert refusal["said"] == "429: You have reached the limit of 1 imports in a rolling 24 hours for this portal."
    assert refusal["made"] == "Onramp created 1 in the last 24 h, with 4 rows"
    oldest = portal.imports_log.count().oldest
    assert refusal["rerun"] == (
        f"Rerun after {utc_rounded_up(oldest + timedelta(hours=24))}, when the oldest of those is 24 h old (room for one more import)"
    )
    # Asked once: no ten-second window's waits before the refusal, and the line is said once.
    assert count_requests(emulator, "POST", "/crm/v3/imports", 429) == 1
    assert not warnings(caplog, "waiting")
    assert warnings(caplog, "HubSpot refused") == [f"{NON_MARKETING}: {error['message']}"]


def test_a_file_refused_for_the_imports_a_day_is_sent_again_by_the_rerun(portal, emulator, tmp_path):
    plan = small_plan(tmp_path)
    journal = ImportJournal(tmp_path / "state", portal.url)
    emulator.configure(max_imports_per_day=0)

    refused = import_contacts_file(portal, plan, plan.imports[0], poll_interval=POLL, journal=journal)
    emulator.configure(max_imports_per_day=None)
    again = import_contacts_file(portal, plan, plan.imports[0], poll_interval=POLL, journal=journal)

    assert refused["state"] == "REJECTED" and not step_finished(refused)
    # Onramp made none: the time it names is the latest the portal's count can go down by then.
    refusal = REFUSAL.fullmatch(refused["errors"][0]["message"])
    assert refusal["made"] == "Onramp created none in the last 24 h: other apps' and people's imports count too"
    assert refusal["rerun"].startswith("Rerun by ") and refusal["rerun"].endswith(" UTC at the latest")
    assert step_finished(again) and again["rows_failed"] == 0
    assert portal.imports_log.count().imports == 1


def test_a_load_step_refused_for_the_day_is_sent_by_the_rerun_and_the_done_one_is_not(prefect_api_url, portal, emulator, client, tmp_path):
    plan, state = str(plan_dir(tmp_path / "plan", MARKETING_ROWS, NON_MARKETING_ROWS)), str(tmp_path / "state")
    emulator.configure(max_imports_per_day=1)

    first = load_in_a_flow(portal, plan, state, IMPORTS)

    [done, refused] = sorted(first["imports"], key=lambda result: result["state"])
    assert (done["state"], refused["state"]) == ("DONE", "REJECTED")
    [refusal] = [error for error in first["errors"] if error["file"] == refused["file"] and error["scope"] == "file"]
    assert REFUSAL.fullmatch(refusal["message"])
    assert first["rows_failed"] == refused["rows"]

    emulator.configure(max_imports_per_day=None)
    again = load_in_a_flow(portal, plan, state, IMPORTS)

    assert (IMPORTS, done["file"]) in already_done(again) and (IMPORTS, refused["file"]) not in already_done(again)
    assert again["rows_failed"] == 0 and imports_created(emulator) == 2
    assert set(marketing_status(client)) == set(EMAILS) and None not in marketing_status(client).values()
    assert portal.imports_log.count().imports == 2


def test_a_ten_second_window_429_on_import_creation_is_still_waited_out(portal, hub, emulator, tmp_path, short_window):
    emulator.configure(tier="starter", ten_second_limit=5)
    plan = small_plan(tmp_path)
    # Another tool with the same token spends the window: the budget cannot see it.
    with requests.Session() as outsider:
        outsider.headers["Authorization"] = f"Bearer {TOKEN}"
        for _ in range(5):
            outsider.get(f"{hub.url}/crm/v3/properties/contacts/groups", timeout=10).raise_for_status()

    [result] = import_contacts_files(portal, plan, poll_interval=POLL)

    assert result["state"] == "DONE"
    assert count_requests(emulator, "POST", "/crm/v3/imports", 429) == 1


def test_the_count_is_the_portals_whichever_token_creates_the_imports(hub, emulator, tmp_path):
    plan = small_plan(tmp_path)
    one, other = HubSpotPortal(hub.url, TOKEN), HubSpotPortal(hub.url, "pat-another-app")

    import_contacts_files(one, plan, poll_interval=POLL)
    import_contacts_files(other, plan, poll_interval=POLL)

    assert one.imports_log.count().imports == other.imports_log.count().imports == 2
    assert (one.imports_log.count().rows, one.imports_log.path) == (4, other.imports_log.path)
    emulator.configure(portal_id=654321)
    assert HubSpotPortal(hub.url, TOKEN).imports_log.count().imports == 0


def test_a_run_past_40_imports_warns_once_on_a_portal_that_may_be_free(portal, emulator, tmp_path, caplog):
    emulator.configure(tier="free")
    for _ in range(40):
        portal.imports_log.record(1)

    import_contacts_files(portal, contacts_files(tmp_path), poll_interval=POLL)

    [warning] = warnings(caplog, "Onramp has created")
    assert warning.startswith("Onramp has created 41 imports (44 rows) in this portal in the last 24 hours: a free portal may create 50 ")
    assert warning.endswith(
        "Onramp cannot tell a free portal from a Starter one (both allow 100 requests per 10 s): on Starter the limit is 500"
    )
    assert portal.imports_log.count().imports == 42


def test_the_warning_is_in_the_load_report_for_a_person_who_reads_only_the_summary(portal, emulator, tmp_path, caplog):
    emulator.configure(tier="free")
    for _ in range(40):
        portal.imports_log.record(1)

    report = load_plan(portal, contacts_files(tmp_path).directory, poll_interval=POLL)

    assert warnings(caplog, "Onramp has created")
    # Said as the load ends: both of its imports counted.
    [warning] = report["warnings"]
    assert warning.startswith("Onramp has created 42 imports (46 rows) in this portal in the last 24 hours: a free portal may create 50 ")
    assert load_lines(report)[-1] == f"  warning: {warning}"


def test_a_load_far_from_the_limit_warns_of_nothing(portal, emulator, tmp_path, caplog):
    report = load_plan(portal, contacts_files(tmp_path).directory, poll_interval=POLL)

    assert report["warnings"] == [] and not warnings(caplog, "Onramp has created")


def test_a_paid_portal_is_warned_only_near_its_500(portal, emulator, tmp_path, caplog):
    # The emulated portal is Enterprise: 190 requests per 10 s, so not free.
    for _ in range(41):
        portal.imports_log.record(1)
    import_contacts_files(portal, small_plan(tmp_path / "a"), poll_interval=POLL)
    assert not warnings(caplog, "Onramp has created")

    for _ in range(449):
        portal.imports_log.record(1)
    import_contacts_files(portal, small_plan(tmp_path / "b"), poll_interval=POLL)

    [warning] = warnings(caplog, "Onramp has created")
    assert warning.startswith("Onramp has created 492 imports in this portal in the last 24 hours, of the 500")


def test_imports_leave_the_count_24_hours_after_they_were_created(tmp_path):
    clock = [NOW.timestamp()]
    log = ImportLog("portal", tmp_path, wall_clock=lambda: clock[0])
    log.record(10)
    clock[0] += 3600
    assert log.record(5) == ImportCount(imports=2, rows=15, oldest=NOW)
    assert log.count().oldest_ages_out == NOW + timedelta(hours=24)

    clock[0] = (NOW + timedelta(hours=24, seconds=1)).timestamp()

    assert log.count() == ImportCount(imports=1, rows=5, oldest=NOW + timedelta(hours=1))


def test_a_log_that_cannot_be_read_counts_from_nothing(tmp_path):
    log = ImportLog("portal", tmp_path)
    log.path.write_text('{"created": [[1, 2, 3], "x", [true, 1]]}', encoding="utf-8")
    assert log.count() == ImportCount(0, 0, None)
    log.path.write_text("not json", encoding="utf-8")
    assert log.record(3).imports == 1


def _record_many(state_dir: str, times: int) -> None:
    log = ImportLog("shared", state_dir)
    for _ in range(times):
        log.record(1)


def test_processes_recording_at_once_lose_no_import(tmp_path):
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_record_many, args=(str(tmp_path), 25)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)

    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    assert ImportLog("shared", tmp_path).count().imports == 100


@pytest.mark.parametrize(
    ("status", "body", "imports_limit"),
    [
        (429, {"policyName": "TEN_SECONDLY_ROLLING", "message": "You have reached your ten_secondly_rolling limit."}, False),
        (429, {"policyName": "SECONDLY", "message": "You have reached your secondly limit."}, False),
        (429, {"message": "You have reached your secondly limit."}, False),
        # A limit of the file itself keeps its own message.
        (429, {"category": "RATE_LIMITS", "subCategory": "IMPORT_ROW_LIMIT_EXCEEDED", "message": "split the file"}, False),
        (429, {"category": "RATE_LIMITS", "message": "maximum number of imports in a 24 hour period"}, True),
        # The daily API quota: the budget stops the load and says when it resets.
        (429, {"policyName": "DAILY", "message": "You have reached your daily limit."}, False),
        (429, {"policyName": "IMPORTS_DAILY"}, True),
        (400, {"category": "VALIDATION_ERROR", "message": "Import limit reached"}, True),
        (403, {"category": "FORBIDDEN", "message": "You have exceeded the limit of imports"}, True),
        (400, {"category": "VALIDATION_ERROR", "message": "fileName does not match any uploaded file"}, False),
        (500, {"message": "internal error: limit"}, False),
    ],
)
def test_which_refusals_may_be_the_imports_a_day(status, body, imports_limit):
    assert refused_for_imports_limit(answer(status, **body)) is imports_limit


def test_the_refusal_says_when_the_oldest_import_frees_room_rounded_up_to_the_minute():
    count = ImportCount(imports=50, rows=120, oldest=NOW - timedelta(hours=20, seconds=20))
    refused = answer(429, message="You have reached the maximum number of imports allowed in a 24 hour period")

    line = imports_limit_refusal(refused, count, NOW)

    assert line == (
        "HubSpot refused to create the import (429: You have reached the maximum number of imports allowed in a 24 "
        "hour period): the portal may have reached its imports a day (500; 50 on free portals, which may also import "
        "only 500,000 rows a day; rolling 24 hours; Onramp created 50 in the last 24 h, with 120 rows). Rerun after "
        "2026-11-30 06:00 UTC, when the oldest of those is 24 h old (room for one more import)"
    )


def counted(imports: int, rows: int = 0) -> ImportCount:
    return ImportCount(imports, rows, NOW)


def test_the_warning_thresholds():
    assert imports_day_warning(counted(settings.IMPORTS_WARN_FREE), None) is None
    assert imports_day_warning(counted(settings.IMPORTS_WARN_FREE + 1), None) is not None
    assert imports_day_warning(counted(2, settings.IMPORT_ROWS_WARN_FREE + 1), 100) is not None
    assert imports_day_warning(counted(settings.IMPORTS_WARN_PAID, 10**6), 190) is None
    assert "(Onramp's oldest is at 2026-12-01 02:00 UTC)" in imports_day_warning(counted(settings.IMPORTS_WARN_PAID + 1), 190)
