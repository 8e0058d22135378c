"""Opt-outs one call per address: requests kept in flight through a whole file, and what a file
larger than one batch reports, against the HubSpot emulator over real HTTP."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest

from tasks import stopping
from tasks.errors import LoadError
from tasks.load import HubSpotPortal, apply_opt_outs, read_plan, settings
from tasks.load.optouts import NOT_UNSUBSCRIBED, as_answered
from tests.reliability.portal import wait_for
from tests.tasks.load.conftest import TOKEN, count_requests
from tests.tasks.load.plans import write_plan

UNSUBSCRIBED = "hubspot/opt-out-unsubscribed.csv"
SINGLE = "/{subscriber}/unsubscribe-all"
# Long enough never to end a test that works; a test that hangs fails instead.
HELD_SECONDS = 30.0


class CountedItems:
    """Items handed out lazily, counting how many were taken."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.taken = 0

    def __iter__(self):
        for item in range(self.count):
            self.taken += 1
            yield item


def test_a_slow_answer_holds_up_no_other_address():
    # Item 0's answer comes only once every other item is answered: a pool that waited for the
    # slowest answer of each group of addresses would hand nothing back before item 0.
    answered: list[int] = []
    others_answered = threading.Event()
    items = 3 * settings.OPT_OUT_BATCH_SIZE

    def call(item: int) -> int:
        if item == 0:
            others_answered.wait(HELD_SECONDS)
        return item * 2

    for item, result in as_answered(call, range(items)):
        assert result == item * 2
        answered.append(item)
        if len(answered) == items - 1:
            others_answered.set()

    assert sorted(answered) == list(range(items)) and answered[-1] == 0


def test_the_threads_are_opt_out_threads_and_items_are_read_a_bounded_way_ahead():
    items = CountedItems(10 * settings.OPT_OUT_THREADS)
    running = 0
    most_running = 0
    lock = threading.Lock()
    release = threading.Event()

    def call(item: int) -> int:
        nonlocal running, most_running
        with lock:
            running += 1
            most_running = max(most_running, running)
        release.wait(HELD_SECONDS)
        with lock:
            running -= 1
        return item

    with ThreadPoolExecutor(max_workers=1) as consumer:
        answered = consumer.submit(lambda: sorted(item for item, _ in as_answered(call, items)))
        wait_for(lambda: running == settings.OPT_OUT_THREADS)
        taken_while_held = items.taken
        release.set()
        assert answered.result(timeout=HELD_SECONDS) == list(range(items.count))

    assert most_running == settings.OPT_OUT_THREADS
    # Every call is held, so the pool takes no more than its read-ahead: a million-address file
    # is never a million pending calls.
    assert settings.OPT_OUT_THREADS <= taken_while_held <= 2 * settings.OPT_OUT_THREADS


@pytest.mark.parametrize("error", [LoadError("daily quota spent"), stopping.Stopping()], ids=["load-error", "stopping"])
def test_a_failing_call_ends_the_stream_and_no_more_items_are_taken(error):
    items = CountedItems(100 * settings.OPT_OUT_THREADS)

    def call(item: int) -> int:
        if item == 5:
            raise error
        return item

    with pytest.raises(type(error)):
        for _ in as_answered(call, items):
            pass

    assert items.taken <= 2 * settings.OPT_OUT_THREADS


def opt_out_plan(tmp_path, emails):
    return read_plan(write_plan(tmp_path, opt_outs={UNSUBSCRIBED: ("unsubscribed", emails)}))


def is_opted_out(portal, email):
    path = f"{settings.COMM_PREFS_PATH}/{quote(email, safe='@')}/unsubscribe-all"
    return portal.request("GET", path, params={"channel": "EMAIL"})["results"] != []


def test_a_file_of_several_batches_goes_one_call_per_address_with_its_failures_in_file_order(
    portal, emulator, short_window, tmp_path
):
    emulator.configure(batch_comm_prefs_allowed=False)
    emails = [f"gone{n}@example.com" for n in range(250)]
    emails[30] = "not an address"
    emails[120] = "jane@bücher.de"
    emails[180] = "also not an address"
    emails[200] = ""
    emails[220] = emails[10].upper()  # the same address again: sent once

    report = apply_opt_outs(portal, opt_out_plan(tmp_path, emails))

    [result] = report["files"]
    assert (result["addresses"], result["unsubscribed"], result["failed"], result["mode"]) == (248, 246, 3, "single")
    # Header = line 1: the address at index n is on line n + 2.
    assert [(error["line"], error["error_type"]) for error in report["errors"]] == [
        (202, "NO_EMAIL"),
        (32, "OPT_OUT_FAILED"),
        (182, "OPT_OUT_FAILED"),
    ]
    assert all(error["message"].startswith("HTTP 400") for error in report["errors"][1:])
    # One unsubscribe per address and one for the xn-- spelling; a read-back per address (a
    # refused one may be held unsubscribed already); the batch endpoint asked once.
    assert count_requests(emulator, "POST", SINGLE) == 248 + 1
    assert count_requests(emulator, "GET", SINGLE) == 248
    assert count_requests(emulator, "POST", "/batch/unsubscribe-all") == 1
    for email in ("gone0@example.com", "gone249@example.com", "jane@bücher.de", "jane@xn--bcher-kva.de"):
        assert is_opted_out(portal, email), email


