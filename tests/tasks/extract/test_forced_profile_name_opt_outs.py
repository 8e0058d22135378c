"""A profile named for a file (``--profile``, a mapping's ``profile``) must read the opt-out its
name gives, whatever columns it reads: a plain opt-out flag it borrows (an empty merge field
``Bounced``) holds nothing for a row the name opts out. Mailchimp reads its export's names; no
refusal advises a profile that would lose them. And a mapping's ``[[status.rules]]`` reading a
column named like an opt-out flag reads it beside the flag, never lifting a set flag to marketing.

A forced profile reading one consent column is refused for another profile's it leaves unread;
a refusal advises only what reads every consent column and the name's opt-out (a profile, the
run without a named profile, or a mapping's rules); a Mailchimp export's member status is read
by Mailchimp's profile only, never weighed as another's guess from the name."""

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
    ("named", "unread"),
    [
        ("hubspot", "its consent columns (EMAIL_BLACKLISTED) nor its name, which says 'unsubscribed', so their opt-outs"),
        ("generic", "its consent columns (EMAIL_BLACKLISTED), so their opt-outs"),
        ("brevo", "its name, which says 'unsubscribed', so its opt-outs"),
    ],
)
def test_a_refusal_never_advises_a_profile_that_would_lose_the_names_or_a_columns_opt_out(tmp_path, named, unread):
    # Brevo reads the column but not the name, the generic profile the name but not the
    # column: only the file read by its headers (generic borrowing Brevo's column) reads both.
    path = write_csv(tmp_path / "unsubscribes.csv", ["Email", "EMAIL_BLACKLISTED"], [["a@x.com", ""], ["b@x.com", "true"]])
    with pytest.raises(InputError) as refused:
        read_source(str(path), tmp_path / "staging", ReadOptions(profile=named))
    assert str(refused.value) == (
        f"{path}:1: the {named} profile does not read {unread} would be lost: "
        "the profile its headers match reads them all (run without --profile or a mapping's profile)"
    )
    assert outcomes(read_one(path, tmp_path, ReadOptions())) == {"a@x.com": "opted_out", "b@x.com": "opted_out"}


@pytest.mark.parametrize(
    ("name", "headers", "rows", "named", "unread", "reader"),
    [
        # A borrowed plain flag read, another profile's column beside it unread.
        ("contacts_kb.csv", ["Email", "Email Suppressions", "Bounced"], [["a@x.com", "", ""], ["b@x.com", "HARD_BOUNCE", ""]], "hubspot", "Email Suppressions", "klaviyo"),
        ("contacts_bb.csv", ["EMAIL", "EMAIL_BLACKLISTED", "Do Not Email"], [["a@x.com", "No", ""], ["b@x.com", "Yes", ""]], "generic", "EMAIL_BLACKLISTED", "brevo"),
        ("contacts_hb.csv", ["Email", "Email hard bounce reason", "Unsubscribed"], [["a@x.com", "", ""], ["b@x.com", "BOUNCED_MAILBOX_DOES_NOT_EXIST", ""]], "salesforce", "Email hard bounce reason", "hubspot"),
    ],
)
def test_a_forced_profile_reading_one_consent_column_is_refused_for_another_profiles_column_it_leaves_unread(
    tmp_path, name, headers, rows, named, unread, reader
):
    path = write_csv(tmp_path / name, headers, rows)
    with pytest.raises(InputError) as refused:
        read_source(str(path), tmp_path / "staging", ReadOptions(profile=named))
    assert str(refused.value) == (
        f"{path}:1: the {named} profile does not read its consent columns ({unread}), so their opt-outs would be lost: "
        f"the {reader} profile reads them (--profile {reader}), or name them in a mapping's [[status.rules]]"
    )
    # The profile advised reads every consent column: the opt-out is kept.
    assert outcomes(read_one(path, tmp_path, ReadOptions(profile=reader))) == {"a@x.com": "non_marketing", "b@x.com": "opted_out"}


@pytest.mark.parametrize(("named", "unread"), [("generic", "Email Suppressions"), ("klaviyo", "Status")])
def test_when_no_profile_reads_every_consent_column_the_refusal_advises_a_mapping_rule_not_a_profile_losing_one(tmp_path, named, unread):
    path = write_csv(tmp_path / "contacts_k.csv", ["Email", "Email Suppressions", "Status"], [["a@x.com", "", "unsubscribed"], ["b@x.com", "HARD_BOUNCE", ""]])
    with pytest.raises(InputError) as refused:
        read_source(str(path), tmp_path / "staging", ReadOptions(profile=named))
    assert str(refused.value) == (
        f"{path}:1: the {named} profile does not read its consent columns ({unread}), so their opt-outs would be lost, "
        f"and no one profile reads them all: name {unread} in a mapping's [[status.rules]]"
    )


def test_the_mailchimp_profile_forced_on_a_file_named_for_an_opt_out_reads_its_name(tmp_path):
    path = write_csv(tmp_path / "unsubscribed_list.csv", ["Email", "First Name"], [["a@x.com", "Ann"]])
    assert outcomes(read_one(path, tmp_path, ReadOptions(profile="mailchimp"))) == {"a@x.com": "opted_out"}


