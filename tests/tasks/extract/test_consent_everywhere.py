"""An opt-out is final wherever a file writes it: another source's consent column in a file no
profile's headers identify, the file's name or its sheet's, an opt-out flag holding a date."""

from __future__ import annotations

import pytest

from schemas.lineage import SOURCE_STATUS
from tasks.errors import InputError
from tasks.extract.mailchimp import KEEPS_MOST_RESTRICTIVE
from tasks.extract.tables import ReadOptions, read_source
from tasks.inspect import inspect_source
from tasks.output import OutputFolder
from tasks.plan import consent_profiles, plan_sources
from tasks.report import source_warnings
from tasks.transform.catalog import reading_profile
from tasks.transform.mapping_file import UserMapping
from tests.tasks.extract.test_tables import outcomes, read_one, write_csv, write_xlsx

# Files with one or two of a source's columns beside the email: too few of its identifying
# headers for the source to be detected, but a consent column only that source's profile reads.
NARROW_EXPORTS = [
    # file, headers, rows, the profile that reads them, each row's outcome
    ("ac.csv", ["Email", "Name", "List Status"], [["acl@x.com", "A", "Unsubscribed"]], "activecampaign", {"acl@x.com": "opted_out"}),
    ("brevo.csv", ["Email", "First Name", "EMAIL_BLACKLISTED"], [["bv@x.com", "B", "Yes"]], "brevo", {"bv@x.com": "opted_out"}),
    (
        "hubspot_bounces.csv", ["Email", "First Name", "Email hard bounce reason"], [["hb@x.com", "H", "Mailbox does not exist"]],
        "hubspot", {"hb@x.com": "opted_out"},
    ),
    (
        "klaviyo_profiles.csv", ["Email", "First Name", "Email Suppressions"], [["ks1@x.com", "K", '["HARD_BOUNCE"]'], ["ks2@x.com", "K", "[]"]],
        "klaviyo", {"ks1@x.com": "opted_out", "ks2@x.com": "non_marketing"},
    ),
    ("pipedrive.csv", ["Email", "Person - Marketing status"], [["pd@x.com", "Unsubscribed"]], "pipedrive", {"pd@x.com": "opted_out"}),
]  # fmt: skip


def write_french_brevo(path):
    """Brevo's French export: semicolons, Windows-1252, ``LISTE_NOIRE`` for the blacklist flag."""
    rows = [["fr1@x.fr", "Côté", "René", "+33612345678", "Oui"], ["fr2@x.fr", "Dupont", "Marie", "", "Non"]]
    return write_csv(path, ["EMAIL", "NOM", "PRENOM", "SMS", "LISTE_NOIRE"], rows, delimiter=";", encoding="cp1252")


@pytest.mark.parametrize(("name", "headers", "rows", "profile", "expected"), NARROW_EXPORTS, ids=[e[0] for e in NARROW_EXPORTS])
def test_a_consent_column_only_one_profile_reads_is_read_with_that_profiles_rules(tmp_path, name, headers, rows, profile, expected):
    read = read_one(write_csv(tmp_path / name, headers, rows), tmp_path)
    assert (read.profile.name, read.profile.consent_from, outcomes(read)) == ("generic", profile, expected)


@pytest.mark.parametrize(
    ("consent_column", "cell", "lender", "outcome"),
    [("EMAIL_BLACKLISTED", "true", "brevo", "opted_out"), ("List Status", "Unsubscribed", "activecampaign", "opted_out"),
     ("Email Suppressions", "[]", "klaviyo", "non_marketing")],
)  # fmt: skip
def test_a_plain_file_borrowing_a_consent_column_keeps_the_generic_properties(tmp_path, consent_column, cell, lender, outcome):
    # The columns go where every run before wrote them (firstname, imported_...): only the
    # consent column is read as its source reads it.
    headers = ["Email", "First Name", "Last Name", "Fav Colour", consent_column]
    read = read_one(write_csv(tmp_path / "crm.csv", headers, [["a@x.com", "Ann", "Lee", "red", cell]]), tmp_path)
    routes = read.profile.profile.routes(headers[1:4])
    assert (routes["First Name"], routes["Last Name"], routes["Fav Colour"].name) == ("firstname", "lastname", "imported_fav_colour")
    assert routes["Fav Colour"].group == "imported"
    assert (read.profile.consent_from, read.raw.format, outcomes(read)) == (lender, f"generic-csv+{lender}", {"a@x.com": outcome})


