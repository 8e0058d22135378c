"""A consent column another bundled profile reads and the file's own does not (a Mailchimp merge
field ``Email Suppressions``, Klaviyo's; a HubSpot export's ``EMAIL_BLACKLISTED``, Brevo's; a
plain file's ``Status`` or ``Email Marketing Consent``) is read for its opt-outs only: a value
that profile reads as an opt-out, or as evidence of one, keeps the row from marketing
(``opt_out_flag_unconfirmed``, opted out when the run confirms it); any other value, and a
numeric code, says nothing, and the row keeps its own profile's status. Before, such a column
was routed as a plain property and its opt-outs planned marketing."""

from __future__ import annotations

import os

import pytest

from emulators.mailchimp import serve_in_background as mailchimp
from tasks.extract import mailchimp_api
from tasks.extract.tables import ReadFile, ReadOptions
from tasks.transform.catalog import reading_profile, unread_status_values
from tasks.transform.consent import OPT_OUT_FLAG_UNCONFIRMED_STATUS
from tasks.transform.mapping_file import UserMapping
from tests.plain_plan import plan
from tests.tasks.extract.test_tables import outcomes, read_one, write_csv

SUBSCRIBED = "subscribed_members_export_abc.csv"
"""A Mailchimp export's file of subscribed members: every row is marketing unless a column says otherwise."""


def mailchimp_export(tmp_path, column: str, cells: list[str], file_name: str = SUBSCRIBED):
    """A Mailchimp export file whose merge field ``column`` holds ``cells``, one member each
    (``m0@x.com``, ``m1@x.com``, …)."""
    headers = ["Email Address", "First Name", column, "MEMBER_RATING", "OPTIN_TIME", "LEID"]
    rows = [[f"m{i}@x.com", "M", cell, "2", "2024-01-01 10:00:00", str(i)] for i, cell in enumerate(cells)]
    return write_csv(tmp_path / file_name, headers, rows)


@pytest.mark.parametrize(
    ("column", "cells", "expected"),
    [
        # Klaviyo reads any suppression reason as suppressed (an opt-out).
        ("Email Suppressions", ["HARD_BOUNCE", ""], ["non_marketing", "marketing"]),
        # Brevo's blacklist flag.
        ("EMAIL_BLACKLISTED", ["true", "false"], ["non_marketing", "marketing"]),
        # Constant Contact: unsubscribed is an opt-out; explicit and pending confirmation are
        # not, and say nothing: the member keeps Mailchimp's own status.
        ("Email permission status", ["Unsubscribed", "Explicit", "Pending_confirmation", ""], ["non_marketing", "marketing", "marketing", "marketing"]),
        # ActiveCampaign's list status.
        ("List Status", ["Bounced", "Active"], ["non_marketing", "marketing"]),
        # Klaviyo's consent column, which the plain profile reads too.
        ("Email Marketing Consent", ["UNSUBSCRIBED", "SUBSCRIBED", "NEVER_SUBSCRIBED"], ["non_marketing", "marketing", "marketing"]),
        # HubSpot's opt-out of one subscription: evidence of an opt-out, never marketing.
        ("Opted out of email: Newsletter", ["true", "false"], ["non_marketing", "marketing"]),
    ],
)
def test_another_platforms_consent_merge_field_keeps_a_subscribed_member_from_marketing(tmp_path, column, cells, expected):
    read = read_one(mailchimp_export(tmp_path, column, cells), tmp_path)

    assert (read.profile.name, read.raw.format) == ("mailchimp", "mailchimp-export+generic")
    assert outcomes(read) == {f"m{i}@x.com": outcome for i, outcome in enumerate(expected)}


def test_a_column_under_a_common_word_is_read_for_an_opt_out_word_only(tmp_path):
    # ``Status`` is the plain profile's and ActiveCampaign's, but any source uses the word for
    # other things (a Salesforce lead's ``Open``, a membership's ``Lapsed``): those say nothing.
    read = read_one(mailchimp_export(tmp_path, "Status", ["Unsubscribed", "Lapsed", "Open - Not Contacted", "cleaned"]), tmp_path)

    # Lapsed and Open are no value left unread (that would be non-marketing): they say nothing.
    assert outcomes(read) == {"m0@x.com": "non_marketing", "m1@x.com": "marketing", "m2@x.com": "marketing", "m3@x.com": "non_marketing"}


def test_the_common_spellings_of_an_opt_out_in_a_status_keep_a_member_from_marketing(tmp_path):
    # Each said nothing beside Mailchimp's profile (no rule's word), and the member was planned
    # marketing; a junk lead's "Spam" is no opt-out word and still says nothing.
    cells = ["unsubscribe", "Opt Out", "opt-out", "OptOut", "Do Not Email", "Do Not Contact", "Blocklisted", "Bounce", "Spam"]
    read = read_one(mailchimp_export(tmp_path, "Status", cells), tmp_path)

    assert outcomes(read) == {f"m{i}@x.com": "non_marketing" for i in range(len(cells) - 1)} | {f"m{len(cells) - 1}@x.com": "marketing"}


def test_an_opted_out_members_file_keeps_its_opt_out_whatever_the_column_says(tmp_path):
    read = read_one(mailchimp_export(tmp_path, "List Status", ["Active"], "unsubscribed_members_export_abc.csv"), tmp_path)

    assert outcomes(read) == {"m0@x.com": "opted_out"}


