"""The run's output folder: a local path or any fsspec URL.

Files are always written to a local folder first (polars and HubSpot's SDK both want local
paths); for a remote URL that folder is a temporary one uploaded by :meth:`publish`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import fsspec
from fsspec.implementations.local import LocalFileSystem

from tasks.errors import InputError

NOT_A_FOLDER = (FileExistsError, NotADirectoryError)
"""What creating a folder raises where a file (or a device) already holds the name or a parent's."""


@contextmanager
def written_whole(location: str | Path, mode: str = "w") -> Iterator[IO]:
    """A file at ``location`` (a path or fsspec URL), written aside and moved into place once
    whole: a kill mid-write leaves the previous file, never half of one (locally a rename; an
    object store writes an object whole). Its folder is created.

    Args:
        location: The file.
        mode: ``"w"`` (UTF-8 text) or ``"wb"``.
    """
    fs, path = fsspec.core.url_to_fs(str(location))
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    # The process in the name: two writers of one file never share the aside copy.
    partial = f"{path}.{os.getpid()}.partial"
    with fs.open(partial, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
        yield handle
    fs.mv(partial, path)


class OutputFolder:
    """Where a run writes its report, rejects and import files.

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
            self.local = Path(tempfile.mkdtemp(prefix="onramp-out-"))
            self._remote = True
        self._replaced: set[str] = set()
        _make_folder(self.local, url)

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
        """Upload the local files to the remote URL (nothing to do for a local folder); the
        remote copies of the folders the run replaced are removed first."""
        if self._remote:
            for relative in sorted(self._replaced):
                remote = f"{self._root.rstrip('/')}/{relative}"
                if self._fs.exists(remote):
                    self._fs.rm(remote, recursive=True)
            self._fs.put(f"{self.local}/", self._root, recursive=True)


def check_output_location(url: str) -> None:
    """Make a local output folder now, so an unusable ``--out`` is refused before any work
    (a remote one is checked when the run publishes to it).

    Raises:
        InputError: The local folder cannot be made, as :class:`OutputFolder` says.
    """
    fs, root = fsspec.core.url_to_fs(url)
    if isinstance(fs, LocalFileSystem):
        _make_folder(Path(root), url)


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
