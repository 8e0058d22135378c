"""Tables saved as ``.txt`` (Excel's "Text (Tab delimited)" and "Unicode Text") are read; notes are not.

A ``.txt`` was skipped in a folder or zip with one warning, even when it held the contacts or the
opt-outs, and refused given alone. A ``.txt`` whose first line is a header naming an email column
is now read as a CSV or TSV is; any other (a README, notes) is skipped in a folder or zip, listed
with the reason, and refused given alone in one line that says why.
"""

from __future__ import annotations

import codecs
import zipfile

import pytest

from tasks.errors import InputError
from tasks.extract.sources import SkippedFile
from tasks.extract.tables import NOT_TEXT, ReadOptions, read_source
from tasks.extract.text import header_cells
from tasks.transform.mapping_file import UserMapping
from tests.plain_plan import plan
from tests.tasks.extract.test_tables import planned

UNICODE_TEXT = "\ufeffEmail\tFirst Name\tLast Name\r\nd1@example.com\tJosé\tÁlvarez\r\nd2@example.com\t李\t王\r\n"
"""Excel's "Unicode Text": UTF-16 little-endian with a byte order mark, tab-separated."""
NOT_A_TABLE = "its first line names no email column"


@pytest.mark.parametrize(
    ("head", "cells"),
    [
        (b"Email\tFirst Name\r\na@x.com\tAnn\r\n", ["Email", "First Name"]),
        (UNICODE_TEXT.encode("utf-16-le"), ["Email", "First Name", "Last Name"]),
        ("Email;Prénom\n".encode("cp1252"), ["Email", "Prénom"]),
        # Cut inside "é": the cut character is of no matter.
        ("Email,Prénom\na@x.com,Zoé".encode()[:-1], ["Email", "Prénom"]),
        (b"Exported by hand on Monday.\nAsk Ann.", ["Exported by hand on Monday."]),
        (b"", []),
    ],
    ids=["tab", "unicode-text", "windows-1252", "cut-character", "readme", "empty"],
)
def test_the_first_line_of_a_txt_is_split_at_its_delimiter(head, cells):
    assert header_cells(head) == cells


def test_bytes_with_a_nul_are_no_text():
    assert header_cells("Email\tName\r\n".encode("utf-16-le")) is None
    assert header_cells(b"\x89PNG\r\n\x1a\n\x00\x00") is None


def test_excel_unicode_text_given_alone_is_planned_with_its_names_intact(tmp_path):
    source = tmp_path / "contacts.txt"
    source.write_bytes(UNICODE_TEXT.encode("utf-16-le"))

    plan([str(source)], tmp_path / "out")

    [contacts] = [rows for name, rows in planned(tmp_path / "out").items() if name.startswith("contacts-")]
    assert {email: (row["firstname"], row["lastname"]) for email, row in contacts.items()} == {
        "d1@example.com": ("José", "Álvarez"),
        "d2@example.com": ("李", "王"),
    }


def test_a_tab_delimited_opt_out_list_in_a_folder_opts_its_people_out(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "contacts.csv").write_text("Email,First Name,Subscribed\ntx1@example.com,Tx,yes\ntx2@example.com,Ty,yes\n", encoding="utf-8")
    (folder / "unsubscribes.txt").write_bytes(b"Email\tReason\r\ntx1@example.com\tasked\r\n")
    (folder / "README.txt").write_text("Exported from the CRM.", encoding="utf-8")

    report = plan([str(folder)], tmp_path / "out")

    assert report["contacts"] == {"marketing": 1, "non_marketing": 0, "opted_out": 1}
    files = planned(tmp_path / "out")
    assert set(files["contacts-marketing-001.csv"]) == {"tx2@example.com"}
    assert set(files["opt-out-unsubscribed.csv"]) == {"tx1@example.com"}
    assert report["skipped_files"] == [
        {"uri": f"{folder}/README.txt", "reason": f"not a CSV or TSV file or workbook, nor a table: {NOT_A_TABLE}"}
    ]


def test_a_zip_member_saved_as_text_is_read_and_notes_beside_it_listed(tmp_path):
    export = tmp_path / "export.zip"
    with zipfile.ZipFile(export, "w") as archive:
        archive.writestr("export/contacts.txt", codecs.BOM_UTF16_LE + UNICODE_TEXT[1:].encode("utf-16-le"))
        archive.writestr("export/notes.txt", "Email addresses are in contacts.txt")
        archive.writestr("export/binary.txt", b"\x00\x01\x02")

    [read] = read_source(str(export), tmp_path / "staging")

    assert read.raw.uri == f"{export}!export/contacts.txt"
    assert read.raw.frame.collect().get_column("First Name").to_list() == ["José", "李"]
    assert read.raw.skipped_files == (
        SkippedFile(f"{export}!export/binary.txt", f"not a CSV or TSV file or workbook, nor a table: {NOT_TEXT}"),
        SkippedFile(f"{export}!export/notes.txt", f"not a CSV or TSV file or workbook, nor a table: {NOT_A_TABLE}"),
    )


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"Exported by hand.\nAsk Ann.\n", NOT_A_TABLE),
        ("Email\tName\r\na@x.com\tAnn\r\n".encode("utf-16-le"), NOT_TEXT),
    ],
    ids=["notes", "utf-16-without-bom"],
)
def test_a_txt_that_is_no_table_given_alone_is_refused_saying_why(tmp_path, data, why):
    source = tmp_path / "notes.txt"
    source.write_bytes(data)

    with pytest.raises(InputError) as refused:
        read_source(str(source), tmp_path / "staging")

    assert str(refused.value) == f"{source}: not a zip archive, a folder or a CSV or TSV file or workbook, nor a table: {why}"


def test_the_email_column_a_mapping_names_makes_a_txt_a_table(tmp_path):
    source = tmp_path / "contacts.txt"
    source.write_bytes(b"Login\tNom\r\nann@example.com\tAnn\r\n")
    with pytest.raises(InputError, match=NOT_A_TABLE):
        read_source(str(source), tmp_path / "staging")

    [read] = read_source(str(source), tmp_path / "staging", ReadOptions(mapping=UserMapping(email="Login")))

    assert read.raw.frame.collect().get_column("Login").to_list() == ["ann@example.com"]
