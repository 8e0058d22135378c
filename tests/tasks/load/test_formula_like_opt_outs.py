"""An opt-out whose address starts with ``+``, ``-`` or ``=`` is planned and reaches HubSpot as
the address itself: such an address is rejected as a contact (a spreadsheet reads its first
character as a formula), but HubSpot holds it, so its opt-out is never dropped. Planned as
``onramp plan`` plans, loaded into the HubSpot emulator over real HTTP."""

from __future__ import annotations

import json

import polars as pl
import pytest
from hubspot.crm.contacts import SimplePublicObjectInputForCreate

from tasks.load import apply_opt_outs, read_plan
from tasks.transform.rejected_opt_outs import UNMATCHED_FILE, UNMATCHED_STATUS
from tests.mailchimp_exports import audience_export_zip
from tests.plain_plan import plan

HEADERS = ["Email Address", "First Name", "Last Name"]
EXPORT = "audience_export_fe/"
FORMULA_LIKE_OPT_OUTS = ["+gone@example.com", "=eqgone@example.com", "-dashgone@example.com"]


def export_zip(path, subscribed: list[str], unsubscribed: list[str]):
    """A Mailchimp export zip holding a subscribed and an unsubscribed file of these addresses."""
    files = {"subscribed": subscribed, "unsubscribed": unsubscribed}
    rows = {status: [[email, "Name", status] for email in emails] for status, emails in files.items()}
    return audience_export_zip(path, rows, HEADERS, name="{status}_email_audience_export_fe.csv", folder=EXPORT)


def test_a_formula_like_unsubscribe_is_planned_as_an_opt_out_and_counted_as_a_rejected_one(tmp_path):
    source = export_zip(
        tmp_path / "export.zip",
        subscribed=["+news@example.com", "-dash@example.com", "stays@example.com", "+gone@example.com"],
        unsubscribed=["+Gone@Example.com", "=eqgone@example.com", "-dashgone@example.com"],
    )

    report = plan([str(source)], tmp_path / "out")

    # The contact rows stay rejected: the import files never hold such an address.
    assert report["rows_read"] == 7 and report["rows_rejected"] == 6
    assert report["contacts"] == {"marketing": 1, "non_marketing": 0, "opted_out": 0}
    assert report["rejected_opt_outs"] == {"contacts_opted_out": 0, "addresses_without_contact": 3}
    planned = json.loads((tmp_path / "out" / "plan.json").read_text(encoding="utf-8"))["opt_outs"]
    assert planned == [{"file": UNMATCHED_FILE, "status": UNMATCHED_STATUS, "rows": 3}]
    # Written for a spreadsheet (the apostrophe); the load takes it off again (below).
    rows = pl.read_csv(tmp_path / "out" / UNMATCHED_FILE).rows(named=True)
    assert [(row["email"], row["status"]) for row in rows] == [(f"'{email}", "unsubscribed") for email in FORMULA_LIKE_OPT_OUTS]
    unsubscribed = f"{source}!{EXPORT}unsubscribed_email_audience_export_fe.csv"
    assert [row["sources"] for row in rows] == [f"{unsubscribed}:{line}" for line in (2, 3, 4)]


@pytest.mark.parametrize("batch_allowed", [True, False], ids=["batch", "single"])
def test_the_load_unsubscribes_the_exact_address_a_portal_may_already_hold(portal, emulator, client, tmp_path, batch_allowed):
    emulator.configure(batch_comm_prefs_allowed=batch_allowed)
    # HubSpot takes such an address as a contact's: the person may be in the portal already.
    client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={"email": "+gone@example.com"}))
    source = export_zip(tmp_path / "export.zip", subscribed=["stays@example.com"], unsubscribed=FORMULA_LIKE_OPT_OUTS)
    plan([str(source)], tmp_path / "out")

    report = apply_opt_outs(portal, read_plan(tmp_path / "out"))

    assert [(f["file"], f["addresses"], f["unsubscribed"], f["failed"]) for f in report["files"]] == [
        (UNMATCHED_FILE, 3, 3, 0)
    ]
    assert set(emulator.portal.opt_outs) == set(FORMULA_LIKE_OPT_OUTS)
    held = client.crm.contacts.basic_api.get_by_id("+gone@example.com", id_property="email", properties=["hs_email_optout"])
    assert held.properties["hs_email_optout"] == "true"
