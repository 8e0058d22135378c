"""A plain file's consent columns are read whatever the header's spelling (case, spacing, a
non-breaking or zero-width space, ``_ - . ? :``, a bracketed aside, Salesforce's ``__c``); a
header named like consent that no rule reads refuses the file until a mapping says what it holds;
a consent column saying no is ``declined``, which no run may make marketing."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest

from schemas.lineage import SOURCE_STATUS
from tasks.errors import InputError
from tasks.extract.tables import ReadOptions, read_source
from tasks.transform.catalog import (
    StatusRule,
    consent_header_key,
    describe,
    looks_like_consent,
    names_column,
    reading_profile,
    unread_consent,
    unread_consent_like,
    unread_known_consent,
)
from tasks.transform.consent import DECLINED_STATUS, first_refused_override
from tasks.transform.mapping_file import UserMapping
from tests.plain_plan import plan


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ("unsubscribed_at", "Unsubscribed At"),
        ("UnsubscribedAt", "Unsubscribed At"),
        ("Email_Opt_Out__c", "Email Opt Out"),
        ("Email_Opt_Out__C", "Email Opt Out"),
        ("Unsubscribed?", "Unsubscribed"),
        ("Unsubscribed (Y/N)", "Unsubscribed"),
        ("Unsubscribed:", "Unsubscribed"),
        ("Unsubscribed\u200b", "Unsubscribed"),
        ("(Unsubscribed)", "Unsubscribed"),
        ("Email  Opt Out", "Email Opt Out"),
        ("Email\u00a0Opt Out", "Email Opt Out"),
        (" Email\u00a0\u00a0Opt-Out. ", "Email Opt Out"),
        ("Do-Not-Email", "Do Not Email"),
        ("email.status", "Email Status"),
        ("Opt-out (email)", "Opt Out"),
    ],
)
def test_a_header_names_a_consent_column_whatever_its_spelling(header, column):
    assert consent_header_key(header) == consent_header_key(column)
    assert names_column(header, column)


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ("Unsubscribed At", "Unsubscribed"),
        ("Email Opt In", "Email Opt Out"),
        ("Status", "Email Status"),
        ("Opted In", "Opted Out"),
        # An aside saying what the column is about keeps it apart (only a fill hint, "(email)"
        # or a copy number is left out).
        ("Opt In (SMS)", "Opt In"),
        ("Opt Out (SMS)", "Opt Out"),
        ("Subscribed (pending confirmation)", "Subscribed"),
        ("Consent (Cookies)", "Consent"),
        ("Status (SMS)", "Status"),
        ("Unsubscribed (count)", "Unsubscribed"),
        ("Do Not Email (Sales team only)", "Do Not Email"),
    ],
)
def test_other_words_name_another_column(header, column):
    assert not names_column(header, column)


def test_a_header_a_bundled_profile_spells_exactly_names_only_that_column():
    # Brevo's EMAIL_BLACKLISTED keeps being Brevo's (a plain file borrows Brevo's reading of it),
    # though its key is the plain profile's "Email Blacklisted".
    assert consent_header_key("EMAIL_BLACKLISTED") == consent_header_key("Email Blacklisted")
    assert not names_column("EMAIL_BLACKLISTED", "Email Blacklisted")
    assert names_column("EMAIL_BLACKLISTED", "email_blacklisted")


def test_a_rule_reads_every_header_naming_its_columns_once_in_rule_then_file_order():
    rule = StatusRule(columns=("Unsubscribed", "Bounced"), when_set="unsubscribed")
    headers = ["Email", "bounced", "Unsubscribed?", "First Name", "UNSUBSCRIBED (Y/N)"]
    assert rule.headers_read(headers) == ["Unsubscribed?", "UNSUBSCRIBED (Y/N)", "bounced"]


def test_every_bundled_rule_reads_exactly_the_headers_naming_its_columns():
    headers = ["Email", "EMAIL_BLACKLISTED", "email blacklisted", "Email_Opt_Out__c", "Email Opt Out", "status ", "Opt-In", "Bounced?"]
    rules = [rule for name in ("generic", "brevo", "salesforce", "hubspot") for rule in reading_profile(name).rules]
    for rule in rules:
        expected = [header for column in rule.columns for header in headers if names_column(header, column)]
        assert rule.headers_read(headers)[: len(dict.fromkeys(expected))] == list(dict.fromkeys(expected))


@pytest.mark.parametrize(
    "header",
    [
        "Unsubscribe", "Unsubscribe Reason", "List Unsubscribe", "Bounce Reason", "Suppression", "Complained",
        "Spam Report", "GDPR Erasure Requested", "GDPR Consent", "Consent Date", "Email Permission Given",
        "Double Opt-In", "DoNotContactFlag", "Blacklist Reason", "emailOptOutDate", "Newsletter List Status",
    ],
)
def test_a_header_saying_its_column_may_hold_consent_looks_like_consent(header):
    assert looks_like_consent(header)


@pytest.mark.parametrize("header", ["First Name", "Status", "Lead Status", "Company", "Subscription Plan", "Notes", "Opt In Source"])
def test_other_headers_do_not_look_like_consent(header):
    assert not looks_like_consent(header)


def test_the_plain_profile_leaves_unread_only_consent_like_columns_nothing_reads_nor_a_mapping_routes(tmp_path):
    generic = reading_profile("generic")
    headers = ["Email", "Unsubscribed?", "Bounce Reason", "GDPR Consent", "First Name", "Email Suppressions"]
    # "Email Suppressions" is Klaviyo's: refused (or borrowed) as another profile's consent column.
    assert unread_consent_like(generic, headers) == ("Bounce Reason", "GDPR Consent")
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[columns]\n"Bounce Reason" = "bounce_reason"\n', encoding="utf-8")
    mapped = generic.with_mapping(UserMapping.load(mapping))
    assert unread_consent_like(mapped, headers) == ("GDPR Consent",)
    # Another profile's file is not refused for such a column: only a plain file's.
    assert unread_known_consent(reading_profile("salesforce"), ["Email", "Bounce Reason"]) is None


def test_the_refusal_names_the_columns_and_both_ways_a_mapping_says_what_they_hold():
    generic = reading_profile("generic")
    headers = ["Email", "Subscribed", "Email\u00a0Unsubscribe Reason", "Consent Date"]
    for unread in (unread_known_consent(generic, headers), unread_consent(generic, headers)):
        problem = unread.problem()
        assert "'Email\\xa0Unsubscribe Reason', 'Consent Date'" in problem
        assert '[[status.rules]] (e.g. columns = ["Email\\u00a0Unsubscribe Reason"]' in problem
        # The outcome is a choice to make (a consent date is no opt-out), not one given.
        assert '= "<opted_out, non_marketing or marketing>"' in problem and '= "opted_out")' not in problem
        # Every column, so that pasting the [columns] lines is not refused for the next one.
        assert (
            '[columns] ("Email\\u00a0Unsubscribe Reason" = "imported_email_unsubscribe_reason"; '
            '"Consent Date" = "imported_consent_date")'
        ) in problem
        assert "\n" not in problem


def test_inspect_lists_columns_named_like_consent_that_no_rule_reads():
    described = describe(reading_profile("salesforce"), ["Email", "Email Opt Out", "Email Bounced Reason", "First Name"])
    assert described["consent_like_unread"] == ["Email Bounced Reason"]


DECLINED_CELLS = {
    "no": DECLINED_STATUS, "0": DECLINED_STATUS, "FALSE": DECLINED_STATUS, "Non": DECLINED_STATUS,
    "": "no_consent", "N/A": "no_consent", "NULL": "no_consent", "yes": "subscribed",
}  # fmt: skip


@pytest.mark.parametrize("header", ["Marketing Consent", "Subscribed", "Opted In", "newsletter"])
def test_a_consent_column_saying_no_is_declined_and_an_empty_one_no_consent(header):
    frame = pl.DataFrame({"Email": [f"r{n}@x.com" for n in range(len(DECLINED_CELLS))], header: list(DECLINED_CELLS)})
    statuses = frame.select(reading_profile("generic").status_expr(["Email", header])).to_series().to_list()
    assert dict(zip(DECLINED_CELLS, statuses, strict=True)) == DECLINED_CELLS


def test_a_permission_to_email_saying_no_is_declined_and_saying_yes_no_consent():
    frame = pl.DataFrame({"Email": ["a@x.com", "b@x.com", "c@x.com"], "Can Email": ["No", "Yes", ""]})
    statuses = frame.select(reading_profile("generic").status_expr(["Email", "Can Email"])).to_series().to_list()
    assert statuses == [DECLINED_STATUS, "no_consent", "no_consent"]


def test_no_run_may_make_declined_marketing_but_may_opt_it_out():
    policy = reading_profile("generic").profile.consent
    with pytest.raises(InputError, match="'declined' .* cannot be mapped to marketing"):
        policy.with_overrides({"declined": "marketing"})
    assert policy.with_overrides({"declined": "opted_out"}).outcome_of("declined").value == "opted_out"
    assert first_refused_override({"declined": "marketing"}, {"generic": policy}) is not None
    assert first_refused_override({"no_consent": "marketing"}, {"generic": policy}) is None


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def planned_outcomes(out: Path) -> dict[str, str]:
    """Each planned email's outcome, as ``lineage.csv`` gives it."""
    lineage = pl.read_csv(out / "lineage.csv", infer_schema=False)
    return dict(zip(lineage["email"], lineage["outcome"], strict=True))


