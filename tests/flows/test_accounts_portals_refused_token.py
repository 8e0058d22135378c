"""The pre-check's warning says what HubSpot answered an account's question, not "no answer": the
audit's case, a token HubSpot refused (401) was warned of as ``(no answer from HubSpot for its
token)``, as of a portal down, and the warning named neither the refusal nor where the token is."""

from __future__ import annotations

import logging

from emulators.hubspot import serve_in_background
from tasks.load.client import ACCOUNT_INFO_PATH
from tasks.load.portals import NO_ANSWER, check_one_portal_each
from tests.flows.test_accounts_portals import ACME, GLOBEX, TOKENS, account, asked, manifest_of


def test_a_token_hubspot_refuses_is_warned_of_as_refused_naming_where_the_manifest_says_it_is(monkeypatch, caplog, tmp_path):
    for name, token in {**TOKENS, "INITECH_TOKEN": "token-of-initech"}.items():
        monkeypatch.setenv(name, token)
    caplog.set_level(logging.WARNING)
    with serve_in_background(portal_id=ACME, allowed_tokens=frozenset({"token-of-acme"})) as hub, \
            serve_in_background(portal_id=GLOBEX) as globex_hub:
        accounts = [account("acme", hub.url), account("initech", hub.url), account("globex", globex_hub.url)]
        check_one_portal_each(manifest_of(tmp_path, *accounts), accounts, runs_elsewhere=False)

        assert asked(hub) == {("GET", ACCOUNT_INFO_PATH, 200): 1, ("GET", ACCOUNT_INFO_PATH, 401): 1}
    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warning == (
        "which portal these accounts load into is not known before they run, so they are not compared with the others': "
        "initech (HubSpot refused its token, token_env INITECH_TOKEN (401): its run fails unless the token is replaced); "
        "give each its portal_id in the manifest"
    )
    assert NO_ANSWER not in warning and "token-of-initech" not in warning
