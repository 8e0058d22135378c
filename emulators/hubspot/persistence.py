"""Optional persistence: the portal kept in a file between restarts (``state_file``).

The file is a pickle written by the emulator itself (atomically: a temporary file, then a
rename). It holds the whole portal; an import still unfinished when saved is queued again when
loaded. Saves happen when the server stops, on ``POST /_emulator/save``, and about once a second
while requests keep changing the portal.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from emulators.hubspot.imports import FINAL_STATES
from emulators.hubspot.state import ImportJob, Portal

_FIELDS = (
    "sequences", "objects", "emails", "properties", "groups", "lists", "opt_outs",
    "subscription_statuses", "imports", "associations",
)
SAVE_INTERVAL_SECONDS = 1.0


def _stored_job(job: ImportJob) -> ImportJob:
    # A finished import no longer needs its files' content.
    if job.state in FINAL_STATES:
        return replace(job, files=[(entry, b"", file_id) for entry, _, file_id in job.files])
    return job


def save(portal: Portal, path: str | os.PathLike[str]) -> None:
    """Write the portal to ``path`` atomically."""
    target = Path(path)
    with portal.lock:
        snapshot: dict[str, Any] = {name: getattr(portal, name) for name in _FIELDS}
        snapshot["imports"] = {key: _stored_job(job) for key, job in portal.imports.items()}
        data = pickle.dumps(snapshot, protocol=pickle.HIGHEST_PROTOCOL)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.replace(temporary, target)


def load(portal: Portal, path: str | os.PathLike[str]) -> list[ImportJob]:
    """Replace the portal's content with the file's, when the file exists.

    Returns:
        The imports that were unfinished when saved, to be queued again.
    """
    source = Path(path)
    if not source.exists():
        return []
    snapshot = pickle.loads(source.read_bytes())
    with portal.lock:
        for name in _FIELDS:
            setattr(portal, name, snapshot[name])
        return [job for job in portal.imports.values() if job.state not in FINAL_STATES]


class AutoSaver:
    """Saves the portal about once a second while it keeps changing.

    Args:
        portal: the portal to save.
        path: the state file.
    """

    def __init__(self, portal: Portal, path: str | os.PathLike[str]) -> None:
        self._portal = portal
        self._path = path
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="hubspot-state", daemon=True)
        self._thread.start()

    def touch(self) -> None:
        """Note that the portal changed."""
        self._dirty.set()

    def _loop(self) -> None:
        while not self._stop.wait(SAVE_INTERVAL_SECONDS):
            if self._dirty.is_set():
                self._dirty.clear()
                save(self._portal, self._path)

    def close(self) -> None:
        """Stop the saver and save one last time."""
        self._stop.set()
        self._thread.join()
        save(self._portal, self._path)
