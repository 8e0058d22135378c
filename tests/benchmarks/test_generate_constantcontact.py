"""The Constant Contact export generator: deterministic bytes, exact headers, messy values, and
counts a plan of the file reproduces exactly."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from benchmarks.generate_constantcontact import HEADERS, STATUS_MIX, export_name, main, write_export
from tests.plain_plan import plan

# source-formats.md §3.1, verbatim: the headers scripts reading real exports name, in their case.
REFERENCE_HEADERS = (
    "Email address, First name, Last name, Company, Job title, Email status, Email permission status, "
    "Email update source, Phone - home, Phone - mobile, Phone - work, Phone - fax, "
    "Street address line 1 - Home, City - Home, State/Province - Home, Zip/Postal Code - Home, "
    "Country - Home, Street address line 1 - Work, City - Work, State/Province - Work, "
    "Zip/Postal Code - Work, Country - Work, State/Province - Other, Website, Salutation, Birthday, "
    "Anniversary, Confirmed Opt-Out Date, Confirmed Opt-Out Source, Confirmed Opt-Out Reason, "
    "Email Lists, Tags, Source Name, Created At, Updated At, Custom Field 1"
).split(", ")
LOCAL_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}")


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_same_arguments_give_the_same_bytes_and_seeds_differ(tmp_path):
    paths = [tmp_path / name for name in ("a.csv", "b.csv", "c.csv")]
    write_export(paths[0], rows=300, seed=1)
    write_export(paths[1], rows=300, seed=1)
    write_export(paths[2], rows=300, seed=2)

    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_the_header_row_is_the_references(tmp_path):
    path = tmp_path / export_name(3)
    write_export(path, rows=5, seed=3)

    with path.open(encoding="utf-8", newline="") as handle:
        assert next(csv.reader(handle)) == HEADERS == REFERENCE_HEADERS
    assert re.fullmatch(r"contact_export_\d{13}_\d{6}_\d{6}\.csv", path.name)


def test_the_command_writes_the_truth_it_prints(tmp_path, capsys):
    out, truth = tmp_path / "contacts.csv", tmp_path / "truth.json"

    main(["--rows", "120", "--seed", "9", "--out", str(out), "--truth", str(truth)])

    assert json.loads(capsys.readouterr().out) == json.loads(truth.read_text()) == write_export(tmp_path / "again.csv", 120, 9).summary()
    assert len(_read(out)) == 120


def test_a_plan_of_the_file_counts_what_the_truth_says(tmp_path):
    path = tmp_path / export_name(5)
    truth = write_export(path, rows=500, seed=5)
    assert truth.duplicates and truth.invalid_emails and all(truth.contacts.values())

    report = plan([str(path)], tmp_path / "out")

    assert report["rows_read"] == truth.rows == 500
    assert report["rows_rejected"] == truth.invalid_emails
    assert report["duplicates_merged"] == truth.duplicates
    assert report["contacts"] == truth.contacts
    [source] = report["sources"]
    assert (source["format"], source["rows"], source["rejected"]) == ("constantcontact-export", 500, truth.invalid_emails)


def test_the_export_is_messy_the_way_real_ones_are(tmp_path):
    truth = write_export(tmp_path / "x.csv", rows=60, seed=7)
    records = _read(tmp_path / "x.csv")
    cells = [cell for record in records for cell in record.values()]
    emails = [record["Email address"] for record in records]
    by_email: dict[str, set[str]] = {}
    for record in records:
        by_email.setdefault(record["Email address"].strip().lower(), set()).add(record["Email status"])

    assert {"", "no-at-sign"} <= set(emails)
    assert any(email.endswith("@") for email in emails) and any(email.endswith(".con") for email in emails)
    assert any(email != email.strip() and email.strip() != email.strip().lower() for email in emails)
    assert any(len(statuses) > 1 for email, statuses in by_email.items() if email)  # one email, two statuses
    assert any("\n" in cell and "," in cell and '"' in cell for cell in cells)
    assert any(cell.startswith("=HYPERLINK(") for cell in cells)
    assert any(record["Email Lists"].startswith('"') and '","' in record["Email Lists"] for record in records)
    assert {"Françoise", "Zoë", "Søren"} <= set(cells) and any("李" in cell for cell in cells)
    assert all(LOCAL_TIME.fullmatch(record["Created At"]) for record in records)
    assert {record["Updated At"][-5:] for record in records} > {"-0400"}  # each contact's own zone
    unsubscribed = [record for record in records if record["Email status"] == "Unsubscribed"]
    assert unsubscribed and all(LOCAL_TIME.fullmatch(record["Confirmed Opt-Out Date"]) for record in unsubscribed)
    assert not any(record["Confirmed Opt-Out Date"] for record in records if record["Email status"] != "Unsubscribed")
    assert {record["Email status"] for record in records} <= {status.email_status for status in STATUS_MIX}
    assert sum(truth.email_statuses.values()) == truth.rows

