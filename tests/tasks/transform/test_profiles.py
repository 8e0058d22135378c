"""Klaviyo and ActiveCampaign exports with the headers their profiles cite: detection, mapping, outcomes."""

from __future__ import annotations

import csv
import datetime
from pathlib import Path

import polars as pl
import pytest

from schemas.lineage import SOURCE_STATUS
from tasks.extract import mailchimp
from tasks.extract.tables import ReadFile, read_source
from tasks.output import OutputFolder
from tasks.plan import consent_profiles, plan_sources
from tasks.transform.catalog import all_profiles, parsed_time_column

KLAVIYO_HEADERS = [
    "Email", "Klaviyo ID", "First Name", "Last Name", "Organization", "Title", "Phone Number",
    "Address", "Address 2", "City", "State / Region", "Country", "Zip Code", "Latitude", "Longitude",
    "Source", "IP Address", "Email Marketing Consent", "Email Marketing Consent Timestamp",
    "Historic Customer Lifetime Value", "Total Customer Lifetime Value",
    "Predicted Customer Lifetime Value", "Average Order Value", "Historic Number Of Orders",
    "First Active", "Last Active", "Profile Created On", "Date Added", "Last Open", "Last Click",
    "Average Days Between Orders", "Email Suppressions",
]  # fmt: skip

KLAVIYO_PROFILES = [
    # email, consent, suppressions, expected outcome
    ("ann@x.com", "SUBSCRIBED", "[]", "marketing"),
    ("bob@x.com", "UNSUBSCRIBED", "[]", "opted_out"),
    ("cy@x.com", "NEVER_SUBSCRIBED", "", "non_marketing"),
    ("di@x.com", "SUBSCRIBED", '["HARD_BOUNCE"]', "opted_out"),
    ("ed@x.com", "SUBSCRIBED", '[{"reason": "SPAM_COMPLAINT", "timestamp": "2024-03-01T10:00:00+00:00"}]', "opted_out"),
    ("fay@x.com", "SUBSCRIBED", "USER_SUPPRESSED", "opted_out"),
    ("gus@x.com", "", "[]", "non_marketing"),
]

# "Contact Score" is a name only ActiveCampaign writes: without one, "Status" and "Tags" are any
# contact list's, and the file is read as a plain one.
ACTIVECAMPAIGN_HEADERS = ["Email", "First Name", "Last Name", "Phone", "Tags", "Status", "Contact Score"]

ACTIVECAMPAIGN_CONTACTS = [
    # email, status, expected outcome
    ("ann@x.com", "Active", "marketing"),
    ("bob@x.com", "Unconfirmed", "non_marketing"),
    ("cy@x.com", "Unsubscribed", "opted_out"),
    ("di@x.com", "Bounced", "opted_out"),
    ("ed@x.com", "2", "opted_out"),
    ("fay@x.com", "3", "opted_out"),
    ("gus@x.com", "91", "non_marketing"),
    ("hal@x.com", "1", "non_marketing"),
    ("ivy@x.com", "", "non_marketing"),
]


def klaviyo_record(email: str, consent: str, suppressions: str) -> dict[str, str]:
    return {
        "Email": email, "Klaviyo ID": f"01H{email[:3].upper()}", "First Name": "Zoë", "Last Name": "Lee",
        "Organization": "Acme", "Title": "CTO", "Phone Number": "+16193058111", "Address": "1 Main St",
        "Address 2": "Suite 4", "City": "Boston", "State / Region": "MA", "Country": "United States",
        "Zip Code": "02110", "Latitude": "42.35", "Longitude": "-71.05", "Source": "Signup form",
        "IP Address": "192.0.2.1", "Email Marketing Consent": consent,
        "Email Marketing Consent Timestamp": "2024-03-01T10:00:00+00:00" if consent else "",
        "Historic Customer Lifetime Value": "120.5", "Total Customer Lifetime Value": "130.5",
        "Predicted Customer Lifetime Value": "10", "Average Order Value": "60.25",
        "Historic Number Of Orders": "2", "First Active": "2023-01-05 09:00:00",
        "Last Active": "2024-03-02 11:00:00", "Profile Created On": "2023-01-05 09:00:00",
        "Date Added": "2023-01-06 09:00:00", "Last Open": "", "Last Click": "",
        "Average Days Between Orders": "", "Email Suppressions": suppressions,
    }  # fmt: skip


def write_csv(path: Path, headers: list[str], rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=headers)
        writer.writeheader()
        writer.writerows(rows)
    return path


def outcomes(read: ReadFile) -> dict[str, str]:
    policy = read.profile.profile.consent
    rows = read.raw.frame.collect().iter_rows(named=True)
    return {row[read.raw.email_column]: policy.outcome_of(row[SOURCE_STATUS]).value for row in rows}


def plan_one(read: ReadFile, out: Path) -> tuple[dict, dict[str, dict[str, str]]]:
    """The plan of one file: its report, and every planned row by email."""
    report = plan_sources([read.raw], OutputFolder(str(out)), consent_profiles([read.profile.profile], {}))
    rows = {}
    for path in sorted((out / "hubspot").glob("*.csv")):
        for row in pl.read_csv(path, infer_schema=False).iter_rows(named=True):
            rows[row.get("email") or row["Email"]] = row
    return report, rows


