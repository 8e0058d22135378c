"""Tables that cannot be read as they stand: a named profile that would leave the file's consent
columns unread, a title line above the header; and a workbook's several contact lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.errors import InputError
from tasks.extract.tables import ReadOptions, read_source
from tasks.transform.catalog import StatusRule, UnreadConsent, reading_profile, unread_consent
from tasks.transform.mapping_file import UserMapping
from tests.tasks.extract.test_tables import CC_HEADERS, cc_record, outcomes, write_csv, write_xlsx

SALESFORCE_HEADERS = ["Id", "FirstName", "LastName", "Email", "HasOptedOutOfEmail", "IsEmailBounced"]


@pytest.mark.parametrize(
    ("named", "headers", "unread"),
    [
        # A Constant Contact export read as Salesforce's: its statuses would be lost.
        ("salesforce", CC_HEADERS, UnreadConsent("salesforce", "constantcontact", ("Email status", "Email permission status"))),
        # Zoho reads "Email Opt Out", not Salesforce's API names.
        ("zoho", SALESFORCE_HEADERS, UnreadConsent("zoho", "salesforce", ("HasOptedOutOfEmail", "IsEmailBounced"))),
        # Headers no profile recognises: the generic profile, which reads the flag, is named.
        ("salesforce", ["Email", "Name", "Unsubscribed"], UnreadConsent("salesforce", "generic", ("Unsubscribed",))),
        # No consent column at all: nothing to lose.
        ("salesforce", ["Email", "First Name", "City"], None),
        # The named profile reads the file's consent columns.
        ("constantcontact", CC_HEADERS, None),
        ("generic", ["Email", "Name", "Unsubscribed"], None),
    ],
)
def test_a_named_profile_must_read_the_consent_columns_another_profile_reads(named, headers, unread):
    assert unread_consent(reading_profile(named), headers) == unread


CC_PER_STATUS_HEADERS = ["Email address", "First name", "Last name", "Email Lists", "Created At"]


@pytest.mark.parametrize(
    ("named", "file_name", "name_statuses", "unread"),
    [
        # Constant Contact's per-status export, no status column: its name is its status.
        ("salesforce", "x.zip!unsubscribed.xlsx", None, UnreadConsent("salesforce", "constantcontact", name_status="unsubscribed")),
        ("salesforce", "bounced_contacts.csv", None, UnreadConsent("salesforce", "constantcontact", name_status="bounced")),
        # A name that is no opt-out, or a named profile that reads it, loses nothing.
        ("salesforce", "active.xlsx", None, None),
        ("constantcontact", "unsubscribed.xlsx", None, None),
        # A status the caller reads from the name (a Mailchimp export's).
        ("salesforce", "cleaned_x.csv", {"mailchimp": "cleaned"}, UnreadConsent("salesforce", "mailchimp", name_status="cleaned")),
        ("salesforce", "subscribed_x.csv", {"mailchimp": "subscribed"}, None),
    ],
)
def test_a_named_profile_must_read_an_opt_out_in_the_file_name(named, file_name, name_statuses, unread):
    assert unread_consent(reading_profile(named), CC_PER_STATUS_HEADERS, file_name, name_statuses) == unread


def test_a_mapping_rule_naming_the_consent_column_lets_the_named_profile_read_the_file():
    rule = StatusRule(columns=("Email status", "Email permission status"), values={"unsubscribed": "unsubscribed", "bounced": "bounced"})
    mapped = reading_profile("salesforce").with_mapping(UserMapping(rules=(rule,), consent={"unsubscribed": "opted_out", "bounced": "opted_out"}))
    assert unread_consent(mapped, CC_HEADERS) is None


@pytest.mark.parametrize("options", [ReadOptions(profile="salesforce"), ReadOptions(mapping=UserMapping(profile="salesforce"))], ids=["--profile", "mapping"])
def test_a_file_whose_consent_columns_the_named_profile_does_not_read_is_refused(tmp_path, options):
    path = write_csv(tmp_path / "cc.csv", CC_HEADERS, [cc_record("a@x.com", "Unsubscribed", "Unsubscribed")])
    with pytest.raises(InputError) as refused:
        read_source(str(path), tmp_path / "staging", options)
    assert str(refused.value) == (
        f"{path}:1: the salesforce profile does not read its consent columns (Email status, Email permission status), "
        "so their opt-outs would be lost: the constantcontact profile reads them (--profile constantcontact), "
        "or name them in a mapping's [[status.rules]]"
    )


@pytest.mark.parametrize(
    ("file_name", "refusal"),
    [
        ("unsubscribed.xlsx", "the salesforce profile does not read its name, which says 'unsubscribed', so its opt-outs would be lost: the constantcontact profile reads it (--profile constantcontact)"),
        ("cleaned_members_export_ab12.csv", "the salesforce profile does not read its name, which says 'cleaned', so its opt-outs would be lost: the mailchimp profile reads it (--profile mailchimp)"),
    ],
)
def test_a_file_whose_name_is_an_opt_out_the_named_profile_does_not_read_is_refused(tmp_path, file_name, refusal):
    rows = [CC_PER_STATUS_HEADERS, ["a@x.com", "Ann", "A", "Newsletter", "2024-01-02 10:00:00"]]
    path = write_xlsx(tmp_path / file_name, {"Contacts": rows}) if file_name.endswith(".xlsx") else write_csv(tmp_path / file_name, rows[0], rows[1:])
    uri = f"{path}#Contacts" if file_name.endswith(".xlsx") else str(path)
    with pytest.raises(InputError) as refused:
        read_source(str(path), tmp_path / "staging", ReadOptions(profile="salesforce"))
    assert str(refused.value) == f"{uri}:1: {refusal}"


def test_a_named_profile_leaving_one_of_the_files_consent_columns_unread_is_refused(tmp_path):
    path = write_csv(tmp_path / "subscribed_cc.csv", CC_HEADERS, [cc_record("a@x.com", "Active", "Unsubscribed")])
    with pytest.raises(InputError) as refused:
        read_source(str(path), tmp_path / "staging", ReadOptions(profile="generic"))
    assert str(refused.value) == (
        f"{path}:1: the generic profile does not read its consent columns (Email permission status), "
        "so their opt-outs would be lost: the constantcontact profile reads them (--profile constantcontact), "
        "or name them in a mapping's [[status.rules]]"
    )


def test_a_named_profile_still_reads_a_list_without_consent_columns_and_a_mapped_status_column(tmp_path):
    plain = write_csv(tmp_path / "plain.csv", ["Email", "First Name"], [["a@x.com", "Ann"]])
    [read] = read_source(str(plain), tmp_path / "staging", ReadOptions(profile="salesforce"))
    assert (read.profile.name, outcomes(read)) == ("salesforce", {"a@x.com": "non_marketing"})

    mapping_file = tmp_path / "mapping.toml"
    mapping_file.write_text(
        'profile = "salesforce"\n[[status.rules]]\ncolumns = ["Email status", "Email permission status"]\nvalues = { unsubscribed = "unsubscribed" }\n'
        '[consent]\nunsubscribed = "opted_out"\n',
        encoding="utf-8",
    )
    cc = write_csv(tmp_path / "cc.csv", CC_HEADERS, [cc_record("a@x.com", "Unsubscribed", ""), cc_record("b@x.com", "Active", "")])
    [read] = read_source(str(cc), tmp_path / "staging", ReadOptions(mapping=UserMapping.load(mapping_file)))
    assert outcomes(read) == {"a@x.com": "opted_out", "b@x.com": "non_marketing"}


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_title_above_the_header_is_refused_naming_the_header_line(tmp_path):
    path = write_lines(tmp_path / "crm.csv", ["Exported from Acme CRM on 2024-01-01", "", "Email,First Name,Last Name", "x@example.com,Ann,One"])
    with pytest.raises(InputError) as refused:
        read_source(str(path), tmp_path / "staging")
    assert str(refused.value) == f"{path}:1: no email column in the header; line 3 looks like the header: remove the lines above it"


@pytest.mark.parametrize(
    ("lines", "named"),
    [
        # Excel's merged cells: "Unsubscribed" under a blank top cell would go unread.
        (["Email,Name,,Subscribed,", ",First,Last,Newsletter,Unsubscribed"], "'Unsubscribed'"),
        (["Email,Contact,,Email Preferences,", ",First Name,Last Name,Newsletter,Unsubscribed"], "'Last Name', 'Unsubscribed'"),
        # One group over two columns, one name under its blank half.
        (["Email,First Name,Last Name,Opt In,Email preferences,", ",,,,Frequency,Unsubscribed"], "'Unsubscribed'"),
    ],
)
def test_a_header_of_two_rows_is_refused_naming_what_its_second_row_names_under_blank_cells(tmp_path, lines, named):
    path = write_lines(tmp_path / "crm.csv", [*lines, "ann@example.com,Ann,Lee,Yes,No,", "bob@example.com,Bob,Ray,Yes,Yes,Yes"])
    with pytest.raises(InputError) as refused:
        read_source(str(path), tmp_path / "staging")
    assert str(refused.value) == (
        f"{path}:2: the row under the header names columns under its blank cells ({named}): a header of two rows? "
        "Make it one row naming each column (Email, First Name, Unsubscribed, …), then plan again"
    )


@pytest.mark.parametrize(
    "lines",
    [
        # A first contact with no address, whose values name statuses under named columns.
        ["Email,First Name,Status,Email Status", ",Ann,Unsubscribed,Bounced"],
        ["Email,First Name,Preferred Channel,Newsletter", ",Ann,Email,Subscribed"],
        # A trailing comma's blank column, empty in the first row.
        ["Email,First Name,Unsubscribed,", ",First Name,Unsubscribed,"],
        # An address in the row: data, whatever else it names.
        ["Email,First Name,,", "ann@example.com,First Name,Unsubscribed,"],
    ],
    ids=["statuses-under-named-columns", "values-naming-columns", "trailing-blank-column", "an-address"],
)
def test_a_first_row_naming_nothing_under_blank_cells_or_holding_an_address_is_data(tmp_path, lines):
    path = write_lines(tmp_path / "crm.csv", [*lines, "cy@example.com,Cy,Active,"])
    [read] = read_source(str(path), tmp_path / "staging")
    assert "cy@example.com" in outcomes(read)


def test_a_header_below_the_first_lines_is_not_looked_for(tmp_path):
    lines = ["Exported from Acme CRM", *(["Report line"] * 10), "Email,First Name", "x@example.com,Ann"]
    with pytest.raises(InputError, match=r":1: no email column: expected one of Email, "):
        read_source(str(write_lines(tmp_path / "crm.csv", lines)), tmp_path / "staging")


def test_a_renamed_email_column_is_still_read_when_a_row_says_email(tmp_path):
    # "Email" as a preferred channel beside an address is a data row, not a header.
    path = write_lines(tmp_path / "list.csv", ["Contact,Name,Channel", "a@x.com,Ann,Email", "b@x.com,Bob,Phone"])
    [read] = read_source(str(path), tmp_path / "staging")
    assert read.raw.email_column == "Contact"
    assert read.raw.frame.collect().get_column("Contact").to_list() == ["a@x.com", "b@x.com"]


def test_every_sheet_with_an_email_column_is_read_and_a_named_sheet_alone(tmp_path):
    workbook = write_xlsx(
        tmp_path / "crm.xlsx",
        {
            "Contacts": [["Email", "First Name", "Unsubscribed"], ["a@x.com", "Ann", ""], ["b@x.com", "Bob", "true"]],
            "Summary": [["Total", "2"]],
            "Leads": [["Email", "Name"], ["z@example.com", "Zed"]],
        },
    )
    reads = read_source(str(workbook), tmp_path / "staging")
    assert [read.raw.uri for read in reads] == [f"{workbook}#Contacts", f"{workbook}#Leads"]
    assert [outcomes(read) for read in reads] == [{"a@x.com": "non_marketing", "b@x.com": "opted_out"}, {"z@example.com": "non_marketing"}]

    [leads] = read_source(f"{workbook}#Leads", tmp_path / "staging")
    assert outcomes(leads) == {"z@example.com": "non_marketing"}


@pytest.mark.parametrize(
    ("header", "cell", "outcome"),
    [
        ("HasOptedOutOfEmail", "true", "opted_out"),
        ("emailBlacklisted", "1", "opted_out"),
        ("IsEmailBounced", "yes", "opted_out"),
        ("Unsubscribed At", "2024-03-01", "opted_out"),
        ("HasOptedOutOfEmail", "false", "marketing"),
    ],
)
def test_a_plain_file_reads_the_opt_out_flags_crms_write(tmp_path, header, cell, outcome):
    path = write_csv(tmp_path / "list.csv", ["Email", "Email Status", header], [["a@x.com", "Active", cell]])
    [read] = read_source(str(path), tmp_path / "staging", ReadOptions(profile="generic"))
    assert outcomes(read) == {"a@x.com": outcome}


@pytest.mark.parametrize(
    "name", ["unsubscribes.csv", "bounces.csv", "opt-outs.csv", "Opt Outs.csv", "contacts_optout.csv", "suppressed.csv", "do-not-email.csv", "spam_reports.csv"]
)
def test_a_constant_contact_file_named_for_its_opt_outs_opts_them_out(tmp_path, name):
    path = write_csv(tmp_path / name, CC_PER_STATUS_HEADERS, [["a@x.com", "Ann", "A", "Newsletter", "2024-01-02 10:00:00"]])
    [read] = read_source(str(path), tmp_path / "staging", ReadOptions(profile="constantcontact"))
    assert outcomes(read) == {"a@x.com": "opted_out"}


def test_a_workbook_whose_header_sits_below_a_title_is_refused_naming_the_row(tmp_path):
    rows = [["Contacts exported 2024-01-01"], [], ["Email", "First Name"], ["a@x.com", "Ann"]]
    workbook = write_xlsx(tmp_path / "crm.xlsx", {"Summary": [["Total", "1"]], "Contacts": rows})
    with pytest.raises(InputError) as refused:
        read_source(str(workbook), tmp_path / "staging")
    assert str(refused.value) == (
        f"{workbook}: no sheet has a contact header row on its first row; sheet 'Contacts' row 3 looks like the header: "
        "remove the rows above it"
    )
