"""A whole plan into HubSpot: opt-outs, then properties, then contacts files, then their static
lists (and, when asked, their companies), then a read-back.

Two ways in:

- :func:`load_steps`, what the migrate flow runs: one Prefect task per step (the properties, each
  opt-out file, each contacts file), contacts files concurrently, each step cached by what it
  sends and where (``tasks/load/resume.py``), so a rerun sends only what did not finish, and a
  progress artifact that moves as steps and batches finish;
- :func:`load_plan`, the same load as plain function calls, without Prefect (tests, scripts).

The order matters in both: opt-outs go first, so that nothing unrelated to consent (a property
HubSpot refuses, its options limit, a contacts file) can keep an opt-out from being recorded,
and before any contact could be made marketable; they need no property (an unsubscribe creates
no contact). Properties exist before any contacts file maps a column to them. Before all of
it, the marketing files' contacts HubSpot already holds as unsubscribed from all email are moved
to non-marketing files of their own (``tasks/load/opted_out.py``), and once the properties are
there, the values that could not be options (HubSpot's limit per property) are taken out of
the contacts files (``tasks/load/properties.py``): the rest of the load sends that plan. Steps
are cached by what they send, not by their place, so a run cached in the earlier order
(properties first) resumes in this one, finding the steps it had done.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prefect import Task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.futures import PrefectFuture, as_completed
from prefect.states import State
from prefect.transactions import CommitMode, transaction

from tasks.errors import LoadError
from tasks.load import settings
from tasks.load.client import HubSpotPortal
from tasks.load.companies import CompanyJournal, companies_report, load_companies, load_file_companies_task
from tasks.load.expected import ExpectedPortal, check_expected_portal
from tasks.load.imports import import_contacts_file_task, import_contacts_files, imports_day_warning
from tasks.load.lists import ListJournal, add_file_members, add_file_members_task, ensure_list_task, ensure_lists
from tasks.load.log import get_logger
from tasks.load.opted_out import AS_SET_REPORT_KEY, REPORT_KEY, KeptNonMarketing, keep_opted_out_non_marketing
from tasks.load.optouts import apply_opt_out_file, apply_opt_out_file_task
from tasks.load.plan import LoadPlan, read_plan
from tasks.load.properties import ensure_properties, ensure_properties_task, left_out_warning, without_options_left_out
from tasks.load.reconcile import publish_reconciliation, reconcile_task
from tasks.load.resume import OPT_OUTS, STATE_FOLDER, ImportJournal, RecordStorage, SentContent, claim_state, record_storage, step_finished
from tasks.load.upsert import IMPORTS, UPSERT, choose_load_path, upsert_contacts_file_task
from tasks.report import OPTIONS_LEFT_OUT
from tasks.stopping import is_interruption, stopped_when_interrupted

AUTO = "auto"
LOAD_PATHS = (AUTO, IMPORTS, UPSERT)
PROGRESS_ARTIFACT_KEY = "onramp-load-progress"
# Updating the progress artifact is a request to the Prefect API; per batch at the HubSpot
# ceiling that would be ~19 a second, so updates between step ends are at most this often.
_PROGRESS_MIN_INTERVAL_SECONDS = 1.0
_BAR_WIDTH = 20
# Prefect's name for the state of a task whose result a cache key found: the step was done by
# an earlier run and sent nothing now.
_CACHED_STATE = "Cached"
# The load's steps as a summary counts them, in load order: (step, one, several).
_STEP_NAMES = (
    (OPT_OUTS, "opt-out file", "opt-out files"),
    ("properties", "properties", "properties"),
    (UPSERT, "contacts file", "contacts files"),
    (IMPORTS, "contacts file", "contacts files"),
    ("list", "list", "lists"),
    ("list-members", "file's list members", "files' list members"),
    ("companies", "file's companies", "files' companies"),
)


def load_report(
    portal: HubSpotPortal,
    properties: dict[str, Any],
    opt_out_files: list[dict[str, Any]],
    contacts: list[dict[str, Any]],
    lists: list[dict[str, Any]] = (),
    members: list[dict[str, Any]] = (),
    left_out: list[dict[str, Any]] = (),
) -> dict[str, Any]:
    """Assemble the load report from the steps' results (their ``errors`` are moved out).

    A file whose contacts were added to a static list (``members``) gets that list among its
    ``list_ids``, so the reconciliation checks its contacts are in it. ``left_out`` are the value
    errors of the rows sent without values that could not be options
    (:class:`~tasks.load.properties.OptionsLeftOut`): they join ``errors``, and their rows count
    among ``rows_with_value_errors`` (a row HubSpot failed, or already counted, not again).

    Returns:
        The load report, JSON-serialisable (the run report keeps it under ``"load"``)::

            {"portal": url, "portal_id": N, "account_type": "STANDARD" | "SANDBOX" | ...,
             "properties": {"group", "created", "existing", "type_mismatches"},
             "opt_outs": {"files": [{"file", "status", "rows", "addresses", "unsubscribed",
                                     "failed", "mode"}],
                          "unsubscribed": N, "failed": N},
             "imports": [{"file", "name", "outcome", "marketable", "rows", "import_id",
                          "previous_import_ids", "state", "attempts", "counters", "list_ids",
                          "rows_failed", "rows_with_value_errors", ("path", "requests")}],
             "lists": [{"key", "name", "list_id", "created", "files", "added", "missing",
                        "waiting", "removed_opted_out", "removed_non_marketing",
                        "earlier_lists", "remove_failed"}  (static lists)
                       | {"list_id", "file", "import_id"}],  (lists an import made)
             "errors": [{"file", "line", "error_type", "scope", "message", "sources", ...}],
             "rows_failed": N, "rows_with_value_errors": N, "warnings": [line]}

        ``properties`` also has ``options_added`` and ``options_left_out`` ({name: [values]}).
        ``rows_failed`` counts the rows of the plan that did not make it: distinct failed lines
        of finished imports and opt-out files, and every row of an import that did not end DONE.
        ``rows_with_value_errors`` counts rows imported with a value HubSpot refused (``scope``
        ``value`` errors say which). ``portal_id`` and ``account_type`` say which portal was
        loaded; ``None`` when HubSpot would not say (``HubSpotPortal.details``). A static
        list's ``waiting`` counts the rows of its files whose contacts step did not finish, not
        added yet (:func:`contacts_waiting`); such a file gets no static list among its
        ``list_ids``. ``warnings`` are :func:`load_warnings`.
    """
    errors: list[dict[str, Any]] = []
    files = [_errors_moved(result, errors) for result in opt_out_files]
    imports = [_errors_moved(result, errors) for result in contacts]
    import_lists = [
        {"list_id": list_id, "file": result["file"], "import_id": result["import_id"]}
        for result in imports
        for list_id in result["list_ids"]
    ]
    filled = {member["file"]: member for member in members}
    for result in imports:
        if result["file"] in filled and filled[result["file"]].get("waiting_reason") is None:
            result["list_ids"] = [*result["list_ids"], filled[result["file"]]["list_id"]]
    static = [
        {
            **_errors_moved(planned, errors),
            # A step an older Onramp finished has no "waiting": it waited for nothing.
            **{
                key: sum(filled[file].get(key, 0) for file in planned["files"] if file in filled)
                for key in ("added", "missing", "waiting", "not_added")
            },
        }
        for planned in lists
    ]
    counted = {(error["file"], error["line"]) for error in errors if error.get("scope") in ("row", "value")}
    errors.extend(left_out)
    rows_left_out = {(error["file"], error["line"]) for error in left_out} - counted
    opt_outs = {
        "files": files,
        "unsubscribed": sum(result["unsubscribed"] for result in files),
        "failed": sum(result["failed"] for result in files),
    }
    return {
        **portal.report_fields(),
        "properties": properties,
        "opt_outs": opt_outs,
        "imports": imports,
        "lists": static + import_lists,
        "errors": errors,
        "rows_failed": opt_outs["failed"] + sum(result["rows_failed"] for result in imports),
        "rows_with_value_errors": sum(result["rows_with_value_errors"] for result in imports) + len(rows_left_out),
        "warnings": load_warnings(portal),
    }


def load_warnings(portal: HubSpotPortal) -> list[str]:
    """What a load warns of that no count of its report says, for a person who reads only the
    summary: the portal's imports a day near HubSpot's limit as the load ends
    (:func:`~tasks.load.imports.imports_day_warning`; the log said so when an import took the
    count there). Read from the portal's shared import count, so it holds whichever process
    created the imports.

    Returns:
        One line per warning; none when there is nothing to warn of.
    """
    warning = imports_day_warning(portal.imports_log.count(), portal.budget.snapshot()["limit"])
    return [] if warning is None else [warning]


def contacts_waiting(results: list[dict[str, Any]]) -> dict[str, str]:
    """Why each contacts file whose step did not finish keeps its list members and companies
    waiting for the rerun, by file.

    Such a file's contacts are not in HubSpot as planned (its import did not end ``DONE``; on the
    upsert path they were upserted but its marketing-status import did not end ``DONE``, so
    HubSpot holds them non-marketing), its rows are counted failed, and the rerun sends them
    again: its contacts are added to their list and get their companies then.

    Args:
        results: The contacts steps' results (``tasks/load/imports.py``, ``tasks/load/upsert.py``).

    Returns:
        ``{file: reason}`` for each unfinished file; the others are not in it.
    """
    return {
        result["file"]: (
            f"waiting for the rerun: its {'marketing-status import' if result.get('path') == UPSERT else 'import'} "
            f"ended {result['state']}, its rows are counted failed (load.errors), and the same command sends them again first"
        )
        for result in results
        if not step_finished(result)
    }


def upserted_kept_lines(results: list[dict[str, Any]]) -> dict[str, frozenset[int]]:
    """Per contacts file, the lines its upsert kept non-marketing, HubSpot holding their contacts
    as unsubscribed once upserted (``tasks/load/upsert.py``): kept out of the file's list and
    not read back as marketing. Files without any are not in it.

    Args:
        results: The contacts steps' results.
    """
    return {result["file"]: frozenset(row["sent_line"] for row in result[REPORT_KEY]) for result in results if result.get(REPORT_KEY)}


def kept_report(kept: KeptNonMarketing, results: list[dict[str, Any]]) -> dict[str, Any]:
    """The load report's :data:`~tasks.load.opted_out.REPORT_KEY`: the rows the lookup moved to
    non-marketing files before the load, then those the upsert path kept non-marketing after
    upserting them (``tasks/load/upsert.py``), all on their planned lines.

    Args:
        kept: What the lookup did (:func:`~tasks.load.opted_out.keep_opted_out_non_marketing`).
        results: The contacts steps' results.
    """
    upserted = kept.as_planned([row for result in results for row in result.get(REPORT_KEY, [])])
    return {**kept.report, "count": kept.report["count"] + len(upserted), "rows": kept.report["rows"] + upserted}


def _errors_moved(result: dict[str, Any], errors: list[dict[str, Any]]) -> dict[str, Any]:
    """A step's result without its ``errors``, which join the load's ``errors``."""
    errors.extend(result.get("errors", []))
    return {key: value for key, value in result.items() if key != "errors"}


def load_plan(
    portal: HubSpotPortal,
    plan_dir: str | Path,
    *,
    poll_interval: float = settings.IMPORT_POLL_INTERVAL_SECONDS,
    import_companies: bool = False,
    expected_portal: ExpectedPortal | None = None,
    state_dir: Path | None = None,
) -> dict[str, Any]:
    """Load a plan directory into a portal with plain calls (no Prefect, no caching), by imports.

    Args:
        portal: The portal.
        plan_dir: The planner's output directory (local).
        poll_interval: Seconds between import status polls.
        import_companies: Also create the contacts' companies and associate them
            (``tasks/load/companies.py``); the report then has ``companies``.
        expected_portal: The portal the token must be for (:func:`check_expected_portal`).
        state_dir: Where files derived from the plan's are written (``tasks/load/opted_out.py``,
            ``tasks/load/properties.py``); default ``<plan_dir>/.onramp-load``, as a migration keeps it.

    Returns:
        The load report of :func:`load_report`, plus ``kept_non_marketing_opted_out`` and
        ``kept_non_marketing_as_set_in_hubspot``
        (:func:`~tasks.load.opted_out.keep_opted_out_non_marketing`); errors name planned lines.

    Raises:
        LoadError: The load cannot go on; the message says why and what to do. Or the token is
            not for ``expected_portal``: nothing is sent.
    """
    planned = read_plan(plan_dir)
    check_expected_portal(portal, expected_portal)
    _log_start(portal, planned)
    state = Path(plan_dir) / STATE_FOLDER if state_dir is None else Path(state_dir)
    kept = keep_opted_out_non_marketing(portal, planned, state)
    opt_outs = [apply_opt_out_file(portal, kept.plan, entry) for entry in kept.plan.opt_outs]
    properties = ensure_properties(portal, kept.plan)
    sent = without_options_left_out(kept.plan, properties, state)
    plan = sent.plan
    imports = import_contacts_files(portal, plan, poll_interval=poll_interval)
    waiting = contacts_waiting(imports)
    lists = ensure_lists(portal, plan)
    members = [
        add_file_members(portal, plan, entry, lists[entry["list"]]["list_id"], waiting.get(entry["file"])) for entry in _listed(plan)
    ]
    report = load_report(portal, properties, opt_outs, imports, list(lists.values()), members, sent.errors)
    if import_companies:
        report["companies"] = load_companies(portal, plan, waiting=waiting)
        kept.as_planned(report["companies"]["errors"])
    report[REPORT_KEY] = kept.report
    report[AS_SET_REPORT_KEY] = kept.as_set
    kept.as_planned(report["errors"])
    _log_finished(report)
    return report


def _log_finished(report: dict[str, Any]) -> None:
    """Say the load finished, after a warning per property whose values could not all be options."""
    logger = get_logger()
    for name, values in (report["properties"].get(OPTIONS_LEFT_OUT) or {}).items():
        logger.warning("%s", left_out_warning(name, len(values)))
    logger.info("load finished: %d rows failed", report["rows_failed"])


def contacts_path(entry: dict[str, Any], load_path: str, upsert_max_rows: int = settings.UPSERT_MAX_ROWS) -> str:
    """How one contacts file is loaded: ``load_path`` itself, or by its size when ``auto``.

    Raises:
        ValueError: An unknown ``load_path``.
    """
    if load_path not in LOAD_PATHS:
        raise ValueError(f"load path must be one of {', '.join(LOAD_PATHS)}, not {load_path!r}")
    return choose_load_path(int(entry.get("rows") or 0), upsert_max_rows) if load_path == AUTO else load_path


def progress_line(done_rows: int, total_rows: int, done_steps: int, total_steps: int) -> str:
    """The load's progress as one line: a bar, the percentage, steps and rows."""
    fraction = done_rows / total_rows if total_rows else done_steps / max(total_steps, 1)
    filled = round(fraction * _BAR_WIDTH)
    return (
        f"[{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] {fraction:4.0%}  "
        f"{done_steps}/{total_steps} steps, {done_rows}/{total_rows} rows"
    )


