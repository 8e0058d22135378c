"""A Mailchimp audience read through the Marketing API reads each member's consent as the
audience's export would (``test_mailchimp_export_consent_columns``): a merge field named like a
plain opt-out flag set keeps a member from marketing (``opt_out_flag_unconfirmed``), and a
mapping's ``[[status.rules]]`` reading a merge field is read; neither ever makes the member's
own status less restrictive. Over HTTP against the Mailchimp emulator."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from emulators.mailchimp import serve_in_background as mailchimp
from schemas.lineage import SOURCE_STATUS
from tasks.extract import mailchimp_api
from tasks.extract.tables import ReadFile, ReadOptions, read_source
from tasks.output import OutputFolder
from tasks.plan import consent_profiles, plan_sources
from tasks.transform.catalog import reading_profile
from tasks.transform.consent import OPT_OUT_FLAG_UNCONFIRMED_STATUS
from tasks.transform.mapping_file import UserMapping
from tests.mailchimp_exports import audience_export_zip
from tests.tasks.extract.test_tables import outcomes, planned

LIST = "a1b2c3d4e5"
SOURCE = f"mailchimp://{LIST}"
FLAG = {"merge_id": 7, "tag": "NOEMAIL", "name": "Do Not Email", "type": "text"}
"""A merge field an audience's owner named like a plain opt-out flag."""
EXPORT_FILES = {
    "subscribed": "subscribed", "unsubscribed": "unsubscribed", "cleaned": "cleaned",
    "pending": "nonsubscribed", "archived": "nonsubscribed", "transactional": "transactional",
}  # fmt: skip
"""Each member status → the export file holding its members (``<status>_members_export_<id>.csv``)."""
EXPORT_HEADERS = ["Email Address", "First Name", "Last Name", "Company", "Do Not Email", "MEMBER_RATING", "OPTIN_TIME", "LEID"]
STATUS_RULES = (
    '[[status.rules]]\ncolumns = ["Company"]\nvalues = { left = "gone", stays = "kept" }\n'
    '[consent]\ngone = "opted_out"\nkept = "marketing"\n'
)
"""A mapping reading the ``Company`` merge field as consent (``left``: opted out)."""


@pytest.fixture
def audience(monkeypatch):
    """An emulated audience serving ``FLAG`` beside its merge fields (every cell empty), its
    key and address in the environment; tests set members' cells."""
    with mailchimp(members=120, extra_merge_fields=(FLAG,)) as server:
        monkeypatch.setenv("MAILCHIMP_API_KEY", server.settings.api_key)
        monkeypatch.setenv("MAILCHIMP_BASE_URL", server.api_url)
        yield server


def members_by_status(server) -> dict[str, list[dict]]:
    """The audience's members, by status, in audience order."""
    by_status: dict[str, list[dict]] = {}
    for member in server.emulator.audience.members:
        by_status.setdefault(member["status"], []).append(member)
    return by_status


def set_cells(members: list[dict], tag: str, values: list[str]) -> dict[str, str]:
    """Each of ``values`` in the ``tag`` merge field of the next member; email → value."""
    written = {}
    for member, value in zip(members, values, strict=False):
        member["merge_fields"][tag] = value
        written[member["email_address"]] = value
    return written


def read_api(tmp_path: Path, options: ReadOptions = ReadOptions()) -> ReadFile:
    """The audience read for a run as ``tables.read_api`` reads it, the profile applied."""
    raw = mailchimp_api.read_uri(SOURCE, tmp_path / "staging", os.environ)
    read, profile = mailchimp_api.read_as_export(raw, options.applied(reading_profile("mailchimp")), options.consent_overrides)
    return ReadFile(read, profile, None)


def test_a_flag_merge_field_set_keeps_a_member_from_marketing_but_never_lifts_an_opt_out(audience, tmp_path):
    by_status = members_by_status(audience)
    subscribed = set_cells(by_status["subscribed"], "NOEMAIL", ["yes", "maybe", "no"])
    pending = set_cells(by_status["pending"], "NOEMAIL", ["yes"])
    opted_out = set_cells(by_status["unsubscribed"], "NOEMAIL", ["no"]) | set_cells(by_status["cleaned"], "NOEMAIL", ["no"])
    [untouched] = [member["email_address"] for member in by_status["subscribed"][3:4]]

    read = read_api(tmp_path)
    statuses = dict(read.raw.frame.select(read.raw.email_column, SOURCE_STATUS).collect().iter_rows())

    assert (read.profile.format, read.raw.format) == ("mailchimp-export+generic", "mailchimp-export+generic")
    # A value the flag's rule does not read ("maybe") may be an opt-out: never marketing either.
    assert {email: outcomes(read)[email] for email in [*subscribed, *pending, *opted_out, untouched]} == {
        **dict(zip(subscribed, ["non_marketing", "non_marketing", "marketing"], strict=True)),
        **dict.fromkeys(pending, "non_marketing"), **dict.fromkeys(opted_out, "opted_out"), untouched: "marketing",
    }  # fmt: skip
    flagged = [email for email, value in (subscribed | pending).items() if value == "yes"]
    assert {statuses[email] for email in flagged} == {OPT_OUT_FLAG_UNCONFIRMED_STATUS}
    assert {statuses[email] for email in opted_out} == {"unsubscribed", "cleaned"}


