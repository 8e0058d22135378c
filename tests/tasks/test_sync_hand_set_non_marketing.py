"""A sync's delta tells the contacts an earlier run already made marketing from the newly
marketing ones, and its plan names them, so the load can keep non-marketing those a person set
so in HubSpot since (a billing choice, not a change of consent)."""

from __future__ import annotations

import csv
import json

import polars as pl
import pytest

from tasks.errors import LoadError
from tasks.import_files import MARKETING_ALREADY_SET, MARKETING_ALREADY_SET_FILE
from tasks.load.opted_out import marketing_already_set
from tasks.load.plan import read_plan
from tasks.sync import diff, snapshot_after, write_delta_plan
from tests.tasks.load.plans import write_plan
from tests.tasks.test_sync import state

MARKETING_FILE = "hubspot/contacts-marketing-001.csv"
NON_MARKETING_FILE = "hubspot/contacts-non-marketing-001.csv"
SOURCE = "file:///exports/audience.zip"

PREVIOUS = state(
    ("a@x.com", "marketing", "1"),
    ("b@x.com", "marketing", "1"),
    ("c@x.com", "non_marketing", "1"),
    ("d@x.com", "marketing", "1"),
    ("g@x.com", "marketing", "1"),
)
PLANNED = state(
    ("a@x.com", "marketing", "2"),  # renamed: an earlier run made it marketing
    ("b@x.com", "marketing", "1"),  # unchanged: not sent
    ("c@x.com", "marketing", "2"),  # its outcome changed to marketing: newly marketing
    ("d@x.com", "non_marketing", "2"),  # no longer marketing at the source
    ("e@x.com", "marketing", "1"),  # new
    ("g@x.com", "opted_out", "u"),  # opted out: an opt-out, whatever HubSpot holds
)


def outcomes(snapshot: pl.DataFrame) -> dict[str, str]:
    return dict(snapshot.select("email", "outcome").iter_rows())


def test_only_a_changed_contact_an_earlier_run_made_marketing_is_told_apart():
    delta = diff(PLANNED, PREVIOUS)

    assert delta.contacts == {"a@x.com", "c@x.com", "d@x.com", "e@x.com"}
    assert delta.marketing_already_set == {"a@x.com"}
    assert delta.opt_outs == {"g@x.com"}
    # Its consent is unchanged: the snapshot keeps it marketing, so the next run that sends it
    # tells it apart again, whatever HubSpot made of it.
    assert outcomes(delta.next_snapshot)["a@x.com"] == "marketing"
    renamed_again = diff(state(("a@x.com", "marketing", "3")), delta.next_snapshot)
    assert renamed_again.marketing_already_set == {"a@x.com"}
    # A first run has no earlier run: everyone is newly marketing.
    assert diff(PLANNED, None).marketing_already_set == frozenset()


def test_a_contact_whose_marketing_row_failed_last_run_is_newly_marketing_next_run():
    # A row HubSpot refused keeps its earlier snapshot row (here none: it was new).
    first = diff(state(("a@x.com", "marketing", "1")), None)
    after = snapshot_after(first, None, {"a@x.com"})

    assert diff(state(("a@x.com", "marketing", "2")), after).marketing_already_set == frozenset()


