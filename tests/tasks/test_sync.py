"""The sync's diff and state without Prefect or HubSpot: what is sent, what is kept, what stays
opted out, and from when the providers are asked for changes."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

from tasks.errors import InputError
from tasks.import_files import by_outcome, write_plan
from tasks.load.plan import read_plan
from tasks.output import OutputFolder
from tasks.sync import (
    API_SOURCES,
    FROM_API,
    LEFT_SOURCE_WARNING_SHARE,
    SNAPSHOT_SCHEMA,
    WATERMARK_OVERLAP,
    PROVIDER_READING_VERSION,
    SnapshotMarks,
    diff,
    earlier_sync_key,
    keep_only_pending_opt_outs,
    keep_pending_opt_outs,
    next_watermark,
    next_whole_read,
    opt_outs_not_taken,
    planned_state,
    read_marks,
    read_pending_opt_outs,
    read_snapshot,
    read_watermark,
    reads_changes_only,
    run_generation,
    snapshot_after,
    snapshot_location,
    sources_since,
    state_key,
    state_location,
    sync_key,
    sync_lists,
    watermark_location,
    why_read_whole,
    write_delta_plan,
    write_snapshot,
    write_watermark,
)
from tasks.transform.profile import load_profile
from tests.tasks.load.plans import write_plan as write_plan_by_hand

FILE_ROW = "exports/audience.zip!subscribed.csv:2"
API_ROW = "mailchimp://a1b2?since=2026-03-01T08:00:05Z#page=1:2"
T1, T2, T3 = datetime(2026, 1, 5, 9, 0), datetime(2026, 3, 1, 10, 30), datetime(2026, 3, 2, 7, 15)


def state(*rows: tuple) -> pl.DataFrame:
    """Snapshot rows: ``(email, outcome, digest)``, optionally with ``last_changed``, ``from_api``,
    ``left_source`` and ``api_sources``."""
    unsaid = (None, False, False, [])
    padded = [(*row, *unsaid[len(row) - 3 :]) for row in rows]
    return pl.DataFrame(padded, schema=SNAPSHOT_SCHEMA, orient="row")


def planned(folder: Path, *contacts: tuple[str, str, datetime | None, str]) -> pl.DataFrame:
    """The planned state of a plan the planner writes for marketing contacts given as
    ``(email, firstname, last_changed, sources)``."""
    emails, names, times, sources = (list(column) for column in zip(*contacts))
    frame = pl.DataFrame(
        {
            "email": emails,
            "outcome": ["marketing"] * len(emails),
            "opt_out_status": pl.Series([None] * len(emails), dtype=pl.String),
            "firstname": names,
            "sources": sources,
            "rows_merged": pl.Series([s.count(" | ") + 1 for s in sources], dtype=pl.UInt32),
            "last_changed": pl.Series(times, dtype=pl.Datetime("us")),
        }
    )
    write_plan(by_outcome(frame), load_profile("mailchimp"), [], OutputFolder(str(folder)))
    return planned_state(read_plan(folder))


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
    assert delta.counts(5) == {
        "planned_contacts": 5, "new_opt_outs": 1, "opt_outs_sent_again": 0, "opt_outs_no_longer_in_sources": 0,
        "opt_outs_not_listed_by_providers": 0,
        "new_or_changed_contacts": 2,
        "kept_opted_out": 0, "kept_newer_from_api": 0, "older_than_sent": 0, "held_non_marketing": 0,
        "held_sent_non_marketing": 0, "unchanged": 2, "left_source": 0,
    }


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


def test_a_local_source_names_the_sync_by_the_folder_it_reads_a_url_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    portal = "http://h"

    assert len({sync_key([typed], portal) for typed in ("export", "export/", "./export", str(tmp_path / "export"))}) == 1
    assert sync_key(["s3://bucket/export/"], portal) == sync_key(["s3://bucket/export"], portal)
    assert sync_key(["s3://bucket/export"], portal) != sync_key(["s3://bucket/Export"], portal)
    # Written as absolute paths and URLs, a sync keeps the key an earlier version gave it.
    written = [str(tmp_path / "export"), "mailchimp://a1b2", "s3://bucket/export"]
    assert sync_key(written, portal) == earlier_sync_key(written, portal)


def test_a_since_bounds_the_first_run_only_and_names_no_other_sync(tmp_path):
    out, portal = str(tmp_path / "out"), "http://h"
    first, scheduled = "mailchimp://a1b2?since=2024-01-01T00:00:00Z", "mailchimp://a1b2"
    assert sync_key([first], portal) == sync_key([scheduled], portal) == sync_key(["mailchimp://a1b2/"], portal)
    assert sync_key(["mailchimp://a1b2?since=2024-01-01&count=5"], portal) == sync_key(["mailchimp://a1b2?count=5"], portal)
    # A file's URL is read whole: its query is its own.
    assert sync_key(["s3://b/x.csv?since=1"], portal) != sync_key(["s3://b/x.csv"], portal)
    # A sync an earlier version named with its since goes on, and its schedule without it too.
    earlier = earlier_sync_key([first], portal)
    write_snapshot(snapshot_location(out, earlier), state(("a@x.com", "opted_out", "1")))
    assert state_key(out, [first], portal) == earlier
    assert state_key(out, [scheduled], portal) == earlier


def test_a_sync_an_earlier_version_named_by_its_path_as_typed_keeps_its_state(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out, portal = str(tmp_path / "out"), "http://h"
    earlier = earlier_sync_key(["export/"], portal)
    assert earlier != sync_key(["export/"], portal)
    assert state_key(out, ["export/"], portal) == sync_key(["export/"], portal)  # nothing kept yet

    write_snapshot(snapshot_location(out, earlier), state(("a@x.com", "marketing", "1")))

    assert state_key(out, ["export/"], portal) == earlier
    # Typed another way, the same folder finds the same state.
    assert state_key(out, ["export"], portal) == state_key(out, [str(tmp_path / "export")], portal) == earlier
    # Another folder does not.
    assert state_key(out, ["other/"], portal) == sync_key(["other"], portal)


def test_each_successful_run_starts_a_new_generation_and_a_failed_one_keeps_its_own(tmp_path):
    folder = state_location(str(tmp_path), "k1")
    snapshot = state(("a@x.com", "marketing", "Boston"))

    first = run_generation(folder)

    assert run_generation(folder) == first  # the retry of a failed first run
    write_snapshot(snapshot_location(str(tmp_path), "k1"), snapshot)
    second = run_generation(folder)
    assert second != first and run_generation(folder) == second
    # The same snapshot again (a value changed back): still another run.
    write_snapshot(snapshot_location(str(tmp_path), "k1"), snapshot)
    assert run_generation(folder) not in {first, second}
    # The state deleted to start over: nothing of the first run's is taken for the new one's.
    shutil.rmtree(folder)
    assert run_generation(folder) not in {first, second}


def test_a_snapshot_an_earlier_version_wrote_is_read_and_its_run_gets_a_generation_of_its_own(tmp_path):
    location = snapshot_location(str(tmp_path), "k1")
    Path(location).parent.mkdir(parents=True)
    state(("a@x.com", "marketing", "1")).write_parquet(location)  # no generation in its metadata
    folder = state_location(str(tmp_path), "k1")

    pending = run_generation(folder)

    assert read_snapshot(location).height == 1
    assert run_generation(folder) == pending
    write_snapshot(location, read_snapshot(location))
    assert run_generation(folder) != pending


def test_a_files_row_older_than_the_one_sent_is_not_sent():
    sent = state(("a@x.com", "marketing", "Denver", T2, False), ("b@x.com", "marketing", "1", T2, False), ("c@x.com", "marketing", "1"))
    planned_ = state(
        ("a@x.com", "marketing", "Boston", T1, False),  # an older export
        ("b@x.com", "marketing", "2", T3, False),  # changed since
        ("c@x.com", "marketing", "2", T1, False),  # no time sent: the digests decide
    )

    delta = diff(planned_, sent)

    assert delta.contacts == {"b@x.com", "c@x.com"} and delta.older_than_sent == {"a@x.com"}
    assert (delta.counts(3)["older_than_sent"], delta.counts(3)["unchanged"]) == (1, 0)
    # The row sent stays the reference, run after run, until a newer one comes.
    assert delta.next_snapshot.filter(pl.col("email") == "a@x.com").rows() == sent.filter(pl.col("email") == "a@x.com").rows()
    assert diff(planned_, delta.next_snapshot).contacts == set()
    # At the same time, a different row is sent: nothing says which is newer.
    assert diff(state(("a@x.com", "marketing", "Boston", T2, False)), sent).contacts == {"a@x.com"}


def test_contacts_that_left_the_sources_are_counted_once_and_kept_so_their_return_unchanged_is_not_sent():
    everyone = state(*((f"{name}@x.com", "marketing", "1") for name in "abcde"), ("u@x.com", "opted_out", "u"))
    # One file of the export missing: only a@x.com is read.
    partial = state(("a@x.com", "marketing", "1"))

    cut = diff(partial, everyone)

    assert cut.contacts == set() and cut.left_source == {"b@x.com", "c@x.com", "d@x.com", "e@x.com", "u@x.com"}
    assert cut.counts(1)["left_source"] == 5 and cut.left_share == 5 / 6 and cut.mostly_left
    assert set(cut.next_snapshot["email"]) == set(everyone["email"])
    # Still missing next run: not counted again.
    assert diff(partial, cut.next_snapshot).left_source == set()
    # The whole export again: nothing is sent, nobody is gone.
    back = diff(everyone, cut.next_snapshot)
    assert back.contacts == set() and back.opt_outs == set() and back.left_source == set()
    assert not back.next_snapshot["left_source"].any()


def test_a_few_contacts_leaving_is_no_cause_for_a_warning():
    previous = state(*((f"{n}@x.com", "marketing", "1") for n in range(10)))

    delta = diff(previous.head(10 - int(10 * LEFT_SOURCE_WARNING_SHARE)), previous)

    assert len(delta.left_source) == 2 and not delta.mostly_left
    assert diff(previous.head(7), previous).mostly_left


def test_a_run_that_read_only_changes_keeps_everyone_it_did_not_see():
    previous = state(("a@x.com", "marketing", "1", None, True), ("b@x.com", "marketing", "1", None, True), ("c@x.com", "opted_out", "u"))
    planned = state(("b@x.com", "marketing", "2", None, True), ("d@x.com", "opted_out", "u"))

    merged = diff(planned, previous, changes_only=True)

    assert merged.contacts == {"b@x.com"} and merged.opt_outs == {"d@x.com"}
    expected = {"a@x.com": "1", "b@x.com": "2", "c@x.com": "u", "d@x.com": "u"}
    assert dict(merged.next_snapshot.select("email", "digest").iter_rows()) == expected
    # The provider did not list a@x.com: not changed there, not gone. c@x.com came from the
    # files, read whole: it left them.
    assert merged.left_source == {"c@x.com"}
    assert dict(merged.next_snapshot.select("email", "left_source").iter_rows()) == {
        "a@x.com": False, "b@x.com": False, "c@x.com": True, "d@x.com": False
    }


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


def test_a_whole_read_reads_the_providers_as_the_first_run_did_though_the_schedule_dropped_its_since():
    first_read = ["constantcontact://contacts?since=2020-01-01", "mailchimp://a1b2"]
    now = ["exports/audience.zip", "mailchimp://a1b2", "constantcontact://contacts"]

    assert sources_since(now, None, first_read) == ["exports/audience.zip", "mailchimp://a1b2", "constantcontact://contacts?since=2020-01-01"]


def test_a_sync_list_is_named_by_the_sync_and_holds_only_the_files_sent():
    imports = [{"file": "hubspot/contacts-marketing-002.csv", "outcome": "marketing", "list": "marketing"},
               {"file": "hubspot/contacts-non-marketing-001.csv", "outcome": "non_marketing"}]  # fmt: skip

    named = sync_lists(imports, "Mailchimp", "0123456789abcdef")

    assert named == [{"key": "marketing", "name": "Onramp — Mailchimp marketing contacts (sync 0123456789abcdef)",
                      "outcome": "marketing", "files": ["hubspot/contacts-marketing-002.csv"]}]  # fmt: skip
    assert sync_lists([], "Mailchimp", "0123456789abcdef") == []


def test_a_sync_that_sends_people_as_non_marketing_keeps_its_list_to_take_them_out_of_it():
    non_marketing = [{"file": "hubspot/contacts-non-marketing-001.csv", "outcome": "non_marketing"}]

    [kept] = sync_lists(non_marketing, "Mailchimp", "0123456789abcdef")

    assert (kept["key"], kept["files"]) == ("marketing", [])


def test_a_sync_that_opts_people_out_keeps_its_list_to_take_them_out_of_it():
    non_marketing = [{"file": "hubspot/contacts-non-marketing-001.csv", "outcome": "non_marketing"}]

    [kept] = sync_lists(non_marketing, "Mailchimp", "0123456789abcdef", frozenset({"ann@example.com"}))

    assert (kept["key"], kept["name"], kept["files"]) == (
        "marketing", "Onramp — Mailchimp marketing contacts (sync 0123456789abcdef)", [])


def test_the_planned_state_has_each_contacts_change_time_and_whether_an_api_gave_its_row(tmp_path):
    cc_row = "constantcontact://contacts#page=2:7"
    state_ = planned(
        tmp_path,
        ("a@x.com", "Ann", T2, f"{FILE_ROW} | {API_ROW}"),
        ("b@x.com", "Bo", T1, FILE_ROW),
        ("c@x.com", "Cy", None, f"{FILE_ROW} | {cc_row}"),
        # Written '+dee@x.com in the plan's CSV files, lineage.csv's too.
        ("+dee@x.com", "Dee", T3, API_ROW),
    )

    assert state_.columns == list(SNAPSHOT_SCHEMA)
    assert state_.select("email", "last_changed", "from_api").rows() == [
        ("a@x.com", T2, True), ("b@x.com", T1, False), ("c@x.com", None, True), ("+dee@x.com", T3, True)
    ]


def test_a_plan_whose_lineage_has_no_change_times_plans_none(tmp_path):
    plan = read_plan(write_plan_by_hand(tmp_path, contacts={"hubspot/c.csv": ({"outcome": "marketing"}, ["email"], [["a@x.com"]])}, source="mailchimp://a1b2"))

    assert planned_state(plan).select("email", "last_changed", "from_api").rows() == [("a@x.com", None, True)]


def test_a_contact_the_api_did_not_list_again_is_not_sent_back_with_the_files_older_row(tmp_path):
    # Run 1: the file's row (T1) and the API's newer one (T2) merged; the API's values were sent.
    first = planned(tmp_path / "1", ("x@x.com", "From the API", T2, f"{FILE_ROW} | {API_ROW}"))
    snapshot = diff(first, None).next_snapshot
    # Run 2: the API lists only what changed since; x did not, so the file's old row stands alone.
    second = planned(tmp_path / "2", ("x@x.com", "From the file", T1, FILE_ROW), ("new@x.com", "New", T1, FILE_ROW))

    delta = diff(second, snapshot, changes_only=True)

    assert delta.contacts == {"new@x.com"}
    assert delta.kept_newer_from_api == {"x@x.com"}
    assert (delta.counts(2)["kept_newer_from_api"], delta.counts(2)["unchanged"]) == (1, 0)
    # The API's row stays the reference: its digest, its time, its source.
    assert delta.next_snapshot.filter(pl.col("email") == "x@x.com").rows() == snapshot.rows()
    # And so it stays, run after run, until the API or the file changes it again.
    assert diff(second, delta.next_snapshot, changes_only=True).contacts == set()
    # A run that read everything compares digests as ever.
    assert diff(second, snapshot).contacts == {"x@x.com", "new@x.com"}


def test_change_times_never_hold_back_a_row_that_keeps_a_marketing_contact_from_marketing(tmp_path):
    # Sent as marketing from the API's newer row (T2); the file now withdraws consent, in a row
    # stamped before the API's (T1), and the API lists no change.
    snapshot = diff(planned(tmp_path / "1", ("x@x.com", "From the API", T2, f"{FILE_ROW} | {API_ROW}")), None).next_snapshot
    withdrawn = planned(tmp_path / "2", ("x@x.com", "From the file", T1, FILE_ROW)).with_columns(pl.lit("non_marketing").alias("outcome"))
    # The same for a file's row older than the file's row sent.
    sent_from_files = state(("y@x.com", "marketing", "1", T2, False))
    older_file = state(("y@x.com", "non_marketing", "2", T1, False))

    assert diff(withdrawn, snapshot, changes_only=True).contacts == {"x@x.com"}
    assert diff(older_file, sent_from_files).contacts == {"y@x.com"}
    # Granting consent, an older row is held back as before: the row sent stays.
    assert diff(state(("y@x.com", "marketing", "2", T1, False)), state(("y@x.com", "non_marketing", "1", T2, False))).older_than_sent == {"y@x.com"}


def test_a_files_row_changed_after_the_apis_is_sent(tmp_path):
    snapshot = diff(planned(tmp_path / "1", ("x@x.com", "From the API", T2, f"{FILE_ROW} | {API_ROW}")), None).next_snapshot
    second = planned(tmp_path / "2", ("x@x.com", "Edited in the file", T3, FILE_ROW))

    delta = diff(second, snapshot, changes_only=True)

    assert delta.contacts == {"x@x.com"}
    # The file's row, and the provider that gave the last one still named: it did not list it.
    assert delta.next_snapshot.drop(API_SOURCES).rows() == second.drop(API_SOURCES).rows()
    assert delta.next_snapshot[API_SOURCES].to_list() == [["mailchimp://a1b2"]]


def test_without_a_change_time_on_either_side_the_digests_decide():
    api_sent = state(("a@x.com", "marketing", "1", T2, True), ("b@x.com", "marketing", "1", None, True))
    from_files = state(("a@x.com", "marketing", "2", None, False), ("b@x.com", "marketing", "2", T1, False))

    assert diff(from_files, api_sent, changes_only=True).contacts == {"a@x.com", "b@x.com"}
    # Read again by the API, a contact is compared by digest whatever its time.
    assert diff(state(("a@x.com", "marketing", "2", T1, True)), api_sent, changes_only=True).contacts == {"a@x.com"}


def test_an_opt_out_planned_from_the_files_is_sent_whatever_the_apis_time():
    api_sent = state(("a@x.com", "marketing", "1", T2, True))
    planned_ = state(("a@x.com", "opted_out", "status:unsubscribed", T1, False))

    delta = diff(planned_, api_sent, changes_only=True)

    assert delta.opt_outs == {"a@x.com"}
    assert delta.next_snapshot.select("email", "outcome").rows() == [("a@x.com", "opted_out")]


def test_a_snapshot_an_earlier_version_kept_is_read_as_having_no_change_times(tmp_path):
    location = snapshot_location(str(tmp_path), "k1")
    old = pl.DataFrame({"email": ["a@x.com", "b@x.com", "c@x.com"], "outcome": ["marketing", "marketing", "opted_out"], "digest": ["1", "1", "u"]})
    write_snapshot(location, old)
    previous = read_snapshot(location)
    planned_ = state(("a@x.com", "marketing", "2", T1, False), ("b@x.com", "marketing", "1", T1, True), ("c@x.com", "marketing", "3", T1, False))

    delta = diff(planned_, previous, changes_only=True)

    assert delta.contacts == {"a@x.com"} and delta.kept_opted_out == {"c@x.com"}
    assert delta.next_snapshot.schema == pl.Schema(SNAPSHOT_SCHEMA)
    assert delta.next_snapshot.filter(pl.col("email") == "c@x.com").rows() == [("c@x.com", "opted_out", "u", None, False, False, None)]
    assert snapshot_after(delta, previous, failed={"a@x.com"}).sort("email").rows() == [
        ("a@x.com", "marketing", "1", None, False, False, None), ("b@x.com", "marketing", "1", T1, True, False, []),
        ("c@x.com", "opted_out", "u", None, False, False, None),
    ]


def test_a_plan_with_no_row_has_an_empty_planned_state_and_nothing_to_send(tmp_path):
    # Every row rejected: no contacts file, no opt-out file.
    plan = read_plan(write_plan_by_hand(tmp_path, contacts={}))
    planned = planned_state(plan)
    assert planned.height == 0 and planned.schema["email"] == pl.String
    delta = diff(planned, None)
    assert not delta.opt_outs and not delta.contacts


CC_ROW = "constantcontact://contacts?since=2026-03-01T08:00:05Z:4"


@pytest.mark.parametrize(
    ("first_sources", "then_sources"),
    [
        # A file says subscribed, Mailchimp transactional: the file alone again (Mailchimp
        # listed no change) must not make the contact marketing.
        (f"{FILE_ROW} | {API_ROW}", FILE_ROW),
        # Mailchimp subscribed, Constant Contact no permission: Mailchimp alone again.
        (f"{API_ROW} | {CC_ROW}", API_ROW),
    ],
    ids=["file-and-api", "two-apis"],
)
def test_a_contact_a_provider_kept_from_marketing_is_not_made_marketing_by_the_others_alone(tmp_path, first_sources, then_sources):
    first = planned(tmp_path / "1", ("x@x.com", "Xavi", T2, first_sources)).with_columns(pl.lit("non_marketing").alias("outcome"))
    snapshot = diff(first, None).next_snapshot
    again = planned(tmp_path / "2", ("x@x.com", "Xavier", T3, then_sources))

    delta = diff(again, snapshot, changes_only=True)

    assert delta.contacts == set() and delta.held_non_marketing == {"x@x.com"}
    assert (delta.counts(1)["held_non_marketing"], delta.counts(1)["unchanged"]) == (1, 0)
    # Its new first name still goes, as the non-marketing contact it stays, and only once.
    assert delta.held_edited == {"x@x.com"}
    kept = delta.next_snapshot.row(0, named=True)
    assert (kept["outcome"], kept["digest"]) == ("non_marketing", again["digest"][0])
    assert "mailchimp://a1b2" in kept[API_SOURCES]
    unchanged = diff(again, delta.next_snapshot, changes_only=True)
    assert (unchanged.held_non_marketing, unchanged.held_edited, unchanged.contacts) == ({"x@x.com"}, set(), set())
    # A run that read every source merges them all: it decides.
    assert diff(again, snapshot).contacts == {"x@x.com"}


def test_a_provider_listing_the_contact_again_may_make_it_marketing(tmp_path):
    # Pending at Mailchimp, then subscribed: Mailchimp lists the change, and is the only provider.
    first = planned(tmp_path / "1", ("x@x.com", "Xavi", T2, API_ROW)).with_columns(pl.lit("non_marketing").alias("outcome"))
    again = planned(tmp_path / "2", ("x@x.com", "Xavi", T3, API_ROW))

    delta = diff(again, diff(first, None).next_snapshot, changes_only=True)

    assert delta.contacts == {"x@x.com"} and delta.held_non_marketing == set()


def test_the_providers_that_gave_a_contact_are_remembered_across_runs_that_do_not_list_it(tmp_path):
    first = planned(tmp_path / "1", ("x@x.com", "Xavi", T1, f"{API_ROW} | {CC_ROW}")).with_columns(pl.lit("non_marketing").alias("outcome"))
    # Mailchimp alone lists a non-marketing change: Constant Contact's part is still remembered.
    second = planned(tmp_path / "2", ("x@x.com", "Xavier", T2, API_ROW)).with_columns(pl.lit("non_marketing").alias("outcome"))
    after_second = diff(second, diff(first, None).next_snapshot, changes_only=True).next_snapshot
    third = planned(tmp_path / "3", ("x@x.com", "Xavier", T3, API_ROW))

    assert after_second[API_SOURCES].to_list() == [["constantcontact://contacts", "mailchimp://a1b2"]]
    assert diff(third, after_second, changes_only=True).held_non_marketing == {"x@x.com"}


def test_an_earlier_versions_snapshot_holds_a_providers_non_marketing_row_from_files_alone():
    previous = state(("x@x.com", "non_marketing", "1", T2, True)).with_columns(pl.lit(None, pl.List(pl.String)).alias(API_SOURCES))
    from_files = state(("x@x.com", "marketing", "2", T3, False))

    assert diff(from_files, previous, changes_only=True).held_non_marketing == {"x@x.com"}


CURRENT = PROVIDER_READING_VERSION
EARLIER = SnapshotMarks("g1", None, None)
"""The marks of a snapshot an earlier version kept: it did not say whether to read whole."""


@pytest.mark.parametrize(
    ("marks", "sources", "reason"),
    [
        # An earlier version's snapshot did not keep what each provider gave: read whole once.
        (EARLIER, ["mailchimp://a1b2?since=2026-03-01T08:00:05Z", "exports/"], "kept by an earlier version"),
        # This version's says when the next run must.
        (SnapshotMarks("g1", "", ("mailchimp://a1b2",), CURRENT), ["mailchimp://a1b2", "constantcontact://contacts"], None),
        (SnapshotMarks("g1", "the last run held 2 contact(s)", (), CURRENT), ["mailchimp://a1b2"], "the last run held 2 contact(s)"),
        # One that read less of each provider's records (no GDPR permissions): its members'
        # outcomes are read again, whether or not they changed.
        (SnapshotMarks("g1", "", ("mailchimp://a1b2",)), ["mailchimp://a1b2"], "read less of each provider's records"),
        # Files alone are read whole anyway.
        (EARLIER, ["exports/"], None),
        # No snapshot yet: a first run reads everything anyway.
        (None, ["mailchimp://a1b2"], None),
    ],
    ids=["earlier-version", "current-nothing-to-settle", "held-last-run", "read-less", "files-only", "no-snapshot"],
)
def test_a_run_reads_every_provider_whole_when_the_last_one_says_so_or_cannot(marks, sources, reason):
    why = why_read_whole(marks, sources)

    assert why is None if reason is None else reason in why


def test_the_next_run_reads_whole_after_a_hold_or_after_a_whole_read_hubspot_refused_rows_of():
    planned_ = state(("x@x.com", "marketing", "2", T3, True, False, ["mailchimp://a1b2"]))
    held = diff(planned_, state(("x@x.com", "non_marketing", "1", T2, True, False, ["constantcontact://contacts", "mailchimp://a1b2"])), changes_only=True)
    quiet = diff(planned_, state(("x@x.com", "marketing", "1", T2, True, False, ["mailchimp://a1b2"])), changes_only=True)

    assert next_whole_read(held, set(), read_whole=False) == "the last run held 1 contact(s) non-marketing that a provider did not list"
    assert next_whole_read(quiet, {"x@x.com"}, read_whole=True).startswith("HubSpot did not take 1 contact(s)")
    # Refused rows of a changes-only read are listed again from the watermark held back.
    assert next_whole_read(quiet, {"x@x.com"}, read_whole=False) == ""
    assert next_whole_read(quiet, set(), read_whole=True) == ""


def test_a_snapshot_keeps_its_marks_and_an_earlier_versions_reads_as_saying_nothing(tmp_path):
    location = str(tmp_path / "snapshot.parquet")
    snapshot = state(("x@x.com", "non_marketing", "1", T2, True))
    write_snapshot(location, snapshot, read_whole_next="why", first_read=["mailchimp://a1b2?since=2020-01-01"])

    marks = read_marks(location)

    assert (marks.read_whole_next, marks.first_read) == ("why", ("mailchimp://a1b2?since=2020-01-01",))
    assert marks.provider_reading == PROVIDER_READING_VERSION
    assert marks.generation and marks.generation == run_generation(str(tmp_path))
    snapshot.drop(API_SOURCES).write_parquet(location, metadata={"onramp_sync_generation": "g0"})
    assert read_marks(location) == SnapshotMarks("g0", None, None)
    assert read_marks(str(tmp_path / "none.parquet")) is None


def test_a_damaged_snapshot_stops_the_run_in_one_line_saying_how_to_start_over(tmp_path):
    location = tmp_path / "snapshot.parquet"
    state(("x@x.com", "marketing", "1")).write_parquet(location)
    location.write_bytes(location.read_bytes()[: location.stat().st_size // 2])

    for read in (read_marks, read_snapshot):
        with pytest.raises(InputError) as refused:
            read(str(location))
        assert str(refused.value).startswith(f"{location}: cannot be read as the sync's snapshot (")
        assert "start the sync over" in str(refused.value) and "\n" not in str(refused.value)


def test_a_held_contacts_edited_row_is_sent_as_a_non_marketing_contact_in_no_list(tmp_path):
    first = planned(tmp_path / "1", ("x@x.com", "Xavi", T2, f"{FILE_ROW} | {API_ROW}")).with_columns(pl.lit("non_marketing").alias("outcome"))
    again = planned(tmp_path / "2", ("x@x.com", "Xavier", T3, FILE_ROW))
    delta = diff(again, diff(first, None).next_snapshot, changes_only=True)

    sent = write_delta_plan(read_plan(tmp_path / "2"), delta, tmp_path / "delta", "k1")

    [entry] = sent.imports
    assert entry["file"] == "hubspot/contacts-marketing-001-held-non-marketing.csv"
    assert (entry["outcome"], entry["marketable"], entry["rows"], "list" in entry) == ("non_marketing", False, 1, False)
    assert pl.read_csv(sent.path(entry["file"]))["firstname"].to_list() == ["Xavier"]
    # Its lineage names the row where it now is, and the source row it came from.
    lineage = pl.read_csv(sent.lineage_path)
    assert lineage.select("file", "line").rows() == [(entry["file"], 2)]


def test_a_stopped_runs_opt_outs_are_sent_again_whatever_the_sources_now_say(tmp_path):
    previous = state(("a@x.com", "marketing", "1"), ("b@x.com", "marketing", "1"), ("c@x.com", "marketing", "1"))
    # a subscribed again since, b is still unsubscribed, c left the sources.
    planned_ = state(("a@x.com", "marketing", "2"), ("b@x.com", "opted_out", "status:unsubscribed"))
    pending = {"a@x.com": "unsubscribed", "b@x.com": "unsubscribed", "c@x.com": "cleaned"}

    delta = diff(planned_, previous, pending=pending)

    assert delta.opt_outs == {"a@x.com", "b@x.com", "c@x.com"} and delta.contacts == set()
    assert delta.opt_outs_again == {"a@x.com": "unsubscribed", "c@x.com": "cleaned"}
    assert dict(delta.next_snapshot.select("email", "outcome").iter_rows()) == dict.fromkeys(pending, "opted_out")
    # c is sent, but no source gives it: the counts of the planned contacts leave it out.
    assert delta.unplanned_opt_outs == {"c@x.com"}
    counts = delta.counts(planned_.height)
    # b is new (the snapshot holds it marketing); a and c are pending ones sent again, each once.
    assert (counts["new_opt_outs"], counts["opt_outs_sent_again"], counts["unchanged"], counts["planned_contacts"]) == (1, 2, 0, 2)
    assert adds_up(counts)
    # Where each came from is kept: c, last given by a provider, is not taken for gone from it
    # by a run that reads the provider for its changes only.
    from_api = state(("c@x.com", "marketing", "1", T2, True, False, ["mailchimp://a1b2"]))
    after = diff(planned_.head(0), from_api, pending={"c@x.com": "cleaned"}).next_snapshot
    kept = after.row(0, named=True)
    assert (kept["outcome"], kept[FROM_API], kept[API_SOURCES]) == ("opted_out", True, ["mailchimp://a1b2"])
    assert diff(planned_.head(0), after, changes_only=True).left_source == set()
    # The delta plan sends the ones no planned opt-out file holds from files of their own.
    plan_dir = tmp_path / "plan"
    write_plan_by_hand(plan_dir, opt_outs={"hubspot/opt-out-unsubscribed.csv": ("unsubscribed", ["b@x.com"])}, group={"name": "mailchimp", "label": "Mailchimp"})
    sent = write_delta_plan(read_plan(plan_dir), delta, tmp_path / "delta", "k1")
    again = {entry["file"]: entry["status"] for entry in sent.opt_outs if entry["file"].endswith("-again.csv")}
    assert again == {"hubspot/opt-out-cleaned-again.csv": "cleaned", "hubspot/opt-out-unsubscribed-again.csv": "unsubscribed"}
    assert pl.read_csv(sent.path("hubspot/opt-out-unsubscribed-again.csv"))["Email"].to_list() == ["a@x.com"]


def test_an_opt_out_hubspot_did_not_take_stays_opted_out_and_pending_whatever_the_source_says_next(tmp_path):
    previous = state(("a@x.com", "marketing", "1"), ("b@x.com", "marketing", "1"), ("c@x.com", "marketing", "1"))
    # a and b unsubscribe, c moves; HubSpot refuses a's opt-out and c's row.
    delta = diff(state(("a@x.com", "opted_out", "u"), ("b@x.com", "opted_out", "u"), ("c@x.com", "marketing", "2")), previous)
    plan_dir = write_plan_by_hand(
        tmp_path / "delta",
        contacts={"hubspot/contacts-marketing-001.csv": ({"outcome": "marketing"}, ["email"], [["c@x.com"]])},
        opt_outs={"hubspot/opt-out-unsubscribed.csv": ("unsubscribed", ["a@x.com", "b@x.com"])},
    )
    pending = str(tmp_path / "pending-opt-outs.json")
    keep_pending_opt_outs(pending, read_plan(plan_dir))
    failed = {"a@x.com", "c@x.com"}

    not_taken = opt_outs_not_taken(read_plan(plan_dir), failed)
    keep_only_pending_opt_outs(pending, not_taken)
    after = snapshot_after(delta, previous, failed)

    assert read_pending_opt_outs(pending) == {"a@x.com": "unsubscribed"}
    # The refused contact keeps its previous row, to be sent again; the refused opt-out stays opted out.
    assert dict(after.select("email", "outcome").iter_rows()) == {"a@x.com": "opted_out", "b@x.com": "opted_out", "c@x.com": "marketing"}
    # a subscribes again at the source: sent again as an opt-out, never as a contact.
    resubscribed = state(("a@x.com", "marketing", "3"), ("b@x.com", "opted_out", "u"), ("c@x.com", "marketing", "2"))
    again = diff(resubscribed, after, pending=read_pending_opt_outs(pending))
    assert (again.opt_outs, again.opt_outs_again, again.contacts) == ({"a@x.com"}, {"a@x.com": "unsubscribed"}, {"c@x.com"})
    # Refused once more, it is still opted out and pending; taken, the file goes.
    assert dict(snapshot_after(again, after, {"a@x.com"}).select("email", "outcome").iter_rows())["a@x.com"] == "opted_out"
    keep_only_pending_opt_outs(pending, {})
    assert read_pending_opt_outs(pending) == {}
    assert diff(resubscribed, again.next_snapshot).kept_opted_out == {"a@x.com"}


def test_an_opt_out_hubspot_keeps_refusing_is_counted_sent_again_on_every_later_run_never_new():
    # a unsubscribed a run ago; HubSpot did not take it, so the snapshot holds it opted out and
    # it is pending: the source still says so.
    previous = state(("a@x.com", "opted_out", "u"), ("b@x.com", "marketing", "1"))
    planned_ = state(("a@x.com", "opted_out", "u"), ("b@x.com", "marketing", "1"))

    counts = diff(planned_, previous, pending={"a@x.com": "unsubscribed"}).counts(planned_.height)

    assert (counts["new_opt_outs"], counts["opt_outs_sent_again"], counts["unchanged"]) == (0, 1, 1)
    assert adds_up(counts)
    # A stopped run's opt-out the snapshot never took in is new still on the run that retries it.
    retried = diff(planned_, state(("a@x.com", "marketing", "1"), ("b@x.com", "marketing", "1")), pending={"a@x.com": "unsubscribed"})
    assert (retried.counts(2)["new_opt_outs"], retried.counts(2)["opt_outs_sent_again"]) == (1, 0)


def test_a_pending_opt_out_of_someone_who_left_the_sources_is_counted_gone_once():
    previous = state(("a@x.com", "marketing", "1"), ("b@x.com", "marketing", "1"))
    stayed = state(("a@x.com", "marketing", "1"))

    delta = diff(stayed, previous, pending={"b@x.com": "unsubscribed"})

    assert (delta.opt_outs, delta.unplanned_opt_outs, delta.left_source) == ({"b@x.com"}, {"b@x.com"}, {"b@x.com"})
    assert diff(stayed, delta.next_snapshot).left_source == set()
    # Pending again (HubSpot did not take it), still counted once.
    assert diff(stayed, delta.next_snapshot, pending={"b@x.com": "unsubscribed"}).left_source == set()
    # A stopped first run's opt-out of someone who then left was never read by a run: never counted.
    first = diff(stayed, None, pending={"c@x.com": "cleaned"})
    assert diff(stayed, first.next_snapshot).left_source == set()


def adds_up(counts: dict[str, int]) -> bool:
    """Whether the sync's counts add up to its planned contacts (README, ``report.json``)."""
    not_sent = ("kept_opted_out", "kept_newer_from_api", "older_than_sent", "held_non_marketing", "unchanged")
    opt_outs = (
        counts["new_opt_outs"] + counts["opt_outs_sent_again"]
        - counts["opt_outs_no_longer_in_sources"] - counts["opt_outs_not_listed_by_providers"]
    )
    return opt_outs + counts["new_or_changed_contacts"] + sum(counts[name] for name in not_sent) == counts["planned_contacts"]


