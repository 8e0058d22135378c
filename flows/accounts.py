"""Multi-account migration: one child run per account, a few at a time, and a roll-up.

Each account is a ``migrate_contacts`` run of its own (its own report under
``<output>/<name>/``) into a portal no other account of the manifest is aimed at: their
contacts would not merge, so the manifest refuses two it shows to be one portal, and the run
two HubSpot says are (asked of each token before any account starts: ``tasks.load.portals``).
Its load spends the rate budget the load keys by portal URL and token, shared with any other
run on that portal. One account's failure never stops the others, and a rerun skips every
account whose last run finished the same manifest entry (its sources and portal, as
``manifest-entry.json`` in its folder records them), so only the failed or changed ones run
again.

Accounts run on threads of this process or, with ``task_runner: dask``, in Dask worker
processes (a local cluster, or a running one at ``dask_address``). The choice is a parameter
and the flow enters the runner itself, so a run started from a deployment honours it as the
CLI does (a flow's own ``task_runner`` is fixed before its parameters are known). A
``dask_address`` where no scheduler answers is refused in one line before any account starts.
Stopped (Ctrl-C, SIGTERM), the command gives each account's run a few seconds to end: a request
it has in flight to a portal that does not answer is left behind, not waited for. It still writes
``rollup.json``, each account not finished ``stopped``, so an earlier run's roll-up never stands
for it. The run holds its whole output while it runs, as ``onramp migrate`` holds its own: a
second run into it, of either command, is refused at once.

With ``account_deployment``, each account is instead a flow run of that deployment, taken by
a worker of its pool on whatever machine: a thread here starts it, waits for its final state,
and reads the account's ``report.json`` from the output folder (paths travel, never results).
A portal's ``work_queue`` in the manifest puts its accounts' runs on that queue of the
deployment's pool, so the one worker serving it spends the portal's rate budget (the server
creates a queue the pool lacks with its first run; a line says so before any account starts).
A run no worker starts within ``child_start_timeout_seconds`` is its account's failure and is
cancelled; a started one is waited for however long it takes. When the parent stops waiting
(cancelled, interrupted, broken), it cancels the child runs that have not ended.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, wait
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import fsspec
from prefect import flow, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import WorkQueueFilter, WorkQueueFilterName
from prefect.client.schemas.objects import FlowRun
from prefect.client.schemas.responses import SetStateStatus
from prefect.context import FlowRunContext
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from prefect.futures import PrefectFuture, as_completed
from prefect.logging import get_run_logger
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.states import Cancelling, State
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from flows import migrate
from flows.console import quiet_if_the_command_asked
from schemas.manifest import AccountSpec, AccountsParameters, account_output, token_places
from schemas.params import MigrationParameters
from tasks.errors import InputError, LoadError
from tasks.extract.api_settings import api_scheme
from tasks.extract.locations import CHAIN_SEPARATOR
from tasks.load.log import get_logger
from tasks.load.lease import output_held
from tasks.load.portals import check_one_portal_each, on_a_daemon_thread
from tasks.load.resume import LoadInProgress, unfinished_imports
from tasks.load.retry import http_status
from tasks.load.run import LoadStopped
from tasks.output import storage_problem
from tasks.privacy import mask_emails_in
from tasks.report import (
    LOAD_FAILURES,
    REPORT_FILE,
    list_removals_failed,
    load_failures,
    not_associated,
    read_back_mismatches,
    report_written_since,
)
from tasks.stopping import Stopping, check_not_stopping, is_interruption, stopped_when_interrupted
from tasks.transform.consent import Outcome

ROLLUP_FILE = "rollup.json"
# Beside an account's report: the manifest entry its last finished run migrated.
MANIFEST_ENTRY_FILE = "manifest-entry.json"
LEDGER_KEYS = ("rows_read", "rows_rejected", "duplicates_merged")
# What a finished load adds to the ledger, and the totals sum: rows HubSpot did not take, rows
# it took with some values refused; and what fails the command (tasks.report.LOAD_FAILURES:
# those rows, and contacts HubSpot would not take out of a static list).
LOAD_COUNTS = ("rows_failed", "rows_with_value_errors")
# The ledger's rows a load with companies left without their company (tasks.report.not_associated).
NOT_ASSOCIATED = "not_associated"
# How often a thread waiting on an account's flow run asks the API for its state: one cheap
# read per account in flight; the worker's own poll (PREFECT_WORKER_QUERY_SECONDS) costs more.
CHILD_RUN_POLL_SECONDS = 2
# run_deployment numbers the task run that links a child run to this flow run with a counter
# the threads share unguarded: two accounts started at the same instant could get one task run
# (one parent line in the UI for both). Runs start one at a time; their waits overlap.
_STARTING_A_CHILD_RUN = threading.Lock()
# How often an account's task looks whether the command is stopping while the account's run goes
# on, and how long a stopping run is given to unwind (its report says it stopped) before it is
# left behind, on a daemon thread the command's exit does not wait for.
STOP_POLL_SECONDS = 0.2
STOP_GRACE_SECONDS = 5.0
STOPPED = "stopped"
"""The status of an account the run was stopped (Ctrl-C, SIGTERM) before it finished: failed, for the roll-up."""
FAILED_STATUSES = ("failed", STOPPED)
NOT_FINISHED = "the run was stopped (Ctrl-C or SIGTERM) before this account finished: run the command again to finish it"
NOT_STARTED = "the run was stopped (Ctrl-C or SIGTERM) before this account started: run the command again to migrate it"
REFUSED_TOKEN = 401
"""HubSpot's answer to a token it does not take: the account's error names where the manifest names the token."""


def _account_file(output: str, name: str) -> str:
    """Where a file of the account's output folder is."""
    return f"{output.rstrip('/')}/{name}"


