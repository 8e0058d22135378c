"""The companies journal: what a killed run created is found by its rerun, in a local state
folder or an output on S3 (moto's server on 127.0.0.1)."""

from __future__ import annotations

import json

import pytest

from tasks.load.companies import CompanyJournal

PORTAL = "https://api.hubapi.com"


@pytest.fixture(params=["local", "s3"])
def records(request, tmp_path) -> str:
    """A load's records folder: a local one, or one in an S3 output."""
    if request.param == "local":
        return str(tmp_path / "state")
    request.getfixturevalue("aws_environment")
    s3_server = request.getfixturevalue("s3_server")
    return f"s3://{s3_server.bucket}/{tmp_path.name}/.onramp-load"


def test_each_create_is_kept_and_a_rerun_finds_them_all(records):
    first = CompanyJournal(records, PORTAL)
    first.record({"example.org": "11"})
    first.record({})
    first.record({"bayclub.org": "12", "acme.com": "13"})

    again = CompanyJournal(records, PORTAL)
    again.record({"later.net": "14"})

    assert CompanyJournal(records, PORTAL).ids == {"example.org": "11", "bayclub.org": "12", "acme.com": "13", "later.net": "14"}
    # Another portal at another URL keeps a journal of its own.
    assert CompanyJournal(records, "http://127.0.0.1:8080").ids == {}


def test_the_file_an_earlier_version_appended_to_is_read_its_partial_last_line_skipped(tmp_path):
    journal = CompanyJournal(tmp_path, PORTAL)
    lines = [json.dumps({"domain": "example.org", "id": "11"}), '{"domain": "bayclub.or']
    (tmp_path / "companies").mkdir()
    (tmp_path / "companies" / f"{journal.key}.jsonl").write_text("\n".join(lines), encoding="utf-8")

    CompanyJournal(tmp_path, PORTAL).record({"acme.com": "13"})

    assert CompanyJournal(tmp_path, PORTAL).ids == {"example.org": "11", "acme.com": "13"}


def test_without_a_folder_it_is_kept_in_memory_only(tmp_path):
    journal = CompanyJournal(None, PORTAL)
    journal.record({"example.org": "11"})
    assert journal.ids == {"example.org": "11"} and list(tmp_path.iterdir()) == []
