"""Which URLs Onramp's HTTP clients can request: one check for a portal's URL, given on the
command line or in a manifest, and for a provider API's base URL."""

from __future__ import annotations

import pytest

from tasks.errors import InputError
from tasks.extract import constant_contact_api
from tasks.extract.api_settings import CONSTANT_CONTACT_TOKEN_URL, RetryPolicy
from tasks.extract.locations import PORTAL_URL_USAGE, check_location, check_portal_url, http_url_problem, portal_url_problem
from tasks.transform.catalog import reading_profile


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("api.hubapi.com", "it has no http:// or https:// before the host"),
        ("ftp://api.hubapi.com", "it has no http:// or https:// before the host"),
        ("https://", "it names no host"),
        ("http:///3.0", "it names no host"),
        ("http://:8090", "it names no host"),
        ("http://127.0.0.1:99999", "its port 99999 is not one (1 to 65535)"),
        ("http://127.0.0.1:0/v3", "its port 0 is not one (1 to 65535)"),
        ("http://127.0.0.1:abc", "its port is not a number (1 to 65535)"),
        ("http://127.0.0.1:+80", "its port is not a number (1 to 65535)"),
        ("http://a b/3.0", "it is not a URL"),
        ("http://[::1", "it is not a URL"),
        ("http://*.example.com", "it is not a URL"),
        ("http://127.0.0.1:8090 ", "it has spaces around it"),
    ],
)
def test_a_url_no_http_client_can_request_is_named_for_what_is_wrong(url, problem):
    assert http_url_problem(url) == problem


@pytest.mark.parametrize(
    "url",
    ["https://api.hubapi.com", "HTTP://Api.HubAPI.com:443/", "http://127.0.0.1:8090", "http://[::1]:8090/3.0",
     "http://localhost:/v3", "https://exämple.com/3.0"],
)
def test_a_requestable_url_passes(url):
    assert http_url_problem(url) is None
    assert portal_url_problem(url) is None


def test_a_port_that_is_no_number_is_never_repeated():
    # "http://user:secret/x" (an @ forgotten) puts the password where the port goes.
    assert "hunter2" not in http_url_problem("http://user:hunter2/x")


def test_the_command_line_s_portal_url_is_refused_with_the_manifest_s_words():
    with pytest.raises(InputError) as refused:
        check_portal_url("http://127.0.0.1:99999")

    assert str(refused.value) == f"--portal-url: {PORTAL_URL_USAGE}: its port 99999 is not one (1 to 65535)"
    assert str(refused.value) == f"--portal-url: {portal_url_problem('http://127.0.0.1:99999')}"


@pytest.mark.parametrize(
    ("location", "shown"),
    [
        ("http://[::1/x.zip", "http://[::1/x.zip"),
        ("https://user:hunter2@host:99999/x.zip?sig=hunter2", "https://***@host:99999/x.zip?***"),
        ("https://user:hunter2/x.zip", "https://user:***/x.zip"),
    ],
)
def test_a_source_that_is_no_url_is_refused_in_one_line_without_its_credential(location, shown):
    with pytest.raises(InputError) as refused:
        check_location(location)

    assert str(refused.value) == f"{shown}: it is not a URL"


@pytest.mark.parametrize(
    ("variable", "example"),
    [("CONSTANT_CONTACT_BASE_URL", "https://api.cc.email/v3"), ("CONSTANT_CONTACT_TOKEN_URL", CONSTANT_CONTACT_TOKEN_URL)],
)
def test_a_constant_contact_endpoint_that_cannot_be_requested_is_refused_at_once(tmp_path, variable, example):
    environ = {"CONSTANT_CONTACT_TOKEN": "t", "CONSTANT_CONTACT_REFRESH_TOKEN": "r", "CONSTANT_CONTACT_CLIENT_ID": "c",
               variable: "http://127.0.0.1:99999/v3"}  # fmt: skip
    with pytest.raises(InputError) as refused:
        # Retried for minutes were it a connection failing: refused before any request.
        constant_contact_api.read_uri(
            "constantcontact://contacts", tmp_path, environ, reading_profile("constantcontact"), retry=RetryPolicy(attempts=8, first_delay=60)
        )
    assert str(refused.value) == (
        f"constantcontact://contacts: {variable} must be an http(s) URL such as {example}: its port 99999 is not one (1 to 65535)"
    )
