"""A file a bundled profile reads, detected or named, with a plain opt-out flag beside its own
columns: the flag is read as the fallback profile reads it, and the profile's own exports read
as before."""

from __future__ import annotations

import pytest

from tasks.extract.tables import ReadOptions
from tasks.transform.catalog import reading_profile
from tests.plain_plan import plan
from tests.tasks.extract.test_tables import CRM_FILES, outcomes, planned, read_one, write_csv

CONSTANT_CONTACT_LOOKALIKE = (["Email Address", "Email Status", "Unsubscribed"], [["ann@example.com", "Active", "yes"], ["bob@example.com", "Active", "no"]])


@pytest.mark.parametrize("options", [ReadOptions(), ReadOptions(profile="constantcontact")], ids=["detected", "named"])
def test_an_unsubscribed_flag_beside_constant_contact_headers_opts_the_row_out(tmp_path, options):
    read = read_one(write_csv(tmp_path / "contacts.csv", *CONSTANT_CONTACT_LOOKALIKE), tmp_path, options)
    assert (read.profile.name, read.raw.format) == ("constantcontact", "constantcontact-export+generic")
    assert outcomes(read) == {"ann@example.com": "opted_out", "bob@example.com": "marketing"}


def test_the_plan_writes_the_flagged_row_to_the_opt_out_file_not_the_marketing_import(tmp_path):
    report = plan([str(write_csv(tmp_path / "contacts.csv", *CONSTANT_CONTACT_LOOKALIKE))], tmp_path / "out")
    assert report["contacts"] == {"marketing": 1, "non_marketing": 0, "opted_out": 1}
    files = planned(tmp_path / "out")
    assert set(files["opt-out-unsubscribed.csv"]) == {"ann@example.com"}
    assert set(files["contacts-marketing-001.csv"]) == {"bob@example.com"}
    # The flag is still a property, as the fallback profile sends the flags it reads.
    assert files["contacts-marketing-001.csv"]["bob@example.com"]["constantcontact_unsubscribed"] == "no"


@pytest.mark.parametrize(("profile", "headers", "rows", "expected"), CRM_FILES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CRM_FILES)])
def test_a_profiles_own_export_reads_as_before(tmp_path, profile, headers, rows, expected):
    read = read_one(write_csv(tmp_path / "export.csv", headers, rows), tmp_path)
    assert (read.profile.name, read.raw.format, outcomes(read)) == (profile, reading_profile(profile).format, expected)


@pytest.mark.parametrize(("profile", "headers", "rows", "expected"), CRM_FILES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CRM_FILES)])
def test_a_do_not_email_flag_beside_a_profiles_own_export_opts_its_row_out(tmp_path, profile, headers, rows, expected):
    flagged = [[*row, "true" if index == 0 else ""] for index, row in enumerate(rows)]
    read = read_one(write_csv(tmp_path / "export.csv", [*headers, "Do Not Email"], flagged), tmp_path)
    first = next(iter(expected))
    assert (read.profile.name, outcomes(read)) == (profile, {**expected, first: "opted_out"})
