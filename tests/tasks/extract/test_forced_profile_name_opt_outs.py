"""A profile named for a file (``--profile``, a mapping's ``profile``) must read the opt-out its
name gives, whatever columns it reads: a plain opt-out flag it borrows (an empty merge field
``Bounced``) holds nothing for a row the name opts out. Mailchimp reads its export's names; no
refusal advises a profile that would lose them. And a mapping's ``[[status.rules]]`` reading a
column named like an opt-out flag reads it beside the flag, never lifting a set flag to marketing."""

from __future__ import annotations

import pytest

from schemas.lineage import SOURCE_STATUS
from tasks.errors import InputError
from tasks.extract.tables import ReadOptions, read_source
from tasks.inspect import inspect_source
from tasks.transform.consent import OPT_OUT_FLAG_UNCONFIRMED_STATUS
from tasks.transform.mapping_file import UserMapping
from tests.tasks.extract.test_tables import outcomes, read_one, write_csv

EXPORT_HEADERS = ["Email Address", "First Name", "MEMBER_RATING", "OPTIN_TIME", "LEID", "Bounced"]
"""A Mailchimp export's member file, with a merge field named like a bounce flag."""

EXPORT_FILES = {
    "cleaned": "cleaned_email_audience_export_abc123def0.csv",
    "subscribed": "subscribed_email_audience_export_abc123def0.csv",
    "unsubscribed": "unsubscribed_email_audience_export_abc123def0.csv",
}


def write_export(folder, flag_cells=""):
    """A Mailchimp export folder: one member per status file, each with ``Bounced`` holding ``flag_cells``."""
    folder.mkdir()
    for status, name in EXPORT_FILES.items():
        write_csv(folder / name, EXPORT_HEADERS, [[f"{status}@x.com", "Ann", "2", "2024-01-01 10:00:00", "1", flag_cells]])
    return folder


def mapping(tmp_path, text):
    path = tmp_path / "mapping.toml"
    path.write_text(text, encoding="utf-8")
    return UserMapping.load(path)


@pytest.mark.parametrize(
    "options",
    [
        ReadOptions(profile="hubspot"),
        ReadOptions(profile="salesforce"),
        ReadOptions(profile="generic"),
        ReadOptions(mapping=UserMapping(profile="hubspot")),
    ],
    ids=["hubspot", "salesforce", "generic", "mapping-hubspot"],
)
def test_a_profile_forced_on_a_mailchimp_export_with_an_empty_flag_merge_field_is_refused_for_its_name(tmp_path, options):
    export = write_export(tmp_path / "export")
    with pytest.raises(InputError) as refused:
        read_source(str(export), tmp_path / "staging", options)
    named = options.named_profile
    assert str(refused.value) == (
        f"{export / EXPORT_FILES['cleaned']}:1: the {named} profile does not read its name, which says 'cleaned', "
        "so its opt-outs would be lost: the mailchimp profile reads it (--profile mailchimp)"
    )


@pytest.mark.parametrize(
    "options", [ReadOptions(profile="mailchimp"), ReadOptions(mapping=UserMapping(profile="mailchimp"))], ids=["--profile", "mapping"]
)
def test_the_mailchimp_profile_forced_on_its_export_reads_every_files_name(tmp_path, options):
    export = write_export(tmp_path / "export")
    reads = {read.raw.uri.rsplit("/", 1)[-1]: outcomes(read) for read in read_source(str(export), tmp_path / "staging", options)}
    assert reads == {
        EXPORT_FILES["cleaned"]: {"cleaned@x.com": "opted_out"},
        EXPORT_FILES["subscribed"]: {"subscribed@x.com": "marketing"},
        EXPORT_FILES["unsubscribed"]: {"unsubscribed@x.com": "opted_out"},
    }


@pytest.mark.parametrize("headers", [["Email", "First Name", "Bounced"], ["Email", "First Name"]], ids=["empty-flag", "no-flag"])
def test_an_opt_out_file_name_a_forced_profile_does_not_read_is_refused_whatever_flag_it_borrows(tmp_path, headers):
    path = write_csv(tmp_path / "unsubscribes.csv", headers, [["a@x.com", "Ann", ""][: len(headers)]])
    with pytest.raises(InputError) as refused:
        read_source(str(path), tmp_path / "staging", ReadOptions(profile="hubspot"))
    assert str(refused.value) == (
        f"{path}:1: the hubspot profile does not read its name, which says 'unsubscribed', "
        "so its opt-outs would be lost: the generic profile reads it (--profile generic)"
    )


