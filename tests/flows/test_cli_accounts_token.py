"""A manifest account's token is read where its entry says, only: its ``token_env`` unset is its own
failure naming the variable, never a fall back to the default Secret block ``hubspot-access-token``
(the one README step 3 has newcomers create), which holds some other client's token (the audit's
case: one client's contacts loaded into another's portal, exit 0, no warning)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from prefect.blocks.system import Secret

from benchmarks.generate_mailchimp import write_export
from emulators.hubspot import serve_in_background
from tasks.errors import LoadError
from tasks.load.client import resolve_token
from tasks.load.settings import DEFAULT_SECRET_BLOCK, TOKEN_ENV_VAR
from tests.flows.test_accounts import write_manifest
from tests.flows.test_cli import run

ACME, GLOBEX = 4417281, 5520913
ACME_TOKEN = "token-of-acme"
ANOTHER_CLIENTS_TOKEN = "token-of-another-client"


@contextmanager
def default_block_holding(token: str) -> Iterator[None]:
    """The default Secret block holds ``token`` while inside; deleted after, as other tests of the
    session's Prefect server expect no such block."""
    Secret(value=token).save(DEFAULT_SECRET_BLOCK, overwrite=True)
    try:
        yield
    finally:
        Secret.delete(DEFAULT_SECRET_BLOCK)


def test_an_account_s_own_variable_is_the_only_place_read_and_a_run_naming_nothing_takes_the_default_block(prefect_api_url, monkeypatch):
    monkeypatch.delenv(TOKEN_ENV_VAR, raising=False)
    monkeypatch.delenv("GLOBEX_TOKEN", raising=False)
    with default_block_holding(ANOTHER_CLIENTS_TOKEN):
        with pytest.raises(LoadError) as missing:
            resolve_token(None, "GLOBEX_TOKEN")
        assert resolve_token() == ANOTHER_CLIENTS_TOKEN
        assert resolve_token(None, None) == ANOTHER_CLIENTS_TOKEN
        monkeypatch.setenv("GLOBEX_TOKEN", "token-of-globex")
        assert resolve_token(None, "GLOBEX_TOKEN") == "token-of-globex"

    assert str(missing.value) == "no HubSpot access token: set GLOBEX_TOKEN"


def test_an_account_whose_variable_is_unset_fails_alone_and_the_default_block_s_portal_is_sent_nothing(prefect_api_url, tmp_path):
    for seed, name in ((1, "acme"), (2, "globex")):
        write_export(tmp_path / f"{name}.zip", rows=20, seed=seed)
    sources = {name: str(tmp_path / f"{name}.zip") for name in ("acme", "globex")}
    with serve_in_background(portal_id=ACME, allowed_tokens=frozenset({ACME_TOKEN})) as acme_portal, \
            serve_in_background(portal_id=GLOBEX, allowed_tokens=frozenset({ANOTHER_CLIENTS_TOKEN})) as other_portal, \
            default_block_holding(ANOTHER_CLIENTS_TOKEN):
        manifest = write_manifest(tmp_path / "accounts.yaml", {"acme": acme_portal.url, "globex": other_portal.url}, sources)

        # GLOBEX_TOKEN unset (run() drops HUBSPOT_ACCESS_TOKEN too).
        result = run(["migrate-accounts", manifest, "--out", str(tmp_path / "out")],
                     env={"PREFECT_API_URL": prefect_api_url, "ACME_TOKEN": ACME_TOKEN, "GLOBEX_TOKEN": ""})

        assert other_portal.emulator.request_counts.total() == 0
    assert result.returncode == 1, result.stderr
    rollup = json.loads((tmp_path / "out" / "rollup.json").read_text())
    acme, globex = rollup["accounts"]
    assert (acme["status"], globex["status"]) == ("migrated", "failed")
    assert globex["error"] == f"{other_portal.url}: no HubSpot access token: set GLOBEX_TOKEN"
    (console_line,) = [line for line in result.stdout.splitlines() if line.split()[:2] == ["globex", "failed"]]
    assert console_line.endswith(f"failed    {globex['error']}")
    assert not (tmp_path / "out" / "globex").exists()
    assert ANOTHER_CLIENTS_TOKEN not in result.stdout + result.stderr and "Traceback" not in result.stdout + result.stderr