class LoadProgress:
    """The load's progress: a Prefect progress artifact and a log line, moved by rows done.

    Steps report rows as batches finish (:meth:`rows_done`) and once more when they end
    (:meth:`step_done`, which credits whatever the step had not reported, e.g. a cached step).
    Thread-safe: contacts steps report from their own threads.

    Args:
        plan: The plan being loaded (its files' rows are the total).
    """

    def __init__(self, plan: LoadPlan) -> None:
        self.follow(plan)
        self.done_rows = 0
        self.done_steps = 0
        self._credited: dict[str, int] = {}
        self._lock = threading.Lock()
        self._last_update = 0.0
        self.artifact_id = create_progress_artifact(
            0.0, key=PROGRESS_ARTIFACT_KEY, description="HubSpot load: steps and rows done"
        )

    def follow(self, plan: LoadPlan) -> None:
        """Count ``plan``'s files and steps: the plan the load sends, once it is known (some of
        the planned files may be sent as files derived from them, ``tasks/load/opted_out.py``)."""
        entries = plan.opt_outs + plan.imports
        self._contacts_files = [entry["file"] for entry in plan.imports]
        self._opt_out_files = [entry["file"] for entry in plan.opt_outs]
        self._contacts_planned = sum(int(entry.get("rows") or 0) for entry in plan.imports)
        self.total_rows = sum(int(entry.get("rows") or 0) for entry in entries)
        self.total_steps = len(entries) + 1

    def rows_done(self, file: str, rows: int) -> None:
        """Credit ``rows`` more rows of ``file`` (a batch finished)."""
        with self._lock:
            self._credited[file] = self._credited.get(file, 0) + rows
            self.done_rows += rows
            due = time.monotonic() - self._last_update >= _PROGRESS_MIN_INTERVAL_SECONDS
        if due:
            self._publish()

    def step_done(self, file: str | None, rows: int) -> None:
        """Mark a step finished: ``file`` (``None`` for properties) with ``rows`` rows in all."""
        with self._lock:
            if file is not None:
                self.done_rows += max(rows - self._credited.get(file, 0), 0)
                self._credited[file] = max(rows, self._credited.get(file, 0))
            self.done_steps += 1
        self._publish(log=True)

    def done_before_stop(self, steps: list[dict[str, Any]]) -> dict[str, Any]:
        """What a stopped load had done: the steps that finished (``steps``, :class:`StepLog`'s),
        the contacts rows sent and answered (batches of a file stopped partway included) out of
        the plan's, and the opt-out rows sent."""
        with self._lock:
            return {
                "steps_done": list(steps),
                "contacts_sent": sum(self._credited.get(file, 0) for file in self._contacts_files),
                "contacts_planned": self._contacts_planned,
                "opt_out_rows_sent": sum(self._credited.get(file, 0) for file in self._opt_out_files),
            }

    def _publish(self, log: bool = False) -> None:
        with self._lock:
            self._last_update = time.monotonic()
            line = progress_line(self.done_rows, self.total_rows, self.done_steps, self.total_steps)
            fraction = self.done_rows / self.total_rows if self.total_rows else self.done_steps / self.total_steps
        update_progress_artifact(self.artifact_id, min(fraction, 1.0) * 100, description=line)
        if log:
            get_logger().info("load %s", line)