def test_files_borrowing_from_different_profiles_keep_their_own_consent_tables(tmp_path):
    paths = [
        write_csv(tmp_path / "a.csv", ["Email", "First Name", "EMAIL_BLACKLISTED"], [["bl@x.com", "B", "true"]]),
        write_csv(tmp_path / "b.csv", ["Email", "First Name", "List Status"], [["ls@x.com", "L", "Active"]]),
        write_csv(tmp_path / "c.csv", ["Email", "First Name"], [["pl@x.com", "P"]]),
    ]
    reads = [read for path in paths for read in read_source(str(path), tmp_path / "staging")]
    profiles = consent_profiles([read.profile.profile for read in reads], {})
    report = plan_sources([read.raw for read in reads], OutputFolder(str(tmp_path / "out")), profiles)
    # Brevo's "blacklisted" and ActiveCampaign's "active" are each read under their own table.
    assert report["contacts"] == {"opted_out": 1, "marketing": 1, "non_marketing": 1}


def test_a_french_brevo_export_is_read_for_its_blacklist_flag(tmp_path):
    read = read_one(write_french_brevo(tmp_path / "contacts.csv"), tmp_path)
    assert (read.profile.consent_from or read.profile.name, outcomes(read)) == ("brevo", {"fr1@x.fr": "opted_out", "fr2@x.fr": "non_marketing"})


def test_a_run_making_no_consent_marketing_leaves_every_opt_out_opted_out(tmp_path):
    paths = [write_csv(tmp_path / name, headers, rows) for name, headers, rows, _, _ in NARROW_EXPORTS]
    paths += [write_french_brevo(tmp_path / "brevo_fr.csv"), write_csv(tmp_path / "plain.csv", ["Email", "Name"], [["plain@x.com", "P"]])]
    reads = [read for path in paths for read in read_source(str(path), tmp_path / "staging")]
    profiles = consent_profiles([read.profile.profile for read in reads], {"no_consent": "marketing"})
    report = plan_sources([read.raw for read in reads], OutputFolder(str(tmp_path / "out")), profiles)
    # The plain list's row is the one the re-map makes marketing; ks2 and fr2 are no opt-outs.
    assert report["contacts"] == {"marketing": 1, "non_marketing": 2, "opted_out": 6}


def test_consent_columns_no_one_profile_reads_all_of_are_refused_naming_them(tmp_path):
    path = write_csv(tmp_path / "list.csv", ["Email", "List Status", "EMAIL_BLACKLISTED"], [["a@x.com", "Active", "Yes"]])
    with pytest.raises(InputError) as refused:
        read_source(str(path), tmp_path / "staging")
    assert str(refused.value) == (
        f"{path}:1: the generic profile does not read its consent columns (List Status, EMAIL_BLACKLISTED), so their "
        "opt-outs would be lost, and no one profile reads all its consent columns: the activecampaign profile reads "
        "List Status (--profile activecampaign), and a mapping's [[status.rules]] can read EMAIL_BLACKLISTED"
    )


def test_a_generic_column_beside_another_profiles_consent_column_is_refused(tmp_path):
    # Klaviyo does not read "Status", the generic profile does not read "Email Suppressions".
    path = write_csv(tmp_path / "list.csv", ["Email", "Status", "Email Suppressions"], [["a@x.com", "Unsubscribed", "[]"]])
    with pytest.raises(InputError, match=r"list\.csv:1: the generic profile does not read its consent columns \(Email Suppressions\)"):
        read_source(str(path), tmp_path / "staging")


