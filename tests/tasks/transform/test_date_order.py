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
    cells = pl.DataFrame({"cell": ["13/02/2024", "02/13/2024 10:00", "05/02/2024", "2024-02-13", "31/02/2024", "early Dec 2024", None]})
    proofs = date_order_evidence(pl.col("cell"), GENERIC)
    proven = cells.select(day=proofs[DAY_FIRST], month=proofs[MONTH_FIRST], apart=proofs[DATES_READ_APART])
    assert proven.get_column("day").to_list() == [True, False, False, False, False, False, False]
    assert proven.get_column("month").to_list() == [False, True, False, False, False, False, False]
    assert proven.get_column("apart").to_list() == [False, False, True, False, False, False, False]


def _read(cells: list[str | None], reading: TimeReading) -> list[datetime.datetime | None]:
    return pl.DataFrame({"cell": cells}, schema={"cell": pl.String}).select(parse_time(pl.col("cell"), reading)).to_series().to_list()


def test_a_time_is_read_in_its_columns_order_as_utc_to_the_second():
    cells = ["05/02/2024", "05/02/2024 10:30", "2024-02-05T10:30:15.250+0100", "45000.5", "early Dec 2024", None]
    assert _read(cells, time_reading(GENERIC, proven={DAY_FIRST})) == [
        datetime.datetime(2024, 2, 5),
        datetime.datetime(2024, 2, 5, 10, 30),
        datetime.datetime(2024, 2, 5, 9, 30, 15),
        datetime.datetime(2023, 3, 15, 12),
        None,
        None,
    ]
    assert _read(cells[:2], time_reading(GENERIC))[0] == datetime.datetime(2024, 5, 2)


@pytest.mark.parametrize(
    ("cell", "read"),
    [
        # ISO 8601 with Z, an offset or none, with or without a fraction of a second.
        ("2024-02-13T13:05:22Z", datetime.datetime(2024, 2, 13, 13, 5, 22)),
        ("2024-02-13T13:05:22.123Z", datetime.datetime(2024, 2, 13, 13, 5, 22)),
        ("2024-02-13T13:05:22+01", datetime.datetime(2024, 2, 13, 12, 5, 22)),
        ("2024-02-13 13:05:22 -0500", datetime.datetime(2024, 2, 13, 18, 5, 22)),
        ("2024-02-13 13:05:22.123", datetime.datetime(2024, 2, 13, 13, 5, 22)),
        ("2024/02/13", datetime.datetime(2024, 2, 13)),
        # As Excel and Google Sheets save a time: seconds or not, AM/PM, a two-digit year.
        ("2/13/2024 1:05 PM", datetime.datetime(2024, 2, 13, 13, 5)),
        ("2/3/2024 9:05:07 AM", datetime.datetime(2024, 2, 3, 9, 5, 7)),
        ("2/13/2024 13:05:22", datetime.datetime(2024, 2, 13, 13, 5, 22)),
        ("2/13/24", datetime.datetime(2024, 2, 13)),
        ("2/13/24 1:05 PM", datetime.datetime(2024, 2, 13, 13, 5)),
        # Dotted dates and English month names.
        ("13.02.2024 14:30", datetime.datetime(2024, 2, 13, 14, 30)),
        ("13.02.24", datetime.datetime(2024, 2, 13)),
        ("05-Mar-24", datetime.datetime(2024, 3, 5)),
        ("Feb 13, 2024", datetime.datetime(2024, 2, 13)),
        ("February 13, 2024 1:05 PM", datetime.datetime(2024, 2, 13, 13, 5)),
        ("13 Feb 2024", datetime.datetime(2024, 2, 13)),
        ("13-Feb-2024", datetime.datetime(2024, 2, 13)),
    ],
)
def test_the_generic_profile_reads_times_as_crms_and_spreadsheets_write_them(cell, read):
    assert _read([cell], time_reading(GENERIC)) == [read]


def test_a_two_digit_year_is_read_as_excel_reads_it_and_never_as_a_year_before_1000():
    # 30-99 are the 1900s, 00-29 the 2000s: a birthday of 1965 is not one of 2065.
    assert _read(["3/4/65", "3/4/30", "3/4/29"], time_reading(GENERIC)) == [
        datetime.datetime(1965, 3, 4),
        datetime.datetime(1930, 3, 4),
        datetime.datetime(2029, 3, 4),
    ]
    # A profile with four-digit years only reads "2/13/24" as no time, not as the year 24.
    assert _read(["2/13/24", "2/13/0024", "0001-01-01"], time_reading(("%m/%d/%Y", "%Y-%m-%d"))) == [None, None, None]


def test_a_dotted_date_is_day_first_whatever_order_the_file_shows():
    assert date_order_of("%d.%m.%Y %H:%M") is None
    assert in_date_order(("%m/%d/%Y", "%d.%m.%Y"), MONTH_FIRST) == ("%m/%d/%Y", "%d.%m.%Y")
    assert _read(["05.02.2024", "05/02/2024"], time_reading(GENERIC, proven={MONTH_FIRST})) == [
        datetime.datetime(2024, 2, 5),
        datetime.datetime(2024, 5, 2),
    ]
    proofs = date_order_evidence(pl.col("cell"), GENERIC)
    proven = pl.DataFrame({"cell": ["13.02.2024"]}).select(day=proofs[DAY_FIRST], month=proofs[MONTH_FIRST])
    assert proven.row(0) == (False, False)


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
