"""What makes the load idempotent and resumable: step keys, their cached results, an import journal.

Mechanism (DESIGN.md "Idempotent and resumable": Prefect's own machinery first):

- **Prefect result persistence + a cache policy.** Every load step (properties, one opt-out file,
  one contacts file) is a Prefect task whose cache key is :func:`step_key`: a hash of the step,
  the portal URL and the bytes the step sends (the file, and the plan entry that says how to send
  it). The task persists its result (``persist_result=True``; Prefect's default is off) as a file
  in the load's records folder (:class:`LoadState`), named by that key. Prefect writes the file
  only when the task completes, and a later run with the same key finds it and returns it as
  ``Cached`` without running the task: no request at all. A step killed half way (SIGKILL, a
  DAILY stop) left no file, so a rerun sends it again. The cache lives in files, not in the
  Prefect server's database, so it survives the process, the server and an ephemeral server's
  throwaway database (the results are written through a storage block saved on the server,
  :func:`record_storage`, which names the folder only: any server's will do). Prefect
  takes a key it cannot read (the storage not answering) for a step not done: the step is sent
  again, as after a kill.
  Transactions were not needed: each step is one task, and nothing has to be rolled back when a
  later step fails (a HubSpot write cannot be undone anyway).
- **Only finished work is recorded.** A contacts file's step whose import did not end ``DONE``
  (``FAILED``, ``CANCELED``, refused at creation, still running when the load stopped waiting; on
  the upsert path, its marketing-status import) returns its result like any other, so the run
  reports its rows failed, but keeps its task's transaction from writing the result
  (:func:`leave_unrecorded`): a rerun sends it again. ``DONE`` with row errors is finished:
  those rows are data HubSpot refused, reported per row, and would only be refused again. The
  steps that need a file's contacts in HubSpot (its list members, its companies) are recorded only
  once that file's step is (:class:`SentContent`); the read-back is never recorded.
- **An import journal.** An import is the one step whose work outlives the request: HubSpot goes
  on processing after the process dies. So before it submits, the step writes its intent to a
  journal file keyed like the cache, and the import id once HubSpot answers. A rerun polls the
  journalled import instead of submitting the file again; if the process died between the two
  writes, it finds the import by its name among the portal's imports created since the intent.
- **A file is sent as it was first sent.** Before the contacts steps, the load derives the
  files it sends from the planned ones (``tasks/load/opted_out.py``: rows HubSpot holds as
  unsubscribed moved to a non-marketing file, addresses respelt as HubSpot holds them) from the
  portal's state then, which a rerun may find changed (someone unsubscribed meanwhile): derived
  again, the files' content, so their keys and journal entries, would differ, and a rerun would
  submit new imports beside the one still processing. So the derivation is journalled per planned
  file (:class:`SplitJournal`), and a rerun that finds an import submitted since for that file
  (:meth:`ImportJournal.intents`) derives it as then, takes its import up, and lets the read-back
  name what changed since.
- **One load at a time.** A load holds its work folder (:func:`load_lock`, ``flock``) for its
  duration: a second run into the same output at once stops before it sends anything, and a
  killed run's hold ends with its process. A remote output's lock is on the machine that runs,
  so the load also holds a lease object in the output itself (:func:`tasks.load.lease.output_lease`):
  a run on another machine stops too (:mod:`tasks.load.lease`).
- **Records in the output.** What a rerun must find (the steps' results and keys, the journals,
  the portal claim) is kept with the output (:class:`LoadState`): a remote output's in
  ``<out>/.onramp-load/`` there, so a rerun on another machine (a worker whose container is
  new every run) resumes too. Only the lock and the files derived from the plan, which every
  run writes again, stay on the machine.

The portal's URL stands for "where", never the token: nothing here sees it. The key includes no
run id or time, so a rerun of a finished migration finds every step done and writes nothing.
Every portal is at the same URL, though (a sandbox as well as production), so a records folder is
bound to the portal it was written for, by the id HubSpot's account-info API gives
(:func:`claim_state`): a run into another portal stops before it sends anything, rather than
find every step done and send nothing, while a run with a new token for the same portal goes on.
"""

