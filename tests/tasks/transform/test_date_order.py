"""Numeric dates (05/02/2024) are read in the order the user or the profile declares, else the
order the file's own values prove (13/02/2024 is day first), else the profile's: never guessed
when the file proves both."""

from __future__ import annotations

import datetime

import polars as pl
import pytest

from tasks.errors import InputError
from tasks.transform.catalog import (
    DATES_READ_APART,
    DAY_FIRST,
    MONTH_FIRST,
    TimeReading,
    date_order_of,
    date_order_evidence,
    formats_date_order,
    in_date_order,
    orders_to_read,
    parse_time,
    reading_profile,
    time_reading,
)
from tasks.transform.mapping_file import UserMapping

GENERIC = reading_profile("generic").timestamp_formats
ZOHO = reading_profile("zoho").timestamp_formats


@pytest.mark.parametrize(
    ("time_format", "order"),
    [
        ("%d/%m/%Y", DAY_FIRST),
        ("%d-%m-%Y %H:%M:%S", DAY_FIRST),
        ("%m/%d/%Y %I:%M %p", MONTH_FIRST),
        ("%m/%d/%y", MONTH_FIRST),
        ("%Y-%m-%d", None),
        ("%Y-%m-%dT%H:%M:%S%z", None),
        ("%Y/%d/%m", None),
    ],
)
def test_a_format_writes_day_and_month_in_an_order_only_before_the_year(time_format, order):
    assert date_order_of(time_format) == order


def test_formats_read_in_one_order_swap_the_others_and_keep_each_once():
    assert in_date_order(["%Y-%m-%d", "%m/%d/%Y %H:%M", "%m/%d/%Y"], DAY_FIRST) == ("%Y-%m-%d", "%d/%m/%Y %H:%M", "%d/%m/%Y")
    # Zoho lists both orders: one order keeps one of them.
    assert in_date_order(ZOHO, MONTH_FIRST) == ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%m/%d/%Y %H:%M")


def test_the_order_no_value_proves_is_the_first_numeric_formats():
    assert formats_date_order(GENERIC) == MONTH_FIRST
    assert formats_date_order(ZOHO) == DAY_FIRST
    assert formats_date_order(reading_profile("hubspot").timestamp_formats) is None


def test_a_column_is_read_in_the_order_declared_else_proven_else_the_profiles():
    day_first = in_date_order(GENERIC, DAY_FIRST)
    month_first = in_date_order(GENERIC, MONTH_FIRST)
    assert time_reading(GENERIC) == TimeReading(month_first)
    assert time_reading(GENERIC, proven={DAY_FIRST}) == TimeReading(day_first)
    assert time_reading(GENERIC, proven={DAY_FIRST, MONTH_FIRST}) == TimeReading(month_first, other_order=day_first)
    # A declared order holds whatever the values prove.
    assert time_reading(GENERIC, MONTH_FIRST, proven={DAY_FIRST}) == TimeReading(month_first)
    # No numeric format: nothing to decide.
    hubspot = reading_profile("hubspot").timestamp_formats
    assert time_reading(hubspot, DAY_FIRST) == TimeReading(hubspot)


def test_a_column_proving_nothing_takes_the_order_the_files_other_time_columns_prove():
    assert orders_to_read({"Created Date": {DAY_FIRST}, "Last Modified Date": set()}) == {
        "Created Date": {DAY_FIRST},
        "Last Modified Date": {DAY_FIRST},
    }
    assert orders_to_read({"A": {DAY_FIRST}, "B": {MONTH_FIRST}, "C": set()}) == {
        "A": {DAY_FIRST},
        "B": {MONTH_FIRST},
        "C": {DAY_FIRST, MONTH_FIRST},
    }
    assert orders_to_read({"A": set()}) == {"A": frozenset()}


def test_a_value_proves_the_only_order_that_reads_it():
    cells = pl.DataFrame({"cell": ["13/02/2024", "02/13/2024 10:00", "05/02/2024", "2024-02-13", "31/02/2024", "Dec 5, 2024", None]})
    proofs = date_order_evidence(pl.col("cell"), GENERIC)
    proven = cells.select(day=proofs[DAY_FIRST], month=proofs[MONTH_FIRST], apart=proofs[DATES_READ_APART])
    assert proven.get_column("day").to_list() == [True, False, False, False, False, False, False]
    assert proven.get_column("month").to_list() == [False, True, False, False, False, False, False]
    assert proven.get_column("apart").to_list() == [False, False, True, False, False, False, False]


def _read(cells: list[str | None], reading: TimeReading) -> list[datetime.datetime | None]:
    return pl.DataFrame({"cell": cells}, schema={"cell": pl.String}).select(parse_time(pl.col("cell"), reading)).to_series().to_list()


def test_a_time_is_read_in_its_columns_order_as_utc_to_the_second():
    cells = ["05/02/2024", "05/02/2024 10:30", "2024-02-05T10:30:15.250+0100", "45000.5", "Dec 5, 2024", None]
    assert _read(cells, time_reading(GENERIC, proven={DAY_FIRST})) == [
        datetime.datetime(2024, 2, 5),
        datetime.datetime(2024, 2, 5, 10, 30),
        datetime.datetime(2024, 2, 5, 9, 30, 15),
        datetime.datetime(2023, 3, 15, 12),
        None,
        None,
    ]
    assert _read(cells[:2], time_reading(GENERIC))[0] == datetime.datetime(2024, 5, 2)


def test_a_column_proving_both_orders_reads_no_date_the_two_read_differently():
    reading = time_reading(GENERIC, proven={DAY_FIRST, MONTH_FIRST})
    assert _read(["13/02/2024", "02/13/2024", "05/02/2024", "05/05/2024", "2024-02-05"], reading) == [
        datetime.datetime(2024, 2, 13),
        datetime.datetime(2024, 2, 13),
        None,
        datetime.datetime(2024, 5, 5),
        datetime.datetime(2024, 2, 5),
    ]


def test_constant_contact_declares_its_us_order_so_no_file_is_looked_at():
    assert reading_profile("constantcontact").date_order == MONTH_FIRST
    assert {profile: reading_profile(profile).date_order for profile in ("generic", "salesforce", "zoho")} == dict.fromkeys(
        ("generic", "salesforce", "zoho")
    )


def test_a_mappings_date_order_is_the_profiles(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text('date_order = "Day_First"\n', encoding="utf-8")
    mapping = UserMapping.load(path)
    assert mapping.date_order == DAY_FIRST
    assert reading_profile("constantcontact").with_mapping(mapping).date_order == DAY_FIRST
    assert reading_profile("generic").with_mapping(UserMapping()).date_order is None


@pytest.mark.parametrize(
    ("name", "text", "line", "problem"),
    [
        ("m.toml", '# dates\nemail = "Email"\ndate_order = "dayfirst"\n', 3, "no date order 'dayfirst' (did you mean 'day_first'?)"),
        ("m.yaml", "email: Email\ndate_order: US\n", 2, "no date order 'US': use 'day_first' (13/02/2024) or 'month_first'"),
        ("m.toml", "date_order = 1\n", 1, "date_order must be text, not a number (1)"),
    ],
)
def test_a_date_order_that_is_none_is_refused_naming_the_mapping_files_line(tmp_path, name, text, line, problem):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as refused:
        UserMapping.load(path)
    assert str(refused.value).startswith(f"{path}:{line}: {problem}")