def test_opted_out_members_with_an_empty_merge_field_are_not_counted_as_opted_out_by_a_name(audience, tmp_path):
    # Their status is the API's: no file name opted them out, and report.json said one had
    # (an entry with an empty column among the values no rule reads).
    by_status = members_by_status(audience)
    set_cells(by_status["unsubscribed"], "NOEMAIL", ["", ""])
    set_cells(by_status["subscribed"], "NOEMAIL", ["maybe"])
    read = read_api(tmp_path)

    report = plan_sources([read.raw], OutputFolder(str(tmp_path / "plan")), consent_profiles([read.profile.profile], {}))

    [source] = report["sources"]
    assert source["unread_status_values"] == [{"column": "Do Not Email", "value": "maybe", "status": "unrecognised", "rows": 1, "outcome": "non_marketing"}]


def test_a_run_confirming_the_flag_opts_the_flagged_members_out(audience, tmp_path):
    by_status = members_by_status(audience)
    flagged = set_cells(by_status["subscribed"], "NOEMAIL", ["yes"]) | set_cells(by_status["transactional"], "NOEMAIL", ["true"])

    read = read_api(tmp_path, ReadOptions(consent_overrides={OPT_OUT_FLAG_UNCONFIRMED_STATUS: "opted_out"}))

    assert {email: outcomes(read)[email] for email in flagged} == dict.fromkeys(flagged, "opted_out")


@pytest.mark.parametrize(
    ("status", "cells", "expected"),
    [
        # The rule's opt-out is read: a subscribed member who left is opted out.
        ("subscribed", ["left", "stays"], ["opted_out", "marketing"]),
        # A rule never makes the member's own status less restrictive.
        ("pending", ["left", "stays"], ["opted_out", "non_marketing"]),
        ("unsubscribed", ["stays"], ["opted_out"]),
        ("cleaned", ["stays"], ["opted_out"]),
    ],
)
def test_a_mapping_rule_reading_a_merge_field_is_read_never_below_the_members_status(audience, tmp_path, status, cells, expected):
    members = set_cells(members_by_status(audience)[status], "COMPANY", cells)
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(STATUS_RULES, encoding="utf-8")

    read = read_api(tmp_path, ReadOptions(mapping=UserMapping.load(mapping)))

    assert {email: outcomes(read)[email] for email in members} == dict(zip(members, expected, strict=True))


def test_an_audience_no_rule_reads_a_column_of_is_read_as_its_members_statuses(tmp_path):
    with mailchimp(members=50) as server:
        raw = mailchimp_api.read_members(LIST, tmp_path, server.settings.api_key, server.api_url)
    read, profile = mailchimp_api.read_as_export(raw, reading_profile("mailchimp"), {})

    assert read is raw and profile.format == "mailchimp-export"


def write_export(path: Path, members: list[dict]) -> Path:
    """The members as an audience export zip under ``EXPORT_HEADERS``."""
    return audience_export(
        path, members, EXPORT_HEADERS,
        lambda member, fields: [member["email_address"], fields["FNAME"], fields["LNAME"], fields["COMPANY"], fields["NOEMAIL"],
                                str(member["member_rating"]), "", str(member["web_id"])],
        folder="members_export_abc/",
    )  # fmt: skip


def audience_export(
    path: Path, members: list[dict], headers: list[str], row_of: Callable[[dict, dict], list[str]], folder: str = ""
) -> Path:
    """Members as an audience export zip: one CSV per status, the status in its name, each row
    ``row_of(member, its merge fields)``."""
    files: dict[str, list[list[str]]] = {}
    for member in members:
        files.setdefault(EXPORT_FILES[member["status"]], []).append(row_of(member, member["merge_fields"]))
    return audience_export_zip(path, files, headers, folder=folder)


def plan_reads(files: list[ReadFile], out: Path, overrides: Mapping[str, str]) -> dict[str, str]:
    """Plan the files read as ``tests.plain_plan.plan`` does; each contact's email → the
    HubSpot file it is planned in (``contacts-marketing-001.csv``, ``opt-out-cleaned.csv``)."""
    profiles = consent_profiles([file.profile.profile for file in files], overrides)
    plan_sources([file.raw for file in files], OutputFolder(str(out)), profiles)
    return {email: name for name, rows in planned(out).items() for email in rows}