def test_a_plan_opts_out_the_rows_of_opt_out_columns_however_their_headers_are_spelt(tmp_path):
    # The audit's signup_list.csv (finding 1): every gone* row was planned marketing.
    source = write_csv(
        tmp_path / "signup_list.csv",
        [
            [
                "Email", "First Name", "Opted In", "Member Status", "Unsubscribed On", "Email_Opt_Out__c", "bounced_at",
                "Unsubscribed (Y/N)", "Email\u00a0Opt Out",
            ],
            ["keep@x.com", "Kim", "yes", "subscribed", "", "false", "", "N", ""],
            ["gone1@x.com", "Una", "yes", "unsubscribed", "", "", "", "", ""],
            ["gone2@x.com", "Bo", "yes", "cleaned", "", "", "2024-04-02 09:00:00", "", ""],
            ["gone3@x.com", "Cy", "yes", "", "2024-05-05", "", "", "", ""],
            ["gone4@x.com", "Di", "yes", "", "", "TRUE", "", "", ""],
            ["gone5@x.com", "Ed", "yes", "", "", "", "", "Y", ""],
            ["gone6@x.com", "Flo", "yes", "", "", "", "", "", "1"],
            ["plain@x.com", "Gus", "", "", "", "", "", "", ""],
        ],
    )
    report = plan([str(source)], tmp_path / "out")
    assert planned_outcomes(tmp_path / "out") == {
        "keep@x.com": "marketing",
        "gone1@x.com": "opted_out",
        "gone2@x.com": "opted_out",
        "gone3@x.com": "opted_out",
        "gone4@x.com": "opted_out",
        "gone5@x.com": "opted_out",
        "gone6@x.com": "opted_out",
        "plain@x.com": "non_marketing",
    }
    assert report["contacts"] == {"marketing": 1, "non_marketing": 1, "opted_out": 6}