CC = "constantcontact://contacts"


def test_a_pending_opt_out_planned_from_the_files_alone_keeps_its_provider_and_is_not_taken_for_gone():
    # c's opt-out at Constant Contact is pending (HubSpot refused it); Constant Contact lists no
    # change since, and the file still holds c subscribed, then drops c.
    previous = state(("c@x.com", "opted_out", "u", T2, True, False, [CC]), ("f@x.com", "marketing", "1", T1))
    from_files = state(("c@x.com", "marketing", "2", T1), ("f@x.com", "marketing", "1", T1))
    pending = {"c@x.com": "unsubscribed"}

    after = diff(from_files, previous, changes_only=True, pending=pending).next_snapshot
    c = after.filter(pl.col("email") == "c@x.com").row(0, named=True)
    assert (c["outcome"], c[FROM_API], c[API_SOURCES]) == ("opted_out", True, [CC])

    dropped = diff(state(("f@x.com", "marketing", "1", T1)), after, changes_only=True, pending=pending)
    assert (dropped.left_source, dropped.unplanned_opt_outs, dropped.unlisted_opt_outs) == (set(), set(), {"c@x.com"})
    assert dropped.left_share == 0.0
    # A run reading Constant Contact whole that finds c in the files alone: it left the provider.
    whole = diff(from_files, previous, pending=pending).next_snapshot
    assert whole.filter(pl.col("email") == "c@x.com")[FROM_API].to_list() == [False]


