"""Status rules that read every column whose header starts a given way (one column per
subscription, named as the source's account names it), in a profile or a user's mapping."""

from __future__ import annotations

import pytest

from tasks.errors import InputError
from tasks.extract.tables import ReadOptions
from tasks.transform.catalog import StatusRule, consent_headers, reading_profile
from tasks.transform.mapping_file import UserMapping
from tests.tasks.extract.test_tables import outcomes, read_one, write_csv


def test_a_rule_reads_its_named_columns_then_every_header_a_prefix_starts_each_once():
    rule = StatusRule(columns=("Unsubscribed", "Opt-in: News"), column_prefixes=("opt-in: ", "OPT-IN: N"))
    headers = ["Email", " opt-in: Offers ", "Opt-in:", "OPT-IN: NEWS", "Unsubscribed", "Opt-in: Events"]
    assert rule.headers_read(headers) == ["Unsubscribed", "OPT-IN: NEWS", " opt-in: Offers ", "Opt-in: Events"]
    assert StatusRule(columns=("Unsubscribed",)).headers_read(headers) == ["Unsubscribed"]


def test_hubspots_per_subscription_prefix_leaves_unsubscribed_from_all_email_to_its_own_rule():
    hubspot = reading_profile("hubspot")
    headers = ["email", "hs_email_optout", "hs_email_optout_12345", "Opted out of email: Product Updates", "Opted out of email: "]
    [per_subscription] = [rule for rule in hubspot.rules if rule.column_prefixes]
    assert per_subscription.headers_read(headers) == ["hs_email_optout_12345", "Opted out of email: Product Updates"]
    assert consent_headers(hubspot, headers) == ("hs_email_optout", "hs_email_optout_12345", "Opted out of email: Product Updates")


def test_a_mappings_prefix_rule_reads_every_column_starting_so(tmp_path):
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        '[[status.rules]]\ncolumn_prefixes = ["Opt-in: "]\nwhen_true = "opted_in"\n[consent]\nopted_in = "marketing"\n',
        encoding="utf-8",
    )
    rows = [["a@x.com", "yes", ""], ["b@x.com", "", "yes"], ["c@x.com", "", ""]]
    path = write_csv(tmp_path / "people.csv", ["Email", "Opt-in: News", "Opt-in: Offers"], rows)
    read = read_one(path, tmp_path, ReadOptions(mapping=UserMapping.load(mapping)))
    assert outcomes(read) == {"a@x.com": "marketing", "b@x.com": "marketing", "c@x.com": "non_marketing"}


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        (
            '[[status.rules]]\nwhen_true = "unsubscribed"\n',
            1,
            "status.rules[1]: a status rule needs columns or column_prefixes: this one reads no column",
        ),
        ('[[status.rules]]\ncolumn_prefixes = [" "]\nwhen_true = "unsubscribed"\n', 2, "status.rules[1].column_prefixes[1] is empty"),
        (
            '[[status.rules]]\ncolumn_prefixes = []\nwhen_true = "unsubscribed"\n',
            2,
            "status.rules[1].column_prefixes is empty: name at least one column",
        ),
    ],
)
def test_a_rule_reading_no_column_is_refused_naming_its_line(tmp_path, text, line, problem):
    path = tmp_path / "m.toml"
    path.write_text(text + '[consent]\nunsubscribed = "opted_out"\n', encoding="utf-8")
    with pytest.raises(InputError) as refused:
        UserMapping.load(path)
    assert str(refused.value) == f"{path}:{line}: {problem}"


def test_a_prefix_no_header_of_the_run_starts_with_is_refused(tmp_path):
    path = tmp_path / "m.toml"
    rule = '[[status.rules]]\ncolumn_prefixes = ["Opt-in: ", "Optin "]\nwhen_true = "opted_in"\n'
    path.write_text(rule + '[consent]\nopted_in = "marketing"\n', encoding="utf-8")
    mapping = UserMapping.load(path)
    mapping.check_headers(["Email", " opt-in: News", "OPTIN Offers"])
    with pytest.raises(InputError) as refused:
        mapping.check_headers(["Email", "Opt-in: News"])
    assert str(refused.value) == f"{path}:2: no file read has a column starting 'Optin '"
