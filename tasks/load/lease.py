"""One load at a time into a remote output, on any machine: a lease object in the output.

:func:`~tasks.load.resume.load_lock` holds a load's work folder with ``flock``, which for a
remote output (``s3://``) is on the machine that runs (``$PREFECT_HOME``): two workers of a pool
would both load into one output. So the load also holds ``<output>/.onramp-load.lock``
(:func:`output_lease`), created exclusively and changed only conditionally on the version read,
renewed while the load runs and removed when it ends; a killed run's lease lapses once it is not
renewed, or is taken over at once by a run on the same machine, which sees its process gone.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import math
import os
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

from tasks.errors import InputError, LoadError
from tasks.load.log import get_logger
from tasks.load.resume import LoadInProgress, LoadState, in_progress, load_lock, load_state, lock_holder
from tasks.output import storage_problem
from tasks.stopping import is_interruption

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
def output_held(output_url: str, local: Path) -> Iterator[tuple[LoadState, LeaseHold]]:
    """Hold an output for one run, or refuse at once when another run holds it: its load's work
    folder locked (:func:`~tasks.load.resume.load_lock`) and, for a remote output, its lease
    (:func:`output_lease`), for a run on another machine. Yields the load's state (its work
    folder is the one held) and the lease's hold.

    Args:
        output_url: The output folder as given (a path or an fsspec URL).
        local: The folder the run writes to locally (:func:`~tasks.load.resume.load_state`).

    Raises:
        LoadInProgress: Another run holds the output (one line: which, and what to do).
        InputError: A remote output's lease cannot be read or written.
    """
    state = load_state(output_url, local)
    with load_lock(state.work), output_lease(output_url) as lease:
        yield state, lease


@contextmanager
def output_lease(
    output_url: str,
    storage_options: dict | None = None,
    lease_seconds: float = LEASE_SECONDS,
    renewal_seconds: float | None = None,
    request_seconds: float = LEASE_REQUEST_SECONDS,
) -> Iterator[LeaseHold]:
    """Hold a remote output for one load with a lease object in it, or refuse at once when another
    run, on any machine, holds it. Yields the hold, which says once the lease is lost.

    :func:`~tasks.load.resume.load_lock` holds the load's work folder, which for a remote output is on the machine
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
    if it is still this run's. A lease lost while the load runs (deleted, or taken over after the
    run went unrenewed longer than its lease: a machine asleep, a storage out of reach) is said in
    a warning, and :meth:`LeaseHold.check` raises from then on: the load stops at its next request
    to HubSpot (``HubSpotPortal.guard``), as another run may be loading into the output. Each request about the lease gives up within ``request_seconds``
    (:data:`LEASE_REQUEST_SECONDS`), so does the release (a warning says so): a storage gone silent
    at the end of a load delays the run's end by that much at most.

    A local output is left alone (its work folder is in it: ``load_lock`` is enough), as is
    a remote one on a storage other than S3, whose lease Onramp cannot create exclusively.

    Args:
        output_url: The output folder as given (a path or an fsspec URL).
        storage_options: Options for the remote filesystem (credentials, endpoint).
        lease_seconds: How long this run's lease holds unrenewed (said in the object, for the
            next run to judge it by).
        renewal_seconds: How often this run renews it; :data:`LEASE_RENEWAL_SECONDS` by default.
        request_seconds: How long one request about it may take, its retries included.

    Raises:
        LoadInProgress: Another run holds the output (one line: which, when its lease lapses,
            and what to do).
        InputError: The lease cannot be read or written (one line: access denied, no
            credentials, the storage unreachable).
    """
    fs, root = fsspec.core.url_to_fs(output_url, **(storage_options or {}))
    location = f"{output_url.rstrip('/')}/{LEASE_FILE}"
    hold = LeaseHold(location)
    if "s3" not in ({fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)):
        yield hold
        return
    lease = _OutputLease(
        lease_file_system(fs, storage_options, request_seconds), f"{root.rstrip('/')}/{LEASE_FILE}",
        location, lease_seconds, request_seconds,
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
    renewal = (lease, hold, stop, LEASE_RENEWAL_SECONDS if renewal_seconds is None else renewal_seconds, get_logger())
    threading.Thread(target=_renew_until, args=renewal, name="onramp-lease", daemon=True).start()
    try:
        yield hold
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
        holder: Which run holds it (:func:`~tasks.load.resume.lock_holder`); ``None`` once released.
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


class LeaseLost(LoadError):
    """The output's lease is no longer this run's: its load stops (:meth:`LeaseHold.check`)."""


class LeaseHold:
    """One run's hold of its output (:func:`output_lease`): whether its lease is still its own.

    Args:
        location: The lease object's URL, for messages.
    """

    def __init__(self, location: str) -> None:
        self.location = location
        self.lost: str | None = None

    def check(self) -> None:
        """Raise if the lease was lost; call it before each request the load sends.

        Raises:
            LeaseLost: The lease was lost (one line: how, and what to do).
        """
        if self.lost is not None:
            raise LeaseLost(f"{self.location}: {self.lost}; the load stopped: once no other run loads into this output, run again to resume")


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
            "holder": lock_holder(), "lease_seconds": lease_seconds, "id": self.hold_id,
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
                raise in_progress(found.holder, found.lapses_at)
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
            raise in_progress(found.holder, found.lapses_at)
        raise in_progress(f"its lease: {self.location}")

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
    lease: _OutputLease, hold: LeaseHold, stop: threading.Event, every: float, logger: logging.Logger | logging.LoggerAdapter
) -> None:
    """Renew ``lease`` every ``every`` seconds until ``stop`` is set or the lease is lost (then
    ``hold`` says so), saying to ``logger`` what went wrong."""
    while not stop.wait(every):
        try:
            lease.renew()
        except _LeaseLost as lost:
            hold.lost = str(lost)
            logger.warning("%s: %s; the load stops at its next request", lease.location, lost)
            return
        except Exception as error:  # noqa: BLE001 - a failed renewal is tried again; the lease outlasts ten
            if not stop.is_set():
                problem = storage_problem(error, lease.path)
                logger.warning("%s: could not renew the load's lease (%s)", lease.location, problem)


def _s3_error_code(error: BaseException) -> str | None:
    """S3's error code behind an error s3fs raised (it keeps botocore's as the cause), if any."""
    response = getattr(error.__cause__, "response", None) or {}
    return response.get("Error", {}).get("Code")
