"""A file a bundled profile reads, detected or named, with a plain opt-out flag beside its own
columns: a flag set there keeps the row from being marketing (``opt_out_flag_unconfirmed``,
opted out only when the run confirms it, counted in the report), and the profile's own exports
read as before."""

from __future__ import annotations

import pytest

from tasks.extract.tables import ReadOptions
from tasks.report import source_warnings
from tasks.transform.catalog import FALLBACK_PROFILE, reading_profile
from tasks.transform.consent import OPT_OUT_FLAG_UNCONFIRMED_STATUS, SEVERITY, Outcome
from tests.plain_plan import plan
from tests.tasks.extract.test_tables import CRM_FILES, outcomes, planned, read_one, write_csv

CONSTANT_CONTACT_LOOKALIKE = (["Email Address", "Email Status", "Unsubscribed"], [["ann@example.com", "Active", "yes"], ["bob@example.com", "Active", "no"]])


@pytest.mark.parametrize("options", [ReadOptions(), ReadOptions(profile="constantcontact")], ids=["detected", "named"])
def test_an_unsubscribed_flag_beside_constant_contact_headers_keeps_the_row_from_marketing(tmp_path, options):
    read = read_one(write_csv(tmp_path / "contacts.csv", *CONSTANT_CONTACT_LOOKALIKE), tmp_path, options)
    assert (read.profile.name, read.raw.format) == ("constantcontact", "constantcontact-export+generic")
    assert outcomes(read) == {"ann@example.com": "non_marketing", "bob@example.com": "marketing"}


def test_the_plan_keeps_the_flagged_row_out_of_the_marketing_import_and_warns_how_to_confirm(tmp_path):
    report = plan([str(write_csv(tmp_path / "contacts.csv", *CONSTANT_CONTACT_LOOKALIKE))], tmp_path / "out")
    assert report["contacts"] == {"marketing": 1, "non_marketing": 1, "opted_out": 0}
    files = planned(tmp_path / "out")
    assert set(files["contacts-non-marketing-001.csv"]) == {"ann@example.com"}
    assert set(files["contacts-marketing-001.csv"]) == {"bob@example.com"}
    # The flag is still a property, as the fallback profile sends the flags it reads.
    assert files["contacts-marketing-001.csv"]["bob@example.com"]["constantcontact_unsubscribed"] == "no"
    [warning] = [line for line in source_warnings(report) if OPT_OUT_FLAG_UNCONFIRMED_STATUS in line]
    assert "1 row(s) set an opt-out flag (Unsubscribed: yes)" in warning
    assert f"--consent {OPT_OUT_FLAG_UNCONFIRMED_STATUS}=opted_out" in warning


def test_a_run_confirming_the_flag_opts_the_row_out(tmp_path):
    source = str(write_csv(tmp_path / "contacts.csv", *CONSTANT_CONTACT_LOOKALIKE))
    report = plan([source], tmp_path / "out", {OPT_OUT_FLAG_UNCONFIRMED_STATUS: "opted_out"})
    assert report["contacts"] == {"marketing": 1, "non_marketing": 0, "opted_out": 1}
    assert set(planned(tmp_path / "out")["opt-out-opt-out-flag-unconfirmed.csv"]) == {"ann@example.com"}
    [warning] = [line for line in source_warnings(report) if OPT_OUT_FLAG_UNCONFIRMED_STATUS in line]
    assert "planned opted out" in warning


HUBSPOT_EXPORT_WITH_A_BOUNCE_COUNT = (
    ["Record ID", "Email", "Marketing contact status", "Lifecycle Stage", "Bounced"],
    [
        ["1", "ann@x.com", "Marketing contact", "customer", "1"],
        ["2", "bob@x.com", "Marketing contact", "lead", "0"],
        ["3", "cy@x.com", "Non-marketing contact", "lead", "1"],
    ],
)


def test_a_hubspot_exports_own_bounced_count_opts_no_row_out_and_is_counted_by_column(tmp_path):
    report = plan([str(write_csv(tmp_path / "all_contacts.csv", *HUBSPOT_EXPORT_WITH_A_BOUNCE_COUNT))], tmp_path / "out")
    assert report["contacts"] == {"marketing": 1, "non_marketing": 2, "opted_out": 0}
    [source] = report["sources"]
    flagged = [u for u in source["unread_status_values"] if u["status"] == OPT_OUT_FLAG_UNCONFIRMED_STATUS]
    # The non-marketing contact's flag is counted too: confirming the status opts out both.
    assert flagged == [
        {"column": "Bounced", "value": "1", "status": OPT_OUT_FLAG_UNCONFIRMED_STATUS, "rows": 2, "outcome": "non_marketing"}
    ]


@pytest.mark.parametrize("options", [ReadOptions(), ReadOptions(profile="constantcontact")], ids=["detected", "named"])
def test_a_file_whose_name_opts_out_is_read_by_its_name_not_by_a_borrowed_flag(tmp_path, options):
    headers = ["Email Address", "Email Status", "Bounced"]
    rows = [["ann@x.com", "", "1"], ["bob@x.com", "", "0"], ["cy@x.com", "Active", "1"]]
    path = write_csv(tmp_path / "unsubscribed.csv", headers, rows)
    read = read_one(path, tmp_path, options)
    assert read.raw.format == "constantcontact-export"
    # Rows its own column says nothing of take the name's opt-out; Active contradicts it.
    assert outcomes(read) == {"ann@x.com": "opted_out", "bob@x.com": "opted_out", "cy@x.com": "non_marketing"}


@pytest.mark.parametrize(("profile", "headers", "rows", "expected"), CRM_FILES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CRM_FILES)])
def test_a_profiles_own_export_reads_as_before(tmp_path, profile, headers, rows, expected):
    read = read_one(write_csv(tmp_path / "export.csv", headers, rows), tmp_path)
    assert (read.profile.name, read.raw.format, outcomes(read)) == (profile, reading_profile(profile).format, expected)


@pytest.mark.parametrize(("profile", "headers", "rows", "expected"), CRM_FILES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CRM_FILES)])
def test_a_do_not_email_flag_beside_a_profiles_own_export_keeps_its_row_from_marketing(tmp_path, profile, headers, rows, expected):
    flagged = [[*row, "true" if index == 0 else ""] for index, row in enumerate(rows)]
    read = read_one(write_csv(tmp_path / "export.csv", [*headers, "Do Not Email"], flagged), tmp_path)
    first = next(iter(expected))
    # The fallback profile reads the flag itself: an opt-out. Beside another, the profile's own
    # opt-out stays one and any other reading of the row is no longer marketing.
    flag_outcome = Outcome.OPTED_OUT if profile == FALLBACK_PROFILE else Outcome.NON_MARKETING
    kept = max(expected[first], flag_outcome.value, key=lambda outcome: SEVERITY[Outcome(outcome)])
    assert (read.profile.name, outcomes(read)) == (profile, {**expected, first: kept})
