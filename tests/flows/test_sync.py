"""The recurring sync, run twice against the HubSpot emulator: the second run sends only what
changed at the source, and an opt-out made between the runs reaches HubSpot."""

from __future__ import annotations

import csv
import zipfile
from collections import Counter
from pathlib import Path

import httpx

from flows.cli import SAMPLE_EXPORT
from flows.sync import sync_contacts
from schemas.params import SyncParameters
from tasks.sync import DELTA_FOLDER

# The emulator counts requests by route template; batch upserts of contacts are the only batch writes a sync sends.
BATCH_ROUTE = ("POST", "/crm/v3/objects/{object_type_name}/batch/{operation}")
NEW_EMAIL = "new.person@example.org"


def source_folder(tmp_path: Path) -> Path:
    """The bundled sample's subscribed and unsubscribed files, as a folder a sync can watch."""
    folder = tmp_path / "audience"
    folder.mkdir()
    with zipfile.ZipFile(SAMPLE_EXPORT) as archive:
        for member in archive.namelist():
            name = member.rsplit("/", 1)[-1]
            if name.startswith(("subscribed_", "unsubscribed_")):
                (folder / name).write_bytes(archive.read(member))
    return folder


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        header, *rows = list(csv.reader(handle))
    return header, rows


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *rows])


def upserts(hubspot) -> int:
    return sum(n for (method, route, _), n in hubspot.emulator.request_counts.items() if (method, route) == BATCH_ROUTE)


def planned_emails(path: Path) -> list[str]:
    return [row[0] for row in read_csv(path)[1]] if path.exists() else []


def test_the_second_sync_sends_only_the_changes_and_the_new_opt_out(prefect_api_url, hubspot, tmp_path, monkeypatch):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "sync-token")
    source, out = source_folder(tmp_path), tmp_path / "out"
    params = SyncParameters(sources=[str(source)], output=str(out), portal_url=hubspot.url)

    first = sync_contacts(params)

    marketing = out / "hubspot" / "contacts-marketing-001.csv"
    assert first["sync"]["new_or_changed_contacts"] == first["contacts"]["marketing"] == len(planned_emails(marketing))
    subscribed, unsubscribed = sorted(source.glob("subscribed_*")), sorted(source.glob("unsubscribed_*"))
    header, rows = read_csv(subscribed[0])
    seen = Counter(row[0].strip().lower() for row in rows)
    renamed, leaving = [i for i, row in enumerate(rows) if seen[row[0].strip().lower()] == 1 and row[0] == row[0].strip().lower()][:2]
    renamed_email, leaving_email = rows[renamed][0], rows[leaving][0]
    rows[renamed][header.index("First Name")] = "Renamed"
    added = list(rows[renamed])
    added[0] = NEW_EMAIL
    unsub_header, unsub_rows = read_csv(unsubscribed[0])
    unsub_rows.append([rows[leaving][header.index(name)] if name in header else "" for name in unsub_header])
    write_csv(subscribed[0], header, [row for i, row in enumerate(rows) if i != leaving] + [added])
    write_csv(unsubscribed[0], unsub_header, unsub_rows)
    upserts_before = upserts(hubspot)

    second = sync_contacts(params)

    assert second["sync"]["new_or_changed_contacts"] == 2
    assert second["sync"]["new_opt_outs"] == 1
    delta = out / DELTA_FOLDER / "hubspot"
    assert sorted(planned_emails(delta / "contacts-marketing-001.csv")) == sorted([renamed_email, NEW_EMAIL])
    assert planned_emails(delta / "opt-out-unsubscribed.csv") == [leaving_email]
    assert upserts(hubspot) - upserts_before == 1
    assert second["load"]["rows_failed"] == 0
    portal = httpx.get(f"{hubspot.url}/_emulator/state").json()
    by_email = {c["properties"]["email"]: c["properties"] for c in portal["contacts"]}
    assert by_email[renamed_email]["firstname"] == "Renamed"
    assert NEW_EMAIL in by_email
    status = httpx.get(
        f"{hubspot.url}/communication-preferences/v4/statuses/{leaving_email}/unsubscribe-all",
        params={"channel": "EMAIL"},
        headers={"Authorization": "Bearer sync-token"},
    ).json()
    assert [s["status"] for s in status["results"]] == ["UNSUBSCRIBED"]