def test_a_plan_refuses_a_plain_file_with_a_consent_like_column_no_rule_reads_in_one_line(tmp_path):
    source = write_csv(
        tmp_path / "members.csv",
        [["Email", "Subscribed", "GDPR Consent"], ["a@x.com", "yes", "withdrawn"], ["b@x.com", "yes", "given"]],
    )
    with pytest.raises(InputError) as refused:
        plan([str(source)], tmp_path / "out")
    message = str(refused.value)
    assert message.startswith(f"{source}:1: the generic profile reads no consent from 'GDPR Consent'")
    assert "[[status.rules]]" in message and "[columns]" in message and "\n" not in message
    assert not (tmp_path / "out" / "hubspot").exists()


def test_a_forced_plain_profile_refuses_such_a_column_too(tmp_path):
    source = write_csv(tmp_path / "members.csv", [["Email", "Subscribed", "Unsubscribe"], ["a@x.com", "yes", "yes"]])
    with pytest.raises(InputError, match="reads no consent from 'Unsubscribe'"):
        read_source(str(source), tmp_path / "staging", ReadOptions(profile="generic"))


def test_a_mapping_reading_the_column_or_routing_it_lifts_the_refusal(tmp_path):
    source = write_csv(
        tmp_path / "members.csv",
        [
            ["Email", "Subscribed", "GDPR Consent", "Bounce Reason"],
            ["a@x.com", "yes", "withdrawn", ""],
            ["b@x.com", "yes", "given", ""],
            ["c@x.com", "yes", "", "mailbox full"],
        ],
    )
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        '[columns]\n"Bounce Reason" = "bounce_reason"\n'
        '[[status.rules]]\ncolumns = ["GDPR Consent"]\nvalues = { withdrawn = "gdpr_consent", given = "gdpr_given" }\n'
        '[consent]\ngdpr_consent = "opted_out"\ngdpr_given = "non_marketing"\n',
        encoding="utf-8",
    )
    options = ReadOptions(mapping=UserMapping.load(mapping))
    [read] = read_source(str(source), tmp_path / "staging", options)
    statuses = dict(read.raw.frame.select("Email", SOURCE_STATUS).collect().iter_rows())
    # As the refusal advises (a status named after the column, given an outcome under [consent]);
    # given GDPR consent is no marketing consent, and outranks the yes; the bounce reason was said
    # to be no consent: that row keeps its Subscribed yes.
    assert statuses == {"a@x.com": "gdpr_consent", "b@x.com": "gdpr_given", "c@x.com": "subscribed"}


