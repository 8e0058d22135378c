"""Any export file read by its profile: Constant Contact (CSV, XLSX, per-status files), CRMs, workbooks."""

from __future__ import annotations

import datetime
import json
import zipfile
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from schemas.lineage import SOURCE_STATUS
from tasks.errors import InputError
from tasks.extract.mailchimp import FORMAT as MAILCHIMP_FORMAT
from tasks.extract.sources import SkippedFile
from tasks.extract.tables import PER_ROW_STATUS, ReadFile, ReadOptions, read_source, refuse_files_read_twice
from tasks.output import OutputFolder
from tasks.plan import consent_profiles, plan_sources
from tasks.transform.catalog import parsed_time_column
from tasks.transform.mapping_file import UserMapping

CC_HEADERS = [
    "Email address", "First name", "Last name", "Company", "Job title", "Email status",
    "Email permission status", "Phone - home", "Phone - mobile", "City - Home", "Country - Home",
    "City - Work", "Email Lists", "Tags", "Created At", "Updated At", "Custom Field 1",
]  # fmt: skip

CC_ROWS = [
    # email, status, permission, expected outcome
    ("active@x.com", "Active", "Permission to send", "marketing"),
    ("express@x.com", "Active", "Express permission", "marketing"),
    ("implied@x.com", "Active", "Implied permission", "marketing"),
    ("awaiting@x.com", "Awaiting Confirmation", "", "non_marketing"),
    ("noperm@x.com", "No Permissions Set", "", "non_marketing"),
    ("hold@x.com", "Temporary Hold", "", "non_marketing"),
    ("blank@x.com", "", "", "non_marketing"),
    ("unsub@x.com", "Unsubscribed", "Unsubscribed", "opted_out"),
    ("bounced@x.com", "Bounced", "", "opted_out"),
    # An inconsistent row: any opt-out reading wins.
    ("conflict@x.com", "Active", "Unsubscribed", "opted_out"),
]


def cc_record(email: str, status: str, permission: str) -> list[str]:
    return [
        email, "Françoise", "Søren", "Acme", "CTO", status, permission, "619-305-8111",
        "'+16193058111", "Zürich", "CH", "Bern", "Newsletter, Customers", "vip, 2024",
        "2020-09-25 16:45:13 -0400", "2021-01-02 08:00:00 +0100", "blue",
    ]  # fmt: skip


def write_csv(path: Path, headers: Sequence[str], rows: Sequence[Sequence[str]], delimiter=",", encoding="utf-8") -> Path:
    def cell(value: str) -> str:
        return f'"{value}"' if any(c in value for c in f'{delimiter}"\n') else value

    lines = [delimiter.join(cell(v) for v in row) for row in [headers, *rows]]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def write_xlsx(path: Path, sheets: dict[str, Sequence[Sequence[object]]]) -> Path:
    workbook = xlsxwriter.Workbook(str(path))
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    for name, rows in sheets.items():
        sheet = workbook.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if isinstance(value, datetime.datetime):
                    sheet.write_datetime(r, c, value, date_format)
                elif isinstance(value, (int, float)):
                    sheet.write_number(r, c, value)
                elif value:
                    sheet.write_string(r, c, value)
    workbook.close()
    return path


def outcomes(read: ReadFile) -> dict[str, str]:
    frame = read.raw.frame.collect()
    policy = read.profile.profile.consent
    return {
        row[read.raw.email_column]: policy.outcome_of(row[SOURCE_STATUS]).value
        for row in frame.iter_rows(named=True)
    }


def read_one(path: Path | str, tmp_path: Path, options: ReadOptions = ReadOptions()) -> ReadFile:
    [read] = read_source(str(path), tmp_path / "staging", options)
    return read


def test_constant_contact_csv_statuses_reach_their_outcomes(tmp_path):
    path = write_csv(tmp_path / "contact_export_1134551190518_021826_133957.csv", CC_HEADERS, [cc_record(*r[:3]) for r in CC_ROWS])
    read = read_one(path, tmp_path)
    assert read.profile.name == "constantcontact"
    assert read.raw.status == PER_ROW_STATUS
    assert outcomes(read) == {email: outcome for email, _, _, outcome in CC_ROWS}


