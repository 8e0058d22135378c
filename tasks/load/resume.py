"""What makes the load idempotent and resumable: step keys, their cached results, an import journal.

Mechanism (DESIGN.md "Idempotent and resumable": Prefect's own machinery first):

- **Prefect result persistence + a cache policy.** Every load step (properties, one opt-out file,
  one contacts file) is a Prefect task whose cache key is :func:`step_key`: a hash of the step,
  the portal URL and the bytes the step sends (the file, and the plan entry that says how to send
  it). The task persists its result (``persist_result=True``; Prefect's default is off) as a file
  under the migration's state folder, named by that key. Prefect writes the file only when the
  task completes, and a later run with the same key finds it and returns it as ``Cached`` without
  running the task: no request at all. A step killed half way (SIGKILL, a DAILY stop) left no
  file, so a rerun sends it again. The cache lives in files, not in the Prefect server's database,
  so it survives the process, the server and an ephemeral server's throwaway database.
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
- **One load at a time.** A load holds its state folder (:func:`load_lock`, ``flock``) for its
  duration: a second run into the same output at once stops before it sends anything, and a
  killed run's hold ends with its process. A remote output's state folder is on the machine
  that runs, so the load also holds a lease object in the output itself (:func:`output_lease`):
  a run on another machine stops too, and a killed run's lease lapses once it is not renewed
  (or is taken over at once by a run on the same machine, which sees its process gone).

The portal's URL stands for "where", never the token: nothing here sees it. The key includes no
run id or time, so a rerun of a finished migration finds every step done and writes nothing.
Every portal is at the same URL, though (a sandbox as well as production), so a state folder is
bound to the portal it was written for, by the id HubSpot's account-info API gives
(:func:`claim_state`): a run into another portal stops before it sends anything, rather than
find every step done and send nothing, while a run with a new token for the same portal goes on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import fcntl
import hashlib
import json
import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem
from prefect.cache_policies import CachePolicy
from prefect.context import TaskRunContext
from prefect.transactions import get_transaction

from tasks.errors import InputError, LoadError
from tasks.load.client import HubSpotPortal
from tasks.load.log import get_logger
from tasks.load.plan import LoadPlan
from tasks.output import storage_problem, written_whole
from tasks.stopping import is_interruption

STATE_FOLDER = ".onramp-load"
PORTAL_FILE = "portals.json"
"""In a state folder: per portal URL, which portal it was written for: ``{"portal_id",
"account_type"}``, or, written before portal ids or for a token HubSpot will not say the portal
of, the token's ``HubSpotPortal.identity`` (a hash)."""
LOCK_FILE = "load.lock"
"""In a state folder: the file a load holds locked (``flock``) while it runs, saying which run."""
LEASE_FILE = ".onramp-load.lock"
"""In a remote output (``s3://``), beside its files: the object a load holds while it runs
(:func:`output_lease`), saying which run. None of the run's files is named so (its local copy has
no such file to upload over it) and no folder the run replaces holds it."""
LEASE_SECONDS = 600
"""How long a remote output's lease holds unrenewed: past that its holder is taken for dead (killed,
out of memory, its machine lost) and the next run takes the lease over."""
LEASE_RENEWAL_SECONDS = 60
"""How often a load renews its lease: ten times a lease, so a few failed requests lose nothing."""
LEASE_REQUEST_SECONDS = 30
"""How long one request about the lease (its take, a renewal, its release, a read) may take, its
retries included, before it is given up. s3fs's defaults (a 15 s read timeout, tried again and again)
make minutes of one request to a storage gone silent: a run whose load has finished would hang at its
release with nothing said. The lease lapses by itself anyway, so giving up soon loses nothing; its
requests go through a file system of their own, with timeouts that fit in this
(:func:`lease_file_system`)."""
LEASE_REQUEST_ATTEMPTS = 2
"""How many times botocore sends one request about the lease (s3fs's own retries are off for it)."""
LONGEST_LEASE_SECONDS = 86400
"""The longest lease a lease object may say it holds unrenewed: one saying more (or a pid no process
has) was not written by Onramp, and is read as held by an unknown run for a default lease."""
LARGEST_PID = 2**22
"""Linux's largest process id (``pid_max`` at most)."""
LEASE_LOST = frozenset({"PreconditionFailed", "NoSuchKey", "ConditionalRequestConflict"})
"""S3's error codes for a conditional write or delete of the lease that found another version, or
none, or lost a race to another request: another run's move, not a failure of the storage."""
SCHEME_ALIASES = {"s3a": "s3", "gcs": "gs", "abfs": "az", "abfss": "az"}
"""URL schemes fsspec serves with the same filesystem as another (s3fs registers ``s3`` and
``s3a``, gcsfs ``gs`` and ``gcs``, adlfs ``az``, ``abfs`` and ``abfss``): the same folder."""
IMPORTS = "imports"
UPSERT = "upsert"
CONTACTS_STEPS = (IMPORTS, UPSERT)
"""The step names of a contacts file, by its load path (``tasks/load/run.py`` caches them so)."""
STEPS_AFTER_CONTACTS = frozenset({"list-members", "companies"})
"""Steps keyed by a contacts file's entry that need its contacts in HubSpot: recorded done only
once that file's contacts step is."""
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
    """Bind a state folder to the portal it is written for at a URL, or refuse another portal.

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
        folder: A migration's or a sync's state folder (a path or fsspec URL).
        portal: Where this run loads.

    Raises:
        LoadError: The folder holds the state of a run at this URL into another portal, or one
            this run cannot tell is the same.
    """
    record = f"{str(folder).rstrip('/')}/{PORTAL_FILE}"
    claimed: dict[str, str | dict[str, Any]] = {}
    fs, path = fsspec.core.url_to_fs(record)
    if fs.exists(path):
        with fs.open(path, "r", encoding="utf-8") as handle:
            claimed = json.load(handle)
    claim = claimed.get(portal.url)
    ours = _claim_of(portal)
    # No claim yet, or this token's own hash: the folder is this portal's (its id when known).
    if claim is None or claim == portal.identity:
        if claim != ours:
            with written_whole(record) as handle:
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
    """What binds a state folder to ``portal``: its portal id, else its token's hash."""
    details = portal.details
    if details is None:
        return portal.identity
    return {"portal_id": details.portal_id, "account_type": details.account_type}