def test_an_address_unsubscribed_and_not_read_back_so_is_a_failed_row(portal, emulator, tmp_path):
    emulator.configure(batch_comm_prefs_allowed=False)
    plan = opt_out_plan(tmp_path, ["gone@example.com", "kept@example.com"])

    class ForgetsKept(dict):
        """The portal's opt-outs, dropping one address as a portal that lost the write would."""

        def __setitem__(self, email, value):
            if email != "kept@example.com":
                super().__setitem__(email, value)

    emulator.portal.opt_outs = ForgetsKept(emulator.portal.opt_outs)

    report = apply_opt_outs(portal, plan)

    assert report["unsubscribed"] == 1
    assert [(error["line"], error["message"]) for error in report["errors"]] == [(3, NOT_UNSUBSCRIBED)]


def test_a_refused_opt_out_of_an_address_hubspot_holds_unsubscribed_is_taken_read_back_one_call_each(
    portal, emulator, tmp_path
):
    emulator.configure(batch_comm_prefs_allowed=False)
    portal.request("POST", f"{settings.COMM_PREFS_PATH}/held@example.com/unsubscribe-all", params={"channel": "EMAIL"})
    emulator.configure(refused_opt_outs=("held@example.com", "never@example.com"))
    plan = opt_out_plan(tmp_path, ["held@example.com", "never@example.com", "fresh@example.com"])
    reads_before = count_requests(emulator, "GET", SINGLE)

    report = apply_opt_outs(portal, plan)

    assert (report["unsubscribed"], report["failed"]) == (2, 1)
    assert [(error["line"], error["message"][:8]) for error in report["errors"]] == [(3, "HTTP 400")]
    # One read-back per address: the refused ones too, and no more.
    assert count_requests(emulator, "GET", SINGLE) - reads_before == 3


def test_refused_opt_outs_are_read_back_in_a_batch_where_the_portal_batches(portal, emulator, tmp_path):
    # The first batch is taken whole (the portal batches); the second, naming refused
    # addresses, is refused whole and goes one call per address.
    taken = [f"gone{n}@example.com" for n in range(settings.OPT_OUT_BATCH_SIZE)]
    portal.request("POST", f"{settings.COMM_PREFS_PATH}/held@example.com/unsubscribe-all", params={"channel": "EMAIL"})
    emulator.configure(refused_opt_outs=("held@example.com", "never@example.com"))

    report = apply_opt_outs(portal, opt_out_plan(tmp_path, [*taken, "held@example.com", "never@example.com"]))

    assert (report["unsubscribed"], report["failed"]) == (len(taken) + 1, 1)
    assert [error["line"] for error in report["errors"]] == [len(taken) + 3]
    # The first batch's read-back and one for the refused addresses; none one by one.
    assert count_requests(emulator, "POST", "/batch/unsubscribe-all/read") == 2
    assert count_requests(emulator, "GET", SINGLE) == 0


def test_a_load_stopped_partway_through_the_addresses_is_redone_whole_by_its_rerun(
    hub, emulator, short_window, tmp_path, monkeypatch
):
    emulator.configure(batch_comm_prefs_allowed=False, daily_quota_at=150)
    emails = [f"gone{n}@example.com" for n in range(250)]
    plan = opt_out_plan(tmp_path / "plan", emails)

    with pytest.raises(LoadError, match="daily"):
        apply_opt_outs(HubSpotPortal(hub.url, TOKEN), plan)
    assert 0 < len(emulator.portal.opt_outs) < len(emails)

    # The next day: the quota is back (a budget that has not seen it spent), a new process.
    emulator.configure(daily_quota_at=None)
    monkeypatch.setenv(settings.STATE_DIR_ENV_VAR, str(tmp_path / "next-day-state"))
    rerun = HubSpotPortal(hub.url, TOKEN)
    report = apply_opt_outs(rerun, plan)

    assert (report["unsubscribed"], report["failed"]) == (250, 0)
    assert all(is_opted_out(rerun, email) for email in emails)

