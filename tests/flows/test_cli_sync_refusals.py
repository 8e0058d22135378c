"""`onramp sync` in-process against the HubSpot emulator when HubSpot refuses to take an
opted-out contact out of the sync's list: the run exits 1 (the opt-out is sent again next run,
as a refused row is) and its summary says what failed and what stays pending; the next run
sends the pending opt-out again and says so."""

from __future__ import annotations

from flows.cli import EXIT_LOAD_FAILED, EXIT_OK, main
from tests.flows.test_sync_refused_opt_out import pending, portal, write_export

LEAVER = "leaver@example.com"
STAYING = {f"stays{n}@example.com": "Boston" for n in range(2)}


def sync_list(hubspot):
    [found] = [entry for entry in hubspot.emulator.portal.lists.values() if "(sync " in entry.name]
    return found


def test_a_refused_list_removal_alone_exits_1_and_the_opt_out_stays_pending(prefect_api_url, hubspot, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "sync-token")
    folder, out = tmp_path / "export", tmp_path / "out"
    command = ["sync", str(folder), "--out", str(out), "--portal-url", hubspot.url]
    write_export(folder, STAYING | {LEAVER: "Denver"})
    assert main(command) == EXIT_OK
    capsys.readouterr()

    # The leaver unsubscribes at the source; HubSpot takes the opt-out, but the list is one it
    # no longer lets anyone take members out of (only MANUAL and SNAPSHOT lists).
    sync_list(hubspot).processing_type = "DYNAMIC"
    write_export(folder, STAYING, [LEAVER])
    refused = main(command)
    printed = capsys.readouterr().out

    assert refused == EXIT_LOAD_FAILED
    assert LEAVER in hubspot.emulator.portal.opt_outs and LEAVER in portal(hubspot)[1]
    assert pending(out) == {LEAVER: "unsubscribed"}
    assert "1 opted out, 0 row(s) failed, 1 contact(s) HubSpot would not take out of a list (report.json load.errors)" in printed
    assert "sync: 1 opt-out(s) HubSpot did not take stay pending, sent again next run (report.json load.errors)" in printed
    assert "pending opt-outs sent again" not in printed

    # The list takes removals again; the leaver is gone from the source by now: sent again all
    # the same, counted apart, and taken.
    sync_list(hubspot).processing_type = "MANUAL"
    write_export(folder, STAYING)
    taken = main(command)
    printed = capsys.readouterr().out

    assert taken == EXIT_OK and pending(out) == {}
    assert "sync: pending opt-outs sent again: 1 of contacts no source gives any more, 0 of contacts a provider read for its changes did not list" in printed
    assert "stay pending" not in printed and "would not take" not in printed
    assert LEAVER not in portal(hubspot)[1]
