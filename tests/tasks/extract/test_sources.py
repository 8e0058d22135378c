"""Staging sources: zips, folders and single files, local and on S3, and the inputs to refuse."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import fsspec
import pytest

from benchmarks.generate_mailchimp import write_export
from tasks.errors import InputError
from tasks.extract.sources import ZIP_BOMB_MIN_BYTES, SkippedFile, stage_files, stage_source
from tasks.extract.tables import ReadOptions, export_files

CSV_TEXT = b"Email Address,First Name\r\njane@example.com,Jane\r\n"
EXPORT_FILES = export_files(ReadOptions())


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def _assert_members_staged(staged, source: str, path: Path, truth, staging: Path) -> None:
    """Each member of the generated zip is staged inside ``staging``, byte for byte, in order."""
    members = sorted(status.member for status in truth.statuses.values())
    assert [file.uri for file in staged] == [f"{source}!{member}" for member in members]
    with zipfile.ZipFile(path) as archive:
        for file, member in zip(staged, members, strict=True):
            assert _inside(file.path, staging)
            assert file.path.read_bytes() == archive.read(member)


@pytest.fixture
def export_zip(tmp_path: Path) -> tuple[Path, object]:
    path = tmp_path / "export.zip"
    return path, write_export(path, rows=40, seed=3)


def test_zip_members_are_staged_with_archive_uris(export_zip, tmp_path):
    path, truth = export_zip
    staging = tmp_path / "staging"

    staged = stage_files(str(path), staging)

    _assert_members_staged(staged, str(path), path, truth, staging)


def test_folder_is_scanned_for_csvs_and_macos_junk_skipped(export_zip, tmp_path):
    path, truth = export_zip
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(path) as archive:
        archive.extractall(folder)
    (folder / "__MACOSX").mkdir()
    (folder / "__MACOSX" / "subscribed_x.csv").write_bytes(b"junk")
    (folder / "._subscribed_x.csv").write_bytes(b"junk")
    (folder / "README.txt").write_text("not a csv")

    staged = stage_files(f"{folder}/", tmp_path / "staging")

    members = sorted(status.member for status in truth.statuses.values())
    assert [file.uri for file in staged] == [f"{folder}/{member}" for member in members]
    assert [file.path for file in staged] == [folder / member for member in members]


def test_single_local_csv_is_used_in_place(tmp_path):
    csv_path = tmp_path / "subscribed_members_export_ab12.csv"
    csv_path.write_bytes(CSV_TEXT)

    (staged,) = stage_files(str(csv_path), tmp_path / "staging")

    assert staged.uri == str(csv_path)
    assert staged.path == csv_path


def test_zip_ignores_macos_junk_and_non_csv_members(tmp_path):
    path = _zip(
        tmp_path / "x.zip",
        {
            "audience_export_ab/subscribed_email_audience_export_ab.csv": CSV_TEXT,
            "__MACOSX/audience_export_ab/._subscribed_email_audience_export_ab.csv": b"\x00\x05",
            "audience_export_ab/._cleaned_email_audience_export_ab.csv": b"\x00\x05",
            "audience_export_ab/.DS_Store": b"\x00",
        },
    )

    staged = stage_files(str(path), tmp_path / "staging")

    assert [file.uri for file in staged] == [
        f"{path}!audience_export_ab/subscribed_email_audience_export_ab.csv"
    ]


def test_workbooks_are_taken_from_a_zip_or_folder_only_by_a_reader_of_workbooks(tmp_path):
    workbook = b"PK\x03\x04 an xlsx is a zip"
    members = {"export/b.csv": CSV_TEXT, "export/a.xlsx": workbook, "export/~$a.xlsx": b"lock", "export/notes.txt": b"x"}
    path = _zip(tmp_path / "x.zip", members)
    folder = tmp_path / "folder"
    folder.mkdir()
    for name, data in members.items():
        (folder / name.split("/")[1]).write_bytes(data)

    assert [f.uri for f in stage_files(str(path), tmp_path / "staging")] == [f"{path}!export/b.csv"]
    staged = stage_files(str(path), tmp_path / "staging", kinds=EXPORT_FILES)
    assert [f.uri for f in staged] == [f"{path}!export/a.xlsx", f"{path}!export/b.csv"]
    assert staged[0].path.read_bytes() == workbook and staged[0].path.name.endswith(".xlsx")
    in_folder = stage_files(str(folder), tmp_path / "staging", kinds=EXPORT_FILES)
    assert [f.uri for f in in_folder] == [f"{folder}/a.xlsx", f"{folder}/b.csv"]
    # A workbook given alone is a workbook, not a zip of files, although it starts like one.
    [alone] = stage_files(str(folder / "a.xlsx"), tmp_path / "staging", kinds=EXPORT_FILES)
    assert alone.path == folder / "a.xlsx"


def test_member_names_cannot_escape_the_staging_folder(tmp_path):
    path = _zip(
        tmp_path / "evil.zip",
        {"../../escaped.csv": CSV_TEXT, "/tmp/absolute.csv": CSV_TEXT, "a/../../up.csv": CSV_TEXT},
    )
    staging = tmp_path / "deep" / "staging"

    staged = stage_files(str(path), staging)

    assert len(staged) == 3
    assert all(_inside(file.path, staging) for file in staged)
    assert len({file.path for file in staged}) == 3
    assert not (tmp_path / "escaped.csv").exists()
    assert not (tmp_path / "deep" / "escaped.csv").exists()
    assert {file.uri.split("!", 1)[1] for file in staged} == {
        "../../escaped.csv", "/tmp/absolute.csv", "a/../../up.csv",
    }  # fmt: skip


def test_sources_sharing_a_staging_folder_do_not_collide(tmp_path):
    first = _zip(tmp_path / "one.zip", {"subscribed_a.csv": CSV_TEXT})
    second = _zip(tmp_path / "two.zip", {"subscribed_a.csv": CSV_TEXT.replace(b"Jane", b"Joan")})
    staging = tmp_path / "staging"

    (one,) = stage_files(str(first), staging)
    (two,) = stage_files(str(second), staging)

    assert one.path != two.path
    assert b"Jane" in one.path.read_bytes() and b"Joan" in two.path.read_bytes()


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("missing.zip", None, "no such file or folder"),
        ("notes.zip", b"this is plain text, not a zip", "not a readable zip archive"),
        ("export.xlsx", b"not a csv", "not a zip archive, a folder or a CSV file"),
    ],
)
def test_unusable_sources_raise_input_error(tmp_path, name, content, problem):
    source = tmp_path / name
    if content is not None:
        source.write_bytes(content)

    with pytest.raises(InputError) as raised:
        stage_files(str(source), tmp_path / "staging")

    assert raised.value.uri == str(source)
    assert problem in str(raised.value)
    assert "\n" not in str(raised.value)


def test_zip_without_csv_is_refused(tmp_path):
    path = _zip(tmp_path / "x.zip", {"readme.txt": b"hello", "__MACOSX/._a.csv": b"\x00"})

    with pytest.raises(InputError, match="no CSV file in the zip archive"):
        stage_files(str(path), tmp_path / "staging")


def test_folder_without_csv_is_refused(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()

    with pytest.raises(InputError, match="no CSV file in the folder"):
        stage_files(str(folder), tmp_path / "staging")


def test_unknown_url_scheme_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot open this location"):
        stage_files("nosuchscheme://bucket/x.zip", tmp_path / "staging")


def _patch_declared_size(path: Path, size: int) -> None:
    """Rewrite the uncompressed size a zip's central directory declares for its only member."""
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, size)
    path.write_bytes(bytes(data))