def _read_account_json(output: str, name: str) -> dict | None:
    """A JSON file of the account's output folder, else None: never written, cut short, or its
    storage not answering now (a warning says so). An account's result must not be lost to a
    record it cannot read: a stopped load's own message says what stopped and what is kept, and
    an account not known to be finished is run again, its load resuming from what is recorded."""
    path = _account_file(output, name)
    try:
        with fsspec.open(path, "r", encoding="utf-8") as handle:
            return json.load(handle)
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    except Exception as error:  # noqa: BLE001 - whatever the storage's client raises
        _warn_of_storage("read", path, error)
        return None


def _warn_of_storage(doing: str, path: str, error: BaseException) -> None:
    """Warn that the storage would not let a record at ``path`` be read or written (``doing``),
    in a few words (``storage_problem``: its bucket named, never a traceback)."""
    get_logger().warning("cannot %s %s: %s", doing, path, storage_problem(error, path.split("://", 1)[-1]))


def published_report(output: str) -> dict | None:
    """The account's report as its last run left it (finished, or stopped in the load), else None."""
    return _read_account_json(output, REPORT_FILE)


def finished_report(output: str) -> dict | None:
    """The account's report if its last run finished the load, else None."""
    report = published_report(output)
    return report if report is not None and "load" in report else None


def loaded_portals(output: str, accounts: list[AccountSpec]) -> dict[str, int]:
    """The portal each account's last finished run loaded into, by account name, as its report
    records it (``load.portal_id``; none when HubSpot would not say which portal its token was for)."""
    loaded = {}
    for account in accounts:
        portal_id = ((finished_report(account_output(output, account)) or {}).get("load") or {}).get("portal_id")
        if portal_id is not None:
            loaded[account.name] = int(portal_id)
    return loaded


def manifest_entry(account: AccountSpec) -> dict:
    """What an account migrates where, as its manifest entry says (its name aside, and the work
    queue, which only says where it runs): sources, portal (URL as a server tells it apart, token
    location, portal id), consent overrides and source credentials' locations."""
    portal = account.portal
    return {
        "sources": list(account.sources),
        "portal": {"url": portal.address(), "token": portal.token_location(), "portal_id": portal.portal_id},
        "consent_overrides": dict(account.consent_overrides),
        "source_credentials": account.source_credentials.model_dump(mode="json"),
    }


def source_files(sources: list[str]) -> str | None:
    """What the account's exports are now: a hash of each file's name, size and version (its
    modification time, or an object store's ETag) under every source read from files; a
    provider API's contacts are not files (an ongoing change is what ``onramp sync`` is for).

    A fresh export dropped at the same path (someone unsubscribed since) is another migration:
    the account runs again, though its manifest entry did not change. None when a source cannot
    be looked at now (missing, no credentials): the account runs again and says why itself.

    Args:
        sources: The account's sources, as its manifest gives them.
    """
    listed = []
    try:
        for source in sources:
            if api_scheme(source):
                continue
            fs, root = fsspec.core.url_to_fs(source.split(CHAIN_SEPARATOR, 1)[0])
            files = fs.find(root, detail=True) if fs.isdir(root) else {root: fs.info(root)}
            listed += [
                [name, info.get("size"), str(info.get("ETag") or info.get("mtime") or info.get("LastModified"))]
                for name, info in sorted(files.items())
            ]
    except Exception:  # noqa: BLE001 - whatever stops a look now stops the run, which says it
        return None
    return hashlib.sha256(json.dumps(listed).encode()).hexdigest()


def recorded_entry(output: str) -> dict | None:
    """The manifest entry the account's last finished run migrated, if recorded."""
    return _read_account_json(output, MANIFEST_ENTRY_FILE)


def record_entry(output: str, entry: dict) -> None:
    """Record the manifest entry a run of the account finished, beside its report."""
    with fsspec.open(_account_file(output, MANIFEST_ENTRY_FILE), "w", encoding="utf-8", auto_mkdir=True) as handle:
        json.dump(entry, handle, indent=2)


