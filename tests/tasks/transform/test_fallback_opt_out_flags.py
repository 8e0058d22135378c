"""An opt-out flag the fallback profile knows is read whichever profile reads the file: a few of
a source's identifying headers (``Email Address`` and ``Email Status`` make a file Constant
Contact's) must not make its ``Unsubscribed`` column a mere property. Beside a profile that does
not read it itself, the column may merely share a flag's name (a HubSpot export's ``Bounced``, a
count), so a flag set there is ``opt_out_flag_unconfirmed``: never marketing, opted out only
when the run says so."""

from __future__ import annotations

import polars as pl
import pytest

from tasks.transform.catalog import (
    FALLBACK_PROFILE,
    ReadingProfile,
    StatusRule,
    consent_headers,
    profile_names,
    reading_fallback_opt_outs,
    reading_profile,
)
from tasks.transform.consent import OPT_OUT_FLAG_UNCONFIRMED_STATUS

# Opt-out and bounce flags as the fallback profile reads them: a flag, a date, a bounce flag.
FLAGS = ["Unsubscribed", "Do Not Email", "Opted Out", "Global Unsubscribe", "Bounced", "Unsubscribed At", "Bounce Date"]

BOUND_PROFILES = [name for name in profile_names() if name != FALLBACK_PROFILE]


def status_of(profile: ReadingProfile, headers: list[str], row: list[str]) -> str:
    """The status of one row of a file with ``headers``, read with ``profile``."""
    frame = pl.DataFrame([row], schema=dict.fromkeys(headers, pl.String), orient="row")
    [status] = frame.select(profile.status_expr(headers)).to_series().to_list()
    return status


def outcome_of(profile: ReadingProfile, headers: list[str], row: list[str]) -> str:
    """The outcome of one row of a file with ``headers``, read with ``profile``."""
    return profile.profile.consent.outcome_of(status_of(profile, headers, row)).value


def identifying_headers(name: str) -> list[str]:
    """An email column and two of the profile's identifying headers (enough for it to be detected)."""
    profile = reading_profile(name)
    email = profile.email_columns[0] if profile.email_columns else "Email"
    return [email, *sorted(profile.detect_headers - {email.lower()})[:2]]


@pytest.mark.parametrize("name", BOUND_PROFILES)
@pytest.mark.parametrize("flag", FLAGS)
def test_every_profile_reads_an_opt_out_flag_it_does_not_read_itself(name, flag):
    headers = [*identifying_headers(name), flag]
    profile = reading_profile(name)
    reading = reading_fallback_opt_outs(profile, headers)
    assert flag in consent_headers(reading, headers)
    assert reading.format == f"{profile.format}+{FALLBACK_PROFILE}"
    # Its own reading stays: the default status of a row the flag says nothing of, the routing.
    assert (reading.default_status, reading.profile.routes(headers)) == (profile.default_status, profile.profile.routes(headers))
    set_cell = "2024-03-01 10:00:00" if flag.endswith(("At", "Date")) else "yes"
    flagged = ["a@x.com", "", "", set_cell]
    assert (status_of(reading, headers, flagged), outcome_of(reading, headers, flagged)) == (
        OPT_OUT_FLAG_UNCONFIRMED_STATUS,
        "non_marketing",
    )
    confirmed = reading.with_consent_overrides({OPT_OUT_FLAG_UNCONFIRMED_STATUS: "opted_out"})
    assert outcome_of(confirmed, headers, flagged) == "opted_out"
    assert outcome_of(reading, headers, ["a@x.com", "", "", ""]) == outcome_of(profile, headers[:-1], ["a@x.com", "", ""])


@pytest.mark.parametrize(
    ("cell", "status"),
    [
        ("", "active"), ("no", "active"), ("FALSE", "active"), ("N/A", "active"), ("0000-00-00", "active"),
        # Email Address + Email Status + Unsubscribed=yes was planned marketing: never again.
        ("yes", OPT_OUT_FLAG_UNCONFIRMED_STATUS), ("TRUE", OPT_OUT_FLAG_UNCONFIRMED_STATUS),
        ("2024-03-01", OPT_OUT_FLAG_UNCONFIRMED_STATUS), ("unsubscribed", OPT_OUT_FLAG_UNCONFIRMED_STATUS),
        # A value no rule reads might be an opt-out: never marketing.
        ("maybe", "unrecognised"),
    ],
)  # fmt: skip
def test_a_borrowed_flag_can_only_take_a_row_away_from_marketing(cell, status):
    headers = ["Email Address", "Email Status", "Unsubscribed"]
    reading = reading_fallback_opt_outs(reading_profile("constantcontact"), headers)
    assert status_of(reading, headers, ["ann@example.com", "Active", cell]) == status
    assert outcome_of(reading, headers, ["ann@example.com", "Active", cell]) == ("marketing" if status == "active" else "non_marketing")


def test_a_borrowed_flag_set_wins_over_an_equally_restrictive_reading_of_the_profiles_own():
    # So the report counts every row the flag is set in, and confirming it opts out all of them.
    headers = ["Email", "Marketing contact status", "Bounced"]
    reading = reading_fallback_opt_outs(reading_profile("hubspot"), headers)
    row = ["ann@x.com", "non-marketing contact", "1"]
    assert status_of(reading, headers, row) == OPT_OUT_FLAG_UNCONFIRMED_STATUS
    confirmed = reading.with_consent_overrides({OPT_OUT_FLAG_UNCONFIRMED_STATUS: "opted_out"})
    assert outcome_of(confirmed, headers, row) == "opted_out"


def test_the_borrowed_rules_give_only_the_unconfirmed_status():
    reading = reading_fallback_opt_outs(reading_profile("hubspot"), ["Email", "Bounced", "Unsubscribed At"])
    borrowed = [rule for rule in reading.rules if rule not in reading_profile("hubspot").rules]
    assert [rule.statuses() for rule in borrowed] == [frozenset({OPT_OUT_FLAG_UNCONFIRMED_STATUS})] * 2
    assert StatusRule(columns=("Bounced",), when_set="bounced").giving("x") == StatusRule(columns=("Bounced",), when_set="x")


@pytest.mark.parametrize(
    ("name", "column"),
    [
        # The profile reads it itself, as its source writes it.
        ("salesforce", "HasOptedOutOfEmail"), ("salesforce", "Email Opt Out"), ("zoho", "Email Opt Out"),
        ("klaviyo", "Suppressed"), ("hubspot", "Unsubscribed from all email"),
        # The fallback's consent columns that can say subscribed are not borrowed.
        ("constantcontact", "Subscribed"), ("constantcontact", "Newsletter"), ("klaviyo", "Status"),
        ("activecampaign", "Email Status"),
    ],
)  # fmt: skip
def test_a_column_the_profile_reads_or_one_that_can_say_subscribed_is_not_borrowed(name, column):
    headers = [*identifying_headers(name), column]
    profile = reading_profile(name)
    assert reading_fallback_opt_outs(profile, headers) is profile


def test_the_fallback_profile_is_left_as_it_is():
    generic = reading_profile(FALLBACK_PROFILE)
    assert reading_fallback_opt_outs(generic, ["Email", "Unsubscribed", "Bounced"]) is generic
