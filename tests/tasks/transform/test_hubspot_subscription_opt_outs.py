"""A HubSpot export's per-subscription opt-outs: never a marketing contact, opted out only from all email."""

from __future__ import annotations

import csv
from pathlib import Path

from schemas.lineage import SOURCE_STATUS
from tasks.extract.tables import read_source

HEADERS = [
    "Record ID", "First Name", "Last Name", "Email", "Marketing contact status", "Unsubscribed from all email",
    "Opted out of email: Marketing Information", "Opted out of email: One to One", "Lifecycle Stage", "Create Date",
]  # fmt: skip

CONTACTS = [
    # email, marketing contact status, unsubscribed from all, opted out of marketing information, of one to one, outcome
    ("hs1@x.com", "Marketing contact", "false", "true", "false", "non_marketing"),
    ("hs2@x.com", "Marketing contact", "false", "false", "false", "marketing"),
    ("hs3@x.com", "Marketing contact", "false", "false", "true", "non_marketing"),
    ("hs4@x.com", "Marketing contact", "true", "true", "false", "opted_out"),
    ("hs5@x.com", "Non-marketing contact", "false", "false", "", "non_marketing"),
]


def test_an_opt_out_of_one_subscription_is_never_made_a_marketing_contact(tmp_path: Path):
    path = tmp_path / "hubspot-crm-exports-all-contacts-2024-01-01.csv"
    records = [
        [str(n), "Hu", "N", email, status, all_email, marketing, one_to_one, "Lead", "2024-01-01 10:00"]
        for n, (email, status, all_email, marketing, one_to_one, _) in enumerate(CONTACTS)
    ]
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([HEADERS, *records])
    [read] = read_source(str(path), tmp_path / "staging")
    assert read.profile.name == "hubspot"
    policy = read.profile.profile.consent
    outcomes = {row["Email"]: policy.outcome_of(row[SOURCE_STATUS]).value for row in read.raw.frame.collect().iter_rows(named=True)}
    assert outcomes == {email: outcome for email, *_, outcome in CONTACTS}


def outcomes_of(path: Path, headers: list[str], records: list[list[str]], email_column: str) -> dict[str, str]:
    """Each row's outcome, the file read as a plan reads it (asserted read as a HubSpot export)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([headers, *records])
    [read] = read_source(str(path), path.parent / "staging")
    assert read.profile.name == "hubspot"
    policy = read.profile.profile.consent
    rows = read.raw.frame.collect().iter_rows(named=True)
    return {row[email_column]: policy.outcome_of(row[SOURCE_STATUS]).value for row in rows}


def test_an_opt_out_of_a_portals_own_subscription_is_never_made_a_marketing_contact(tmp_path: Path):
    headers = [
        "Record ID", "Email", "Marketing contact status", "Unsubscribed from all email",
        "Opted out of email: Product Updates", "Lifecycle Stage",
    ]  # fmt: skip
    records = [
        ["1", "pu1@x.com", "Marketing contact", "false", "true", "Lead"],
        ["2", "pu2@x.com", "Marketing contact", "false", "false", "Lead"],
        ["3", "pu3@x.com", "Marketing contact", "true", "false", "Lead"],
    ]
    assert outcomes_of(tmp_path / "hubspot-export.csv", headers, records, "Email") == {
        "pu1@x.com": "non_marketing", "pu2@x.com": "marketing", "pu3@x.com": "opted_out",
    }  # fmt: skip


def test_an_export_by_internal_names_reads_each_subscription_id_and_unsubscribed_from_all_apart(tmp_path: Path):
    headers = ["hs_object_id", "email", "hs_marketable_status", "hs_email_optout", "hs_email_optout_12345", "lifecyclestage"]
    records = [
        ["1", "id1@x.com", "true", "false", "true", "lead"],
        ["2", "id2@x.com", "true", "true", "false", "lead"],
        ["3", "id3@x.com", "true", "false", "false", "lead"],
    ]
    assert outcomes_of(tmp_path / "hubspot-export.csv", headers, records, "email") == {
        "id1@x.com": "non_marketing", "id2@x.com": "opted_out", "id3@x.com": "marketing",
    }  # fmt: skip
