"""What a provider API read tells the user: throttling lines in the run's log, a clear word on
an expired access token, and one warning, never a token, when a refresh token cannot be kept.

Over HTTP against the emulators; credentials through the environment, as a user's would be.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from prefect import flow, task

from emulators.constant_contact import serve_in_background as constant_contact
from emulators.mailchimp import serve_in_background as mailchimp
from tasks.errors import InputError
from tasks.extract import constant_contact_api, mailchimp_api
from tasks.extract.api_credentials import ConstantContactCredentials, RefreshedTokens
from tasks.extract.api_settings import RetryPolicy
from tasks.transform.catalog import reading_profile

LIST = "a1b2c3d4e5"
FAST_RETRY = RetryPolicy(attempts=30, first_delay=0.05, max_delay=0.3)
CREDENTIAL_VARIABLES = ("TOKEN", "REFRESH_TOKEN", "CLIENT_ID", "CLIENT_SECRET")


@task
def _read_members_task(api_url: str, api_key: str, staging: str) -> int:
    return mailchimp_api.read_members(LIST, Path(staging), api_key, api_url, retry=FAST_RETRY).frame.collect().height


@flow(validate_parameters=False)
def _read_members_in_a_run(api_url: str, api_key: str, staging: str) -> int:
    return _read_members_task(api_url, api_key, staging)


def test_mailchimp_429_lines_reach_the_runs_log(prefect_api_url, tmp_path, caplog):
    # Three connections free, each request held 0.5 s: of the five pages asked together after
    # the first, two are answered 429 and the pages read at once are cut from 10 to 5.
    with mailchimp(members=5500, max_connections=3, response_delay=0.5) as server:
        caplog.set_level(logging.INFO)
        read = _read_members_in_a_run(server.api_url, server.settings.api_key, str(tmp_path))
        refused = server.emulator.in_flight.refused
    assert read == 5500 and refused >= 1
    # Through the task run's logger: the console shows it, and the run's log in the UI has it.
    run_lines = [record.getMessage() for record in caplog.records if record.name == "prefect.task_runs"]
    assert "Mailchimp answered 429: reading 5 pages at once (was 10)" in run_lines
    assert any(line.startswith(f"Mailchimp throttled {refused} page requests (each retried)") for line in run_lines)


def _constant_contact_env(monkeypatch, server, **variables: str) -> None:
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(f"CONSTANT_CONTACT_{name}", raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(f"CONSTANT_CONTACT_{name}", value)
    monkeypatch.setenv("CONSTANT_CONTACT_BASE_URL", server.api_url)
    monkeypatch.setenv("CONSTANT_CONTACT_TOKEN_URL", server.token_url)


def _read_contacts(staging: Path) -> int:
    raw = constant_contact_api.read_uri("constantcontact://contacts", staging, os.environ, reading_profile("constantcontact"))
    return raw.frame.collect().height


def test_an_access_token_expiring_mid_read_with_no_refresh_token_says_how_to_refresh(tmp_path, monkeypatch):
    # The token admits the lists, tags, custom fields and the first page of contacts.
    with constant_contact(contacts=1100, access_token_lifetime_requests=4) as server:
        _constant_contact_env(monkeypatch, server, TOKEN=server.settings.token)
        with pytest.raises(InputError) as expired:
            _read_contacts(tmp_path)
    assert str(expired.value) == (
        "constantcontact://contacts: Constant Contact refused the access token (HTTP 401): it has expired "
        "(access tokens last 24 hours) or is not valid; set CONSTANT_CONTACT_REFRESH_TOKEN and "
        "CONSTANT_CONTACT_CLIENT_ID (and CONSTANT_CONTACT_CLIENT_SECRET, for the authorization-code flow) "
        "so Onramp can refresh it"
    )


def _refresh_from_env(monkeypatch, server) -> None:
    """Point the reader at ``server`` with a refresh token and client credentials from the environment."""
    settings = server.settings
    _constant_contact_env(
        monkeypatch, server, REFRESH_TOKEN=settings.refresh_token, CLIENT_ID=settings.client_id, CLIENT_SECRET=settings.client_secret
    )


def test_a_refresh_token_rotated_from_the_environment_is_told_once_and_never_shown(tmp_path, monkeypatch, caplog):
    # Each token admits 3 requests: the read refreshes several times, each rotating the refresh token.
    with constant_contact(contacts=2000, access_token_lifetime_requests=3) as server:
        settings = server.settings
        _refresh_from_env(monkeypatch, server)
        caplog.set_level(logging.INFO)
        assert _read_contacts(tmp_path) == 2000
        assert server.emulator.tokens.refreshes >= 2
        issued = set(server.emulator.tokens.refresh_tokens)
    rotated = [record.getMessage() for record in caplog.records if "rotated the refresh token" in record.getMessage()]
    assert rotated == [
        "Constant Contact rotated the refresh token given in CONSTANT_CONTACT_REFRESH_TOKEN: the old one no longer "
        "works and the new one lasts only until this command ends; before the next run, authorise the application "
        "again and set CONSTANT_CONTACT_REFRESH_TOKEN, or keep the credentials in a Prefect Secret block "
        "(--constant-contact-secret), which Onramp keeps up to date"
    ]
    assert [record.levelno for record in caplog.records if "rotated" in record.getMessage()] == [logging.WARNING]
    assert not any(token in caplog.text for token in (*issued, settings.refresh_token))


def test_a_long_lived_refresh_token_from_the_environment_is_no_news(tmp_path, monkeypatch, caplog):
    with constant_contact(contacts=600, access_token_lifetime_requests=3, rotate_refresh_tokens=False) as server:
        _refresh_from_env(monkeypatch, server)
        caplog.set_level(logging.INFO)
        assert _read_contacts(tmp_path) == 600 and server.emulator.tokens.refreshes >= 2
    assert "rotated" not in caplog.text


def test_a_secret_block_that_cannot_be_written_is_warned_about_once(prefect_api_url, caplog):
    # No Secret block can have this name: every write-back fails.
    credentials = ConstantContactCredentials(
        refresh_token="rt-configured", client_id="client", origin="the Prefect Secret block 'x'", block="Not a block name!"
    )
    keep = RefreshedTokens(credentials)
    caplog.set_level(logging.INFO)
    keep("at-1", "rt-2")
    keep("at-2", "rt-3")
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert warnings == [
        "Constant Contact issued a new refresh token that could not be saved to the Prefect Secret block "
        "'Not a block name!' (ValidationError writing the block): the next run may need the application authorised again"
    ]
    assert not any(token in caplog.text for token in ("at-1", "at-2", "rt-2", "rt-3", "rt-configured"))