def normalised_output_url(output_url: str) -> str:
    """A remote output folder's URL, spelled one way for every way of writing the same folder.

    A trailing slash, repeated slashes (``s3://bucket//run-1``), ``.`` segments and a scheme's
    alias (``s3a://``) do not make another output: a rerun spelling it differently must find
    the same load state, or it sends everything again.

    Args:
        output_url: The output folder as given (an fsspec URL such as ``s3://bucket/run-1/``).

    Returns:
        ``scheme://segment/segment`` (``s3://bucket/run-1``); text without a scheme, unchanged.
    """
    scheme, separator, rest = output_url.partition("://")
    if not separator:
        return output_url
    segments = [segment for segment in rest.split("/") if segment not in ("", ".")]
    return f"{SCHEME_ALIASES.get(scheme, scheme)}://{'/'.join(segments)}"


def _state_name(text: str) -> str:
    """The name of a remote output's state folder under ``$PREFECT_HOME``: a hash of ``text``."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_state_dir(output_url: str, local: Path) -> Path:
    """Where a migration keeps its step results and import journal between runs.

    A local output folder holds them itself (``<out>/.onramp-load``), so rerunning with the same
    ``--out`` resumes. A remote one is written to a fresh temporary folder each run and uploaded
    at the end, so its state lives under ``$PREFECT_HOME`` instead, one folder per output: named
    by its :func:`normalised_output_url`, so ``s3://outputs/run-1`` and ``s3://outputs/run-1/``
    share one. A state an earlier version kept under the URL's text as given is used while the
    normalised name has none, so an upgrade resends nothing.

    Args:
        output_url: The output folder as given (a path or an fsspec URL).
        local: The folder the run writes to locally.
    """
    if isinstance(fsspec.core.url_to_fs(output_url)[0], LocalFileSystem):
        return Path(local) / STATE_FOLDER
    from prefect.settings import PREFECT_HOME

    states = Path(PREFECT_HOME.value()) / "onramp" / "load-state"
    normalised = states / _state_name(normalised_output_url(output_url))
    as_given = states / _state_name(output_url)
    return as_given if not normalised.exists() and as_given.exists() else normalised


def lease_file_system(fs: fsspec.AbstractFileSystem, storage_options: dict | None, request_seconds: float) -> fsspec.AbstractFileSystem:
    """The file system a remote output's lease is written through: the output's (``fs``, its
    endpoint and credentials from ``storage_options``), with timeouts and retries that give up one
    request within about ``request_seconds`` (:data:`LEASE_REQUEST_SECONDS`).

    Args:
        fs: The output's file system (s3fs).
        storage_options: The options it was made with.
        request_seconds: How long one request may take, its retries included.
    """
    options = dict(storage_options or {})
    # Two attempts of a connect and a read: 5 s and 10 s of a 30 s request.
    options["config_kwargs"] = {
        **options.get("config_kwargs", {}),
        "connect_timeout": request_seconds / (3 * LEASE_REQUEST_ATTEMPTS),
        "read_timeout": request_seconds / (1.5 * LEASE_REQUEST_ATTEMPTS),
        "retries": {"max_attempts": LEASE_REQUEST_ATTEMPTS, "mode": "standard"},
    }
    # Not cached: its retries below are its own, not those of the output's file system.
    lease_fs = type(fs)(**options, skip_instance_cache=True)
    lease_fs.retries = 1  # s3fs's tries of a request, on top of botocore's
    return lease_fs


class LoadInProgress(LoadError):
    """Another run holds the load's state folder: this one sends nothing."""