from __future__ import annotations

import copy
import fcntl
import hashlib
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

import fsspec
from fsspec.implementations.local import LocalFileSystem
from prefect.cache_policies import CachePolicy
from prefect.context import TaskRunContext
from prefect.filesystems import LocalFileSystem as LocalBlock
from prefect.filesystems import RemoteFileSystem
from prefect.results import ResultRecordMetadata
from prefect.transactions import get_transaction

from tasks import stopping
from tasks.errors import InputError, LoadError
from tasks.load.client import HubSpotPortal
from tasks.load.plan import LoadPlan
from tasks.output import normalised_output_url, read_record, record_kept, record_written, storage_problem

STATE_FOLDER = ".onramp-load"
PORTAL_FILE = "portals.json"
"""In a records folder: per portal URL, which portal it was written for: ``{"portal_id",
"account_type"}``, or, written before portal ids or for a token HubSpot will not say the portal
of, the token's ``HubSpotPortal.identity`` (a hash)."""
LOCK_FILE = "load.lock"
"""In a work folder: the file a load holds locked (``flock``) while it runs, saying which run."""
OPT_OUTS = "opt-outs"
"""The step name of an opt-out file (``tasks/load/run.py`` caches it so)."""
IMPORTS = "imports"
UPSERT = "upsert"
CONTACTS_STEPS = (IMPORTS, UPSERT)
"""The step names of a contacts file, by its load path (``tasks/load/run.py`` caches them so)."""
STEPS_AFTER_CONTACTS = frozenset({"list-members", "companies"})
"""Steps keyed by a contacts file's entry that need its contacts in HubSpot: recorded done only
once that file's contacts step is."""
SPLIT_STEP = "opted-out-split"
"""The step name :class:`SplitJournal` keys a planned contacts file's record by."""
FINISHED_STATE = "DONE"
# A file is hashed in pieces this large, so a 512 MB import file never sits in memory.
_HASH_CHUNK_BYTES = 1024 * 1024


def content_hash(plan: LoadPlan, entry: dict[str, Any] | None) -> str:
    """A hash of what one step sends.

    Args:
        plan: The plan.
        entry: An ``imports`` or ``opt_outs`` entry of ``plan.json`` (its file is hashed with
            it), or a ``lists`` entry (hashed with the plan's opt-out files: a list step also
            takes the contacts they name out of the list, so a rerun whose plan opts out
            someone else must not find it done); ``None`` for the properties step (the group
            and properties are hashed).

    Returns:
        A hex SHA-256.
    """
    digest = hashlib.sha256()
    if entry is None:
        digest.update(json.dumps([plan.property_group, plan.properties], sort_keys=True).encode())
        return digest.hexdigest()
    digest.update(json.dumps(entry, sort_keys=True).encode())
    files = [entry["file"]] if "file" in entry else [opt_out["file"] for opt_out in plan.opt_outs]
    for file in files:
        with plan.path(file).open("rb") as handle:
            while chunk := handle.read(_HASH_CHUNK_BYTES):
                digest.update(chunk)
    return digest.hexdigest()


def step_key(step: str, portal_url: str, plan: LoadPlan, entry: dict[str, Any] | None = None) -> str:
    """The key of one load step: which step, where to, and what it sends.

    Args:
        step: The step's kind (``properties``, ``opt-outs``, ``import``, ``upsert``): the same
            file sent another way is another step.
        portal_url: The portal's base URL (never the token).
        plan: The plan.
        entry: The step's file entry, ``None`` for properties.

    Returns:
        A hex SHA-256, usable as a file name.
    """
    where = portal_url.rstrip("/")
    return hashlib.sha256(f"{step}\n{where}\n{content_hash(plan, entry)}".encode()).hexdigest()