def test_a_klaviyo_export_is_detected_and_its_consent_and_suppressions_read(tmp_path):
    path = write_csv(tmp_path / "Newsletter list.csv", KLAVIYO_HEADERS, [klaviyo_record(*p[:3]) for p in KLAVIYO_PROFILES])
    [read] = read_source(str(path), tmp_path / "staging")
    assert read.profile.name == "klaviyo"
    assert outcomes(read) == {email: outcome for email, _, _, outcome in KLAVIYO_PROFILES}

    report, rows = plan_one(read, tmp_path / "out")
    assert report["contacts"] == {"marketing": 1, "non_marketing": 2, "opted_out": 4}
    ann = rows["ann@x.com"]
    assert (ann["firstname"], ann["lastname"], ann["company"], ann["jobtitle"]) == ("Zoë", "Lee", "Acme", "CTO")
    assert (ann["mobilephone"], ann["address"], ann["city"], ann["state"], ann["zip"], ann["country"]) == (
        "+16193058111", "1 Main St", "Boston", "MA", "02110", "United States",
    )
    created = datetime.datetime(2023, 1, 5, 9, tzinfo=datetime.UTC)
    assert ann["klaviyo_profile_created_on"] == str(int(created.timestamp() * 1000))
    consented = datetime.datetime(2024, 3, 1, 10, tzinfo=datetime.UTC)
    assert ann["klaviyo_email_marketing_consent_timestamp"] == str(int(consented.timestamp() * 1000))
    assert (ann["klaviyo_klaviyo_id"], ann["klaviyo_address_2"], ann["klaviyo_source"]) == ("01HANN", "Suite 4", "Signup form")


def test_a_narrow_klaviyo_export_with_a_bare_suppression_reason_is_still_klaviyo(tmp_path):
    headers = ["Email", "First Name", "Email Marketing Consent", "Email Marketing Consent Timestamp", "SMS Marketing Consent", "Email Suppressions", "Country", "Source"]
    rows = [
        {"Email": "ok@x.com", "First Name": "Linda", "Email Marketing Consent": "SUBSCRIBED", "Email Marketing Consent Timestamp": "2025-03-01T10:00:00Z", "SMS Marketing Consent": "SUBSCRIBED", "Email Suppressions": "", "Country": "United States", "Source": "popup"},
        {"Email": "bounce@x.com", "First Name": "Bo", "Email Marketing Consent": "SUBSCRIBED", "Email Marketing Consent Timestamp": "2025-03-01T10:00:00Z", "SMS Marketing Consent": "", "Email Suppressions": "HARD_BOUNCE", "Country": "United States", "Source": "popup"},
    ]  # fmt: skip
    [read] = read_source(str(write_csv(tmp_path / "segment.csv", headers, rows)), tmp_path / "staging")
    assert read.profile.name == "klaviyo"
    assert outcomes(read) == {"ok@x.com": "marketing", "bounce@x.com": "opted_out"}
    # "Z" is UTC.
    times = read.raw.frame.collect().get_column(parsed_time_column("Email Marketing Consent Timestamp"))
    assert times.to_list() == [datetime.datetime(2025, 3, 1, 10)] * 2


def test_an_activecampaign_export_is_detected_and_its_list_statuses_read(tmp_path):
    rows = [
        {
            "Email": email, "First Name": "Ann", "Last Name": "Lee", "Phone": "+1 619 305 8111", "Tags": "customer, vip",
            "Status": status, "Contact Score": "0",
        }  # fmt: skip
        for email, status, _ in ACTIVECAMPAIGN_CONTACTS
    ]
    [read] = read_source(str(write_csv(tmp_path / "contacts.csv", ACTIVECAMPAIGN_HEADERS, rows)), tmp_path / "staging")
    assert read.profile.name == "activecampaign"
    assert outcomes(read) == {email: outcome for email, _, outcome in ACTIVECAMPAIGN_CONTACTS}

    report, planned = plan_one(read, tmp_path / "out")
    assert report["contacts"] == {"marketing": 1, "non_marketing": 4, "opted_out": 4}
    ann = planned["ann@x.com"]
    assert (ann["firstname"], ann["lastname"], ann["phone"]) == ("Ann", "Lee", "+1 619 305 8111")
    assert ann["activecampaign_tags"] == "customer;vip"


@pytest.mark.parametrize("profile", all_profiles(), ids=lambda profile: profile.name)
def test_every_status_a_profile_gives_a_row_has_an_outcome_of_its_own(profile):
    # What --consent's check of a status (tasks.plan.check_override_statuses) relies on: the
    # statuses a profile's consent table names are every status its rows can have.
    given = {profile.default_status, *(status for _, status in profile.file_statuses)}
    for rule in profile.rules:
        given |= {*rule.values.values(), *filter(None, (rule.when_true, rule.when_present))}
    if profile.format == mailchimp.FORMAT:
        given |= set(mailchimp.STATUSES)
    # Mailchimp's profile has no default: its rows' status is their file's name.
    assert {status.lower() for status in given if status} <= set(profile.profile.consent.outcomes)