def _cached(task: Task, step: str, storage: RecordStorage) -> Task:
    """``task`` keyed by what it sends and where, its key and result kept in ``storage``
    (:func:`~tasks.load.resume.record_storage`).

    See ``tasks/load/resume.py`` for why this is the mechanism. ``persist_result`` must be
    set: Prefect persists nothing by default, and caching needs the persisted result. The keys
    (Prefect's result metadata) are kept in the same folder as the results: left to Prefect,
    they could go where another migration's run put them (a multi-account run loads several
    output folders in one process), and a key would then point at another folder's result.
    """
    return task.with_options(
        cache_policy=SentContent(step=step, key_storage=storage.keys),
        persist_result=True,
        result_storage=storage.results,
    )


class StepLog:
    """Which steps of the load ran now and which an earlier run had done (their results came
    from the cache, and nothing was sent for them): the load report's ``steps``.

    Without it a rerun's summary would repeat the earlier run's counts as if they were its own.
    """

    def __init__(self) -> None:
        self.steps: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def note(self, step: str, subject: str | None, state: State) -> None:
        """Record a finished step: ``step`` (its cache name), ``subject`` (its file or list, or
        ``None``) and the Prefect state it ended in."""
        already_done = state.name == _CACHED_STATE
        if already_done:
            get_logger().info("%s%s: already done in an earlier run, not sent again", step, f" {subject}" if subject else "")
        with self._lock:
            self.steps.append({"step": step, "subject": subject, "already_done": already_done})

    def result(self, step: str, subject: str | None, state: State) -> Any:
        """:meth:`note` the step, then its result (raising what the step raised)."""
        value = state.result()
        self.note(step, subject, state)
        return value