def why_run_again(recorded: dict | None, entry: dict, unfinished: int = 0, not_taken_out: int = 0) -> str | None:
    """Why an account whose last run finished must run again, or None when it need not: that run
    was for another manifest entry (which parts changed are named), no record says which, some
    of its imports did not finish (the rerun sends only those, its other steps recorded), or
    HubSpot would not take some contacts out of a static list (the rerun asks again).

    Args:
        recorded: The entry the finished run recorded (:func:`recorded_entry`), or None.
        entry: The account's entry now (:func:`manifest_entry`).
        unfinished: How many of that run's contacts files did not finish their import
            (``tasks.load.resume.unfinished_imports``).
        not_taken_out: How many contacts HubSpot would not take out of a static list in that
            run (``tasks.report.list_removals_failed``).
    """
    if recorded is None:
        return "no record says which sources and portal it was for"
    if "source_files" in entry and entry["source_files"] is None:
        return "its source files cannot be looked at from here"
    if unfinished:
        return f"{unfinished} of its import(s) did not finish"
    if not_taken_out:
        return f"HubSpot would not take {not_taken_out} contact(s) out of a list"
    changed = [part.replace("_", " ") for part in entry if recorded.get(part) != entry[part]]
    if not changed:
        return None
    named = changed[0] if len(changed) == 1 else f"{', '.join(changed[:-1])} and {changed[-1]}"
    return f"its {named} changed since"


def stopped_report(output: str, stop: str) -> dict | None:
    """The account's report if its last run's load stopped with the message ``stop`` in it
    (so never an older run's report), else None: it holds the plan's ledger."""
    report = published_report(output)
    stopped = (report or {}).get("load_stopped")
    return report if stopped and stopped in stop else None


def account_result(
    name: str, status: str, report: dict | None = None, error: str | None = None, sent: dict | None = None
) -> dict:
    """One account's line in the roll-up: its status and its ledger.

    Args:
        name: The account.
        status: ``migrated``, ``skipped``, ``failed`` or ``stopped`` (:data:`STOPPED`).
        report: Its report: finished, or published when its load stopped (its plan's ledger).
        error: Why it failed, in one line.
        sent: For a load that stopped, what it had done (``LoadStopped.done``), when known.

    Returns:
        ``{"name", "status", "error", "ledger"}``; the ledger (``None`` without a report) has
        the plan's counts; the finished load's ``rows_failed``, ``rows_with_value_errors``,
        ``list_removals_failed`` (contacts HubSpot would not take out of a static list),
        ``not_associated`` (contacts HubSpot would not associate with their company) and
        ``read_back`` (the read-back's mismatches by check, as report.json's
        ``load.reconciliation.by_check`` has them, those found only); and for a stopped load
        ``stopped``: ``{"contacts_sent", "contacts_planned", "steps_done"}``, or ``None`` when
        not known here (the run that stopped is a worker's, or it stopped before its load
        steps: its report.json's ``load_stopped`` says).
    """
    if not report:
        return {"name": name, "status": status, "error": error, "ledger": None}
    load = report.get("load") or {}
    ledger = (
        {k: report[k] for k in LEDGER_KEYS}
        | {"contacts": report["contacts"]}
        | {k: load.get(k, 0) for k in LOAD_COUNTS}
        | load_failures(load)
        | {NOT_ASSOCIATED: not_associated(load)}
        | {"read_back": read_back_mismatches(load)}
    )
    if "load_stopped" in report and not load:
        ledger["stopped"] = (
            {"contacts_sent": sent["contacts_sent"], "contacts_planned": sent["contacts_planned"], "steps_done": sent["steps_done"]}
            if sent
            else None
        )
    return {"name": name, "status": status, "error": error, "ledger": ledger}


def roll_up(results: list[dict]) -> dict:
    """Sum the ledgers of the accounts whose plans were made (their rows were read: the load
    finished, stopped, or failed before it began); list the ones that failed, or that the run
    was stopped before they finished (:data:`FAILED_STATUSES`).
    ``contacts_sent_before_stops`` adds up what the stopped loads had sent."""
    finished = [r["ledger"] for r in results if r["ledger"]]
    totals = {k: sum(l[k] for l in finished) for k in dict.fromkeys((*LEDGER_KEYS, *LOAD_COUNTS, *LOAD_FAILURES, NOT_ASSOCIATED))}
    totals["contacts"] = {o.value: sum(l["contacts"][o.value] for l in finished) for o in Outcome}
    totals["read_back"] = dict(sum((Counter(l["read_back"]) for l in finished), Counter()))
    totals["contacts_sent_before_stops"] = sum((l.get("stopped") or {}).get("contacts_sent", 0) for l in finished)
    return {
        "accounts": results,
        "totals": totals,
        "failed": [r["name"] for r in results if r["status"] in FAILED_STATUSES],
    }


