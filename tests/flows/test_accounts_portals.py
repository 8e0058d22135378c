"""Two accounts of a manifest whose tokens HubSpot says are for one portal are refused before
any account plans or sends (their contacts would not merge: one's opt-out would not stop the
other's import); so is an account whose ``portal_id`` HubSpot contradicts. The refusal names the
manifest's line to blame: the second account's portal, or the contradicted portal_id."""

from __future__ import annotations

import logging
from uuid import uuid4

import pytest
from prefect.blocks.system import Secret

from benchmarks.generate_mailchimp import write_export
from emulators.hubspot import serve_in_background
from schemas.manifest import AccountSpec, PortalSpec
from tasks.errors import InputError
from tasks.load.client import ACCOUNT_INFO_PATH, PortalDetails
from tasks.load.expected import ExpectedPortal
from tasks.load.portals import (
    HELD_TO_ITS_PORTAL_ID,
    HUBSPOT_WILL_NOT_SAY,
    NO_ANSWER,
    SAID_BY_HUBSPOT,
    TOKEN_READ_WHERE_IT_RUNS,
    AccountPortal,
    RunRefusal,
    check_one_portal_each,
    run_refusal,
    token_read_here,
    what_is_known,
)
from tests.flows.test_accounts import write_manifest
from tests.flows.test_cli import assert_one_line_error, run

ACME, GLOBEX = 4417281, 5520913
TOKENS = {"ACME_TOKEN": "token-of-acme", "GLOBEX_TOKEN": "token-of-globex"}


def details(portal_id: int) -> PortalDetails:
    return PortalDetails(portal_id, "STANDARD", "US/Eastern")


def test_two_accounts_hubspot_puts_in_one_portal_are_refused_naming_both_and_the_portal():
    portals = [
        AccountPortal("acme", ACME, SAID_BY_HUBSPOT),
        AccountPortal("initech", None, NO_ANSWER),
        AccountPortal("globex", ACME, SAID_BY_HUBSPOT),
    ]

    assert run_refusal(portals) == RunRefusal(
        "globex",
        ("portal",),
        f"accounts acme and globex load into one HubSpot portal, {ACME} (acme: {SAID_BY_HUBSPOT}; globex: {SAID_BY_HUBSPOT}): "
        "list their sources under one account, so their contacts merge into one row per email (apart, an opt-out in one "
        "would not stop the other's import): nothing was sent",
    )


def test_accounts_of_portals_apart_or_unknown_are_not_refused():
    assert run_refusal([AccountPortal("acme", ACME, SAID_BY_HUBSPOT), AccountPortal("globex", GLOBEX, HELD_TO_ITS_PORTAL_ID),
                        AccountPortal("initech", None, NO_ANSWER), AccountPortal("hooli", None, TOKEN_READ_WHERE_IT_RUNS)]) is None


def test_hubspot_decides_and_a_portal_id_stands_in_only_when_it_does_not_say():
    expected = ExpectedPortal(GLOBEX, "GLOBEX_TOKEN")

    contradicted = what_is_known("globex", expected, details(ACME), HUBSPOT_WILL_NOT_SAY)
    assert contradicted.portal_id == ACME
    assert contradicted.disagreement.startswith(f"account globex: the token (GLOBEX_TOKEN) is for HubSpot portal {ACME} (STANDARD), "
                                                f"not portal {GLOBEX} as the run's portal id")
    assert what_is_known("globex", expected, details(GLOBEX), HUBSPOT_WILL_NOT_SAY) == AccountPortal("globex", GLOBEX, SAID_BY_HUBSPOT)
    assert what_is_known("globex", expected, None, NO_ANSWER) == AccountPortal("globex", GLOBEX, HELD_TO_ITS_PORTAL_ID)
    assert what_is_known("globex", None, None, NO_ANSWER) == AccountPortal("globex", None, NO_ANSWER)
    # The contradiction comes first, whatever else the run holds.
    assert run_refusal([AccountPortal("acme", ACME, SAID_BY_HUBSPOT), contradicted]) == RunRefusal(
        "globex", ("portal", "portal_id"), contradicted.disagreement
    )


