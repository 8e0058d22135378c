"""Source and output locations: only supported schemes, never a credential (issue 8, secrets).

A credential in a URL would be copied into logs, the report and the lineage: such a location is
refused before anything opens it, with the credential cut out of the one-line error.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tasks.errors import InputError
from tasks.extract.locations import check_location, check_portal_url, redact

CANARY = "CANARY-7c1d9e"

CARRYING_CREDENTIALS = [
    f"s3://AKIA{CANARY}:{CANARY}@bucket/x.zip",
    f"https://user:{CANARY}@example.com/x.zip",
    f"https://{CANARY}@example.com/x.zip",
    f"https://example.com/x.zip?X-Amz-Signature={CANARY}&X-Amz-Credential={CANARY}",
    f"zip::s3://key:{CANARY}@bucket/x.zip",
    f"gs://user:{CANARY}@bucket/contacts.xlsx#Sheet1",
]
UNSUPPORTED = ["ftp://host/x.zip", "foo://x/y.zip", "data:text/plain,abc", "sftp://u@h/x.zip"]
ACCEPTED = ["export.zip", "/abs/export.zip", "./=1+1/x.csv", "C:\\exports\\x.zip", "notes:2024.csv",
            "s3://bucket/x.zip", "file:///tmp/x.zip", "https://example.com/x.zip", "contacts.xlsx#Sheet 1",
            "zip::s3://bucket/x.zip", "mailchimp://abc123?since=2026-01-01T00:00:00Z", "constantcontact://contacts"]


@pytest.mark.parametrize("location", CARRYING_CREDENTIALS)
def test_a_location_carrying_a_credential_is_refused_without_showing_it(location):
    with pytest.raises(InputError, match="carries a credential") as raised:
        check_location(location)
    assert CANARY not in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("location", UNSUPPORTED)
def test_an_unsupported_scheme_is_refused(location):
    with pytest.raises(InputError, match="unsupported location scheme"):
        check_location(location)


@pytest.mark.parametrize("location", ACCEPTED)
def test_local_paths_and_supported_urls_pass(location):
    check_location(location)


@pytest.mark.parametrize("url", ["ftp://h/api", f"https://u:{CANARY}@api.hubapi.com", "api.hubapi.com"])
def test_a_portal_url_must_be_http_without_credentials(url):
    with pytest.raises(InputError) as raised:
        check_portal_url(url)
    assert CANARY not in str(raised.value)


def test_redact_keeps_host_and_path():
    assert redact(f"s3://k:{CANARY}@bucket/a/x.zip") == "s3://***@bucket/a/x.zip"
    assert redact("/plain/path.csv") == "/plain/path.csv"


CLI_CASES = {
    "s3-source": ["plan", f"s3://KEY:{CANARY}@bucket/x.zip", "--out", "out"],
    "s3-out": ["plan", "SOURCE", "--out", f"s3://KEY:{CANARY}@bucket/out"],
    "https-source-migrate": ["migrate", f"https://user:{CANARY}@127.0.0.1:9/x.zip", "--out", "out"],
    "inspect": ["inspect", f"s3://KEY:{CANARY}@bucket/x.csv"],
    "portal-url": ["migrate", "SOURCE", "--out", "out", "--portal-url", f"https://user:{CANARY}@127.0.0.1:9"],
    "ftp": ["plan", "ftp://host/x.zip", "--out", "out"],
}


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, object]]:
    """Every command started together (each costs an interpreter start)."""
    from flows.cli import SAMPLE_EXPORT

    env = {"PATH": "/usr/bin:/bin", "HUBSPOT_ACCESS_TOKEN": "x", "PYTHONPATH": str(SAMPLE_EXPORT.parent.parent)}
    started = {}
    for name, arguments in CLI_CASES.items():
        folder = tmp_path_factory.mktemp(name)
        arguments = [str(SAMPLE_EXPORT) if a == "SOURCE" else a for a in arguments]
        started[name] = (subprocess.Popen([sys.executable, "-m", "flows.cli", *arguments], cwd=folder, env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), folder)
    done = {}
    for name, (process, folder) in started.items():
        stdout, stderr = process.communicate(timeout=120)
        done[name] = (subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), folder)
    return done


@pytest.mark.parametrize("name", sorted(CLI_CASES))
def test_the_cli_refuses_with_exit_2_and_one_line(cli_runs, name):
    result, folder = cli_runs[name]
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("onramp: error: "), result.stderr
    assert CANARY not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert not (folder / "out").exists()
