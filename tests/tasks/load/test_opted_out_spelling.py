"""A contact HubSpot holds under the ``xn--`` spelling of its internationalised domain is sent in
that spelling, so HubSpot's contact is updated rather than a second one created: loaded into the
emulator over real HTTP, by imports and by upsert."""

from __future__ import annotations

import pytest

from schemas.contact import ascii_spelling
from tasks.load.dryrun import dry_run
from tasks.load.opted_out import FOLDER, REPORT_KEY
from tasks.load.plan import read_plan
from tasks.load.run import load_plan
from tasks.load.settings import CONTACT_OBJECT_TYPE_ID as CONTACTS
from tasks.load.upsert import IMPORTS, UPSERT
from tests.tasks.load.plans import write_plan
from tests.tasks.load.reruns import POLL, load_in_a_flow
from tests.tasks.load.test_opted_out import MOVED, SOURCE, csv_rows, list_members, opted_out_in_hubspot

MARKETING = "hubspot/contacts-marketing-001.csv"
NON_MARKETING = "hubspot/contacts-non-marketing-001.csv"
JANE, MAX, LEA = "jane@bücher.de", "max@müller.de", "lea@café.fr"


def idn_plan(directory):
    """Jane and Max (Unicode domains) and Ok in a listed marketing file, Lea (Unicode) in a
    non-marketing one; source row ``n + 1`` for the marketing file's line ``n``."""
    contacts = {
        MARKETING: (
            {"outcome": "marketing", "marketable": True, "create_list": False, "list": "marketing", "name": f"Onramp test {directory.name}"},
            ["email", "firstname"],
            [[JANE, "Jane"], [MAX, "Max"], ["ok@example.com", "Ok"]],
        ),
        NON_MARKETING: ({"outcome": "non_marketing", "marketable": False}, ["email", "firstname"], [[LEA, "Lea"]]),
    }
    lists = [{"key": "marketing", "name": f"Onramp — test marketing ({directory.name})", "outcome": "marketing", "files": [MARKETING]}]
    return write_plan(directory, contacts=contacts, lists=lists, source=SOURCE)


def held_in_xn_spelling(portal, *addresses):
    """Contacts HubSpot holds under the ``xn--`` spelling of each address (a form, another tool)."""
    for address in addresses:
        portal.request("POST", "/crm/v3/objects/contacts", json={"properties": {"email": ascii_spelling(address), "firstname": "Old"}})


def contacts_by_email(emulator) -> dict[str, dict[str, str]]:
    return {record.properties["email"]: record.properties for record in emulator.portal.objects[CONTACTS].values()}


@pytest.mark.parametrize("load_path", [IMPORTS, UPSERT])
def test_a_contact_hubspot_holds_in_the_xn_spelling_is_updated_in_every_file_not_created_again(
    load_path, prefect_api_url, portal, emulator, tmp_path
):
    held_in_xn_spelling(portal, MAX, LEA)
    opted_out_in_hubspot(portal, ascii_spelling(JANE))
    state = tmp_path / "state"

    report = load_in_a_flow(portal, str(idn_plan(tmp_path / "plan")), str(state), load_path)

    held = contacts_by_email(emulator)
    # No second contact under the plan's spelling: HubSpot's own were updated.
    assert sorted(held) == sorted([ascii_spelling(JANE), ascii_spelling(MAX), ascii_spelling(LEA), "ok@example.com"])
    jane, max_, lea = (held[ascii_spelling(address)] for address in (JANE, MAX, LEA))
    assert (jane["firstname"], max_["firstname"], lea["firstname"]) == ("Jane", "Max", "Lea")
    # Jane stays unsubscribed and non-marketing; Max is made marketing once, and listed.
    assert ascii_spelling(JANE) in emulator.portal.opt_outs and jane["hs_marketable_status"] == "false"
    assert (max_["hs_marketable_status"], lea["hs_marketable_status"]) == ("true", "false")
    assert list_members(emulator) == {ascii_spelling(MAX), "ok@example.com"}
    # The files sent hold HubSpot's spelling; lineage and the report tie each row to its source.
    folder = state / FOLDER
    assert csv_rows(folder / MARKETING)[1:] == [[ascii_spelling(MAX), "Max"], ["ok@example.com", "Ok"]]
    assert csv_rows(folder / MOVED)[1:] == [[ascii_spelling(JANE), "Jane"]]
    assert csv_rows(folder / NON_MARKETING)[1:] == [[ascii_spelling(LEA), "Lea"]]
    kept = report[REPORT_KEY]
    assert kept["rows"] == [{"file": MARKETING, "line": 2, "sent_file": MOVED, "sent_line": 2, "sources": [f"{SOURCE}:2"]}]
    assert sorted((row["file"], row["line"], row["sent_file"], row["sent_line"], *row["sources"]) for row in kept["respelt"]["rows"]) == [
        (MARKETING, 2, MOVED, 2, f"{SOURCE}:2"),
        (MARKETING, 3, MARKETING, 2, f"{SOURCE}:3"),
        (NON_MARKETING, 2, NON_MARKETING, 2, f"{SOURCE}:5"),
    ]
    assert kept["respelt"]["count"] == 3 and kept["respelt"]["requests"] == 1
    assert "@" not in str(kept["respelt"])
    assert report["reconciliation"]["mismatches"] == [] and report["rows_failed"] == 0


def test_a_contact_hubspot_holds_in_both_spellings_is_sent_as_the_plan_spells_it(portal, emulator, tmp_path):
    held_in_xn_spelling(portal, MAX)
    portal.request("POST", "/crm/v3/objects/contacts", json={"properties": {"email": MAX, "firstname": "Old"}})

    report = load_plan(portal, idn_plan(tmp_path / "plan"), poll_interval=POLL, state_dir=tmp_path / "state")

    held = contacts_by_email(emulator)
    assert held[MAX]["firstname"] == "Max" and held[ascii_spelling(MAX)]["firstname"] == "Old"
    assert report[REPORT_KEY]["respelt"]["count"] == 0


def test_the_dry_run_counts_a_contact_hubspot_holds_in_the_xn_spelling_as_updated_not_created(portal, emulator, tmp_path):
    held_in_xn_spelling(portal, MAX, LEA)

    found = dry_run(portal, read_plan(idn_plan(tmp_path / "plan")))

    by_file = {entry["file"]: entry for entry in found["files"]}
    assert (by_file[MARKETING]["create"], by_file[MARKETING]["update"]) == (2, 1)
    assert (by_file[NON_MARKETING]["create"], by_file[NON_MARKETING]["update"]) == (0, 1)