@pytest.mark.parametrize("overrides", [{}, {OPT_OUT_FLAG_UNCONFIRMED_STATUS: "opted_out"}], ids=["unconfirmed", "confirmed"])
def test_the_api_and_the_export_of_the_same_members_plan_the_same_consent(audience, tmp_path, overrides):
    by_status = members_by_status(audience)
    for members in by_status.values():
        set_cells(members, "NOEMAIL", ["yes", "", "maybe"])
        set_cells(members[3:], "COMPANY", ["left", "stays"])
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(STATUS_RULES, encoding="utf-8")
    options = ReadOptions(mapping=UserMapping.load(mapping), consent_overrides=overrides)
    export = write_export(tmp_path / "export.zip", audience.emulator.audience.members)

    from_export = plan_reads(read_source(str(export), tmp_path / "export-staging", options), tmp_path / "export-plan", overrides)
    from_api = plan_reads([read_api(tmp_path, options)], tmp_path / "api-plan", overrides)

    assert from_api == from_export
    assert len(from_api) == len(audience.emulator.audience.members)
    flagged = [members[0]["email_address"] for members in by_status.values()]
    left = [members[3]["email_address"] for members in by_status.values() if len(members) > 3]
    # Not a comparison of two reads that both ignore the columns: they changed what was planned.
    assert {from_api[email] for email in left} <= {"opt-out-gone.csv", "opt-out-unsubscribed.csv", "opt-out-cleaned.csv"}
    flag_file = "opt-out-opt-out-flag-unconfirmed.csv" if overrides else "contacts-non-marketing-001.csv"
    assert from_api[by_status["subscribed"][0]["email_address"]] == flag_file
    assert not {from_api[email] for email in flagged} & {"contacts-marketing-001.csv"}


def permissions(email: bool | None, direct_mail: bool = True) -> list[dict]:
    """A GDPR-enabled audience's marketing permissions of a member, as the API gives them."""
    given = [{"marketing_permission_id": "dm1", "text": "Direct Mail", "enabled": direct_mail}]
    if email is not None:
        given.insert(0, {"marketing_permission_id": "em1", "text": "Email", "enabled": email})
    return given


def test_a_subscribed_member_without_the_email_marketing_permission_is_not_marketing(audience, tmp_path):
    by_status = members_by_status(audience)
    cases = dict(zip(["email off", "email on", "no email permission", "unsubscribed, email on"],
                     [*by_status["subscribed"][:3], by_status["unsubscribed"][0]], strict=True))  # fmt: skip
    for (case, member), given in zip(cases.items(), [permissions(False), permissions(True, False), permissions(None), permissions(True)], strict=True):
        member["marketing_permissions"] = given
    emails = {case: member["email_address"] for case, member in cases.items()}

    read = read_api(tmp_path)
    rows = {row[read.raw.email_column]: row for row in read.raw.frame.collect().iter_rows(named=True)}

    # Off (or never given): non-marketing, not opted out; the permissions are kept as a property.
    assert {case: outcomes(read)[email] for case, email in emails.items()} == {
        "email off": "non_marketing", "email on": "marketing", "no email permission": "marketing", "unsubscribed, email on": "opted_out",
    }  # fmt: skip
    assert rows[emails["email off"]][SOURCE_STATUS] == "email_permission_off"
    assert rows[emails["email off"]]["MARKETING_PERMISSIONS"] == "Email: no; Direct Mail: yes"
    assert rows[by_status["subscribed"][3]["email_address"]]["MARKETING_PERMISSIONS"] is None
    # A run that has another lawful basis may say so.
    overridden = read_api(tmp_path / "again", ReadOptions(consent_overrides={"email_permission_off": "marketing"}))
    assert outcomes(overridden)[emails["email off"]] == "marketing"


def test_the_marketing_permissions_are_planned_as_a_property_of_their_own(audience, tmp_path):
    [member] = members_by_status(audience)["subscribed"][:1]
    member["marketing_permissions"] = permissions(False)
    read = read_api(tmp_path)

    plan_sources([read.raw], OutputFolder(str(tmp_path / "plan")), consent_profiles([read.profile.profile], {}))

    row = planned(tmp_path / "plan")["contacts-non-marketing-001.csv"][member["email_address"]]
    assert row["mailchimp_marketing_permissions"] == "Email: no; Direct Mail: yes"


@pytest.mark.parametrize(
    ("given", "status"),
    [
        ([("Courriel", False), ("Publicité", True)], "email_permission_off"),
        ([("Correo electrónico", True)], "subscribed"),
        ([("E-Mail", False)], "email_permission_off"),
        # None names email (retitled "Updates"): a member who gave none gave no email either.
        ([("Updates", False), ("Direct Mail", False)], "email_permission_off"),
        ([("Updates", True), ("Direct Mail", False)], "subscribed"),
        ([], "subscribed"),
    ],
)
def test_a_permission_retitled_or_in_another_language_still_decides(given, status):
    permissions_given = [{"text": text, "enabled": enabled} for text, enabled in given]

    assert mailchimp_api.permission_status("subscribed", permissions_given) == status
    assert mailchimp_api.permission_status("pending", permissions_given) == "pending"