@contextmanager
def load_lock(folder: str | Path) -> Iterator[None]:
    """Hold a state folder for one load, or refuse at once when another run holds it.

    Two runs into the same output at once (a double click on Run) would both send: opt-outs
    twice, a file imported twice. The lock is ``flock`` on ``<folder>/load.lock``, exclusive
    and never waited for; the kernel drops it when the process ends however it ends, so a
    killed run leaves nothing to clean up. Not re-entrant: a second hold of the same folder,
    in the same process too, is refused. The file says which run holds it, for the refusal.

    Args:
        folder: The load's state folder (local; made if missing).

    Raises:
        LoadInProgress: Another run holds the folder (one line: which, and what to do).
    """
    path = Path(folder) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "r+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _in_progress(handle.read().strip() or f"its lock: {path}") from None
        handle.truncate(0)
        handle.write(_lock_holder())
        handle.flush()
        try:
            yield
        finally:
            # Cleared before the kernel drops the lock, so no later refusal names a finished run.
            handle.truncate(0)


def _in_progress(holder: str, lapses_at: datetime | None = None) -> LoadInProgress:
    """The refusal of a run into an output that ``holder`` (:func:`_lock_holder`) is loading into;
    with ``lapses_at``, when the holder's lease lapses unless it is renewed (a killed run's does)."""
    lapse = f"; its lease lapses at {lapses_at:%H:%M:%S} UTC if that run is gone" if lapses_at else ""
    return LoadInProgress(f"another run is loading into this output ({holder}) now: wait for it to finish, then run again{lapse}")


def _lock_holder() -> str:
    """Which run holds a load's lock, as its refusal names it: the flow run, process, host, since when."""
    from prefect.runtime import flow_run

    since = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    run = f"flow run {flow_run.name!r}, " if flow_run.name else ""
    return f"{run}process {os.getpid()} on {socket.gethostname()}, since {since}"


def process_space() -> str | None:
    """Where a process id names one process: this boot of this machine and this process's pid
    namespace (a container's own), or ``None`` where Onramp cannot tell (no ``/proc``).

    A host name alone does not say it: machines made from one image share theirs, and so can
    containers on one host (with its network), each with pids of its own.
    """
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    return f"{boot} {namespace}"


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this process's space (:func:`process_space`) is running; one of
    another user's is."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: running
    return True