def _counted(count: int, one: str, several: str) -> str:
    """``2 opt-out files``, ``1 list``; a name the same in both (``properties``) without a count."""
    if one == several:
        return one
    return f"{count} {one if count == 1 else several}"


def resumed_note(load: dict[str, Any]) -> str | None:
    """One line for a run's summary when some steps were done by an earlier run, else ``None``.

    The counts a summary prints (opted out, contacts added to a list, companies) are the steps'
    results, and a step an earlier run finished gives that run's result: the line says so.

    Args:
        load: The load report (its ``steps``, from :func:`load_steps`).
    """
    steps = load.get("steps") or []
    done = [step for step in steps if step["already_done"]]
    if not done:
        return None
    return (
        f"  already done in an earlier run, not sent again: {len(done)} of {len(steps)} steps ({_named(done)}); "
        "their counts above are from that run"
    )


def _named(steps: list[dict[str, Any]]) -> str:
    """Steps as a person counts them, in load order: ``properties, 2 opt-out files``."""
    names = {step: (one, several) for step, one, several in _STEP_NAMES}
    counts = Counter(names[step["step"]] for step in steps)
    return ", ".join(_counted(count, one, several) for (one, several), count in counts.items())


class LoadStopped(LoadError):
    """The load stopped partway (daily quota, HubSpot down, token refused): why, and what it had
    done by then, so a report can say more than that it stopped.

    Its message is the reason's, then what was done: ``... (before the stop: done 1 opt-out file,
    properties; 100 of 245 contacts sent)``.

    Args:
        reason: What stopped the load (its ``__cause__`` too).
        done: What was done before the stop, as :meth:`LoadProgress.done_before_stop` says.

    Attributes:
        reason: The error that stopped the load.
        done: ``{"steps_done": [{"step", "subject", "already_done"}], "contacts_sent": N,
            "contacts_planned": N, "opt_out_rows_sent": N}``.
    """

    def __init__(self, reason: LoadError, done: dict[str, Any]) -> None:
        self.reason = reason
        self.done = done
        super().__init__(stop_message(str(reason), done))

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (to or from a Dask worker) with the reason as a plain LoadError: the reason's
        # own class may take other arguments than its message.
        return (type(self), (LoadError(str(self.reason)), self.done))


