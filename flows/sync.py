"""The recurring sync: each run sends what changed in the sources since the last successful one.

Plan the sources as a migration does (provider APIs asked only for what changed since the
watermark), compare the plan with the last successful run's snapshot (``tasks/sync.py``), load
the delta plan — new opt-outs first, then new and changed contacts by batch upsert, then the
sync's static list: its new marketing contacts added, the newly opted out taken out — and only
then keep the new snapshot and watermark. Scheduled from ``deployments/prefect.yaml``.

The delta plan names the changed contacts an earlier run already made marketing (counted
``changed_already_marketing``): the load reads their marketing status first and keeps
non-marketing one a person set so in HubSpot since, a billing choice the sync must not undo
(``tasks/load/opted_out.py``).

The load's step results are kept per run (``run_generation``): a retry of a failed run takes up
its own unfinished work, and a new run never finds an earlier one's, even for a delta of the
same bytes (a value changed back to what an earlier run sent, then changed again). Once the
state has advanced they are removed: no later run can use them.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger
from prefect.states import State
from prefect.task_runners import ThreadPoolTaskRunner

from flows.migrate import checked_run, held_or_refused, plan_run, refused, reported_if_the_load_stops
from schemas.params import SyncParameters
from tasks.errors import InputError
from tasks.extract.api_settings import api_scheme
from tasks.load.client import HubSpotPortal
from tasks.load.dryrun import dry_run_task
from tasks.load.plan import LoadPlan, read_plan
from tasks.load.resume import LoadState, claim_state
from tasks.load.run import load_steps
from tasks.load.settings import MAX_CONCURRENT_IMPORTS
from tasks.output import OutputFolder
from tasks.steps import publish_report
from tasks.sync import (
    DELTA_FOLDER,
    PENDING_OPT_OUTS_FILE,
    Delta,
    diff,
    failed_emails,
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
    watermark_location,
    why_read_whole,
    write_delta_plan,
    write_snapshot,
    write_watermark,
)


@dataclass(frozen=True)
class SyncState:
    """Where a sync keeps what the next run starts from: its snapshot and its watermark, in its
    folder, which also holds its list journal (which HubSpot list its static lists became) and
    which portal and app it is for (``claim_state``)."""

    key: str
    snapshot: str
    watermark: str
    folder: str

    @classmethod
    def of(cls, output: str, key: str) -> SyncState:
        """The state of sync ``key`` beside the output folder."""
        return cls(key, snapshot_location(output, key), watermark_location(output, key), state_location(output, key))

    @property
    def pending_opt_outs(self) -> str:
        """The opt-outs a stopped run left, or HubSpot did not take, to send again
        (:data:`~tasks.sync.PENDING_OPT_OUTS_FILE`)."""
        return f"{self.folder}/{PENDING_OPT_OUTS_FILE}"


@dataclass(frozen=True)
class SyncStep:
    """A run's delta: what it sends, from which snapshot, and where its plan is."""

    delta: Delta
    previous: pl.DataFrame | None
    plan: LoadPlan
    counts: dict[str, int]


@task(name="sync-delta", cache_policy=NO_CACHE)
def plan_delta(out: OutputFolder, state: SyncState, changes_only: bool) -> SyncStep:
    """Compare this run's plan with the snapshot; write the delta plan under ``sync-delta/``."""
    previous = read_snapshot(state.snapshot)
    full_plan = read_plan(out.local)
    planned = planned_state(full_plan)
    delta = diff(planned, previous, changes_only, read_pending_opt_outs(state.pending_opt_outs))
    plan = write_delta_plan(full_plan, delta, out.replace_folder(DELTA_FOLDER), state.key)
    # Of the new or changed contacts: those the load reads HubSpot's marketing status of first.
    counts = {**delta.counts(planned.height), "changed_already_marketing": len(delta.marketing_already_set)}
    step = SyncStep(delta, previous, plan, counts)
    logger = get_run_logger()
    logger.info("sync: %s (%s)", step.counts, "first run" if previous is None else "since the last successful run")
    if delta.mostly_left:
        logger.warning(
            "sync: %d contact(s) the last run read (%.0f%%) are no longer in the sources: an export cut short, a "
            "file missing, or the sources replaced by others? They are not deleted from HubSpot, and stay in the snapshot: sent again only if they "
            "come back changed",
            len(delta.left_source),
            100 * delta.left_share,
        )
    return step


def keep_opt_outs_pending(step: SyncStep, state: SyncState) -> None:
    """Keep the load's opt-outs as pending before the first is sent
    (:func:`~tasks.sync.keep_pending_opt_outs`), until :func:`advance_state` keeps only those
    HubSpot did not take: if the load stops (daily quota, HubSpot down, Ctrl-C, or a kill no
    handler sees: SIGKILL, the OOM killer, a lost machine), the next run sends them again, sent
    or not, also for someone who subscribed again since (HubSpot may hold the opt-out already),
    and takes them out of the sync's list. Nothing else advances."""
    if step.plan.opt_outs:
        keep_pending_opt_outs(state.pending_opt_outs, step.plan)


