"""What the console says of a load's failures beyond its failed rows: contacts HubSpot would not
take out of a static list (which fail the command too), and a sync's pending opt-outs."""

from __future__ import annotations

import pytest

from tasks.load.lists import REMOVE_FAILED
from tasks.report import list_removals_failed, load_failed, load_lines, pending_opt_out_lines

OPT_OUTS = "hubspot/opt-out-unsubscribed.csv"
MARKETING = "hubspot/contacts-marketing.csv"


def error(file: str, line: int | None, error_type: str, scope: str = "row", list_id: str = "7", record_id: str = "1") -> dict:
    return {"file": file, "line": line, "error_type": error_type, "scope": scope, "message": "refused", "list_id": list_id, "record_id": record_id}


def a_load(errors=(), rows_failed=0, remove_failed=0) -> dict:
    return {
        "portal": "https://api.hubapi.com",
        "portal_id": 1,
        "account_type": "STANDARD",
        "opt_outs": {"files": [{"file": OPT_OUTS}], "unsubscribed": 3, "failed": rows_failed},
        "imports": [],
        "lists": [{"key": "marketing", "name": "Marketing", "list_id": "7", "added": 0, "remove_failed": remove_failed}],
        "errors": list(errors),
        "rows_failed": rows_failed,
    }


@pytest.mark.parametrize(
    ("load", "failed"),
    [
        (a_load(), False),
        ({"rows_failed": 0}, False),
        (a_load(rows_failed=1), True),
        (a_load(errors=[error(OPT_OUTS, 2, REMOVE_FAILED)], remove_failed=1), True),
    ],
    ids=["nothing", "no lists", "a row", "a list removal"],
)
def test_a_load_fails_on_a_failed_row_or_a_refused_list_removal(load, failed):
    assert load_failed(load) is failed


def test_the_load_line_says_how_many_contacts_hubspot_would_not_take_out_of_a_list():
    [first, listed] = load_lines(a_load(errors=[error(OPT_OUTS, 2, REMOVE_FAILED)], remove_failed=1))

    assert first.endswith(
        "3 opted out, 0 row(s) failed, 1 contact(s) HubSpot would not take out of a list (report.json load.errors)"
    )
    assert listed.endswith("1 contact(s) not removed (report.json load.errors)")
    assert load_lines(a_load())[0].endswith("3 opted out, 0 row(s) failed")


def test_a_contact_refused_by_several_lists_counts_once_and_contacts_without_a_line_apart_by_id():
    errors = [
        error(OPT_OUTS, 2, REMOVE_FAILED, list_id="7"),
        error(OPT_OUTS, 2, REMOVE_FAILED, list_id="8"),  # the same row, refused by an earlier list too
        error(OPT_OUTS, None, REMOVE_FAILED, record_id="31"),  # other spellings' contacts: no row of the file
        error(OPT_OUTS, None, REMOVE_FAILED, list_id="8", record_id="31"),
        error(OPT_OUTS, None, REMOVE_FAILED, record_id="32"),
        error(OPT_OUTS, 4, "OPT_OUT_FAILED"),  # a row that failed, not a list removal
    ]

    assert list_removals_failed(a_load(errors)) == 3
    assert list_removals_failed(a_load()) == 0


def test_pending_opt_outs_are_said_when_some_were_sent_again_or_stay_pending():
    sync = {"opt_outs_sent_again": 4, "opt_outs_no_longer_in_sources": 2, "opt_outs_not_listed_by_providers": 1, "opt_outs_still_pending": 1}
    load = a_load([error(OPT_OUTS, 4, "OPT_OUT_FAILED")], rows_failed=1)

    assert pending_opt_out_lines({"sync": sync, "load": load}) == [
        "sync: 4 pending opt-out(s) HubSpot had not taken sent again: 2 of contacts no source gives any more, "
        "1 of contacts a provider read for its changes did not list",
        "sync: 1 opt-out(s) HubSpot did not take stay pending, sent again next run (report.json load.errors)",
    ]
    assert pending_opt_out_lines({"sync": sync, "dry_run": {}})[0].startswith("sync: 4 pending opt-out(s) HubSpot had not taken to send again: 2 of")
    # Counted from the sync's keys: an error with no line (another spelling's contact) is no
    # reason to say fewer.
    assert pending_opt_out_lines({"sync": {"opt_outs_still_pending": 2}, "load": a_load()}) == [
        "sync: 2 opt-out(s) HubSpot did not take stay pending, sent again next run (report.json load.errors)"
    ]


@pytest.mark.parametrize(
    "report",
    [
        {"sync": {"opt_outs_sent_again": 0, "opt_outs_still_pending": 0}, "load": a_load()},
        {"sync": {"opt_outs_sent_again": 0}},
        {"load": a_load([error(OPT_OUTS, 4, "OPT_OUT_FAILED")], rows_failed=1)},
    ],
    ids=["nothing pending", "nothing changed", "a migration"],
)
def test_no_pending_opt_outs_are_said_when_there_are_none_or_the_run_is_no_sync(report):
    assert pending_opt_out_lines(report) == []
