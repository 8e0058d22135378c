"""Dates in plain CRM exports, planned end to end: numeric dates read in the order the file
proves, change times no format reads counted and said (their rows rank as undated), and a
time column sent as text kept as the file writes it."""

from __future__ import annotations

import datetime
from pathlib import Path

import polars as pl
import pytest

from tasks.extract.tables import ReadOptions, read_source
from tasks.output import OutputFolder
from tasks.plan import consent_profiles, plan_sources
from tasks.report import source_warnings
from tasks.transform.mapping_file import UserMapping
from tests.flows.test_cli import run
from tests.plain_plan import plan
from tests.tasks.extract.test_tables import planned, write_csv

SALESFORCE_REPORT = ["First Name", "Last Name", "Email", "Email Opt Out", "Created Date", "Last Modified Date"]


def epoch_ms(day: datetime.date) -> str:
    return str(int(datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC).timestamp() * 1000))


def read_csv(path: Path) -> list[dict]:
    return pl.read_csv(path, infer_schema=False).to_dicts()


def test_a_uk_salesforce_report_is_read_day_first_in_every_time_column(tmp_path):
    # Only Created Date proves the order (13 is no month): Last Modified Date, written by the
    # same locale, is the 5th of February, not the 2nd of May.
    source = write_csv(tmp_path / "report.csv", SALESFORCE_REPORT, [["A", "B", "uk1@example.com", "0", "13/02/2024", "05/02/2024"]])

    report = plan([str(source)], tmp_path / "out")

    [contact] = planned(tmp_path / "out")["contacts-non-marketing-001.csv"].values()
    assert contact["salesforce_created"] == epoch_ms(datetime.date(2024, 2, 13))
    assert contact["salesforce_last_modified"] == epoch_ms(datetime.date(2024, 2, 5))
    assert read_csv(tmp_path / "out" / "lineage.csv")[0]["last_changed"] == "2024-02-05T00:00:00Z"
    assert read_csv(tmp_path / "out" / "value-rejects.csv") == []
    assert report["change_times_unread"] == []


def test_unread_change_times_rank_as_undated_and_are_counted_and_said(tmp_path):
    folder = tmp_path / "crm"
    folder.mkdir()
    headers = ["Email", "First Name", "Last Modified"]
    a = write_csv(
        folder / "a.csv",
        headers,
        [
            ["p1@example.com", "FromA-2024-12-31", "31/12/2024"],
            ["p2@example.com", "FromA-Dec2024", "early Dec 2024"],
            ["p3@example.com", "FromA-2024-06-01", "2024-06-01"],
        ],
    )
    b = write_csv(
        folder / "b.csv",
        headers,
        [
            ["p1@example.com", "FromB-2020", "2020-01-01"],
            ["p2@example.com", "FromB-2020", "2020-01-01"],
            ["p3@example.com", "FromB-garbage", "yesterday"],
            # Cells saying nothing are no unread time.
            ["p4@example.com", "FromB-null", "NULL"],
            ["p5@example.com", "FromB-zero", "0000-00-00"],
            ["p6@example.com", "FromB-never", "Never"],
        ],
    )

    report = plan([str(folder)], tmp_path / "out")

    contacts = planned(tmp_path / "out")["contacts-non-marketing-001.csv"]
    # a.csv proves day first: 31/12/2024 is read, and is the newest.
    assert contacts["p1@example.com"]["firstname"] == "FromA-2024-12-31"
    # "early Dec 2024" and "yesterday" are no time: those rows rank after the dated ones.
    assert contacts["p2@example.com"]["firstname"] == "FromB-2020"
    assert contacts["p3@example.com"]["firstname"] == "FromA-2024-06-01"
    # Sent as text, the column keeps what the file says.
    assert contacts["p1@example.com"]["imported_last_modified"] == "31/12/2024"
    assert contacts["p3@example.com"]["imported_last_modified"] == "2024-06-01"
    assert {row["email"]: row["last_changed"] for row in read_csv(tmp_path / "out" / "lineage.csv")} == {
        "p1@example.com": "2024-12-31T00:00:00Z",
        "p2@example.com": "2020-01-01T00:00:00Z",
        "p3@example.com": "2024-06-01T00:00:00Z",
        "p4@example.com": None, "p5@example.com": None, "p6@example.com": None,
    }  # fmt: skip
    assert report["change_times_unread"] == [
        {"source": str(a), "column": "Last Modified", "rows": 1, "first_row": 3, "first_value": "early Dec 2024"},
        {"source": str(b), "column": "Last Modified", "rows": 1, "first_row": 4, "first_value": "yesterday"},
    ]
    warnings = [line for line in source_warnings(report) if "change time" in line]
    assert len(warnings) == 2
    assert warnings[0].startswith(
        f"warning: {a}: 1 change time(s) no format of this source reads (Last Modified: 1, first on row 3 "
        '("early Dec 2024")): those rows count as undated'
    )
    assert read_csv(tmp_path / "out" / "value-rejects.csv") == []