def reachable_by_workers(path: str) -> str:
    """A path as a worker on another machine or in another directory reads it: a URL as it is,
    a local path made absolute (a worker resolves a relative one against its own directory)."""
    return path if "://" in path else os.path.abspath(path)


def for_workers(params: MigrationParameters) -> MigrationParameters:
    """The migration with its output and sources as paths a worker elsewhere can read."""
    return params.model_copy(
        update={"output": reachable_by_workers(params.output), "sources": [reachable_by_workers(s) for s in params.sources]}
    )


def account_parameters(account: AccountSpec, output: str) -> MigrationParameters:
    """The account's migration: its sources and portal, writing to ``output``. Token and key
    locations travel as names; whoever runs the migration reads the values, and checks the token
    against the portal id the manifest gives, if any."""
    return MigrationParameters(
        sources=account.sources,
        output=output,
        portal_url=account.portal.url,
        token_env=account.portal.token_env,
        token_secret_block=account.portal.token_secret,
        portal_id=account.portal.portal_id,
        consent_overrides=account.consent_overrides,
        source_credentials=account.source_credentials,
    )


def child_run_result(name: str, flow_run: FlowRun, report: dict | None, output: str) -> dict:
    """An account's result from its flow run's final state and the report left in its folder.

    Args:
        name: The account.
        flow_run: Its flow run, once final.
        report: The finished report read from ``output`` (None when there is none).
        output: The account's output folder, named when the report is missing.
    """
    state = flow_run.state
    if state is None or not state.is_completed():
        # One line, whatever the flow's exception said over several.
        message = mask_emails_in(" ".join(state.message.split())) if state and state.message else ""
        ended = f"ended {state.name}" if state else "has no state"
        # A load that stopped left its report (the plan's ledger); the run's message names the stop.
        stopped = stopped_report(output, " ".join(state.message.split())) if state and state.message else None
        return account_result(name, "failed", stopped, error=f"flow run {flow_run.name} {ended}" + (f": {message}" if message else ""))
    if report is None:
        error = f"flow run {flow_run.name} completed but no finished report is at {output} (can every worker reach it?)"
        return account_result(name, "failed", error=error)
    return account_result(name, "migrated", report)


@dataclass(frozen=True)
class ChildRuns:
    """How the accounts run as flow runs of a deployment, and the parent's signal to stop waiting.

    Attributes:
        deployment: The deployment (``flow/deployment``) each account is a flow run of.
        start_timeout_seconds: How long a flow run may wait for a worker to start it.
        stop_waiting: Set when the parent stops waiting (it ended, was cancelled or interrupted):
            every thread still waiting cancels its child run.
    """

    deployment: str
    start_timeout_seconds: float
    stop_waiting: threading.Event = field(default_factory=threading.Event)


class GaveUpWaiting(Exception):
    """The parent stopped waiting on a child run that has not ended; the message says why, in one line."""


def run_on_a_worker(child_runs: ChildRuns, name: str, params: MigrationParameters, work_queue: str | None = None) -> dict:
    """Migrate an account as a flow run of the deployment and wait for it to end.

    The run goes to ``work_queue`` of the deployment's pool when one is given (the server
    creates a queue the pool lacks), else to the deployment's own queue. It is linked to the
    current task run (``as_subflow``), so the UI shows it under this flow run; its result is
    read from the report in its output folder, never returned (that would need result storage
    both machines share). A run given up on (no worker started it in
    time, or the parent stopped waiting) is cancelled and is its account's failure.

    Raises:
        BaseException: Whatever interrupted the wait (Ctrl-C, an unreachable API), once the run
            is cancelled: nothing would watch it any more.
    """
    with _STARTING_A_CHILD_RUN:
        started = run_deployment(
            child_runs.deployment,
            parameters={"params": params.model_dump(mode="json")},
            flow_run_name=f"account-{name}",
            timeout=0,
            as_subflow=True,
            work_queue_name=work_queue,
        )
    with get_client(sync_client=True) as client:
        try:
            flow_run = final_flow_run(client, started, child_runs, work_queue)
        except GaveUpWaiting as reason:
            cancel_child_run(client, started, str(reason))
            return account_result(name, "failed", error=str(reason))
        except BaseException as error:
            cancel_child_run(client, started, f"its parent run stopped waiting on it ({type(error).__name__})")
            raise
    return child_run_result(name, flow_run, finished_report(params.output), params.output)


def waiting_for_a_worker(flow_run: FlowRun) -> bool:
    """Whether no worker has started the flow run yet: it is scheduled (or late) or pending, and
    has never been running (a run retrying is scheduled again, but it has started)."""
    state = flow_run.state
    return flow_run.start_time is None and (state is None or state.is_scheduled() or state.is_pending())


