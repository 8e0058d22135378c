"""Two accounts of a manifest whose tokens HubSpot says are for one portal are refused before
any account plans or sends (their contacts would not merge: one's opt-out would not stop the
other's import); so is an account whose ``portal_id`` HubSpot contradicts. The refusal names the
manifest's line to blame: the second account's portal, or the contradicted portal_id."""

from __future__ import annotations

import json
import logging
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import uuid4

import pytest
from prefect.blocks.system import Secret

from benchmarks.generate_mailchimp import write_export
from emulators.hubspot import serve_in_background
from flows.accounts import loaded_portals
from schemas.manifest import AccountSpec, PortalSpec
from tasks import stopping
from tasks.errors import InputError
from tasks.load.client import ACCOUNT_INFO_PATH, PortalDetails
from tasks.load.expected import ExpectedPortal
from tasks.load.portals import (
    DAILY_QUOTA_SPENT,
    HELD_TO_ITS_PORTAL_ID,
    ASK_ATTEMPTS,
    HUBSPOT_WILL_NOT_SAY,
    LOADED_BY_ITS_FINISHED_RUN,
    NO_ANSWER,
    SAID_BY_HUBSPOT,
    TOKEN_READ_WHERE_IT_RUNS,
    AccountPortal,
    RunRefusal,
    asked_at_once,
    check_one_portal_each,
    run_refusal,
    token_read_here,
    what_is_known,
)
from tests.flows.test_accounts import write_manifest
from tests.flows.test_cli import assert_one_line_error, run
from tests.flows.test_cli_accounts_token import default_block_holding

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
                       "initech (HubSpot refused its token, token_env INITECH_TOKEN (401): its run fails unless the token is "
                       "replaced); give each its portal_id in the manifest")


def test_a_portal_whose_daily_quota_is_spent_is_said_to_be_so_not_to_give_no_answer(monkeypatch, caplog, tmp_path):
    """The audit's case: HubSpot answered acme's question 429 DAILY, and the warning said "no
    answer", as of a portal down; the account then stopped at its load, unforeseen."""
    for name, token in TOKENS.items():
        monkeypatch.setenv(name, token)
    monkeypatch.setenv("ONRAMP_STATE_DIR", str(tmp_path / "budgets"))
    caplog.set_level(logging.WARNING)
    with serve_in_background(portal_id=ACME, daily_quota_at=1) as spent, serve_in_background(portal_id=GLOBEX) as hub:
        accounts = [account("acme", spent.url), account("globex", hub.url)]
        check_one_portal_each(manifest_of(tmp_path, *accounts), accounts, runs_elsewhere=False)

        assert asked(spent) == {("GET", ACCOUNT_INFO_PATH, 429): 1}
    not_known = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"][-1]
    assert f"others': acme ({DAILY_QUOTA_SPENT}: it resets by " in not_known
    assert NO_ANSWER not in not_known


def test_an_account_whose_token_is_missing_is_not_said_by_hubspot_to_be_anywhere(prefect_api_url, monkeypatch, caplog, tmp_path):
    """The audit's case: globex's variable unset and the default block holding acme's token. The
    refusal said HubSpot put globex in acme's portal, though globex's own token was never found."""
    monkeypatch.setenv("ACME_TOKEN", TOKENS["ACME_TOKEN"])
    monkeypatch.delenv("GLOBEX_TOKEN", raising=False)
    caplog.set_level(logging.WARNING)
    with serve_in_background(portal_id=ACME) as hub, default_block_holding(TOKENS["ACME_TOKEN"]):
        accounts = [account("acme", hub.url), account("globex", hub.url)]
        check_one_portal_each(manifest_of(tmp_path, *accounts), accounts, runs_elsewhere=False)

        assert asked(hub) == {("GET", ACCOUNT_INFO_PATH, 200): 1}
    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warning.endswith(": globex (no HubSpot access token: set GLOBEX_TOKEN); give each its portal_id in the manifest")
    assert SAID_BY_HUBSPOT not in warning


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


def test_the_portal_a_finished_run_loaded_into_is_compared_whether_or_not_its_token_can_be_asked_now():
    unasked_but_finished = AccountPortal("acme", None, "no HubSpot access token: set ACME_TOKEN", loaded_into=ACME)
    moved = AccountPortal("acme", GLOBEX, SAID_BY_HUBSPOT, loaded_into=ACME)

    assert unasked_but_finished.kept_apart_in() == [(ACME, LOADED_BY_ITS_FINISHED_RUN)]
    # A token now for another portal: a run loads there, the contacts stay in the first.
    assert moved.kept_apart_in() == [(GLOBEX, SAID_BY_HUBSPOT), (ACME, LOADED_BY_ITS_FINISHED_RUN)]
    assert run_refusal([unasked_but_finished, AccountPortal("globex", ACME, SAID_BY_HUBSPOT)]).reason.startswith(
        f"accounts acme and globex load into one HubSpot portal, {ACME} (acme: {LOADED_BY_ITS_FINISHED_RUN}; globex: {SAID_BY_HUBSPOT}): "
    )
    assert run_refusal([AccountPortal("globex", GLOBEX, SAID_BY_HUBSPOT), moved]).reason.startswith(
        f"accounts globex and acme load into one HubSpot portal, {GLOBEX} "
    )
    assert run_refusal([moved, AccountPortal("initech", 7, HELD_TO_ITS_PORTAL_ID, loaded_into=7)]) is None