def test_constant_contact_plan_maps_phones_lists_times_and_custom_fields(tmp_path):
    path = write_csv(tmp_path / "cc.csv", CC_HEADERS, [cc_record("a@x.com", "Active", "")], delimiter=";", encoding="cp1252")
    read = read_one(path, tmp_path)
    profile = read.profile.profile
    report = plan_sources([read.raw], OutputFolder(str(tmp_path / "out")), consent_profiles([profile], {}))
    assert report["contacts"]["marketing"] == 1
    [row] = pl.read_csv(tmp_path / "out" / "hubspot" / "contacts-marketing-001.csv", infer_schema=False).iter_rows(named=True)
    assert row["firstname"] == "Françoise" and row["lastname"] == "Søren"
    assert row["phone"] == "619-305-8111"
    assert row["mobilephone"] == "+16193058111"
    assert row["city"] == "Zürich" and row["country"] == "CH"
    assert row["constantcontact_city_work"] == "Bern"
    assert row["constantcontact_email_lists"] == "Newsletter;Customers"
    assert row["constantcontact_tags"] == "vip;2024"
    assert row["constantcontact_custom_field_1"] == "blue"
    # 16:45:13 at -04:00 is 20:45:13 UTC.
    assert row["constantcontact_created_at"] == str(int(datetime.datetime(2020, 9, 25, 20, 45, 13, tzinfo=datetime.UTC).timestamp() * 1000))


@pytest.mark.parametrize(
    ("file_name", "outcome"),
    [
        ("unsubscribed_contacts.xlsx", "opted_out"),
        ("bounced.xlsx", "opted_out"),
        ("active_contacts.xlsx", "marketing"),
        ("awaiting_confirmation.xlsx", "non_marketing"),
        ("contacts.xlsx", "non_marketing"),
    ],
)
def test_constant_contact_xlsx_per_status_takes_the_status_from_its_name(tmp_path, file_name, outcome):
    headers = ["Email address", "First name", "Last name", "Email Lists", "Created At"]
    rows = [headers, ["a@x.com", "Zoë", "X", "A, B", datetime.datetime(2020, 9, 25, 16, 45, 13)]]
    read = read_one(write_xlsx(tmp_path / file_name, {"Contacts": rows}), tmp_path)
    assert read.profile.name == "constantcontact"
    assert outcomes(read) == {"a@x.com": outcome}
    frame = read.raw.frame.collect()
    assert frame.get_column("First name").to_list() == ["Zoë"]
    assert frame.get_column("Created At").to_list() == ["2020-09-25 16:45:13"]


@pytest.mark.parametrize(
    ("file_name", "outcomes_by_row"),
    [
        # A permission says nothing of whether mail reached the address: the bounce stands. An
        # Email status of Active does contradict it (name_disagrees: never marketing).
        ("bounced.csv", {"a@x.com": "opted_out", "b@x.com": "opted_out", "c@x.com": "non_marketing"}),
        # Nor whether the contact was removed or held; an Email status still out-votes such a name.
        ("removed.csv", {"a@x.com": "non_marketing", "b@x.com": "non_marketing", "c@x.com": "marketing"}),
        ("temporary_hold.csv", {"a@x.com": "non_marketing", "b@x.com": "non_marketing", "c@x.com": "marketing"}),
        ("active.csv", {"a@x.com": "marketing", "b@x.com": "marketing", "c@x.com": "marketing"}),
    ],
)
def test_a_constant_contact_file_per_status_keeping_its_permission_column_takes_its_names_status(tmp_path, file_name, outcomes_by_row):
    path = write_csv(
        tmp_path / file_name,
        ["Email address", "First name", "Email permission status", "Email status"],
        [["a@x.com", "Ann", "Implied permission", ""], ["b@x.com", "Bob", "Express permission", ""], ["c@x.com", "Cy", "", "Active"]],
    )
    read = read_one(path, tmp_path)
    assert read.profile.name == "constantcontact"
    assert outcomes(read) == outcomes_by_row
    unsubscribed = write_csv(
        tmp_path / "active_2.csv", ["Email address", "Email permission status"], [["d@x.com", "Unsubscribed"]]
    )
    assert outcomes(read_one(unsubscribed, tmp_path)) == {"d@x.com": "opted_out"}


@pytest.mark.parametrize("permission_header", ["email_permission_status", "EmailPermissionStatus", "Email permission status (email)"])
@pytest.mark.parametrize(("file_name", "outcome"), [("removed.csv", "non_marketing"), ("bounced.csv", "opted_out")])
def test_any_spelling_of_the_permission_column_says_nothing_of_a_constant_contact_files_name(
    tmp_path, permission_header, file_name, outcome
):
    path = write_csv(tmp_path / file_name, ["Email address", "First name", permission_header], [["a@x.com", "Ann", "Implied permission"]])
    read = read_one(path, tmp_path, ReadOptions(profile="constantcontact"))
    assert outcomes(read) == {"a@x.com": outcome}


