"""The batch-upsert path, against the emulator over HTTP (answering a batch with a bad input 207
per input, or 400 for the whole batch as HubSpot may when upserting by email)."""

from __future__ import annotations

import pytest

from tasks.load import settings
from tasks.load.plan import read_plan
from tasks.load.ratelimit import DailyQuotaSpent
from tasks.load.upsert import UPSERT_PATH, choose_load_path, upsert_contacts_file
from tests.tasks.load.conftest import count_requests
from tests.tasks.load.plans import write_plan
from tasks.load.properties import ensure_properties
from tests.tasks.load.test_load_emulator import GROUP, RATING, SOURCE, read_contacts

FILE = "hubspot/contacts-non-marketing-001.csv"
MARKETING_FILE = "hubspot/contacts-marketing-001.csv"
NON_MARKETING = {"outcome": "non_marketing", "marketable": False, "create_list": False, "name": "Onramp test 001"}


def plan_of(tmp_path, header, rows, fields=NON_MARKETING, file=FILE):
    return read_plan(write_plan(tmp_path, contacts={file: (fields, header, rows)}, properties=[RATING], group=GROUP, source=SOURCE))


def test_choose_load_path_by_size():
    assert choose_load_path(10) == "upsert"
    assert choose_load_path(settings.UPSERT_MAX_ROWS) == "upsert"
    assert choose_load_path(settings.UPSERT_MAX_ROWS + 1) == "imports"
    assert choose_load_path(500, threshold=100) == "imports"


def test_rows_land_in_batches_of_at_most_100_with_per_input_errors_tied_back(portal, emulator, client, tmp_path):
    rows = [[f"Person{n}@Example.com ", f"P{n}", "3"] for n in range(250)]
    rows[7][2] = "five"  # a value HubSpot refuses: the rest of the row still lands
    rows[42][0] = "not-an-email"  # an input HubSpot refuses whole
    rows[99][0] = "'-dash@example.com"  # the planner's formula guard, not part of the address
    rows[120][1] = ""  # blank: left out, never clears a value
    plan = plan_of(tmp_path, ["email", "firstname", "mailchimp_member_rating"], rows)
    ensure_properties(portal, plan)
    bodies = []
    original = portal.request

    def spy(method, path, **kwargs):
        if path == UPSERT_PATH:
            bodies.append(kwargs["json"]["inputs"])
        return original(method, path, **kwargs)

    portal.request = spy
    result = upsert_contacts_file(portal, plan, plan.imports[0])

    assert all(len(inputs) <= 100 for inputs in bodies)
    assert all(len({i["id"] for i in inputs}) == len(inputs) for inputs in bodies)
    assert {i["objectWriteTraceId"] for inputs in bodies for i in inputs} >= {f"{FILE}:2", f"{FILE}:251"}
    assert (result["state"], result["path"], result["rows_failed"], result["rows_with_value_errors"]) == ("DONE", "upsert", 1, 1)
    assert result["counters"]["CREATED_OBJECTS"] == 249
    [row_error] = [e for e in result["errors"] if e["scope"] == "row"]
    assert (row_error["line"], row_error["sources"]) == (44, [f"{SOURCE}:44"])
    [value_error] = [e for e in result["errors"] if e["scope"] == "value"]
    assert (value_error["line"], value_error["column"], value_error["sources"]) == (9, "mailchimp_member_rating", [f"{SOURCE}:9"])
    written = read_contacts(client, ["person7@example.com", "-dash@example.com", "person120@example.com"], ("email", "firstname", "mailchimp_member_rating"))
    assert written["person7@example.com"].properties["firstname"] == "P7"
    assert "-dash@example.com" in written
    assert count_requests(emulator, "POST", "/batch/", 429) == 0


def test_repeated_emails_are_never_in_one_batch_and_the_later_row_wins(portal, emulator, client, tmp_path):
    rows = [["ann@example.com", "First"], ["ben@example.com", "Ben"], ["ANN@example.com", "Second"]]
    plan = plan_of(tmp_path, ["email", "firstname"], rows)

    result = upsert_contacts_file(portal, plan, plan.imports[0])

    assert result["rows_failed"] == 0
    assert count_requests(emulator, "POST", "/batch/", 400) == 0
    assert count_requests(emulator, "POST", "/batch/") == 2
    assert read_contacts(client, ["ann@example.com"])["ann@example.com"].properties["firstname"] == "Second"


