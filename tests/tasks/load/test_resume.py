"""Resume, dry run, reconciliation and the run's helpers, as plain functions (no Prefect engine)."""

from __future__ import annotations

import fsspec
import pytest

from tasks.load.dryrun import CREATE, UNCHANGED, UPDATE, contact_action, dry_run, same_value
from tasks.load.imports import import_contacts_file
from tasks.load.plan import read_plan
from tasks.load.reconcile import reconcile
from tasks.errors import LoadError
from tasks.load.client import HubSpotPortal
from tasks.load.resume import PORTAL_FILE, ImportJournal, claim_state, load_state_dir, step_key
from tasks.load.run import contacts_path, load_plan, progress_line
from tests.tasks.load.conftest import TOKEN, count_requests
from tests.tasks.load.plans import write_plan

HEADER = ["email", "firstname"]


def small_plan(directory, *, rows=2):
    return read_plan(
        write_plan(
            directory,
            contacts={
                "hubspot/contacts-marketing-001.csv": (
                    {"outcome": "marketing", "marketable": True, "create_list": True},
                    HEADER,
                    [[f"m{i}@example.com", f"M{i}"] for i in range(rows)],
                )
            },
            opt_outs={"hubspot/opt-out-unsubscribed.csv": ("unsubscribed", ["gone@example.com"])},
        )
    )


def test_step_key_follows_content_and_portal_never_the_token(tmp_path):
    plan = small_plan(tmp_path / "a")
    entry = plan.imports[0]
    key = step_key("imports", "https://api.hubapi.com/", plan, entry)
    assert key == step_key("imports", "https://api.hubapi.com", plan, entry)
    assert key != step_key("imports", "http://127.0.0.1:8090", plan, entry)
    assert key != step_key("upsert", "https://api.hubapi.com", plan, entry)
    assert key != step_key("imports", "https://api.hubapi.com", small_plan(tmp_path / "b", rows=3), entry)
    assert TOKEN not in key


@pytest.mark.parametrize("folder", ["local", "memory"])
def test_a_state_folder_refuses_another_token_at_the_same_url_and_never_keeps_the_token(tmp_path, folder):
    state = tmp_path / "state" if folder == "local" else f"memory://{tmp_path.name}/state"
    sandbox = HubSpotPortal("https://api.hubapi.com", "sandbox-token")

    claim_state(state, sandbox)
    claim_state(state, HubSpotPortal("https://api.hubapi.com/", "sandbox-token"))
    # Another URL has step keys of its own: the emulator, then the real portal, share a folder.
    claim_state(state, HubSpotPortal("http://127.0.0.1:8090", "any-token"))
    with pytest.raises(LoadError) as refused:
        claim_state(state, HubSpotPortal("https://api.hubapi.com", "production-token"))

    assert str(refused.value).startswith(f"{state} holds the state of a load into https://api.hubapi.com with another HubSpot token")
    assert "\n" not in str(refused.value)
    with fsspec.open(f"{state}/{PORTAL_FILE}", "r", encoding="utf-8") as handle:
        recorded = handle.read()
    assert "token" not in recorded and sandbox.identity in recorded


def test_state_lives_in_a_local_output_folder_and_under_prefect_home_for_a_remote_one(tmp_path):
    assert load_state_dir(str(tmp_path), tmp_path) == tmp_path / ".onramp-load"
    remote = load_state_dir("s3://bucket/run-1", tmp_path)
    assert tmp_path not in remote.parents and remote == load_state_dir("s3://bucket/run-1", tmp_path / "other")


def test_a_journalled_import_is_polled_not_submitted_again(portal, emulator, tmp_path):
    plan = small_plan(tmp_path)
    journal = ImportJournal(tmp_path / "state", portal.url)
    first = import_contacts_file(portal, plan, plan.imports[0], poll_interval=0.05, journal=journal)
    again = import_contacts_file(portal, plan, plan.imports[0], poll_interval=0.05, journal=journal)
    assert again["import_id"] == first["import_id"] and again["state"] == "DONE"
    assert count_requests(emulator, "POST", "/crm/v3/imports", 200) == 1