@pytest.mark.parametrize(
    "status",
    # Pasted from a right-to-left text or a web page: a mark or a zero-width space around the value.
    ["\u200fUnsubscribed", "Unsubscribed\u200b", "\u061cunsubscribed\u2069"],
)
def test_a_consent_value_with_invisible_characters_around_it_is_read(tmp_path, status):
    path = write_csv(tmp_path / "export.csv", ["Email address", "Email status", "Email permission status"], [["a@x.com", status, ""]])
    assert outcomes(read_one(path, tmp_path)) == {"a@x.com": "opted_out"}


def test_every_contact_sheet_is_read_as_a_file_of_its_own_unless_one_is_named(tmp_path):
    workbook = write_xlsx(
        tmp_path / "export.xlsx",
        {
            "Read me": [["Exported from Constant Contact"], ["2 sheets"]],
            "Lists": [["Email address", "List"], ["x@x.com", "A"]],
            "Contacts": [
                ["Email address", "First name", "Email status", "Created At"],
                ["a@x.com", "Ann", "Active", 44099.5],
                [],
                ["b@x.com", "Bob", "Unsubscribed", ""],
                [], [],
            ],
        },
    )  # fmt: skip
    # "Read me" has no email column: not a contact list.
    lists, read = read_source(str(workbook), tmp_path / "staging")
    assert (lists.raw.uri, read.raw.uri) == (f"{workbook}#Lists", f"{workbook}#Contacts")
    assert lists.raw.frame.collect().get_column("Email address").to_list() == ["x@x.com"]
    frame = read.raw.frame.collect()
    # The empty row between them stays (it is rejected later) so row numbers match Excel's; the
    # trailing ones are gone.
    assert frame.get_column("Email address").to_list() == ["a@x.com", None, "b@x.com"]
    assert frame.get_column("_source_row").to_list() == [2, 3, 4]
    # An Excel date serial in a time column is read as its date, the cell kept as written.
    assert frame.get_column("Created At").to_list()[0] == "44099.5"
    assert frame.get_column(parsed_time_column("Created At")).to_list()[0] == datetime.datetime(2020, 9, 25, 12)
    assert outcomes(read)["b@x.com"] == "opted_out"

    named = read_one(f"{workbook}#Lists", tmp_path)
    assert named.raw.frame.collect().get_column("List").to_list() == ["A"]
    with pytest.raises(InputError, match="no sheet 'Nope'"):
        read_one(f"{workbook}#Nope", tmp_path)