def test_marketing_rows_are_made_marketing_contacts_by_an_import_of_their_emails(portal, emulator, client, tmp_path):
    fields = {"outcome": "marketing", "marketable": True, "create_list": True, "name": "Onramp test marketing 001"}
    plan = plan_of(tmp_path, ["email", "firstname"], [["ann@example.com", "Ann"], ["bad", "X"]], fields, MARKETING_FILE)

    result = upsert_contacts_file(portal, plan, plan.imports[0], poll_interval=0.02)

    assert result["import_id"] is not None and len(result["list_ids"]) == 1
    assert result["rows_failed"] == 1
    assert read_contacts(client, ["ann@example.com"])["ann@example.com"].properties["hs_marketable_status"] == "true"


def test_the_daily_quota_stops_the_upsert_before_a_429_and_says_when_to_resume(portal, emulator, tmp_path):
    plan = plan_of(tmp_path, ["email"], [[f"p{n}@example.com"] for n in range(1000)])
    emulator.configure(daily_limit=3)

    with pytest.raises(DailyQuotaSpent, match="Rerun after it resets .* UTC at the latest"):
        upsert_contacts_file(portal, plan, plan.imports[0])

    assert count_requests(emulator, "POST", "/batch/", 200) == 3
    assert count_requests(emulator, "POST", "/batch/", 429) == 0


def spy_on_batches(portal) -> list[list[str]]:
    """The emails of every batch upsert the portal sends, in order."""
    batches: list[list[str]] = []
    original = portal.request

    def spy(method, path, **kwargs):
        if path == UPSERT_PATH:
            batches.append([entry["id"] for entry in kwargs["json"]["inputs"]])
        return original(method, path, **kwargs)

    portal.request = spy
    return batches


def test_a_batch_refused_whole_is_split_until_the_bad_input_is_alone(portal, emulator, tmp_path):
    rows = [[f"p{n}@example.com"] for n in range(100)]
    rows[37] = ["p37@example.nosuchtld"]
    plan = plan_of(tmp_path, ["email"], rows)
    emulator.configure(whole_batch_email_upserts=True)
    batches = spy_on_batches(portal)

    result = upsert_contacts_file(portal, plan, plan.imports[0], threads=1)

    assert result["rows_failed"] == 1 and result["counters"]["CREATED_OBJECTS"] == 99
    [error] = result["errors"]
    assert (error["line"], error["error_type"], error["sources"]) == (39, "UPSERT_REJECTED", [f"{SOURCE}:39"])
    assert "p37" not in error["message"]  # masked
    assert [["p37@example.nosuchtld"]] == [batch for batch in batches if len(batch) == 1]
    assert len(batches) <= 2 * 7 + 1  # a bisection, not one request per row


@pytest.mark.parametrize("whole_batch", [False, True], ids=["207 per input", "400 for the whole batch"])
def test_a_refused_value_is_left_out_and_reported_whether_hubspot_answers_207_or_400(portal, emulator, client, tmp_path, whole_batch):
    # HubSpot may refuse a batch upsert by email whole for one bad value ("Partial upserts are
    # not supported when using email as the idProperty"): the row lands all the same.
    rows = [["ann@example.com", "Ann", "lead"], ["ben@example.com", "Ben", "not-a-stage"], ["cy@example.com", "Cy", "customer"]]
    plan = plan_of(tmp_path, ["email", "firstname", "lifecyclestage"], rows)
    emulator.configure(whole_batch_email_upserts=whole_batch)

    result = upsert_contacts_file(portal, plan, plan.imports[0], threads=1)

    assert (result["rows_failed"], result["rows_with_value_errors"], result["counters"]["CREATED_OBJECTS"]) == (0, 1, 3)
    [error] = result["errors"]
    assert (error["line"], error["error_type"], error["scope"], error["column"], error["sources"]) == (
        3, "INVALID_VALUE", "value", "lifecyclestage", [f"{SOURCE}:3"])
    assert "not-a-stage was not one of the allowed options" in error["message"]
    written = read_contacts(client, ["ann@example.com", "ben@example.com", "cy@example.com"], ("email", "firstname", "lifecyclestage"))
    assert {email: (c.properties["firstname"], c.properties["lifecyclestage"]) for email, c in written.items()} == {
        "ann@example.com": ("Ann", "lead"), "ben@example.com": ("Ben", None), "cy@example.com": ("Cy", "customer")}
    assert count_requests(emulator, "POST", "/batch/", 400) == (3 if whole_batch else 0)
