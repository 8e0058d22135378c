"""A Mailchimp export's rows take their status from the file's name, Mailchimp's own record of
each member, which no column makes less restrictive; but a merge field named like a plain
opt-out flag (``Unsubscribed``, ``Do Not Email``) set keeps the row from being marketing
(``opt_out_flag_unconfirmed``, opted out only when the run confirms it), as beside any other
profile, and a mapping's ``[[status.rules]]`` reading its columns is read, not ignored."""

from __future__ import annotations

import pytest

from schemas.lineage import SOURCE_STATUS
from tasks.extract.api_settings import PER_ROW_STATUS
from tasks.extract.tables import ReadOptions
from tasks.report import source_warnings
from tasks.transform.consent import OPT_OUT_FLAG_UNCONFIRMED_STATUS
from tasks.transform.mapping_file import UserMapping
from tests.plain_plan import plan
from tests.tasks.extract.test_tables import outcomes, planned, read_one, write_csv

HEADERS = ["Email Address", "First Name", "Do Not Email", "MEMBER_RATING", "OPTIN_TIME", "LEID"]
ROWS = [
    ["ann@x.com", "Ann", "yes", "2", "2024-01-01 10:00:00", "1"],
    ["bob@x.com", "Bob", "", "2", "2024-01-01 10:00:00", "2"],
    ["cy@x.com", "Cy", "maybe", "2", "2024-01-01 10:00:00", "3"],
]


def test_a_merge_field_flag_set_keeps_a_subscribed_member_from_marketing(tmp_path):
    read = read_one(write_csv(tmp_path / "subscribed_members_export_abc.csv", HEADERS, ROWS), tmp_path)

    assert (read.profile.name, read.raw.format, read.raw.status) == ("mailchimp", "mailchimp-export+generic", PER_ROW_STATUS)
    # A value the flag's rule does not read may be an opt-out it does not know: never marketing either.
    assert outcomes(read) == {"ann@x.com": "non_marketing", "bob@x.com": "marketing", "cy@x.com": "non_marketing"}


SUPPRESSIONS = (
    ["Email Address", "Email Suppressions", "MEMBER_RATING"],
    [["ann@x.com", "HARD_BOUNCE", "2"], ["bob@x.com", "", "2"], ["cy@x.com", "UNSUBSCRIBE", "2"]],
)
"""A merge field that is another platform's consent column (Klaviyo's), read for its opt-outs."""


@pytest.mark.parametrize(
    ("columns", "flagged", "warned", "not_flagged"),
    [
        ((HEADERS, ROWS), {"ann@x.com"}, "1 row(s) set an opt-out flag (Do Not Email: yes)", 1),
        (SUPPRESSIONS, {"ann@x.com", "cy@x.com"}, "2 row(s) set an opt-out flag (Email Suppressions: hard_bounce/unsubscribe)", 0),
    ],
    ids=["flag", "another-platforms-column"],
)
def test_the_plan_warns_of_the_flag_and_a_run_confirming_it_opts_the_member_out(tmp_path, columns, flagged, warned, not_flagged):
    # A value the flag does not read (cy's "maybe") stays non-marketing when the run confirms the flag.
    source = str(write_csv(tmp_path / "subscribed_members_export_abc.csv", *columns))

    report = plan([source], tmp_path / "out")
    assert report["contacts"] == {"marketing": 1, "non_marketing": 2, "opted_out": 0}
    [warning] = [line for line in source_warnings(report) if OPT_OUT_FLAG_UNCONFIRMED_STATUS in line]
    assert warned in warning

    confirmed = plan([source], tmp_path / "confirmed", {OPT_OUT_FLAG_UNCONFIRMED_STATUS: "opted_out"})
    assert confirmed["contacts"] == {"marketing": 1, "non_marketing": not_flagged, "opted_out": len(flagged)}
    assert set(planned(tmp_path / "confirmed")["opt-out-opt-out-flag-unconfirmed.csv"]) == flagged