def test_a_finished_account_whose_token_is_gone_still_keeps_a_new_one_out_of_the_portal_it_loaded(monkeypatch, tmp_path):
    """The audit's rerun: acme finished into a portal, its variable unset since; globex's token is
    for the same portal. Before the fix acme was left out and globex migrated beside it."""
    monkeypatch.delenv("ACME_TOKEN", raising=False)
    monkeypatch.setenv("GLOBEX_TOKEN", TOKENS["GLOBEX_TOKEN"])
    (tmp_path / "out" / "acme").mkdir(parents=True)
    (tmp_path / "out" / "acme" / "report.json").write_text(json.dumps({"load": {"portal_id": ACME}}), encoding="utf-8")
    with serve_in_background(portal_id=ACME) as hub:
        accounts = [account("acme", hub.url), account("globex", hub.url)]
        manifest = manifest_of(tmp_path, *accounts)
        loaded = loaded_portals(str(tmp_path / "out"), accounts)
        with pytest.raises(InputError) as refused:
            check_one_portal_each(manifest, accounts, runs_elsewhere=False, loaded_into=loaded)

    assert loaded == {"acme": ACME}
    assert str(refused.value).startswith(f"{manifest}:7: accounts acme and globex load into one HubSpot portal, {ACME} "
                                         f"(acme: {LOADED_BY_ITS_FINISHED_RUN}; globex: {SAID_BY_HUBSPOT}): ")


class SilentPortal:
    """A TCP server on 127.0.0.1 that accepts connections, reads each request and never answers.

    Attributes:
        url: ``http://127.0.0.1:<port>``.
        connections: The connections accepted, in order, held open.
        accepted: Set at the first connection whose request was read.
    """

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self.accepted = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            connection.recv(65536)
            self.connections.append(connection)
            self.accepted.set()

    def still_waited_on(self, connection: socket.socket) -> bool:
        """Whether the client still holds the connection open, waiting for an answer."""
        connection.setblocking(False)
        try:
            return connection.recv(1, socket.MSG_PEEK) != b""
        except BlockingIOError:
            return True

    def close(self) -> None:
        self._listener.close()
        for connection in self.connections:
            connection.close()


@contextmanager
def silent_portal() -> Iterator[SilentPortal]:
    portal = SilentPortal()
    try:
        yield portal
    finally:
        portal.close()


def test_a_portal_that_never_answers_is_given_up_on_its_account_named_and_the_others_compared(monkeypatch, caplog, tmp_path):
    for name, token in TOKENS.items():
        monkeypatch.setenv(name, token)
    caplog.set_level(logging.WARNING)
    with silent_portal() as silent, serve_in_background(portal_id=GLOBEX) as hub:
        accounts = [account("acme", silent.url), account("globex", hub.url)]
        check_one_portal_each(manifest_of(tmp_path, *accounts), accounts, runs_elsewhere=False)

        assert asked(hub) == {("GET", ACCOUNT_INFO_PATH, 200): 1}
        assert len(silent.connections) == ASK_ATTEMPTS
    retry, not_known = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert retry.startswith(f"account acme: GET {ACCOUNT_INFO_PATH}: transient (ReadTimeout), retry 1 in ")
    assert not_known.endswith(f"others': acme ({NO_ANSWER}); give each its portal_id in the manifest")


def test_an_interruption_ends_the_wait_on_a_portal_that_never_answers_at_once(monkeypatch):
    """Ctrl-C as the main thread gets it (Prefect raises SIGTERM there too): the question's thread is
    a daemon, its request left in flight, and the stop it is told of ends it before a retry."""
    monkeypatch.setenv("ACME_TOKEN", TOKENS["ACME_TOKEN"])
    # SIGINT's own handler does this; a signal of the test's own leaves the test runner's alone.
    interrupt_on = signal.SIGUSR1

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(interrupt_on, interrupted)
    try:
        with silent_portal() as silent:
            def interrupt_once_asked() -> None:
                if silent.accepted.wait(30):
                    signal.pthread_kill(threading.main_thread().ident, interrupt_on)

            threading.Thread(target=interrupt_once_asked, daemon=True).start()
            with pytest.raises(KeyboardInterrupt):
                asked_at_once([account("acme", silent.url)], runs_elsewhere=False, loaded_into={})

            (asking,) = [t for t in threading.enumerate() if t.name == "onramp-portal-id"]
            assert asking.daemon
            assert silent.still_waited_on(silent.connections[0])
            assert stopping._stop_requested.is_set()
            asking.join(30)
            assert not asking.is_alive()
            assert len(silent.connections) == 1
    finally:
        signal.signal(interrupt_on, previous)
