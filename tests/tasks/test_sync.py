"""The sync's diff without Prefect or HubSpot: what is sent, what is kept, what stays opted out."""

from __future__ import annotations

import polars as pl

from tasks.sync import SNAPSHOT_SCHEMA, diff, snapshot_after, sync_key


def state(*rows: tuple[str, str, str]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SNAPSHOT_SCHEMA, orient="row")


def test_the_first_run_sends_everything():
    planned = state(("a@x.com", "marketing", "1"), ("b@x.com", "opted_out", "u"))

    delta = diff(planned, None)

    assert delta.contacts == {"a@x.com"} and delta.opt_outs == {"b@x.com"}
    assert delta.counts(2)["unchanged"] == 0


def test_only_new_or_changed_contacts_and_new_opt_outs_are_sent():
    previous = state(("a@x.com", "marketing", "1"), ("b@x.com", "marketing", "1"), ("c@x.com", "opted_out", "u"))
    planned = state(
        ("a@x.com", "marketing", "1"), ("b@x.com", "marketing", "2"), ("c@x.com", "opted_out", "u"),
        ("d@x.com", "non_marketing", "1"), ("e@x.com", "opted_out", "u"),
    )

    delta = diff(planned, previous)

    assert delta.contacts == {"b@x.com", "d@x.com"}
    assert delta.opt_outs == {"e@x.com"}
    assert delta.counts(5) == {"planned_contacts": 5, "new_opt_outs": 1, "new_or_changed_contacts": 2, "kept_opted_out": 0, "unchanged": 2}


def test_an_opt_out_is_never_sent_back_as_a_contact_even_once_the_export_forgets_it():
    previous = state(("a@x.com", "opted_out", "u"), ("b@x.com", "opted_out", "c"))
    planned = state(("a@x.com", "marketing", "1"))

    delta = diff(planned, previous)

    assert delta.contacts == set() and delta.kept_opted_out == {"a@x.com"}
    assert dict(delta.next_snapshot.select("email", "outcome").iter_rows()) == {"a@x.com": "opted_out", "b@x.com": "opted_out"}
    assert diff(planned, delta.next_snapshot).contacts == set()


def test_rows_hubspot_refused_are_sent_again_next_run():
    previous = state(("a@x.com", "marketing", "1"))
    planned = state(("a@x.com", "marketing", "2"), ("b@x.com", "marketing", "1"))
    delta = diff(planned, previous)

    kept = snapshot_after(delta, previous, failed={"a@x.com", "b@x.com"})

    assert diff(planned, kept).contacts == {"a@x.com", "b@x.com"}


def test_the_state_is_named_by_sources_in_any_order_and_the_portal():
    assert sync_key(["b.zip", "a.zip"], "http://h/") == sync_key(["a.zip", "b.zip"], "http://h")
    assert sync_key(["a.zip"], "http://h") != sync_key(["a.zip"], "http://other")