def test_an_explicit_no_stays_non_marketing_when_the_run_makes_no_consent_marketing(tmp_path):
    # Finding 4: --consent no_consent=marketing marketed Marketing Consent=no and Subscribed=0.
    source = write_csv(
        tmp_path / "list.csv",
        [
            ["Email", "Marketing Consent", "Subscribed", "Can Email"],
            ["blank@x.com", "", "", ""],
            ["said-no@x.com", "no", "", ""],
            ["zero@x.com", "", "0", ""],
            ["cannot@x.com", "", "", "No"],
            ["yes@x.com", "yes", "", "yes"],
            ["both@x.com", "yes", "no", ""],
        ],
    )
    report = plan([str(source)], tmp_path / "out", consent_overrides={"no_consent": "marketing"})
    assert planned_outcomes(tmp_path / "out") == {
        "blank@x.com": "marketing",
        "said-no@x.com": "non_marketing",
        "zero@x.com": "non_marketing",
        "cannot@x.com": "non_marketing",
        "yes@x.com": "marketing",
        "both@x.com": "non_marketing",
    }
    assert report["contacts"] == {"marketing": 2, "non_marketing": 4, "opted_out": 0}
    with pytest.raises(InputError, match="'declined'"):
        plan([str(source)], tmp_path / "out2", consent_overrides={"declined": "marketing"})


def test_a_consent_column_saying_no_keeps_a_mailchimp_subscriber_from_marketing(tmp_path):
    # A merge field of the audience, read by the plain profile's rules beside the export's own:
    # a row whose own cell refuses marketing is not marketed on its file's "subscribed".
    export = write_csv(
        tmp_path / "subscribed_members_export_a1b2c3.csv",
        [["Email Address", "First Name", "Marketing Consent"], ["yes@example.com", "Y", "yes"], ["no@example.com", "N", "no"], ["blank@example.com", "B", ""]],
    )

    plan([str(export)], tmp_path / "out")

    assert planned_outcomes(tmp_path / "out") == {"yes@example.com": "marketing", "no@example.com": "non_marketing", "blank@example.com": "marketing"}
