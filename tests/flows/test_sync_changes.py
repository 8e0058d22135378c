"""The recurring sync run again and again on a folder of exports against the HubSpot emulator,
as a user sees it: a value changed back to an earlier one and then again is sent each time, the
folder is one sync however its path is typed, an older export does not undo a newer one, and
contacts missing from an export cut short stay where they were, counted, and are not sent again
when they come back; a failed run's retry finds its own finished steps, the next run none, and
a stopped run's records go even when its retry has nothing left to send."""

from __future__ import annotations

import csv
import json
import shutil
import threading
import time
from pathlib import Path

import fsspec
import httpx
import pytest
from prefect.client.orchestration import get_client

from emulators.hubspot import serve_in_background
from flows.cli import _print_summary
from flows.sync import sync_contacts
from schemas.params import SyncParameters
from tasks.errors import LoadError
from tasks.load.resume import load_state

EXPORT = "subscribed_email_audience_export_a1.csv"
CHANGED = "LAST_CHANGED"
OTHERS = 4


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "sync-token")


def write_export(folder: Path, prefix: str, city: str, changed: str | None = None, others: int = OTHERS) -> None:
    """A Mailchimp export of ``<prefix>0@example.com`` in ``city`` and ``others`` more people
    in Boston, with a change time column when ``changed`` is given."""
    folder.mkdir(exist_ok=True)
    header = ["Email Address", "First Name", "Last Name", "CITY", *([CHANGED] if changed else [])]
    rows = [[f"{prefix}{n}@example.com", f"{prefix.title()}{n}", f"N{n}", city if n == 0 else "Boston"] for n in range(others + 1)]
    with (folder / EXPORT).open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *(row + ([changed] if changed else []) for row in rows)])


def city_in_hubspot(hubspot, email: str) -> str:
    contacts = httpx.get(f"{hubspot.url}/_emulator/state").json()["contacts"]
    return next(c["properties"].get("city") for c in contacts if c["properties"]["email"] == email)


def sync(folder: Path | str, out: Path | str, hubspot) -> dict:
    return sync_contacts(SyncParameters(sources=[str(folder)], output=str(out), portal_url=hubspot.url))


def test_a_value_changed_back_and_forth_is_sent_every_time(prefect_api_url, hubspot, token, tmp_path):
    folder, out = tmp_path / "flip", tmp_path / "out"
    seen = []
    for city in ("Boston", "Denver", "Boston", "Denver"):
        write_export(folder, "flip", city)
        report = sync(folder, out, hubspot)
        seen.append((report["sync"]["new_or_changed_contacts"], report["load"]["rows_failed"], city_in_hubspot(hubspot, "flip0@example.com")))

    # The third and fourth runs send the same bytes as the first and second did: sent all the same.
    assert seen == [(5, 0, "Boston"), (1, 0, "Denver"), (1, 0, "Boston"), (1, 0, "Denver")]
    assert sync(folder, out, hubspot)["sync"]["new_or_changed_contacts"] == 0
    # Each run's step results went once its state advanced: a daily sync does not pile them up.
    assert not list((out / ".onramp-load").glob("sync-*"))


