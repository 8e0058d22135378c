"""The run's output folder: a local path or any fsspec URL.

Files are always written to a local folder first (polars and HubSpot's SDK both want local
paths); for a remote URL that folder is a temporary one uploaded by :meth:`OutputFolder.publish`
and removed once uploaded.

Nothing here ever creates a bucket: s3fs's ``makedirs`` (and so a recursive ``put``) creates a
missing bucket (fsspec/s3fs#1045: no option turns that off), which would turn a mistyped bucket
name into a new bucket holding the run's contacts. Only files are written remotely (an object
store has no folders to make), and a missing bucket is refused before any work.
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from tasks.errors import InputError, LoadError

NOT_A_FOLDER = (FileExistsError, NotADirectoryError)
"""What creating a folder raises where a file (or a device) already holds the name or a parent's."""

WRITE_CHECK_PREFIX = ".onramp-write-check-"
"""The name of the empty object written and removed to check a remote output before any work."""

STORAGE_CLIENT_PROBLEMS = {
    "NoCredentialsError": "no AWS credentials where the flow runs (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
    "a profile or a role)",
    "PartialCredentialsError": "incomplete AWS credentials where the flow runs",
    "EndpointConnectionError": "cannot reach the storage (nothing answers at its endpoint)",
    "ConnectTimeoutError": "cannot reach the storage (its endpoint does not answer in time)",
    "ReadTimeoutError": "the storage stopped answering (no answer in time)",
}
"""What an object store's client error means, by its class name: the clients (botocore, ...) are
imported only by the file systems that use them."""


SCHEME_ALIASES = {"s3a": "s3", "gcs": "gs", "abfs": "az", "abfss": "az"}
"""URL schemes fsspec serves with the same filesystem as another (s3fs registers ``s3`` and
``s3a``, gcsfs ``gs`` and ``gcs``, adlfs ``az``, ``abfs`` and ``abfss``): the same folder."""