def final_flow_run(client: SyncPrefectClient, flow_run: FlowRun, child_runs: ChildRuns, work_queue: str | None = None) -> FlowRun:
    """The flow run once it has ended: however long it runs once started, but no longer than the
    start timeout before a worker starts it. ``work_queue``, the queue its account's portal
    named, is named in the timeout's message: only a worker polling it or the whole pool takes it.

    Raises:
        GaveUpWaiting: No worker started it within the start timeout, or the parent stopped waiting.
    """
    deadline = time.monotonic() + child_runs.start_timeout_seconds
    while True:
        flow_run = client.read_flow_run(flow_run.id)
        if flow_run.state and flow_run.state.is_final():
            return flow_run
        if waiting_for_a_worker(flow_run) and time.monotonic() >= deadline:
            polled_by = "a worker serving it"
            if flow_run.work_pool_name:
                queue = f"work queue '{work_queue}' of " if work_queue else ""
                polled_by = f"a worker polling {queue}work pool '{flow_run.work_pool_name}'"
            raise GaveUpWaiting(f"flow run {flow_run.name} of {child_runs.deployment} was not picked up within "
                                f"{child_runs.start_timeout_seconds:g} s: is {polled_by}?")
        # The pause between polls, cut short when the parent stops waiting.
        if child_runs.stop_waiting.wait(CHILD_RUN_POLL_SECONDS):
            raise GaveUpWaiting(f"flow run {flow_run.name} cancelled: its parent run stopped waiting on it")


def cancel_child_run(client: SyncPrefectClient, flow_run: FlowRun, reason: str) -> None:
    """Cancel a child run that may not have ended, as ``prefect flow-run cancel`` does: best
    effort, one log line, never raises. ``reason`` is the message of a Cancelling state.

    Cancelling is proposed, not forced: the server makes a run no worker has taken Cancelled at
    once (so a worker arriving later never starts it), leaves a started one Cancelling for its
    worker to stop, and refuses the change for a run that has ended meanwhile, whose final state
    forcing would overwrite.
    """
    logger = get_logger()
    try:
        result = client.set_flow_run_state(flow_run.id, Cancelling(message=reason))
    except Exception as error:  # noqa: BLE001 - best effort: the parent is giving up on the run already
        logger.warning("could not cancel flow run %s: %s: %s", flow_run.name, type(error).__name__, error)
        return
    if result.status == SetStateStatus.ABORT:
        logger.info("flow run %s had ended already: not cancelled", flow_run.name)
    elif result.state is not None and result.state.is_cancelling():
        logger.warning("flow run %s is cancelling: its worker stops it", flow_run.name)
    else:
        logger.warning("flow run %s cancelled", flow_run.name)


@task(name="migrate-account", task_run_name="account {account.name}", cache_policy=NO_CACHE)
def migrate_account(account: AccountSpec, output: str, child_runs: ChildRuns | None = None, token_place: str | None = None) -> dict:
    """Migrate one account (a child flow run, here or, with ``child_runs``, of a deployment on a
    worker), or skip it when its last run finished the manifest entry it has now.

    ``token_place`` is where the manifest names the account's token (``accounts.yaml:17``,
    :func:`~schemas.manifest.token_places`), said when HubSpot refuses the token.

    Never raises: an account's failure is its result, so the other accounts go on.
    """
    quiet_if_the_command_asked()
    out = account_output(output, account)
    entry = {**manifest_entry(account), "source_files": source_files(account.sources)}
    done = finished_report(out)
    if done is not None:
        again = why_run_again(recorded_entry(out), entry, unfinished_imports(done["load"]), list_removals_failed(done["load"]))
        if again is None:
            get_run_logger().info("account %s finished in an earlier run: skipped", account.name)
            return account_result(account.name, "skipped", done)
        get_run_logger().warning("account %s finished in an earlier run, but %s: migrated again", account.name, again)
    result = run_account(account, out, child_runs, token_place)
    if result["status"] == "migrated":
        record_entry(out, entry)
    return result


def run_account(account: AccountSpec, out: str, child_runs: ChildRuns | None, token_place: str | None = None) -> dict:
    """Migrate one account into ``out``: its result, never an exception (see :func:`migrate_account`)."""
    params = account_parameters(account, out)
    if child_runs:
        return run_on_a_worker(child_runs, account.name, for_workers(params), account.portal.work_queue)
    started = datetime.datetime.now(datetime.UTC)
    try:
        # Through the module, not a name imported here: Dask ships this task's function by value
        # with only the globals it names, and the flow would lose the module the annotations of
        # its parameters are resolved in. On a daemon thread: a request in flight (a portal that
        # accepted the connection and never answers) holds its thread up to the load's read
        # timeout, minutes, and the task runner's exit would wait for it however the command was
        # stopped.
        report = result_unless_stopping(on_a_daemon_thread(lambda: migrate.migrate_contacts(params), name=f"onramp-account-{account.name}"))
    except LoadStopped as error:
        # The run published its report when the load stopped: its ledger, and what was sent.
        said = with_token_place(error, token_place)
        return account_result(account.name, "failed", stopped_report(out, str(error)), error=said, sent=error.done)
    except (InputError, LoadError) as error:
        # A load refused before its steps (a bad token, an unreachable portal) published its
        # report too, with the plan's ledger; an error before the plan left none of this run's.
        return account_result(account.name, "failed", stopped_report(out, str(error)), error=with_token_place(error, token_place))
    except Exception as error:  # noqa: BLE001 - one account's bug must not stop the others
        # No message of the report's to match: the report written since the account's run
        # started is its own (the plan's ledger, written as the plan ends), an older one is not.
        error_line = f"{type(error).__name__}: {mask_emails_in(str(error))}"
        return account_result(account.name, "failed", report_written_since(out, started), error=error_line)
    return account_result(account.name, "migrated", report)