def test_a_folder_is_one_sync_however_its_path_is_typed(prefect_api_url, hubspot, token, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_export(tmp_path / "export", "typed", "Boston")
    out = tmp_path / "out"
    assert sync("export", out, hubspot)["sync"]["new_or_changed_contacts"] == OTHERS + 1

    for typed in ("export/", "./export", str(tmp_path / "export")):
        again = sync(typed, out, hubspot)
        assert (again["sync"]["new_or_changed_contacts"], again["sync"]["unchanged"], "load" in again) == (0, OTHERS + 1, False), typed
    assert len(list((out / ".onramp-sync").iterdir())) == 1


def test_an_older_export_does_not_undo_a_newer_one(prefect_api_url, hubspot, token, tmp_path, capsys):
    folder, out = tmp_path / "stale", tmp_path / "out"
    write_export(folder, "stale", "Denver", changed="2024-02-01 10:00:00")
    sync(folder, out, hubspot)
    write_export(folder, "stale", "Boston", changed="2024-01-01 10:00:00")

    older = sync(folder, out, hubspot)

    assert (older["sync"]["older_than_sent"], older["sync"]["new_or_changed_contacts"]) == (OTHERS + 1, 0)
    assert city_in_hubspot(hubspot, "stale0@example.com") == "Denver"
    _print_summary(older, str(out))
    assert f"{OTHERS + 1} older than the row sent, 0 kept non-marketing as a provider that did not list them left them, 0 no longer in the sources" in capsys.readouterr().out
    write_export(folder, "stale", "Boston", changed="2024-03-01 10:00:00")
    assert sync(folder, out, hubspot)["sync"]["new_or_changed_contacts"] == OTHERS + 1
    assert city_in_hubspot(hubspot, "stale0@example.com") == "Boston"


def test_contacts_missing_from_an_export_cut_short_are_counted_and_not_sent_again_when_back(
    prefect_api_url, hubspot, token, tmp_path, caplog
):
    folder, out = tmp_path / "partial", tmp_path / "out"
    write_export(folder, "part", "Boston")
    sync(folder, out, hubspot)
    write_export(folder, "part", "Boston", others=0)

    cut = sync(folder, out, hubspot)

    assert (cut["sync"]["left_source"], cut["sync"]["new_or_changed_contacts"]) == (OTHERS, 0)
    assert f"sync: {OTHERS} contact(s) the last run read (80%) are no longer in the sources" in caplog.text
    write_export(folder, "part", "Boston")
    back = sync(folder, out, hubspot)
    assert (back["sync"]["left_source"], back["sync"]["new_or_changed_contacts"], back["sync"]["unchanged"]) == (0, 0, OTHERS + 1)


def test_a_run_whose_sources_give_no_row_sends_nothing_and_keeps_the_sync(prefect_api_url, hubspot, token, tmp_path):
    # As an API source read since its watermark with nothing changed: the plan has no row.
    folder, out = tmp_path / "quiet", tmp_path / "out"
    write_export(folder, "quiet", "Boston")
    sync(folder, out, hubspot)
    with (folder / EXPORT).open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["Email Address", "First Name"], ["not-an-address", "Nobody"]])

    quiet = sync(folder, out, hubspot)

    assert (quiet["rows_read"], quiet["rows_rejected"]) == (1, 1)
    assert (quiet["sync"]["new_or_changed_contacts"], quiet["sync"]["new_opt_outs"]) == (0, 0)
    assert "load" not in quiet, "nothing to send: no load"
    assert city_in_hubspot(hubspot, "quiet0@example.com") == "Boston"


def test_a_stopped_runs_records_go_when_its_retry_has_nothing_left_to_send(prefect_api_url, token, tmp_path, monkeypatch):
    monkeypatch.setenv("ONRAMP_STATE_DIR", str(tmp_path / "budgets"))
    folder, out = tmp_path / "stopped", tmp_path / "out"
    write_export(folder, "stopped", "Boston")
    with serve_in_background() as hub:
        hub.emulator.configure(daily_quota_at=10)
        with pytest.raises(LoadError, match="daily"):
            sync(folder, out, hub)
        assert len(list(out.glob(".onramp-load/sync-*"))) == 1
        hub.emulator.configure(daily_quota_at=None)
        monkeypatch.setenv("ONRAMP_STATE_DIR", str(tmp_path / "next-day"))
        # By the retry the export holds no usable row: nothing is left to send.
        with (folder / EXPORT).open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows([["Email Address", "First Name"], ["not-an-address", "Nobody"]])

        retry = sync(folder, out, hub)

    assert "load" not in retry
    assert list(out.glob(".onramp-load/sync-*")) == []


@pytest.fixture(params=["local", "s3"])
def output(request, tmp_path) -> str:
    """A sync's output folder: local, or in S3 (moto's server), the load's records in it."""
    if request.param == "local":
        return str(tmp_path / "out")
    request.getfixturevalue("aws_environment")
    return f"s3://{request.getfixturevalue('s3_server').bucket}/{tmp_path.name}/out"


