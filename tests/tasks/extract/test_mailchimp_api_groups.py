"""A Mailchimp audience's groups (``interests``) read through the Marketing API are written as
the audience export writes them: a column per group category, titled like it, holding the
member's groups of it; so a run plans one person's groups alike from either source. Over HTTP
against the Mailchimp emulator, which serves the audience's group categories and groups."""

from __future__ import annotations

import pytest

from emulators.mailchimp import serve_in_background as mailchimp
from emulators.mailchimp.settings import INTEREST_CATEGORIES
from tasks.extract import mailchimp_api
from tasks.extract.tables import ReadOptions, read_source
from tests.tasks.extract.test_mailchimp_api_consent_columns import (
    audience_export,
    members_by_status,
    plan_reads,
    read_api,
)
from tests.tasks.extract.test_tables import planned

CATEGORY_TITLES = [category["title"] for category in INTEREST_CATEGORIES]
GROUP_PROPERTIES = {"mailchimp_interests", "mailchimp_newsletter_frequency"}
"""The properties the mailchimp profile plans the emulator's group categories as."""


@pytest.fixture
def audience(monkeypatch):
    """An emulated audience with the emulator's group categories, its key and address in the
    environment."""
    with mailchimp(members=60) as server:
        monkeypatch.setenv("MAILCHIMP_API_KEY", server.settings.api_key)
        monkeypatch.setenv("MAILCHIMP_BASE_URL", server.api_url)
        yield server


def groups_of(member: dict, category: dict) -> str:
    """A member's groups of a category as the export's cell lists them (display order)."""
    return ", ".join(name for group_id, name in category["interests"] if member["interests"].get(group_id))


def planned_groups(out) -> dict[str, dict[str, str]]:
    """Each planned contact's email → its group properties (``mailchimp_interests``, …)."""
    return {
        email: {name: value for name, value in row.items() if name in GROUP_PROPERTIES}
        for rows in planned(out).values()
        for email, row in rows.items()
    }


def test_each_group_category_is_a_column_holding_the_members_groups(audience, tmp_path):
    [member] = members_by_status(audience)["subscribed"][:1]
    member["interests"] = {"i1a001": True, "i1a002": False, "i1a003": True, "i2b001": False, "i2b002": True}

    read = read_api(tmp_path)
    rows = {row[read.raw.email_column]: row for row in read.raw.frame.collect().iter_rows(named=True)}

    # After the merge fields, before the system columns, as the export has them.
    assert read.raw.headers[7:10] == [*CATEGORY_TITLES, "MEMBER_RATING"]
    row = rows[member["email_address"]]
    assert (row["Interests"], row["Newsletter Frequency"]) == ("Gardening, Travel", "Monthly")
    members = audience.emulator.audience.members
    assert {email: (row["Interests"] or "", row["Newsletter Frequency"] or "") for email, row in rows.items()} == {
        m["email_address"]: tuple(groups_of(m, category) for category in INTEREST_CATEGORIES) for m in members
    }
    # The seeded audience has members in every group and members in none.
    assert {value for row in rows.values() for value in (row["Interests"] or "").split(", ")} == {"", "Gardening", "Cooking", "Travel"}


def test_a_member_reads_the_same_groups_through_the_api_as_through_the_export(audience, tmp_path):
    members = audience.emulator.audience.members
    headers = ["Email Address", "First Name", "Last Name", *CATEGORY_TITLES, "MEMBER_RATING", "LEID"]
    export = audience_export(
        tmp_path / "export.zip", members, headers,
        lambda member, fields: [member["email_address"], fields["FNAME"], fields["LNAME"],
                                *(groups_of(member, category) for category in INTEREST_CATEGORIES),
                                str(member["member_rating"]), str(member["web_id"])],
        folder="members_export_abc/",
    )  # fmt: skip
    plan_reads(read_source(str(export), tmp_path / "export-staging", ReadOptions()), tmp_path / "export-plan", {})
    plan_reads([read_api(tmp_path)], tmp_path / "api-plan", {})

    from_export, from_api = planned_groups(tmp_path / "export-plan"), planned_groups(tmp_path / "api-plan")
    assert from_api == from_export
    assert len(from_api) == len(members)
    # The groups reached the plan as the same properties, not both dropped.
    assert {frozenset(groups) for groups in from_api.values()} >= {frozenset(GROUP_PROPERTIES)}


def test_an_audience_without_groups_has_no_group_columns(tmp_path):
    with mailchimp(members=10, interest_categories=()) as server:
        raw = mailchimp_api.read_members("a1b2c3d4e5", tmp_path, server.settings.api_key, server.api_url)

    assert not set(CATEGORY_TITLES) & set(raw.headers)
    assert raw.headers[6] == "Company" and raw.headers[7] == "MEMBER_RATING"


def test_a_group_category_titled_like_a_merge_field_gets_a_column_of_its_own(tmp_path):
    titled_company = ({**INTEREST_CATEGORIES[0], "title": "Company"},)
    with mailchimp(members=10, interest_categories=titled_company) as server:
        member = server.emulator.audience.members[0]
        member["merge_fields"]["COMPANY"] = "Acme"
        member["interests"] = {"i1a001": False, "i1a002": True, "i1a003": False}
        raw = mailchimp_api.read_members("a1b2c3d4e5", tmp_path, server.settings.api_key, server.api_url)
        rows = {row[raw.email_column]: row for row in raw.frame.collect().iter_rows(named=True)}

    assert (rows[member["email_address"]]["Company"], rows[member["email_address"]]["Company (2)"]) == ("Acme", "Cooking")
    assert raw.label_copies == {"Company": ("Company (2)",)}
