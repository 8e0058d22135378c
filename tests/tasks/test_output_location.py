"""An output folder that cannot be made is bad input: one line naming the --out location and why."""

from __future__ import annotations

import pytest

from tasks.errors import InputError
from tasks.output import OutputFolder

NAME_MAX = 255
"""The longest file name Linux and macOS file systems take."""


def refusal(location: str) -> str:
    with pytest.raises(InputError) as error:
        OutputFolder(location)
    return str(error.value)


def test_an_existing_file_is_not_a_folder(tmp_path):
    taken = tmp_path / "report.json"
    taken.write_text("{}", encoding="utf-8")

    assert refusal(str(taken)) == f"--out {taken}: not a folder: it is a file; give --out a new or existing folder"


def test_a_file_on_the_way_is_named(tmp_path):
    taken = tmp_path / "report.json"
    taken.write_text("{}", encoding="utf-8")

    assert refusal(str(taken / "run" / "1")) == (
        f"--out {taken}/run/1: not a folder: {taken} is a file; give --out a new or existing folder"
    )


def test_a_folder_the_system_cannot_make_says_why(tmp_path):
    location = tmp_path / ("x" * (NAME_MAX + 1))

    assert refusal(str(location)) == f"--out {location}: cannot create the folder: File name too long"


def test_a_new_or_existing_folder_is_used(tmp_path):
    existing = OutputFolder(str(tmp_path))
    new = OutputFolder(str(tmp_path / "new" / "run"))

    assert existing.local == tmp_path
    assert new.local.is_dir()
