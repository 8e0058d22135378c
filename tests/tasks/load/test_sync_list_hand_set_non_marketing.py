"""A sync delta's load into the emulator over real HTTP keeps in the sync's marketing list the
contacts a person set non-marketing in HubSpot (sent non-marketing, ``…-non-marketing-in-hubspot``):
the source still holds them as marketing contacts, which the list is of, so they are neither
taken out nor counted "no longer a marketing contact in the source" (a contact the source now
holds as non-marketing still leaves it: test_list_opt_outs.py)."""

from __future__ import annotations

import json

from tasks.load.lists import SYNC_DELTA
from tasks.load.opted_out import AS_SET_REPORT_KEY
from tasks.load.run import load_plan
from tasks.report import load_lines
from tests.tasks.load.test_opted_out import list_members
from tests.tasks.load.test_sync_hand_set_non_marketing_load import POLL, plan_dir, set_marketing_by_hand


def as_sync_delta(directory):
    data = json.loads((directory / "plan.json").read_text())
    (directory / "plan.json").write_text(json.dumps({**data, SYNC_DELTA: True}))
    return directory


def test_a_contact_set_non_marketing_by_hand_stays_in_the_sync_list_and_is_not_counted_removed(portal, hub, emulator, tmp_path):
    # The earlier run: every contact marketing, in the list (named by the plan folder's name).
    load_plan(portal, plan_dir(tmp_path / "earlier" / "plan", named=False), poll_interval=POLL, state_dir=tmp_path / "state-1")
    assert list_members(emulator) == {f"{name}@example.com" for name in ("ann", "ben", "cy", "dee", "eve")}
    set_marketing_by_hand(hub, "ann@example.com", False)

    report = load_plan(portal, as_sync_delta(plan_dir(tmp_path / "delta" / "plan")), poll_interval=POLL, state_dir=tmp_path / "state-2")

    assert report[AS_SET_REPORT_KEY]["count"] == 1
    [synced] = report["lists"]
    assert (synced["removed_non_marketing"], synced["remove_failed"]) == (0, 0)
    assert "ann@example.com" in list_members(emulator)
    said = load_lines(report)
    assert not any("no longer marketing in the source removed" in line for line in said)
    assert (
        "  1 contact(s) an earlier sync made marketing that HubSpot holds set non-marketing sent as non-marketing, "
        "not billed again (report.json load.kept_non_marketing_as_set_in_hubspot)"
    ) in said