@contextmanager
def output_lease(
    output_url: str,
    storage_options: dict | None = None,
    lease_seconds: float = LEASE_SECONDS,
    renewal_seconds: float = LEASE_RENEWAL_SECONDS,
    request_seconds: float = LEASE_REQUEST_SECONDS,
) -> Iterator[None]:
    """Hold a remote output for one load with a lease object in it, or refuse at once when another
    run, on any machine, holds it.

    :func:`load_lock` holds the load's state folder, which for a remote output is on the machine
    that runs (``$PREFECT_HOME``): two workers of a pool would both load into one ``s3://`` output.
    So the run also writes ``<output>/.onramp-load.lock`` (:data:`LEASE_FILE`) with S3's exclusive
    create (``If-None-Match: *``, as s3fs's ``pipe_file(mode="create")`` sends it): a second run
    finds it and stops with the same one-line refusal, naming the holder and when its lease lapses.
    No flock can end with a killed process here, so the lease lapses instead: its holder renews it
    every ``renewal_seconds`` in a daemon thread, and a run finding it unrenewed for longer than
    its holder's ``lease_seconds`` takes it over, as it does at once a lease whose holder's process
    is gone from this machine (:func:`holder_gone`). Every change of the object is conditional on
    the version read (``If-Match``), so of two runs taking over one lapsed lease, one does. Leaving
    however the load ends (Ctrl-C and SIGTERM too, during the take as well), the lease is removed
    if it is still this run's. Each request about the lease gives up within ``request_seconds``
    (:data:`LEASE_REQUEST_SECONDS`), so does the release (a warning says so): a storage gone silent
    at the end of a load delays the run's end by that much at most.

    A local output is left alone (its state folder is in it: :func:`load_lock` is enough), as is
    a remote one on a storage other than S3, whose lease Onramp cannot create exclusively.

    Args:
        output_url: The output folder as given (a path or an fsspec URL).
        storage_options: Options for the remote filesystem (credentials, endpoint).
        lease_seconds: How long this run's lease holds unrenewed (said in the object, for the
            next run to judge it by).
        renewal_seconds: How often this run renews it.
        request_seconds: How long one request about it may take, its retries included.

    Raises:
        LoadInProgress: Another run holds the output (one line: which, when its lease lapses,
            and what to do).
        InputError: The lease cannot be read or written (one line: access denied, no
            credentials, the storage unreachable).
    """
    fs, root = fsspec.core.url_to_fs(output_url, **(storage_options or {}))
    if "s3" not in ({fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)):
        yield
        return
    lease = _OutputLease(
        lease_file_system(fs, storage_options, request_seconds), f"{root.rstrip('/')}/{LEASE_FILE}",
        f"{output_url.rstrip('/')}/{LEASE_FILE}", lease_seconds, request_seconds,
    )  # fmt: skip
    try:
        lease.take()
    except LoadInProgress:
        raise
    except BaseException as error:
        # The write may have been done before the failure or interruption (its answer lost,
        # Ctrl-C while it was sent or answered): left behind, it would refuse every run for a lease.
        lease.withdraw()
        if is_interruption(error):
            raise
        problem = storage_problem(error, root)
        raise InputError(output_url, f"cannot hold the output for this run ({LEASE_FILE}): {problem}") from None
    stop = threading.Event()
    # The run's logger, taken here: the renewing thread has no Prefect run context to find it in.
    renewal = (lease, stop, renewal_seconds, get_logger())
    threading.Thread(target=_renew_until, args=renewal, name="onramp-lease", daemon=True).start()
    try:
        yield
    finally:
        # The renewing thread is not joined: a renewal in flight ends before the release starts
        # (they take turns, _OutputLease.changing; the release waits for it a request's time at
        # most), and none is written after it.
        stop.set()
        lease.release()


