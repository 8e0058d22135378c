"""A token pasted with an invisible or control character: the audit's case, where every account of
``onramp migrate-accounts`` crashed (no rollup) with the whole token in an ERROR line and in
Prefect's log table (``UnicodeEncodeError: 'latin-1' … 'Bearer pat-na1-wsSECRET888\\u200b'``), and
``onramp migrate`` the same. Now one at the token's edge is trimmed and the account runs; one
inside fails that account alone in one line naming its variable and the character, as an unset
variable does, and the others run. No part of any token is printed."""

from __future__ import annotations

import json
import os
import subprocess

from benchmarks.generate_mailchimp import write_export
from emulators.hubspot import serve_in_background
from flows.cli import SAMPLE_EXPORT
from tests.flows.test_accounts import write_manifest
from tasks.load.settings import TOKEN_ENV_VAR
from tests.flows.test_cli import ONRAMP, assert_one_line_error, run

TOKENS = {"ACME_TOKEN": "pat-na1-acmeSECRET111", "GLOBEX_TOKEN": "pat-na1-globexSECRET222", "INITECH_TOKEN": "pat-na1-wsSECRET888"}


def test_an_account_whose_token_holds_an_invisible_character_fails_alone_in_one_line_and_the_others_run(prefect_api_url, tmp_path):
    for seed, name in enumerate(("acme", "globex", "initech"), start=1):
        write_export(tmp_path / f"{name}.zip", rows=20, seed=seed)
    sources = {name: str(tmp_path / f"{name}.zip") for name in ("acme", "globex", "initech")}
    with serve_in_background(portal_id=1001, allowed_tokens=frozenset({TOKENS["ACME_TOKEN"]})) as acme, \
            serve_in_background(portal_id=1002, allowed_tokens=frozenset({TOKENS["GLOBEX_TOKEN"]})) as globex, \
            serve_in_background(portal_id=1003, allowed_tokens=frozenset({TOKENS["INITECH_TOKEN"]})) as initech:
        manifest = write_manifest(tmp_path / "accounts.yaml", {"acme": acme.url, "globex": globex.url, "initech": initech.url}, sources)
        env = {
            "PREFECT_API_URL": prefect_api_url,
            "ACME_TOKEN": TOKENS["ACME_TOKEN"],
            # Pasted from a web page: a zero-width space after it (trimmed), and one inside (refused).
            "GLOBEX_TOKEN": f"{TOKENS['GLOBEX_TOKEN']}\u200b",
            "INITECH_TOKEN": "pat-na1-ws\u200bSECRET888",
        }

        result = run(["migrate-accounts", manifest, "--out", str(tmp_path / "out")], env=env)

        assert initech.emulator.request_counts.total() == 0
    assert result.returncode == 1, result.stderr
    rollup = json.loads((tmp_path / "out" / "rollup.json").read_text())
    assert {a["name"]: a["status"] for a in rollup["accounts"]} == {"acme": "migrated", "globex": "migrated", "initech": "failed"}
    refused = rollup["accounts"][2]["error"]
    assert refused == (
        f"{initech.url}: the HubSpot access token in INITECH_TOKEN holds an invisible character (U+200B) at character 11, "
        "and a HubSpot access token has only letters, digits and punctuation: something was copied with it; "
        "put it there again, copied alone"
    )
    (console_line,) = [line for line in result.stdout.splitlines() if line.split()[:2] == ["initech", "failed"]]
    assert console_line.endswith(refused)
    said = result.stdout + result.stderr
    assert "SECRET" not in said and "Traceback" not in said and "UnicodeEncodeError" not in said


def test_migrate_with_a_token_holding_a_line_break_exits_2_in_one_line_without_it(prefect_api_url, hubspot, tmp_path):
    asked_before = hubspot.emulator.request_counts.total()
    env = {**os.environ, "PREFECT_API_URL": prefect_api_url, TOKEN_ENV_VAR: "pat-na1-ws\nSECRET999"}

    result = subprocess.run(
        [*ONRAMP, "migrate", str(SAMPLE_EXPORT), "--out", str(tmp_path / "out"), "--portal-url", hubspot.url],
        capture_output=True, text=True, env=env, timeout=300,
    )

    assert_one_line_error(
        result, 2, f"{hubspot.url}: the HubSpot access token in {TOKEN_ENV_VAR} holds a line break (U+000A) at character 11, "
    )
    assert "SECRET" not in result.stdout + result.stderr and "InvalidHeader" not in result.stderr
    assert hubspot.emulator.request_counts.total() == asked_before
