"""With ``tables.read_api`` reading a Mailchimp audience through ``read_as_export``: a run
(``onramp plan``) reads an audience's flag merge field and a mapping's status rules as it reads
the audience's export, and refuses neither."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.extract.tables import ReadOptions, read_source
from tasks.transform.consent import OPT_OUT_FLAG_UNCONFIRMED_STATUS
from tasks.transform.mapping_file import UserMapping
from tests.plain_plan import plan
from tests.tasks.extract.test_mailchimp_api_consent_columns import (
    SOURCE, STATUS_RULES, audience, members_by_status, read_api, set_cells, write_export,  # noqa: F401
)
from tests.tasks.extract.test_tables import outcomes, planned


@pytest.mark.parametrize("overrides", [{}, {OPT_OUT_FLAG_UNCONFIRMED_STATUS: "opted_out"}], ids=["unconfirmed", "confirmed"])
def test_onramp_plan_of_the_api_and_of_the_export_plan_the_same_consent(audience, tmp_path, overrides):
    for members in members_by_status(audience).values():
        set_cells(members, "NOEMAIL", ["yes", "", "maybe"])
    export = write_export(tmp_path / "export.zip", audience.emulator.audience.members)

    from_api = plan([SOURCE], tmp_path / "api", overrides)
    from_export = plan([str(export)], tmp_path / "export", overrides)

    def files(out: Path) -> dict[str, str]:
        return {email: name for name, rows in planned(out).items() for email in rows}

    assert files(tmp_path / "api") == files(tmp_path / "export")
    assert from_api["contacts"] == from_export["contacts"]
    # Both read the flag: a subscribed member it is set for is no marketing contact.
    flagged = members_by_status(audience)["subscribed"][0]["email_address"].lower()
    assert files(tmp_path / "api")[flagged] != "hubspot/contacts-marketing-001.csv"
    [source] = from_api["sources"]
    assert source["format"] == "mailchimp-export+generic"


def test_a_mapping_with_status_rules_reads_the_api_as_read_api_does(audience, tmp_path):
    for members in members_by_status(audience).values():
        set_cells(members, "COMPANY", ["left", "stays"])
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(STATUS_RULES, encoding="utf-8")
    options = ReadOptions(mapping=UserMapping.load(mapping))

    [read] = read_source(SOURCE, tmp_path / "staging", options)

    assert outcomes(read) == outcomes(read_api(tmp_path / "direct", options))
    assert "opted_out" in set(outcomes(read).values())


def test_a_run_reads_a_constant_contact_flag_custom_field(tmp_path, monkeypatch):
    from emulators.constant_contact import serve_in_background as constant_contact

    with constant_contact(contacts=40) as server:
        server.emulator.account.custom_fields[1]["label"] = "Do Not Email"
        field_id = server.emulator.account.custom_fields[1]["custom_field_id"]
        [active] = [c for c in server.emulator.account.contacts if c["email_address"]["permission_to_send"] == "explicit"][:1]
        active["custom_fields"] = [{"custom_field_id": field_id, "value": "yes"}]
        monkeypatch.setenv("CONSTANT_CONTACT_TOKEN", server.settings.token)
        monkeypatch.setenv("CONSTANT_CONTACT_BASE_URL", server.api_url)
        [read] = read_source("constantcontact://contacts", tmp_path)
        assert read.profile.format == "constantcontact-export+generic"
        assert outcomes(read)[active["email_address"]["address"]] == "non_marketing"