def token_refused(error: BaseException) -> bool:
    """Whether HubSpot refused the token (401) in the error or any error it was raised from
    (a refusal is a ``LoadError`` raised from HubSpot's answer; a load stopped by it, one more)."""
    cause: BaseException | None = error
    while cause is not None:
        if http_status(cause) == REFUSED_TOKEN:
            return True
        cause = cause.__cause__
    return False


def with_token_place(error: BaseException, token_place: str | None) -> str:
    """An account's error as its roll-up line says it: for a token HubSpot refused, also where
    the manifest names that token (``token_place``), the line to mend or the variable to set anew."""
    said = str(error)
    return f"{said}; the manifest names this token at {token_place}" if token_place and token_refused(error) else said


def result_unless_stopping(answer: Future[dict]) -> dict:
    """The result of an account's run on its own thread (or the error it raised), unless the
    command is stopping: then the run is given :data:`STOP_GRACE_SECONDS` to end (its waits end
    at once, ``tasks.stopping``; a request in flight may not), and left behind after.

    Raises:
        Stopping: The command is stopping and the run had not ended within the grace.
    """
    while not wait([answer], timeout=STOP_POLL_SECONDS).done:
        try:
            check_not_stopping()
        except Stopping:
            if not wait([answer], timeout=STOP_GRACE_SECONDS).done:
                raise
    return answer.result()


def thread_pool(params: AccountsParameters) -> TaskRunner:
    """Threads of this process, one per account running at once."""
    return ThreadPoolTaskRunner(max_workers=params.max_concurrent_accounts)


def dask_cluster(params: AccountsParameters) -> TaskRunner:
    """The Dask cluster at ``params.dask_address``, else a local one of one process per account
    running at once (one thread each: an account is one task, and its load paces itself)."""
    # Imported when chosen: distributed adds about a second of imports to every other run.
    from prefect_dask import DaskTaskRunner

    if params.dask_address:
        return DaskTaskRunner(address=params.dask_address)
    # No dashboard: it needs bokeh, which Onramp does not install.
    return DaskTaskRunner(
        cluster_kwargs={"n_workers": params.max_concurrent_accounts, "threads_per_worker": 1, "processes": True, "dashboard_address": None}
    )


TASK_RUNNERS = {"threads": thread_pool, "dask": dask_cluster}


def task_runner_for(params: AccountsParameters) -> TaskRunner:
    """The (not yet started) task runner the accounts run on, as ``params.task_runner`` says."""
    return TASK_RUNNERS[params.task_runner](params)


def settled(future: PrefectFuture, account: AccountSpec) -> dict:
    """An account's result; a task that could not even report one (its Dask worker process was
    killed, e.g. out of memory) is that account's failure, not the run's."""
    try:
        return future.result()
    except Exception as error:  # noqa: BLE001 - one account's lost worker must not stop the others
        return account_result(account.name, "failed", error=f"{type(error).__name__}: {mask_emails_in(str(error))}")


def dask_connect_timeout_seconds() -> float:
    """How long a Dask client tries to reach a scheduler (``distributed.comm.timeouts.connect``,
    30 s unless the Dask config or ``DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT`` says otherwise)."""
    import dask.config
    from dask.utils import parse_timedelta

    return parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), default="seconds")


def check_dask_scheduler(address: str) -> None:
    """Fail before any account runs when no Dask scheduler answers at ``address``, in one line,
    rather than in the traceback of the first account's submission.

    A scheduler answers its ``identity`` with its type; anything else listening there (a worker,
    another server) is no scheduler. It is given as long as a Dask client would be.

    Args:
        address: The scheduler's address, ``tcp://host:8786`` (``dask_address``).

    Raises:
        InputError: Nothing answered at ``address`` in time, or not a Dask scheduler.
    """
    from distributed.comm import connect
    from distributed.security import Security

    timeout = dask_connect_timeout_seconds()

    async def identity() -> object:
        comm = await connect(address, timeout=timeout, **Security().get_connection_args("client"))
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            await comm.close()

    try:
        # Bounded as a whole: connect's own timeout does not bound its handshake with a peer
        # that takes the connection and never answers (an HTTP server, say).
        answer = asyncio.run(asyncio.wait_for(identity(), timeout))
    except (OSError, TimeoutError, ValueError):
        answer = None
    if not (isinstance(answer, dict) and answer.get("type") == "Scheduler"):
        raise InputError(address, f"no Dask scheduler answered there within {timeout:g} s (dask_address): "
                                  "start the cluster's scheduler, or leave the address out to run a local cluster")