def stop_message(reason: str, done: dict[str, Any]) -> str:
    """Why the load stopped, then what it had done: ``... (before the stop: done 1 opt-out file,
    properties; 100 of 245 contacts sent)`` (``done`` as :class:`LoadStopped` holds it)."""
    steps = _named(done["steps_done"]) or "nothing"
    return f"{reason} (before the stop: done {steps}; {done['contacts_sent']} of {done['contacts_planned']} contacts sent)"


INTERRUPTED = "stopped by a signal (Ctrl-C, SIGTERM)"
"""Why a load that an interruption ended stopped, in its report."""
LOAD_DONE = "onramp_load_done"
"""The attribute an interruption leaving :func:`load_steps` carries: what was done by then
(:meth:`LoadProgress.done_before_stop`), for the report (``flows/migrate.py``)."""


def _settled(future: PrefectFuture) -> State:
    """The state a submitted step ended in, once it has."""
    future.wait()
    return future.state


def _gather(futures: dict[PrefectFuture, tuple[str, dict[str, Any]]], progress: LoadProgress, log: StepLog) -> list[dict[str, Any]]:
    """Wait for every step (each future's ``(step, plan entry)``); results in submission order.
    Every step is let finish (and so be cached) before the first step's error, if any, is raised
    (a :class:`LoadError`; another, a bug, too: the load must not end, and its output be let go,
    while steps still send)."""
    results: dict[str, dict[str, Any]] = {}
    failures: list[BaseException] = []
    for future in as_completed(list(futures)):
        _step, entry = futures[future]
        try:
            results[entry["file"]] = future.result()
        except Exception as error:  # noqa: BLE001 - raised once every other step has finished
            failures.append(error)
            continue
        progress.step_done(entry["file"], int(entry.get("rows") or 0))
    for future, (step, entry) in futures.items():
        if entry["file"] in results:
            log.note(step, entry["file"], future.state)
    if failures:
        raise failures[0]
    return [results[entry["file"]] for _step, entry in futures.values()]