@dataclass
class SentContent(CachePolicy):
    """Prefect cache policy: a load task's key is :func:`step_key` of its inputs.

    The task must take ``portal`` (a ``HubSpotPortal``), ``plan`` and, for a file step, ``entry``.
    Prefect's ``INPUTS`` policy cannot be used: it would hash the portal object, which holds a
    live session and the token.

    Attributes:
        step: The step's kind, as :func:`step_key` takes it.
    """

    step: str = "step"

    def compute_key(self, task_ctx: Any, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs: Any) -> str | None:
        """The step key of this task run's inputs, or ``None`` (run, and record nothing) for a
        step of :data:`STEPS_AFTER_CONTACTS` whose contacts file's step is not recorded done."""
        url, plan, entry = inputs["portal"].url, inputs["plan"], inputs.get("entry")
        if self.step in STEPS_AFTER_CONTACTS and not any(
            task_ctx.result_store.exists(step_key(step, url, plan, entry)) for step in CONTACTS_STEPS
        ):
            # Some of the file's contacts may not be in HubSpot yet: what this step does now
            # must be done again once the rerun has sent them.
            return None
        return step_key(self.step, url, plan, entry)


def step_finished(result: dict[str, Any]) -> bool:
    """Whether a contacts file's step did its work: its import ended ``DONE``.

    ``DONE`` with row errors is finished (those rows are reported, and sending them again would
    only be refused again); ``FAILED``, ``CANCELED``, ``REVERTED``, ``REJECTED`` (HubSpot would not
    start it) or a state still running when the load stopped waiting are not.

    Args:
        result: The step's result (``tasks/load/imports.py``, ``tasks/load/upsert.py``), whose
            ``state`` says how its import ended.
    """
    return result.get("state") == FINISHED_STATE


def unfinished_imports(load: dict[str, Any]) -> int:
    """How many of a finished load's contacts files did not finish their import
    (:func:`step_finished`), so that a rerun sends them again.

    Args:
        load: A load report (``report.json``'s ``load``).
    """
    return sum(1 for result in load.get("imports", []) if not step_finished(result))


def leave_unrecorded() -> None:
    """Keep the Prefect task running now from recording its result, so a rerun runs it again.

    The task still completes and returns its result to this run; only its transaction does not
    write it under the step's key. A contacts file's step calls this when its work did not
    finish (:func:`step_finished`); so does a function the step calls for part of its work (the
    upsert path's marketing-status import), since the step did not finish either. Outside a task
    (a plain call) there is no record to keep.
    """
    transaction = get_transaction() if TaskRunContext.get() is not None else None
    if transaction is not None:
        transaction.write_on_commit = False


