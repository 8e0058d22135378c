"""A run's consent overrides rank a row's readings, not only the outcome of the reading that won.

Constant Contact's export reads a row from ``Email status`` and ``Email permission status``: an
``Active`` row with ``Implied permission`` reads both ``active`` and ``implicit``, equally
marketing by default. ``--consent implicit=non_marketing`` must make such a row non-marketing.
"""

from __future__ import annotations

import polars as pl
import pytest

from tasks.errors import InputError
from tasks.transform.catalog import reading_profile
from tasks.transform.consent import NAME_DISAGREES_STATUS, Outcome
from tasks.transform.mapping_file import UserMapping

CC_HEADERS = ["Email address", "Email status", "Email permission status"]
CC_ROWS = {
    # email: (Email status, Email permission status)
    "implied@x.com": ("Active", "Implied permission"),
    "express@x.com": ("Active", "Express permission"),
    "send@x.com": ("Active", "Permission to send"),
    "awaiting@x.com": ("Awaiting Confirmation", "No permission set"),
}


def cc_frame() -> pl.DataFrame:
    return pl.DataFrame(
        [(email, *cells) for email, cells in CC_ROWS.items()], schema=CC_HEADERS, orient="row"
    )


def read_statuses(profile) -> dict[str, tuple[str, str]]:
    """Each row's status and its outcome under the profile's own policy."""
    frame = cc_frame().with_columns(profile.status_expr(CC_HEADERS).alias("status"))
    policy = profile.profile.consent
    return {email: (status, policy.outcome_of(status).value) for email, status in frame.select("Email address", "status").iter_rows()}


def test_by_default_the_first_of_two_equally_restrictive_readings_wins():
    statuses = read_statuses(reading_profile("constantcontact"))
    assert statuses["implied@x.com"] == ("active", "marketing")
    assert statuses["awaiting@x.com"] == ("pending_confirmation", "non_marketing")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        # The reading a tie made lose wins once the run makes it more restrictive.
        ({"implicit": "non_marketing"}, {"implied@x.com": ("implicit", "non_marketing"), "express@x.com": ("active", "marketing")}),
        ({"explicit": "non_marketing"}, {"implied@x.com": ("active", "marketing"), "express@x.com": ("explicit", "non_marketing")}),
        ({"not_set": "opted_out"}, {"awaiting@x.com": ("not_set", "opted_out"), "send@x.com": ("active", "marketing")}),
        # The reading that won still wins when it is the one made more restrictive.
        ({"active": "non_marketing"}, {"implied@x.com": ("active", "non_marketing"), "send@x.com": ("active", "non_marketing")}),
    ],
)
def test_a_run_override_ranks_the_readings_of_a_row(overrides, expected):
    statuses = read_statuses(reading_profile("constantcontact").with_consent_overrides(overrides))
    assert {email: statuses[email] for email in expected} == expected


def test_the_run_overrides_apply_after_the_mappings_consent(tmp_path):
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('profile = "constantcontact"\n[consent]\nimplicit = "non_marketing"\nexplicit = "non_marketing"\n', encoding="utf-8")
    mapped = reading_profile("constantcontact").with_mapping(UserMapping.load(mapping))
    statuses = read_statuses(mapped.with_consent_overrides({"implicit": "marketing"}))
    assert statuses["implied@x.com"] == ("active", "marketing")
    assert statuses["express@x.com"] == ("explicit", "non_marketing")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"unsubscribed": "marketing"}, "status 'unsubscribed' is an opt-out and cannot be mapped to marketing"),
        ({"bounced": "non_marketing"}, "status 'bounced' is an opt-out and cannot be mapped to non_marketing"),
        ({NAME_DISAGREES_STATUS: "marketing"}, "is evidence of an opt-out and cannot be mapped to marketing"),
        ({"implicit": "maybe"}, "unknown outcome 'maybe'"),
    ],
)
def test_an_override_the_policy_refuses_is_refused_before_any_row_is_read(overrides, message):
    with pytest.raises(InputError, match=message):
        reading_profile("constantcontact").with_consent_overrides(overrides)


def test_an_override_making_a_status_an_opt_out_leaves_the_locked_opt_outs_as_they_are():
    profile = reading_profile("constantcontact").with_consent_overrides({"removed": "opted_out"})
    assert profile.profile.consent.outcome_of("removed") is Outcome.OPTED_OUT
    assert profile.profile.consent.opt_out_statuses == reading_profile("constantcontact").profile.consent.opt_out_statuses


def test_no_override_leaves_the_profile_as_it_is():
    profile = reading_profile("constantcontact")
    assert profile.with_consent_overrides({}) is profile


def test_a_run_applies_to_a_profile_only_the_overrides_naming_its_statuses():
    # Another format's status (a Mailchimp export's, beside this file) or a typo changes no row
    # here, and must not become one of the profile's statuses: the run refuses a typo by them.
    profile = reading_profile("constantcontact").with_run_consent({"implicit": "non_marketing", "nonsubscribed": "marketing", "implict": "opted_out"})
    assert profile.profile.consent.outcome_of("implicit") is Outcome.NON_MARKETING
    assert set(profile.profile.consent.outcomes) == set(reading_profile("constantcontact").profile.consent.outcomes)


def test_a_run_override_reopening_one_of_the_profiles_opt_outs_is_refused():
    with pytest.raises(InputError, match="status 'bounced' is an opt-out"):
        reading_profile("constantcontact").with_run_consent({"BOUNCED": "marketing"})
