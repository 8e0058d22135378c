"""A Constant Contact contact read through the v3 API keeps a second phone or street address of
one kind (the API allows three of any kinds): a second home phone goes to ``Phone - home 2`` as
the export writes it, and a second home address whole to ``… - Home 2`` columns, never mixed
with the first one's fields. Over HTTP against the Constant Contact emulator."""

from __future__ import annotations

import os

import pytest

from emulators.constant_contact import serve_in_background as constant_contact
from schemas.lineage import SOURCE_ROW
from tasks.extract import constant_contact_api
from tasks.output import OutputFolder
from tasks.plan import consent_profiles, plan_sources
from tasks.transform.catalog import reading_profile
from tests.tasks.extract.test_tables import planned

SOURCE = "constantcontact://contacts"
FIRST_HOME = {"kind": "home", "street": "1 A St", "city": "X", "state": "CA", "postal_code": "90001", "country": "US"}
SECOND_HOME = {"kind": "home", "street": "2 B St", "city": "Y", "state": "", "postal_code": "", "country": ""}


@pytest.fixture
def account(monkeypatch):
    """An emulated account, its token and address in the environment."""
    with constant_contact(contacts=40, deleted_share=0.0) as server:
        monkeypatch.setenv("CONSTANT_CONTACT_TOKEN", server.settings.token)
        monkeypatch.setenv("CONSTANT_CONTACT_BASE_URL", server.api_url)
        yield server


def phones(*numbers: tuple[str, str]) -> list[dict]:
    return [{"phone_number_id": f"p{index}", "kind": kind, "phone_number": number} for index, (kind, number) in enumerate(numbers)]


def read_rows(tmp_path):
    raw = constant_contact_api.read_uri(SOURCE, tmp_path / "staging", os.environ, reading_profile("constantcontact"))
    return raw, {row[raw.email_column]: row for row in raw.frame.collect().iter_rows(named=True)}


def test_a_second_phone_and_address_of_one_kind_get_columns_of_their_own(account, tmp_path):
    contacts = account.emulator.account.contacts
    two_homes, three_work, plain = contacts[0], contacts[1], contacts[2]
    two_homes["phone_numbers"] = phones(("home", "+1 619 305 8111"), ("home", "+1 619 305 9999"))
    two_homes["street_addresses"] = [FIRST_HOME, SECOND_HOME]
    three_work["phone_numbers"] = phones(("work", "111"), ("work", "222"), ("mobile", "333"), ("work", "444"))
    three_work["street_addresses"] = []
    plain["phone_numbers"] = phones(("home", "555"), ("fax", "666"))

    raw, rows = read_rows(tmp_path)
    homes, works, other = (rows[contact["email_address"]["address"]] for contact in (two_homes, three_work, plain))

    assert (homes["Phone - home"], homes["Phone - home 2"]) == ("+1 619 305 8111", "+1 619 305 9999")
    first = ["Street address line 1 - Home", "City - Home", "State/Province - Home", "Zip/Postal Code - Home", "Country - Home"]
    assert [homes[column] for column in first] == ["1 A St", "X", "CA", "90001", "US"]
    # The second address's empty fields: no contact's column holds a value, none is added.
    assert [homes.get(f"{column} 2") for column in first] == ["2 B St", "Y", None, None, None]
    assert (works["Phone - work"], works["Phone - work 2"], works["Phone - work 3"], works["Phone - mobile"]) == ("111", "222", "444", "333")
    # A kind the export has no column for is an other phone, as before.
    assert (other["Phone - home"], other["Phone - other"], other["Phone - home 2"]) == ("555", "666", None)
    # Added after the export's columns, phones first; the row's lineage unchanged.
    assert raw.headers[-5:] == ["Phone - home 2", "Phone - work 2", "Phone - work 3", "Street address line 1 - Home 2", "City - Home 2"]
    assert [rows[contact["email_address"]["address"]][SOURCE_ROW] for contact in contacts[:3]] == [1, 2, 3]
    assert raw.frame.select(SOURCE_ROW).collect().height == len(contacts) == len(rows)


def test_the_second_phone_reaches_the_plan_beside_the_first(account, tmp_path):
    [contact] = [c for c in account.emulator.account.contacts if c["email_address"]["permission_to_send"] == "explicit"][:1]
    contact["phone_numbers"] = phones(("home", "+1 619 305 8111"), ("home", "+1 619 305 9999"))
    contact["street_addresses"] = [FIRST_HOME, SECOND_HOME]
    raw = constant_contact_api.read_uri(SOURCE, tmp_path / "staging", os.environ, reading_profile("constantcontact"))

    plan_sources([raw], OutputFolder(str(tmp_path / "plan")), consent_profiles([reading_profile("constantcontact").profile], {}))

    [row] = [rows[contact["email_address"]["address"]] for rows in planned(tmp_path / "plan").values() if contact["email_address"]["address"] in rows]
    assert (row["phone"], row["constantcontact_phone_home_2"]) == ("+1 619 305 8111", "+1 619 305 9999")
    assert (row["address"], row["city"], row["zip"]) == ("1 A St", "X", "90001")
    assert (row["constantcontact_street_address_line_1_home_2"], row["constantcontact_city_home_2"]) == ("2 B St", "Y")


def test_contacts_with_one_phone_and_address_of_each_kind_are_staged_under_the_exports_columns_only(account, tmp_path):
    for contact in account.emulator.account.contacts:
        contact["phone_numbers"] = phones(("home", "1"), ("work", "2"))
        contact["street_addresses"] = [FIRST_HOME, {**SECOND_HOME, "kind": "work"}]

    raw, rows = read_rows(tmp_path)

    assert not [header for header in raw.headers if header.endswith((" 2", " 3"))]
    assert {(row["Phone - work"], row["City - Home"], row["City - Work"]) for row in rows.values()} == {("2", "X", "Y")}