def test_a_token_is_read_here_from_a_secret_block_always_and_from_a_variable_only_for_runs_here():
    block, variable = PortalSpec(token_secret="acme-token"), PortalSpec(token_env="ACME_TOKEN")

    assert token_read_here(block, runs_elsewhere=True) and token_read_here(block, runs_elsewhere=False)
    assert token_read_here(variable, runs_elsewhere=False)
    assert not token_read_here(variable, runs_elsewhere=True)


def account(name: str, url: str, portal_id: int | None = None) -> AccountSpec:
    return AccountSpec(name=name, sources=[f"{name}.zip"], portal={"url": url, "token_env": f"{name.upper()}_TOKEN", "portal_id": portal_id})


def manifest_of(tmp_path, *accounts: AccountSpec) -> str:
    """The accounts as a manifest file, three lines each after ``accounts:``: the ``n``-th
    account's (from 0) portal is on line ``4 + 3n``."""
    def portal(spec: PortalSpec) -> str:
        given = {"url": f'"{spec.url}"', "token_env": spec.token_env, "token_secret": spec.token_secret, "portal_id": spec.portal_id}
        return ", ".join(f"{key}: {value}" for key, value in given.items() if value is not None)

    entries = "".join(f"  - name: {a.name}\n    sources: [{a.sources[0]}]\n    portal: {{{portal(a.portal)}}}\n" for a in accounts)
    path = tmp_path / "accounts.yaml"
    path.write_text(f"accounts:\n{entries}", encoding="utf-8")
    return str(path)


def asked(hub) -> dict[tuple[str, str, int], int]:
    return dict(hub.emulator.request_counts)


def test_two_tokens_of_one_portal_are_refused_over_http_asking_nothing_but_which_portal(monkeypatch, tmp_path):
    for name, token in TOKENS.items():
        monkeypatch.setenv(name, token)
    with serve_in_background(portal_id=ACME, allowed_tokens=frozenset(TOKENS.values())) as hub:
        accounts = [account("acme", hub.url), account("globex", hub.url)]
        manifest = manifest_of(tmp_path, *accounts)
        with pytest.raises(InputError) as refused:
            check_one_portal_each(manifest, accounts, runs_elsewhere=False)

        assert asked(hub) == {("GET", ACCOUNT_INFO_PATH, 200): 2}
    # Line 7: the second account's portal.
    assert str(refused.value).startswith(f"{manifest}:7: accounts acme and globex load into one HubSpot portal, {ACME} ")
    assert not any(token in str(refused.value) for token in TOKENS.values())


def test_a_portal_id_hubspot_contradicts_is_refused_and_one_it_confirms_is_not(monkeypatch, tmp_path):
    for name, token in TOKENS.items():
        monkeypatch.setenv(name, token)
    with serve_in_background(portal_id=ACME) as acme_hub, serve_in_background(portal_id=GLOBEX) as globex_hub:
        confirmed = [account("acme", acme_hub.url, ACME), account("globex", globex_hub.url, GLOBEX)]
        check_one_portal_each(manifest_of(tmp_path, *confirmed), confirmed, runs_elsewhere=False)
        contradicted = [account("acme", acme_hub.url, ACME), account("globex", acme_hub.url, GLOBEX)]
        manifest = manifest_of(tmp_path, *contradicted)
        with pytest.raises(InputError) as refused:
            check_one_portal_each(manifest, contradicted, runs_elsewhere=False)

    # Line 7: the portal (and its portal_id) of globex, the second account.
    assert str(refused.value).startswith(f"{manifest}:7: account globex: the token (GLOBEX_TOKEN) is for HubSpot portal {ACME} ")


