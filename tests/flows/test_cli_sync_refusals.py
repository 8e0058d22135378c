"""`onramp sync` in-process against the HubSpot emulator when HubSpot will not take an opted-out
contact out of the sync's list. A static list refusing: the run exits 1 (the opt-out is sent
again next run, as a refused row is), its summary says what failed and what stays pending, and
the next run sends the pending opt-out again, saying so once, not as a new opt-out. A list a
person turned DYNAMIC: a warning naming it, a new subscriber not added to it, and the run, and
every rerun, exits 0."""

from __future__ import annotations

import httpx

from flows.cli import EXIT_LOAD_FAILED, EXIT_OK, main
from tests.flows.test_sync_refused_opt_out import pending, portal, write_export
from tests.tasks.load.test_list_removal_failures import removals_by_list

LEAVER = "leaver@example.com"
STAYING = {f"stays{n}@example.com": "Boston" for n in range(2)}
NEWCOMER = "newcomer@example.com"


def sync_list(hubspot):
    [found] = [entry for entry in hubspot.emulator.portal.lists.values() if "(sync " in entry.name]
    return found


def first_sync(hubspot, tmp_path, monkeypatch, capsys) -> list[str]:
    """The first run of a sync into an emptied portal (the module's tests share it)."""
    httpx.post(f"{hubspot.url}/_emulator/reset").raise_for_status()
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "sync-token")
    folder, out = tmp_path / "export", tmp_path / "out"
    command = ["sync", str(folder), "--out", str(out), "--portal-url", hubspot.url]
    write_export(folder, STAYING | {LEAVER: "Denver"})
    assert main(command) == EXIT_OK
    capsys.readouterr()
    return command


def test_a_static_list_refusing_a_removal_exits_1_and_the_opt_out_stays_pending(prefect_api_url, hubspot, tmp_path, monkeypatch, capsys):
    command = first_sync(hubspot, tmp_path, monkeypatch, capsys)
    folder, out = tmp_path / "export", tmp_path / "out"

    # The leaver unsubscribes at the source; HubSpot takes the opt-out, but not the list removal.
    with monkeypatch.context() as refusing:
        removals_by_list(hubspot.emulator, refusing, refusing=sync_list(hubspot).list_id)
        write_export(folder, STAYING, [LEAVER])
        refused = main(command)
    printed = capsys.readouterr().out

    assert refused == EXIT_LOAD_FAILED
    assert LEAVER in hubspot.emulator.portal.opt_outs and LEAVER in portal(hubspot)[1]
    assert pending(out) == {LEAVER: "unsubscribed"}
    assert "1 opted out, 0 row(s) failed, 1 contact(s) HubSpot would not take out of a list (report.json load.errors)" in printed
    assert "sync: 1 opt-out(s) HubSpot did not take stay pending, sent again next run (report.json load.errors)" in printed
    assert "1 new opt-outs" in printed and "pending opt-out(s)" not in printed

    # The list takes removals again; the leaver is gone from the source by now: sent again all
    # the same, counted apart (not as a new opt-out), and taken.
    write_export(folder, STAYING)
    taken = main(command)
    printed = capsys.readouterr().out

    assert taken == EXIT_OK and pending(out) == {}
    assert "0 new opt-outs" in printed
    assert (
        "sync: 1 pending opt-out(s) HubSpot had not taken sent again: 1 of contacts no source gives any more, "
        "0 of contacts a provider read for its changes did not list"
    ) in printed
    assert "stay pending" not in printed and "would not take" not in printed
    assert LEAVER not in portal(hubspot)[1]


def test_a_list_turned_dynamic_is_warned_of_by_name_and_fails_no_run(prefect_api_url, hubspot, tmp_path, monkeypatch, capsys, caplog):
    command = first_sync(hubspot, tmp_path, monkeypatch, capsys)
    folder, out = tmp_path / "export", tmp_path / "out"
    turned = sync_list(hubspot)
    # A person made the sync's list a DYNAMIC one: its filters decide who is in it now.
    turned.processing_type = "DYNAMIC"
    # A new subscriber too: HubSpot refuses to add anyone to the list now.
    write_export(folder, STAYING | {NEWCOMER: "Austin"}, [LEAVER])

    warned = main(command)
    printed = capsys.readouterr().out

    assert warned == EXIT_OK, printed
    assert f"  warning: list {turned.name!r} (id {turned.list_id}) is DYNAMIC now, no longer a static list" in printed
    assert "would not take" not in printed and "stay pending" not in printed and pending(out) == {}
    assert f"  list {turned.name!r} (id {turned.list_id}): 0 contacts added, 1 not added: the list is no longer static" in printed
    assert LEAVER in hubspot.emulator.portal.opt_outs
    cities, listed = portal(hubspot)
    assert cities[NEWCOMER] == "Austin" and NEWCOMER not in listed
    assert caplog.messages.count(
        f"list {turned.name!r} (id {turned.list_id}) is DYNAMIC now, no longer a static list: its filters decide who is in it, "
        "so Onramp adds none of the 1 contact(s) of hubspot/contacts-marketing-001.csv to it"
    ) == 1
    # Nothing left pending: the rerun has nothing to send again, and exits 0 too.
    assert main(command) == EXIT_OK
