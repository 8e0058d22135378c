"""report.html, rendered by a real browser: the funnel's numbers are on the page."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tasks.report_html import render_report_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

REPORT = {
    "rows_read": 1234,
    "rows_rejected": 17,
    "duplicates_merged": 40,
    "contacts": {"marketing": 900, "non_marketing": 77, "opted_out": 200},
    "sources": [
        {"uri": "x.zip!subscribed_<script>alert(1)</script>.csv", "format": "mailchimp-export", "status": "subscribed", "rows": 1000, "rejected": 17},
        {"uri": "x.zip!unsubscribed.csv", "format": "mailchimp-export", "status": "unsubscribed", "rows": 234, "rejected": 0},
    ],
    "provenance": {
        "several_sources": 1203,
        "combinations": [
            {"provenance": "mailchimp-export:subscribed", "outcome": "marketing", "contacts": 900},
            {"provenance": "generic-csv:<b>bold</b>; mailchimp-export:unsubscribed", "outcome": "opted_out", "contacts": 200},
        ],
    },
    "load": {
        "portal": "http://127.0.0.1:1",
        "rows_failed": 3,
        "imports": [{"file": "hubspot/contacts-marketing-001.csv", "state": "DONE", "rows": 900, "rows_failed": 3}],
        "opt_outs": {"unsubscribed": 200, "failed": 0},
    },
}


def test_input_values_are_escaped_and_the_page_needs_no_network():
    page = render_report_html(REPORT, {"invalid email address": 12, "no email address": 5})
    assert "<script>" not in page and "<b>" not in page
    assert "&lt;script&gt;" in page and "generic-csv:&lt;b&gt;bold&lt;/b&gt;; mailchimp-export:unsubscribed" in page
    assert not re.search(r"(src|href)=['\"]?https?:", page)


def test_the_portal_loaded_is_named_by_its_id_when_hubspot_said():
    assert "HubSpot portal" not in render_report_html(REPORT, {})
    named = {**REPORT, "load": {**REPORT["load"], "portal_id": 123456, "account_type": "SANDBOX"}}
    assert "<code>http://127.0.0.1:1</code>, HubSpot portal 123456 (SANDBOX)</p>" in render_report_html(named, {})


def test_what_waits_for_the_rerun_is_shown():
    load = {**REPORT["load"], "lists": [{"name": "m", "list_id": "1", "added": 0, "waiting": 3}],
            "companies": {"created": 0, "existing": 0, "associated": 0, "waiting": 3, "missing": 1}}
    page = render_report_html({**REPORT, "load": load}, {})
    assert (
        "<p class='bad'>3 contact(s) not added to their list yet and 3 contact(s) without their company yet: their file's "
        "import did not finish; the same command sends them again, then does these.</p>"
    ) in page
    assert "1 contact(s) with a company domain are not in HubSpot (their rows failed): no company was made for them." in page
    assert "not added to their list" not in render_report_html(REPORT, {})


def test_the_loads_warnings_are_shown_escaped():
    warning = "Onramp has created 42 imports (46 rows) in this portal in the last 24 hours: <a free portal> may create 50"
    page = render_report_html({**REPORT, "load": {**REPORT["load"], "warnings": [warning]}}, {})
    assert "<p class='bad'>Warning: Onramp has created 42 imports (46 rows) in this portal in the last 24 hours: &lt;a free portal&gt; may create 50</p>" in page
    assert "Warning:" not in render_report_html(REPORT, {})


def test_what_reading_a_file_warned_about_is_shown_escaped():
    note = "no date of 'Last Modified' says whether it is written day or month first (<b>Last Modified</b> row 2: 05/02/2024)"
    [first, *others] = REPORT["sources"]
    page = render_report_html({**REPORT, "sources": [{**first, "notes": [note]}, *others]}, {})
    assert (
        "<p class='bad source-warning'>warning: x.zip!subscribed_&lt;script&gt;alert(1)&lt;/script&gt;.csv: no date of "
        "&#x27;Last Modified&#x27; says whether it is written day or month first (&lt;b&gt;Last Modified&lt;/b&gt; row 2: "
        "05/02/2024)</p>"
    ) in page
    assert "source-warning" not in render_report_html(REPORT, {})


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (CI installs Debian's chromium)")
def test_headless_chromium_shows_the_funnel(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render_report_html(REPORT, {"invalid email address": 12, "no email address": 5}), encoding="utf-8")
    dom = subprocess.run(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri(),
        ],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    funnel = {
        key: re.search(rf"<tr id=\"{key}\"><th>[^<]+</th><td class=\"n\">([\d,]+)</td>", dom).group(1)
        for key in ("rows-read", "rows-rejected", "duplicates-merged", "marketing", "non-marketing", "opted-out")
    }
    assert funnel == {
        "rows-read": "1,234", "rows-rejected": "17", "duplicates-merged": "40",
        "marketing": "900", "non-marketing": "77", "opted-out": "200",
    }
    assert "invalid email address" in dom and "3 row(s) failed in HubSpot." in dom


def test_reject_reasons_are_counted_most_frequent_first(tmp_path):
    from tasks.report_html import reject_reasons

    rejects = tmp_path / "rejects.csv"
    rejects.write_text("source,row,reason\na,2,no email address\na,3,invalid email address\nb,2,invalid email address\n", encoding="utf-8")
    assert reject_reasons(rejects) == {"invalid email address": 2, "no email address": 1}


def test_the_provenance_section_shows_the_combinations_and_the_contacts_from_several_files():
    page = render_report_html(REPORT)
    assert "<p id='several-sources'>1,203 contact(s) merged from more than one source file" in page
    assert "<td><code>mailchimp-export:subscribed</code></td><td>marketing</td><td class='n'>900</td>" in page


def test_a_mismatch_of_the_read_back_is_shown_as_its_check_file_line_and_source_rows():
    mismatch = {
        "check": "opted-out-made-marketing", "file": "hubspot/contacts-marketing-001.csv", "line": 7,
        "detail": "a marketing contact HubSpot holds as unsubscribed from all email: billed, never emailed",
        "sources": ["export.zip!subscribed.csv:12"],
    }  # fmt: skip
    reconciliation = {"contacts_checked": 900, "opt_outs_checked": 200, "mismatches": [mismatch], "by_check": {"opted-out-made-marketing": 1}}
    page = render_report_html({**REPORT, "load": {**REPORT["load"], "reconciliation": reconciliation}}, {})
    assert (
        "<li><code>opted-out-made-marketing</code> hubspot/contacts-marketing-001.csv line 7: a marketing contact HubSpot "
        "holds as unsubscribed from all email: billed, never emailed (source rows: export.zip!subscribed.csv:12)</li>"
    ) in page
    assert "{'check'" not in page


def test_contacts_hubspot_would_not_take_out_of_a_list_are_shown_as_a_failure_and_left_out_of_the_read_back():
    refused = {"file": "hubspot/opt-out-unsubscribed.csv", "line": 2, "error_type": "LIST_REMOVE_FAILED", "scope": "row", "record_id": "5"}
    # The same contact refused by an earlier list too: one contact, one row.
    errors = [refused, {**refused, "list_id": "2"}]
    reconciliation = {"contacts_checked": 900, "opt_outs_checked": 199, "mismatches": [], "by_check": {}}
    load = {**REPORT["load"], "rows_failed": 0, "errors": errors, "reconciliation": reconciliation,
            "lists": [{"name": "m", "list_id": "1", "added": 0, "remove_failed": 1}]}  # fmt: skip

    page = render_report_html({**REPORT, "load": load}, {})

    assert (
        "<p class='bad'>0 row(s) failed in HubSpot. 0 row(s) loaded with values HubSpot refused (those values were left out). "
        "1 contact(s) HubSpot would not take out of a list (the run fails; a sync sends them again next run). "
        "report.json's <code>load.errors</code> names each row and why.</p>"
    ) in page
    assert "no mismatch; other property values were not compared, nor the 1 row(s) HubSpot did not take" in page
    assert "would not take out of a list" not in render_report_html(REPORT, {})


def test_a_list_no_longer_static_is_warned_of_by_name():
    load = {**REPORT["load"], "lists": [{"name": "m <1>", "list_id": "1", "added": 0, "not_static": "DYNAMIC",
                                          "earlier_lists": [{"name": "old", "list_id": "2", "not_static": None}]}]}  # fmt: skip

    page = render_report_html({**REPORT, "load": load}, {})

    assert "<p class='bad'>Warning: list &#x27;m &lt;1&gt;&#x27; (id 1) is DYNAMIC now, no longer a static list" in page
    assert "(id 2)" not in page
