"""A run's consent overrides reach every file's profile before its rows are read: from a file,
from the Constant Contact API and from the Mailchimp API alike (``ReadOptions.consent_overrides``).

The APIs are real servers on 127.0.0.1 (the project's emulators); nothing patches HTTP.
"""

from __future__ import annotations

import pytest

from emulators.constant_contact import serve_in_background as constant_contact
from emulators.mailchimp import serve_in_background as mailchimp
from tasks.errors import InputError
from tasks.extract.tables import ReadOptions
from tasks.transform.mapping_file import UserMapping
from tests.tasks.extract.test_tables import outcomes, read_one, write_csv

CC_HEADERS = ["Email address", "First name", "Email status", "Email permission status"]
CC_ROWS = [
    ["implied@x.com", "Ida", "Active", "Implied permission"],
    ["express@x.com", "Ed", "Active", "Express permission"],
    ["unsub@x.com", "Uma", "Active", "Unsubscribed"],
]


def test_a_constant_contact_file_is_read_with_the_runs_overrides(tmp_path):
    path = write_csv(tmp_path / "contact_export_1134551190518_021826_133957.csv", CC_HEADERS, CC_ROWS)
    read = read_one(path, tmp_path, ReadOptions(consent_overrides={"implicit": "non_marketing"}))
    assert outcomes(read) == {"implied@x.com": "non_marketing", "express@x.com": "marketing", "unsub@x.com": "opted_out"}


def test_an_override_reopening_an_opt_out_of_the_files_profile_is_refused_as_it_is_read(tmp_path):
    path = write_csv(tmp_path / "contacts.csv", CC_HEADERS, CC_ROWS)
    with pytest.raises(InputError, match="constantcontact-export status 'unsubscribed' is an opt-out"):
        read_one(path, tmp_path, ReadOptions(consent_overrides={"unsubscribed": "non_marketing"}))


def test_the_constant_contact_api_is_read_with_the_runs_overrides(tmp_path, monkeypatch):
    # A custom field the user's mapping reads as consent, beside each contact's permission: a
    # contact with implied permission and an "Express" consent field reads implicit and explicit,
    # both marketing by default. The run says explicit is not.
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('profile = "constantcontact"\n[[status.rules]]\ncolumns = ["Consent"]\nvalues = { express = "explicit" }\n', encoding="utf-8")
    with constant_contact(contacts=3) as server:
        monkeypatch.setenv("CONSTANT_CONTACT_TOKEN", server.settings.token)
        monkeypatch.setenv("CONSTANT_CONTACT_BASE_URL", server.api_url)
        account = server.emulator.account
        account.custom_fields.append({"custom_field_id": "f-consent", "name": "consent", "label": "Consent", "type": "string"})
        both, implied_only, _ = account.contacts
        for contact in (both, implied_only):
            contact.pop("deleted_at", None)
            contact["email_address"].update(permission_to_send="implicit", opt_out_date=None, opt_out_source=None, opt_out_reason=None)
        both["custom_fields"] = [{"custom_field_id": "f-consent", "value": "Express"}]
        implied_only["custom_fields"] = []
        options = ReadOptions(mapping=UserMapping.load(mapping), consent_overrides={"explicit": "non_marketing"})
        read = read_one("constantcontact://contacts", tmp_path, options)
    read_outcomes = outcomes(read)
    address = lambda contact: contact["email_address"]["address"].lower()  # noqa: E731
    assert (read_outcomes[address(both)], read_outcomes[address(implied_only)]) == ("non_marketing", "marketing")


def test_the_mailchimp_api_is_read_with_the_runs_overrides(tmp_path, monkeypatch):
    with mailchimp(members=40) as server:
        monkeypatch.setenv("MAILCHIMP_API_KEY", server.settings.api_key)
        monkeypatch.setenv("MAILCHIMP_BASE_URL", server.api_url)
        options = ReadOptions(consent_overrides={"pending": "marketing", "cleaned": "opted_out"})
        read = read_one("mailchimp://a1b2c3d4e5", tmp_path, options)
        statuses = {member["email_address"].lower(): member["status"] for member in server.emulator.audience.members}
    expected = {"subscribed": "marketing", "pending": "marketing", "unsubscribed": "opted_out", "cleaned": "opted_out"}
    assert outcomes(read) == {email: expected.get(status, "non_marketing") for email, status in statuses.items()}
