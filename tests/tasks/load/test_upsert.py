"""The batch-upsert path: against the emulator over HTTP, and against a scripted portal where
the emulator cannot be made to refuse a whole batch."""

from __future__ import annotations

import json

import pytest

from tasks.load import settings
from tasks.load.plan import read_plan
from tasks.load.ratelimit import DailyQuotaSpent
from tasks.load.retry import HttpError
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


class ScriptedPortal:
    """A portal that refuses, with one 400 for the whole batch, any batch holding ``bad``."""

    def __init__(self, bad: str) -> None:
        self.bad = bad
        self.batches: list[list[str]] = []

    def request(self, method, path, *, json=None, params=None):
        emails = [entry["id"] for entry in json["inputs"]]
        self.batches.append(emails)
        if self.bad in emails:
            body = {"status": "error", "category": "VALIDATION_ERROR", "message": f"Invalid input: {self.bad}"}
            raise HttpError(400, _json(body), {}, f"{method} {path}")
        return {
            "status": "COMPLETE",
            "results": [
                {"id": str(n), "new": True, "properties": {"email": entry["id"]}, "objectWriteTraceId": entry["objectWriteTraceId"]}
                for n, entry in enumerate(json["inputs"])
            ],
        }


def _json(body) -> bytes:
    return json.dumps(body).encode()


def test_a_batch_refused_whole_is_split_until_the_bad_input_is_alone(tmp_path):
    rows = [[f"p{n}@example.com"] for n in range(100)]
    plan = plan_of(tmp_path, ["email"], rows)
    portal = ScriptedPortal(bad="p37@example.com")

    result = upsert_contacts_file(portal, plan, plan.imports[0], threads=1)

    assert result["rows_failed"] == 1 and result["counters"]["CREATED_OBJECTS"] == 99
    [error] = result["errors"]
    assert (error["line"], error["error_type"], error["sources"]) == (39, "UPSERT_REJECTED", [f"{SOURCE}:39"])
    assert "p37" not in error["message"]  # masked
    assert [["p37@example.com"]] == [batch for batch in portal.batches if len(batch) == 1]
    assert len(portal.batches) <= 2 * 7 + 1  # a bisection, not one request per row
