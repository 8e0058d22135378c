"""A run that plans marketing contacts says once, beside their count, that HubSpot bills them and
how to import a status as non-marketing instead; a run that plans none says nothing of it."""

from __future__ import annotations

from tasks.report import MARKETING_BILLING_HINT, markdown_report
from tasks.report_html import render_report_html
from tests.tasks.test_report_html import REPORT

FILES = {"imports": [{"file": "hubspot/contacts-marketing-001.csv", "outcome": "marketing", "rows": 900}], "opt_outs": [],
         "rejects": "rejects.csv"}
PLANNED = {key: value for key, value in REPORT.items() if key != "load"} | {"files": FILES}
NONE_MARKETING = PLANNED | {"contacts": {"marketing": 0, "non_marketing": 977, "opted_out": 200}}


def test_a_plan_of_marketing_contacts_says_once_that_they_are_billed():
    markdown, page = markdown_report(PLANNED), render_report_html(PLANNED)

    assert markdown.count("billed") == 1 and MARKETING_BILLING_HINT in markdown
    # Right under the ledger's table, where its marketing count is.
    assert markdown.index(MARKETING_BILLING_HINT) < markdown.index("## Sources")
    assert page.count("billed") == 1
    assert "<td class='n'>900</td>" in page.split("id='marketing-billing'")[0]
    assert "--consent STATUS=non_marketing" in page


def test_a_plan_without_marketing_contacts_says_nothing_of_billing():
    assert "billed" not in markdown_report(NONE_MARKETING)
    assert "marketing-billing" not in render_report_html(NONE_MARKETING)
