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


def test_a_replaced_folder_loses_what_an_earlier_run_left_in_it(tmp_path):
    stale = tmp_path / "hubspot" / "contacts-marketing-002.csv"
    stale.parent.mkdir()
    stale.write_text("email\nold@example.com\n", encoding="utf-8")
    (tmp_path / "report.json").write_text("{}", encoding="utf-8")

    folder = OutputFolder(str(tmp_path)).replace_folder("hubspot")

    assert folder == tmp_path / "hubspot" and folder.is_dir()
    assert list(folder.iterdir()) == []
    # Only the replaced folder: the rest of the output folder is the run's to rewrite.
    assert (tmp_path / "report.json").is_file()


def test_publishing_replaces_the_remote_copy_of_a_replaced_folder_only(s3_server):
    import fsspec

    fs = fsspec.filesystem("s3", **s3_server.storage_options)
    root = f"{s3_server.bucket}/replace-run"
    for name in ("hubspot/contacts-marketing-002.csv", ".onramp-load/state.json", "sync-delta/plan.json"):
        fs.pipe(f"{root}/{name}", b"earlier run")
    out = OutputFolder(f"s3://{root}", storage_options=s3_server.storage_options)

    out.replace_folder("hubspot").joinpath("contacts-marketing-001.csv").write_text("email\n", encoding="utf-8")
    out.publish()

    fs.invalidate_cache()
    assert sorted(fs.find(root)) == [
        f"{root}/.onramp-load/state.json",
        f"{root}/hubspot/contacts-marketing-001.csv",
        f"{root}/sync-delta/plan.json",
    ]