def test_a_failed_run_s_retry_takes_up_its_own_finished_steps_and_the_next_run_none(prefect_api_url, token, tmp_path, output, monkeypatch):
    monkeypatch.setenv("ONRAMP_STATE_DIR", str(tmp_path / "budgets"))
    folder = tmp_path / "resume"
    fs, out = fsspec.core.url_to_fs(output)
    write_export(folder, "resume", "Boston")
    with serve_in_background() as hub:
        # The portal's quota runs out at the batch upsert, after the properties step.
        hub.emulator.configure(daily_quota_at=10)
        with pytest.raises(LoadError, match="daily"):
            sync(folder, output, hub)
        done = json.loads(fs.cat(f"{out}/report.json"))["load_done"]["steps_done"]
        assert done, "the run stopped before any step finished: give it more quota"
        assert len(fs.glob(f"{out}/.onramp-load/sync-*")) == 1
        # The next day: HubSpot's quota has reset, and the budget's memory of it is stale. The
        # retry runs on a machine of its own (a worker's new container): nothing of the first's.
        hub.emulator.configure(daily_quota_at=None)
        monkeypatch.setenv("ONRAMP_STATE_DIR", str(tmp_path / "next-day"))
        if output.startswith("s3://"):
            shutil.rmtree(load_state(output, tmp_path / "unused").work)

        retry = sync(folder, output, hub)

        already_done = [(step["step"], step["subject"]) for step in retry["load"]["steps"] if step["already_done"]]
        assert already_done == [(step["step"], step["subject"]) for step in done]
        assert city_in_hubspot(hub, "resume0@example.com") == "Boston"
        write_export(folder, "resume", "Denver")
        after = sync(folder, output, hub)
        assert not any(step["already_done"] for step in after["load"]["steps"])
        assert city_in_hubspot(hub, "resume0@example.com") == "Denver"
    # Each run's records went once its state advanced, from a remote output too, and so did
    # the storage blocks Prefect wrote a remote run's results through.
    assert fs.glob(f"{out}/.onramp-load/sync-*") == []
    with get_client(sync_client=True) as client:
        assert not [block.name for block in client.read_block_documents() if str(block.data.get("basepath", "")).startswith(output)]


