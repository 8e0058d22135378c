"""The sync's diff and state without Prefect or HubSpot: what is sent, what is kept, what stays
opted out, and from when the providers are asked for changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import polars as pl

from tasks.sync import (
    SNAPSHOT_SCHEMA,
    WATERMARK_OVERLAP,
    diff,
    next_watermark,
    read_watermark,
    reads_changes_only,
    snapshot_after,
    sources_since,
    sync_key,
    sync_lists,
    watermark_location,
    write_watermark,
)


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


def test_a_run_that_read_only_changes_keeps_everyone_it_did_not_see():
    previous = state(("a@x.com", "marketing", "1"), ("b@x.com", "marketing", "1"), ("c@x.com", "opted_out", "u"))
    planned = state(("b@x.com", "marketing", "2"), ("d@x.com", "opted_out", "u"))

    merged = diff(planned, previous, changes_only=True)
    replaced = diff(planned, previous)

    assert merged.contacts == {"b@x.com"} and merged.opt_outs == {"d@x.com"}
    expected = {"a@x.com": "1", "b@x.com": "2", "c@x.com": "u", "d@x.com": "u"}
    assert dict(merged.next_snapshot.select("email", "digest").iter_rows()) == expected
    assert set(replaced.next_snapshot["email"]) == {"b@x.com", "c@x.com", "d@x.com"}


def test_a_contact_read_again_unchanged_is_not_sent_again_after_a_partial_run():
    previous = state(("a@x.com", "marketing", "1"), ("b@x.com", "opted_out", "u"))
    planned = state(("a@x.com", "marketing", "1"), ("b@x.com", "marketing", "2"))

    delta = diff(planned, previous, changes_only=True)

    assert delta.contacts == set() and delta.kept_opted_out == {"b@x.com"}
    assert dict(delta.next_snapshot.select("email", "outcome").iter_rows()) == {"a@x.com": "marketing", "b@x.com": "opted_out"}


def test_the_watermark_is_the_start_of_the_fetch_less_the_overlap_in_whole_utc_seconds():
    started = datetime(2026, 3, 1, 10, 0, 30, 987654, tzinfo=timezone(timedelta(hours=2)))

    since = next_watermark(started)

    assert since == datetime(2026, 3, 1, 8, 0, 30, tzinfo=UTC) - WATERMARK_OVERLAP
    assert next_watermark(started, timedelta(0)) == datetime(2026, 3, 1, 8, 0, 30, tzinfo=UTC)


def test_the_watermark_is_kept_beside_the_snapshot_and_read_back(tmp_path):
    location = watermark_location(str(tmp_path), "k1")
    assert read_watermark(location) is None

    write_watermark(location, datetime(2026, 3, 1, 8, 0, tzinfo=UTC))

    assert location == f"{tmp_path}/.onramp-sync/k1/watermark.json"
    assert read_watermark(location) == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_api_sources_ask_for_changes_since_the_watermark_and_files_are_read_whole():
    sources = ["exports/audience.zip", "mailchimp://a1b2", "constantcontact://contacts?since=2020-01-01"]
    since = datetime(2026, 3, 1, 8, 0, 5, tzinfo=UTC)

    assert sources_since(sources, None) == sources
    assert sources_since(sources, since) == [
        "exports/audience.zip",
        "mailchimp://a1b2?since=2026-03-01T08:00:05Z",
        "constantcontact://contacts?since=2026-03-01T08:00:05Z",
    ]
    assert not reads_changes_only(sources[:2]) and not reads_changes_only(["mailchimp://a1b2?since="])
    assert reads_changes_only(sources) and reads_changes_only(sources_since(sources[:2], since))


def test_a_sync_list_is_named_by_the_sync_and_holds_only_the_files_sent():
    lists = [{"key": "marketing", "name": "Onramp — Mailchimp marketing contacts (plan 1234abcd)", "outcome": "marketing",
              "files": ["hubspot/contacts-marketing-001.csv", "hubspot/contacts-marketing-002.csv"]}]  # fmt: skip

    named = sync_lists(lists, {"hubspot/contacts-marketing-002.csv"}, "Mailchimp", "0123456789abcdef")

    assert named == [{"key": "marketing", "name": "Onramp — Mailchimp marketing contacts (sync 0123456789abcdef)",
                      "outcome": "marketing", "files": ["hubspot/contacts-marketing-002.csv"]}]  # fmt: skip
    assert sync_lists(lists, {"hubspot/contacts-non-marketing-001.csv"}, "Mailchimp", "0123456789abcdef") == []