@pytest.mark.parametrize(
    ("named", "unread"),
    [
        # The generic profile reads the name's word, but as a guess a merge field reading "yes" out-votes.
        ("generic", "its name, which says 'unsubscribed', so its opt-outs would be lost: the mailchimp profile reads it"),
        ("constantcontact", "its consent columns (Newsletter) nor its name, which says 'unsubscribed', so their opt-outs would be lost: the mailchimp profile reads them all"),
    ],
)
def test_a_mailchimp_exports_opt_out_status_is_never_weighed_as_a_guessed_name_by_a_forced_profile(tmp_path, named, unread):
    headers = ["Email Address", "MEMBER_RATING", "LEID", "Newsletter"]
    path = write_csv(tmp_path / EXPORT_FILES["unsubscribed"], headers, [["u1@x.com", "2", "1", "yes"]])
    with pytest.raises(InputError) as refused:
        read_source(str(path), tmp_path / "staging", ReadOptions(profile=named))
    assert str(refused.value) == f"{path}:1: the {named} profile does not read {unread} (--profile mailchimp)"
    assert outcomes(read_one(path, tmp_path, ReadOptions(profile="mailchimp"))) == {"u1@x.com": "opted_out"}


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


@pytest.mark.parametrize("status", ["nonsubscribed", "transactional"])
def test_a_mailchimp_export_of_members_never_opted_in_is_refused_to_a_forced_profile_that_could_make_them_marketing(tmp_path, status):
    headers = ["Email Address", "MEMBER_RATING", "LEID", "Newsletter"]
    path = write_csv(tmp_path / f"{status}_email_audience_export_abc123def0.csv", headers, [["n1@x.com", "2", "1", "yes"]])
    with pytest.raises(InputError) as refused:
        read_source(str(path), tmp_path / "staging", ReadOptions(profile="generic"))
    assert str(refused.value) == (
        f"{path}:1: the generic profile does not read its name, which says {status!r}, so rows it says are no consent "
        "could be planned marketing, and no one profile reads them all: name Newsletter in a mapping's [[status.rules]] "
        "with the mailchimp profile (profile = 'mailchimp'), which reads its name"
    )
    # The mailchimp profile reads it as a run without --profile does: Newsletter for its
    # opt-outs only, the member kept as Mailchimp's own status says.
    assert outcomes(read_one(path, tmp_path, ReadOptions(profile="mailchimp"))) == {"n1@x.com": "non_marketing"}


def test_a_mailchimp_export_matching_no_profile_by_its_headers_is_never_advised_to_a_profile_guessing_its_name(tmp_path):
    # Its headers match no profile, and the generic profile reads "unsubscribed" in its name,
    # but only as a guess a merge field out-votes: Mailchimp's reading is advised.
    path = write_csv(tmp_path / EXPORT_FILES["unsubscribed"], ["Email Address", "First Name", "Newsletter"], [["u1@x.com", "Ann", "yes"]])
    with pytest.raises(InputError) as refused:
        read_source(str(path), tmp_path / "staging", ReadOptions(profile="hubspot"))
    assert str(refused.value) == (
        f"{path}:1: the hubspot profile does not read its consent columns (Newsletter) nor its name, which says 'unsubscribed', "
        "so their opt-outs would be lost: the mailchimp profile reads them all (--profile mailchimp)"
    )


def test_a_subscribed_export_file_holding_another_platforms_consent_column_is_read_by_the_mailchimp_profile_as_without_it(tmp_path):
    # A merge field that is Klaviyo's suppression column: the file's subscribed status opts
    # nothing out, so a HARD_BOUNCE there must keep the member from marketing, forced or not.
    headers = ["Email Address", "MEMBER_RATING", "LEID", "Email Suppressions"]
    path = write_csv(tmp_path / EXPORT_FILES["subscribed"], headers, [["s1@x.com", "2", "1", ""], ["s2@x.com", "2", "2", "HARD_BOUNCE"]])
    expected = {"s1@x.com": "marketing", "s2@x.com": "non_marketing"}
    assert outcomes(read_one(path, tmp_path, ReadOptions(profile="mailchimp"))) == expected
    assert outcomes(read_one(path, tmp_path, ReadOptions())) == expected


def test_klaviyos_suppressed_profiles_export_forced_as_klaviyos_reads_its_name(tmp_path):
    # Klaviyo reads the name of its suppressed profiles' file as the generic profile does: a
    # row whose suppression cells hold nothing is suppressed by it, so forcing Klaviyo's
    # profile loses nothing and is not refused.
    headers = ["Email", "Suppressed", "Email Suppression Reason"]
    path = write_csv(tmp_path / "klaviyo_suppressed_profiles.csv", headers, [["a@x.com", "", ""], ["b@x.com", "2024-01-01", "HARD_BOUNCE"]])

    read = read_one(path, tmp_path, ReadOptions(profile="klaviyo"))

    assert read.raw.format == "klaviyo-export"
    assert outcomes(read) == {"a@x.com": "opted_out", "b@x.com": "opted_out"}
