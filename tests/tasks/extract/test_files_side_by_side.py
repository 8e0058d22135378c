"""A source's files staged and checked side by side: same files, same order, same first error."""

from __future__ import annotations

import random
import struct
import threading
import zipfile
from pathlib import Path

import pytest

from tasks.errors import InputError
from tasks.extract import sources
from tasks.extract.mailchimp import read_export
from tasks.extract.sources import COPY_CHUNK_BYTES, ZIP_BOMB_MIN_BYTES, map_in_order, stage_files
from tasks.extract.tables import read_source

CENTRAL_HEADER = b"PK\x01\x02"
CENTRAL_CRC_OFFSET = 16
CENTRAL_SIZE_OFFSET = 24


def _csv_bytes(rows: int, seed: int) -> bytes:
    """A CSV export of ``rows`` contacts whose bytes compress poorly (they span many chunks)."""
    rng = random.Random(seed)
    lines = [b"Email Address,First Name,Notes"]
    lines += [f"c{n}@example.com,Name{n},{rng.getrandbits(128):x}".encode() for n in range(rows)]
    return b"\r\n".join(lines) + b"\r\n"


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _patch_central_entry(path: Path, member_index: int, offset: int, value: int) -> None:
    """Overwrite a 32-bit field of one member's central directory entry (its CRC, its size)."""
    data = bytearray(path.read_bytes())
    entry = data.index(CENTRAL_HEADER)
    for _ in range(member_index):
        entry = data.index(CENTRAL_HEADER, entry + 1)
    struct.pack_into("<I", data, entry + offset, value)
    path.write_bytes(bytes(data))


def _stage_one_at_a_time(monkeypatch, source: str, staging: Path):
    with monkeypatch.context() as patched:
        patched.setattr(sources, "FILE_WORKERS", 1)
        return stage_files(source, staging)


def test_zip_members_staged_side_by_side_match_one_at_a_time(tmp_path, monkeypatch):
    members = {
        f"export/{status}_members_export_ab12.csv": _csv_bytes(rows, seed)
        for seed, (status, rows) in enumerate(
            [("subscribed", 60_000), ("cleaned", 3), ("unsubscribed", 25_000), ("nonsubscribed", 0)]
        )
    }
    assert max(len(data) for data in members.values()) > 2 * COPY_CHUNK_BYTES
    path = _zip(tmp_path / "export.zip", members)

    one_at_a_time = _stage_one_at_a_time(monkeypatch, str(path), tmp_path / "sequential")
    side_by_side = stage_files(str(path), tmp_path / "parallel")

    expected_uris = [f"{path}!{name}" for name in sorted(members)]
    assert [file.uri for file in side_by_side] == [file.uri for file in one_at_a_time] == expected_uris
    assert [file.path.name for file in side_by_side] == [file.path.name for file in one_at_a_time]
    for file, name in zip(side_by_side, sorted(members), strict=True):
        assert file.path.read_bytes() == members[name]