@dataclass(frozen=True)
class LeaseFound:
    """A remote output's lease object as read.

    Attributes:
        holder: Which run holds it (:func:`_lock_holder`); ``None`` once released.
        etag: The version read, which a change of it is conditional on.
        lease_seconds: How long its holder said it holds unrenewed.
        unrenewed_seconds: How long since it was last written, by the storage's clock.
        lapses_at: When it lapses unless renewed, by the storage's clock.
        hold_id: Which hold wrote it (:attr:`_OutputLease.hold_id`); ``None`` if none is said.
        pid: The holder's process id; ``None`` if not said (an earlier Onramp's lease).
        process_space: Where that id names the holder (:func:`process_space`); ``None`` if not said.
    """

    holder: str | None
    etag: str
    lease_seconds: float
    unrenewed_seconds: float
    lapses_at: datetime
    hold_id: str | None = None
    pid: int | None = None
    process_space: str | None = None

    @property
    def free(self) -> bool:
        """Whether another run may take it: released, or lapsed (its holder is taken for dead)."""
        return self.holder is None or self.unrenewed_seconds > self.lease_seconds


def holder_gone(found: LeaseFound, here: str | None) -> bool:
    """Whether a lease's holder is known dead: a process of this machine's space ``here``
    (:func:`process_space`) that is no longer running (killed, out of memory). Its lease is
    taken over at once rather than once it lapses.

    A holder of another machine or container, or one whose lease does not say, is not known
    dead: its lease is waited out. A process id reused since only makes the holder seem alive.
    """
    same_space = here is not None and found.process_space == here
    return same_space and found.pid is not None and not process_alive(found.pid)


def unrenewed_seconds(last_modified: datetime, server_date: str | None) -> float:
    """How long ago a lease object was last written.

    Judged by the storage's own clock: the ``Date`` of the response that gave the object's
    ``LastModified``, both the server's, so a worker whose clock is minutes fast never takes a
    live lease over (a margin would only bound the skew it tolerates). Without a ``Date`` header,
    the local clock.

    Args:
        last_modified: The object's ``LastModified``.
        server_date: The response's ``Date`` header, if any.
    """
    now = parsedate_to_datetime(server_date) if server_date else datetime.now(timezone.utc)
    return (now - last_modified).total_seconds()


class _LeaseLost(Exception):
    """This run's lease is no longer its own; the message says how (for the run's log)."""