@pytest.mark.parametrize(
    ("named", "advice"),
    [
        # Klaviyo reads the column but not the name: a mapping's rule beside the generic profile reads both.
        ("hubspot", "name them in a mapping's [[status.rules]] with the generic profile, which reads it"),
        ("generic", "name them in a mapping's [[status.rules]]"),
    ],
)
def test_a_column_refusal_never_advises_a_profile_that_would_lose_the_names_opt_out(tmp_path, named, advice):
    path = write_csv(tmp_path / "unsubscribes.csv", ["Email", "Email Suppressions"], [["a@x.com", ""]])
    with pytest.raises(InputError) as refused:
        read_source(str(path), tmp_path / "staging", ReadOptions(profile=named))
    assert str(refused.value) == (
        f"{path}:1: the {named} profile does not read its consent columns (Email Suppressions), so their opt-outs "
        f"would be lost: the klaviyo profile reads them but not its name, which says 'unsubscribed': {advice}"
    )
    # Klaviyo itself is refused for the name it does not read.
    with pytest.raises(InputError, match="the klaviyo profile does not read its name, which says 'unsubscribed'"):
        read_source(str(path), tmp_path / "staging", ReadOptions(profile="klaviyo"))


def test_a_mapping_rule_catching_a_flag_merge_field_never_makes_its_flagged_members_marketing(tmp_path):
    rules = mapping(
        tmp_path,
        '[[status.rules]]\ncolumn_prefixes = ["Email Opt"]\nwhen_true = "list_optin"\n[consent]\nlist_optin = "marketing"\n',
    )
    headers = ["Email Address", "MEMBER_RATING", "Email Opt In", "Email Opt Out"]
    rows = [["alice@x.com", "2", "yes", "yes"], ["bob@x.com", "2", "no", "yes"], ["carol@x.com", "2", "yes", "no"], ["dan@x.com", "2", "", "yes"]]
    path = write_csv(tmp_path / "subscribed_email_audience_export_abc123def0.csv", headers, rows)

    read = read_one(path, tmp_path, ReadOptions(mapping=rules))

    assert read.raw.format == "mailchimp-export+generic"
    assert outcomes(read) == {"alice@x.com": "non_marketing", "bob@x.com": "non_marketing", "carol@x.com": "marketing", "dan@x.com": "non_marketing"}
    # Counted under the flag, so the plan warns of them and a run confirming it opts them out.
    statuses = read.raw.frame.select("Email Address", SOURCE_STATUS).collect().rows()
    assert [email for email, status in statuses if status == OPT_OUT_FLAG_UNCONFIRMED_STATUS] == ["alice@x.com", "bob@x.com", "dan@x.com"]


@pytest.mark.parametrize(
    ("status", "flagged"),
    [
        # A rule reading the flag as marketing cannot lift it.
        ("marketing", "non_marketing"),
        # A rule reading it as an opt-out makes it one.
        ("opted_out", "opted_out"),
    ],
)
def test_a_mapping_rule_on_a_flag_column_beside_a_profiles_own_adds_a_stricter_reading_only(tmp_path, status, flagged):
    rules = mapping(tmp_path, f'[[status.rules]]\ncolumns = ["Do Not Email"]\nwhen_set = "vip"\n[consent]\nvip = "{status}"\n')
    headers = ["Email Address", "Email Status", "Email Permission Status", "Do Not Email"]
    rows = [["a@x.com", "Active", "Explicit", "yes"], ["b@x.com", "Active", "Explicit", ""], ["c@x.com", "Unsubscribed", "Explicit", ""]]
    path = write_csv(tmp_path / "contacts.csv", headers, rows)

    read = read_one(path, tmp_path, ReadOptions(mapping=rules))

    assert read.profile.name == "constantcontact"
    # The profile's own column stays as safe as it was: Unsubscribed is never lifted.
    assert outcomes(read) == {"a@x.com": flagged, "b@x.com": "marketing", "c@x.com": "opted_out"}


def test_inspect_shows_the_status_a_mailchimp_export_read_by_a_flag_merge_field_gives_a_row_nothing_reads(tmp_path):
    path = write_csv(tmp_path / EXPORT_FILES["subscribed"], EXPORT_HEADERS, [["a@x.com", "Ann", "2", "2024-01-01 10:00:00", "1", "yes"]])
    [described] = inspect_source(str(path))
    assert (described["format"], described["unread_row_status"]) == ("mailchimp-export+generic", "subscribed")
