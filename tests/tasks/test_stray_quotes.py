"""A quoted cell followed by more text (``"O"Brien``, ``"Ann" Lee``): refused with its line, in any layout.

Polars refuses such a cell only as it parses, in the plan; Python's csv module, lenient, would
silently drop its quotes (``OBrien``). Either way the file is refused with one line naming the
physical line, while valid quoting (``""`` inside quoted cells, quotes inside unquoted cells)
is read as before.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tasks.csv_field_limit import CSV_FIELD_LIMIT
from tasks.errors import InputError
from tasks.extract.sources import StagedFile
from tasks.extract.tables import read_source
from tasks.extract.text import STRAY_QUOTE, normalise_text, stray_quote_line, stray_quote_refusal
from tasks.inspect import inspect_source
from tests.plain_plan import plan

MAILCHIMP = "subscribed_email_audience_export_ab12.csv"
GENERIC = "contacts.csv"
HEADER = "Email Address,First Name,Last Name\n"
GOOD = "ann@example.com,Ann,Lee\n"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding, newline="")
    return path


def refusal(source: Path, tmp_path: Path) -> InputError:
    with pytest.raises(InputError) as error:
        plan([str(source)], tmp_path / "out")
    return error.value


@pytest.mark.parametrize("name", [MAILCHIMP, GENERIC])
@pytest.mark.parametrize("cell", ['"O"Brien', '"Ann" Lee', '"Ann" '])
def test_a_quoted_cell_followed_by_text_is_refused_with_its_line(tmp_path, name, cell):
    source = write(tmp_path / name, HEADER + GOOD + f"bob@example.com,Bob,{cell}\n" + GOOD)

    error = refusal(source, tmp_path)

    assert str(error) == f"{source}:3: {STRAY_QUOTE}"


@pytest.mark.parametrize("name", [MAILCHIMP, GENERIC])
def test_inspect_refuses_what_the_plan_refuses(tmp_path, name):
    # Its row counts read the status column only, which polars parses alone.
    source = write(tmp_path / name, HEADER + GOOD + 'bob@example.com,Bob,"O"Brien\n')

    with pytest.raises(InputError) as error:
        inspect_source(str(source))

    assert str(error.value) == f"{source}:3: {STRAY_QUOTE}"


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_the_line_is_the_physical_line_after_quoted_newlines(tmp_path, line_end):
    # Lines 2-3 are one record; so are lines 4-5, whose stray quote is on line 5.
    rows = [HEADER.strip(), 'ann@example.com,"Ann', 'Marie",Lee', 'bob@example.com,"Bob', 'Bobby" Ray,Ray', GOOD.strip()]
    source = write(tmp_path / GENERIC, line_end.join(rows) + line_end)

    assert refusal(source, tmp_path).line == 5


def test_a_cell_over_the_csv_modules_limit_does_not_hide_the_line(tmp_path):
    long_cell = "x" * (CSV_FIELD_LIMIT + 1)
    source = write(tmp_path / GENERIC, HEADER + f'ann@example.com,"{long_cell}",Lee\n' + 'bob@example.com,"O"Brien,Ray\n')

    assert refusal(source, tmp_path).line == 3


@pytest.mark.parametrize(
    ("encoding", "delimiter"), [("utf-8", ";"), ("utf-8", "\t"), ("cp1252", ","), ("utf-16", ",")]
)
def test_a_file_rewritten_to_utf8_commas_is_refused_not_read_without_the_quotes(tmp_path, encoding, delimiter):
    # Zoë: not UTF-8 once in Windows-1252, so that file is rewritten too.
    rows = [HEADER.strip(), "zoe@example.com,Zoë,Lee", 'bob@example.com,"Bob\nby",Ray', 'cat@example.com,Cat,"O"Brien']
    source = write(tmp_path / GENERIC, "\n".join(rows).replace(",", delimiter) + "\n", encoding)

    with pytest.raises(InputError) as error:
        normalise_text(StagedFile(str(source), source), tmp_path / "staging")

    assert str(error.value) == f"{source}:5: {STRAY_QUOTE}"


VALID_CELLS = {
    '"He said ""hi"""': 'He said "hi"',
    'Ann "Annie" Lee': 'Ann "Annie" Lee',
    '"Lee, Ann"': "Lee, Ann",
    '"two\nlines"': "two\nlines",
    '"Ann"': "Ann",
    '""': None,
}
"""Valid quoting in a first-name cell → the name read."""


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_valid_quoting_is_read_as_written(tmp_path, delimiter):
    rows = [f"p{i}@example.com{delimiter}{cell}{delimiter}Lee" for i, cell in enumerate(VALID_CELLS)]
    source = write(tmp_path / GENERIC, "\n".join([HEADER.strip().replace(",", delimiter), *rows]) + "\n")

    [read] = read_source(str(source), tmp_path / "staging")
    report = plan([str(source)], tmp_path / "out")

    assert read.raw.frame.collect().get_column("First Name").to_list() == list(VALID_CELLS.values())
    assert report["rows_read"] == len(VALID_CELLS)


def test_valid_quoting_has_no_stray_quote_line(tmp_path):
    rows = [f"p{i}@example.com,{cell},Lee" for i, cell in enumerate(VALID_CELLS)]
    source = write(tmp_path / GENERIC, "\n".join([HEADER.strip(), *rows]) + "\n")

    assert stray_quote_line(source) is None


def test_other_polars_errors_are_not_taken_for_bad_input(tmp_path):
    source = write(tmp_path / GENERIC, HEADER + GOOD)

    assert stray_quote_refusal(pl.exceptions.ComputeError("something else broke"), source, str(source)) is None


def test_an_unclosed_quote_in_a_rewritten_file_is_still_named_where_it_opened(tmp_path):
    source = write(tmp_path / GENERIC, "Email;Name\na@x.com;Ann\nb@x.com;\"Bob\nc@x.com;Cy\n")

    with pytest.raises(InputError, match="unclosed double quote") as error:
        normalise_text(StagedFile(str(source), source), tmp_path / "staging")

    assert error.value.line == 3


def test_a_cell_too_long_to_rewrite_is_still_refused_as_such(tmp_path):
    source = write(tmp_path / GENERIC, f"Email;Name\na@x.com;{'x' * (CSV_FIELD_LIMIT + 1)}\nb@x.com;Bob\n")

    with pytest.raises(InputError, match="cannot split a record: field larger than field limit") as error:
        normalise_text(StagedFile(str(source), source), tmp_path / "staging")

    assert error.value.line == 2