def test_a_pending_opt_out_a_provider_read_for_its_changes_did_not_list_is_not_counted_gone():
    previous = state(("x@x.com", "opted_out", "u", T2, True, False, ["mailchimp://a1b2"]), ("f@x.com", "marketing", "1"))
    files_only = state(("f@x.com", "marketing", "1"))

    unlisted = diff(files_only, previous, changes_only=True, pending={"x@x.com": "unsubscribed"})
    counts = unlisted.counts(files_only.height)

    assert (counts["new_opt_outs"], counts["opt_outs_sent_again"], counts["opt_outs_no_longer_in_sources"], counts["opt_outs_not_listed_by_providers"]) == (0, 1, 0, 1)
    assert (counts["unchanged"], unlisted.left_source) == (1, set())
    assert adds_up(counts)
    # Read whole, the provider would have listed it: gone, and counted so.
    read_whole = diff(files_only, previous, pending={"x@x.com": "unsubscribed"})
    gone = read_whole.counts(files_only.height)
    assert (gone["opt_outs_no_longer_in_sources"], gone["opt_outs_not_listed_by_providers"], gone["left_source"]) == (1, 0, 1)
    assert adds_up(gone)
    # Found gone, it stays so for the runs after that read the provider for its changes only.
    after = diff(files_only, read_whole.next_snapshot, changes_only=True, pending={"x@x.com": "unsubscribed"})
    assert (after.unplanned_opt_outs, after.unlisted_opt_outs, after.left_source) == ({"x@x.com"}, set(), set())
