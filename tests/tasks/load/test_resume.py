"""Resume, dry run, reconciliation and the run's helpers, as plain functions (no Prefect engine)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import fsspec
import pytest
import s3fs
from prefect.settings import PREFECT_HOME, temporary_settings

from tasks.load.dryrun import CREATE, UNCHANGED, UPDATE, contact_action, dry_run, same_value
from tasks.load.imports import import_contacts_file
from tasks.load.plan import read_plan
from tasks.load.reconcile import reconcile
from tasks.errors import LoadError
from tasks.load.client import ACCOUNT_INFO_PATH, HubSpotPortal
from tasks.load.companies import CompanyJournal
from tasks.load.lists import ListJournal
from tasks.load.resume import PORTAL_FILE, ImportJournal, LoadState, claim_state, load_state, step_key
from tasks.output import normalised_output_url
from tasks.load.run import contacts_path, load_plan, progress_line
from tests.tasks.load.conftest import TOKEN, count_requests
from tests.tasks.load.plans import write_plan

HEADER = ["email", "firstname"]


def small_plan(directory, *, rows=2, opted_out=("gone@example.com",)):
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
            opt_outs={"hubspot/opt-out-unsubscribed.csv": ("unsubscribed", list(opted_out))},
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


def test_a_list_step_key_follows_the_opt_outs_the_step_takes_out_of_the_list(tmp_path):
    entry = {"key": "marketing", "name": "Onramp — Mailchimp marketing contacts (plan 1a2b3c4d)", "outcome": "marketing",
             "files": ["hubspot/contacts-marketing-001.csv"]}  # fmt: skip
    key = step_key("list", "https://api.hubapi.com", small_plan(tmp_path / "a"), entry)

    assert key == step_key("list", "https://api.hubapi.com", small_plan(tmp_path / "same"), entry)
    # A rerun whose plan opts out someone else must take them out of the list, not find it done.
    assert key != step_key("list", "https://api.hubapi.com", small_plan(tmp_path / "other", opted_out=["m1@example.com"]), entry)


def state_folder(tmp_path, kind: str):
    """A state folder on the local disk or in fsspec's memory filesystem."""
    return tmp_path / "state" if kind == "local" else f"memory://{tmp_path.name}/state"


def recorded_claims(state) -> dict:
    with fsspec.open(f"{state}/{PORTAL_FILE}", "r", encoding="utf-8") as handle:
        return json.load(handle)


@pytest.mark.parametrize("folder", ["local", "memory"])
def test_a_state_folder_follows_its_portal_through_a_token_rotation_and_never_keeps_the_token(hub, emulator, tmp_path, folder):
    state = state_folder(tmp_path, folder)

    claim_state(state, HubSpotPortal(hub.url, TOKEN))
    claim_state(state, HubSpotPortal(hub.url + "/", "pat-rotated-token"))

    assert recorded_claims(state) == {hub.url: {"portal_id": 123456, "account_type": "STANDARD"}}
    assert count_requests(emulator, "GET", ACCOUNT_INFO_PATH, 200) == 2


def test_another_portal_at_the_same_url_is_refused_with_both_ids(hub, emulator, tmp_path):
    state = tmp_path / "state"
    # A sandbox rehearsal, then production: both at the same URL, each with its own token.
    emulator.configure(portal_id=111, account_type="SANDBOX")
    claim_state(state, HubSpotPortal(hub.url, "sandbox-token"))
    emulator.configure(portal_id=222, account_type="STANDARD")
    # Another URL has step keys of its own: the emulator, then the real portal, share a folder.
    claim_state(state, HubSpotPortal(hub.url.replace("127.0.0.1", "localhost"), "production-token"))

    with pytest.raises(LoadError) as refused:
        claim_state(state, HubSpotPortal(hub.url, "production-token"))

    assert str(refused.value) == (
        f"{state} holds the state of a load into HubSpot portal 111 (SANDBOX) at {hub.url}, and this token is for "
        "portal 222 (STANDARD): give each portal its own --out"
    )
    assert recorded_claims(state)[hub.url]["portal_id"] == 111


def test_a_folder_claimed_by_token_hash_is_taken_over_by_its_own_token_only(hub, emulator, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    portal = HubSpotPortal(hub.url, TOKEN)
    # As written before portal ids: per URL, a hash of the URL and the token.
    (state / PORTAL_FILE).write_text(json.dumps({hub.url: portal.identity}))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / PORTAL_FILE).write_text(json.dumps({hub.url: portal.identity}))

    claim_state(state, portal)
    claim_state(state, HubSpotPortal(hub.url, "pat-rotated-token"))
    with pytest.raises(LoadError, match="holds the state of a load into .* with another HubSpot token") as refused:
        claim_state(elsewhere, HubSpotPortal(hub.url, "pat-rotated-token"))

    assert recorded_claims(state) == {hub.url: {"portal_id": 123456, "account_type": "STANDARD"}}
    assert "\n" not in str(refused.value) and f"delete {elsewhere}" in str(refused.value)