@pytest.mark.parametrize(("dated", "kept"), [(False, "First"), (True, "Dated")])
def test_a_row_whose_change_time_is_unread_ranks_as_a_row_without_one(tmp_path, dated, kept):
    folder = tmp_path / "crm"
    folder.mkdir()
    headers = ["Email", "First Name", "Last Modified"]
    write_csv(folder / "1.csv", headers, [["u1@example.com", "First", "yesterday"]])
    write_csv(folder / "2.csv", headers, [["u1@example.com", "Second", ""]])
    if dated:
        write_csv(folder / "3.csv", headers, [["u1@example.com", "Dated", "2001-01-01"]])

    plan([str(folder)], tmp_path / "out")

    # Undated rows keep input order (the first wins); any dated row, however old, wins over them.
    [contact] = planned(tmp_path / "out")["contacts-non-marketing-001.csv"].values()
    assert contact["firstname"] == kept


def test_a_column_proving_both_orders_reads_no_date_the_two_read_differently(tmp_path):
    source = write_csv(
        tmp_path / "report.csv",
        SALESFORCE_REPORT,
        [
            ["A", "A", "c1@example.com", "0", "13/02/2024", "13/02/2024"],
            ["B", "B", "c2@example.com", "0", "02/13/2024", "02/14/2024"],
            ["C", "C", "c3@example.com", "0", "05/05/2024", "05/02/2024"],
        ],
    )

    report = plan([str(source)], tmp_path / "out")

    contacts = planned(tmp_path / "out")["contacts-non-marketing-001.csv"]
    assert contacts["c2@example.com"]["salesforce_last_modified"] == epoch_ms(datetime.date(2024, 2, 14))
    # Both orders read 05/05/2024 as one date; 05/02/2024 is no time, so not sent.
    assert contacts["c3@example.com"]["salesforce_created"] == epoch_ms(datetime.date(2024, 5, 5))
    assert contacts["c3@example.com"]["salesforce_last_modified"] is None
    assert [(row["row"], row["column"], row["value"]) for row in read_csv(tmp_path / "out" / "value-rejects.csv")] == [
        ("4", "Last Modified Date", "05/02/2024")
    ]
    # Its row's change time falls to the next change column, as a blank one would.
    assert {row["email"]: row["last_changed"] for row in read_csv(tmp_path / "out" / "lineage.csv")}["c3@example.com"] == (
        "2024-05-05T00:00:00Z"
    )
    assert [(c["column"], c["rows"], c["first_row"]) for c in report["change_times_unread"]] == [("Last Modified Date", 1, 4)]
    note = (
        "dates are written day first (Created Date row 2: 13/02/2024) and month first (Created Date row 3: 02/13/2024): "
        "in 'Created Date', 'Last Modified Date', a date the two orders read differently (05/02/2024) is read as no "
        'time; to read it, name the file\'s order in a mapping (date_order = "day_first" or "month_first")'
    )
    assert report["sources"][0]["notes"] == [note]
    assert f"warning: {source}: {note}" in source_warnings(report)