def test_a_row_is_counted_under_the_column_that_set_its_flag_not_one_reading_marketing(tmp_path):
    # ``List Status`` comes first and reads ``Active`` (marketing: it says nothing); the row's
    # flag is ``Email Suppressions``'s, and the report must name that column, not the first.
    headers = ["Email Address", "List Status", "Email Suppressions", "MEMBER_RATING"]
    source = str(write_csv(tmp_path / SUBSCRIBED, headers, [["ann@x.com", "Active", "SPAM_COMPLAINT", "2"]]))

    report = plan([source], tmp_path / "out")

    [source_report] = report["sources"]
    unconfirmed = [u for u in source_report["unread_status_values"] if u["status"] == OPT_OUT_FLAG_UNCONFIRMED_STATUS]
    assert [(u["column"], u["value"], u["rows"]) for u in unconfirmed] == [("Email Suppressions", "spam_complaint", 1)]


def test_another_platforms_column_beside_a_detected_profile_is_read_too(tmp_path):
    # A HubSpot export (its identifying headers) with Brevo's blacklist column.
    headers = ["Email", "First Name", "Record ID", "Create Date", "Marketing contact status", "EMAIL_BLACKLISTED"]
    rows = [
        ["ann@x.com", "Ann", "1", "2024-01-01", "Marketing contact", "yes"],
        ["bob@x.com", "Bob", "2", "2024-01-01", "Marketing contact", "no"],
    ]
    read = read_one(write_csv(tmp_path / "hubspot-contacts.csv", headers, rows), tmp_path)

    assert (read.profile.name, read.raw.format) == ("hubspot", "hubspot-export+generic")
    assert outcomes(read) == {"ann@x.com": "non_marketing", "bob@x.com": "marketing"}


def test_a_mapping_rule_reads_the_column_beside_the_borrowed_reading_never_below_it(tmp_path):
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        '[[status.rules]]\ncolumns = ["Email Suppressions"]\nvalues = { spam_complaint = "complained", manual = "kept" }\n'
        '[consent]\ncomplained = "opted_out"\nkept = "marketing"\n',
        encoding="utf-8",
    )
    path = mailchimp_export(tmp_path, "Email Suppressions", ["SPAM_COMPLAINT", "MANUAL"])

    read = read_one(path, tmp_path, ReadOptions(mapping=UserMapping.load(mapping)))

    # The rule's opt-out is read; its "marketing" cannot lift the borrowed unconfirmed opt-out.
    assert outcomes(read) == {"m0@x.com": "opted_out", "m1@x.com": "non_marketing"}


def test_a_named_profile_is_still_refused_a_file_whose_platform_reads_the_column_as_an_opt_out(tmp_path):
    # Klaviyo's suppressed-profiles columns read as Klaviyo's opt-outs when the file is read as
    # Klaviyo's: forcing HubSpot's profile would read them only as unconfirmed flags.
    headers = ["Email", "First Name", "Email Marketing Consent", "Email Suppressions"]
    path = write_csv(tmp_path / "profiles.csv", headers, [["ann@x.com", "Ann", "SUBSCRIBED", "HARD_BOUNCE"]])

    with pytest.raises(Exception, match=r"the hubspot profile does not read its consent columns \(Email Marketing Consent, Email Suppressions\)"):
        read_one(path, tmp_path, ReadOptions(profile="hubspot"))


def test_a_mailchimp_audience_read_through_the_api_reads_the_merge_field_as_its_export_does(tmp_path, monkeypatch):
    suppressions = {"merge_id": 8, "tag": "SUPPRESS", "name": "Email Suppressions", "type": "text"}
    with mailchimp(members=40, extra_merge_fields=(suppressions,)) as server:
        monkeypatch.setenv("MAILCHIMP_API_KEY", server.settings.api_key)
        monkeypatch.setenv("MAILCHIMP_BASE_URL", server.api_url)
        subscribed = [m for m in server.emulator.audience.members if m["status"] == "subscribed"][:2]
        subscribed[0]["merge_fields"]["SUPPRESS"] = "HARD_BOUNCE"
        raw = mailchimp_api.read_uri(f"mailchimp://{server.emulator.audience.list_id}", tmp_path / "staging", os.environ)
        read, profile = mailchimp_api.read_as_export(raw, reading_profile("mailchimp"), {})

    by_email = outcomes(ReadFile(read, profile, None))
    assert by_email[subscribed[0]["email_address"]] == "non_marketing"
    assert by_email[subscribed[1]["email_address"]] == "marketing"


def test_a_numeric_code_of_another_platform_says_nothing_beside_a_files_own_profile(tmp_path):
    # ActiveCampaign's export writes 2 for unsubscribed and 3 for bounced in its Status column;
    # a Status of 2 in another source's file is anything (a tier, a stage).
    read = read_one(mailchimp_export(tmp_path, "Status", ["2", "3", "Unsubscribed"]), tmp_path)

    assert outcomes(read) == {"m0@x.com": "marketing", "m1@x.com": "marketing", "m2@x.com": "non_marketing"}


def test_a_row_is_counted_under_the_borrowed_reading_not_a_mapping_rules_value_beside_it(tmp_path):
    # The mapping reads Status's own values (gold, silver); the row's flag is set by Email
    # Marketing Consent, and the report must name that column, not Status's gold.
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        '[[status.rules]]\ncolumns = ["Status"]\nvalues = { gold = "vip", silver = "vip" }\n[consent]\nvip = "marketing"\n',
        encoding="utf-8",
    )
    headers = ["Email Address", "Status", "Email Marketing Consent", "MEMBER_RATING"]
    source = write_csv(tmp_path / SUBSCRIBED, headers, [["ann@x.com", "gold", "UNSUBSCRIBED", "2"]])
    read = read_one(source, tmp_path, ReadOptions(mapping=UserMapping.load(mapping)))

    unread = unread_status_values(read.raw.frame, read.raw.status_values, name_opts_out=False).collect()

    assert unread.rows() == [("Email Marketing Consent", "unsubscribed", OPT_OUT_FLAG_UNCONFIRMED_STATUS, 1)]