def normalised_output_url(output_url: str) -> str:
    """A remote output folder's URL, spelled one way for every way of writing the same folder.

    A trailing slash, repeated slashes (``s3://bucket//run-1``), ``.`` segments and a scheme's
    alias (``s3a://``) do not make another output: a rerun spelling it differently must find
    the same output, load state and lease, or it sends everything again (and two runs on two
    machines, each holding its own spelling, would load at once).

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


@contextmanager
def written_whole(location: str | Path, mode: str = "w") -> Iterator[IO]:
    """A file at ``location`` (a path or fsspec URL), put in place only once written whole: a
    kill or an error mid-write leaves the previous file, never half of one. Locally it is written
    aside and renamed (its folder created); to an object store it is held in memory and sent as
    one object, which a store writes whole (no copy to move, so no delete either: a policy
    without ``s3:DeleteObject`` can still write it).

    Args:
        location: The file.
        mode: ``"w"`` (UTF-8 text) or ``"wb"``.
    """
    fs, path = fsspec.core.url_to_fs(str(location))
    if not isinstance(fs, LocalFileSystem):
        held = io.BytesIO()
        yield held if "b" in mode else io.TextIOWrapper(held, encoding="utf-8", write_through=True)
        fs.pipe_file(path, held.getvalue())
        return
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    # The process in the name: two writers of one file never share the aside copy.
    partial = f"{path}.{os.getpid()}.partial"
    with fs.open(partial, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
        yield handle
    fs.mv(partial, path)


@contextmanager
def record_kept(location: str | Path) -> Iterator[None]:
    """Read or write a load's record at ``location`` (a path or fsspec URL): a failure of the
    storage (a 500, access denied, no answer) stops the load in one line rather than pass for a
    record never written, which would send its step again (an import twice). A record not found
    (``FileNotFoundError``) or not readable as one (``ValueError``, ``KeyError``) is the caller's.

    Raises:
        LoadError: The storage failed (one line: which record, why, and that a rerun resumes).
    """
    try:
        yield
    except (FileNotFoundError, ValueError, KeyError):
        raise
    except Exception as error:  # noqa: BLE001 - any failure of the storage: its client's classes vary
        path = fsspec.core.url_to_fs(str(location))[1]
        raise LoadError(
            f"{location}: cannot read or write the load's record ({storage_problem(error, path)}): run again once the "
            "storage answers; what is done is kept"
        ) from None


@contextmanager
def record_written(location: str | Path) -> Iterator[IO]:
    """A load's record at ``location``, written whole (:func:`written_whole`); a failure of the
    storage stops the load in one line (:func:`record_kept`)."""
    with record_kept(location), written_whole(location) as handle:
        yield handle


def read_record(location: str | Path) -> Any:
    """A load's JSON record at ``location``: None when there is none, or none readable as JSON
    (a storage failure stops the load in one line, :func:`record_kept`)."""
    try:
        with record_kept(location), fsspec.open(str(location), "r", encoding="utf-8") as handle:
            return json.load(handle)
    except (FileNotFoundError, ValueError):
        return None


class OutputFolder:
    """Where a run writes its report, rejects and import files.

    A remote output's local copy (a temporary folder) holds the whole plan, email addresses
    included: it is removed once published, or when the run ends without publishing (used as a
    context manager); only a copy that could not be published is kept, and the error says where.

    Args:
        url: A local path or an fsspec URL such as ``s3://bucket/run-1``.
        storage_options: Options for the remote filesystem (credentials, endpoint).

    Raises:
        InputError: The local folder cannot be made (a file is in the way, no permission, ...);
            named as ``--out``, the option every command takes it from.
    """

    def __init__(self, url: str, storage_options: dict | None = None) -> None:
        self.url = url
        self._fs, self._root = fsspec.core.url_to_fs(url, **(storage_options or {}))
        if isinstance(self._fs, LocalFileSystem):
            self.local = Path(self._root)
            self._remote = False
        else:
            # By one spelling (normalised_output_url): its files, its load's records and its
            # lease are where every spelling of it finds them.
            self.url = normalised_output_url(url)
            self._root = fsspec.core.url_to_fs(self.url, **(storage_options or {}))[1]
            self.local = Path(tempfile.mkdtemp(prefix="onramp-out-"))
            self._remote = True
        self._replaced: set[str] = set()
        self._kept = False
        _make_folder(self.local, url)

    def __enter__(self) -> OutputFolder:
        return self

    def __exit__(self, *_exc_info: object) -> None:
        self.discard_local_copy()

    def discard_local_copy(self) -> None:
        """Remove a remote output's local copy, unless publishing it failed (the error said where
        it is kept). A local output folder is the output itself: never removed."""
        if self._remote and not self._kept:
            shutil.rmtree(self.local, ignore_errors=True)

    def path(self, relative: str) -> Path:
        """The local path of a file of the run, its folder created."""
        target = self.local / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def location(self, relative: str) -> str:
        """Where a person finds a file of the run once published."""
        if self._remote:
            return f"{self.url.rstrip('/')}/{relative}"
        return str(self.local / relative)

    def replace_folder(self, relative: str) -> Path:
        """A folder the run writes whole, emptied of what an earlier run left in it.

        A plan into a used output folder (a rerun, each run of a sync) would otherwise leave
        the earlier plan's files beside its own: an import file a smaller plan no longer has
        would pass for one of this run's. A remote copy is replaced when the run publishes.

        Args:
            relative: The folder, relative to the output folder.

        Returns:
            The local folder, empty.
        """
        target = self.local / relative
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        self._replaced.add(relative)
        return target

    def publish(self) -> None:
        """Upload the local files to the remote URL (nothing to do for a local folder), then
        remove the local copy; the remote copies of the folders the run replaced are removed first.

        Raises:
            InputError: The upload failed: one line saying why and where the local copy is kept.
        """
        if not self._remote:
            return
        try:
            for relative in sorted(self._replaced):
                remote = f"{self._root.rstrip('/')}/{relative}"
                if self._fs.exists(remote):
                    self._fs.rm(remote, recursive=True)
            files = sorted(path for path in self.local.rglob("*") if path.is_file())
            # Files only, as two lists: a folder would be "made" remotely, creating a missing bucket.
            self._fs.put(
                [str(path) for path in files],
                [f"{self._root.rstrip('/')}/{path.relative_to(self.local).as_posix()}" for path in files],
            )
        except Exception as error:  # noqa: BLE001 - any failure of the storage: the output is kept
            self._kept = True
            raise InputError(
                self.url, f"could not publish the output ({storage_problem(error, self._root)}); it is kept in {self.local}"
            ) from None
        self._replaced.clear()
        self.discard_local_copy()


def check_output_location(url: str, storage_options: dict | None = None) -> None:
    """Refuse an unusable ``--out`` before any work: a local folder is made now, a remote one is
    checked by :func:`check_remote_output`.

    Args:
        url: The output folder, a local path or an fsspec URL.
        storage_options: Options for the remote filesystem (credentials, endpoint).

    Raises:
        InputError: The local folder cannot be made, as :class:`OutputFolder` says; or the remote
            one cannot be written, as :func:`check_remote_output` says.
    """
    make_local_output(url, storage_options)
    check_remote_output(url, storage_options)


def make_local_output(url: str, storage_options: dict | None = None) -> None:
    """Make a local output folder now, refusing a file in its way as :class:`OutputFolder` does;
    a remote output is left alone (:func:`check_remote_output` checks it).

    Raises:
        InputError: The local folder cannot be made.
    """
    fs, root = _file_system(url, storage_options)
    if isinstance(fs, LocalFileSystem):
        _make_folder(Path(root), url)


def check_remote_output(url: str, storage_options: dict | None = None) -> None:
    """Refuse a remote output that cannot be written, before any work, by writing and removing an
    empty object in it (its bucket is never created); a local path is left alone (it is made,
    and so checked, when the run's :class:`OutputFolder` is). A policy that grants writing but
    not deleting passes, with a warning naming the object left behind: the run needs only to write.

    Args:
        url: The output folder, a local path or an fsspec URL.
        storage_options: Options for the remote filesystem (credentials, endpoint).

    Raises:
        InputError: One line naming the output and why: it names no bucket, no credentials, no
            such bucket, access denied, the storage unreachable.
    """
    fs, root = _file_system(url, storage_options)
    if isinstance(fs, LocalFileSystem):
        return
    if not root.strip("/"):
        raise InputError(url, "the output names no bucket: give the bucket and a folder in it (s3://BUCKET/FOLDER)")
    probe = f"{root.rstrip('/')}/{WRITE_CHECK_PREFIX}{uuid.uuid4().hex}"
    try:
        fs.pipe_file(probe, b"")
    except Exception as error:  # noqa: BLE001 - any failure of the storage makes the output unusable
        raise InputError(url, f"cannot write the output: {storage_problem(error, root)}") from None
    try:
        fs.rm_file(probe)
    except Exception as error:  # noqa: BLE001 - written is all the run needs
        from tasks.load.log import get_logger

        get_logger().warning(
            "%s: the output's write check could not remove %s (%s): delete it when convenient",
            url, probe.rsplit("/", 1)[-1], storage_problem(error, root),
        )


def _file_system(url: str, storage_options: dict | None) -> tuple[fsspec.AbstractFileSystem, str]:
    """The file system of the output and its path there; one that cannot even be set up (its
    package missing, say) makes the output unusable."""
    try:
        return fsspec.core.url_to_fs(url, **(storage_options or {}))
    except Exception as error:  # noqa: BLE001
        raise InputError(url, f"cannot write the output: {storage_problem(error)}") from None


def storage_problem(error: BaseException, path: str = "") -> str:
    """What an error of a remote storage means, in a few words and never a traceback.

    Args:
        error: What the file system (or its client) raised.
        path: The path (``bucket/key``) the error is about, to name its bucket.
    """
    for kind in type(error).__mro__:
        if kind.__name__ in STORAGE_CLIENT_PROBLEMS:
            return STORAGE_CLIENT_PROBLEMS[kind.__name__]
    bucket = path.strip("/").split("/", 1)[0]
    named = f" {bucket!r}" if bucket else ""
    if isinstance(error, FileNotFoundError):
        return f"no such bucket{named}: create it, or name an existing one"
    if isinstance(error, PermissionError):
        return f"access denied to the bucket{named}"
    if isinstance(error, OSError) and error.errno == errno.EINVAL:
        return f"not a valid bucket name{named}"
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _make_folder(folder: Path, url: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"--out {url}", _unusable(folder, error)) from error


def _unusable(folder: Path, error: OSError) -> str:
    """Why the output folder cannot be made, and what to do, in a few words."""
    if isinstance(error, NOT_A_FOLDER):
        # The first path from the root that exists and is not a folder is what is in the way.
        on_the_way = (*reversed(folder.parents), folder)
        blocker = next((part for part in on_the_way if part.exists() and not part.is_dir()), folder)
        where = "it" if blocker == folder else str(blocker)
        return f"not a folder: {where} is a file; give --out a new or existing folder"
    return f"cannot create the folder: {error.strerror or error}"