def test_member_declaring_an_absurd_size_is_refused(tmp_path):
    path = _zip(tmp_path / "bomb.zip", {"subscribed_a.csv": b"\x00" * 100_000})
    _patch_declared_size(path, ZIP_BOMB_MIN_BYTES * 30)
    staging = tmp_path / "staging"

    with pytest.raises(InputError, match="zip bomb"):
        stage_files(str(path), staging)

    assert not any(staging.rglob("*.csv"))


def test_member_larger_than_declared_is_refused(tmp_path):
    path = _zip(tmp_path / "liar.zip", {"subscribed_a.csv": CSV_TEXT * 1000})
    _patch_declared_size(path, 10)

    with pytest.raises(InputError) as raised:
        stage_files(str(path), tmp_path / "staging")

    assert raised.value.uri == f"{path}!subscribed_a.csv"


def _rows(count: int) -> bytes:
    return b"Email Address,First Name\r\n" + b"".join(b"p%d@example.com,Name %d\r\n" % (n, n * 7919 % 1013) for n in range(count))


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED, zipfile.ZIP_BZIP2])
def test_members_of_many_chunks_are_staged_byte_for_byte(tmp_path, compression):
    # Megabytes of distinct rows, then megabytes of one repeated row (a chunk of its deflate
    # stream inflates past the chunk size): every byte arrives, in order.
    data = _rows(150_000) + b"same@example.com,Same\r\n" * 400_000
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        archive.writestr("subscribed_a.csv", data)

    [staged] = stage_files(str(path), tmp_path / "staging")

    assert staged.path.read_bytes() == data


def _patch_central(path: Path, offset: int, value: int) -> None:
    """Rewrite one 32-bit field of a zip's central directory entry for its only member."""
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, data.index(b"PK\x01\x02") + offset, value)
    path.write_bytes(bytes(data))


CENTRAL_CRC, CENTRAL_COMPRESSED_SIZE = 16, 20