class _OutputLease:
    """One run's lease object in a remote output on S3 (:func:`output_lease`).

    Its version (ETag) is the one S3 gave this run's last write of it: each write, unchanged
    bytes too, may get a new one (an SSE-KMS or SSE-C object's ETag is no digest of its bytes).

    Args:
        fs: The lease's file system (s3fs, :func:`lease_file_system`).
        path: The object (``bucket/key``).
        location: The object's URL, for messages.
        lease_seconds: How long the lease holds unrenewed.
        request_seconds: How long one request about it may take before it is given up.
    """

    def __init__(self, fs: fsspec.AbstractFileSystem, path: str, location: str, lease_seconds: float, request_seconds: float) -> None:
        self.fs = fs
        self.path = path
        self.location = location
        self.lease_seconds = lease_seconds
        self.request_seconds = request_seconds
        self.bucket, self.key, _ = fs.split_path(path)
        # Which hold this is, in the object: a write of it whose answer was lost (botocore's retry
        # of it then finds the lease already written) is found to be this run's own by it.
        self.hold_id = uuid.uuid4().hex
        self.body = json.dumps({
            "holder": _lock_holder(), "lease_seconds": lease_seconds, "id": self.hold_id,
            "pid": os.getpid(), "process_space": process_space(),
        }).encode()  # fmt: skip
        self.etag = ""
        # Renewing and releasing, in two threads, each read and replace the version held.
        self.changing = threading.Lock()
        self.released = False
        # The last request sent, which goes on in fsspec's event loop when the thread that sent it
        # stops waiting (Ctrl-C): a take interrupted waits for it before it looks for its write.
        self.in_flight: concurrent.futures.Future | None = None

    def take(self) -> None:
        """Create the lease, or take over a free one (:attr:`LeaseFound.free`) or one whose holder
        is gone (:func:`holder_gone`).

        Raises:
            LoadInProgress: Another run holds it.
        """
        found = None
        here = process_space()
        # Three tries: between two requests, the holder may release or another run take it over.
        for _ in range(3):
            if self._write_held(IfNoneMatch="*"):
                return
            found = self._read()
            if found is None:
                continue  # released since
            if self._keep_if_own(found):
                return
            gone = holder_gone(found, here)
            if not (found.free or gone):
                raise _in_progress(found.holder, found.lapses_at)
            if self._write_held(IfMatch=found.etag):
                if gone:
                    get_logger().warning(
                        "%s: took the load's lease over from %s: its process is no longer running on this machine "
                        "(killed, or out of memory)",
                        self.location, found.holder,
                    )
                elif found.holder:
                    get_logger().warning(
                        "%s: took the load's lease over from %s: not renewed for %d s, longer than its %d s lease "
                        "(that run was killed or its machine lost)",
                        self.location, found.holder, found.unrenewed_seconds, found.lease_seconds,
                    )
                return
        if found and found.holder:
            raise _in_progress(found.holder, found.lapses_at)
        raise _in_progress(f"its lease: {self.location}")

    def renew(self) -> None:
        """Write the lease again, if it is still this run's, keeping the version S3 gives it.

        Raises:
            _LeaseLost: It is not this run's any more (taken over, or deleted).
        """
        with self.changing:
            if self.released or self._write_held(IfMatch=self.etag):
                return
            found = self._read()
            if found is not None and self._keep_if_own(found):
                return
            if found is None:
                raise _LeaseLost(
                    "the load's lease was deleted while it ran (by someone, or by a run that took it over and has "
                    "ended): a run into this output now is not refused"
                )
            if found.holder is None:
                raise _LeaseLost(
                    "another run took this load's lease over (it went unrenewed longer than its lease) and has ended"
                )
            raise _LeaseLost(
                f"another run ({found.holder}) took this load's lease over (it went unrenewed longer than its lease): "
                "two runs may be loading into this output now"
            )

    def release(self) -> None:
        """Remove the lease if it is still this run's, and renew it no more. A policy that grants
        writing but not deleting gets it marked released instead, which the next run takes at
        once. Given up within :attr:`request_seconds` (a renewal in flight waited for included),
        with a warning that the next run waits for it to lapse."""
        self.released = True  # a renewal in flight is the last
        deadline = time.monotonic() + self.request_seconds
        if not self.changing.acquire(timeout=self.request_seconds):
            self._warn_unreleased(f"a renewal of it got no answer within {self.request_seconds:g} s")
            return
        try:
            self._request("delete_object", deadline, IfMatch=self.etag)
        except Exception as error:  # noqa: BLE001 - the load is over: the lease lapses by itself
            code = _s3_error_code(error)
            if code in LEASE_LOST:
                return  # another run's now: not this run's to remove
            # Refused (a policy without s3:DeleteObject): marked released instead. Not answered at
            # all (a timeout, the storage unreachable): a marking would not be either.
            if code is None or not self._mark_released(deadline):
                self._warn_unreleased(storage_problem(error, self.path))
        finally:
            self.changing.release()

    def _mark_released(self, deadline: float) -> bool:
        """Write the lease as released (``{"holder": null}``) if it is still this run's.

        Returns:
            Whether it is no longer this run's: marked so, or another run's.
        """
        try:
            self._write(json.dumps({"holder": None}).encode(), deadline, IfMatch=self.etag)
        except Exception:  # noqa: BLE001 - the delete's refusal is what the warning says
            return False
        return True

    def _warn_unreleased(self, problem: str) -> None:
        get_logger().warning(
            "%s: could not release the load's lease (%s): it lapses by itself within %d s; a run into this "
            "output before then is refused",
            self.location, problem, self.lease_seconds,
        )  # fmt: skip

    def withdraw(self) -> None:
        """Release the lease if a :meth:`take` that did not end wrote it; if the storage cannot
        say, the lease lapses by itself (the take's own failure is what the run reports)."""
        if self.in_flight is not None:
            # Interrupted while a write was sent: it may still land, once the storage answers it.
            concurrent.futures.wait([self.in_flight], timeout=self.request_seconds)
        try:
            found = self._read()
        except Exception:  # noqa: BLE001 - the take's failure is what the run reports; the lease lapses by itself
            return
        if found is not None and self._keep_if_own(found):
            self.release()

    def _keep_if_own(self, found: LeaseFound) -> bool:
        """Whether ``found`` is this hold's own write (its answer lost, or not yet seen); if so, it is
        held from the version read on."""
        if found.hold_id != self.hold_id:
            return False
        self.etag = found.etag
        return True

    def _write_held(self, **condition: str) -> bool:
        """Write this run's lease if ``condition`` holds, keeping the version S3 gives it.

        Returns:
            Whether it was written.
        """
        etag = self._write(self.body, **condition)
        if etag:
            self.etag = etag
        return etag is not None

    def _write(self, body: bytes, deadline: float | None = None, **condition: str) -> str | None:
        """Write the lease object if ``condition`` (``IfNoneMatch``, ``IfMatch``) holds.

        Returns:
            Its new ETag; ``None`` when the condition did not hold (:data:`LEASE_LOST`).
        """
        try:
            written = self._request("put_object", deadline, Body=body, **condition)
        except Exception as error:
            if _s3_error_code(error) in LEASE_LOST:
                return None
            raise
        return written["ETag"]

    def _read(self) -> LeaseFound | None:
        """The lease object as it is, or ``None`` when there is none: one ``GET``, so its body, its
        version and when it was written are of one version."""
        try:
            answer, body = self._run(self._get())
        except FileNotFoundError:
            return None
        last_modified = answer["LastModified"]
        # Not a lease Onramp wrote: held, by whom it cannot say, for a default lease.
        terms = lease_terms(body) or {"holder": f"its lease: {self.location}", "lease_seconds": LEASE_SECONDS}
        unrenewed = unrenewed_seconds(last_modified, answer["ResponseMetadata"]["HTTPHeaders"].get("date"))
        return LeaseFound(
            etag=answer["ETag"], unrenewed_seconds=unrenewed,
            lapses_at=last_modified + timedelta(seconds=terms["lease_seconds"]), **terms,
        )  # fmt: skip

    async def _get(self) -> tuple[dict[str, Any], bytes]:
        """The lease object's ``GET`` answer and its body, read in the same request."""
        answer = await self.fs._call_s3("get_object", Bucket=self.bucket, Key=self.key)
        async with answer["Body"] as stream:
            return answer, await stream.read()

    def _request(self, method: str, deadline: float | None = None, **params: Any) -> dict[str, Any]:
        """S3's answer to ``method`` on the lease object, given up at ``deadline`` (``time.monotonic``),
        else after :attr:`request_seconds`."""
        seconds = self.request_seconds if deadline is None else deadline - time.monotonic()
        if seconds <= 0:
            raise TimeoutError(f"the storage did not answer within {self.request_seconds:g} s")
        return self._run(self.fs._call_s3(method, Bucket=self.bucket, Key=self.key, **params), seconds)

    def _run(self, request: Coroutine[Any, Any, Any], seconds: float | None = None) -> Any:
        """The result of ``request`` run in the file system's event loop, given up (cancelled)
        after ``seconds`` (:attr:`request_seconds` by default).

        Raises:
            TimeoutError: It was not done in time (one line, for the run's log).
        """
        seconds = self.request_seconds if seconds is None else seconds
        self.in_flight = asyncio.run_coroutine_threadsafe(request, self.fs.loop)
        try:
            return self.in_flight.result(timeout=seconds)
        except concurrent.futures.TimeoutError:
            if self.in_flight.done():
                raise  # the request's own timeout
            self.in_flight.cancel()
            raise TimeoutError(f"the storage did not answer within {self.request_seconds:g} s") from None


