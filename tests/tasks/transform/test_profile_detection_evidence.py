"""A file is read with a vendor's profile only on a header only that vendor's exports write: a
plain contact list sharing a few generic names with a CRM (``Status`` and ``Tags``, ``Phone
Number`` and ``Postal Code``) stays plain, and a Salesforce report is Salesforce's, not Zoho's,
though it shares more labels with Zoho."""

from __future__ import annotations

import polars as pl
import pytest

from tasks.transform.catalog import FALLBACK_PROFILE, all_profiles, detect_profile
from tests.plain_plan import plan
from tests.tasks.extract.test_tables import outcomes, planned, read_one, write_csv

PLAIN_LISTS = [
    # what the list is, its headers: each read as ActiveCampaign, HubSpot, Zoho, Klaviyo or
    # Constant Contact when two shared names were enough
    ("members", ["Email", "First Name", "Last Name", "Organization", "Status", "Tags"]),
    ("association", ["Email", "First Name", "Last Name", "Organization", "Status"]),
    ("crm accounts", ["Contact ID", "Email", "First Name", "Last Name", "Status"]),
    ("signups with ip", ["Email", "Name", "Status", "IP Address"]),
    ("signups with date", ["Email", "Name", "Status", "Date Created"]),
    ("newsletter signups", ["Email", "First Name", "Last Name", "Phone Number", "Postal Code", "Subscribed", "Unsubscribed"]),
    ("b2b list", ["Email", "First Name", "Last Name", "Mobile", "Account Name", "Subscribed", "Unsubscribed"]),
    ("app list", ["Email", "First Name", "Last Name", "Date Added", "Last Active", "Subscribed", "Unsubscribed"]),
    ("app users", ["Email", "First Name", "Last Name", "Subscribed", "Unsubscribed", "Created At", "Updated At"]),
    ("mailing addresses", ["Email", "Mailing Street", "Mailing City", "Mailing State", "Mailing Zip", "Unsubscribed"]),
    # Found by the re-audit: Zoho's and HubSpot's labels a plain list writes too.
    ("created and modified times", ["Email", "First Name", "Created Time", "Modified Time", "Do Not Email"]),
    ("lifecycle stages", ["Email", "First Name", "Phone Number", "Lifecycle Stage", "Do Not Email"]),
]  # fmt: skip

SALESFORCE_REPORT = [
    "Contact Owner", "First Name", "Last Name", "Title", "Account Name", "Mailing Street", "Mailing City",
    "Mailing State/Province", "Mailing Zip/Postal Code", "Mailing Country", "Phone", "Mobile", "Email", "Email Opt Out",
    "Lead Source", "Created Date", "Last Modified Date",
]  # fmt: skip

VENDOR_EXPORTS = [
    # vendor, headers an export of it writes
    ("salesforce", SALESFORCE_REPORT),
    ("salesforce", [*SALESFORCE_REPORT[:14], "Email Bounced Reason", "Email Bounced Date", *SALESFORCE_REPORT[14:]]),
    (
        "zoho",
        [
            "Record Id", "Contact Owner", "Lead Source", "First Name", "Last Name", "Account Name", "Email", "Secondary Email",
            "Mobile", "Email Opt Out", "Skype ID", "Created Time", "Modified Time", "Mailing Street", "Mailing City",
            "Mailing State", "Mailing Zip", "Mailing Country",
        ],
    ),
    ("zoho", ["Record Id", "First Name", "Last Name", "Email", "Email Opt Out", "Account Name", "Mobile"]),
    (
        "hubspot",
        ["Record ID", "First Name", "Last Name", "Email", "Phone Number", "Contact owner", "Lifecycle Stage", "Create Date"],
    ),
    ("klaviyo", ["Email", "First Name", "Email Marketing Consent", "SMS Marketing Consent", "Email Suppressions", "Country"]),
    ("constantcontact", ["Email address", "First name", "Last name", "Email status", "Email permission status", "Email Lists"]),
    ("constantcontact", ["Email address", "First name", "Last name", "Email Lists", "Created At", "Updated At"]),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "headers"), PLAIN_LISTS, ids=[kind for kind, _ in PLAIN_LISTS])
