"""An address HubSpot holds as unsubscribed with no contact yet (an earlier migration's opt-out
file) is kept non-marketing by the upsert path: the contacts the upsert landed are read back
before the marketing status is set. Against the emulator over HTTP."""

from __future__ import annotations

import pytest
from prefect import flow

from tasks.errors import LoadError
from tasks.load.client import HubSpotPortal
from tasks.load.opted_out import REPORT_KEY
from tasks.load.plan import read_plan
from tasks.load.run import load_steps
from tasks.load.settings import CONTACT_OBJECT_TYPE_ID as CONTACTS
from tasks.load.upsert import UPSERT, upsert_contacts_file
from tests.tasks.load.conftest import count_requests
from tests.tasks.load.plans import write_plan

POLL = 0.02
SOURCE = "file:///exports/audience.zip"
MARKETING = "hubspot/contacts-marketing-001.csv"
READ_ROUTE = "/batch/read"
MARKETING_FIELDS = {"outcome": "marketing", "marketable": True, "create_list": True, "name": "Onramp test marketing 001"}


def marketing_plan(directory, emails, fields=MARKETING_FIELDS):
    """A plan of one marketable file; lineage names source row ``n`` for its line ``n``."""
    rows = [[email, email[0].upper()] for email in emails]
    return read_plan(write_plan(directory, contacts={MARKETING: (fields, ["email", "firstname"], rows)}, source=SOURCE))


def unsubscribed_by_address(portal, *emails):
    """Addresses unsubscribed from all email with no contact, as an opt-out file leaves them."""
    for email in emails:
        portal.request("POST", f"/communication-preferences/v4/statuses/{email}/unsubscribe-all", params={"channel": "EMAIL"})


def properties(emulator, email) -> dict:
    return emulator.portal.find(CONTACTS, "email", email).properties


def is_marketing(emulator, email) -> bool:
    return properties(emulator, email).get("hs_marketable_status") == "true"


def list_members(emulator, list_id) -> set[str]:
    return {emulator.portal.get(CONTACTS, record_id).properties["email"] for record_id in emulator.portal.get_list(list_id).members}


def test_a_created_contact_hubspot_holds_unsubscribed_by_address_stays_non_marketing_and_out_of_the_imports_list(portal, emulator, tmp_path, caplog):
    plan = marketing_plan(tmp_path / "plan", ["bob@example.com", "ann@example.com", "cat@example.com"])
    unsubscribed_by_address(portal, "ann@example.com")
    assert emulator.portal.find(CONTACTS, "email", "ann@example.com") is None

    result = upsert_contacts_file(portal, plan, plan.imports[0], poll_interval=POLL)

    # Ann is created with the file's values, still unsubscribed, never made marketing.
    assert properties(emulator, "ann@example.com")["firstname"] == "A"
    assert "ann@example.com" in emulator.portal.opt_outs
    assert not is_marketing(emulator, "ann@example.com")
    assert is_marketing(emulator, "bob@example.com") and is_marketing(emulator, "cat@example.com")
    [list_id] = result["list_ids"]
    assert list_members(emulator, list_id) == {"bob@example.com", "cat@example.com"}
    # Counted by her planned line and source, as the load's lookup counts the rows it keeps;
    # not failed, not a value error, never her email.
    assert result[REPORT_KEY] == [{"file": MARKETING, "line": 3, "sent_file": MARKETING, "sent_line": 3, "sources": [f"{SOURCE}:3"]}]
    assert (result["state"], result["rows_failed"], result["rows_with_value_errors"], result["errors"]) == ("DONE", 0, 0, [])
    assert result["counters"]["CREATED_OBJECTS"] == 3
    assert "ann@" not in str(result) and "ann@example.com" not in caplog.text
    assert "1 row(s) whose contact HubSpot holds as unsubscribed from all email once upserted" in caplog.text
    # One read back for the three upserted contacts.
    assert count_requests(emulator, "POST", READ_ROUTE) == 1


def test_repeated_rows_of_the_address_are_all_kept_and_a_file_of_only_such_rows_imports_nothing(portal, emulator, tmp_path):
    plan = marketing_plan(tmp_path / "plan", ["ann@example.com", "ANN@example.com"])
    unsubscribed_by_address(portal, "ann@example.com")

    result = upsert_contacts_file(portal, plan, plan.imports[0], poll_interval=POLL)

    assert [(row["line"], row["sources"]) for row in result[REPORT_KEY]] == [(2, [f"{SOURCE}:2"]), (3, [f"{SOURCE}:3"])]
    assert not is_marketing(emulator, "ann@example.com")
    assert (result["state"], result["import_id"], result["list_ids"], result["rows_failed"]) == ("DONE", None, [], 0)
    assert count_requests(emulator, "POST", "/crm/v3/imports") == 0


def test_every_upserted_contact_is_read_back_100_a_request(portal, emulator, tmp_path):
    emails = [f"p{n}@example.com" for n in range(150)]
    portal.request("POST", "/crm/v3/objects/contacts", json={"properties": {"email": "p0@example.com"}})
    plan = marketing_plan(tmp_path / "plan", emails)

    result = upsert_contacts_file(portal, plan, plan.imports[0], poll_interval=POLL)

    assert (result["counters"]["CREATED_OBJECTS"], result["counters"]["UPDATED_OBJECTS"]) == (149, 1)
    assert count_requests(emulator, "POST", READ_ROUTE) == 2
    assert result[REPORT_KEY] == [] and all(is_marketing(emulator, email) for email in emails)