@pytest.mark.parametrize(
    ("field", "value"),
    [(CENTRAL_CRC, 0x12345678), (CENTRAL_COMPRESSED_SIZE, 5_000)],
    ids=["wrong CRC", "deflate stream cut short"],
)
def test_a_corrupt_member_is_refused_in_one_line(tmp_path, field, value):
    path = _zip(tmp_path / "export.zip", {"subscribed_a.csv": _rows(20_000)})
    _patch_central(path, field, value)

    with pytest.raises(InputError, match="corrupt zip archive") as raised:
        stage_files(str(path), tmp_path / "staging")

    assert raised.value.uri == f"{path}!subscribed_a.csv"
    assert "\n" not in str(raised.value)


def _s3(s3_server) -> fsspec.AbstractFileSystem:
    return fsspec.filesystem("s3", **s3_server.storage_options)


def test_s3_zip_is_staged_locally(s3_server, export_zip, tmp_path):
    path, truth = export_zip
    url = f"s3://{s3_server.bucket}/stage/export.zip"
    _s3(s3_server).put(str(path), url)
    staging = tmp_path / "staging"

    staged = stage_files(url, staging, s3_server.storage_options)

    _assert_members_staged(staged, url, path, truth, staging)


def test_s3_folder_and_single_csv_are_copied(s3_server, tmp_path):
    fs = _s3(s3_server)
    base = f"s3://{s3_server.bucket}/folder"
    fs.pipe({f"{base}/a/subscribed_x.csv": CSV_TEXT, f"{base}/cleaned_x.csv": CSV_TEXT})
    fs.invalidate_cache()

    folder = stage_files(base, tmp_path / "staging", s3_server.storage_options)
    (single,) = stage_files(
        f"{base}/cleaned_x.csv", tmp_path / "staging", s3_server.storage_options
    )

    assert [file.uri for file in folder] == [f"{base}/a/subscribed_x.csv", f"{base}/cleaned_x.csv"]
    assert all(file.path.read_bytes() == CSV_TEXT for file in [*folder, single])
    assert single.uri == f"{base}/cleaned_x.csv"
    assert _inside(single.path, tmp_path / "staging")


def test_s3_missing_object_is_an_input_error(s3_server, tmp_path):
    url = f"s3://{s3_server.bucket}/nothing/here.zip"

    with pytest.raises(InputError, match="no such file or folder"):
        stage_files(url, tmp_path / "staging", s3_server.storage_options)


def test_the_files_of_a_zip_or_folder_that_are_not_read_are_listed_junk_left_out(tmp_path):
    members = {
        "export/a.csv": CSV_TEXT,
        "export/b.tsv": CSV_TEXT,
        "export/README.txt": b"read me",
        "export/logo.png": b"\x89PNG",
        "export/.DS_Store": b"\x00",
        "__MACOSX/export/._a.csv": b"fork",
        "export/~$book.xlsx": b"lock",
    }
    path = _zip(tmp_path / "x.zip", members)
    folder = tmp_path / "folder"
    for name, data in members.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)

    for location, prefix in ((path, f"{path}!export/"), (folder, f"{folder}/export/")):
        staged = stage_source(str(location), tmp_path / "staging", kinds=EXPORT_FILES)
        assert [file.uri for file in staged.files] == [f"{prefix}a.csv", f"{prefix}b.tsv"]
        # macOS forks and Excel's lock files are never an export; anything else is named.
        assert staged.skipped == [
            SkippedFile(f"{prefix}.DS_Store", "not a CSV or TSV file or workbook"),
            SkippedFile(f"{prefix}README.txt", "not a CSV or TSV file or workbook, nor a table: its first line names no email column"),
            SkippedFile(f"{prefix}logo.png", "not a CSV or TSV file or workbook"),
        ]


def test_a_folder_with_nothing_to_read_names_what_it_holds(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "notes.txt").write_bytes(b"x")
    with pytest.raises(InputError, match=r"no CSV or TSV file or workbook in the folder \(it holds .*notes\.txt\)"):
        stage_source(str(folder), tmp_path / "staging", kinds=EXPORT_FILES)


def test_a_file_is_known_by_its_real_path_however_it_is_reached(tmp_path, monkeypatch):
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.csv").write_bytes(CSV_TEXT)
    (folder / "link.csv").symlink_to(folder / "a.csv")
    archive = _zip(tmp_path / "x.zip", {"a.csv": CSV_TEXT})
    monkeypatch.chdir(tmp_path)

    real = str((folder / "a.csv").resolve())
    in_folder = stage_files("folder", tmp_path / "staging")
    alone = stage_files(str(folder / "a.csv"), tmp_path / "staging")
    assert [file.uri for file in in_folder] == ["folder/a.csv", "folder/link.csv"]
    assert [file.key for file in in_folder] == [real, real]
    assert [file.key for file in alone] == [real]
    [member] = stage_files("x.zip", tmp_path / "staging")
    [again] = stage_files(str(archive), tmp_path / "staging")
    assert member.key == again.key == f"{archive.resolve()}!a.csv"
