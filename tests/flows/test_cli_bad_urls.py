"""A URL that no HTTP client can request, given on the command line or in a manifest: exit 2 and
one line before any work, never the client's parse traceback (newcomer-path audit, F2)."""

from __future__ import annotations

import os
import subprocess

import pytest

from flows.cli import SAMPLE_EXPORT
from tasks.extract.locations import PORTAL_URL_USAGE
from tests.flows.test_cli import ONRAMP, assert_one_line_error, run

UNUSABLE_PORTAL_URLS = {
    "http://127.0.0.1:99999": "its port 99999 is not one (1 to 65535)",
    "http://": "it names no host",
}


# Each kind of URL is checked by tests/tasks/extract/test_http_urls.py; here, that the command
# line refuses one before any work, a dry run as well.
@pytest.mark.parametrize(("url", "dry_run"), zip(UNUSABLE_PORTAL_URLS, [[], ["--dry-run"]]), ids=["migrate", "dry-run"])
def test_migrate_refuses_a_portal_url_it_cannot_request_in_one_line(tmp_path, url, dry_run):
    env = {**os.environ, "HUBSPOT_ACCESS_TOKEN": "token"}
    arguments = ["migrate", str(SAMPLE_EXPORT), "--out", str(tmp_path / "out"), "--portal-url", url, *dry_run]

    result = subprocess.run([*ONRAMP, *arguments], capture_output=True, text=True, env=env, timeout=300)

    assert_one_line_error(result, 2, f"--portal-url: {PORTAL_URL_USAGE}: {UNUSABLE_PORTAL_URLS[url]}")
    # Refused before any work: no output folder was made.
    assert not (tmp_path / "out").exists()


def test_migrate_accounts_refuses_the_same_portal_url_with_the_same_words(tmp_path):
    manifest = tmp_path / "accounts.yaml"
    manifest.write_text(
        f"accounts:\n  - name: acme\n    sources: [{SAMPLE_EXPORT}]\n    portal: {{url: 'http://127.0.0.1:99999'}}\n",
        encoding="utf-8",
    )

    result = run(["migrate-accounts", str(manifest), "--out", str(tmp_path / "out")])

    assert_one_line_error(
        result, 2, f"{manifest}:4: accounts.0.portal.url: {PORTAL_URL_USAGE}: its port 99999 is not one (1 to 65535)"
    )


def test_a_source_url_that_cannot_be_parsed_is_refused_in_one_line(tmp_path):
    result = run(["plan", "http://[::1/x.zip", "--out", str(tmp_path / "out")])

    assert_one_line_error(result, 2, "http://[::1/x.zip: it is not a URL")