CRM_FILES = [
    # profile, headers, rows (email, cells...), expected outcomes
    (
        "salesforce",
        ["Id", "FirstName", "LastName", "Email", "HasOptedOutOfEmail", "IsEmailBounced", "LastModifiedDate"],
        [
            ["003A", "Ann", "A", "ann@x.com", "false", "false", "2024-01-02T10:20:30.000+0000"],
            ["003B", "Bob", "B", "bob@x.com", "true", "false", "2024-01-02T10:20:30.000+0000"],
            ["003C", "Cy", "C", "cy@x.com", "false", "true", ""],
        ],
        {"ann@x.com": "non_marketing", "bob@x.com": "opted_out", "cy@x.com": "opted_out"},
    ),
    (
        "salesforce",
        ["Contact ID", "First Name", "Last Name", "Email", "Email Opt Out", "Email Bounced Date", "Account Name"],
        [
            ["003A", "Ann", "A", "ann@x.com", "0", "", "Acme"],
            ["003B", "Bob", "B", "bob@x.com", "1", "", "Acme"],
            ["003C", "Cy", "C", "cy@x.com", "0", "1/2/2024", "Acme"],
        ],
        {"ann@x.com": "non_marketing", "bob@x.com": "opted_out", "cy@x.com": "opted_out"},
    ),
    (
        "pipedrive",
        ["Person - Name", "Person - Email - Work", "Person - Email - Home", "Person - Marketing status", "Person - Phone - Mobile"],
        [
            ["Ann A", "ann@x.com", "", "Subscribed", "+1 555"],
            ["Bob B", "", "bob@home.com", "Unsubscribed", ""],
            ["Cy C", "cy@x.com", "", "Bounced", ""],
            ["Di D", "di@x.com", "", "No consent", ""],
        ],
        {"ann@x.com": "marketing", "bob@home.com": "opted_out", "cy@x.com": "opted_out", "di@x.com": "non_marketing"},
    ),
    (
        "zoho",
        ["Record Id", "First Name", "Last Name", "Email", "Email Opt Out", "Account Name", "Mobile"],
        [["1", "Ann", "A", "ann@x.com", "false", "Acme", ""], ["2", "Bob", "B", "bob@x.com", "true", "Acme", ""]],
        {"ann@x.com": "non_marketing", "bob@x.com": "opted_out"},
    ),
    (
        "brevo",
        ["EMAIL", "NOM", "PRENOM", "SMS", "EMAIL_BLACKLISTED"],
        [["ann@x.com", "Dupont", "Françoise", "33612345678", "Non"], ["bob@x.com", "Martin", "Zoë", "", "Oui"]],
        {"ann@x.com": "non_marketing", "bob@x.com": "opted_out"},
    ),
    (
        "activecampaign",
        ["Email", "First Name", "Last Name", "Phone", "Organization", "Tags", "Date Created", "Status", "Contact Score"],
        [
            ["ann@x.com", "Ann", "A", "", "Acme", "a, b", "2024-01-02 10:00:00", "Active", "0"],
            ["bob@x.com", "Bob", "B", "", "Acme", "", "2024-01-02 10:00:00", "Unsubscribed", "0"],
            ["cy@x.com", "Cy", "C", "", "Acme", "", "2024-01-02 10:00:00", "Bounced", "0"],
        ],
        {"ann@x.com": "marketing", "bob@x.com": "opted_out", "cy@x.com": "opted_out"},
    ),
    (
        "klaviyo",
        ["Email", "First Name", "Last Name", "Organization", "Email Marketing Consent", "Email Suppressions", "Klaviyo ID"],
        [
            ["ann@x.com", "Ann", "A", "Acme", "SUBSCRIBED", "[]", "01A"],
            ["bob@x.com", "Bob", "B", "Acme", "UNSUBSCRIBED", "[]", "01B"],
            ["cy@x.com", "Cy", "C", "Acme", "NEVER_SUBSCRIBED", "", "01C"],
            ["di@x.com", "Di", "D", "Acme", "SUBSCRIBED", '["HARD_BOUNCE"]', "01D"],
        ],
        {"ann@x.com": "marketing", "bob@x.com": "opted_out", "cy@x.com": "non_marketing", "di@x.com": "opted_out"},
    ),
    (
        "hubspot",
        ["Record ID", "First Name", "Last Name", "Email", "Marketing contact status", "Unsubscribed from all email", "Create Date"],
        [
            ["1", "Ann", "A", "ann@x.com", "Marketing contact", "false", "2024-01-02 10:00"],
            ["2", "Bob", "B", "bob@x.com", "Marketing contact", "true", "2024-01-02 10:00"],
            ["3", "Cy", "C", "cy@x.com", "Non-marketing contact", "", "2024-01-02 10:00"],
        ],
        {"ann@x.com": "marketing", "bob@x.com": "opted_out", "cy@x.com": "non_marketing"},
    ),
    (
        "generic",
        ["email", "first name", "last name"],
        [["ann@x.com", "Ann", "A"], ["bob@x.com", "Bob", "B"]],
        {"ann@x.com": "non_marketing", "bob@x.com": "non_marketing"},
    ),
    (
        "generic",
        ["E-mail", "Name", "Newsletter", "Unsubscribed"],
        [["ann@x.com", "Ann", "yes", ""], ["bob@x.com", "Bob", "yes", "true"], ["cy@x.com", "Cy", "no", ""]],
        {"ann@x.com": "marketing", "bob@x.com": "opted_out", "cy@x.com": "non_marketing"},
    ),
]


@pytest.mark.parametrize(("profile", "headers", "rows", "expected"), CRM_FILES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CRM_FILES)])
def test_each_crm_is_detected_from_its_headers_with_its_consent_reading(tmp_path, profile, headers, rows, expected):
    read = read_one(write_csv(tmp_path / "export.csv", headers, rows), tmp_path)
    assert read.profile.name == profile
    assert outcomes(read) == expected


def test_brevo_semicolon_windows_1252_export_keeps_accents(tmp_path):
    path = write_csv(
        tmp_path / "brevo.csv", ["EMAIL", "NOM", "PRENOM", "EMAIL_BLACKLISTED"],
        [["a@x.com", "Dupont", "Françoise", "Non"]], delimiter=";", encoding="cp1252",
    )  # fmt: skip
    read = read_one(path, tmp_path)
    assert (read.layout.encoding, read.layout.delimiter) == ("cp1252", ";")
    assert read.raw.frame.collect().get_column("PRENOM").to_list() == ["Françoise"]
    assert read.profile.profile.route("PRENOM") == "firstname"


