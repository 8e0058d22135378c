"""The summary lines of what a sync's load kept non-marketing as HubSpot holds it, and of the
changed contacts an earlier run made marketing: on the console, in report.md and report.html,
only when there are any."""

from __future__ import annotations

from flows.cli import _print_summary
from tasks.report import kept_non_marketing_lines, markdown_report
from tasks.report_html import render_report_html

AS_SET_LINE = (
    "2 contact(s) an earlier sync made marketing that HubSpot holds set non-marketing sent as non-marketing, "
    "not billed again (report.json load.kept_non_marketing_as_set_in_hubspot)"
)
OPTED_OUT_LINE = "1 contact(s) HubSpot holds as unsubscribed from all email sent as non-marketing (report.json load.kept_non_marketing_opted_out)"
SYNC = {
    "planned_contacts": 5, "new_opt_outs": 0, "opt_outs_sent_again": 0, "opt_outs_no_longer_in_sources": 0,
    "opt_outs_not_listed_by_providers": 0, "new_or_changed_contacts": 3, "kept_opted_out": 0, "kept_newer_from_api": 0,
    "older_than_sent": 0, "held_non_marketing": 0, "held_sent_non_marketing": 0, "unchanged": 2, "left_source": 0,
    "changed_already_marketing": 2, "opt_outs_still_pending": 0,
}  # fmt: skip


def a_report(as_set: int, opted_out: int, changed_already_marketing: int) -> dict:
    load = {
        "portal": "http://127.0.0.1:1", "imports": [], "opt_outs": {"files": [], "unsubscribed": 0, "failed": 0}, "rows_failed": 0,
        "kept_non_marketing_opted_out": {"count": opted_out, "rows": []},
        "kept_non_marketing_as_set_in_hubspot": {"count": as_set, "requests": 1, "rows": []},
    }  # fmt: skip
    return {
        "rows_read": 5, "rows_rejected": 0, "duplicates_merged": 0, "contacts": {"marketing": 5, "non_marketing": 0, "opted_out": 0},
        "sources": [], "files": {"imports": [], "opt_outs": [], "rejects": "rejects.csv"},
        "sync": {**SYNC, "changed_already_marketing": changed_already_marketing}, "load": load,
    }  # fmt: skip


def test_the_contacts_kept_non_marketing_are_said_by_kind_only_when_there_are_any():
    assert kept_non_marketing_lines(a_report(2, 1, 0)["load"]) == [OPTED_OUT_LINE, AS_SET_LINE]
    assert kept_non_marketing_lines(a_report(0, 0, 0)["load"]) == []
    assert f"  - {AS_SET_LINE}" in markdown_report(a_report(2, 0, 0))
    assert f"<p>{AS_SET_LINE}</p>" in render_report_html(a_report(2, 0, 0), {})
    assert "set non-marketing" not in render_report_html(a_report(0, 0, 0), {})


def test_the_console_says_the_changed_contacts_an_earlier_run_made_marketing_and_the_kept_ones(capsys):
    _print_summary(a_report(2, 0, 2), "out")
    printed = capsys.readouterr().out.splitlines()

    assert (
        "sync: 2 of the 3 new or changed contacts an earlier run made marketing: their marketing status was read from "
        "HubSpot first (report.json sync.changed_already_marketing)"
    ) in printed
    assert f"  {AS_SET_LINE}" in printed

    _print_summary(a_report(0, 0, 0), "out")
    printed = capsys.readouterr().out
    assert "an earlier run made marketing" not in printed and "set non-marketing" not in printed