def test_without_account_info_the_folder_is_bound_to_the_token(hub, emulator, tmp_path, caplog):
    state, claimed_by_id = tmp_path / "state", tmp_path / "by-id"
    claim_state(claimed_by_id, HubSpotPortal(hub.url, TOKEN))
    emulator.configure(account_info_allowed=False)
    portal = HubSpotPortal(hub.url, TOKEN)

    claim_state(state, portal)
    claim_state(state, HubSpotPortal(hub.url, TOKEN))
    with pytest.raises(LoadError, match="with another HubSpot token"):
        claim_state(state, HubSpotPortal(hub.url, "pat-rotated-token"))
    with pytest.raises(LoadError, match="HubSpot portal 123456 .* will not say which portal this token is for"):
        claim_state(claimed_by_id, portal)

    assert recorded_claims(state) == {hub.url: portal.identity}
    # Asked once per connection (three here), and said once each.
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert count_requests(emulator, "GET", ACCOUNT_INFO_PATH, 403) == len(warnings) == 3
    assert all("403" in warning and TOKEN not in warning for warning in warnings)


def test_state_lives_in_a_local_output_folder_and_a_remote_one_keeps_its_records_in_the_output(tmp_path):
    local = load_state(str(tmp_path), tmp_path)
    assert local.work == Path(local.records) == tmp_path / ".onramp-load"
    remote = load_state("s3://bucket/run-1/", tmp_path)
    assert remote.records == "s3://bucket/run-1/.onramp-load"
    # The work folder (the lock, derived files) is the machine's, the same for every local copy.
    assert tmp_path not in remote.work.parents and remote.work == load_state("s3://bucket/run-1", tmp_path / "other").work
    assert remote.within("sync-3") == LoadState(remote.work / "sync-3", "s3://bucket/run-1/.onramp-load/sync-3")


@pytest.mark.parametrize(
    "spelling",
    ["s3://outputs/run-1/", "s3://outputs//run-1", "s3://outputs/./run-1//", "s3a://outputs/run-1"],
)
def test_a_remote_output_has_one_state_however_its_url_is_spelled(tmp_path, spelling):
    with temporary_settings(updates={PREFECT_HOME: tmp_path / "prefect-home"}):
        assert load_state(spelling, tmp_path / "a") == load_state("s3://outputs/run-1", tmp_path / "b")
    assert normalised_output_url(spelling) == "s3://outputs/run-1"
    assert normalised_output_url("gcs://bucket/x/") == normalised_output_url("gs://bucket/x")
    assert normalised_output_url("s3://outputs/run-1/Sub") != normalised_output_url("s3://outputs/run-1/sub")


def test_a_state_kept_under_the_url_as_given_by_an_earlier_version_is_still_found(tmp_path):
    with temporary_settings(updates={PREFECT_HOME: tmp_path / "prefect-home"}):
        earlier = tmp_path / "prefect-home" / "onramp" / "load-state" / hashlib.sha256(b"s3://outputs/run-1/").hexdigest()[:16]
        earlier.mkdir(parents=True)
        assert load_state("s3://outputs/run-1/", tmp_path).work == earlier
        # Once the normalised name has a state, every spelling uses it.
        load_state("s3://outputs/run-1", tmp_path).work.mkdir(parents=True)
        assert load_state("s3://outputs/run-1/", tmp_path).work == load_state("s3://outputs/run-1", tmp_path).work != earlier


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
    journal.intend(plan, entry, journal.read(plan, entry)["name"])
    again = import_contacts_file(portal, plan, entry, poll_interval=0.05, journal=journal)
    assert again["import_id"] == first["import_id"]
    assert count_requests(emulator, "POST", "/crm/v3/imports", 200) == 1
    assert journal.read(plan, entry)["import_id"] == first["import_id"]


