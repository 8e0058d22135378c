import polars as pl
import pytest

from tasks.errors import InputError
from tasks.transform.consent import ConsentPolicy, Outcome, outcome_from_severity_expr, severity_expr
from tasks.transform.profile import load_profile


@pytest.fixture
def policy() -> ConsentPolicy:
    return load_profile("mailchimp").consent


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("subscribed", Outcome.MARKETING),
        ("unsubscribed", Outcome.OPTED_OUT),
        ("cleaned", Outcome.OPTED_OUT),
        ("nonsubscribed", Outcome.NON_MARKETING),
        ("transactional", Outcome.NON_MARKETING),
        ("pending", Outcome.NON_MARKETING),
        ("archived", Outcome.NON_MARKETING),
        ("Subscribed", Outcome.MARKETING),
        ("a-status-nobody-named", Outcome.NON_MARKETING),
    ],
)
def test_mailchimp_default_outcomes_follow_the_design(policy, status, outcome):
    assert policy.outcome_of(status) is outcome


def test_an_override_can_make_subscribers_non_marketing(policy):
    assert policy.with_overrides({"subscribed": "non_marketing"}).outcome_of("subscribed") is Outcome.NON_MARKETING


def test_an_override_can_make_a_status_an_opt_out(policy):
    assert policy.with_overrides({"pending": "opted_out"}).outcome_of("pending") is Outcome.OPTED_OUT


@pytest.mark.parametrize("status", ["unsubscribed", "cleaned", "CLEANED"])
@pytest.mark.parametrize("outcome", ["marketing", "non_marketing"])
def test_no_override_turns_an_opt_out_back_into_a_contact(policy, status, outcome):
    with pytest.raises(InputError, match="opt-out"):
        policy.with_overrides({status: outcome})


def test_an_unknown_outcome_is_refused_with_the_allowed_ones(policy):
    with pytest.raises(InputError, match="marketing, non_marketing, opted_out"):
        policy.with_overrides({"subscribed": "maybe"})


def test_the_outcome_expression_agrees_with_outcome_of(policy):
    statuses = ["subscribed", "cleaned", "nonsubscribed", "weird"]
    got = pl.DataFrame({"s": statuses}).select(policy.status_outcome_expr(pl.col("s"))).to_series().to_list()
    assert got == [policy.outcome_of(s).value for s in statuses]


def test_severity_orders_outcomes_most_restrictive_last():
    frame = pl.DataFrame({"o": ["opted_out", "marketing", "non_marketing"]})
    severities = frame.select(severity_expr(pl.col("o"))).to_series().to_list()
    assert severities == [2, 0, 1]
    assert frame.select(outcome_from_severity_expr(severity_expr(pl.col("o")))).to_series().to_list() == frame["o"].to_list()
