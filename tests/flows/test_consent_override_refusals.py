"""Consent overrides no run may make are refused before any work, through the flows (a
deployment's run has no CLI) and the CLI; a mapping the run's ``--consent`` loosens is warned of."""

from __future__ import annotations

import csv

import pytest

from flows.migrate import plan_contacts
from schemas.params import PlanParameters
from tasks.errors import InputError
from tasks.transform.consent import EVERY_PROFILE_HOLDS, OWN_STATUS_HINT
from tests.flows.test_cli import assert_one_line_error, run
from tests.flows.test_consent_overrides import outcomes_of, write_cc_export

BOUNCED_REFUSAL = (
    "status 'bounced' is an opt-out in the activecampaign, constantcontact, generic, pipedrive profiles "
    f"({EVERY_PROFILE_HOLDS}) and cannot be mapped to marketing; {OWN_STATUS_HINT}"
)


def test_the_flow_refuses_an_override_weakening_an_opt_out_before_it_makes_the_output(prefect_api_url, tmp_path):
    source = write_cc_export(tmp_path / "in")
    params = PlanParameters(sources=[str(source)], output=str(tmp_path / "out"), consent_overrides={"bounced": "marketing"})

    with pytest.raises(InputError) as refused:
        plan_contacts(params)

    assert str(refused.value) == f"--consent: {BOUNCED_REFUSAL}"
    assert not (tmp_path / "out").exists()


def test_the_cli_refuses_it_in_one_line_before_the_engine_starts(prefect_api_url, tmp_path):
    source = write_cc_export(tmp_path / "in")

    result = run(["plan", str(source), "--out", str(tmp_path / "out"), "--consent", "bounced=marketing"],
                 env={"PREFECT_API_URL": prefect_api_url})  # fmt: skip

    assert_one_line_error(result, 2, f"--consent: {BOUNCED_REFUSAL}")
    assert "Flow run" not in result.stdout + result.stderr
    assert not (tmp_path / "out").exists()


def test_migrate_accounts_refuses_the_manifest_before_any_account_runs(prefect_api_url, tmp_path):
    first, second = write_cc_export(tmp_path / "acme"), write_cc_export(tmp_path / "globex")
    manifest = tmp_path / "accounts.yaml"
    manifest.write_text(
        "accounts:\n"
        f"  - name: acme\n    sources: [{first}]\n    portal: {{url: 'http://127.0.0.1:9', token_env: ACME_TOKEN}}\n"
        f"  - name: globex\n    sources: [{second}]\n    portal: {{url: 'http://127.0.0.1:10', token_env: GLOBEX_TOKEN}}\n"
        "    consent_overrides: {unsubscribed: non_marketing}\n",
        encoding="utf-8",
    )

    result = run(["migrate-accounts", str(manifest), "--out", str(tmp_path / "out")],
                 env={"PREFECT_API_URL": prefect_api_url, "ACME_TOKEN": "tok-a", "GLOBEX_TOKEN": "tok-g"})  # fmt: skip

    assert_one_line_error(result, 2, f"{manifest}:8: accounts.1.consent_overrides.unsubscribed: account globex: status 'unsubscribed' "
                                     "is an opt-out in the ", "and cannot be mapped to non_marketing")  # fmt: skip
    assert "mailchimp-export" not in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("mapped", "run", "loosened"),
    [("opted_out", "marketing", True), ("marketing", "opted_out", False)],
    ids=["a-loosening-is-warned-of", "a-stricter-run-warns-of-nothing"],
)
def test_the_runs_consent_wins_over_the_mapping(prefect_api_url, tmp_path, caplog, mapped, run, loosened):
    source = tmp_path / "in" / "people.csv"
    source.parent.mkdir()
    with source.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["Email", "First Name", "Status"], ["sub@x.com", "Sue", "subscribed"]])
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(f'[consent]\nsubscribed = "{mapped}"\n', encoding="utf-8")

    plan_contacts(PlanParameters(sources=[str(source)], output=str(tmp_path / "out"), mapping_file=str(mapping),
                                 consent_overrides={"subscribed": run}))  # fmt: skip

    assert outcomes_of(tmp_path / "out") == {"sub@x.com": run}
    warned = [m for m in caplog.messages if "less restrictive" in m]
    if loosened:
        assert warned == [
            f"--consent subscribed=marketing makes 'subscribed' less restrictive than {mapping}:2 does "
            "(subscribed = \"opted_out\"): the run's --consent wins, its rows are marketing"
        ]
    else:
        assert warned == []
