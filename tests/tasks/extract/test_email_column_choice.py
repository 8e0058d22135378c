"""Which column holds the contacts' addresses, when the header alone does not say.

With no email header, a file where several columns hold addresses (``Owner Email,Contact
Email``) is refused: the first one taken gave every contact the sales rep's address, and a
customer's unsubscribe to the rep. One column holding addresses is still taken, and named in
a warning. A column named as the email that holds no addresses (``Email`` as a ``Yes``/``No``
channel preference) gives way to the one other email header holding them, or the file is
refused naming both.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.errors import InputError
from tasks.extract.tables import EMAIL_MAPPING_FIX, ReadOptions
from tasks.report import source_warnings
from tasks.transform.mapping_file import UserMapping
from tests.flows.test_cli import assert_one_line_error, run
from tests.plain_plan import plan
from tests.tasks.extract.test_tables import planned, read_one, write_csv

OWNER_HEADERS = ["Owner Email", "Contact Email", "First Name", "Last Name", "Unsubscribed"]
OWNER_ROWS = [
    ["rep@acme.com", "cust1@example.com", "Ann", "One", ""],
    ["rep@acme.com", "cust2@example.com", "Bob", "Two", "yes"],
    ["rep@acme.com", "cust3@example.com", "Cy", "Three", ""],
    ["rep2@acme.com", "cust4@example.com", "Di", "Four", ""],
]


def test_a_file_whose_owner_and_contact_columns_both_hold_addresses_is_refused(tmp_path, prefect_api_url):
    source = write_csv(tmp_path / "contacts.csv", OWNER_HEADERS, OWNER_ROWS)

    result = run(["plan", str(source), "--out", str(tmp_path / "out")], env={"PREFECT_API_URL": prefect_api_url})

    assert_one_line_error(
        result,
        2,
        f"{source}:1: no header names the email column, and 2 columns hold addresses ('Owner Email', 'Contact Email'): "
        f"{EMAIL_MAPPING_FIX}",
    )
    assert not (tmp_path / "out" / "report.json").exists()


def test_the_mapping_the_refusal_asks_for_plans_each_customer_as_a_contact(tmp_path, prefect_api_url):
    source = write_csv(tmp_path / "contacts.csv", OWNER_HEADERS, OWNER_ROWS)
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('email = "Contact Email"\n', encoding="utf-8")

    result = run(
        ["plan", str(source), "--mapping", str(mapping), "--out", str(tmp_path / "out")],
        env={"PREFECT_API_URL": prefect_api_url},
    )

    assert result.returncode == 0, result.stderr
    files = planned(tmp_path / "out")
    assert set(files["contacts-non-marketing-001.csv"]) == {"cust1@example.com", "cust3@example.com", "cust4@example.com"}
    assert set(files["opt-out-unsubscribed.csv"]) == {"cust2@example.com"}
    # The sales reps are a column of their contacts, never contacts themselves.
    assert files["contacts-non-marketing-001.csv"]["cust4@example.com"]["imported_owner_email"] == "rep2@acme.com"


def test_the_one_column_holding_addresses_is_taken_and_named_in_a_warning(tmp_path):
    source = write_csv(
        tmp_path / "contacts.csv",
        ["Contact Email", "Name", "Twitter"],
        [["ann@example.com", "Ann", "@ann"], ["bob@example.com", "Bob", "@bob"]],
    )

    read = read_one(source, tmp_path)
    report = plan([str(source)], tmp_path / "out")

    # A handle (``@ann``) is no address: only the first column holds addresses.
    assert read.raw.email_column == "Contact Email"
    note = (
        "no header names the email column: 'Contact Email', the only column holding addresses, is read as the email "
        f"column; to read another, {EMAIL_MAPPING_FIX}"
    )
    assert report["sources"][0]["notes"] == [note]
    assert source_warnings(report) == [f"warning: {source}: {note}"]
    assert report["rows_rejected"] == 0
    assert set(planned(tmp_path / "out")["contacts-non-marketing-001.csv"]) == {"ann@example.com", "bob@example.com"}


def test_addresses_only_in_a_later_unnamed_column_are_named_in_the_refusal(tmp_path):
    source = write_csv(tmp_path / "contacts.csv", ["Name", "Contact Email"], [["Ann", "ann@example.com"], ["Bob", "bob@example.com"]])

    with pytest.raises(InputError) as refused:
        read_one(source, tmp_path)

    assert str(refused.value).startswith(f"{source}:1: no email column: expected one of Email, Email Address, ")
    assert str(refused.value).endswith(f"; the column 'Contact Email' holds addresses: to read it, {EMAIL_MAPPING_FIX}")


PREFERENCE_HEADERS = ["Email Address", "First Name", "Email", "SMS"]
PREFERENCE_ROWS = [["pref1@example.com", "A", "Yes", "No"], ["pref2@example.com", "B", "No", "Yes"]]


def test_an_email_header_holding_preferences_gives_way_to_the_email_header_holding_addresses(tmp_path, prefect_api_url):
    source = write_csv(tmp_path / "preferences.csv", PREFERENCE_HEADERS, PREFERENCE_ROWS)

    result = run(["plan", str(source), "--out", str(tmp_path / "out")], env={"PREFECT_API_URL": prefect_api_url})

    assert result.returncode == 0, result.stderr
    note = (
        "the column 'Email' holds no email addresses and 'Email Address' does: 'Email Address' is read as the email "
        f"column; to read another, {EMAIL_MAPPING_FIX}"
    )
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["sources"][0]["notes"] == [note]
    # In the summary once, and once in the run's log (the plan's warnings): not also as the file is read.
    assert f"warning: {source}: {note}" in result.stdout.splitlines()
    assert (result.stderr + result.stdout).count(note) == 2
    contacts = planned(tmp_path / "out")["contacts-non-marketing-001.csv"]
    assert {email: row["imported_email"] for email, row in contacts.items()} == {"pref1@example.com": "Yes", "pref2@example.com": "No"}
    assert "rows read 2  rejected 0" in result.stdout


@pytest.mark.parametrize(
    ("headers", "rows", "problem"),
    [
        # The profile names no other email column: a person must say that "Contact" is it.
        (["Email", "Contact"], [["Yes", "a@example.com"], ["No", "b@example.com"]], "'Contact' does"),
        # Two other email headers hold addresses: which is the contacts' is not for a guess.
        (
            ["Email", "Email Address", "E-mail"],
            [["Yes", "a@example.com", "a2@example.com"], ["No", "b@example.com", "b2@example.com"]],
            "'Email Address', 'E-mail' do",
        ),
    ],
    ids=["unnamed column", "two email headers"],
)
def test_an_email_header_holding_no_addresses_is_refused_when_no_one_column_replaces_it(tmp_path, headers, rows, problem):
    source = write_csv(tmp_path / "contacts.csv", headers, rows)

    with pytest.raises(InputError) as refused:
        read_one(source, tmp_path)

    assert str(refused.value) == f"{source}:1: the email column 'Email' holds no email addresses, but {problem}: {EMAIL_MAPPING_FIX}"


def test_an_email_header_holding_some_addresses_stays_the_email_column(tmp_path):
    # One address in three is a column of addresses badly kept, not a preference: its rows are
    # judged one by one, as before.
    source = write_csv(
        tmp_path / "contacts.csv",
        ["Email", "Email Address"],
        [["a@example.com", "a2@example.com"], ["n/a", "b2@example.com"], ["unknown", "c2@example.com"]],
    )

    report = plan([str(source)], tmp_path / "out")

    assert report["rows_rejected"] == 2
    assert set(planned(tmp_path / "out")["contacts-non-marketing-001.csv"]) == {"a@example.com"}


def test_a_mapping_naming_the_email_column_is_read_as_named(tmp_path):
    source = write_csv(tmp_path / "preferences.csv", PREFERENCE_HEADERS, PREFERENCE_ROWS)

    read = read_one(source, tmp_path, ReadOptions(mapping=UserMapping(email="Email")))

    assert read.raw.email_column == "Email"
    assert read.raw.frame.collect().get_column("Email").to_list() == ["Yes", "No"]


def test_a_blank_email_column_is_still_filled_by_the_next_email_header(tmp_path):
    # Nothing to tell in the first column: the later email header fills its rows, as before.
    source = write_csv(tmp_path / "contacts.csv", ["Email", "Email Address"], [["", "a@example.com"], ["", "b@example.com"]])

    read = read_one(source, tmp_path)

    assert read.raw.email_column == "Email"
    assert read.raw.frame.collect().get_column("Email").to_list() == ["a@example.com", "b@example.com"]


def test_a_header_only_file_with_a_renamed_first_column_is_still_read(tmp_path: Path):
    source = write_csv(tmp_path / "contacts.csv", ["Courriel électronique", "Nom"], [])

    read = read_one(source, tmp_path)

    assert read.raw.email_column == "Courriel électronique"


def test_placeholders_at_the_top_of_the_email_column_do_not_make_it_give_way(tmp_path):
    # The first sampled records say "none": no evidence the column is a preference. The later
    # contacts keep their own address, not the work one beside it.
    rows = [[f"L{n}", "none", f"w{n}@corp.example"] for n in range(120)] + [[f"C{n}", f"c{n}@example.com", f"cw{n}@corp.example"] for n in range(5)]
    source = write_csv(tmp_path / "leads.csv", ["First Name", "Email", "Work Email"], rows)

    report = plan([str(source)], tmp_path / "out")

    assert report["rows_rejected"] == 120
    assert set(planned(tmp_path / "out")["contacts-non-marketing-001.csv"]) == {f"c{n}@example.com" for n in range(5)}


def test_an_email_header_holding_yes_or_no_never_fills_a_blank_address(tmp_path):
    # The address column is blank at the top (phone-only rows): the preference beside it must
    # not be taken for their address, nor for the later rows'.
    rows = [[f"P{n}", "", "Yes", "555-0100"] for n in range(120)] + [[f"A{n}", f"a{n}@example.com", "No", ""] for n in range(5)]
    source = write_csv(tmp_path / "people.csv", ["Name", "Email Address", "Email", "Phone"], rows)

    report = plan([str(source)], tmp_path / "out")

    assert report["rows_rejected"] == 120
    assert set(planned(tmp_path / "out")["contacts-non-marketing-001.csv"]) == {f"a{n}@example.com" for n in range(5)}


@pytest.mark.parametrize(
    "email_field",
    [["Yes", "No", "Yes"], ["old1@example.net", "old2@example.net", "old3@example.net"]],
    ids=["preference", "old address"],
)
def test_a_mailchimp_exports_first_column_is_its_email_beside_a_merge_field_named_email(tmp_path, email_field):
    # Mailchimp writes the EMAIL merge field first, under its label (renamed "E-mail" here); a
    # merge field labelled "Email" beside it is the audience's own (a preference, an old address).
    rows = [[f"m{n}@example.com", f"M{n}", value] for n, value in enumerate(email_field)]
    source = write_csv(tmp_path / "subscribed_members_export_a1b2c3.csv", ["E-mail", "First Name", "Email"], rows)

    report = plan([str(source)], tmp_path / "out")

    assert report["rows_rejected"] == 0
    assert set(planned(tmp_path / "out")["contacts-marketing-001.csv"]) == {"m0@example.com", "m1@example.com", "m2@example.com"}


def test_a_comment_or_a_sparse_column_mentioning_an_address_is_no_second_column_of_addresses(tmp_path):
    rows = [[f"c{n}@example.com", f"C{n}", "", ""] for n in range(10)]
    rows[0][2] = "forwarded by bob@corp.example"
    rows[1][3] = "ref@example.org"
    source = write_csv(tmp_path / "contacts.csv", ["Adresse courriel", "Prénom", "Comments", "Referred By"], rows)

    report = plan([str(source)], tmp_path / "out")

    assert report["rows_rejected"] == 0
    assert set(planned(tmp_path / "out")["contacts-non-marketing-001.csv"]) == {f"c{n}@example.com" for n in range(10)}


def test_a_mailchimp_exports_email_column_is_the_one_a_mapping_names(tmp_path):
    # The audience's old EMAIL field comes first; the user says the contacts are the login's.
    rows = [[f"old{n}@example.net", f"M{n}", f" login{n}@example.com"] for n in range(3)]
    # A member with no login keeps the address Mailchimp knows it by: an unsubscribe must reach someone.
    rows[2][2] = ""
    source = write_csv(tmp_path / "unsubscribed_members_export_a1b2c3.csv", ["Email Address", "First Name", "Login Email"], rows)

    read = read_one(source, tmp_path, ReadOptions(mapping=UserMapping(email=" login email")))

    assert read.raw.email_column == "Login Email"
    assert read.raw.frame.collect().get_column("Login Email").to_list() == [" login0@example.com", " login1@example.com", "old2@example.net"]
