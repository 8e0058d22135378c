"""Where a Mailchimp read sends its requests: the key's data centre in any case, or a
``MAILCHIMP_BASE_URL`` refused at once when it cannot be requested (no scheme, no host, a port
out of range), and named (host and variable, never the key) when its requests keep failing."""

from __future__ import annotations

import socket

import pytest

from emulators.mailchimp import serve_in_background as mailchimp
from tasks.errors import InputError
from tasks.extract import mailchimp_api
from tasks.extract.api_settings import RetryPolicy

LIST = "a1b2c3d4e5"
SOURCE = f"mailchimp://{LIST}"
KEY = "0123456789abcdef0123456789abcdef-us6"
QUICK = RetryPolicy(attempts=2, first_delay=0.01, max_delay=0.01)


@pytest.mark.parametrize("key", ["0123abcd-us6", "0123abcd-US6", "0123abcd-Us6"])
def test_a_data_centre_suffix_in_any_case_is_the_same_data_centre(key):
    assert mailchimp_api.base_url_for(key, SOURCE) == "https://us6.api.mailchimp.com/3.0"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("127.0.0.1:18511/3.0", "it has no http:// or https:// before the host"),
        ("us6.api.mailchimp.com/3.0", "it has no http:// or https:// before the host"),
        ("ftp://127.0.0.1/3.0", "it has no http:// or https:// before the host"),
        ("http:///3.0", "it names no host"),
        ("http://127.0.0.1:99999/3.0", "its port 99999 is not one (1 to 65535)"),
    ],
)
def test_a_base_url_that_cannot_be_requested_is_refused_at_once(tmp_path, url, problem):
    environ = {"MAILCHIMP_API_KEY": KEY, "MAILCHIMP_BASE_URL": url}

    with pytest.raises(InputError) as refused:
        mailchimp_api.read_uri(SOURCE, tmp_path, environ, retry=RetryPolicy(attempts=8, first_delay=60))

    assert str(refused.value) == (
        f"{SOURCE}: MAILCHIMP_BASE_URL must be an http(s) URL such as https://us6.api.mailchimp.com/3.0: {problem}"
    )
    assert not (tmp_path / "api").exists()


def test_a_base_url_nothing_answers_at_is_named_with_its_variable_once_the_tries_are_spent(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The port is free again: nothing listens there.
    environ = {"MAILCHIMP_API_KEY": KEY, "MAILCHIMP_BASE_URL": f"http://127.0.0.1:{port}/3.0"}

    with pytest.raises(InputError) as failed:
        mailchimp_api.read_uri(SOURCE, tmp_path, environ, retry=QUICK)

    assert str(failed.value) == (
        f"{SOURCE}: Mailchimp still failing after 2 attempts: connection failed (ConnectError) "
        f"(the API at 127.0.0.1:{port}, set by MAILCHIMP_BASE_URL)"
    )
    assert KEY not in str(failed.value)


def test_a_refusal_through_a_base_url_names_it_too(tmp_path):
    with mailchimp(members=5) as server:
        environ = {"MAILCHIMP_API_KEY": "ffff0000ffff0000ffff0000ffff0000-us6", "MAILCHIMP_BASE_URL": server.api_url}
        with pytest.raises(InputError) as refused:
            mailchimp_api.read_uri(SOURCE, tmp_path, environ, retry=QUICK)
        host = server.api_url.split("//")[1].split("/")[0]

    assert str(refused.value).endswith(f"(the API at {host}, set by MAILCHIMP_BASE_URL)")
    assert "ffff0000" not in str(refused.value)


def test_a_base_url_that_answers_is_read(tmp_path):
    with mailchimp(members=5) as server:
        read = mailchimp_api.read_uri(SOURCE, tmp_path, {"MAILCHIMP_API_KEY": server.settings.api_key, "MAILCHIMP_BASE_URL": server.api_url})
        assert read.frame.collect().height == 5