def test_a_mapping_rule_reading_the_other_column_lets_the_file_be_read(tmp_path):
    path = write_csv(tmp_path / "list.csv", ["Email", "List Status", "EMAIL_BLACKLISTED"], [["a@x.com", "Active", "Yes"], ["b@x.com", "Active", ""]])
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        'profile = "activecampaign"\n[[status.rules]]\ncolumns = ["EMAIL_BLACKLISTED"]\nwhen_true = "blacklisted"\n'
        '[consent]\nblacklisted = "opted_out"\n',
        encoding="utf-8",
    )
    read = read_one(path, tmp_path, ReadOptions(mapping=UserMapping.load(mapping)))
    assert outcomes(read) == {"a@x.com": "opted_out", "b@x.com": "marketing"}


OPT_OUT_NAMES = [
    ("unsubscribes.csv", "unsubscribed"),
    ("unsubscribed.csv", "unsubscribed"),
    ("Unsubscribed_contacts.csv", "unsubscribed"),
    ("bounces.csv", "bounced"),
    ("bounced_contacts_2024.csv", "bounced"),
    ("opt-outs.csv", "unsubscribed"),
    ("Suppression list.csv", "unsubscribed"),
    ("blocklist.csv", "unsubscribed"),
    ("spam_complaints.csv", "unsubscribed"),
]


@pytest.mark.parametrize("headers", [["Email"], ["Email address", "First name", "Last name"]], ids=["plain", "constant-contact-names"])
@pytest.mark.parametrize(("name", "status"), OPT_OUT_NAMES)
def test_a_file_named_for_its_opt_outs_opts_them_out_without_a_profile_named(tmp_path, headers, name, status):
    path = write_csv(tmp_path / name, headers, [["a@x.com", *([""] * (len(headers) - 1))]])
    read = read_one(path, tmp_path)
    assert read.profile.name == "generic"
    assert read.raw.frame.select(SOURCE_STATUS).collect().to_series().to_list() == [status]
    assert outcomes(read) == {"a@x.com": "opted_out"}


def test_inspect_shows_the_opt_out_a_file_name_gives(tmp_path):
    [entry] = inspect_source(str(write_csv(tmp_path / "bounces.csv", ["Email", "First Name"], [["a@x.com", "Ann"]])))
    assert entry["status_counts"] == [{"status": "bounced", "outcome": "opted_out", "rows": 1}]


def test_a_name_saying_no_opt_out_leaves_a_plain_list_without_consent(tmp_path):
    read = read_one(write_csv(tmp_path / "subscribers.csv", ["Email"], [["a@x.com"]]), tmp_path)
    assert outcomes(read) == {"a@x.com": "non_marketing"}


CC_STATUS_HEADERS = ["Email address", "First name", "Last name", "Email status", "Email permission status", "Email Lists"]


@pytest.mark.parametrize(
    ("name", "status", "permission", "expected"),
    [
        # A name's opt-out the row's columns contradict is neither taken nor dropped.
        ("bounces.csv", "Active", "Implied permission", "name_disagrees"),
        ("unsubscribed.csv", "Active", "Express permission", "name_disagrees"),
        ("bounce-fitness-contacts.csv", "Active", "Implied permission", "name_disagrees"),
        # A row's own opt-out, or a row whose consent cells are empty, keeps the name's.
        ("bounces.csv", "Unsubscribed", "", "unsubscribed"),
        ("bounces.csv", "", "", "bounced"),
        # A value no rule reads contradicts the name as a less restrictive one does.
        ("bounces.csv", "Deleted", "", "name_disagrees"),
        # A name saying no opt-out never out-votes a column.
        ("duplicates_removed.csv", "Active", "Express permission", "active"),
        ("pending.csv", "Active", "", "active"),
        # A name saying active never out-votes a row's opt-out either.
        ("active.csv", "Unsubscribed", "", "unsubscribed"),
        # Of equally restrictive readings, the column's is the more precise.
        ("active.csv", "", "Express permission", "explicit"),
    ],
)
def test_a_status_column_and_the_file_name_read_together(tmp_path, name, status, permission, expected):
    path = write_csv(tmp_path / name, CC_STATUS_HEADERS, [["a@x.com", "Ann", "A", status, permission, "Newsletter"]])
    read = read_one(path, tmp_path)
    assert read.profile.name == "constantcontact"
    assert read.raw.frame.select(SOURCE_STATUS).collect().to_series().to_list() == [expected]


