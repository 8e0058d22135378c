"""A mapping file's mistakes: each refused before any source is read, in one line naming the line."""

from __future__ import annotations

import pytest

from tasks.errors import InputError
from tasks.transform.catalog import StatusRule
from tasks.transform.consent import EVERY_PROFILE_HOLDS, OWN_STATUS_HINT
from tasks.transform.mapping_file import UserMapping
from tests.flows.test_cli import assert_one_line_error, run

RULE = '[[status.rules]]\ncolumns = ["Newsletter"]\nwhen_true = "newsletter"\n'


@pytest.mark.parametrize(
    ("name", "text", "line", "problem"),
    [
        # Values of the wrong type, in either format.
        ("m.toml", "email = 5\n", 1, "email must be text, not a number (5)"),
        ("m.yaml", "email: [a]\n", 1, 'email must be text, not a list (["a"])'),
        ("m.yaml", "profile: 7\n", 1, "profile must be text, not a number (7)"),
        ("m.toml", '[columns]\n"First Name" = 5\n', 2, 'columns."First Name" must be text, not a number (5)'),
        ("m.yaml", "columns:\n  First Name: [1, 2]\n", 2, 'columns."First Name" must be text, not a list ([1, 2])'),
        ("m.yaml", 'columns: "oops"\n', 1, 'columns must be a table, not text ("oops")'),
        ("m.yaml", "- a\n", 1, 'the mapping file must be a table, not a list (["a"])'),
        ("m.toml", "status = 5\n", 1, "status must be a table, not a number (5)"),
        ("m.yaml", "status:\n  rules:\n    - columns: 5\n      when_true: x\n", 3, "status.rules[1].columns must be a list, not a number (5)"),
        ("m.yaml", "status:\n  rules:\n    - columns: [A]\n      values: [a, b]\n", 4, 'status.rules[1].values must be a table, not a list (["a", "b"])'),
        ("m.yaml", "columns:\n  Region: state\n  2024: year\n", 3, "the key 2024 in columns must be text, not a number (2024): put it in quotes"),
        ("m.toml", 'email = " "\n', 1, "email is empty"),
        # Unknown keys: a misspelt section, or a misspelt key in the second rule (its own line).
        ("m.toml", '[colums]\n"First Name" = "firstname"\n', 1, "unknown key 'colums' (did you mean 'columns'?)"),
        ("m.toml", f'{RULE}\n[[status.rules]]\ncolumns = ["VIP"]\nwhen_ture = "vip"\n', 7, "unknown key 'when_ture' in status.rules[2] (did you mean 'when_true'?)"),
        ("m.yaml", "status:\n  rulez: []\n", 2, "unknown key 'rulez' in status (did you mean 'rules'?)"),
        ("m.toml", "rules = []\n", 1, "unknown key 'rules' (known keys: profile, email, date_order, columns, status, consent)"),
        # Rules that read nothing or give a status nothing gives an outcome.
        ("m.yaml", "status:\n  rules:\n    - columns: [A]\n", 3, "status.rules[1]: a status rule needs values, when_true, when_set or when_present: this one reads nothing"),
        ("m.toml", '[[status.rules]]\ncolumns = []\nwhen_true = "x"\n[consent]\nx = "marketing"\n', 2, "status.rules[1].columns is empty: name at least one column"),
        (
            "m.toml",
            '[[status.rules]]\ncolumns = ["Do Not Mail"]\nwhen_true = "optout"\n',
            3,
            "status.rules[1].when_true: no outcome for the status 'optout': give it one under consent (marketing, non_marketing, opted_out)",
        ),
        (
            "m.toml",
            '[[status.rules]]\ncolumns = ["Do Not Mail"]\nwhen_true = "unsubscribed"\n',
            3,
            "status.rules[1].when_true: no outcome for the status 'unsubscribed' in brevo, hubspot, salesforce, zoho: "
            "give it one under consent (marketing, non_marketing, opted_out)",
        ),
        # A misspelt status, in any kind of rule: named with the closest status that has an outcome.
        (
            "m.toml",
            '[[status.rules]]\ncolumns = ["Left At"]\nwhen_set = "unsubscibed"\n',
            3,
            "status.rules[1].when_set: no outcome for the status 'unsubscibed' (did you mean 'unsubscribed'?): "
            "give it one under consent (marketing, non_marketing, opted_out)",
        ),
        (
            "m.yaml",
            'status:\n  rules:\n    - columns: [Newsletter]\n      values: {"Y": newsleter}\nconsent:\n  newsletter: marketing\n',
            4,
            "status.rules[1].values.Y: no outcome for the status 'newsleter' (did you mean 'newsletter'?): "
            "give it one under consent (marketing, non_marketing, opted_out)",
        ),
        (
            "m.toml",
            'profile = "salesforce"\n[[status.rules]]\ncolumns = ["Unsubscribed"]\nwhen_present = "opted_out_of_emial"\n',
            4,
            "status.rules[1].when_present: no outcome for the status 'opted_out_of_emial' (did you mean 'opted_out_of_email'?): "
            "give it one under consent (marketing, non_marketing, opted_out)",
        ),
        # Targets HubSpot would not take as a property name.
        (
            "m.toml",
            '[columns]\n"First Name" = "Bad Name!"\n',
            2,
            "column 'First Name' cannot go to 'Bad Name!': a HubSpot property name is lowercase letters, digits and "
            "underscores, starting with a letter (did you mean 'bad_name'?)",
        ),
        (
            "m.toml",
            '[columns]\nRegion = "State"\n',
            2,
            "column 'Region' cannot go to 'State': a HubSpot property name is lowercase letters, digits and underscores, "
            "starting with a letter (did you mean 'state'?)",
        ),
        (
            "m.toml",
            '[columns]\n"Opted Out" = "hs_email_optout"\n',
            2,
            "column 'Opted Out' cannot go to 'hs_email_optout': that is HubSpot's consent: read a consent column with "
            "[[status.rules]] and [consent] instead",
        ),
        ("m.toml", '[columns]\n"Record ID" = "hs_object_id"\n', 2, "column 'Record ID' cannot go to 'hs_object_id': HubSpot sets that property itself (read-only): send the column to a property of your own"),
        ("m.toml", '[columns]\nJoined = "createdate"\n', 2, "column 'Joined' cannot go to 'createdate': HubSpot sets that property itself (read-only): send the column to a property of your own"),
        ("m.toml", '[columns]\nNews = "hs_email_optout_12345"\n', 2, "column 'News' cannot go to 'hs_email_optout_12345': that is HubSpot's consent: read a consent column with [[status.rules]] and [consent] instead"),
        ("m.toml", '[columns]\nScore = "5"\n', 2, "column 'Score' cannot go to '5': a HubSpot property name is lowercase letters, digits and underscores, starting with a letter"),
        ("m.toml", '[columns]\nRegion = "state"\n" region " = "zip"\n', 3, "column ' region ' is mapped twice (also as 'Region')"),
        # Profiles, outcomes and statuses, named in the file.
        (
            "m.toml",
            'profile = "salesforse"\n',
            1,
            "no profile 'salesforse' (did you mean 'salesforce'? profiles: activecampaign, brevo, constantcontact, generic, "
            "hubspot, klaviyo, mailchimp, pipedrive, salesforce, zoho)",
        ),
        ("m.toml", '[consent]\nsubscribed = "yes"\n', 2, 'consent.subscribed: unknown outcome "yes" (use marketing, non_marketing, opted_out)'),
        ("m.toml", '[consent]\nno_consent = "marketing"\nsubscrbed = "marketing"\n', 3, "no row can have the status 'subscrbed': did you mean 'subscribed'?"),
        ("m.toml", 'profile = "constantcontact"\n[consent]\nunsubscribed = "marketing"\n', 3, "status 'unsubscribed' is an opt-out in the constantcontact profile and cannot be mapped to marketing"),
        # Files that are not TOML, YAML or text at all.
        ("m.toml", '[columns\n"First Name" = "x"\n', 1, "not valid TOML: Expected ']' at the end of a table declaration"),
        ("m.yaml", "columns:\n  a: b\n c: d\n", 3, "not valid YAML: expected <block end>, but found '<block mapping start>'"),
    ],
)
def test_a_mistake_is_refused_in_one_line_naming_the_file_and_line(tmp_path, name, text, line, problem):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as refused:
        UserMapping.load(path)
    assert str(refused.value) == f"{path}:{line}: {problem}"