def test_a_mailchimp_file_goes_to_the_mailchimp_reader(tmp_path):
    path = write_csv(tmp_path / "unsubscribed_members_export_ab12.csv", ["Email Address", "First Name", "UNSUB_TIME", "LEID"], [["a@x.com", "Ann", "", "1"]])
    read = read_one(path, tmp_path)
    assert read.raw.format == MAILCHIMP_FORMAT
    assert read.raw.status == "unsubscribed"


def test_a_named_profile_wins_over_detection(tmp_path):
    path = write_csv(tmp_path / "export.csv", ["Email", "First Name", "Email Opt Out"], [["a@x.com", "Ann", "true"]])
    read = read_one(path, tmp_path, ReadOptions(profile="zoho"))
    assert read.profile.name == "zoho"
    assert outcomes(read) == {"a@x.com": "opted_out"}


def test_no_email_column_is_refused_with_the_candidates(tmp_path):
    path = write_csv(tmp_path / "export.csv", ["Name", "City"], [["Ann", "Paris"]])
    with pytest.raises(InputError, match="no email column"):
        read_one(path, tmp_path)


def test_a_user_mapping_routes_columns_and_adds_consent_but_never_reopens_an_opt_out(tmp_path):
    mapping_file = tmp_path / "mapping.yaml"
    mapping_file.write_text(
        "columns:\n  Region: state\n  Favourite colour: acme_colour\n"
        "status:\n  rules:\n    - columns: [Opted in]\n      when_true: opted_in\n"
        "consent:\n  opted_in: marketing\n",
        encoding="utf-8",
    )
    path = write_csv(
        tmp_path / "sf.csv",
        ["FirstName", "LastName", "Email", "HasOptedOutOfEmail", "Region", "Favourite colour", "Opted in"],
        [["Ann", "A", "ann@x.com", "false", "BE", "blue", "yes"], ["Bob", "B", "bob@x.com", "true", "NL", "red", "yes"]],
    )
    read = read_one(path, tmp_path, ReadOptions(mapping=UserMapping.load(mapping_file)))
    assert read.profile.name == "salesforce"
    assert outcomes(read) == {"ann@x.com": "marketing", "bob@x.com": "opted_out"}
    profile = read.profile.profile
    assert profile.route("Region") == "state"
    assert profile.route("Favourite colour").name == "acme_colour"

    reopen = tmp_path / "reopen.toml"
    reopen.write_text('[consent]\nopted_out_of_email = "marketing"\n', encoding="utf-8")
    with pytest.raises(InputError, match="opt-out"):
        read_one(path, tmp_path, ReadOptions(mapping=UserMapping.load(reopen)))


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("onramp_provenance", "Onramp sets that column itself"),
        ("outcome", "Onramp sets that column itself"),
        ("last_changed", "Onramp sets that column itself"),
        ("_source_row", "Onramp sets that column itself"),
        ("email", 'named by email = "<column>"'),
        (" ", "no property named"),
    ],
)
def test_a_mapping_to_a_column_onramp_sets_is_refused_naming_its_line(tmp_path, target, why):
    mapping_file = tmp_path / "mapping.toml"
    mapping_file.write_text(f'email = "Work Email"\n[columns]\nRegion = "state"\n"First Name" = "{target}"\n', encoding="utf-8")
    with pytest.raises(InputError) as refused:
        UserMapping.load(mapping_file)
    assert str(refused.value).startswith(f"{mapping_file}:4: column 'First Name' cannot go to {target.strip()!r}: ")
    assert why in str(refused.value)


def test_a_mixed_run_merges_by_email_and_the_most_restrictive_outcome_wins(tmp_path):
    mailchimp = write_csv(tmp_path / "subscribed_members_export_ab.csv", ["Email Address", "First Name", "LEID"], [["fran@x.com", "Fran", "1"], ["new@x.com", "New", "2"]])
    cc = write_csv(tmp_path / "cc.csv", CC_HEADERS, [cc_record("FRAN@x.com", "Active", ""), cc_record("cc@x.com", "Active", "")])
    salesforce = write_csv(tmp_path / "sf.csv", ["Email", "FirstName", "HasOptedOutOfEmail"], [[" fran@x.com ", "Françoise", "true"], ["cc@x.com", "Cee", "false"]])
    files = [read for path in (mailchimp, cc, salesforce) for read in read_source(str(path), tmp_path / "staging")]
    profiles = consent_profiles([f.profile.profile for f in files], {})
    report = plan_sources([f.raw for f in files], OutputFolder(str(tmp_path / "out")), profiles)
    # fran: subscribed (Mailchimp) + active (CC) + opted out (Salesforce) -> opted out;
    # cc@x.com: active (CC) + no consent column (Salesforce) -> non-marketing; new@x.com: marketing.
    assert report["contacts"] == {"marketing": 1, "non_marketing": 1, "opted_out": 1}
    assert report["duplicates_merged"] == 3
    plan = json.loads((tmp_path / "out" / "plan.json").read_text())
    assert [g["name"] for g in plan["property_groups"]] == ["mailchimp", "constantcontact", "salesforce", "onramp"]
    # Each custom property says which format's column it holds, not the run's first format.
    described = {p["groupName"]: p["description"].split(" column ")[0] for p in plan["properties"] if p["groupName"] != "onramp"}
    assert described == {"mailchimp": "Mailchimp", "constantcontact": "Constant Contact", "salesforce": "Salesforce"}


