"""A credential typed where a Secret block's name belongs is told apart from a block's name, and no
message about a block repeats it."""

from __future__ import annotations

import pytest

import tasks.secrets
from tasks.extract.api_settings import CONSTANT_CONTACT_SECRET_BLOCK, MAILCHIMP_SECRET_BLOCK
from tasks.load.settings import DEFAULT_SECRET_BLOCK
from tasks.secrets import CredentialMissing, SecretUnavailable, block_name_problem, places_read, string_credential

CREDENTIALS = {
    "HubSpot private-app token": "pat-na1-11111111-2222-3333-4444-555555555555",
    "HubSpot EU token": "pat-eu1-aaaabbbb-cccc-dddd-eeee-ffff00001111",
    "legacy HubSpot API key": "5f1e2d3c-0b9a-4e8f-a7d6-c5b4a3928170",
    "Mailchimp API key": "0123456789abcdef0123456789abcdef-us6",
    "Constant Contact access token": "eyJraWQiOiJhYmMiLCJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl",
    "opaque refresh token": "q8k2m4n6p0r3t5v7x9z1b2d4",
    "hex secret": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
}


@pytest.mark.parametrize("value", CREDENTIALS.values(), ids=CREDENTIALS.keys())
def test_a_credential_is_no_block_name(value):
    assert block_name_problem(value) == "that looks like a token, not the name of a Prefect Secret block"


@pytest.mark.parametrize(
    "name",
    [DEFAULT_SECRET_BLOCK, MAILCHIMP_SECRET_BLOCK, CONSTANT_CONTACT_SECRET_BLOCK, "globex-hubspot-token",
     "acme-2024-11-29", "portal-4417281-token", "production2024-hubspot", "a", "mycompany2024hubspotkey",
     "clientacme2024northregion", "hubspotportal4417281sandbox"],
)
def test_names_people_give_blocks_are_block_names(name):
    assert block_name_problem(name) is None


@pytest.mark.parametrize("name", ["HubSpot_Token", "hubspot token", "hubspot.token", ""])
def test_a_name_prefect_would_not_take_is_refused(name):
    assert block_name_problem(name).startswith("not the name of a Prefect Secret block (block names are lowercase")


def no_such_block(name: str) -> object:
    raise SecretUnavailable("no such block")


@pytest.mark.parametrize("value", CREDENTIALS.values(), ids=CREDENTIALS.keys())
def test_no_such_block_never_repeats_a_name_that_looks_like_a_credential(monkeypatch, value):
    # Defence in depth: a caller that skipped the parameters' check still does not print it.
    monkeypatch.setattr(tasks.secrets, "read_secret_block", no_such_block)
    with pytest.raises(CredentialMissing) as raised:
        string_credential({}, "HUBSPOT_ACCESS_TOKEN", value, "HubSpot access token")
    assert value not in str(raised.value)
    assert "not shown: it looks like a token" in str(raised.value)


def test_no_such_block_names_a_plain_block(monkeypatch):
    monkeypatch.setattr(tasks.secrets, "read_secret_block", no_such_block)
    with pytest.raises(CredentialMissing, match="create a Prefect Secret block named 'hubspot-access-token' \\(no such block\\)"):
        string_credential({}, "HUBSPOT_ACCESS_TOKEN", "hubspot-access-token", "HubSpot access token")


@pytest.mark.parametrize(
    ("named_block", "variable", "places"),
    [
        # A named block is read alone, whatever variable is given.
        ("client-b-token", "HUBSPOT_ACCESS_TOKEN", (None, "client-b-token")),
        ("client-b-token", "ACME_TOKEN", (None, "client-b-token")),
        ("client-b-token", None, (None, "client-b-token")),
        # The default variable, or none, is followed by the default block.
        (None, "HUBSPOT_ACCESS_TOKEN", ("HUBSPOT_ACCESS_TOKEN", DEFAULT_SECRET_BLOCK)),
        (None, None, (None, DEFAULT_SECRET_BLOCK)),
        ("", "", ("", DEFAULT_SECRET_BLOCK)),
        # An account's own variable is read alone: unset, it must not fall back to a block
        # holding another client's token.
        (None, "ACME_TOKEN", ("ACME_TOKEN", None)),
        ("", "ACME_TOKEN", ("ACME_TOKEN", None)),
    ],
)
def test_a_place_the_run_names_is_read_alone_and_the_default_block_follows_only_the_default_variable(named_block, variable, places):
    assert places_read(named_block, variable, "HUBSPOT_ACCESS_TOKEN", DEFAULT_SECRET_BLOCK) == places


def test_a_variable_read_alone_and_unset_is_named_with_no_block(monkeypatch):
    monkeypatch.setattr(tasks.secrets, "read_secret_block", no_such_block)
    with pytest.raises(CredentialMissing) as raised:
        string_credential({"ACME_TOKEN": "  "}, "ACME_TOKEN", None, "HubSpot access token")
    assert str(raised.value) == "no HubSpot access token: set ACME_TOKEN"
    assert string_credential({"ACME_TOKEN": " token-of-acme\n"}, "ACME_TOKEN", None, "HubSpot access token") == "token-of-acme"
