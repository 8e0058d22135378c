"""A repeated email header holding one address in two spellings holds that address: its copies
are compared as the plan compares addresses (trimmed, lowercased, an internationalised domain in
one spelling); only a row with several different addresses is rejected."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tasks.extract import mailchimp
from tasks.extract.sources import StagedFile
from tests.plain_plan import plan
from tests.tasks.extract.test_tables import planned, write_csv


def scanned(path: Path) -> pl.DataFrame:
    """The file's email header and its disagreement column, as the reader scans them."""
    staged = StagedFile(str(path), path)
    names = [mailchimp.clean_header(header, position) for position, header in enumerate(mailchimp.read_head(staged)[0])]
    columns = [(names[positions[0]], positions) for positions in mailchimp.group_by_name(names).values()]
    frame = mailchimp.scan_columns(staged, columns, "subscribed", "Email")
    return frame.select("Email", mailchimp.disagreeing_column("Email")).collect()


def test_copies_of_one_address_are_one_address_whatever_their_spelling(tmp_path):
    rows = [
        ["bob@gmail.com", "Bob", "BOB@gmail.com"],
        ["cy@bücher.de", "Cy", "cy@xn--bcher-kva.de"],
        ["dee@gmail.com", "Dee", " dee@gmail.com "],
        # The ü as u and a combining mark: the same domain.
        ["eve@bücher.de", "Eve", "Eve@bu\u0308cher.de"],
        ["fay@x.com", "Fay", "   "],
        ["", "Gus", "gus@x.com"],
    ]
    frame = scanned(write_csv(tmp_path / "contacts.csv", ["Email", "First Name", "Email"], rows))
    assert frame.get_column("Email").to_list() == ["bob@gmail.com", "cy@bücher.de", "dee@gmail.com", "eve@bücher.de", "fay@x.com", "gus@x.com"]
    assert frame.get_column(mailchimp.disagreeing_column("Email")).to_list() == [None] * len(rows)


def test_different_addresses_are_all_kept_each_once_as_its_first_copy_writes_it(tmp_path):
    rows = [["ann@x.com", "B@y.com", "b@y.com"], ["Cy@x.com", "cy@x.com", "dee@x.com"]]
    frame = scanned(write_csv(tmp_path / "contacts.csv", ["Email", "Email", "Email"], rows))
    assert frame.get_column("Email").to_list() == ["ann@x.com, B@y.com", "Cy@x.com, dee@x.com"]
    assert frame.get_column(mailchimp.disagreeing_column("Email")).to_list() == [True, True]


def test_a_row_repeating_its_own_address_is_planned_and_its_consent_kept(tmp_path):
    # Bob's CRM row says he is not subscribed; rejected, it let his newsletter row make him marketing.
    crm = write_csv(tmp_path / "crm.csv", ["Email", "Email", "Subscribed"], [["bob@example.com", "BOB@example.com", "no"]])
    newsletter = write_csv(tmp_path / "newsletter.csv", ["Email", "Status"], [["bob@example.com", "subscribed"]])
    twice = write_csv(tmp_path / "twice.csv", ["Email", "Email"], [["cy@bücher.de", "cy@xn--bcher-kva.de"], ["a@x.com", "b@x.com"]])
    report = plan([str(crm), str(newsletter), str(twice)], tmp_path / "out")
    assert report["contacts"] == {"marketing": 0, "non_marketing": 2, "opted_out": 0}
    assert report["rows_rejected"] == 1
    rejects = pl.read_csv(tmp_path / "out" / "rejects.csv", infer_schema=False)
    assert rejects.select("reason", "Email").rows() == [("several email addresses in one row", "a@x.com, b@x.com")]
    assert set(planned(tmp_path / "out")["contacts-non-marketing-001.csv"]) == {"bob@example.com", "cy@bücher.de"}