@pytest.mark.parametrize(("name", "outcome"), [("unsubscribed_members_export_ab.csv", "opted_out"), ("cleaned_email_audience_export_ab.csv", "opted_out"), ("subscribed_email_audience_export_ab.csv", "marketing")])
def test_a_mailchimp_file_is_known_by_its_name_whatever_its_headers(tmp_path, name, outcome):
    from tests.plain_plan import plan

    path = write_csv(tmp_path / name, ["Email Address", "First Name"], [["ann@x.com", "Ann"]])
    report = plan([str(path)], tmp_path / "out")
    assert report["sources"][0]["format"] == MAILCHIMP_FORMAT
    assert report["contacts"][outcome] == 1


def zip_folder(path: Path, folder: Path) -> Path:
    """``folder``'s files zipped as ``export/<name>``, as a person zips an export folder."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(folder.iterdir()):
            archive.write(file, f"export/{file.name}")
    return path


def planned(out: Path) -> dict[str, dict[str, dict[str, str]]]:
    """Every file the plan wrote under ``hubspot/``, as email → row."""
    files = {}
    for path in sorted((out / "hubspot").glob("*.csv")):
        rows = pl.read_csv(path, infer_schema=False, glob=False).iter_rows(named=True)
        files[path.name] = {row.get("email") or row["Email"]: row for row in rows}
    return files


def test_a_zip_of_constant_contact_xlsx_per_status_reads_like_the_files_given_one_by_one(tmp_path):
    headers = ["Email address", "First name", "Last name", "Phone - mobile", "Email Lists", "Created At", "Custom Field 1"]
    created = datetime.datetime(2020, 9, 25, 16, 45, 13)
    per_status = {
        "active.xlsx": [
            ["ann@x.com", "Ann", "Lee", "'+16193058111", "Newsletter, Customers", created, "blue"],
            ["not-an-email", "Bad", "Row", "", "", "", ""],
            ["fay@x.com", "Fay", "Wu", "", "", "", ""],
        ],
        "unsubscribed.xlsx": [["cat@x.com", "Cat", "Poe", "", "Newsletter", "", ""], ["FAY@x.com", "Fay", "", "", "", "", ""]],
        "awaiting_confirmation.xlsx": [["dan@x.com", "Dan", "Roe", "", "", "", ""]],
        "temporary_hold.xlsx": [["eve@x.com", "Eve", "", "", "", "", ""]],
    }  # fmt: skip
    folder = tmp_path / "files"
    folder.mkdir()
    for name, rows in per_status.items():
        write_xlsx(folder / name, {"Contacts": [headers, *rows]})
    (folder / "readme.txt").write_text("exported by hand", encoding="utf-8")
    # The zip's own name says "active": only each file's name gives its rows' status.
    export = zip_folder(tmp_path / "active_contacts_export.zip", folder)

    one_by_one = [read for path in sorted(folder.glob("*.xlsx")) for read in read_source(str(path), tmp_path / "staging")]
    zipped = read_source(str(export), tmp_path / "staging")
    assert [read.raw.uri for read in zipped] == [f"{export}!export/{path.name}#Contacts" for path in sorted(folder.glob("*.xlsx"))]
    assert [read.profile.name for read in zipped] == ["constantcontact"] * 4
    assert [outcomes(read) for read in zipped] == [outcomes(read) for read in one_by_one]

    report = plan_sources([read.raw for read in zipped], OutputFolder(str(tmp_path / "out")), consent_profiles([zipped[0].profile.profile], {}))
    assert report["rows_read"] == 7 and report["rows_rejected"] == 1 and report["duplicates_merged"] == 1
    # fay is active in one file and unsubscribed in another: the opt-out wins.
    assert report["contacts"] == {"marketing": 1, "non_marketing": 2, "opted_out": 2}
    assert {(s["uri"].rsplit("/", 1)[-1], s["status"], s["rows"], s["rejected"]) for s in report["sources"]} == {
        ("active.xlsx#Contacts", "active", 3, 1),
        ("awaiting_confirmation.xlsx#Contacts", "pending_confirmation", 1, 0),
        ("temporary_hold.xlsx#Contacts", "temp_hold", 1, 0),
        ("unsubscribed.xlsx#Contacts", "unsubscribed", 2, 0),
    }
    [reject] = pl.read_csv(tmp_path / "out" / "rejects.csv", infer_schema=False).iter_rows(named=True)
    assert (reject["source"], reject["row"], reject["reason"]) == (f"{export}!export/active.xlsx#Contacts", "3", "invalid email address")
    assert (reject["Email address"], reject["First name"]) == ("not-an-email", "Bad")
    files = planned(tmp_path / "out")
    assert set(files["opt-out-unsubscribed.csv"]) == {"cat@x.com", "fay@x.com"}
    assert set(files["contacts-non-marketing-001.csv"]) == {"dan@x.com", "eve@x.com"}
    assert files["contacts-non-marketing-001.csv"]["dan@x.com"]["lastname"] == "Roe"
    ann = files["contacts-marketing-001.csv"]["ann@x.com"]
    assert (ann["firstname"], ann["lastname"], ann["mobilephone"]) == ("Ann", "Lee", "+16193058111")
    assert (ann["constantcontact_email_lists"], ann["constantcontact_custom_field_1"]) == ("Newsletter;Customers", "blue")
    # A date cell carries no offset: it is read as UTC.
    assert ann["constantcontact_created_at"] == str(int(created.replace(tzinfo=datetime.UTC).timestamp() * 1000))


def test_a_folder_with_a_crm_workbook_and_a_csv_reads_both_with_their_consent_columns(tmp_path):
    folder = tmp_path / "crm"
    folder.mkdir()
    write_xlsx(
        folder / "salesforce_contacts.xlsx",
        {
            "Notes": [["Exported on", "2024-01-02"]],
            "Contacts": [
                ["FirstName", "LastName", "Email", "Phone", "HasOptedOutOfEmail", "IsEmailBounced", "LastModifiedDate"],
                ["Ann", "Lee", "ann@x.com", "'+1 619 305 8111", "false", "false", "2024-01-02T10:20:30.000+0000"],
                ["Bob", "Ray", "bob@x.com", "", "true", "false", ""],
                ["Cy", "Li", "", "", "false", "false", ""],
            ],
        },
    )
    write_csv(
        folder / "pipedrive_people.csv",
        ["Person - Name", "Person - First name", "Person - Email - Work", "Person - Marketing status", "Person - Organization"],
        [["Dee Day", "Dee", "dee@x.com", "Subscribed", "Acme"], ["Ann Lee", "Annie", "ann@x.com", "Subscribed", "Acme"]],
    )
    (folder / "~$salesforce_contacts.xlsx").write_bytes(b"\x0bJane Doe" + b"\x00" * 40)  # Excel's lock file

    reads = read_source(str(folder), tmp_path / "staging")
    assert [(read.raw.uri, read.profile.name) for read in reads] == [
        (f"{folder}/pipedrive_people.csv", "pipedrive"),
        (f"{folder}/salesforce_contacts.xlsx#Contacts", "salesforce"),
    ]
    profiles = consent_profiles([read.profile.profile for read in reads], {})
    report = plan_sources([read.raw for read in reads], OutputFolder(str(tmp_path / "out")), profiles)
    assert report["rows_read"] == 5 and report["rows_rejected"] == 1 and report["duplicates_merged"] == 1
    # ann: subscribed in Pipedrive, no consent in Salesforce -> the more restrictive non-marketing.
    assert report["contacts"] == {"marketing": 1, "non_marketing": 1, "opted_out": 1}
    [reject] = pl.read_csv(tmp_path / "out" / "rejects.csv", infer_schema=False).iter_rows(named=True)
    assert (reject["source"], reject["row"], reject["reason"]) == (f"{folder}/salesforce_contacts.xlsx#Contacts", "4", "no email address")
    files = planned(tmp_path / "out")
    assert files["contacts-marketing-001.csv"]["dee@x.com"]["company"] == "Acme"
    ann = files["contacts-non-marketing-001.csv"]["ann@x.com"]
    assert ann["phone"] == "+1 619 305 8111" and ann["lastname"] == "Lee"
    assert set(next(iter(v for k, v in files.items() if k.startswith("opt-out-")))) == {"bob@x.com"}


def test_a_repeated_email_header_in_a_crm_file_keeps_every_address_of_a_row(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text("Email,First Name,Email\na@x.com,Ann,b@x.com\n,Cy,c@x.com\n", encoding="utf-8")
    [read] = read_source(str(path), tmp_path / "staging")
    assert read.raw.frame.select("Email").collect().to_series().to_list() == ["a@x.com, b@x.com", "c@x.com"]


GIVEN_TWICE = "given twice"


def read_all(sources: Sequence[str], tmp_path: Path) -> list[ReadFile]:
    """Every file of the sources, refused if one is read twice, as a run reads them."""
    files = [read for source in sources for read in read_source(source, tmp_path / "staging")]
    refuse_files_read_twice(files)
    return files


def test_one_file_reached_twice_is_refused_naming_both_names(tmp_path, monkeypatch):
    folder = tmp_path / "export"
    folder.mkdir()
    write_csv(folder / "a.csv", ["Email", "First Name"], [["a@x.com", "Ann"]])
    write_csv(folder / "b.csv", ["Email", "First Name"], [["b@x.com", "Bob"]])
    write_xlsx(tmp_path / "book.xlsx", {"Contacts": [["Email", "First Name"], ["c@x.com", "Cy"]]})
    archive = zip_folder(tmp_path / "export.zip", folder)
    monkeypatch.chdir(tmp_path)

    with pytest.raises(InputError, match=f"^export/a.csv: {GIVEN_TWICE}: its rows would be counted twice"):
        read_all(["export/a.csv", "export/a.csv"], tmp_path)
    with pytest.raises(InputError, match=rf"^export/a.csv: {GIVEN_TWICE} \(as {folder}/a.csv too\)"):
        read_all([str(folder / "a.csv"), "export/a.csv"], tmp_path)
    with pytest.raises(InputError, match=f"^export/a.csv: {GIVEN_TWICE}"):
        read_all(["export", "export/a.csv"], tmp_path)
    with pytest.raises(InputError, match=rf"^export.zip!export/a.csv: {GIVEN_TWICE} \(as {archive}!export/a.csv too\)"):
        read_all([str(archive), "export.zip"], tmp_path)
    with pytest.raises(InputError, match=f"^book.xlsx#Contacts: {GIVEN_TWICE}"):
        read_all(["book.xlsx#Contacts", "book.xlsx"], tmp_path)
    # Within one source too (what `onramp inspect` reads): a symlink beside its file.
    (folder / "link.csv").symlink_to(folder / "a.csv")
    with pytest.raises(InputError, match=rf"^export/link.csv: {GIVEN_TWICE} \(as export/a.csv too\)"):
        read_source("export", tmp_path / "staging")
    # A zip's copy of a file is another file; two sheets of a workbook are two tables.
    (folder / "link.csv").unlink()
    write_xlsx(tmp_path / "book.xlsx", {"Contacts": [["Email"], ["c@x.com"]], "Leads": [["Email"], ["d@x.com"]]})
    assert len(read_all(["export", "export.zip", "book.xlsx"], tmp_path)) == 6


def test_a_tsv_in_a_folder_is_read_and_what_is_not_read_is_carried_to_the_plan(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    write_csv(folder / "contacts.tsv", ["Email", "First Name"], [["a@x.com", "Ann, Jr"]], delimiter="\t")
    (folder / "README.txt").write_text("exported from the CRM", encoding="utf-8")

    [read] = read_source(str(folder), tmp_path / "staging")

    assert (read.raw.uri, read.layout.delimiter) == (f"{folder}/contacts.tsv", "\t")
    assert read.raw.frame.collect().get_column("First Name").to_list() == ["Ann, Jr"]
    assert read.raw.skipped_files == (SkippedFile(f"{folder}/README.txt", "not a CSV or TSV file or workbook, nor a table: its first line names no email column"),)


def test_a_header_with_invisible_characters_around_it_names_its_column(tmp_path):
    # Pasted from a web page: a zero-width space, a word joiner, a soft hyphen around the name;
    # a zero-width non-joiner inside a Persian name is spelling, kept.
    headers = ["Email", "\u200bFirst Name", "Last Name\u2060 ", "\u00adUnsubscribed", "نام\u200cخانوادگی"]
    rows = [["ann@x.com", "Ann", "Lee", "yes", "ا"], ["bob@x.com", "Bob", "Ray", "", "ب"]]
    read = read_one(write_csv(tmp_path / "contacts.csv", headers, rows), tmp_path)

    assert read.raw.headers == ["Email", "First Name", "Last Name", "Unsubscribed", "نام\u200cخانوادگی"]
    assert outcomes(read) == {"ann@x.com": "opted_out", "bob@x.com": "non_marketing"}
