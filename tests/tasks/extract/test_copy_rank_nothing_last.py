"""A copy of a repeated consent header holding nothing (empty, ``N/A``, ``NULL``, a zero date)
ranks below every copy saying something, in every kind of consent column, so the copy a row
keeps, and so its status, does not depend on the copies' order."""

from __future__ import annotations

import polars as pl
import pytest

from schemas.lineage import SOURCE_STATUS
from tasks.extract.tables import read_source
from tasks.transform.catalog import reading_profile, unread_status_values
from tests.tasks.extract.test_tables import outcomes, write_csv

NOTHING = ["", "N/A", "NULL", "0000-00-00"]

# A column of each kind the fallback profile reads, with cells that say something in it.
SAYING = {
    "Status": ["yes", "subscribed", "Lapsed", "unsubscribed"],  # values only
    "Unsubscribed": ["no", "false", "maybe", "yes", "2024-01-01"],  # when_set
    "Unsubscribed At": ["no", "2024-01-01", "someday"],  # when_present
    "Subscribed": ["no", "yes", "maybe"],  # when_true
}


def rank(header: str, cell: str) -> int:
    frame = pl.DataFrame({header: [cell]}, schema={header: pl.String})
    return frame.select(reading_profile("generic").copy_rank(header)).item()


@pytest.mark.parametrize(("header", "said"), [(h, cell) for h, cells in SAYING.items() for cell in cells])
@pytest.mark.parametrize("nothing", NOTHING)
def test_a_copy_holding_nothing_ranks_below_one_saying_something(header, said, nothing):
    assert rank(header, nothing) < rank(header, said)


def test_a_cell_holding_nothing_is_no_value_no_rule_reads():
    frame = pl.DataFrame({"Status": ["N/A", "NULL", "", "Lapsed"]})
    statuses = frame.with_columns(pl.lit("no_consent").alias(SOURCE_STATUS)).lazy()
    counted = unread_status_values(statuses, reading_profile("generic").status_values(["Status"]), name_opts_out=False)
    assert counted.collect().select("value", "rows").rows() == [("lapsed", 1)]


@pytest.mark.parametrize("file_name", ["contacts.csv", "unsubscribes.csv"])
@pytest.mark.parametrize("nothing", NOTHING[1:])
def test_the_status_does_not_depend_on_the_copies_order(tmp_path, file_name, nothing):
    said = ["yes", "subscribed", "maybe", "no"]
    rows = [[f"{n}a@x.com", cell, nothing] for n, cell in enumerate(said)] + [[f"{n}b@x.com", nothing, cell] for n, cell in enumerate(said)]
    [read] = read_source(str(write_csv(tmp_path / file_name, ["Email", "Status", "Status"], rows)), tmp_path / "staging")
    planned = outcomes(read)
    assert {n: planned[f"{n}a@x.com"] for n in range(len(said))} == {n: planned[f"{n}b@x.com"] for n in range(len(said))}
    if file_name == "unsubscribes.csv":
        # A copy that says something contradicts the opt-out name: non-marketing, never opted out by the name.
        assert planned["0a@x.com"] == planned["0b@x.com"] == "non_marketing"
