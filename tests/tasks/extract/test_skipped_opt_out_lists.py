"""A zip's or folder's file Onramp does not read, named as an opt-out list, stops the run.

Excel saves "Text (Tab delimited)" as ``.txt``; an opt-out list so saved (or compressed, or
kept as a backup) was skipped with a warning, and its people planned from the other files as
if they had never opted out. A ``.txt`` whose first line is a header naming the email column is
now read; one that is not (a bare list of addresses), and a compressed or backed-up list, are
refused, saying why they are not read. Given as a source of its own, such a file is refused too.
"""

from __future__ import annotations

import gzip
import zipfile

import pytest

from tasks.errors import InputError
from tasks.extract.tables import read_source
from tests.flows.test_cli import assert_one_line_error, run
from tests.plain_plan import plan
from tests.tasks.extract.test_tables import planned, write_csv, write_xlsx

CONTACTS = (["Email", "First Name", "Subscribed"], [["tx1@example.com", "Tx", "yes"], ["tx2@example.com", "Ty", "yes"]])
TAB_DELIMITED_OPT_OUTS = b"Email\tReason\r\ntx1@example.com\tasked\r\n"
BARE_ADDRESSES = b"tx1@example.com\r\n"
"""An opt-out list of addresses alone: no header line says it is a table."""

NOT_A_TABLE = "not a CSV or TSV file or workbook, nor a table: its first line names no email column"
NOT_READ = "not a CSV or TSV file or workbook"


def export_folder(tmp_path):
    """An export folder holding a contacts file whose two people are subscribed."""
    folder = tmp_path / "export"
    folder.mkdir()
    write_csv(folder / "contacts.csv", *CONTACTS)
    return folder


def fix(reason: str) -> str:
    return (
        f"it is not read ({reason}), so its people would not be opted out: rename it to .csv if it is delimited text "
        "(any delimiter; decompress a .gz first), else save it as CSV; or take it out of the source if it lists no "
        "opt-outs"
    )


def test_a_folder_with_a_txt_opt_out_list_of_bare_addresses_is_refused(tmp_path, prefect_api_url):
    folder = export_folder(tmp_path)
    (folder / "unsubscribes.txt").write_bytes(BARE_ADDRESSES)

    result = run(["plan", str(folder), "--out", str(tmp_path / "out")], env={"PREFECT_API_URL": prefect_api_url})

    assert_one_line_error(result, 2, f"{folder}/unsubscribes.txt: its name says unsubscribed, but {fix(NOT_A_TABLE)}")
    assert not (tmp_path / "out" / "report.json").exists()


@pytest.mark.parametrize(
    ("name", "content", "said", "reason"),
    [
        ("unsubscribes.csv.gz", gzip.compress(TAB_DELIMITED_OPT_OUTS, mtime=0), "unsubscribed", NOT_READ),
        ("unsubscribes.CSV.bak", TAB_DELIMITED_OPT_OUTS, "unsubscribed", NOT_READ),
        ("Hard Bounces.numbers", b"not text", "bounced", NOT_READ),
        ("unsubscribes.txt", BARE_ADDRESSES, "unsubscribed", NOT_A_TABLE),
        # Mailchimp's name for its cleaned (bounced) members, saved as text: read by its header
        # alone (the generic profile), it would lose the status its name says.
        (
            "cleaned_members_export_ab12.txt",
            TAB_DELIMITED_OPT_OUTS,
            "cleaned",
            "not a CSV or TSV file or workbook, nor a table: the generic profile its header matches reads no status from its name",
        ),
    ],
    ids=["gz", "bak", "numbers", "bare txt", "mailchimp txt"],
)
def test_a_zip_member_named_as_an_opt_out_list_that_is_not_read_is_refused(tmp_path, name, content, said, reason):
    export = tmp_path / "export.zip"
    with zipfile.ZipFile(export, "w") as archive:
        archive.writestr("contacts.csv", "Email,Subscribed\r\ntx1@example.com,yes\r\n")
        archive.writestr(f"lists/{name}", content)

    with pytest.raises(InputError) as refused:
        read_source(str(export), tmp_path / "staging")

    assert str(refused.value) == f"{export}!lists/{name}: its name says {said}, but {fix(reason)}"


@pytest.mark.parametrize(
    ("name", "word"),
    [("DNC list.txt", "dnc"), ("unsubscribers.txt", "unsubscribers"), ("abuse_reports.txt", "abuse"),
     ("Abgemeldet.txt", "abgemeldet"), ("désabonnés.txt", "désabonnés")],
)  # fmt: skip
def test_a_list_not_read_whose_name_may_name_opt_outs_is_refused_too(tmp_path, name, word):
    # No profile reads these names as opt-outs (a read "unsub_survey.csv" is no list of them),
    # but a person must say what a list left unread holds.
    folder = export_folder(tmp_path)
    (folder / name).write_bytes(BARE_ADDRESSES)

    with pytest.raises(InputError) as refused:
        read_source(str(folder), tmp_path / "staging")

    assert str(refused.value) == (
        f"{folder}/{name}: its name ('{word}') may name a list of opt-outs, but it is not read ({NOT_A_TABLE}): if it "
        "lists opt-outs, save it as CSV named for them (unsubscribes.csv), a name read as opting its people out; else "
        "take it out of the source"
    )


