"""``onramp inspect`` of an API source says which columns it reads consent from beside each
record's own status, and counts members with no status instead of failing on them. Over HTTP
against the source emulators."""

from __future__ import annotations

from emulators.constant_contact import serve_in_background as constant_contact
from emulators.mailchimp import serve_in_background as mailchimp
from tasks.extract.tables import ReadOptions
from tasks.inspect import NO_STATUS, inspect_source, inspection_text
from tasks.transform.mapping_file import UserMapping
from tests.tasks.extract.test_mailchimp_api_consent_columns import FLAG, SOURCE, STATUS_RULES


def test_a_mailchimp_audience_names_its_flag_and_rule_columns_and_counts_members_with_no_status(tmp_path, monkeypatch):
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(STATUS_RULES, encoding="utf-8")
    with mailchimp(members=30, extra_merge_fields=(FLAG,)) as server:
        members = server.emulator.audience.members
        for member in members[:3]:
            member["status"] = None
        members[3]["status"] = ""
        monkeypatch.setenv("MAILCHIMP_API_KEY", server.settings.api_key)
        monkeypatch.setenv("MAILCHIMP_BASE_URL", server.api_url)
        [entry] = inspect_source(SOURCE, ReadOptions(mapping=UserMapping.load(mapping)))

    counts = {count["status"]: (count["outcome"], count["rows"]) for count in entry["status_counts"]}
    assert counts[None] == ("non_marketing", 4)
    assert sum(rows for _, rows in counts.values()) == entry["rows"] == 30
    assert entry["api"]["consent"] == "each member's status, and Do Not Email, Company (the most restrictive reading)"
    text = inspection_text([entry])
    assert f"    {NO_STATUS:<28} → non_marketing  4 rows" in text
    assert "consent from each member's status, and Do Not Email, Company (the most restrictive reading)" in text


def test_a_constant_contact_flag_custom_field_is_named_beside_the_contacts_permission(monkeypatch):
    with constant_contact(contacts=12) as server:
        server.emulator.account.custom_fields[1]["label"] = "Do Not Email"
        monkeypatch.setenv("CONSTANT_CONTACT_TOKEN", server.settings.token)
        monkeypatch.setenv("CONSTANT_CONTACT_BASE_URL", server.api_url)
        [entry] = inspect_source("constantcontact://contacts")

    consent = entry["api"]["consent"]
    assert consent.startswith("each contact's permission_to_send, as the export's Email status")
    # The permission's own column is the contact's status, not a column read beside it.
    assert consent.endswith(", and Do Not Email (the most restrictive reading)")
    assert "Email status" in entry["consent_columns"] and "Do Not Email" in entry["consent_columns"]