def test_a_refused_token_is_left_to_its_run_and_the_others_are_compared_without_it(monkeypatch, caplog, tmp_path):
    for name, token in {**TOKENS, "INITECH_TOKEN": "token-of-initech"}.items():
        monkeypatch.setenv(name, token)
    caplog.set_level(logging.WARNING)
    with serve_in_background(portal_id=ACME, allowed_tokens=frozenset({"token-of-acme"})) as hub, \
            serve_in_background(portal_id=GLOBEX) as globex_hub:
        accounts = [account("acme", hub.url), account("initech", hub.url), account("globex", globex_hub.url)]
        check_one_portal_each(manifest_of(tmp_path, *accounts), accounts, runs_elsewhere=False)

        assert asked(hub) == {("GET", ACCOUNT_INFO_PATH, 200): 1, ("GET", ACCOUNT_INFO_PATH, 401): 1}
    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warning == ("which portal these accounts load into is not known before they run, so they are not compared with the others': "
                       f"initech ({NO_ANSWER}); give each its portal_id in the manifest")


def test_a_variable_read_where_its_account_runs_is_not_asked_about_and_its_portal_id_stands_in(prefect_api_url, monkeypatch, caplog, tmp_path):
    for name, token in TOKENS.items():
        monkeypatch.setenv(name, token)
    block = f"acme-token-{uuid4().hex[:8]}"
    Secret(value="token-of-acme").save(block)
    caplog.set_level(logging.WARNING)
    with serve_in_background(portal_id=ACME, allowed_tokens=frozenset(TOKENS.values())) as hub:
        acme_in_a_block = AccountSpec(name="acme", sources=["acme.zip"], portal={"url": hub.url, "token_secret": block})
        apart = [account("acme", hub.url), account("globex", hub.url)]
        check_one_portal_each(manifest_of(tmp_path, *apart), apart, runs_elsewhere=True)
        assert asked(hub) == {}
        together = [acme_in_a_block, account("globex", hub.url, ACME)]
        manifest = manifest_of(tmp_path, *together)
        with pytest.raises(InputError) as refused:
            check_one_portal_each(manifest, together, runs_elsewhere=True)

        assert asked(hub) == {("GET", ACCOUNT_INFO_PATH, 200): 1}
    assert str(refused.value).startswith(f"{manifest}:7: accounts acme and globex load into one HubSpot portal, {ACME} "
                                         f"(acme: {SAID_BY_HUBSPOT}; globex: {HELD_TO_ITS_PORTAL_ID}): ")
    warning = next(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert warning.endswith(f": acme ({TOKEN_READ_WHERE_IT_RUNS}); globex ({TOKEN_READ_WHERE_IT_RUNS}); give each its portal_id in the manifest")


def test_migrate_accounts_into_one_portal_through_two_variables_exits_2_before_any_account_runs(prefect_api_url, tmp_path):
    for name in ("acme", "globex"):
        write_export(tmp_path / f"{name}.zip", rows=20, seed=len(name))
    with serve_in_background(portal_id=ACME, allowed_tokens=frozenset(TOKENS.values())) as hub:
        manifest = write_manifest(tmp_path / "accounts.yaml", hub.url, {name: str(tmp_path / f"{name}.zip") for name in ("acme", "globex")})

        result = run(["migrate-accounts", manifest, "--out", str(tmp_path / "out")], env={"PREFECT_API_URL": prefect_api_url, **TOKENS})

        assert asked(hub) == {("GET", ACCOUNT_INFO_PATH, 200): 2}
    # Line 7 of write_manifest's manifest: the portal of globex, the second account.
    assert_one_line_error(result, 2, f"onramp: error: {manifest}:7: accounts acme and globex load into one HubSpot portal, {ACME} ")
    assert not any(token in result.stdout + result.stderr for token in TOKENS.values())
    assert not (tmp_path / "out" / "acme").exists() and not (tmp_path / "out" / "globex").exists()