def test_an_import_submitted_before_a_kill_is_found_by_name(portal, emulator, tmp_path):
    plan = small_plan(tmp_path)
    entry = plan.imports[0]
    journal = ImportJournal(tmp_path / "state", portal.url)
    first = import_contacts_file(portal, plan, entry, poll_interval=0.05, journal=journal)
    # As if killed after HubSpot took the import but before its id was written down.
    journal.intend(plan, entry, first["name"] or entry["file"].rsplit("/", 1)[-1])
    again = import_contacts_file(portal, plan, entry, poll_interval=0.05, journal=journal)
    assert again["import_id"] == first["import_id"]
    assert count_requests(emulator, "POST", "/crm/v3/imports", 200) == 1
    assert journal.read(plan, entry)["import_id"] == first["import_id"]


def test_dry_run_reads_only_and_counts_what_would_change(portal, emulator, tmp_path):
    plan = small_plan(tmp_path)
    before = dry_run(portal, plan)
    assert before["contacts"] == {CREATE: 2, UPDATE: 0, UNCHANGED: 0}
    assert before["opt_outs"] == {"opt_out": 1, UNCHANGED: 0}
    assert before["billing_delta"] == 2
    assert not [key for key in emulator.request_counts if key[0] != "GET" and "read" not in key[1]]
    load_plan(portal, plan.directory, poll_interval=0.05)
    after = dry_run(portal, plan)
    assert after["contacts"] == {CREATE: 0, UPDATE: 0, UNCHANGED: 2}
    assert after["opt_outs"] == {"opt_out": 0, UNCHANGED: 1} and after["billing_delta"] == 0


@pytest.mark.parametrize(
    ("values", "current", "marketable", "action"),
    [
        ({"firstname": "Ann"}, None, False, CREATE),
        ({"firstname": "Ann"}, {"firstname": "Ann", "hs_marketable_status": "false"}, False, UNCHANGED),
        ({"firstname": "Ann"}, {"firstname": "Ann", "hs_marketable_status": "false"}, True, UPDATE),
        ({"firstname": "Ann"}, {"firstname": "Anne", "hs_marketable_status": "true"}, True, UPDATE),
        ({"optin": "1644093687000"}, {"optin": "2022-02-05T20:41:27.000Z"}, False, UNCHANGED),
    ],
)
def test_contact_action(values, current, marketable, action):
    contact = None if current is None else {"id": "1", "properties": current}
    assert contact_action(values, contact, marketable) == action


def test_same_value_compares_datetimes_as_instants_and_nothing_else_loosely():
    assert same_value(" x ", "x")
    assert same_value("1644093687000", "2022-02-05T20:41:27Z")
    assert not same_value("1644093687001", "2022-02-05T20:41:27Z")
    assert not same_value("12", "twelve")


def test_reconciliation_finds_what_the_portal_lost(portal, emulator, tmp_path):
    plan = small_plan(tmp_path)
    load = load_plan(portal, plan.directory, poll_interval=0.05)
    assert reconcile(portal, plan, load)["mismatches"] == []
    record = emulator.portal.find("0-1", "email", "m1@example.com")
    emulator.portal.archive("0-1", record.id)
    emulator.portal.opt_outs.pop("gone@example.com")
    found = reconcile(portal, plan, load)
    assert found["by_check"]["contact-missing"] == 1 and found["by_check"]["not-opted-out"] == 1
    missing = next(m for m in found["mismatches"] if m["check"] == "contact-missing")
    assert (missing["file"], missing["line"]) == ("hubspot/contacts-marketing-001.csv", 3)
    assert missing["sources"] and "m1@" not in str(found)


def test_contacts_path_by_size_unless_told():
    assert contacts_path({"rows": 10}, "auto", upsert_max_rows=100) == "upsert"
    assert contacts_path({"rows": 1000}, "auto", upsert_max_rows=100) == "imports"
    assert contacts_path({"rows": 10}, "imports") == "imports"
    with pytest.raises(ValueError):
        contacts_path({"rows": 10}, "fax")


def test_progress_line():
    assert progress_line(50, 200, 2, 5) == "[#####...............]  25%  2/5 steps, 50/200 rows"
    assert progress_line(0, 0, 1, 1).startswith("[####################] 100%")