def load_steps(
    portal: HubSpotPortal,
    plan_dir: str | Path,
    *,
    state_dir: Path,
    records: str | Path | None = None,
    list_journal_dir: str | Path | None = None,
    load_path: str = AUTO,
    poll_interval: float = settings.IMPORT_POLL_INTERVAL_SECONDS,
    import_companies: bool = False,
    expected_portal: ExpectedPortal | None = None,
) -> dict[str, Any]:
    """Load a plan directory as one Prefect task per step, resumable; call it inside a flow.

    Contacts files are submitted together; the flow's task runner runs at most
    ``settings.MAX_CONCURRENT_IMPORTS`` of them at once (HubSpot processes three imports at a
    time, a fourth would wait DEFERRED). Opt-outs go first and all finish before the properties
    (a properties step that stops the load has not held them back) and the first contacts file.

    Args:
        portal: The portal.
        plan_dir: The planner's output directory (local).
        state_dir: The load's local folder: the files derived from the plan
            (:class:`~tasks.load.resume.LoadState`'s ``work``).
        records: Where the steps' results and keys, the journals and the portal claim are kept
            between runs (a path or fsspec URL: ``LoadState.records``). Default ``state_dir``.
        list_journal_dir: Where the static lists' journal is kept (``tasks/load/lists.py``),
            when it must outlive ``records``: a recurring sync keeps it with its own state (a
            path or fsspec URL), so its next run finds its list again. Default ``records``.
        load_path: ``auto`` (by each file's size), ``imports`` or ``upsert``.
        poll_interval: Seconds between import status polls.
        import_companies: Also create the contacts' companies and associate them, a step per
            contacts file, one file after another (``tasks/load/companies.py``).
        expected_portal: The portal the token must be for (:func:`check_expected_portal`),
            checked before the state is claimed: a wrong token never binds it.

    Returns:
        The load report of :func:`load_report`, plus ``"companies"`` when asked,
        ``"steps"`` (:class:`StepLog`: ``[{"step", "subject", "already_done"}]`` in load order,
        ``already_done`` for a step an earlier run finished, whose counts are that run's) and
        ``"reconciliation"`` (:func:`~tasks.load.reconcile.reconcile`) and
        ``"kept_non_marketing_opted_out"`` (:func:`kept_report`: the rows sent as non-marketing,
        whose files are derived into ``state_dir``, and those the upsert path kept non-marketing) and
        ``"kept_non_marketing_as_set_in_hubspot"`` (:attr:`~tasks.load.opted_out.KeptNonMarketing.as_set`:
        the rows of a sync's contacts already made marketing that HubSpot holds as set non-marketing
        by hand, sent as non-marketing). Errors and
        mismatches name the planned file and line, also of a row sent from a derived file.

    Raises:
        LoadStopped: A step could not go on (daily quota, token refused, HubSpot down); every
            other step of its phase was let finish first, so a rerun starts after them. It
            says what was done before the stop (steps, contacts sent). Or
            ``records`` holds the state of a load into another portal (:func:`claim_state`):
            nothing is sent. Or the token is not for ``expected_portal``: nothing is sent.
    """
    planned = read_plan(plan_dir)
    check_expected_portal(portal, expected_portal)
    records = str(state_dir if records is None else records)
    claim_state(records, portal)
    storage = record_storage(records)
    import_journal = ImportJournal(records, portal.url)
    _log_start(portal, planned)
    progress = LoadProgress(planned)
    log = StepLog()
    # Interrupted (Ctrl-C, SIGTERM), the steps still running in other threads stop too. Each
    # step's result is kept as soon as the step finishes, also when the load runs inside another
    # task (an account of `migrate-accounts`): Prefect otherwise holds it until that task's own
    # transaction commits, and a stop rolls it back, so the rerun sent everything again.
    with transaction(commit_mode=CommitMode.EAGER), stopped_when_interrupted(), _said_on_a_stop(progress, log):
        kept = keep_opted_out_non_marketing(portal, planned, state_dir, records=records)
        progress.follow(kept.plan)
        opt_out_task = _cached(apply_opt_out_file_task, OPT_OUTS, storage)
        opt_outs = _gather({opt_out_task.submit(portal, kept.plan, entry): (OPT_OUTS, entry) for entry in kept.plan.opt_outs}, progress, log)
        properties = log.result("properties", None, _cached(ensure_properties_task, "properties", storage)(portal, kept.plan, return_state=True))
        progress.step_done(None, 0)
        sent = without_options_left_out(kept.plan, properties, state_dir)
        plan = sent.plan
        contacts = _gather(
            {
                _submit_contacts(portal, plan, entry, load_path, import_journal, storage, poll_interval, progress): (contacts_path(entry, load_path), entry)
                for entry in plan.imports
            },
            progress,
            log,
        )
        waiting = contacts_waiting(contacts)
        kept_lines = upserted_kept_lines(contacts)
        journal = ListJournal(records if list_journal_dir is None else list_journal_dir, portal.url)
        list_task = _cached(ensure_list_task, "list", storage)
        lists = {entry["key"]: log.result("list", entry["key"], list_task(portal, plan, entry, journal, return_state=True)) for entry in plan.lists}
        member_task = _cached(add_file_members_task, "list-members", storage)
        member_futures = {
            member_task.submit(
                portal, plan, entry, lists[entry["list"]]["list_id"], waiting.get(entry["file"]), kept_lines.get(entry["file"], frozenset())
            ): entry
            for entry in _listed(plan)
        }
        members = [log.result("list-members", entry["file"], _settled(future)) for future, entry in member_futures.items()]
        report = load_report(portal, properties, opt_outs, contacts, list(lists.values()), members, sent.errors)
        if import_companies:
            company_task = _cached(load_file_companies_task, "companies", storage)
            companies = CompanyJournal(records, portal.url)
            report["companies"] = companies_report(
                [
                    log.result("companies", entry["file"], company_task(portal, plan, entry, companies, waiting.get(entry["file"]), return_state=True))
                    for entry in plan.imports
                ]
            )
            kept.as_planned(report["companies"]["errors"])
        report["steps"] = log.steps
        report["reconciliation"] = reconcile_task(portal, plan, report, kept_lines)
    report[REPORT_KEY] = kept_report(kept, contacts)
    report[AS_SET_REPORT_KEY] = kept.as_set
    kept.as_planned(report["errors"])
    kept.as_planned(report["reconciliation"]["mismatches"])
    publish_reconciliation(report["reconciliation"])
    _log_finished(report)
    return report


