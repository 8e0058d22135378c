"""Messy text tables: encodings, delimiters, quoted newlines, ragged rows, mixed encodings refused."""

from __future__ import annotations

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


def test_a_file_mixing_utf8_and_windows_1252_is_refused_not_garbled(tmp_path):
    source = tmp_path / "mixed.csv"
    source.write_bytes("Email,First Name\na@x.com,Françoise\n".encode() + "b@x.com,Zoë\n".encode("cp1252"))
    with pytest.raises(InputError, match="mixes UTF-8 and Windows-1252") as error:
        read_source(str(source), tmp_path / "staging")
    assert error.value.line == 2


def test_latin1_bytes_undefined_in_windows_1252_still_read(tmp_path):
    source = tmp_path / "latin1.csv"
    source.write_bytes(b"Email;First Name\na@x.com;S\xf8ren\x81\n")
    assert first_names(source, tmp_path) == ["Søren\x81"]


def test_one_byte_undefined_in_windows_1252_costs_no_other_character(tmp_path):
    # As browsers read it: the defined bytes as Windows-1252 (€ ’ —), the undefined one (0x81)
    # as its Latin-1 code point; read as Latin-1, every € ’ — would become a control character.
    source = tmp_path / "cp1252.csv"
    source.write_bytes(b"Email,First Name\na@x.com,\x80100 \x97 O\x92Brien\nb@x.com,typo\x81\n")
    assert first_names(source, tmp_path) == ["€100 — O’Brien", "typo\x81"]


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
