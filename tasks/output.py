"""The run's output folder: a local path or any fsspec URL.

Files are always written to a local folder first (polars and HubSpot's SDK both want local
paths); for a remote URL that folder is a temporary one uploaded by :meth:`publish`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem


class OutputFolder:
    """Where a run writes its report, rejects and import files.

    Args:
        url: A local path or an fsspec URL such as ``s3://bucket/run-1``.
        storage_options: Options for the remote filesystem (credentials, endpoint).
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
        self.local.mkdir(parents=True, exist_ok=True)

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

    def publish(self) -> None:
        """Upload the local files to the remote URL (nothing to do for a local folder)."""
        if self._remote:
            self._fs.put(f"{self.local}/", self._root, recursive=True)
