"""A consent column repeated in a file: every copy is read, and the most restrictive reading wins."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest

from schemas.lineage import SOURCE_STATUS
from tasks.extract import mailchimp
from tasks.extract.sources import StagedFile
from tasks.transform.catalog import ReadingProfile, detect_profile


def scan(path: Path, headers: list[str], rows: list[list[str]]) -> tuple[mailchimp.RawSource, ReadingProfile, pl.DataFrame]:
    """The file scanned with the profile its headers match, its rows' statuses read as the table
    reader reads them (``tasks.extract.tables.read_table``); its name says no status."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([headers, *rows])
    staged = StagedFile(str(path), path)
    names = [mailchimp.clean_header(header, position) for position, header in enumerate(mailchimp.read_head(staged)[0])]
    columns = [(names[positions[0]], positions) for positions in mailchimp.group_by_name(names).values()]
    distinct = [header for header, _ in columns]
    profile = detect_profile(distinct)
    status = profile.default_status
    frame = (
        mailchimp.scan_columns(staged, columns, status, "Email", profile)
        .with_columns(profile.status_expr(distinct, status).alias(SOURCE_STATUS))
        .collect()
    )
    raw = mailchimp.RawSource(
        uri=str(path),
        status=status,
        format=profile.format,
        headers=distinct,
        duplicate_headers=list(mailchimp.repeated_headers(columns)),
        frame=frame.lazy(),
        email_column="Email",
        consent_copies=mailchimp.repeated_consent_headers(columns, profile),
    )
    return raw, profile, frame


def outcomes(profile: ReadingProfile, frame: pl.DataFrame) -> dict[str, str]:
    policy = profile.profile.consent
    return {row["Email"]: policy.outcome_of(row[SOURCE_STATUS]).value for row in frame.iter_rows(named=True)}


@pytest.mark.parametrize(
    ("headers", "rows", "profile", "expected"),
    [
        (
            ["Email", "First Name", "Last Name", "Status", "Status", "Date Created", "Contact Score"],
            [
                ["ann@x.com", "Ann", "A", "Active", "Unsubscribed", "2024-01-01 10:00:00", "0"],
                ["bob@x.com", "Bob", "B", "", "Bounced", "2024-01-01 10:00:00", "0"],
                ["cy@x.com", "Cy", "C", "Unconfirmed", "Active", "2024-01-01 10:00:00", "0"],
                ["di@x.com", "Di", "D", "Active", "", "2024-01-01 10:00:00", "0"],
            ],
            "activecampaign",
            {"ann@x.com": "opted_out", "bob@x.com": "opted_out", "cy@x.com": "non_marketing", "di@x.com": "marketing"},
        ),
        (
            ["Email", "First Name", "Unsubscribed", "Unsubscribed"],
            [["gu1@x.com", "G", "", "yes"], ["gu2@x.com", "H", "no", "yes"], ["gu3@x.com", "I", "yes", "no"], ["gu4@x.com", "J", "no", ""]],
            "generic",
            {"gu1@x.com": "opted_out", "gu2@x.com": "opted_out", "gu3@x.com": "opted_out", "gu4@x.com": "non_marketing"},
        ),
    ],
    ids=["activecampaign-status", "generic-unsubscribed"],
)
def test_an_opt_out_in_any_copy_of_a_repeated_consent_column_is_read(tmp_path, headers, rows, profile, expected):
    raw, reading, frame = scan(tmp_path / "contacts.csv", headers, rows)
    assert reading.name == profile
    assert outcomes(reading, frame) == expected
    [repeated] = raw.duplicate_headers
    assert raw.keeps(repeated) == mailchimp.KEEPS_MOST_RESTRICTIVE
    assert frame.columns == [*raw.headers, mailchimp.disagreeing_column(repeated), *frame.columns[len(raw.headers) + 1 :]]
    assert not [column for column in frame.columns if column.startswith("_copy")]


def test_the_kept_copy_is_the_one_whose_reading_wins_so_the_property_says_what_the_outcome_does(tmp_path):
    _, _, frame = scan(
        tmp_path / "contacts.csv",
        ["Email", "Status", "Status"],
        [["ann@x.com", "Active", "Unsubscribed"], ["bob@x.com", "Unconfirmed", "Active"], ["cy@x.com", "", "Active"]],
    )
    assert frame.get_column("Status").to_list() == ["Unsubscribed", "Unconfirmed", "Active"]


def test_another_repeated_column_keeps_its_first_non_empty_value(tmp_path):
    raw, _, frame = scan(
        tmp_path / "contacts.csv",
        ["Email", "Status", "Phone", "Phone"],
        [["ann@x.com", "Active", "", "555-0100"], ["bob@x.com", "Active", "555-0111", "555-0122"]],
    )
    assert frame.get_column("Phone").to_list() == ["555-0100", "555-0111"]
    assert frame.get_column(mailchimp.disagreeing_column("Phone")).to_list() == [None, True]
    assert raw.keeps("Phone") == mailchimp.KEEPS_FIRST
