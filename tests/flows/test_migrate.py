"""The spine end to end, in-process through the Prefect engine: plan and migrate flows."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import requests
from hubspot import HubSpot
from hubspot.crm.contacts import BatchReadInputSimplePublicObjectId, SimplePublicObjectId

from benchmarks.generate_mailchimp import write_export
from emulators.hubspot import serve_in_background
from flows.cli import SAMPLE_EXPORT
from flows.migrate import migrate_contacts, plan_contacts
from schemas.mailchimp import REJECT_REASONS
from schemas.params import MigrationParameters, PlanParameters
from tasks.load.resume import LoadInProgress, load_lock, load_state

TOKEN = "test-token"
OPT_OUT_STATUSES = ("unsubscribed", "cleaned")
NON_MARKETING_STATUSES = ("nonsubscribed", "transactional", "sms_only")


def expected_outcomes(truth) -> dict[str, set[str]]:
    """Each email's outcome from the generator's ground truth: the most restrictive wins."""
    emails = {status: set(t.emails) for status, t in truth.statuses.items()}
    opted_out = set().union(*(emails.get(s, set()) for s in OPT_OUT_STATUSES))
    non_marketing = set().union(*(emails.get(s, set()) for s in NON_MARKETING_STATUSES)) - opted_out
    marketing = emails.get("subscribed", set()) - opted_out - non_marketing
    return {"marketing": marketing, "non_marketing": non_marketing, "opted_out": opted_out}


def read_emails(folder: Path, files: list[dict], column: str) -> set[str]:
    found: set[str] = set()
    for entry in files:
        with open(folder / entry["file"], newline="", encoding="utf-8") as handle:
            found |= {row[column] for row in csv.DictReader(handle)}
    return found


@pytest.mark.parametrize("layout", ["new", "old"])
def test_plan_counts_every_row_and_writes_the_files_of_the_design(prefect_api_url, tmp_path, layout):
    truth = write_export(tmp_path / "export.zip", rows=400, seed=11, layout=layout)
    expected = expected_outcomes(truth)
    out = tmp_path / "out"

    report = plan_contacts(PlanParameters(sources=[str(tmp_path / "export.zip")], output=str(out)))

    assert report == json.loads((out / "report.json").read_text())
    rejected = sum(t.invalid_emails for t in truth.statuses.values())
    unique = sum(len(v) for v in expected.values())
    assert report["rows_read"] == truth.rows
    assert report["rows_rejected"] == rejected
    assert report["duplicates_merged"] == truth.rows - rejected - unique
    assert report["contacts"] == {k: len(v) for k, v in expected.items()}
    by_status = {s["status"]: s for s in report["sources"]}
    assert {s: (v["rows"], v["rejected"]) for s, v in by_status.items()} == {
        s: (t.rows, t.invalid_emails) for s, t in truth.statuses.items()
    }
    files = report["files"]
    assert read_emails(out, [i for i in files["imports"] if i["outcome"] == "marketing"], "email") == expected["marketing"]
    assert read_emails(out, [i for i in files["imports"] if i["outcome"] == "non_marketing"], "email") == expected["non_marketing"]
    opt_out_files = {o["status"]: o for o in files["opt_outs"]}
    assert set(opt_out_files) <= set(OPT_OUT_STATUSES)
    assert read_emails(out, files["opt_outs"], "Email") == expected["opted_out"]
    for status, entry in opt_out_files.items():
        assert read_emails(out, [entry], "Email") <= set(truth.statuses[status].emails)
    with open(out / "rejects.csv", newline="", encoding="utf-8") as handle:
        rejects = list(csv.DictReader(handle))
    assert len(rejects) == rejected
    assert {r["reason"] for r in rejects} <= {REJECT_REASONS["email_present"], REJECT_REASONS["email_valid"], REJECT_REASONS["email_domain_known"]}
    # Every column of every file is accounted for in the report.
    assert all(c["property"] for c in report["columns"])


def test_planning_twice_gives_identical_files(prefect_api_url, tmp_path):
    write_export(tmp_path / "export.zip", rows=120, seed=3)
    outputs = []
    for name in ("a", "b"):
        plan_contacts(PlanParameters(sources=[str(tmp_path / "export.zip")], output=str(tmp_path / name)))
        outputs.append({p.relative_to(tmp_path / name): p.read_bytes() for p in sorted((tmp_path / name).rglob("*")) if p.is_file()})
    assert outputs[0] == outputs[1]


def test_migrate_leaves_hubspot_holding_exactly_what_the_plan_said(prefect_api_url, hubspot, tmp_path, monkeypatch):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    truth = write_export(tmp_path / "export.zip", rows=150, seed=5)
    expected = expected_outcomes(truth)

    report = migrate_contacts(
        MigrationParameters(sources=[str(tmp_path / "export.zip")], output=str(tmp_path / "out"), portal_url=hubspot.url)
    )

    load = report["load"]
    assert load["rows_failed"] == 0
    assert [i["state"] for i in load["imports"]] == ["DONE", "DONE"]
    client = HubSpot(access_token=TOKEN, host=hubspot.url)
    found = read_contacts(client, expected["marketing"] | expected["non_marketing"] | expected["opted_out"])
    assert set(found) == expected["marketing"] | expected["non_marketing"]
    assert {e for e, c in found.items() if c.properties["hs_marketable_status"] == "true"} == expected["marketing"]
    [marketing_list] = load["lists"]
    members = client.crm.lists.memberships_api.get_page(list_id=marketing_list["list_id"], limit=250)
    assert {m.record_id for m in members.results} == {found[e].id for e in expected["marketing"]}
    for email in expected["opted_out"]:
        statuses = requests.get(
            f"{hubspot.url}/communication-preferences/v4/statuses/{email}/unsubscribe-all",
            params={"channel": "EMAIL"},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        ).json()["results"]
        assert statuses, f"{email} is not opted out"
    assert json.loads((tmp_path / "out" / "report.json").read_text())["load"] == load


def read_contacts(client: HubSpot, emails: set[str]) -> dict:
    """The portal's contacts among ``emails``, read back by email through the official client."""
    found = {}
    ordered = sorted(emails)
    for start in range(0, len(ordered), 100):
        batch = BatchReadInputSimplePublicObjectId(
            id_property="email",
            properties=["email", "hs_marketable_status"],
            inputs=[SimplePublicObjectId(id=e) for e in ordered[start : start + 100]],
        )
        for contact in client.crm.contacts.batch_api.read(batch_read_input_simple_public_object_id=batch).results:
            found[contact.properties["email"]] = contact
    return found


