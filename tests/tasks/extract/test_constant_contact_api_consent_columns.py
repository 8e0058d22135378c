"""Constant Contact contacts read through the v3 API read a custom field named like a plain
opt-out flag as the account's export file does: set, it keeps a contact from marketing
(``opt_out_flag_unconfirmed``), and never lifts an unsubscribed contact. Over HTTP against the
Constant Contact emulator."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from emulators.constant_contact import serve_in_background as constant_contact
from schemas.lineage import SOURCE_ROW, SOURCE_STATUS, SOURCE_URI
from tasks.extract import constant_contact_api
from tasks.extract.tables import ReadFile, ReadOptions
from tasks.transform.catalog import reading_profile
from tasks.transform.consent import OPT_OUT_FLAG_UNCONFIRMED_STATUS
from tests.tasks.extract.test_tables import outcomes, read_one

SOURCE = "constantcontact://contacts"


@pytest.fixture
def account(monkeypatch):
    """An emulated account whose second custom field is labelled ``Do Not Email``, its token
    and address in the environment."""
    with constant_contact(contacts=80) as server:
        server.emulator.account.custom_fields[1]["label"] = "Do Not Email"
        monkeypatch.setenv("CONSTANT_CONTACT_TOKEN", server.settings.token)
        monkeypatch.setenv("CONSTANT_CONTACT_BASE_URL", server.api_url)
        yield server


def flag(server, permission: str, values: list[str]) -> dict[str, str]:
    """Each of ``values`` in the flag field of the next contact of ``permission`` not deleted;
    email → value."""
    field_id = server.emulator.account.custom_fields[1]["custom_field_id"]
    contacts = [
        contact for contact in server.emulator.account.contacts
        if contact["email_address"]["permission_to_send"] == permission and "deleted_at" not in contact
    ]  # fmt: skip
    written = {}
    for contact, value in zip(contacts, values, strict=False):
        contact["custom_fields"] = [*contact["custom_fields"], {"custom_field_id": field_id, "value": value}]
        written[contact["email_address"]["address"]] = value
    return written


def read_api(tmp_path: Path, options: ReadOptions = ReadOptions()) -> ReadFile:
    """The contacts read for a run as ``tables.read_api`` reads them, the profile applied."""
    profile = options.applied(reading_profile("constantcontact"))
    raw = constant_contact_api.read_uri(SOURCE, tmp_path / "staging", os.environ, profile)
    read, profile = constant_contact_api.read_as_export(raw, profile, options.consent_overrides)
    return ReadFile(read, profile, None)


def test_a_flag_custom_field_set_keeps_a_contact_from_marketing_but_never_lifts_an_opt_out(account, tmp_path):
    active = flag(account, "explicit", ["yes", "maybe", "no"])
    unsubscribed = flag(account, "unsubscribed", ["no"])

    read = read_api(tmp_path)
    statuses = dict(read.raw.frame.select(read.raw.email_column, SOURCE_STATUS).collect().iter_rows())

    assert (read.profile.format, read.raw.format) == ("constantcontact-export+generic", "constantcontact-export+generic")
    assert {email: outcomes(read)[email] for email in [*active, *unsubscribed]} == {
        **dict(zip(active, ["non_marketing", "non_marketing", "marketing"], strict=True)), **dict.fromkeys(unsubscribed, "opted_out"),
    }  # fmt: skip
    assert statuses[next(iter(active))] == OPT_OUT_FLAG_UNCONFIRMED_STATUS


def test_a_run_confirming_the_flag_opts_the_flagged_contacts_out(account, tmp_path):
    flagged = flag(account, "explicit", ["yes"]) | flag(account, "implicit", ["true"])

    read = read_api(tmp_path, ReadOptions(consent_overrides={OPT_OUT_FLAG_UNCONFIRMED_STATUS: "opted_out"}))

    assert {email: outcomes(read)[email] for email in flagged} == dict.fromkeys(flagged, "opted_out")


def test_contacts_are_read_as_their_export_file_is(account, tmp_path):
    flag(account, "explicit", ["yes", "", "maybe"])
    flag(account, "unsubscribed", ["yes"])
    flag(account, "implicit", ["no", "yes"])
    read = read_api(tmp_path)
    # The staged file has the export's columns: written without its lineage, it is the export.
    export = tmp_path / "contact_export_1134551190518_021826_133957.csv"
    pl.read_csv(read.raw.local_path, infer_schema=False).drop(SOURCE_URI, SOURCE_ROW, SOURCE_STATUS).write_csv(export)

    from_export = read_one(export, tmp_path)

    assert from_export.profile.format == read.profile.format == "constantcontact-export+generic"
    assert outcomes(read) == outcomes(from_export)
    assert {"marketing", "non_marketing", "opted_out"} <= set(outcomes(read).values())


def test_contacts_no_flag_is_among_the_fields_of_are_read_as_before(tmp_path):
    with constant_contact(contacts=30) as server:
        profile = reading_profile("constantcontact")
        raw = constant_contact_api.read_contacts(tmp_path, server.settings.token, server.api_url, profile)
    read, reading = constant_contact_api.read_as_export(raw, profile, {})

    assert (read, reading) == (raw, profile)