def check_deployment(name: str, work_queues: set[str] | frozenset[str] = frozenset()) -> None:
    """Fail before any account runs when the API knows no such deployment, or when the manifest
    names work queues and the deployment has no work pool to hold them; say in one line which
    named queues the pool lacks.

    ``run_deployment(work_queue_name=...)`` has the server create a queue its pool lacks, so a
    misspelt queue is no error: its runs wait for a worker started with ``--work-queue`` on
    that name (or one polling the whole pool) and otherwise fail at the start timeout.

    Args:
        name: The deployment, ``flow/deployment``.
        work_queues: The work queues the manifest's portals name.

    Raises:
        InputError: The deployment is not on the Prefect API this run reports to, or has no
            work pool while work queues are named (the server would refuse every account's run).
    """
    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(name)
        except ObjectNotFound:
            raise InputError(name, f"no such deployment on the Prefect API at {client.api_url} "
                                   "(deploy deployments/prefect.yaml there and set PREFECT_API_URL to it)") from None
        if not work_queues:
            return
        pool = deployment.work_pool_name
        if not pool:
            raise InputError(name, f"has no work pool, so the manifest's work queues ({', '.join(sorted(work_queues))}) "
                                   "cannot hold its runs: deploy it to a work pool")
        named = WorkQueueFilter(name=WorkQueueFilterName(any_=sorted(work_queues)))
        missing = sorted(work_queues - {queue.name for queue in client.read_work_queues(work_pool_name=pool, work_queue_filter=named)})
    if missing:
        get_logger().warning(
            "work queue(s) %s not in work pool '%s' yet: Prefect creates each with its first account's run, which only a "
            "worker polling it by name (--work-queue) or the whole pool takes", ", ".join(f"'{q}'" for q in missing), pool,
        )


def write_rollup(rollup: dict, output: str) -> None:
    """Write ``rollup.json`` into the run's output; a storage that does not take it now is
    warned about, not raised: the accounts' results are still the command's summary, and each
    account's own folder keeps its report."""
    path = f"{output.rstrip('/')}/{ROLLUP_FILE}"
    try:
        with fsspec.open(path, "w", encoding="utf-8", auto_mkdir=True) as handle:
            json.dump(rollup, handle, indent=2)
    except Exception as error:  # noqa: BLE001 - whatever the storage's client raises
        _warn_of_storage("write", path, error)


@contextmanager
def run_output_held(output: str) -> Iterator[None]:
    """Hold the run's whole output for the run, or refuse at once when another run holds it, as
    ``onramp migrate`` holds its output (:func:`~tasks.load.lease.output_held`: the lock of its
    load's work folder, and a remote output's lease): a second ``migrate-accounts`` into it, or an
    ``onramp migrate`` into it, is refused in one line. Two runs into one output would each hold
    some accounts and fail the others' ("another run is loading"), and the last roll-up written
    would call an account migrated by the other run failed.

    Each account's own hold of ``<output>/<name>/`` is apart: its work folder is in its folder
    (a remote one's is named by its URL) and its lease beside its files. On a Dask cluster or a
    deployment's workers the accounts hold their folders there; the root is held here only.

    Raises:
        LoadInProgress: Another run holds the output (one line: which, and what to do).
        InputError: A remote output's lease cannot be read or written.
    """
    _, root = fsspec.core.url_to_fs(output)
    # A local output keeps its work folder in itself (the root's path); a remote one's is named
    # by its URL alone.
    with output_held(output, Path(root)):
        yield


@flow(name="onramp-migrate-accounts", validate_parameters=True)
def migrate_accounts(params: AccountsParameters) -> dict | State:
    """Migrate every account of a manifest, at most ``max_concurrent_accounts`` at once, once
    HubSpot has shown no two of them to load into one portal (before any plans or sends), the
    run's output held for the run (:func:`run_output_held`).

    Stopped (Ctrl-C, SIGTERM), the run still writes its roll-up: the results the accounts had,
    every other account ``stopped`` (:func:`stopped_results`), before the interruption goes on.

    Raises:
        InputError: The manifest cannot be used, no Dask scheduler answers at ``dask_address``,
            the deployment is unknown, or two accounts' tokens are for one portal, or one is for
            another portal than its ``portal_id`` (:func:`~tasks.load.portals.check_one_portal_each`).
        LoadInProgress: Another run holds the output (returned as a Failed state, ``flows.migrate.refused``).
    """
    manifest = params.read_manifest()
    if params.dask_address:
        check_dask_scheduler(params.dask_address)
    if params.account_deployment:
        check_deployment(params.account_deployment, manifest.work_queues())
    with ExitStack() as holding:
        try:
            holding.enter_context(run_output_held(params.output))
        except (InputError, LoadInProgress) as error:
            return migrate.refused(error)
        return migrated_accounts(params, manifest.accounts)


