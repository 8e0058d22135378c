"""What a person is told about a load into the emulator: the console's load line and report.html
count the rows that failed and the rows with values HubSpot refused, and the reconciliation says
what it compared, never more."""

from __future__ import annotations

from flows.cli import _print_summary
from tasks.load import load_plan
from tasks.load.plan import read_plan
from tasks.load.reconcile import reconcile
from tasks.report_html import render_report_html
from tests.tasks.load.test_load_emulator import MARKETING, POLL, RATING, SOURCE, migration

# A star rating of "five" is no number: HubSpot imports the row without it (COULD_NOT_PARSE_NUMBER).
RATED = {
    MARKETING: (
        {"outcome": "marketing", "marketable": True, "create_list": False, "name": "Onramp test marketing 001"},
        ["email", "firstname", "mailchimp_member_rating"],
        [["ann@example.com", "Ann", "4"], ["ben@example.com", "Ben", "five"], ["cat@example.com", "Cat", "lots"]],
    )
}


def loaded(portal, tmp_path, **overrides) -> dict:
    """The run report of a load of a migration's plan, read back as the migrate flow does."""
    plan = migration(tmp_path, opt_outs={}, properties=[RATING], source=SOURCE, **overrides)
    load = load_plan(portal, plan.directory, poll_interval=POLL)
    load["reconciliation"] = reconcile(portal, read_plan(plan.directory), load)
    contacts = {"marketing": 3, "non_marketing": 0, "opted_out": 0}
    return {"rows_read": 3, "rows_rejected": 0, "duplicates_merged": 0, "contacts": contacts, "sources": [], "load": load}


def console(report, capsys) -> str:
    _print_summary(report, "out")
    [line] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("HubSpot portal")]
    return line


def test_rows_with_refused_values_are_counted_on_the_console_and_in_the_html(portal, tmp_path, capsys):
    report = loaded(portal, tmp_path, contacts=RATED)

    assert report["load"]["rows_with_value_errors"] == 2
    assert console(report, capsys).endswith(
        ": 1 import(s), 0 opted out, 0 row(s) failed, 2 row(s) with values HubSpot refused (report.json load.errors)"
    )
    page = render_report_html(report)
    assert "0 row(s) failed in HubSpot. 2 row(s) loaded with values HubSpot refused" in page
    assert "holds exactly" not in page
    assert (
        "Read back from HubSpot: 3 contact(s) (each present, its marketing status, its lists) and 0 opt-out(s) "
        "(unsubscribed from all email, not a marketing contact): no mismatch; other property values were not compared."
    ) in page


def test_the_html_never_claims_a_match_for_rows_that_failed(portal, emulator, tmp_path, capsys):
    emulator.fail_next_imports(2)
    report = loaded(portal, tmp_path, contacts=RATED)

    assert report["load"]["rows_failed"] == 3
    # Both of the file's imports, the FAILED one submitted again, count toward the day's.
    assert console(report, capsys).endswith(
        ": 2 import(s) (1 of them FAILED and submitted again), 0 opted out, 3 row(s) failed (report.json load.errors)"
    )
    page = render_report_html(report)
    assert "holds exactly" not in page
    assert "no mismatch; other property values were not compared, nor the 3 row(s) HubSpot did not take (failed, or not taken out of a list)." in page


def test_what_the_read_back_found_is_counted_on_the_console(portal, emulator, tmp_path, capsys):
    report = loaded(portal, tmp_path, contacts=RATED)
    # A contact the portal lost after the load: the read-back finds it missing.
    emulator.portal.archive("0-1", emulator.portal.find("0-1", "email", "ben@example.com").id)
    report["load"]["reconciliation"] = reconcile(portal, read_plan(tmp_path), report["load"])

    _print_summary(report, "out")
    printed = capsys.readouterr().out.splitlines()
    assert "  read back from HubSpot: 1 contact-missing (report.json load.reconciliation)" in printed