def claim_state(folder: str | Path, portal: HubSpotPortal) -> None:
    """Bind a records folder to the portal it is written for at a URL, or refuse another portal.

    The step keys hold the portal's URL, and every portal is at the same one (a sandbox as well
    as production): a load into production from the folder of a sandbox rehearsal would find
    every step done and send nothing. So the folder records, per URL, the id of the portal the
    first run loaded (``portal.details``, from HubSpot's account-info API); a later run at that
    URL into the same portal goes on, whatever its token (tokens are rotated), one into another
    portal stops. A run at another URL (the emulator, then the real portal) has keys of its own
    and goes on.

    Older folders, and tokens HubSpot will not name the portal of (403), hold a hash of the URL
    and the token instead (``portal.identity``, never the token). The same token's hash is the
    same portal: the claim becomes the portal id. Another token's hash cannot be told from
    another portal's, so that run stops, as a token without a portal id does at a portal's claim.

    Args:
        folder: A migration's or a sync's records folder (a path or fsspec URL).
        portal: Where this run loads.

    Raises:
        LoadError: The folder holds the state of a run at this URL into another portal, or one
            this run cannot tell is the same.
    """
    record = f"{str(folder).rstrip('/')}/{PORTAL_FILE}"
    claimed: dict[str, str | dict[str, Any]] = {}
    fs, path = fsspec.core.url_to_fs(record)
    with record_kept(record):
        if fs.exists(path):
            with fs.open(path, "r", encoding="utf-8") as handle:
                claimed = json.load(handle)
    claim = claimed.get(portal.url)
    ours = _claim_of(portal)
    # No claim yet, or this token's own hash: the folder is this portal's (its id when known).
    if claim is None or claim == portal.identity:
        if claim != ours:
            with record_written(record) as handle:
                json.dump({**claimed, portal.url: ours}, handle)
        return
    if isinstance(claim, str):
        raise LoadError(
            f"{folder} holds the state of a load into {portal.url} with another HubSpot token, bound to that "
            "token (before Onramp knew portal ids, or because HubSpot would not name its portal), so Onramp "
            "cannot tell whether it is this portal: give another portal its own --out; for the same portal with "
            f"a new token, delete {folder} and run again (everything is sent again, which is safe: contacts are "
            "upserted by email)"
        )
    if isinstance(ours, str):
        raise LoadError(
            f"{folder} holds the state of a load into HubSpot portal {claim['portal_id']} at {portal.url}, and "
            "HubSpot will not say which portal this token is for (403 from its account-info API): give the "
            "token's app the oauth scope, or give this portal its own --out"
        )
    if claim["portal_id"] != ours["portal_id"]:
        raise LoadError(
            f"{folder} holds the state of a load into HubSpot portal {claim['portal_id']} "
            f"({claim['account_type']}) at {portal.url}, and this token is for portal {ours['portal_id']} "
            f"({ours['account_type']}): give each portal its own --out"
        )


def _claim_of(portal: HubSpotPortal) -> str | dict[str, Any]:
    """What binds a records folder to ``portal``: its portal id, else its token's hash."""
    details = portal.details
    if details is None:
        return portal.identity
    return {"portal_id": details.portal_id, "account_type": details.account_type}


