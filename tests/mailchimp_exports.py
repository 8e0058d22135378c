"""Mailchimp audience export zips written by hand: one CSV per member status, the status in the
file's name, as Mailchimp names them (``tasks/extract/mailchimp.py``)."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path


def audience_export_zip(
    path: Path,
    files: Mapping[str, Sequence[Sequence[str]]],
    headers: Sequence[str],
    name: str = "{status}_members_export_abc.csv",
    folder: str = "",
) -> Path:
    """Write an audience export zip: each status's file, ``headers`` then its rows.

    Args:
        path: The zip to write.
        files: Each file's rows by the status in its name (``subscribed``, ``nonsubscribed``).
        headers: Every file's header.
        name: A file's name, ``{status}`` standing for its status: ``members_export`` (before
            ~2023) or ``email_audience_export``.
        folder: The folder in the zip the files are in (``"audience_export_ab/"``), or ``""``.

    Returns:
        ``path``.
    """
    with zipfile.ZipFile(path, "w") as archive:
        for status, rows in files.items():
            text = io.StringIO()
            csv.writer(text).writerows([headers, *rows])
            archive.writestr(folder + name.format(status=status), text.getvalue())
    return path