def test_an_opted_out_members_file_stays_opted_out_whatever_its_flag_says(tmp_path):
    rows = [["dee@x.com", "Dee", "no", "2", "", "4"]]
    read = read_one(write_csv(tmp_path / "unsubscribed_members_export_abc.csv", HEADERS, rows), tmp_path)

    assert (read.raw.format, read.raw.status) == ("mailchimp-export", "unsubscribed")
    assert outcomes(read) == {"dee@x.com": "opted_out"}


@pytest.mark.parametrize(
    ("file_name", "expected"),
    [
        # The rule's opt-out is read: it was lost, the whole file planned marketing.
        ("subscribed_members_export_abc.csv", {"ann@x.com": "opted_out", "bob@x.com": "marketing"}),
        # A rule reading consent never makes Mailchimp's own status less restrictive.
        ("nonsubscribed_members_export_abc.csv", {"ann@x.com": "opted_out", "bob@x.com": "non_marketing"}),
    ],
)
def test_a_mapping_rule_reading_a_column_of_a_mailchimp_export_is_read_never_below_the_files_status(tmp_path, file_name, expected):
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        '[[status.rules]]\ncolumns = ["List Choice"]\nvalues = { left = "gone", stays = "kept" }\n'
        '[consent]\ngone = "opted_out"\nkept = "marketing"\n',
        encoding="utf-8",
    )
    headers = ["Email Address", "List Choice", "MEMBER_RATING"]
    path = write_csv(tmp_path / file_name, headers, [["ann@x.com", "left", "2"], ["bob@x.com", "stays", "2"]])

    read = read_one(path, tmp_path, ReadOptions(mapping=UserMapping.load(mapping)))

    assert outcomes(read) == expected


def test_a_repeated_flag_merge_field_keeps_its_most_restrictive_copy(tmp_path):
    headers = ["Email Address", "Do Not Email", "Do Not Email"]
    read = read_one(write_csv(tmp_path / "subscribed_members_export_abc.csv", headers, [["ann@x.com", "no", "yes"]]), tmp_path)

    assert read.raw.consent_copies == ("Do Not Email",)
    assert outcomes(read) == {"ann@x.com": "non_marketing"}


COMBINED = (
    ["Email Address", "First Name", "LEID", "UNSUB_TIME", "UNSUB_REASON", "CLEAN_TIME"],
    [
        ["ann@x.com", "Ann", "1", "", "", ""],
        ["bob@x.com", "Bob", "2", "2024-02-01 09:15:00", "NORMAL", ""],
        ["cy@x.com", "Cy", "3", "", "", "2024-02-01 09:15:00"],
    ],
)
"""An audience's files pasted into one in a spreadsheet and saved as its subscribed file: its
unsubscribed and cleaned members' rows keep their ``UNSUB_TIME`` and ``CLEAN_TIME``."""


def test_a_member_unsubscribed_or_cleaned_by_its_own_columns_is_opted_out_whatever_its_files_name(tmp_path):
    read = read_one(write_csv(tmp_path / "subscribed_members_export_abc.csv", *COMBINED), tmp_path)

    assert outcomes(read) == {"ann@x.com": "marketing", "bob@x.com": "opted_out", "cy@x.com": "opted_out"}
    statuses = dict(read.raw.frame.collect().select("Email Address", SOURCE_STATUS).iter_rows())
    assert statuses == {"ann@x.com": "subscribed", "bob@x.com": "unsubscribed", "cy@x.com": "cleaned"}


def test_an_unsubscribed_file_whose_rows_hold_their_unsubscribe_time_stays_opted_out(tmp_path):
    headers, rows = COMBINED
    read = read_one(write_csv(tmp_path / "unsubscribed_members_export_abc.csv", headers, rows), tmp_path)

    assert set(outcomes(read).values()) == {"opted_out"}
