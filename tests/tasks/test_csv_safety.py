import polars as pl
import pytest

from tasks.csv_safety import neutralise_formulas, restore_formulas, write_safe_csv
from tasks.load.plan import unneutralise


def neutralised(value: str) -> str:
    return pl.select(neutralise_formulas(pl.lit(value))).item()


@pytest.mark.parametrize(
    "cell",
    ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1", "\r=1", "=1"],
)
def test_formula_cells_get_a_leading_apostrophe(cell):
    assert neutralised(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["-5", "+7", "-0.25", "1e5", "+1 619 305 8111", "+44 (0)20 7946 0958", "Ann", "a=b", ""])
def test_numbers_phone_numbers_and_plain_text_are_unchanged(cell):
    assert neutralised(cell) == cell


def test_written_csv_neutralises_cells_and_headers_but_keeps_numbers(tmp_path):
    path = tmp_path / "sub" / "out.csv"
    write_safe_csv(pl.DataFrame({"=bad": ["=1+1"], "phone": ["+1 619 305 8111"], "n": [-5]}), path)
    assert path.read_text(encoding="utf-8").splitlines() == ["'=bad,phone,n", "'=1+1,+1 619 305 8111,-5"]


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("'=1+2", "''=1+2"),
        ("'-- regards", "''-- regards"),
        ("''x", "'''x"),
        ("'", "'"),
        ("'x", "'x"),
        ("'-5", "''-5"),
        ("=1", "'=1"),
        ("-5", "-5"),
        ("it's", "it's"),
    ],
)
def test_every_value_comes_back_from_its_written_cell(cell, written):
    """Whatever takes the apostrophe off again (the Imports API's copy, batch upsert, the
    read-back) gives HubSpot the source's value, its own leading apostrophe included."""
    assert neutralised(cell) == written
    assert pl.select(restore_formulas(pl.lit(written))).item() == cell
    assert unneutralise(written) == cell