def _state_name(text: str) -> str:
    """A name made of ``text``: a hash (a remote output's work folder under ``$PREFECT_HOME``, its storage block)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


SPLITS = "opted-out-splits"
"""In a records folder: how each planned contacts file was sent (:class:`SplitJournal`)."""
RECORDS = ("keys", "results", "imports", "companies", "lists", SPLITS, PORTAL_FILE)
"""What a load keeps that a rerun must find (:class:`LoadState`'s ``records``)."""


@dataclass(frozen=True)
class LoadState:
    """Where a load keeps what it needs between runs.

    Attributes:
        work: A local folder: the lock (:func:`load_lock`) and the files derived from the plan,
            which every run writes again.
        records: A path or fsspec URL: what a rerun must find (:data:`RECORDS`: the steps'
            results and keys, the import, company and list journals, the portal claim). For a
            local output the same folder as ``work``; for a remote one, in the output itself.
    """

    work: Path
    records: str

    def within(self, name: str) -> LoadState:
        """The state of a part of the load kept apart (a recurring sync's one run): ``name``
        under both folders."""
        return LoadState(self.work / name, f"{self.records.rstrip('/')}/{name}")

    def discard(self) -> None:
        """Remove both folders, and the records' storage block (:func:`record_storage`): a
        sync's run, once its state has advanced. What cannot be removed is left, as a record no
        later run looks for."""
        shutil.rmtree(self.work, ignore_errors=True)
        if self.work != Path(self.records):
            fs, path = fsspec.core.url_to_fs(self.records)
            with suppress(Exception):  # noqa: BLE001 - a storage failure: nothing reads it again
                fs.rm(path, recursive=True)
        block = LocalBlock if _is_local(self.records) else RemoteFileSystem
        with suppress(Exception):  # noqa: BLE001 - the server's: an unused block, nothing more
            block.delete(_results_block_name(self.records))


def load_state(output_url: str, local: Path) -> LoadState:
    """Where a migration keeps its step results, journals and lock between runs.

    A local output folder holds them itself (``<out>/.onramp-load``), so rerunning with the same
    ``--out`` resumes. A remote one keeps its records in ``<out>/.onramp-load`` too (by its
    :func:`normalised_output_url`, so ``s3://outputs/run-1`` and ``s3://outputs/run-1/`` share
    them), and its work folder, which a lock must be local for, under ``$PREFECT_HOME``, named
    by the same URL (or the URL's text as given, where an earlier version kept it so).
    Records an earlier version kept in that work folder are moved into the output by
    :func:`move_records_into_output`.

    Args:
        output_url: The output folder as given (a path or an fsspec URL).
        local: The folder the run writes to locally.
    """
    if _is_local(output_url):
        folder = Path(local) / STATE_FOLDER
        return LoadState(folder, str(folder))
    from prefect.settings import PREFECT_HOME

    states = Path(PREFECT_HOME.value()) / "onramp" / "load-state"
    normalised = states / _state_name(normalised_output_url(output_url))
    as_given = states / _state_name(output_url)
    return LoadState(
        as_given if not normalised.exists() and as_given.exists() else normalised,
        f"{normalised_output_url(output_url)}/{STATE_FOLDER}",
    )


def move_records_into_output(state: LoadState) -> None:
    """Move the records an earlier version kept in a remote output's work folder into the output,
    its own and each recurring sync's unfinished run's (``sync-N``), so an upgrade resends
    nothing; call it holding the output. Records the output has of its own for a folder (a later
    run's, on another machine: its claim, ``portals.json``) win: the work folder's are dropped.

    Raises:
        InputError: The storage refused or did not answer (nothing of the folder is dropped).
    """
    if state.work == Path(state.records) or not state.work.is_dir():
        return
    for folder in [state, *(state.within(sync.name) for sync in sorted(state.work.glob("sync-*")) if sync.is_dir())]:
        _move_records(folder)


def _move_records(state: LoadState) -> None:
    """Move the :data:`RECORDS` of one work folder (not its sub-folders) into its records folder,
    the claim last: once the output has one, a run stopped half way here moves no more."""
    kept = sorted(state.work / name for name in RECORDS if (state.work / name).exists())
    if not kept:
        return
    fs, records = fsspec.core.url_to_fs(state.records)
    try:
        if not fs.exists(f"{records}/{PORTAL_FILE}"):
            files = sorted(path for folder in kept for path in ([folder] if folder.is_file() else folder.rglob("*")) if path.is_file())
            for path in sorted(files, key=lambda path: path.name == PORTAL_FILE):
                fs.pipe_file(f"{records}/{path.relative_to(state.work).as_posix()}", _record_bytes(path))
    except Exception as error:  # noqa: BLE001 - any failure of the storage: nothing is dropped yet
        raise InputError(state.records, f"cannot move the load's records into the output ({storage_problem(error, records)})") from None
    for folder in kept:
        if folder.is_file():
            folder.unlink()
        else:
            shutil.rmtree(folder)


def _record_bytes(path: Path) -> bytes:
    """A record file's bytes as the output keeps them: a step key's (Prefect's result metadata,
    under ``keys/``) names its result by the local path it was written to, which the output's
    result storage reads relative to itself, so it names it by its file name there."""
    data = path.read_bytes()
    if path.parent.name != "keys":
        return data
    metadata = ResultRecordMetadata.load_bytes(data)
    if metadata.storage_key is None:
        return data
    return metadata.model_copy(update={"storage_key": Path(metadata.storage_key).name}).dump_bytes()


class RecordStorage(NamedTuple):
    """Where Prefect keeps a load's step keys and results (:func:`record_storage`)."""

    keys: Path | RemoteFileSystem
    results: LocalBlock | RemoteFileSystem


def record_storage(records: str) -> RecordStorage:
    """Where Prefect keeps the step keys and results of a load whose records are at ``records``.

    The results go through a file system block saved on Prefect's server, named by the folder
    (:func:`_results_block_name`: one per output, and one per recurring sync's run until
    :meth:`LoadState.discard`): Prefect takes block storage only as a saved block, and names a
    result by its path relative to a saved block's folder (by its absolute path for a plain
    local path, which a moved output could then never read again).
    The block holds the folder's path or URL only, the credentials coming from where the flow
    runs, as for the output. The keys go to a path, or a remote block Prefect writes through
    fsspec.
    """
    keys, results = f"{records.rstrip('/')}/keys", f"{records.rstrip('/')}/results"
    local = _is_local(records)
    result_block = LocalBlock(basepath=results) if local else RemoteFileSystem(basepath=results)
    result_block.save(_results_block_name(records), overwrite=True)
    return RecordStorage(Path(keys) if local else RemoteFileSystem(basepath=keys), result_block)


def _is_local(location: str) -> bool:
    """Whether ``location`` (a path or fsspec URL) is on this machine's file system."""
    return isinstance(fsspec.core.url_to_fs(location)[0], LocalFileSystem)


def _results_block_name(records: str) -> str:
    """The name of the storage block of a records folder's step results."""
    return f"onramp-records-{_state_name(records.rstrip('/'))}"


class LoadInProgress(LoadError):
    """Another run holds the load's work folder (or its output's lease): this one sends nothing."""


@contextmanager
def load_lock(folder: str | Path) -> Iterator[None]:
    """Hold a work folder for one load, or refuse at once when another run holds it.

    Two runs into the same output at once (a double click on Run) would both send: opt-outs
    twice, a file imported twice. The lock is ``flock`` on ``<folder>/load.lock``, exclusive
    and never waited for; the kernel drops it when the process ends however it ends, so a
    killed run leaves nothing to clean up. Not re-entrant: a second hold of the same folder,
    in the same process too, is refused. The file says which run holds it, for the refusal.

    Args:
        folder: The load's work folder (local; made if missing).

    Raises:
        LoadInProgress: Another run holds the folder (one line: which, and what to do).
    """
    path = Path(folder) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "r+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise in_progress(handle.read().strip() or f"its lock: {path}") from None
        handle.truncate(0)
        handle.write(lock_holder())
        handle.flush()
        try:
            yield
        finally:
            # Cleared before the kernel drops the lock, so no later refusal names a finished run.
            handle.truncate(0)


def in_progress(holder: str, lapses_at: datetime | None = None) -> LoadInProgress:
    """The refusal of a run into an output that ``holder`` (:func:`lock_holder`) is loading into;
    with ``lapses_at``, when the holder's lease lapses unless it is renewed (a killed run's does)."""
    lapse = f"; its lease lapses at {lapses_at:%H:%M:%S} UTC if that run is gone" if lapses_at else ""
    return LoadInProgress(f"another run is loading into this output ({holder}) now: wait for it to finish, then run again{lapse}")


def lock_holder() -> str:
    """Which run holds a load's lock, as its refusal names it: the flow run, process, host, since when."""
    from prefect.runtime import flow_run

    since = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    run = f"flow run {flow_run.name!r}, " if flow_run.name else ""
    return f"{run}process {os.getpid()} on {socket.gethostname()}, since {since}"


class _FileRecords:
    """A record per contacts file, one small JSON file per step key under a folder of a load's
    records, written whole (:func:`~tasks.output.written_whole`), so concurrent steps never share
    a file and a kill never leaves half a record.

    Args:
        records: The load's records folder (:class:`LoadState`; a path or fsspec URL).
        portal_url: The portal's base URL.
        folder: The records' folder under ``records``.
        step: The step kind keying them (:func:`step_key`).
    """

    def __init__(self, records: str | Path, portal_url: str, folder: str, step: str) -> None:
        self.directory = f"{str(records).rstrip('/')}/{folder}"
        self.portal_url = portal_url
        self.step = step

    def _location(self, plan: LoadPlan, entry: dict[str, Any]) -> str:
        return f"{self.directory}/{step_key(self.step, self.portal_url, plan, entry)}.json"

    def _read(self, plan: LoadPlan, entry: dict[str, Any]) -> Any:
        return read_record(self._location(plan, entry))

    def _write(self, plan: LoadPlan, entry: dict[str, Any], record: dict[str, Any]) -> None:
        with record_written(self._location(plan, entry)) as handle:
            json.dump(record, handle)


class ImportJournal(_FileRecords):
    """Which import each contacts file became, kept under ``<records>/imports/`` so that a killed
    run can find it.

    Args:
        records: The load's records folder (:class:`LoadState`; a path or fsspec URL).
        portal_url: The portal's base URL.
    """

    def __init__(self, records: str | Path, portal_url: str) -> None:
        super().__init__(records, portal_url, "imports", "import")
        self.intent_fields: dict[str, Any] = {}

    def recording(self, fields: dict[str, Any]) -> ImportJournal:
        """This journal, its intents also recording ``fields``: written with the intent, before
        the import is submitted, so a run killed while submitting leaves them too (the upsert
        path's marketing-status import records which planned file and rows it is of)."""
        journal = copy.copy(self)
        journal.intent_fields = {**self.intent_fields, **fields}
        return journal

    def read(self, plan: LoadPlan, entry: dict[str, Any]) -> dict[str, Any]:
        """The file's record: ``{}``, ``{"name", "intent_at"}`` or that with ``import_id``
        (and the :meth:`recording` fields it was written with)."""
        return self._read(plan, entry) or {}

    def intend(self, plan: LoadPlan, entry: dict[str, Any], name: str, at_ms: int | None = None) -> None:
        """Record, before submitting, that an import named ``name`` of the entry's file is about
        to be created (at ``at_ms``, epoch milliseconds; now by default).

        Raises:
            Stopping: The command is stopping: no request starts any more (``tasks/stopping.py``),
                so none is recorded as about to, which would have a rerun send the file as
                this run split it (:class:`SplitJournal`) though nothing of it was sent.
        """
        stopping.check_not_stopping()
        at_ms = int(time.time() * 1000) if at_ms is None else at_ms
        self._write(plan, entry, {"name": name, "file": entry["file"], "intent_at": at_ms, **self.intent_fields})

    def intents(self) -> list[dict[str, Any]]:
        """Every import recorded, ``{"name", "file", "intent_at"}`` and maybe ``import_id`` and
        :meth:`recording` fields (``file`` missing from a record an earlier version wrote)."""
        fs, path = fsspec.core.url_to_fs(self.directory)
        with record_kept(self.directory):
            try:
                locations = fs.ls(path, detail=False)
            except FileNotFoundError:
                return []
        records = (read_record(fs.unstrip_protocol(location)) for location in sorted(locations) if location.endswith(".json"))
        return [record for record in records if isinstance(record, dict)]

    def submitted(self, plan: LoadPlan, entry: dict[str, Any], import_id: str) -> None:
        """Record the import id HubSpot gave the file's import."""
        self._write(plan, entry, {**self.read(plan, entry), "import_id": import_id})


class SplitJournal(_FileRecords):
    """How each planned contacts file was sent, kept so that a rerun can send it the same way:
    under ``<records>/opted-out-splits/``, keyed by the portal and the planned file's content and
    entry (:func:`step_key`), what ``tasks/load/opted_out.py`` decided for it and when
    (``{"decided_at", ...}``, epoch ms).

    Args:
        records: The load's records folder (:class:`LoadState`; a path or fsspec URL).
        portal_url: The portal's base URL.
    """

    def __init__(self, records: str | Path, portal_url: str) -> None:
        super().__init__(records, portal_url, SPLITS, SPLIT_STEP)

    def read(self, plan: LoadPlan, entry: dict[str, Any]) -> dict[str, Any] | None:
        """The planned file's record, or ``None`` when no run recorded one."""
        record = self._read(plan, entry)
        return record if isinstance(record, dict) else None

    def write(self, plan: LoadPlan, entry: dict[str, Any], record: dict[str, Any]) -> None:
        """Record how the planned file is sent (replacing an earlier record)."""
        self._write(plan, entry, record)