def test_a_generic_file_named_for_bounces_whose_email_status_says_active_is_non_marketing_with_a_warning(tmp_path):
    rows = [["a@x.com", "Active"], ["b@x.com", "Subscribed"], ["c@x.com", "Unsubscribed"], ["d@x.com", ""]]
    read = read_one(write_csv(tmp_path / "bounces.csv", ["Email", "Email Status"], rows), tmp_path)
    assert (read.profile.name, outcomes(read)) == (
        "generic", {"a@x.com": "non_marketing", "b@x.com": "non_marketing", "c@x.com": "opted_out", "d@x.com": "opted_out"}
    )
    report = plan_sources([read.raw], OutputFolder(str(tmp_path / "out")), consent_profiles([read.profile.profile], {}))
    assert source_warnings(report) == [
        f"warning: {read.raw.uri}: its name says bounced, but 2 row(s) read active/subscribed from their columns (Email Status): "
        "planned non-marketing (neither opted out nor marketing); if they did opt out, --consent name_disagrees=opted_out "
        "says so; if the name is no opt-out, rename the file",
        f"warning: {read.raw.uri}: its name says bounced: 1 row(s) no column reads are opted out",
    ]


@pytest.mark.parametrize(
    "name",
    ["Bounce_Trampoline_Parks_newsletter.csv", "bounce-fitness-contacts.csv", "spam_complaints.csv"],
)
def test_a_name_saying_an_opt_out_never_opts_out_a_row_its_column_says_is_subscribed(tmp_path, name):
    read = read_one(write_csv(tmp_path / name, ["Email", "Subscription Status"], [["a@x.com", "Subscribed"]]), tmp_path)
    assert read.raw.frame.select(SOURCE_STATUS).collect().to_series().to_list() == ["name_disagrees"]
    assert outcomes(read) == {"a@x.com": "non_marketing"}


@pytest.mark.parametrize(
    ("name", "sheet"),
    [
        ("spam-free-weekly-digest.csv", None), ("contacts_no_bounces.csv", None), ("newsletter_minus_unsubscribes.csv", None),
        ("antispam_tips.csv", None), ("Suppressor_club.csv", None), ("non-bounced.csv", None), ("bounces_removed.csv", None),
        ("without_unsubscribes.csv", None), ("not-spam.csv", None), ("anti spam.csv", None), ("members.xlsx", "Bouncers"),
    ],
)  # fmt: skip
def test_a_name_holding_an_opt_out_word_only_inside_a_word_or_negated_says_nothing(name, sheet):
    assert reading_profile("generic").name_status(name, sheet) is None
    # Constant Contact's own "removed" status is no opt-out.
    assert reading_profile("constantcontact").name_status(name, sheet) in (None, "removed")


def test_a_workbook_sheet_named_for_a_status_gives_its_rows_that_status(tmp_path):
    headers = ["Email address", "First name", "Last name", "Email Lists"]
    workbook = write_xlsx(
        tmp_path / "contacts.xlsx",
        {
            "Active": [headers, ["sa@x.com", "A", "L", "Newsletter"]],
            "Unsubscribed": [headers, ["su@x.com", "U", "L", "Newsletter"]],
            "Bounced": [headers, ["sb@x.com", "B", "L", "Newsletter"]],
            "Suppressed": [["Email", "Name"], ["ss@x.com", "S"]],
        },
    )
    reads = read_source(str(workbook), tmp_path / "staging")
    assert {read.raw.uri.rpartition("#")[2]: (read.profile.name, outcomes(read)) for read in reads} == {
        "Active": ("constantcontact", {"sa@x.com": "marketing"}),
        "Unsubscribed": ("constantcontact", {"su@x.com": "opted_out"}),
        "Bounced": ("constantcontact", {"sb@x.com": "opted_out"}),
        "Suppressed": ("generic", {"ss@x.com": "opted_out"}),
    }


