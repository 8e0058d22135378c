"""A token HubSpot refuses (401) is named by where it was read, never shown: the audit's case, an
account's failure said only ``GET /account-info/v3/details: HubSpot refused the access token
(401): …``, leaving an agency with dozens of variables to guess which one to replace."""

from __future__ import annotations

import pytest

from emulators.hubspot import serve_in_background
from tasks.errors import LoadError
from tasks.load.client import ACCOUNT_INFO_PATH, HubSpotPortal, token_read_from


def test_a_refused_token_is_named_by_where_it_was_read_and_a_portal_told_nothing_names_nothing_more():
    with serve_in_background(allowed_tokens=frozenset({"token-of-acme"})) as hub:
        with pytest.raises(LoadError) as refused:
            HubSpotPortal(hub.url, "token-of-someone-else", token_location="BAD_TOK").details
        with pytest.raises(LoadError) as refused_unnamed:
            HubSpotPortal(hub.url, "token-of-someone-else").details

    assert str(refused.value).startswith(f"GET {ACCOUNT_INFO_PATH}: HubSpot refused the access token (401): ")
    assert str(refused.value).endswith(" (the token read from BAD_TOK)")
    assert "BAD_TOK" not in str(refused_unnamed.value) and str(refused.value).startswith(str(refused_unnamed.value))
    assert "someone-else" not in str(refused.value)


def test_where_a_token_is_read_is_the_variable_holding_one_else_the_block(monkeypatch):
    monkeypatch.setenv("ACME_TOKEN", "token-of-acme")
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "\u200b ")

    assert token_read_from(None, "ACME_TOKEN") == "ACME_TOKEN"
    assert token_read_from("acme-token", "ACME_TOKEN") == "the Prefect Secret block 'acme-token'"
    # Holding only what is trimmed, the default variable is passed over for the default block.
    assert token_read_from(None, "HUBSPOT_ACCESS_TOKEN") == "the Prefect Secret block 'hubspot-access-token'"
    monkeypatch.delenv("GLOBEX_TOKEN", raising=False)
    assert token_read_from(None, "GLOBEX_TOKEN") == "GLOBEX_TOKEN"
