"""An opt-out flag the fallback profile knows is read whichever profile reads the file: a few of
a source's identifying headers (``Email Address`` and ``Email Status`` make a file Constant
Contact's) must not make its ``Unsubscribed`` column a mere property."""

from __future__ import annotations

import polars as pl
import pytest

from tasks.transform.catalog import (
    FALLBACK_PROFILE,
    ReadingProfile,
    consent_headers,
    profile_names,
    reading_fallback_opt_outs,
    reading_profile,
)

# Opt-out and bounce flags as the fallback profile reads them: a flag, a date, a bounce flag.
FLAGS = ["Unsubscribed", "Do Not Email", "Opted Out", "Global Unsubscribe", "Bounced", "Unsubscribed At", "Bounce Date"]

BOUND_PROFILES = [name for name in profile_names() if name != FALLBACK_PROFILE]


def outcome_of(profile: ReadingProfile, headers: list[str], row: list[str]) -> str:
    """The outcome of one row of a file with ``headers``, read with ``profile``."""
    frame = pl.DataFrame([row], schema=dict.fromkeys(headers, pl.String), orient="row")
    [status] = frame.select(profile.status_expr(headers)).to_series().to_list()
    return profile.profile.consent.outcome_of(status).value


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
    assert outcome_of(reading, headers, ["a@x.com", "", "", set_cell]) == "opted_out"
    assert outcome_of(reading, headers, ["a@x.com", "", "", ""]) == outcome_of(profile, headers[:-1], ["a@x.com", "", ""])


@pytest.mark.parametrize(
    ("cell", "outcome"),
    [
        ("", "marketing"), ("no", "marketing"), ("FALSE", "marketing"), ("N/A", "marketing"), ("0000-00-00", "marketing"),
        ("yes", "opted_out"), ("TRUE", "opted_out"), ("2024-03-01", "opted_out"), ("unsubscribed", "opted_out"),
        # A value no rule reads might be an opt-out: never marketing.
        ("maybe", "non_marketing"),
    ],
)  # fmt: skip
def test_a_borrowed_flag_can_only_take_a_row_away_from_marketing(cell, outcome):
    headers = ["Email Address", "Email Status", "Unsubscribed"]
    reading = reading_fallback_opt_outs(reading_profile("constantcontact"), headers)
    assert outcome_of(reading, headers, ["ann@example.com", "Active", cell]) == outcome


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