def test_an_import_refused_at_creation_never_takes_up_another_plans_import_of_the_same_name(portal, emulator, tmp_path):
    # Two migrations into one portal, each with its own --out: their plans name their files alike.
    first, second = (small_plan(tmp_path / name, rows=rows) for name, rows in (("a", 2), ("b", 3)))
    assert first.imports[0]["file"] == second.imports[0]["file"]
    first_journal, second_journal = (ImportJournal(tmp_path / name / "state", portal.url) for name in ("a", "b"))
    emulator.configure(max_imports_per_day=0)
    refused = import_contacts_file(portal, first, first.imports[0], poll_interval=0.05, journal=first_journal)
    assert refused["import_id"] is None
    emulator.configure(max_imports_per_day=None)
    other = import_contacts_file(portal, second, second.imports[0], poll_interval=0.05, journal=second_journal)

    again = import_contacts_file(portal, first, first.imports[0], poll_interval=0.05, journal=first_journal)

    # The first plan's file is imported, not the second's import taken up in its stead.
    assert again["import_id"] not in (None, other["import_id"]) and again["state"] == "DONE"
    assert again["counters"]["CREATED_OBJECTS"] == 0 and again["counters"]["UPDATED_OBJECTS"] == 2
    assert count_requests(emulator, "POST", "/crm/v3/imports", 200) == 2


@pytest.mark.parametrize("journalled", [True, False])
def test_an_import_answered_504_after_hubspot_took_it_is_taken_up_not_sent_again(portal, emulator, client, tmp_path, journalled):
    plan = small_plan(tmp_path)
    journal = ImportJournal(tmp_path / "state", portal.url) if journalled else None
    # HubSpot creates the import, then its gateway times out: the answer with the id is lost.
    emulator.write_faults.add(1)

    result = import_contacts_file(portal, plan, plan.imports[0], poll_interval=0.05, journal=journal)

    imports = client.crm.imports.core_api.get_page().results
    assert [str(job.id) for job in imports] == [result["import_id"]]
    assert result["state"] == "DONE" and result["previous_import_ids"] == []
    assert result["counters"]["CREATED_OBJECTS"] == 2
    if journalled:
        assert journal.read(plan, plan.imports[0])["import_id"] == result["import_id"]


def test_dry_run_reads_only_and_counts_what_would_change(portal, emulator, tmp_path):
    plan = small_plan(tmp_path)
    emulator.configure(portal_id=424242, account_type="SANDBOX")
    before = dry_run(portal, plan)
    # Which portal it read, as a rehearsal against production needs to see.
    assert (before["portal"], before["portal_id"], before["account_type"]) == (portal.url, 424242, "SANDBOX")
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


def test_a_contact_opted_out_in_hubspot_that_a_marketing_file_names_is_shown_by_the_dry_run_and_sent_non_marketing(portal, emulator, tmp_path):
    plan = small_plan(tmp_path)
    # The portal already holds m0, unsubscribed from all email (as another tool left it).
    portal.request("POST", "/crm/v3/objects/contacts", json={"properties": {"email": "m0@example.com"}})
    portal.request("POST", "/communication-preferences/v4/statuses/m0@example.com/unsubscribe-all", params={"channel": "EMAIL"})

    assert dry_run(portal, plan)["marketing_opted_out"] == 1
    load = load_plan(portal, plan.directory, poll_interval=0.05)

    [kept] = load["kept_non_marketing_opted_out"]["rows"]
    assert (kept["file"], kept["line"]) == ("hubspot/contacts-marketing-001.csv", 2)
    m0 = emulator.portal.find("0-1", "email", "m0@example.com")
    assert m0.properties.get("hs_marketable_status") != "true"
    assert "m0@" not in str(load["kept_non_marketing_opted_out"])


def test_records_the_storage_cannot_read_or_write_stop_the_load_in_one_line(tmp_path, monkeypatch, portal):
    # A record that cannot be read must not pass for one never written: the import would be
    # submitted again, the list made again.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    s3fs.S3FileSystem.clear_instance_cache()
    plan = small_plan(tmp_path)
    records = "s3://out-of-reach/run/.onramp-load"
    said = r"s3://out-of-reach/run/\.onramp-load/\S+: cannot read or write the load's record \(cannot reach the storage .*\): run again"
    journal = ImportJournal(records, portal.url)
    lists = ListJournal(records, portal.url)
    attempts = [
        lambda: journal.read(plan, plan.imports[0]),
        lambda: journal.intend(plan, plan.imports[0], "import"),
        lambda: lists.read({"name": "a list"}),
        lambda: lists.recorded(),
        lambda: lists.record({"name": "a list"}, "7"),
        lambda: CompanyJournal(records, portal.url),
        lambda: claim_state(records, portal),
    ]
    for attempt in attempts:
        with pytest.raises(LoadError, match=said):
            attempt()
    s3fs.S3FileSystem.clear_instance_cache()