@pytest.mark.parametrize(
    ("dates", "warned"),
    [(["05/02/2024", "01/01/2024"], True), (["05/02/2024", "13/02/2024"], False), (["05/05/2024", "2024-02-13"], False)],
    ids=["nothing proves the order", "a date proves it", "no date two orders read apart"],
)
def test_dates_read_in_the_profiles_order_for_want_of_proof_are_warned_about(tmp_path, dates, warned):
    # Another export of the same system, proving the other order, would be read otherwise: a
    # person should know the order was guessed, and how to name it, in the report and the summary.
    rows = [[f"c{n}@example.com", "Ann", date] for n, date in enumerate(dates)]
    source = write_csv(tmp_path / "contacts.csv", ["Email", "First Name", "Last Modified"], rows)

    report = plan([str(source)], tmp_path / "out")

    note = (
        "no date of 'Last Modified' says whether it is written day or month first (Last Modified row 2: "
        "05/02/2024): read month first, the generic profile's order; if the file writes them otherwise, name its "
        'order in a mapping (date_order = "day_first")'
    )
    [summary] = report["sources"]
    assert summary["notes"] == ([note] if warned else [])
    assert [line for line in source_warnings(report) if "day or month first" in line] == (
        [f"warning: {source}: {note}"] if warned else []
    )


def test_a_mappings_date_order_holds_whatever_the_file_proves(tmp_path):
    source = write_csv(
        tmp_path / "contacts.csv",
        ["Email", "Last Modified"],
        [["m1@example.com", "13/02/2024"], ["m2@example.com", "05/02/2024"]],
    )
    options = ReadOptions(mapping=UserMapping(date_order="month_first"))
    files = read_source(str(source), tmp_path / "staging", options)

    report = plan_sources([f.raw for f in files], OutputFolder(str(tmp_path / "out")), consent_profiles([f.profile.profile for f in files], {}))

    assert {row["email"]: row["last_changed"] for row in read_csv(tmp_path / "out" / "lineage.csv")} == {
        "m1@example.com": None,
        "m2@example.com": "2024-05-02T00:00:00Z",
    }
    assert [(c["column"], c["first_row"], c["first_value"]) for c in report["change_times_unread"]] == [("Last Modified", 2, "13/02/2024")]


def test_constant_contact_stays_month_first_whatever_its_file_says(tmp_path):
    source = write_csv(
        tmp_path / "contacts.csv",
        ["Email address", "First name", "Email status", "Created At"],
        [["cc1@example.com", "A", "Active", "13/02/2024"], ["cc2@example.com", "B", "Active", "05/02/2024"]],
    )

    plan([str(source)], tmp_path / "out")

    contacts = planned(tmp_path / "out")["contacts-marketing-001.csv"]
    assert contacts["cc2@example.com"]["constantcontact_created_at"] == epoch_ms(datetime.date(2024, 5, 2))
    assert [(row["column"], row["value"]) for row in read_csv(tmp_path / "out" / "value-rejects.csv")] == [("Created At", "13/02/2024")]


def test_the_summary_says_which_change_times_are_unread(tmp_path, prefect_api_url):
    source = write_csv(
        tmp_path / "contacts.csv",
        ["Email", "First Name", "Updated At"],
        [["s1@example.com", "A", "13/02/2024"], ["s2@example.com", "B", "02/13/2024"], ["s3@example.com", "C", "05/02/2024"]],
    )

    result = run(["plan", str(source), "--out", str(tmp_path / "out")], env={"PREFECT_API_URL": prefect_api_url})

    assert result.returncode == 0, result.stderr
    assert (
        f"warning: {source}: 1 change time(s) no format of this source reads (Updated At: 1, first on row 4 "
        '("05/02/2024")): those rows count as undated'
    ) in result.stdout