def test_the_most_restrictive_word_of_the_file_and_sheet_names_wins():
    profile = reading_profile("constantcontact")
    assert profile.name_status("active.xlsx", "Unsubscribed") == "unsubscribed"
    assert profile.name_status("x.zip!unsubscribed.xlsx", "Active") == "unsubscribed"
    assert profile.name_status("pending_and_active.csv") == "pending_confirmation"
    assert profile.name_status("contacts.xlsx", "Sheet1") is None
    # A folder's name is not the file's.
    assert profile.name_status("bounced/contacts.csv") is None
    # Whole words only: each form a status takes is listed.
    assert profile.name_status("hardbounces.csv") == "bounced"
    assert profile.name_status("Bounced_contacts.csv") == "bounced"
    assert profile.name_status("duplicates_removed.csv") == "removed"
    assert profile.name_status("contacts.xlsx", "Inactive") is None
    assert profile.name_status("inactive_members.csv") is None
    assert profile.name_status("contacts.xlsx", "Active 2024") == "active"


FLAG_CELLS = [
    # an opt-out flag's cell, the row's outcome
    *((cell, "opted_out") for cell in ["Yes", "TRUE", "1", "x", "checked", "on", "Oui", "ja", "Sí", "si", "sim", "2024-03-01",
                                       "01/03/2024", "2024-03-01 10:00:00", "2024-03-01T10:00:00Z", "3/4/2024 1:05 PM"]),
    *((cell, "non_marketing") for cell in ["", "no", "false", "0", "n", "NULL", "N/A", "na", "none", "-", "unchecked", "nee",
                                           "não", "nao", "nein", "non", "faux", "falso", "off", "blank"]),
    # Neither set nor unset: unrecognised, never an opt-out on a guess ("-1" is true to some databases only).
    *((cell, "non_marketing") for cell in ["hard", "-1", "maybe"]),
]  # fmt: skip


@pytest.mark.parametrize("header", ["Unsubscribed", "Bounced"])
def test_a_generic_opt_out_flag_is_set_by_a_yes_word_or_a_date_only(tmp_path, header):
    rows = [[f"r{n}@x.com", cell] for n, (cell, _) in enumerate(FLAG_CELLS)]
    read = read_one(write_csv(tmp_path / "people.csv", ["Email", header], rows), tmp_path)
    assert read.profile.name == "generic"
    assert outcomes(read) == {f"r{n}@x.com": outcome for n, (_, outcome) in enumerate(FLAG_CELLS)}


def test_an_opt_out_flag_value_neither_set_nor_unset_is_reported_unread(tmp_path):
    rows = [["a@x.com", "NULL"], ["b@x.com", "2024-03-01"], ["c@x.com", "hard"], ["d@x.com", "hard"]]
    read = read_one(write_csv(tmp_path / "people.csv", ["Email", "Bounced"], rows), tmp_path)
    report = plan_sources([read.raw], OutputFolder(str(tmp_path / "out")), consent_profiles([read.profile.profile], {}))
    assert report["sources"][0]["unread_status_values"] == [
        {"column": "Bounced", "value": "hard", "status": "unrecognised", "rows": 2, "outcome": "non_marketing"}
    ]


def test_a_bare_status_active_is_no_consent_and_is_reported_unread(tmp_path):
    rows = [["mem1@x.com", "Active", "Gold"], ["mem2@x.com", "Subscribed", "Silver"], ["mem3@x.com", "Unsubscribed", "Gold"]]
    read = read_one(write_csv(tmp_path / "members.csv", ["Email", "Status", "Membership Level"], rows), tmp_path)
    assert read.profile.name == "generic"
    assert outcomes(read) == {"mem1@x.com": "non_marketing", "mem2@x.com": "marketing", "mem3@x.com": "opted_out"}
    report = plan_sources([read.raw], OutputFolder(str(tmp_path / "out")), consent_profiles([read.profile.profile], {}))
    assert report["sources"][0]["unread_status_values"] == [
        {"column": "Status", "value": "active", "status": "unrecognised", "rows": 1, "outcome": "non_marketing"}
    ]


