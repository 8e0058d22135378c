"""Through the command line: a plain file whose opt-out column is spelt as exports spell it plans
its rows opted out; one with a column named like consent that no rule reads stops in one line
before anything is planned, and ``onramp inspect`` names such columns."""

from __future__ import annotations

import json

import polars as pl

from tests.flows.test_cli import assert_one_line_error, run


def test_onramp_plan_opts_out_a_salesforce_custom_opt_out_field_and_refuses_an_unread_consent_column(tmp_path, prefect_api_url):
    env = {"PREFECT_API_URL": prefect_api_url}
    source = tmp_path / "crm.csv"
    source.write_text("Email,Opted In,Email_Opt_Out__c\nkeep@x.com,yes,false\ngone@x.com,yes,true\n", encoding="utf-8")
    result = run(["plan", str(source), "--out", str(tmp_path / "out")], env=env)
    assert result.returncode == 0, result.stderr
    lineage = pl.read_csv(tmp_path / "out" / "lineage.csv", infer_schema=False)
    assert dict(zip(lineage["email"], lineage["outcome"], strict=True)) == {"keep@x.com": "marketing", "gone@x.com": "opted_out"}

    refused = tmp_path / "members.csv"
    refused.write_text("Email,Opted In,Unsubscribe\nkeep@x.com,yes,\ngone@x.com,yes,yes\n", encoding="utf-8")
    result = run(["plan", str(refused), "--out", str(tmp_path / "out2")], env=env)
    assert_one_line_error(result, 2, f"{refused}:1:", "reads no consent from 'Unsubscribe'", "[[status.rules]]", "[columns]")
    assert not (tmp_path / "out2" / "hubspot").exists()


def test_onramp_inspect_refuses_the_same_file_and_names_unread_consent_like_columns_of_another_profile(tmp_path):
    refused = tmp_path / "members.csv"
    refused.write_text("Email,Opted In,Bounce Reason\na@x.com,yes,\n", encoding="utf-8")
    assert_one_line_error(run(["inspect", str(refused)]), 2, "reads no consent from 'Bounce Reason'")

    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[columns]\n"Bounce Reason" = "bounce_reason"\n', encoding="utf-8")
    text = run(["inspect", str(refused), "--mapping", str(mapping)])
    assert text.returncode == 0, text.stderr
    assert "not consent  Bounce Reason" in text.stdout
    [entry] = json.loads(run(["inspect", str(refused), "--mapping", str(mapping), "--json"]).stdout)
    assert entry["consent_like_unread"] == ["Bounce Reason"]
    assert entry["status_counts"] == [{"status": "subscribed", "outcome": "marketing", "rows": 1}]