def test_folder_files_staged_side_by_side_keep_their_order(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    names = ["b_contacts.csv", "a_contacts.csv", "c_contacts.csv"]
    for seed, name in enumerate(names):
        (folder / name).write_bytes(_csv_bytes(10, seed))

    staged = stage_files(str(folder), tmp_path / "staging")

    assert [file.uri for file in staged] == [f"{folder}/{name}" for name in sorted(names)]
    assert [file.path for file in staged] == [folder / name for name in sorted(names)]


def test_a_folders_biggest_files_are_staged_first(tmp_path, monkeypatch):
    folder = tmp_path / "export"
    folder.mkdir()
    for name, rows in (("a_contacts.csv", 10), ("b_contacts.csv", 500), ("c_contacts.csv", 50), ("d_contacts.csv", 200)):
        (folder / name).write_bytes(_csv_bytes(rows, 0))
    started: list[str] = []
    lock = threading.Lock()
    # Files finish in pairs, so the first two recorded are the first two the workers took.
    pair = threading.Barrier(2, timeout=60)
    stage_plain_file = sources._stage_plain_file

    def record(fs, uri, *args):
        with lock:
            started.append(uri.rsplit("/", 1)[-1])
        pair.wait()
        return stage_plain_file(fs, uri, *args)

    monkeypatch.setattr(sources, "_stage_plain_file", record)
    staged = stage_files(str(folder), tmp_path / "staging")

    assert set(started[:2]) == {"b_contacts.csv", "d_contacts.csv"}
    assert [file.uri.rsplit("/", 1)[-1] for file in staged] == ["a_contacts.csv", "b_contacts.csv", "c_contacts.csv", "d_contacts.csv"]


def test_the_first_broken_member_is_named_though_a_later_one_fails_sooner(tmp_path):
    # The first member is read whole before its CRC turns out wrong; the second is refused
    # from its declared size before a byte is read, so it fails first on the clock.
    path = _zip(
        tmp_path / "broken.zip",
        {"cleaned_a.csv": _csv_bytes(60_000, 1), "subscribed_b.csv": b"\x00" * 100_000},
    )
    _patch_central_entry(path, 0, CENTRAL_CRC_OFFSET, 0)
    _patch_central_entry(path, 1, CENTRAL_SIZE_OFFSET, ZIP_BOMB_MIN_BYTES * 30)
    staging = tmp_path / "staging"

    with pytest.raises(InputError) as raised:
        stage_files(str(path), staging)

    assert raised.value.uri == f"{path}!cleaned_a.csv"
    assert "corrupt zip archive" in str(raised.value)
    assert not any(file.name.endswith("subscribed_b.csv") for file in staging.rglob("*"))


def test_a_zip_bomb_member_is_refused_before_a_byte_of_it_is_staged(tmp_path):
    path = _zip(
        tmp_path / "bomb.zip",
        {"cleaned_a.csv": _csv_bytes(10, 1), "subscribed_b.csv": b"\x00" * 100_000},
    )
    _patch_central_entry(path, 1, CENTRAL_SIZE_OFFSET, ZIP_BOMB_MIN_BYTES * 30)
    staging = tmp_path / "staging"

    with pytest.raises(InputError, match="zip bomb") as raised:
        stage_files(str(path), staging)

    assert raised.value.uri == f"{path}!subscribed_b.csv"
    assert not any(file.name.endswith("subscribed_b.csv") for file in staging.rglob("*"))


def _two_broken_exports(folder: Path) -> None:
    """The first file's quote is left open at its very end; the second has a NUL on line 2."""
    folder.mkdir()
    (folder / "cleaned_members_export_ab12.csv").write_bytes(_csv_bytes(60_000, 1) + b'"x@example.com,X\r\n')
    (folder / "subscribed_members_export_ab12.csv").write_bytes(b"Email Address\r\n\x00@example.com\r\n")


@pytest.mark.parametrize("reader", [read_export, read_source], ids=["mailchimp reader", "flow's reader"])
def test_each_reader_raises_the_first_broken_files_error(tmp_path, reader):
    folder = tmp_path / "export"
    _two_broken_exports(folder)

    with pytest.raises(InputError) as raised:
        reader(str(folder), tmp_path / "staging")

    assert raised.value.uri == f"{folder}/cleaned_members_export_ab12.csv"
    assert "cleaned_members_export_ab12.csv" in str(raised.value)
    assert raised.value.problem == "unclosed double quote"


def test_map_in_order_keeps_the_order_of_items():
    assert map_in_order(lambda n: n * n, list(range(20)), workers=2) == [n * n for n in range(20)]


def test_map_in_order_raises_the_first_items_error_whatever_fails_first():
    second_failed = threading.Event()

    def fail(item: str) -> None:
        if item == "second":
            second_failed.set()
            raise ValueError(item)
        # The first item fails only once the second has: the clock's order is reversed.
        assert second_failed.wait(timeout=60)
        raise ValueError(item)

    with pytest.raises(ValueError, match="first"):
        map_in_order(fail, ["first", "second"], workers=2)


def test_map_in_order_starts_the_costliest_items_first_and_keeps_the_order_of_results():
    started: list[int] = []
    lock = threading.Lock()
    # Items finish in pairs, so the first two recorded are the first two the workers took.
    pair = threading.Barrier(2, timeout=60)

    def record(item: int) -> int:
        with lock:
            started.append(item)
        pair.wait()
        return item

    results = map_in_order(record, [1, 5, 2, 9], workers=2, cost=lambda item: item)

    assert results == [1, 5, 2, 9]
    assert set(started[:2]) == {9, 5}