@pytest.mark.parametrize("header", ["Email Status", "Subscription Status", "Marketing Status"])
def test_active_in_a_column_named_for_email_or_subscriptions_is_marketing(tmp_path, header):
    read = read_one(write_csv(tmp_path / "list.csv", ["Email", header], [["a@x.com", "Active"]]), tmp_path)
    assert outcomes(read) == {"a@x.com": "marketing"}


def test_every_copy_of_a_repeated_consent_column_is_read_and_the_opt_out_kept(tmp_path):
    rows = [
        ["ann@x.com", "Ann", "Active", "Unsubscribed", "2024-01-01 10:00:00", "0"],
        ["bob@x.com", "Bob", "", "Bounced", "2024-01-01 10:00:00", "0"],
        ["cat@x.com", "Cat", "Active", "Active", "2024-01-01 10:00:00", "0"],
    ]
    headers = ["Email", "First Name", "Status", "Status", "Date Created", "Contact Score"]
    read = read_one(write_csv(tmp_path / "contacts.csv", headers, rows), tmp_path)
    assert read.profile.name == "activecampaign"
    assert outcomes(read) == {"ann@x.com": "opted_out", "bob@x.com": "opted_out", "cat@x.com": "marketing"}
    assert read.raw.keeps("Status") == KEEPS_MOST_RESTRICTIVE
    assert read.raw.frame.collect().get_column("Status").to_list() == ["Unsubscribed", "Bounced", "Active"]


def plan_warnings(read, tmp_path, overrides=None) -> list[str]:
    """The source warnings of planning one read file, with a run's ``--consent`` overrides."""
    report = plan_sources([read.raw], OutputFolder(str(tmp_path / "out")), consent_profiles([read.profile.profile], overrides or {}))
    return source_warnings(report)


@pytest.mark.parametrize(
    ("name", "headers", "rows", "expected"),
    [
        # A flag not set, a subscription column saying no, a membership status no rule reads:
        # each contradicts the name; only the row whose consent cells are empty takes it.
        (
            "unsubscribes.csv", ["Email", "Unsubscribed"], [["u1@x.com", "TRUE"], ["u2@x.com", "FALSE"], ["u3@x.com", ""]],
            {"u1@x.com": "unsubscribed", "u2@x.com": "name_disagrees", "u3@x.com": "unsubscribed"},
        ),
        (
            "Bounce_Trampoline_Parks_newsletter.csv", ["Email", "Subscribed"], [["t1@x.com", "no"], ["t2@x.com", "NULL"]],
            {"t1@x.com": "name_disagrees", "t2@x.com": "bounced"},
        ),
        (
            "Bounce_Trampoline_Parks_members.csv", ["Email", "Status"], [["m1@x.com", "Active"], ["m2@x.com", "Lapsed"]],
            {"m1@x.com": "name_disagrees", "m2@x.com": "name_disagrees"},
        ),
    ],
)  # fmt: skip
def test_a_name_opts_out_only_rows_whose_consent_cells_are_empty(tmp_path, name, headers, rows, expected):
    read = read_one(write_csv(tmp_path / name, headers, rows), tmp_path)
    assert dict(read.raw.frame.select(read.raw.email_column, SOURCE_STATUS).collect().iter_rows()) == expected
    disagreeing = sum(status == "name_disagrees" for status in expected.values())
    assert any(f"but {disagreeing} row(s) read" in line for line in plan_warnings(read, tmp_path))


def test_a_sheet_named_bounced_does_not_opt_out_a_row_whose_flag_is_not_set(tmp_path):
    workbook = write_xlsx(tmp_path / "book.xlsx", {"Bounced": [["Email", "Unsubscribed"], ["x1@x.com", "FALSE"], ["x2@x.com", ""]]})
    [read] = read_source(str(workbook), tmp_path / "staging")
    assert outcomes(read) == {"x1@x.com": "non_marketing", "x2@x.com": "opted_out"}