def test_migrate_with_companies_makes_each_company_once_and_a_rerun_writes_nothing(prefect_api_url, tmp_path, monkeypatch):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    truth = write_export(tmp_path / "export.zip", rows=80, seed=7)
    expected = expected_outcomes(truth)
    with serve_in_background() as hub:
        params = MigrationParameters(
            sources=[str(tmp_path / "export.zip")], output=str(tmp_path / "out"), portal_url=hub.url, import_companies=True
        )
        first = migrate_contacts(params)["load"]
        before = dict(hub.emulator.request_counts)
        second = migrate_contacts(params)["load"]
        sent_again = {key: count - before.get(key, 0) for key, count in hub.emulator.request_counts.items()}

        client = HubSpot(access_token=TOKEN, host=hub.url)
        companies = client.crm.companies.basic_api.get_page(limit=100, properties=["domain"]).results
        domain_of = {company.id: company.properties["domain"] for company in companies}
        contacts = read_contacts(client, expected["marketing"] | expected["non_marketing"])
        associated = {}
        for email, contact in contacts.items():
            answer = requests.get(
                f"{hub.url}/crm/v4/objects/contacts/{contact.id}/associations/companies",
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=10,
            ).json()["results"]
            associated[email] = [domain_of[str(result["toObjectId"])] for result in answer]

    # The generator's addresses are at mail providers and at two organisations.
    assert sorted(domain_of.values()) == ["bayclub.org", "example.org"]
    assert first["companies"]["created"] == 2 and second["companies"] == first["companies"]
    assert associated == {email: [email.split("@")[1]] if email.split("@")[1] in domain_of.values() else [] for email in contacts}
    # The rerun found every step done: not one write.
    assert not [key for key, count in sent_again.items() if count and key[0] != "GET" and key[2] < 300 and "read" not in key[1] and "search" not in key[1]]


def test_a_flow_started_outside_the_cli_refuses_a_credential_in_a_location(prefect_api_url, tmp_path):
    from tasks.errors import InputError

    with pytest.raises(InputError) as refused:
        plan_contacts(PlanParameters(sources=["s3://AKIAKEY:s3cr3t@bucket/export.zip"], output=str(tmp_path / "out")))
    assert "s3cr3t" not in str(refused.value) and "AKIAKEY" not in str(refused.value)
    assert not (tmp_path / "out").exists()


def test_a_run_into_an_output_another_run_is_loading_stops_before_it_plans_or_sends(prefect_api_url, hubspot, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "token-double")
    out = tmp_path / "out"
    params = MigrationParameters(sources=[str(SAMPLE_EXPORT)], output=str(out), portal_url=hubspot.url)

    def writes() -> int:
        return sum(n for (method, _, _), n in hubspot.emulator.request_counts.items() if method != "GET")

    before = writes()
    # Another run's hold, as a double click on Run leaves one while the first loads.
    with load_lock(load_state(str(out), out).work):
        with pytest.raises(LoadInProgress, match="another run is loading into this output"):
            migrate_contacts(params)
        # A plan alone would rewrite the files the other run imports: held off too, its run's
        # log saying so in one line (a double click on Run in Prefect's UI), no traceback.
        state = plan_contacts(PlanParameters(sources=params.sources, output=params.output), return_state=True)
        with pytest.raises(LoadInProgress) as refusal:
            state.result()
        assert state.is_failed() and state.message == str(refusal.value)
        run_log = [record for record in caplog.records if record.name.startswith("prefect.flow_runs")]
        assert not any(record.exc_info for record in run_log) and "Traceback" not in caplog.text

    assert not (out / "hubspot").exists() and not (out / "report.json").exists()
    assert writes() == before
    assert migrate_contacts(params)["load"]["rows_failed"] == 0


def test_a_migration_whose_output_folder_was_moved_finds_its_steps_done(prefect_api_url, hubspot, tmp_path, monkeypatch):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    params = MigrationParameters(sources=[str(SAMPLE_EXPORT)], output=str(tmp_path / "out"), portal_url=hubspot.url)
    first = migrate_contacts(params)["load"]
    (tmp_path / "out").rename(tmp_path / "out-2026")
    before = dict(hubspot.emulator.request_counts)

    again = migrate_contacts(params.model_copy(update={"output": str(tmp_path / "out-2026")}))["load"]

    sent_again = {key: count - before.get(key, 0) for key, count in hubspot.emulator.request_counts.items()}
    assert first["rows_failed"] == 0 and all(step["already_done"] for step in again["steps"])
    assert not [key for key, count in sent_again.items() if count and key[0] != "GET" and "read" not in key[1] and "search" not in key[1]]