def test_an_updated_contact_unsubscribed_since_the_lookup_is_kept_but_one_already_marketing_is_left_to_the_read_back(
    portal, emulator, tmp_path
):
    # Both existed before the upsert, unsubscribed after the load's lookup (or sent in a file a
    # stopped run split, which a rerun sends as then): Dee is not marketing yet, Eve already is.
    load_first = marketing_plan(tmp_path / "first", ["eve@example.com"])
    upsert_contacts_file(portal, load_first, load_first.imports[0], poll_interval=POLL)
    portal.request("POST", "/crm/v3/objects/contacts", json={"properties": {"email": "dee@example.com"}})
    unsubscribed_by_address(portal, "dee@example.com", "eve@example.com")
    plan = marketing_plan(tmp_path / "plan", ["dee@example.com", "eve@example.com", "fay@example.com"])

    result = upsert_contacts_file(portal, plan, plan.imports[0], poll_interval=POLL)

    assert result["counters"]["UPDATED_OBJECTS"] == 2
    assert [row["line"] for row in result[REPORT_KEY]] == [2]
    assert not is_marketing(emulator, "dee@example.com")
    # The API cannot set Eve back: she stays as she was, named by the read-back, not counted kept.
    assert is_marketing(emulator, "eve@example.com") and is_marketing(emulator, "fay@example.com")


def test_a_non_marketing_file_reads_nothing_back(portal, emulator, tmp_path):
    fields = {"outcome": "non_marketing", "marketable": False, "create_list": False, "name": "Onramp test 001"}
    plan = marketing_plan(tmp_path / "plan", ["ann@example.com"], fields)
    unsubscribed_by_address(portal, "ann@example.com")

    result = upsert_contacts_file(portal, plan, plan.imports[0], poll_interval=POLL)

    assert result[REPORT_KEY] == [] and count_requests(emulator, "POST", READ_ROUTE) == 0


def test_a_refused_read_back_stops_the_file_before_anyone_is_made_marketing(portal, emulator, tmp_path):
    plan = marketing_plan(tmp_path / "plan", ["ann@example.com", "bob@example.com"])
    unsubscribed_by_address(portal, "ann@example.com")
    emulator.configure(missing_scopes=("crm.objects.contacts.read",))

    with pytest.raises(LoadError, match="batch/read: .* lacks the HubSpot scope crm.objects.contacts.read") as raised:
        upsert_contacts_file(portal, plan, plan.imports[0], poll_interval=POLL)

    assert "\n" not in str(raised.value) and "ann@" not in str(raised.value)
    assert not is_marketing(emulator, "ann@example.com") and not is_marketing(emulator, "bob@example.com")
    assert count_requests(emulator, "POST", "/crm/v3/imports") == 0


@flow(validate_parameters=False)
def load_twice(portal: HubSpotPortal, plan: str, state: str) -> tuple[dict, dict]:
    first = load_steps(portal, plan, state_dir=state, load_path=UPSERT, poll_interval=POLL)
    again = load_steps(portal, plan, state_dir=state, load_path=UPSERT, poll_interval=POLL)
    return first, again


def test_in_a_load_the_kept_contact_is_counted_with_the_lookups_left_out_of_the_static_list_and_not_read_back_amiss(
    prefect_api_url, portal, emulator, tmp_path
):
    fields = {**MARKETING_FIELDS, "create_list": False, "list": "marketing"}
    lists = [{"key": "marketing", "name": "Onramp — test marketing contacts", "outcome": "marketing", "files": [MARKETING]}]
    rows = [[email, email[0].upper()] for email in ("bob@example.com", "ann@example.com", "cat@example.com")]
    plan = write_plan(tmp_path / "plan", contacts={MARKETING: (fields, ["email", "firstname"], rows)}, lists=lists, source=SOURCE)
    unsubscribed_by_address(portal, "ann@example.com")

    first, again = load_twice(portal, str(plan), str(tmp_path / "state"))

    assert not is_marketing(emulator, "ann@example.com")
    assert is_marketing(emulator, "bob@example.com") and is_marketing(emulator, "cat@example.com")
    [static] = emulator.portal.lists.values()
    assert list_members(emulator, static.list_id) == {"bob@example.com", "cat@example.com"}
    for report in (first, again):
        assert report[REPORT_KEY]["count"] == 1
        assert report[REPORT_KEY]["rows"] == [{"file": MARKETING, "line": 3, "sent_file": MARKETING, "sent_line": 3, "sources": [f"{SOURCE}:3"]}]
        assert (report["rows_failed"], report["rows_with_value_errors"]) == (0, 0)
    assert first["reconciliation"]["mismatches"] == [] and first["reconciliation"]["contacts_checked"] == 3
    # The rerun finds every step done: the marketing-status import is not sent again.
    assert all(step["already_done"] for step in again["steps"])
    assert count_requests(emulator, "POST", "/crm/v3/imports") == 1
