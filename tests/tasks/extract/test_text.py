"""Messy text tables: encodings, delimiters, quoted newlines, ragged rows, mixed encodings refused."""

from __future__ import annotations

import codecs
from pathlib import Path

import polars as pl
import pytest

from schemas.lineage import EXTRA_FIELDS, SOURCE_ROW
from tasks.errors import InputError
from tasks.extract.sources import StagedFile
from tasks.extract.tables import read_source
from tasks.extract.text import normalise_text, sniff_delimiter

NAMES = ["Françoise", "Zoë", "Søren", "Ñandú O’Brien"]
HEADER = ["Email", "First Name", "Last Name"]


def table(delimiter: str = ",") -> str:
    rows = [HEADER] + [[f"p{i}@example.com", name, "Test"] for i, name in enumerate(NAMES)]
    return "\r\n".join(delimiter.join(row) for row in rows) + "\r\n"


def first_names(path: Path, tmp_path: Path) -> list[str]:
    [read] = read_source(str(path), tmp_path / "staging")
    return read.raw.frame.collect().get_column("First Name").to_list()


@pytest.mark.parametrize(
    "encoding",
    ["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "cp1252"],
)
@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_every_encoding_and_delimiter_round_trips_names_intact(tmp_path, encoding, delimiter):
    text = table(delimiter)
    if encoding == "cp1252":
        # Ñ and ’ exist in Windows-1252; Søren's ø too.
        data = text.encode("cp1252")
    elif encoding == "utf-16-be":
        data = "\ufeff".encode("utf-16-be") + text.encode("utf-16-be")
    else:
        data = text.encode(encoding)
    source = tmp_path / "contacts.csv"
    source.write_bytes(data)
    assert first_names(source, tmp_path) == NAMES


def refusal(source: Path, tmp_path: Path) -> InputError:
    with pytest.raises(InputError) as error:
        read_source(str(source), tmp_path / "staging")
    return error.value


def test_a_file_mixing_utf8_and_windows_1252_is_refused_not_garbled(tmp_path):
    source = tmp_path / "mixed.csv"
    source.write_bytes("Email,First Name\na@x.com,Françoise\n".encode() + "b@x.com,Zoë\n".encode("cp1252"))
    error = refusal(source, tmp_path)
    assert "mixes UTF-8 and Windows-1252" in error.problem
    assert error.line == 3


GOOD_ROWS = "".join(f"p{n}@example.com,Ann\r\n" for n in range(50_000))


@pytest.mark.parametrize(
    ("first", "later", "problem"),
    [
        (
            "Françoise".encode(),
            "Zoë".encode("cp1252"),
            'byte 0xEB ("ë" in Windows-1252) on this line, after "ç" in UTF-8 (bytes C3 A7) on line 2',
        ),
        (
            "Zoë".encode("cp1252"),
            "O’Brien".encode(),
            '"’" in UTF-8 (bytes E2 80 99) on this line, after byte 0xEB ("ë" in Windows-1252) on line 2',
        ),
    ],
    ids=["utf-8-then-windows-1252", "windows-1252-then-utf-8"],
)
def test_a_mixed_file_names_the_line_where_the_encoding_it_starts_in_breaks(tmp_path, first, later, problem):
    # Past the first 4 MiB piece, and a quoted cell over three lines before it: every line
    # break counts, as an editor numbers lines.
    source = tmp_path / "mixed.csv"
    source.write_bytes(
        b"Email,First Name\r\na@x.com," + first + b"\r\n" + GOOD_ROWS.encode() * 4
        + b'b@x.com,"two\nmore\rlines"\r\nc@x.com,' + later + b"\r\n"
    )  # fmt: skip
    error = refusal(source, tmp_path)
    assert error.line == 2 + 200_000 + 3 + 1
    assert problem in error.problem and "save it again as UTF-8" in error.problem


def test_a_byte_that_breaks_the_utf8_a_bom_names_is_refused_on_its_line(tmp_path):
    source = tmp_path / "bom.csv"
    source.write_bytes(codecs.BOM_UTF8 + b"Email;First Name\na@x.com;Ann\nb@x.com;Zo\xeb\n")
    error = refusal(source, tmp_path)
    assert (error.line, error.problem) == (
        3,
        'byte 0xEB ("ë" in Windows-1252) is not UTF-8, which the file\'s byte order mark says it is: save it again as UTF-8',
    )


@pytest.mark.parametrize("rows", [1, 20_000], ids=["in-the-sniffed-head", "past-it"])
def test_bytes_that_break_the_utf16_a_bom_names_are_refused_on_their_line(tmp_path, rows):
    good = "".join(f"p{n}@example.com,Ann\n" for n in range(rows))
    source = tmp_path / "utf16.csv"
    source.write_bytes(("\ufeffEmail,Name\n" + good).encode("utf-16-le") + b"\x00\xd8" + "b@x.com,Bob\n".encode("utf-16-le"))
    error = refusal(source, tmp_path)
    assert (error.line, error.problem) == (
        rows + 2,
        "bytes 00 D8 are not UTF-16, which the file's byte order mark says it is: save it again as UTF-8",
    )


def test_a_byte_undefined_in_windows_1252_beside_a_word_mac_roman_garbles_is_refused(tmp_path):
    # Read as Windows-1252, 0x81 would reach HubSpot as a control character; read as Mac Roman,
    # Søren would become S¯ren: neither is guessed.
    source = tmp_path / "latin1.csv"
    source.write_bytes(b"Email;First Name\na@x.com;S\xf8ren\x81\n")
    error = refusal(source, tmp_path)
    assert (error.line, error.problem) == (
        2,
        'neither Windows-1252 nor Mac Roman reads it without garbling a word: byte 0x81 is undefined in Windows-1252 '
        '("Å" in Mac Roman) on this line, byte 0xF8 is "¯" in Mac Roman ("ø" in Windows-1252) earlier on it; '
        "save it again as UTF-8",
    )


def test_one_byte_undefined_in_windows_1252_that_mac_roman_garbles_too_is_refused_on_its_line(tmp_path):
    source = tmp_path / "cp1252.csv"
    source.write_bytes(b"Email,First Name\na@x.com,\x80100 \x97 O\x92Brien\nb@x.com,typo\x81\n")
    error = refusal(source, tmp_path)
    assert (error.line, error.problem) == (
        3,
        'neither Windows-1252 nor Mac Roman reads it without garbling a word: byte 0x81 on this line is undefined in '
        'Windows-1252 and "Å" in Mac Roman; save it again as UTF-8',
    )


@pytest.mark.parametrize(
    ("line", "delimiter"),
    [
        ("Email,First Name,Last Name", ","),
        ("EMAIL;NOM;PRENOM", ";"),
        ("Email\tName", "\t"),
        ("Email|Name|City", "|"),
        ('"Name; with semicolon",Email,City', ","),
        ('"a,b,c";"d";"e"', ";"),
        ("Email", ","),
    ],
)
def test_the_delimiter_is_counted_outside_quotes_on_the_header_line(line, delimiter):
    assert sniff_delimiter(line) == delimiter


def test_quoted_newlines_and_delimiters_stay_in_their_cell_and_rows_keep_their_numbers(tmp_path):
    source = tmp_path / "notes.csv"
    source.write_bytes('Email;Notes\na@x.com;"line one\nline; two"\nb@x.com;"say ""hi"""\n'.encode("cp1252"))
    [read] = read_source(str(source), tmp_path / "staging")
    frame = read.raw.frame.collect()
    assert frame.get_column("Notes").to_list() == ["line one\nline; two", 'say "hi"']
    assert frame.get_column(SOURCE_ROW).to_list() == [2, 3]


def test_a_ragged_row_keeps_its_extra_fields_for_the_rejects(tmp_path):
    source = tmp_path / "ragged.csv"
    source.write_text("Email;First Name\na@x.com;Ann\nb@x.com;Bob;extra;more\nc@x.com\n", encoding="cp1252")
    [read] = read_source(str(source), tmp_path / "staging")
    frame = read.raw.frame.collect()
    assert frame.get_column(EXTRA_FIELDS).to_list() == [None, "extra,more", None]
    assert frame.get_column("First Name").to_list() == ["Ann", "Bob", None]


def test_duplicate_headers_coalesce_to_the_first_non_empty_value(tmp_path):
    source = tmp_path / "dupes.csv"
    source.write_text("Email;Phone;phone\na@x.com;;+1 619 305 8111\nb@x.com;555;666\n", encoding="utf-8")
    [read] = read_source(str(source), tmp_path / "staging")
    assert read.raw.duplicate_headers == ["Phone"]
    assert read.raw.frame.collect().get_column("Phone").to_list() == ["+1 619 305 8111", "555"]


def test_an_unclosed_quote_names_the_line_where_it_opened(tmp_path):
    source = tmp_path / "broken.csv"
    source.write_text('Email;Name\na@x.com;Ann\nb@x.com;"Bob\nc@x.com;Cy\n', encoding="cp1252")
    with pytest.raises(InputError, match="unclosed double quote") as error:
        normalise_text(StagedFile(str(source), source), tmp_path)
    assert error.value.line == 3


def test_a_plain_utf8_comma_file_is_read_where_it_is(tmp_path):
    source = tmp_path / "plain.csv"
    source.write_text(table(), encoding="utf-8")
    staged, layout = normalise_text(StagedFile(str(source), source), tmp_path / "staging")
    assert staged.path == source
    assert (layout.encoding, layout.delimiter) == ("utf-8", ",")
    assert not (tmp_path / "staging").exists()


def test_excel_apostrophes_before_numbers_are_removed_and_other_text_kept(tmp_path):
    source = tmp_path / "phones.csv"
    source.write_text(
        "Email,Phone,Notes\na@x.com,'+16193058111,'quoted'\nb@x.com,'00123,'=1+1\n", encoding="utf-8"
    )
    [read] = read_source(str(source), tmp_path / "staging")
    frame = read.raw.frame.collect()
    assert frame.get_column("Phone").to_list() == ["+16193058111", "00123"]
    assert frame.get_column("Notes").to_list() == ["'quoted'", "'=1+1"]
    assert frame.schema["Phone"] == pl.String