def lease_terms(body: bytes) -> dict[str, Any] | None:
    """What a lease object's body says, as :class:`LeaseFound` takes it (``holder``,
    ``lease_seconds``, ``hold_id``, ``pid``, ``process_space``); ``None`` for a body Onramp did
    not write: not JSON, or a holder, a lease or a process id that no Onramp would write.

    Args:
        body: The object's bytes.
    """
    try:
        terms = json.loads(body)
    except ValueError:
        return None
    if not isinstance(terms, dict):
        return None
    holder, lease_seconds, hold_id = terms.get("holder", ...), terms.get("lease_seconds", LEASE_SECONDS), terms.get("id")
    pid, space = terms.get("pid"), terms.get("process_space")
    understood = (
        (holder is None or isinstance(holder, str))
        and _is_number(lease_seconds) and 0 <= lease_seconds <= LONGEST_LEASE_SECONDS
        and (hold_id is None or isinstance(hold_id, str))
        and (pid is None or (_is_number(pid) and pid == int(pid) and 0 < pid <= LARGEST_PID))
        and (space is None or isinstance(space, str))
    )  # fmt: skip
    if not understood:
        return None
    return {
        "holder": holder, "lease_seconds": float(lease_seconds), "hold_id": hold_id,
        "pid": None if pid is None else int(pid), "process_space": space,
    }  # fmt: skip