def test_a_plain_list_sharing_generic_names_with_a_vendor_is_read_plain(kind, headers):
    assert detect_profile(headers).name == FALLBACK_PROFILE


@pytest.mark.parametrize(("vendor", "headers"), VENDOR_EXPORTS, ids=[f"{v}-{len(h)}" for v, h in VENDOR_EXPORTS])
def test_a_vendors_export_is_read_as_that_vendors(vendor, headers):
    assert detect_profile(headers).name == vendor


@pytest.mark.parametrize("profile", [p for p in all_profiles() if p.shared_detect_headers], ids=lambda p: p.name)
def test_every_shared_name_of_a_profile_together_is_no_evidence_without_one_of_its_own(profile):
    headers = ["Email", *sorted(profile.shared_detect_headers)]
    assert detect_profile(headers).name == FALLBACK_PROFILE
    assert detect_profile([*headers, sorted(profile.detect_headers)[0]]).name == profile.name


def test_a_members_list_status_of_active_is_no_marketing_consent(tmp_path):
    rows = [
        ["ann@x.com", "Ann", "Lee", "Rotary Boston", "Active", "board"],
        ["bob@x.com", "Bob", "Ray", "Rotary Boston", "Lapsed", ""],
    ]
    read = read_one(write_csv(tmp_path / "members.csv", PLAIN_LISTS[0][1], rows), tmp_path)
    assert (read.profile.name, outcomes(read)) == ("generic", {"ann@x.com": "non_marketing", "bob@x.com": "non_marketing"})


@pytest.mark.parametrize(
    ("kind", "headers"), [(kind, headers) for kind, headers in PLAIN_LISTS if {"Subscribed", "Unsubscribed"} <= set(headers)]
)
def test_a_plain_lists_unsubscribed_flag_opts_out_and_its_subscribed_flag_is_marketing(tmp_path, kind, headers):
    def row(email: str, subscribed: str, unsubscribed: str) -> list[str]:
        cells = {"Email": email, "Subscribed": subscribed, "Unsubscribed": unsubscribed}
        return [cells.get(header, "") for header in headers]

    path = write_csv(tmp_path / "signups.csv", headers, [row("ann@x.com", "yes", "no"), row("bob@x.com", "yes", "yes")])
    read = read_one(path, tmp_path)
    assert (read.profile.name, outcomes(read)) == ("generic", {"ann@x.com": "marketing", "bob@x.com": "opted_out"})


def test_a_salesforce_report_reads_its_state_zip_and_last_modified_date(tmp_path):
    def row(last_name: str, account: str, city: str, state: str, zip_code: str, created: str, modified: str) -> list[str]:
        return [
            "Jo Owner", "Cy", last_name, "", account, "", city, state, zip_code, "", "", "", "cy@example.com", "0", "Web",
            created, modified,
        ]  # fmt: skip

    rows = [
        row("Dee-Old", "Gamma Old", "", "", "", "1/5/2022", "12/1/2023"),
        row("Dee", "Gamma", "Boston", "MA", "02110", "1/5/2023", "3/1/2024"),
    ]
    report = plan([str(write_csv(tmp_path / "report.csv", SALESFORCE_REPORT, rows))], tmp_path / "out")
    [contact] = [row for rows in planned(tmp_path / "out").values() for row in rows.values()]
    # The row Salesforce last changed wins over the older duplicate, its state and zip HubSpot's own.
    assert (contact["lastname"], contact["state"], contact["zip"]) == ("Dee", "MA", "02110")
    [lineage] = pl.read_csv(tmp_path / "out" / "lineage.csv", infer_schema=False).to_dicts()
    assert lineage["last_changed"] == "2024-03-01T00:00:00Z"
    assert [source["format"] for source in report["sources"]] == ["salesforce-export"]