def test_a_subscriber_no_longer_marketing_in_the_source_leaves_the_sync_s_list(prefect_api_url, hubspot, token, tmp_path):
    folder, out = tmp_path / "leaving", tmp_path / "out"
    write_export(folder, "leaving", "Boston")
    [made] = [entry for entry in sync(folder, out, hubspot)["load"]["lists"] if "name" in entry]
    # leaving0 is now transactional in Mailchimp: in the export's non-subscribed file.
    rows = list(csv.reader((folder / EXPORT).open(encoding="utf-8")))
    with (folder / EXPORT).open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([rows[0], *rows[2:]])
    with (folder / "nonsubscribed_email_audience_export_a1.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([rows[0], rows[1]])

    report = sync(folder, out, hubspot)

    [found] = [entry for entry in report["load"]["lists"] if "name" in entry]
    assert (found["list_id"], found["files"], found["removed_non_marketing"]) == (made["list_id"], [], 1)
    lists = httpx.get(f"{hubspot.url}/_emulator/state").json()["lists"]
    contacts = httpx.get(f"{hubspot.url}/_emulator/state").json()["contacts"]
    in_list = next(entry["members"] for entry in lists if str(entry["listId"]) == made["list_id"])
    emails = {contact["id"]: contact["properties"]["email"] for contact in contacts}
    assert sorted(emails[str(member)] for member in in_list) == [f"leaving{n}@example.com" for n in range(1, OTHERS + 1)]


@pytest.mark.parametrize("quota_at", [4, 7], ids=["during-the-opt-outs", "after-the-opt-outs"])
def test_an_opt_out_of_a_stopped_run_is_sent_again_and_kept_when_the_person_subscribes_again_before_the_retry(
    prefect_api_url, token, tmp_path, monkeypatch, quota_at
):
    monkeypatch.setenv("ONRAMP_STATE_DIR", str(tmp_path / "budgets"))
    folder, out = tmp_path / "stopped", tmp_path / "out"
    write_export(folder, "stopped", "Boston")
    with serve_in_background() as hub:
        [made] = [entry for entry in sync(folder, out, hub)["load"]["lists"] if "name" in entry]
        # stopped1 unsubscribes at Mailchimp, and stopped2 moves: the run opts stopped1 out (or is
        # sending his opt-out), then HubSpot's daily quota runs out before the contacts are sent.
        rows = list(csv.reader((folder / EXPORT).open(encoding="utf-8")))
        rows[3][3] = "Denver"
        with (folder / EXPORT).open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows([rows[0], rows[1], *rows[3:]])
        with (folder / "unsubscribed_email_audience_export_a1.csv").open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows([rows[0], rows[2]])
        hub.emulator.configure(daily_quota_at=quota_at)
        with pytest.raises(LoadError, match="daily"):
            sync(folder, out, hub)
        steps = {step["step"] for step in json.loads((out / "report.json").read_text())["load_done"]["steps_done"]}
        assert not steps & {"upsert", "imports"}, "the stop must come before the contacts"
        # The next day he subscribes again, before the retry, and moves.
        rows[2][3] = "Austin"
        (folder / "unsubscribed_email_audience_export_a1.csv").unlink()
        with (folder / EXPORT).open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(rows)
        hub.emulator.configure(daily_quota_at=None)
        monkeypatch.setenv("ONRAMP_STATE_DIR", str(tmp_path / "next-day"))

        retry = sync(folder, out, hub)

        # HubSpot may hold the opt-out the stopped run sent: it is sent again, never undone.
        # Counted once, as a pending opt-out sent again: the source no longer gives it as new.
        assert (retry["sync"]["new_opt_outs"], retry["sync"]["opt_outs_sent_again"], retry["sync"]["new_or_changed_contacts"]) == (0, 1, 1)
        assert city_in_hubspot(hub, "stopped2@example.com") == "Denver"
        assert city_in_hubspot(hub, "stopped1@example.com") == "Boston"
        statuses = httpx.get(
            f"{hub.url}/communication-preferences/v4/statuses/stopped1@example.com/unsubscribe-all",
            params={"channel": "EMAIL"}, headers={"Authorization": "Bearer sync-token"},
        ).json()["results"]  # fmt: skip
        assert statuses, "stopped1 is not opted out in HubSpot"
        state = httpx.get(f"{hub.url}/_emulator/state").json()
        ids = {contact["properties"]["email"]: contact["id"] for contact in state["contacts"]}
        members = next(entry["members"] for entry in state["lists"] if str(entry["listId"]) == made["list_id"])
        assert int(ids["stopped1@example.com"]) not in members
        again = sync(folder, out, hub)["sync"]
        assert (again["kept_opted_out"], again["new_opt_outs"]) == (1, 0)


def test_a_sync_whose_list_was_deleted_in_hubspot_says_the_new_one_holds_only_the_runs_contacts(prefect_api_url, hubspot, token, tmp_path, caplog):
    folder, out = tmp_path / "listless", tmp_path / "out"
    write_export(folder, "listless", "Boston")
    [made] = [entry for entry in sync(folder, out, hubspot)["load"]["lists"] if "name" in entry]
    # Someone deletes the sync's list in HubSpot; then one member moves.
    del hubspot.emulator.portal.lists[made["list_id"]]
    write_export(folder, "listless", "Denver")

    [again] = [entry for entry in sync(folder, out, hubspot)["load"]["lists"] if "name" in entry]

    assert again["created"] and again["list_id"] != made["list_id"]
    assert (
        f"list {made['name']}: the sync's list (id {made['list_id']}) is gone from HubSpot: made again (id {again['list_id']}) "
        "holding this run's new and changed contacts only; the contacts earlier runs added are in no list Onramp made"
    ) in caplog.messages


def test_a_runs_opt_outs_are_pending_before_the_first_reaches_hubspot(prefect_api_url, token, tmp_path, monkeypatch):
    # A run killed outright (SIGKILL, the OOM killer) runs no handler: its opt-outs must be kept
    # before any is sent, or the next run, finding them in no file, would never send them.
    monkeypatch.setenv("ONRAMP_STATE_DIR", str(tmp_path / "budgets"))
    folder, out = tmp_path / "killed", tmp_path / "out"
    write_export(folder, "killed", "Boston")
    with serve_in_background() as hub:
        sync(folder, out, hub)
        rows = list(csv.reader((folder / EXPORT).open(encoding="utf-8")))
        with (folder / EXPORT).open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows([rows[0], *rows[3:]])
        with (folder / "unsubscribed_email_audience_export_a1.csv").open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(rows[:3])
        # One call per address, each answered late: the run is still sending when the first lands.
        hub.emulator.configure(latency=0.05, batch_comm_prefs_allowed=False)
        pending_when_the_first_landed: list[dict] = []

        def watch() -> None:
            while not hub.emulator.portal.opt_outs:
                time.sleep(0.005)
            pending_when_the_first_landed.extend(json.loads(p.read_text()) for p in out.glob(".onramp-sync/*/pending-opt-outs.json"))

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        report = sync(folder, out, hub)
        watcher.join(timeout=30)

    assert report["sync"]["new_opt_outs"] == 2
    assert pending_when_the_first_landed == [{"killed0@example.com": "unsubscribed", "killed1@example.com": "unsubscribed"}]
    # Sent, the run forgot them.
    assert not list(out.glob(".onramp-sync/*/pending-opt-outs.json"))