def read_rows(path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_the_delta_plan_names_the_already_marketing_beside_the_file_that_sends_them(tmp_path):
    plan_dir = write_plan(
        tmp_path / "plan",
        contacts={
            MARKETING_FILE: (
                {"outcome": "marketing", "marketable": True, "list": "marketing", "name": "Onramp test marketing 001"},
                ["email", "firstname"],
                [["a@x.com", "Ann"], ["b@x.com", "Ben"], ["c@x.com", "Cy"], ["e@x.com", "Eve"]],
            ),
            NON_MARKETING_FILE: ({"outcome": "non_marketing", "marketable": False, "name": "Onramp test nm"}, ["email", "firstname"], [["d@x.com", "Dee"]]),
        },
        opt_outs={"hubspot/opt-out-unsubscribed.csv": ("unsubscribed", ["g@x.com"])},
        group={"name": "mailchimp", "label": "Mailchimp"},
        source=SOURCE,
    )

    sent = write_delta_plan(read_plan(plan_dir), diff(PLANNED, PREVIOUS), tmp_path / "delta", "k1")

    # The marketing file sends the new, the changed-to-marketing and the already-marketing
    # alike (one file, one import); plan.json names the already-marketing in a file of their own.
    assert [entry["file"] for entry in sent.imports] == [MARKETING_FILE, NON_MARKETING_FILE]
    assert read_rows(sent.path(MARKETING_FILE))[1:] == [["a@x.com", "Ann"], ["c@x.com", "Cy"], ["e@x.com", "Eve"]]
    assert sent.data[MARKETING_ALREADY_SET] == MARKETING_ALREADY_SET_FILE
    assert read_rows(sent.path(MARKETING_ALREADY_SET_FILE)) == [["email"], ["a@x.com"]]
    assert marketing_already_set(sent) == {"a@x.com"}
    [listed] = sent.lists
    assert listed["files"] == [MARKETING_FILE]
    assert [entry["file"] for entry in sent.opt_outs] == ["hubspot/opt-out-unsubscribed.csv"]


def test_a_delta_without_contacts_already_marketing_names_none(tmp_path):
    plan_dir = write_plan(
        tmp_path / "plan",
        contacts={MARKETING_FILE: ({"outcome": "marketing", "marketable": True, "list": "marketing", "name": "n"}, ["email"], [["e@x.com"]])},
        group={"name": "mailchimp", "label": "Mailchimp"},
    )

    sent = write_delta_plan(read_plan(plan_dir), diff(state(("e@x.com", "marketing", "1")), None), tmp_path / "delta", "k1")

    assert MARKETING_ALREADY_SET not in json.loads((tmp_path / "delta" / "plan.json").read_text())
    assert not (tmp_path / "delta" / MARKETING_ALREADY_SET_FILE).exists()
    assert marketing_already_set(sent) == frozenset()


def test_a_plan_naming_a_file_it_does_not_hold_is_refused_in_one_line(tmp_path):
    plan_dir = write_plan(tmp_path / "plan", contacts={MARKETING_FILE: ({"outcome": "marketing", "marketable": True}, ["email"], [["e@x.com"]])})
    data = json.loads((plan_dir / "plan.json").read_text())
    (plan_dir / "plan.json").write_text(json.dumps({**data, MARKETING_ALREADY_SET: MARKETING_ALREADY_SET_FILE}))

    with pytest.raises(LoadError) as refused:
        marketing_already_set(read_plan(plan_dir))

    assert str(refused.value) == f"{plan_dir / 'plan.json'}: {MARKETING_ALREADY_SET} names {MARKETING_ALREADY_SET_FILE}, which the plan does not hold"


@pytest.mark.parametrize("content", ["", "address\ne@x.com\n"], ids=["empty", "no-email-header"])
def test_a_named_file_without_an_email_column_is_refused_in_one_line(tmp_path, content):
    plan_dir = write_plan(tmp_path / "plan", contacts={MARKETING_FILE: ({"outcome": "marketing", "marketable": True}, ["email"], [["e@x.com"]])})
    data = json.loads((plan_dir / "plan.json").read_text())
    (plan_dir / "plan.json").write_text(json.dumps({**data, MARKETING_ALREADY_SET: MARKETING_ALREADY_SET_FILE}))
    (plan_dir / MARKETING_ALREADY_SET_FILE).write_text(content)

    with pytest.raises(LoadError) as refused:
        marketing_already_set(read_plan(plan_dir))

    assert str(refused.value) == f"{plan_dir / MARKETING_ALREADY_SET_FILE}: line 1 has no email column (the sync writes one)"