@contextmanager
def _said_on_a_stop(progress: LoadProgress, log: StepLog) -> Iterator[None]:
    """Turn a :class:`LoadError` that stops the load into a :class:`LoadStopped` saying what was
    done; an interruption (Ctrl-C, SIGTERM) goes on up as it is, carrying it as :data:`LOAD_DONE`."""
    try:
        yield
    except LoadError as error:
        raise LoadStopped(error, progress.done_before_stop(log.steps)) from error
    except BaseException as error:
        if is_interruption(error):
            setattr(error, LOAD_DONE, progress.done_before_stop(log.steps))
        raise


def _log_start(portal: HubSpotPortal, plan: LoadPlan) -> None:
    """Say which portal is being loaded (its id and account type, asked of HubSpot) and with what."""
    get_logger().info(
        "loading into %s: %d contacts files and %d opt-out files", portal.describe(), len(plan.imports), len(plan.opt_outs)
    )


def _listed(plan: LoadPlan) -> list[dict[str, Any]]:
    """The contacts files whose contacts go to one of the plan's static lists."""
    keys = {entry["key"] for entry in plan.lists}
    return [entry for entry in plan.imports if entry.get("list") in keys]


def _submit_contacts(
    portal: HubSpotPortal,
    plan: LoadPlan,
    entry: dict[str, Any],
    load_path: str,
    journal: ImportJournal,
    storage: RecordStorage,
    poll_interval: float,
    progress: LoadProgress,
) -> PrefectFuture:
    """Submit one contacts file's step by its load path."""
    if contacts_path(entry, load_path) == UPSERT:

        def on_batch(batch: dict[str, int]) -> None:
            progress.rows_done(entry["file"], batch["rows"])

        return _cached(upsert_contacts_file_task, UPSERT, storage).submit(
            portal, plan, entry, poll_interval=poll_interval, on_batch=on_batch, journal=journal
        )
    return _cached(import_contacts_file_task, IMPORTS, storage).submit(
        portal, plan, entry, poll_interval=poll_interval, journal=journal
    )