@pytest.mark.parametrize("cell", ["0000-00-00 00:00:00", "0000-00-00", "Never", "null", "n/a", "none", "-"])
@pytest.mark.parametrize("column", ["Unsubscribed At", "Do Not Email"])
def test_a_placeholder_date_or_null_word_is_no_opt_out(tmp_path, column, cell):
    rows = [["p@x.com", cell], ["d@x.com", "2024-03-01"]]
    read = read_one(write_csv(tmp_path / "crm.csv", ["Email", column], rows), tmp_path)
    assert outcomes(read) == {"p@x.com": "non_marketing", "d@x.com": "opted_out"}
    # Nothing unread is reported either: the cell holds nothing.
    assert plan_warnings(read, tmp_path) == []


def test_a_zero_date_in_a_file_named_for_opt_outs_takes_the_names_status(tmp_path):
    rows = [["z@x.com", "0000-00-00"], ["f@x.com", "false"]]
    read = read_one(write_csv(tmp_path / "unsubscribes.csv", ["Email", "Do Not Email"], rows), tmp_path)
    assert outcomes(read) == {"z@x.com": "opted_out", "f@x.com": "non_marketing"}


@pytest.mark.parametrize(
    ("status", "profile"), [("name_disagrees", "generic"), ("name_disagrees", "constantcontact"), ("opted_out_of_a_subscription", "hubspot")]
)
def test_evidence_of_an_opt_out_cannot_be_mapped_to_marketing(status, profile):
    policy = reading_profile(profile).profile.consent
    with pytest.raises(InputError, match=f"{status}' is evidence of an opt-out and cannot be mapped to marketing"):
        policy.with_overrides({status: "marketing"})
    assert policy.with_overrides({status: "opted_out"}).outcome_of(status).value == "opted_out"
    assert policy.with_overrides({status: "non_marketing"}).outcome_of(status).value == "non_marketing"


def test_the_name_disagrees_warning_says_the_outcome_planned(tmp_path):
    read = read_one(write_csv(tmp_path / "bounces.csv", ["Email", "Email Status"], [["a@x.com", "Active"]]), tmp_path)
    [line] = plan_warnings(read, tmp_path, {"name_disagrees": "opted_out"})
    assert "planned opted out (--consent name_disagrees=opted_out)" in line
    assert "non-marketing" not in line


@pytest.mark.parametrize(
    ("name", "headers", "rows", "warning"),
    [
        ("Customer Complaints 2024.csv", ["Email", "Ticket"], [["c1@x.com", "Late"], ["c2@x.com", "Rude"]], "its name says unsubscribed: 2 row(s)"),
        ("Bounce House Rentals - leads.csv", ["Email", "Company"], [["h1@x.com", "Jumpy"]], "its name says bounced: 1 row(s)"),
        # Only the rows no column reads: the one whose flag is set is opted out by its column.
        ("unsubscribes.csv", ["Email", "Unsubscribed"], [["u1@x.com", "TRUE"], ["u2@x.com", ""]], "its name says unsubscribed: 1 row(s)"),
    ],
)  # fmt: skip
def test_a_name_alone_opting_out_rows_is_reported(tmp_path, name, headers, rows, warning):
    read = read_one(write_csv(tmp_path / name, headers, rows), tmp_path)
    assert plan_warnings(read, tmp_path) == [f"warning: {read.raw.uri}: {warning} no column reads are opted out"]


@pytest.mark.parametrize(
    ("name", "word", "negation"),
    [("Unsubscribed_non-members.csv", "unsubscribed", "non"), ("bounces_removed_from_list.csv", "bounces", "removed")],
)
def test_a_status_word_a_negation_cancels_is_reported(tmp_path, name, word, negation):
    read = read_one(write_csv(tmp_path / name, ["Email", "First Name"], [["a@x.com", "Ann"]]), tmp_path)
    assert outcomes(read) == {"a@x.com": "non_marketing"}
    assert plan_warnings(read, tmp_path) == [
        f"warning: {read.raw.uri}: its name mentions {word!r} beside {negation!r}: not read as a status"
    ]
