"""A run's ``--consent`` through the flows: it decides which of a row's readings wins, in a plan,
for Mailchimp exports as before, and for each account of a multi-account migration."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from flows.accounts import migrate_accounts
from flows.cli import SAMPLE_EXPORT
from flows.migrate import plan_contacts
from schemas.manifest import AccountsParameters
from schemas.params import PlanParameters
from tasks.errors import InputError

CC_HEADERS = ["Email address", "First name", "Last name", "Email status", "Email permission status", "Email Lists"]
# A Constant Contact export with Advanced Email Permissions on: an active contact's permission
# is implied or express, two readings of one row, both marketing by default.
CC_ROWS = [
    ["implied@x.com", "Ida", "Lee", "Active", "Implied permission", "Newsletter"],
    ["express@x.com", "Ed", "Moss", "Active", "Express permission", "Newsletter"],
    ["unsub@x.com", "Uma", "Ng", "Unsubscribed", "Unsubscribed", ""],
]


def write_cc_export(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "contact_export_1134551190518_021826_133957.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([CC_HEADERS, *CC_ROWS])
    return path


def outcomes_of(out: Path) -> dict[str, str]:
    with (out / "lineage.csv").open(encoding="utf-8", newline="") as handle:
        return {row["email"]: row["outcome"] for row in csv.DictReader(handle)}


@pytest.mark.parametrize(
    ("overrides", "implied", "express"),
    [({}, "marketing", "marketing"), ({"implicit": "non_marketing"}, "non_marketing", "marketing"),
     ({"explicit": "non_marketing"}, "marketing", "non_marketing")],
)  # fmt: skip
def test_the_runs_consent_decides_between_readings_equally_restrictive_by_default(prefect_api_url, tmp_path, overrides, implied, express):
    source = write_cc_export(tmp_path / "in")

    report = plan_contacts(PlanParameters(sources=[str(source)], output=str(tmp_path / "out"), consent_overrides=overrides))

    assert outcomes_of(tmp_path / "out") == {"implied@x.com": implied, "express@x.com": express, "unsub@x.com": "opted_out"}
    assert report["contacts"]["opted_out"] == 1


def test_an_override_naming_a_status_no_file_of_the_run_gives_is_refused(prefect_api_url, tmp_path):
    source = write_cc_export(tmp_path / "in")
    params = PlanParameters(sources=[str(source)], output=str(tmp_path / "out"), consent_overrides={"implict": "non_marketing"})
    with pytest.raises(InputError, match="^--consent: no constantcontact-export row has the status 'implict'"):
        plan_contacts(params)


def test_a_mailchimp_export_keeps_its_cleaned_opt_outs_and_takes_the_runs_other_overrides(prefect_api_url, tmp_path):
    plain = plan_contacts(PlanParameters(sources=[str(SAMPLE_EXPORT)], output=str(tmp_path / "plain")))
    overridden = plan_contacts(
        PlanParameters(
            sources=[str(SAMPLE_EXPORT)],
            output=str(tmp_path / "overridden"),
            consent_overrides={"cleaned": "opted_out", "nonsubscribed": "marketing", "sms_only": "marketing"},
        )
    )
    assert overridden["contacts"] == {
        "marketing": plain["contacts"]["marketing"] + plain["contacts"]["non_marketing"],
        "non_marketing": 0,
        "opted_out": plain["contacts"]["opted_out"],
    }
    assert {o["status"] for o in overridden["files"]["opt_outs"]} == {"unsubscribed", "cleaned"}


def test_each_account_reads_its_rows_with_its_own_consent_overrides(prefect_api_url, hubspot, tmp_path, monkeypatch):
    monkeypatch.setenv("ACME_TOKEN", "token-acme")
    source = write_cc_export(tmp_path / "acme")
    manifest = tmp_path / "accounts.yaml"
    manifest.write_text(
        "accounts:\n"
        f"  - name: acme\n    sources: [{source}]\n"
        f'    portal: {{url: "{hubspot.url}", token_env: ACME_TOKEN}}\n'
        "    consent_overrides: {implicit: non_marketing}\n",
        encoding="utf-8",
    )

    rollup = migrate_accounts(AccountsParameters(manifest=str(manifest), output=str(tmp_path / "out")))

    assert [a["status"] for a in rollup["accounts"]] == ["migrated"]
    assert outcomes_of(tmp_path / "out" / "acme") == {"implied@x.com": "non_marketing", "express@x.com": "marketing", "unsub@x.com": "opted_out"}
    assert json.loads((tmp_path / "out" / "acme" / "report.json").read_text())["contacts"] == {"marketing": 1, "non_marketing": 1, "opted_out": 1}