def test_an_opt_out_of_any_profile_stays_one_when_no_profile_is_named(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text('[consent]\nbounced = "non_marketing"\n', encoding="utf-8")
    with pytest.raises(InputError) as refused:
        UserMapping.load(path)
    assert str(refused.value) == (
        f"{path}:2: status 'bounced' is an opt-out in the activecampaign, constantcontact, generic, pipedrive profiles "
        f"({EVERY_PROFILE_HOLDS}) and cannot be mapped to non_marketing; {OWN_STATUS_HINT}"
    )


def test_the_first_mistake_in_the_file_is_the_one_named(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text('profile = "nope"\n[columns]\nRegion = "Bad!"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"m\.toml:1: no profile 'nope'"):
        UserMapping.load(path)


def test_a_file_that_is_not_utf8_or_missing_is_refused_without_python_wording(tmp_path):
    binary = tmp_path / "m.toml"
    binary.write_bytes(b'email = "a"\n\xff\xfe junk')
    with pytest.raises(InputError) as refused:
        UserMapping.load(binary)
    assert str(refused.value) == f"{binary}:2: not UTF-8 text (byte 0xff)"
    with pytest.raises(InputError) as refused:
        UserMapping.load(tmp_path / "missing.toml")
    assert str(refused.value) == f"{tmp_path / 'missing.toml'}: cannot read the mapping file: No such file or directory"


def test_a_status_the_named_profile_knows_keeps_its_outcome(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text('profile = "constantcontact"\n[[status.rules]]\ncolumns = ["Do Not Mail"]\nwhen_true = "unsubscribed"\n', encoding="utf-8")
    assert UserMapping.load(path).consent == {}


def test_a_well_formed_mapping_loads_in_either_format(tmp_path):
    toml = tmp_path / "m.toml"
    toml.write_text(
        'profile = "salesforce"\nemail = " Work Email "\n[columns]\n"Region" = " state "\n"Favourite colour" = "acme_colour"\n'
        f'{RULE}values = {{ Y = "newsletter" }}\n[consent]\nnewsletter = "marketing"\n',
        encoding="utf-8",
    )
    yaml = tmp_path / "m.yaml"
    yaml.write_text(
        "profile: salesforce\nemail: Work Email\ncolumns:\n  Region: state\n  Favourite colour: acme_colour\n"
        "status:\n  rules:\n    - columns: [Newsletter]\n      when_true: newsletter\n      values: {'Y': newsletter}\n"
        "consent:\n  newsletter: marketing\n",
        encoding="utf-8",
    )
    for path in (toml, yaml):
        mapping = UserMapping.load(path)
        assert (mapping.profile, mapping.email) == ("salesforce", "Work Email")
        assert mapping.columns == {"Region": "state", "Favourite colour": "acme_colour"}
        assert mapping.rules == (StatusRule(columns=("Newsletter",), values={"y": "newsletter"}, when_true="newsletter"),)
        assert mapping.consent == {"newsletter": "marketing"}


def test_an_empty_yaml_key_or_file_means_nothing_to_override(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("email:\ncolumns:\n", encoding="utf-8")
    assert UserMapping.load(path) == UserMapping()
    path.write_text("", encoding="utf-8")
    assert UserMapping.load(path) == UserMapping()


def test_a_column_no_file_of_the_run_has_is_refused_with_the_closest_headers(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text(f'email = "Work Email"\n[columns]\n"Frist Name" = "firstname"\n{RULE}[consent]\nnewsletter = "marketing"\n', encoding="utf-8")
    mapping = UserMapping.load(path)
    with pytest.raises(InputError) as refused:
        mapping.check_headers(["work email", "First Name", "Newsletter"])
    assert str(refused.value) == f"{path}:3: no file read has a column 'Frist Name': did you mean 'First Name'?"

    # A run mixing formats: each column is in one file or another, compared as headers are.
    mapping.check_headers(["Email", "Last Name", " WORK EMAIL", "frist name ", "Newsletter"])

    with pytest.raises(InputError) as refused:
        mapping.check_headers(["Work Email", "Frist Name", "Region"])
    assert str(refused.value) == f"{path}:5: no file read has a column 'Newsletter'"
    with pytest.raises(InputError, match=r"m\.toml:1: no file read has a column 'Work Email': did you mean 'Work Emial'\?"):
        mapping.check_headers(["Work Emial", "Frist Name", "Newsletter"])


def test_the_command_refuses_a_mistyped_mapping_with_exit_2_and_no_traceback(tmp_path):
    source = tmp_path / "people.csv"
    source.write_text("Email,First Name\na@x.com,Ann\n", encoding="utf-8")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("email: [a]\n", encoding="utf-8")
    assert_one_line_error(run(["inspect", str(source), "--mapping", str(mapping)]), 2, f"{mapping}:1: email must be text, not a list")


def test_a_plan_refuses_a_mapping_column_no_file_has_before_reading_a_row(tmp_path, prefect_api_url):
    source = tmp_path / "people.csv"
    source.write_text("Email,First Name\na@x.com,Ann\n", encoding="utf-8")
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[columns]\n"Frist Name" = "firstname"\n', encoding="utf-8")
    out = tmp_path / "out"
    result = run(["plan", str(source), "--mapping", str(mapping), "--out", str(out)], env={"PREFECT_API_URL": prefect_api_url})
    assert_one_line_error(result, 2, f"{mapping}:2: no file read has a column 'Frist Name'")
    assert not (out / "report.json").exists()


@pytest.mark.parametrize("profile", ["hubspot", "mailchimp"])  # a Mailchimp export's merge fields borrow them too
def test_a_mapping_may_confirm_an_unconfirmed_opt_out_flag_where_a_profile_borrows_flags(tmp_path, profile):
    path = tmp_path / "m.toml"
    path.write_text(f'profile = "{profile}"\n[consent]\nopt_out_flag_unconfirmed = "opted_out"\n', encoding="utf-8")
    assert UserMapping.load(path).consent == {"opt_out_flag_unconfirmed": "opted_out"}

    # The plain file's profile reads those flags as opt-outs itself: no row of it has that status.
    path.write_text('profile = "generic"\n[consent]\nopt_out_flag_unconfirmed = "opted_out"\n', encoding="utf-8")
    with pytest.raises(InputError, match="no row can have the status 'opt_out_flag_unconfirmed'"):
        UserMapping.load(path)
