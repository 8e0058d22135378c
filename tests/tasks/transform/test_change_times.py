"""A plain file's change time is when its row last changed, never when it was created: a sync
compares it with a provider's, and a creation date would make every later edit look older."""

from __future__ import annotations

import csv

import polars as pl
import pytest

from tests.plain_plan import plan


@pytest.mark.parametrize(
    ("column", "last_changed"),
    [("Last Modified", "2024-05-06T07:08:09Z"), ("Updated At", "2024-05-06T07:08:09Z"), ("Date Created", None), ("Created", None)],
)
def test_a_plain_files_change_time_is_its_modification_time_not_its_creation(tmp_path, column, last_changed):
    source = tmp_path / "crm" / "contacts.csv"
    source.parent.mkdir()
    with source.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["Email", "First Name", column], ["ann@x.com", "Ann", "2024-05-06 07:08:09"]])

    plan([str(source.parent)], tmp_path / "out")

    lineage = pl.read_csv(tmp_path / "out" / "lineage.csv", infer_schema=False)
    assert lineage["last_changed"].to_list() == [last_changed]
