"""Multi-account migration: concurrency, a shared portal, one broken account, a rerun."""

from __future__ import annotations

import json

from benchmarks.generate_mailchimp import write_export
from flows.accounts import migrate_accounts
from schemas.manifest import AccountsParameters


def manifest(tmp_path, portal_url: str, broken_source: str) -> str:
    for seed, name in ((1, "acme"), (2, "globex")):
        write_export(tmp_path / f"{name}.zip", rows=40, seed=seed)
    path = tmp_path / "accounts.yaml"
    path.write_text(
        f"""accounts:
  - name: acme
    sources: [{tmp_path / 'acme.zip'}]
    portal: {{url: "{portal_url}", token_env: ACME_TOKEN}}
  - name: globex
    sources: [{tmp_path / 'globex.zip'}]
    portal: {{url: "{portal_url}", token_env: GLOBEX_TOKEN}}
  - name: initech
    sources: [{broken_source}]
    portal: {{url: "{portal_url}", token_env: INITECH_TOKEN}}
""",
        encoding="utf-8",
    )
    return str(path)


def writes(hubspot) -> int:
    return sum(n for (method, _, _), n in hubspot.emulator.request_counts.items() if method in {"POST", "PUT", "PATCH", "DELETE"})


def test_accounts_migrate_side_by_side_and_a_rerun_retries_only_the_failed_one(prefect_api_url, hubspot, tmp_path, monkeypatch):
    for name in ("ACME_TOKEN", "GLOBEX_TOKEN", "INITECH_TOKEN"):
        monkeypatch.setenv(name, f"token-{name.lower()}")
    broken = tmp_path / "initech.zip"
    broken.write_text("not a zip", encoding="utf-8")
    params = AccountsParameters(manifest=manifest(tmp_path, hubspot.url, str(broken)), output=str(tmp_path / "out"), max_concurrent_accounts=2)

    first = migrate_accounts(params)

    assert {a["name"]: a["status"] for a in first["accounts"]} == {"acme": "migrated", "globex": "migrated", "initech": "failed"}
    assert "initech.zip" in first["accounts"][2]["error"]
    assert first["failed"] == ["initech"]
    reports = {n: json.loads((tmp_path / "out" / n / "report.json").read_text()) for n in ("acme", "globex")}
    assert first["totals"]["rows_read"] == sum(r["rows_read"] for r in reports.values())
    assert first["totals"]["contacts"]["marketing"] == sum(r["contacts"]["marketing"] for r in reports.values())
    assert json.loads((tmp_path / "out" / "rollup.json").read_text()) == first
    assert not any(status == 429 for (_, _, status) in hubspot.emulator.request_counts)

    write_export(broken, rows=50, seed=3)
    writes_before = writes(hubspot)
    finished_reports = {n: (tmp_path / "out" / n / "report.json").read_bytes() for n in ("acme", "globex")}
    second = migrate_accounts(params)

    assert {a["name"]: a["status"] for a in second["accounts"]} == {"acme": "skipped", "globex": "skipped", "initech": "migrated"}
    assert second["failed"] == []
    assert {n: (tmp_path / "out" / n / "report.json").read_bytes() for n in ("acme", "globex")} == finished_reports
    initech = json.loads((tmp_path / "out" / "initech" / "report.json").read_text())
    imports_and_opt_outs = len(initech["load"]["imports"]) + len(initech["load"]["opt_outs"]["files"])
    assert writes(hubspot) - writes_before >= imports_and_opt_outs
    assert second["totals"]["rows_read"] == first["totals"]["rows_read"] + initech["rows_read"]
