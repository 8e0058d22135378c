"""Columns that have a HubSpot default property go to it in the planned import files, for every
profile whose exports write them: Zoho Leads' plain address, a Salesforce lead's address (API
names and report labels), Pipedrive's postal address parts, a HubSpot export's Date of birth, and
a plain file's usual spellings in English, German, French and Spanish.

Each file is read with the profile named, as ``--profile`` does: the routes are under test here,
not which profile the headers are detected as.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
import pytest

from tasks.extract.tables import ReadOptions, read_source
from tasks.output import OutputFolder
from tasks.plan import consent_profiles, plan_sources


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def plan_file(path: Path, profile: str, out: Path) -> tuple[dict[str, dict[str, str]], dict]:
    """Plan one file read with ``profile``: every planned contact row by email, and ``plan.json``."""
    [read] = read_source(str(path), out.parent / f"{out.name}-staging", ReadOptions(profile=profile))
    plan_sources([read.raw], OutputFolder(str(out)), consent_profiles([read.profile.profile], {}))
    rows = {}
    for contacts in sorted((out / "hubspot").glob("contacts-*.csv")):
        for row in pl.read_csv(contacts, infer_schema=False).iter_rows(named=True):
            rows[row["email"]] = row
    return rows, json.loads((out / "plan.json").read_text(encoding="utf-8"))


def custom_properties(plan: dict) -> set[str]:
    """The custom properties the plan creates for source columns (in the source's group, not Onramp's own)."""
    return {prop["name"] for prop in plan["properties"] if prop["groupName"] == plan["property_group"]["name"]}


def planned_values(row: dict[str, str]) -> dict[str, str]:
    """A planned contact's non-empty properties, but its email and Onramp's provenance."""
    return {name: value for name, value in row.items() if value and name not in ("email", "onramp_provenance")}


def test_a_zoho_leads_export_sends_its_company_and_address_to_hubspots_properties(tmp_path):
    lead = {
        "Record Id": "zcrm_1", "Lead Owner": "Jo", "Company": "Acme", "First Name": "Ann", "Last Name": "Lee",
        "Email": "ann@example.com", "Phone": "555", "Mobile": "556", "Lead Source": "Web", "Lead Status": "Contacted",
        "Email Opt Out": "false", "Created Time": "2023-01-05 10:00:00", "Modified Time": "2024-02-01 09:15:00",
        "Street": "1 Main St", "City": "Boston", "State": "MA", "Zip Code": "02110", "Country": "USA",
        "Website": "acme.example", "Industry": "Retail", "Date of Birth": "1980-04-12",
    }  # fmt: skip
    rows, plan = plan_file(write_csv(tmp_path / "Leads.csv", [lead]), "zoho", tmp_path / "out")

    assert planned_values(rows["ann@example.com"]) == {
        "firstname": "Ann", "lastname": "Lee", "phone": "555", "mobilephone": "556", "company": "Acme",
        "address": "1 Main St", "city": "Boston", "state": "MA", "zip": "02110", "country": "USA",
        "website": "acme.example", "industry": "Retail", "date_of_birth": "1980-04-12",
        "zoho_record_id": "zcrm_1", "zoho_lead_owner": "Jo", "zoho_lead_source": "Web", "zoho_lead_status": "Contacted",
        "zoho_email_opt_out": "false", "zoho_created_time": "1672912800000", "zoho_modified_time": "1706778900000",
    }  # fmt: skip
    assert custom_properties(plan) == {
        "zoho_record_id", "zoho_lead_owner", "zoho_lead_source", "zoho_lead_status", "zoho_email_opt_out",
        "zoho_created_time", "zoho_modified_time",
    }  # fmt: skip


ADDRESS = {"company": "Acme", "address": "1 Main St", "city": "Boston", "state": "MA", "zip": "02110", "country": "USA"}


@pytest.mark.parametrize(
    ("lead", "kept"),
    [
        # Data Loader / API extract of Lead: API names.
        (
            {
                "Id": "00Q1", "FirstName": "Ann", "LastName": "Lee", "Company": "Acme", "Email": "ann@example.com",
                "Street": "1 Main St", "City": "Boston", "State": "MA", "PostalCode": "02110", "Country": "USA",
                "Industry": "Retail", "LeadSource": "Web",
            },
            {"firstname": "Ann", "lastname": "Lee", "industry": "Retail", "salesforce_id": "00Q1", "salesforce_leadsource": "Web"},
        ),
        # A lead report: labels.
        (
            {
                "Lead Owner": "Jo", "First Name": "Ann", "Last Name": "Lee", "Title": "CEO", "Company / Account": "Acme",
                "Street": "1 Main St", "City": "Boston", "State/Province": "MA", "Zip/Postal Code": "02110",
                "Country": "USA", "Email": "ann@example.com", "Lead Status": "Open",
            },
            {"firstname": "Ann", "lastname": "Lee", "jobtitle": "CEO", "salesforce_lead_owner": "Jo", "salesforce_lead_status": "Open"},
        ),
    ],
    ids=["api-names", "report-labels"],
)  # fmt: skip
def test_a_salesforce_lead_sends_its_company_and_address_to_hubspots_properties(tmp_path, lead, kept):
    rows, plan = plan_file(write_csv(tmp_path / "Lead_extract.csv", [lead]), "salesforce", tmp_path / "out")

    assert planned_values(rows["ann@example.com"]) == ADDRESS | kept
    assert custom_properties(plan) == {name for name in kept if name.startswith("salesforce_")}


PIPEDRIVE_POSTAL_ADDRESS_SPELLINGS = ["Person - {part} of Postal address", "Person - Postal address - {part} of Postal address"]
"""How Pipedrive's exports name a part of a person's postal address: the first is the people
export's; the second, grouped under the field, as some exports name an organization's."""


@pytest.mark.parametrize("spelling", PIPEDRIVE_POSTAL_ADDRESS_SPELLINGS, ids=["part-of-field", "field-part-of-field"])
def test_a_pipedrive_export_sends_its_postal_address_parts_to_hubspots_address_properties(tmp_path, spelling):
    parts = {
        "House number": "1", "Street/road name": "Main St", "City/town/village/locality": "Boston",
        "State/county": "MA", "Region": "Suffolk County", "ZIP/Postal code": "02110", "Country": "United States",
        "Full/combined address": "1 Main St, Boston, MA 02110, USA",
    }  # fmt: skip
    person = {
        "Person - ID": "1", "Person - Name": "Ann Lee", "Person - First name": "Ann", "Person - Last name": "Lee",
        "Person - Organization": "Acme", "Person - Email - Work": "ann@example.com", "Person - Job title": "CEO",
        "Person - Marketing status": "Subscribed", "Person - Update time": "2024-02-01 09:15:00",
        "Person - Postal address": "1 Main St, Boston, MA 02110, USA", "Person - Birthday": "1980-04-12",
        **{spelling.format(part=part): value for part, value in parts.items()},
    }  # fmt: skip
    rows, _ = plan_file(write_csv(tmp_path / "people-export.csv", [person]), "pipedrive", tmp_path / "out")

    ann = rows["ann@example.com"]
    assert (ann["city"], ann["state"], ann["zip"], ann["country"]) == ("Boston", "MA", "02110", "United States")
    assert (ann["company"], ann["jobtitle"], ann["date_of_birth"]) == ("Acme", "CEO", "1980-04-12")
    # Neither the house number nor the street name alone is the street: both stay custom, as do
    # the county (Region) and the address whole.
    assert "address" not in ann
    kept = {value for name, value in ann.items() if name.startswith("pipedrive_")}
    assert {"1", "Main St", "Suffolk County", "1 Main St, Boston, MA 02110, USA"} <= kept


def test_a_hubspot_exports_date_of_birth_goes_back_to_date_of_birth_as_written(tmp_path):
    # HubSpot's date_of_birth is a text property: what the export holds is what it takes back.
    # Nothing reads it as a date, so no form of it is refused.
    contacts = [
        {
            "Record ID": "101", "First Name": "Ann", "Last Name": "Lee", "Email": email, "Salutation": "Ms.",
            "Fax Number": "+1 617 555 0102", "Industry": "Retail", "Lifecycle Stage": "lead",
            "Marketing contact status": "Non-marketing contact", "Date of birth": born,
        }
        for email, born in [("ann@example.com", "1980-04-12"), ("bob@example.com", "12/04/1980"), ("cy@example.com", "April 1980")]
    ]  # fmt: skip
    rows, plan = plan_file(write_csv(tmp_path / "hubspot-crm-exports-all-contacts.csv", contacts), "hubspot", tmp_path / "out")

    assert {email: row["date_of_birth"] for email, row in rows.items()} == {
        "ann@example.com": "1980-04-12", "bob@example.com": "12/04/1980", "cy@example.com": "April 1980",
    }  # fmt: skip
    ann = rows["ann@example.com"]
    assert (ann["salutation"], ann["fax"], ann["industry"]) == ("Ms.", "+1 617 555 0102", "Retail")
    assert "hubspot_import_date_of_birth" not in custom_properties(plan)
    assert pl.read_csv(tmp_path / "out" / "value-rejects.csv", infer_schema=False).is_empty()


def test_an_outlook_contacts_csv_keeps_its_honorific_title_out_of_the_job_title(tmp_path):
    # Outlook's export: "Title" is the honorific, "Job Title" the job title.
    contact = {
        "Title": "Ms.", "First Name": "Ann", "Middle Name": "", "Last Name": "Lee", "Company": "Acme",
        "Job Title": "CEO", "Business Phone": "555", "Mobile Phone": "556", "E-mail Address": "ann@example.com",
    }  # fmt: skip
    rows, plan = plan_file(write_csv(tmp_path / "outlook_contacts.csv", [contact]), "generic", tmp_path / "out")

    ann = rows["ann@example.com"]
    assert (ann["jobtitle"], ann["imported_title"], ann["company"]) == ("CEO", "Ms.", "Acme")
    assert (ann["phone"], ann["mobilephone"]) == ("555", "556")
    assert "imported_job_title" not in set(ann) | custom_properties(plan)


SPELLINGS = [
    (
        {
            "Email": "ann@example.com", "First Name": "Ann", "Last Name": "Lee", "Company Name": "Acme",
            "Mobile Number": "556", "Work Phone": "555", "Address Line 1": "1 Main St", "Town": "Boston",
            "Province": "MA", "ZIP/Postal Code": "02110", "Country/Region": "USA", "Job title": "CEO",
            "Date of Birth": "1980-04-12",
        },
        {"mobilephone": "556", "jobtitle": "CEO", "state": "MA"},
    ),
    (
        {
            "E-Mail": "ann@example.com", "Anrede": "Frau", "Vorname": "Ann", "Nachname": "Lee", "Firma": "Acme",
            "Handy": "556", "Telefon": "555", "Straße": "1 Main St", "Ort": "Boston", "Bundesland": "MA",
            "PLZ": "02110", "Land": "USA", "Position": "CEO", "Geburtsdatum": "1980-04-12",
        },
        {"salutation": "Frau", "mobilephone": "556", "jobtitle": "CEO", "state": "MA"},
    ),
    (
        {
            "Courriel": "ann@example.com", "Civilité": "Mme", "Prénom": "Ann", "Nom": "Lee", "Société": "Acme",
            "Téléphone": "555", "Adresse": "1 Main St", "Ville": "Boston", "Code postal": "02110", "Pays": "USA",
            "Date de naissance": "1980-04-12",
        },
        {"salutation": "Mme"},
    ),
    (
        {
            "Correo electrónico": "ann@example.com", "Nombre": "Ann", "Apellidos": "Lee", "Empresa": "Acme",
            "Móvil": "556", "Teléfono": "555", "Dirección": "1 Main St", "Ciudad": "Boston", "Provincia": "MA",
            "Código postal": "02110", "País": "USA", "Fecha de nacimiento": "1980-04-12",
        },
        {"mobilephone": "556", "state": "MA"},
    ),
]  # fmt: skip
"""A plain file's headers in English, German, French and Spanish, and the properties each has
beside those all four fill (``EVERY_SPELLING``)."""

EVERY_SPELLING = {
    "firstname": "Ann", "lastname": "Lee", "company": "Acme", "phone": "555", "address": "1 Main St",
    "city": "Boston", "zip": "02110", "country": "USA", "date_of_birth": "1980-04-12",
}  # fmt: skip


@pytest.mark.parametrize(("contact", "also"), SPELLINGS, ids=["english", "german", "french", "spanish"])
def test_a_plain_files_usual_spellings_go_to_hubspots_default_properties(tmp_path, contact, also):
    rows, plan = plan_file(write_csv(tmp_path / "kunden.csv", [contact]), "generic", tmp_path / "out")

    assert planned_values(rows["ann@example.com"]) == EVERY_SPELLING | also
    assert custom_properties(plan) == set()