@task(name="sync-advance", cache_policy=NO_CACHE)
def advance_state(
    step: SyncStep, state: SyncState, load: dict, fetch_started: datetime, read_whole: bool, first_read: Sequence[str]
) -> dict[str, str]:
    """Keep the new snapshot and watermark: the next run sends only what changes after this one.

    The snapshot is written first: a crash between the two leaves the old watermark, so the next
    run reads a few changes again and finds them in the snapshot, rather than missing some. With
    rows HubSpot refused, the watermark stays: those rows are read again next run, to be sent
    again (the rest match the snapshot). Opt-outs HubSpot did not take stay pending instead, and
    opted out in the snapshot: every run sends them again until HubSpot takes them, whatever the
    sources say by then (:func:`~tasks.sync.snapshot_after`); they hold back neither the
    watermark nor a whole read, which the pending file makes needless. The snapshot says whether
    the next run must read every provider whole (:func:`~tasks.sync.next_whole_read`;
    ``read_whole``: whether this one did), and how the first run read them (``first_read``).

    Returns:
        The opt-outs HubSpot did not take (email → status), pending still.
    """
    failed = failed_emails(step.plan, load.get("errors", []))
    not_taken = opt_outs_not_taken(step.plan, failed)
    refused_contacts = failed - not_taken.keys()
    write_snapshot(
        state.snapshot,
        snapshot_after(step.delta, step.previous, failed),
        read_whole_next=next_whole_read(step.delta, refused_contacts, read_whole),
        first_read=first_read,
    )
    # After the snapshot: a crash between the two sends this run's taken opt-outs once more.
    keep_only_pending_opt_outs(state.pending_opt_outs, not_taken)
    if failed:
        get_run_logger().warning("sync: %d contact(s) not taken by HubSpot are sent again next run", len(failed))
    if not refused_contacts:
        write_watermark(state.watermark, next_watermark(fetch_started))
    return not_taken


@flow(
    name="onramp-sync",
    validate_parameters=True,
    task_runner=ThreadPoolTaskRunner(max_workers=MAX_CONCURRENT_IMPORTS),
)
def sync_contacts(params: SyncParameters) -> dict | State:
    """Send what changed in the sources since the last successful run into one HubSpot portal.

    A dry run reports what the delta would do and keeps the snapshot and watermark as they were.
    A failed run keeps them too, so the next run sends the same delta again (finished steps are
    skipped). No token (a dry run reads the portal: it needs one too) and, with a ``portal_id``,
    a token for another portal stop the run before its state is claimed, anything is read from
    the sources or anything is sent.
    """
    try:
        # Before the state is claimed: a wrong token must not bind it.
        portal, out = checked_run(params)
    except InputError as error:
        return refused(error)
    with ExitStack() as holding:
        if isinstance(output := held_or_refused(out, holding), State):
            return output
        portal.guard = output.lease.check
        return _synced(params, portal, out, output.state)


def _synced(params: SyncParameters, portal: HubSpotPortal, out: OutputFolder, output_load_state: LoadState) -> dict:
    """The sync's work once its parameters, token and output are checked and the output held
    (``output_load_state``: the output's load state, :func:`~flows.migrate.held`)."""
    state = SyncState.of(out.url, state_key(out.url, params.sources, params.portal_url))
    # Before the snapshot is compared: another portal's snapshot would hide what it lacks.
    claim_state(state.folder, portal)
    marks = read_marks(state.snapshot)
    since = read_watermark(state.watermark)
    reason = why_read_whole(marks, params.sources) if since is not None else None
    if reason:
        get_run_logger().warning("sync: %s; this run reads every provider whole, so each one's consent counts", reason)
        since = None
    first_read = marks.first_read if marks is not None else None
    # Read whole, a provider lists every contact an earlier run read from it (each changed after
    # the first run's own ``since``, if any, which the whole read keeps): one it omits has left it.
    sources = sources_since(params.sources, since, first_read or ())
    fetch_started = datetime.now(UTC)
    report = plan_run(params.model_copy(update={"sources": sources}), out)
    step = plan_delta(out, state, not reason and reads_changes_only(sources))
    report["sync"] = {**step.counts, "since": since.isoformat() if since else None}
    if params.dry_run:
        report["dry_run"] = dry_run_task(portal, step.plan, load_path=params.load_path)
        publish_report(report, out, params.rejects_alert_fraction)
        return report
    # The steps' results belong to this run (a retry of a failed run finds them, the next run
    # none: its delta may be the same bytes as an earlier one's, yet must be sent); the list
    # journal to the sync, so the next delta fills the same list even once a person renamed it.
    run_state = output_load_state.within(f"sync-{run_generation(state.folder)}")
    if step.delta.opt_outs or step.delta.contacts or step.delta.held_edited:
        keep_opt_outs_pending(step, state)
        with reported_if_the_load_stops(report, out, params.rejects_alert_fraction):
            report["load"] = load_steps(
                portal,
                step.plan.directory,
                state_dir=run_state.work,
                records=run_state.records,
                list_journal_dir=state.folder,
                load_path=params.load_path,
                import_companies=params.import_companies,
            )
    else:
        # Not even a load with nothing in it: it would still read the portal and make a list.
        get_run_logger().info("sync: nothing new or changed since the last successful run; nothing sent")
    # Without a record of how the first run read (the first run, an earlier version's snapshot),
    # this run read whole: it is the record.
    if first_read is None:
        first_read = [source for source in sources if api_scheme(source)]
    not_taken = advance_state(step, state, report.get("load", {}), fetch_started, read_whole=since is None, first_read=first_read)
    report["sync"]["opt_outs_still_pending"] = len(not_taken)
    # Its step results served only this run's retries (a stopped run's too, when its retry finds
    # nothing left to send): the next run has a generation of its own.
    run_state.discard()
    publish_report(report, out, params.rejects_alert_fraction)
    return report