def _is_number(value: Any) -> bool:
    """Whether ``value`` is a finite JSON number (``true`` is not one)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _renew_until(
    lease: _OutputLease, stop: threading.Event, every: float, logger: logging.Logger | logging.LoggerAdapter
) -> None:
    """Renew ``lease`` every ``every`` seconds until ``stop`` is set or the lease is lost, saying
    to ``logger`` what went wrong."""
    while not stop.wait(every):
        try:
            lease.renew()
        except _LeaseLost as lost:
            logger.warning("%s: %s", lease.location, lost)
            return
        except Exception as error:  # noqa: BLE001 - a failed renewal is tried again; the lease outlasts ten
            if not stop.is_set():
                problem = storage_problem(error, lease.path)
                logger.warning("%s: could not renew the load's lease (%s)", lease.location, problem)


def _s3_error_code(error: BaseException) -> str | None:
    """S3's error code behind an error s3fs raised (it keeps botocore's as the cause), if any."""
    response = getattr(error.__cause__, "response", None) or {}
    return response.get("Error", {}).get("Code")


class ImportJournal:
    """Which import each contacts file became, kept in files so that a killed run can find it.

    One small JSON file per step key under ``<state>/imports/``, written atomically (a rename),
    so concurrent import tasks never share a file and a kill never leaves half a record.

    Args:
        directory: The migration's state folder.
        portal_url: The portal's base URL.
    """

    def __init__(self, directory: Path, portal_url: str) -> None:
        self.directory = Path(directory) / "imports"
        self.portal_url = portal_url

    def _path(self, plan: LoadPlan, entry: dict[str, Any]) -> Path:
        return self.directory / f"{step_key('import', self.portal_url, plan, entry)}.json"

    def read(self, plan: LoadPlan, entry: dict[str, Any]) -> dict[str, Any]:
        """The file's record: ``{}``, ``{"name", "intent_at"}`` or that with ``import_id``."""
        try:
            return json.loads(self._path(plan, entry).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _write(self, plan: LoadPlan, entry: dict[str, Any], record: dict[str, Any]) -> None:
        with written_whole(self._path(plan, entry)) as handle:
            json.dump(record, handle)

    def intend(self, plan: LoadPlan, entry: dict[str, Any], name: str, at_ms: int | None = None) -> None:
        """Record, before submitting, that an import named ``name`` is about to be created
        (at ``at_ms``, epoch milliseconds; now by default)."""
        self._write(plan, entry, {"name": name, "intent_at": int(time.time() * 1000) if at_ms is None else at_ms})

    def submitted(self, plan: LoadPlan, entry: dict[str, Any], import_id: str) -> None:
        """Record the import id HubSpot gave the file's import."""
        self._write(plan, entry, {**self.read(plan, entry), "import_id": import_id})
