"""A typed property's cell that cannot be read as its type is not sent, and is accounted for."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from tasks.output import OutputFolder
from tasks.transform.contacts import ContactRows, merge_contacts
from tasks.typed_values import (
    DROPPED,
    MAX_VALUE_CHARS,
    TOO_LONG,
    longest_cells,
    too_long_columns,
    value_reject_warnings,
    write_value_rejects,
)
from tests.tasks.transform.test_contacts import export_file, merged

NOT_A_TIME = "not a time any format of this source reads"


@dataclass
class Staged:
    """What ``write_value_rejects`` reads of a staged file."""

    mapped: ContactRows
    accepted: list[Path]


def stage(mapped: ContactRows, folder: Path, name: str) -> Staged:
    path = folder / f"{name}.rows.parquet"
    mapped.frame.collect().write_parquet(path)
    return Staged(mapped, [path])


@pytest.mark.parametrize("cell", ["abc", "NaN", "Infinity", "1_000", "1,000", "+5:30", "1e400", "１２"])
def test_a_cell_that_is_no_number_is_not_sent_and_is_carried(cell):
    file = export_file("subscribed", [{"Email Address": "a@x.com", "MEMBER_RATING": cell, "GMTOFF": "-5"}])
    [row] = file.frame.collect().to_dicts()
    assert row["mailchimp_member_rating"] is None
    assert row["mailchimp_gmtoff"] == "-5"
    assert row[DROPPED] == {"MEMBER_RATING": cell, "GMTOFF": None}


@pytest.mark.parametrize("cell", ["2018-02-30 08:15:34", "2018-07-26 25:99:00", "2018-07-26 08:15:34 garbage", "yesterday"])
def test_a_time_no_format_reads_is_not_sent(cell):
    file = export_file("subscribed", [{"Email Address": "a@x.com", "OPTIN_TIME": cell}])
    [row] = file.frame.collect().to_dicts()
    assert row["mailchimp_optin_time"] is None
    assert row[DROPPED] == {"OPTIN_TIME": cell}


def test_readable_cells_are_sent_and_nothing_is_carried():
    file = export_file("subscribed", [{"Email Address": "a@x.com", "MEMBER_RATING": "4", "OPTIN_TIME": "2018-07-26 08:15:34"}])
    [row] = file.frame.collect().to_dicts()
    assert (row["mailchimp_member_rating"], row["mailchimp_optin_time"]) == ("4", "1532592934000")
    assert row[DROPPED] == {"MEMBER_RATING": None, "OPTIN_TIME": None}


def test_an_older_rows_good_value_fills_a_dropped_one_and_the_carried_column_is_no_property():
    newer = export_file("subscribed", [{"Email Address": "a@x.com", "MEMBER_RATING": "abc", "LAST_CHANGED": "2020-01-01 00:00:00"}], uri="new.csv")
    older = export_file("subscribed", [{"Email Address": "a@x.com", "MEMBER_RATING": "3", "LAST_CHANGED": "2019-01-01 00:00:00"}], uri="old.csv")
    contact = merged(newer, older)["a@x.com"]
    assert contact["mailchimp_member_rating"] == "3"
    assert DROPPED not in merge_contacts([newer.frame, older.frame]).columns


def test_value_rejects_csv_names_every_cell_not_sent_with_its_lineage(tmp_path):
    first = export_file("subscribed", [
        {"Email Address": "a@x.com", "MEMBER_RATING": "=1+1", "OPTIN_TIME": "yesterday"},
        {"Email Address": "b@x.com", "MEMBER_RATING": "2", "OPTIN_TIME": "2018-07-26 08:15:34"},
        {"Email Address": "c@x.com", "MEMBER_RATING": "NaN", "OPTIN_TIME": ""},
    ], uri="one.csv")
    plain = export_file("subscribed", [{"Email Address": "d@x.com", "First Name": "D"}], uri="two.csv")
    out = OutputFolder(str(tmp_path / "out"))

    counts = write_value_rejects([stage(first, tmp_path, "one"), stage(plain, tmp_path, "two")], out)

    with open(tmp_path / "out" / "value-rejects.csv", newline="", encoding="utf-8") as handle:
        assert list(csv.reader(handle)) == [
            ["source", "row", "column", "property", "value", "reason"],
            ["one.csv", "2", "MEMBER_RATING", "mailchimp_member_rating", "'=1+1", "not a number"],
            ["one.csv", "2", "OPTIN_TIME", "mailchimp_optin_time", "yesterday", NOT_A_TIME],
            ["one.csv", "4", "MEMBER_RATING", "mailchimp_member_rating", "NaN", "not a number"],
        ]
    assert counts == [
        {"source": "one.csv", "column": "MEMBER_RATING", "property": "mailchimp_member_rating", "reason": "not a number", "values": 2},
        {"source": "one.csv", "column": "OPTIN_TIME", "property": "mailchimp_optin_time", "reason": NOT_A_TIME, "values": 1},
    ]
    assert value_reject_warnings({"values_dropped": counts}) == [
        "warning: one.csv: 3 value(s) HubSpot would refuse are not sent (the contacts are): "
        f"MEMBER_RATING 2 (not a number), OPTIN_TIME 1 ({NOT_A_TIME}); each is in value-rejects.csv"
    ]


def test_a_run_without_checked_columns_writes_the_header_and_warns_of_nothing(tmp_path):
    plain = export_file("subscribed", [{"Email Address": "d@x.com", "First Name": "D"}], uri="two.csv")
    counts = write_value_rejects([stage(plain, tmp_path, "two")], OutputFolder(str(tmp_path / "out")))
    assert (tmp_path / "out" / "value-rejects.csv").read_text() == "source,row,column,property,value,reason\n"
    assert counts == []
    assert value_reject_warnings({"values_dropped": counts}) == []
    assert pl.read_parquet(tmp_path / "two.rows.parquet").columns.count(DROPPED) == 0


def test_only_columns_whose_longest_cell_has_more_bytes_than_the_limit_may_be_too_long():
    rows = pl.LazyFrame({
        "at_limit": ["x" * MAX_VALUE_CHARS, "y"],
        "over": ["x", "x" * (MAX_VALUE_CHARS + 1)],
        # 65,536 characters but twice as many bytes: a candidate, checked in characters later.
        "wide_characters": ["é" * MAX_VALUE_CHARS, None],
        "blank": [None, None],
    }, schema_overrides={"blank": pl.String})
    longest = longest_cells(rows, ["at_limit", "over", "wide_characters", "blank"]).collect()
    assert too_long_columns(longest) == ["over", "wide_characters"]
    assert longest_cells(rows, []) is None
    assert too_long_columns(None) == []


def test_a_cell_longer_than_hubspot_holds_is_not_sent_nor_cut_but_reported(tmp_path):
    full, over = "é" * MAX_VALUE_CHARS, "x" * (MAX_VALUE_CHARS + 1)
    file = export_file("subscribed", [
        {"Email Address": "a@x.com", "First Name": over, "NOTES": full, "Last Name": "A"},
        {"Email Address": "b@x.com", "First Name": "B", "NOTES": over, "Last Name": "B"},
    ], uri="long.csv", too_long=["First Name", "NOTES"])
    rows = file.frame.collect()
    counts = write_value_rejects([stage(file, tmp_path, "long")], OutputFolder(str(tmp_path / "out")))

    assert [(r["firstname"], r["mailchimp_notes"], r["lastname"]) for r in rows.to_dicts()] == [(None, full, "A"), ("B", None, "B")]
    # Only the columns found too long are carried: the others cost nothing.
    assert [field.name for field in rows.schema[DROPPED].fields] == ["First Name", "NOTES"]
    with open(tmp_path / "out" / "value-rejects.csv", newline="", encoding="utf-8") as handle:
        assert [(r[1], r[2], r[3], r[4] == over, r[5]) for r in list(csv.reader(handle))[1:]] == [
            ("2", "First Name", "firstname", True, TOO_LONG),
            ("3", "NOTES", "mailchimp_notes", True, TOO_LONG),
        ]
    assert [(c["column"], c["values"], c["reason"]) for c in counts] == [("First Name", 1, TOO_LONG), ("NOTES", 1, TOO_LONG)]
    assert value_reject_warnings({"values_dropped": counts}) == [
        f"warning: long.csv: 2 value(s) HubSpot would refuse are not sent (the contacts are): First Name 1 ({TOO_LONG}), "
        f"NOTES 1 ({TOO_LONG}); each is in value-rejects.csv"
    ]


def test_a_too_long_cell_is_filled_from_another_row_and_a_typed_column_keeps_its_reading():
    newer = export_file("subscribed", [
        {"Email Address": "a@x.com", "NOTES": "x" * (MAX_VALUE_CHARS + 1), "MEMBER_RATING": "abc", "LAST_CHANGED": "2020-01-01 00:00:00"},
    ], uri="new.csv", too_long=["NOTES", "MEMBER_RATING"])
    older = export_file("subscribed", [
        {"Email Address": "a@x.com", "NOTES": "short", "MEMBER_RATING": "3", "LAST_CHANGED": "2019-01-01 00:00:00"},
    ], uri="old.csv")
    contact = merged(newer, older)["a@x.com"]
    assert (contact["mailchimp_notes"], contact["mailchimp_member_rating"]) == ("short", "3")
    assert [(c.column, c.reason) for c in newer.typed_columns][-1] == ("NOTES", TOO_LONG)
    assert ("MEMBER_RATING", "not a number") in [(c.column, c.reason) for c in newer.typed_columns]