def test_a_file_named_do_not_contact_opts_its_people_out(tmp_path):
    folder = export_folder(tmp_path)
    (folder / "Do Not Contact.csv").write_bytes(TAB_DELIMITED_OPT_OUTS)

    plan([str(folder)], tmp_path / "out")

    assert set(planned(tmp_path / "out")["opt-out-unsubscribed.csv"]) == {"tx1@example.com"}


def test_other_files_not_read_are_listed_and_the_run_goes_on(tmp_path):
    folder = export_folder(tmp_path)
    (folder / "README.txt").write_text("exported by hand", encoding="utf-8")
    # A negation next to the word: the name says no opt-out.
    (folder / "no_bounces_report.txt").write_text("all delivered", encoding="utf-8")

    [read] = read_source(str(folder), tmp_path / "staging")

    assert [file.uri for file in read.raw.skipped_files] == [f"{folder}/README.txt", f"{folder}/no_bounces_report.txt"]


def test_files_that_cannot_be_the_list_or_copy_a_read_one_are_only_listed(tmp_path):
    folder = export_folder(tmp_path)
    (folder / "unsubscribes.csv").write_bytes(TAB_DELIMITED_OPT_OUTS)
    # A document about opt-outs, an editor's lock of the list being read, the list as it came
    # compressed beside its decompressed copy.
    (folder / "How to unsubscribe.pdf").write_bytes(b"%PDF-1.4")
    (folder / ".~lock.unsubscribes.csv#").write_text("user,host", encoding="utf-8")
    (folder / "unsubscribes.csv.gz").write_bytes(gzip.compress(TAB_DELIMITED_OPT_OUTS, mtime=0))

    report = plan([str(folder)], tmp_path / "out")

    assert report["contacts"] == {"marketing": 1, "non_marketing": 0, "opted_out": 1}


@pytest.mark.parametrize(
    ("name", "first"),
    [("unsubscribes.csv", "tx1@example.com"), ("contacts2.csv", "tx1@example.com"), ("unsubscribes.csv", "o'brien@example.com"),
     ("unsubscribes.csv", "<tx1@example.com>"), ("unsubscribes.csv", "Tx One <tx1@example.com>")],
)  # fmt: skip
def test_a_csv_of_bare_addresses_is_refused_for_its_missing_header(tmp_path, name, first):
    # Its first address was read as the column's name, and that person, never opted out,
    # was marketed from the other file.
    folder = export_folder(tmp_path)
    (folder / name).write_text(f"{first}\r\ntx2@example.com\r\n", encoding="utf-8")

    with pytest.raises(InputError) as refused:
        read_source(str(folder), tmp_path / "staging")

    assert str(refused.value) == (
        f"{folder}/{name}:1: the first line holds an email address (column 1) where the column names should be: remove "
        "any line above the header, or, if the file has no header line, add one naming its columns (Email, …)"
    )


def test_the_list_renamed_as_the_refusal_says_opts_its_people_out(tmp_path):
    folder = export_folder(tmp_path)
    (folder / "unsubscribes.csv").write_bytes(TAB_DELIMITED_OPT_OUTS)

    report = plan([str(folder)], tmp_path / "out")

    assert report["contacts"] == {"marketing": 1, "non_marketing": 0, "opted_out": 1}
    files = planned(tmp_path / "out")
    assert set(files["contacts-marketing-001.csv"]) == {"tx2@example.com"}
    assert set(files["opt-out-unsubscribed.csv"]) == {"tx1@example.com"}


def test_the_same_list_given_as_a_source_of_its_own_is_refused_too(tmp_path):
    source = tmp_path / "unsubscribes.txt"
    source.write_bytes(BARE_ADDRESSES)

    with pytest.raises(InputError) as refused:
        read_source(str(source), tmp_path / "staging")

    assert str(refused.value) == (
        f"{source}: not a zip archive, a folder or a CSV or TSV file or workbook, nor a table: its first line names no "
        "email column"
    )


@pytest.mark.parametrize("name", ["DoNotContact.csv", "DoNotEmail.csv", "HardBounces.csv"])
def test_a_list_named_in_camel_case_opts_its_people_out(tmp_path, name):
    folder = export_folder(tmp_path)
    (folder / name).write_bytes(TAB_DELIMITED_OPT_OUTS)

    report = plan([str(folder)], tmp_path / "out")

    assert report["contacts"] == {"marketing": 1, "non_marketing": 0, "opted_out": 1}


def test_a_workbook_sheet_named_for_opt_outs_with_no_header_is_refused_not_ignored(tmp_path):
    # Its people were planned from the contacts sheet as marketing, without a word.
    book = write_xlsx(
        tmp_path / "export.xlsx",
        {"Contacts": [["Email", "Subscribed"], ["zed@example.com", "yes"]], "Unsubscribed": [["zed@example.com"]], "Notes": [["hi"]]},
    )

    with pytest.raises(InputError) as refused:
        read_source(str(book), tmp_path / "staging")

    assert str(refused.value).startswith(f"{book}#Unsubscribed: its name says unsubscribed, but its first row names no email column")
    # With a header row the sheet is read, and opts its people out.
    write_xlsx(book, {"Contacts": [["Email", "Subscribed"], ["zed@example.com", "yes"]], "Unsubscribed": [["Email"], ["zed@example.com"]]})
    assert plan([str(book)], tmp_path / "out")["contacts"]["opted_out"] == 1