def migrated_accounts(params: AccountsParameters, accounts: list[AccountSpec]) -> dict:
    """The run of :func:`migrate_accounts` once its output is held: the portals checked, the
    accounts run, the roll-up written and published."""
    started = datetime.datetime.now(datetime.UTC)
    results: dict[str, dict] = {}
    running: dict[PrefectFuture, AccountSpec] = {}
    try:
        # Before any account plans or sends: two tokens kept apart may be one portal, which only
        # HubSpot tells (the manifest refused the pairs it shows itself); a finished account's
        # report says which portal holds its contacts, whether or not its token can be asked now.
        check_one_portal_each(
            params.manifest,
            accounts,
            runs_elsewhere=bool(params.account_deployment or params.dask_address),
            loaded_into=loaded_portals(params.output, accounts),
        )
        token_place = token_places(params.manifest, accounts)
        waiting = list(accounts)
        child_runs = ChildRuns(params.account_deployment, params.child_start_timeout_seconds) if params.account_deployment else None
        # Each task carries this process's settings to its Dask worker: without an API URL (a
        # temporary server of this process) every worker would start a temporary server of its own
        # and the accounts' runs would be recorded where no one looks.
        api_url = str(FlowRunContext.get().client.api_url)
        # An interruption (Prefect's SIGTERM is raised here, in the main thread) must reach the
        # accounts' loads in the runner's threads before the runner's exit waits for them.
        with temporary_settings({PREFECT_API_URL: api_url}), task_runner_for(params) as runner, stopped_when_interrupted():
            try:
                while waiting or running:
                    while waiting and len(running) < params.max_concurrent_accounts:
                        account = waiting.pop(0)
                        parameters = {"account": account, "output": params.output, "child_runs": child_runs, "token_place": token_place[account.name]}
                        running[runner.submit(migrate_account, parameters)] = account
                    finished = next(as_completed(list(running)))
                    account = running.pop(finished)
                    results[account.name] = settled(finished, account)
            finally:
                # Before the runner's exit, which waits for its threads: when this flow is cancelled
                # or interrupted here, the threads still waiting cancel their child runs and return,
                # rather than wait on them for ever or leave them running with no one to read them.
                if child_runs:
                    child_runs.stop_waiting.set()
    except BaseException as error:
        if is_interruption(error):
            # The roll-up an earlier run left must not stand for this one.
            write_rollup(roll_up(stopped_results(accounts, results, running, params.output, started)), params.output)
        raise
    rollup = roll_up([results[a.name] for a in accounts])
    write_rollup(rollup, params.output)
    create_table_artifact(
        [{"account": r["name"], "status": r["status"], "error": r["error"] or ""} for r in rollup["accounts"]],
        key="onramp-accounts",
        description=f"{len(rollup['failed'])} of {len(rollup['accounts'])} account(s) failed",
    )
    return rollup


def stopped_results(
    accounts: list[AccountSpec], results: dict[str, dict], running: dict[PrefectFuture, AccountSpec], output: str, since: datetime.datetime
) -> list[dict]:
    """Every account's line in the roll-up of a run an interruption stopped, in the manifest's order.

    Args:
        accounts: The manifest's accounts.
        results: The results the accounts that ended had, by name.
        running: The accounts in flight when the run stopped, by their task's future: one whose
            task ended with a result as the run stopped has it; any other is :data:`STOPPED`
            with the ledger of the report its run wrote since ``since`` (the plan's, and what
            its load had sent when it stopped), if any.
        output: The run's output.
        since: When the run started: a report older than that is an earlier run's.
    """
    in_flight = {account.name: future for future, account in running.items()}
    lines = []
    for account in accounts:
        future = in_flight.get(account.name)
        ended = results.get(account.name) or (ended_result(future) if future is not None else None)
        if ended is not None:
            lines.append(ended)
        elif future is None:
            lines.append(account_result(account.name, STOPPED, error=NOT_STARTED))
        else:
            report = report_written_since(account_output(output, account), since)
            lines.append(account_result(account.name, STOPPED, report, error=NOT_FINISHED, sent=(report or {}).get("load_done")))
    return lines


def ended_result(future: PrefectFuture) -> dict | None:
    """The result of an account's task that ended with one, else None (its run stopped, or its
    state cannot be read now that the runner is gone)."""
    try:
        return future.result() if future.state.is_completed() else None
    except Exception:  # noqa: BLE001 - whatever the gone runner raises: the account did not finish here
        return None
