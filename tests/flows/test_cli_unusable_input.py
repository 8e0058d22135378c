"""``onramp`` on a CSV with text after a quoted cell, or an --out it cannot write to: exit 2, one line."""

from __future__ import annotations

import os
import subprocess

import pytest

from flows.cli import SAMPLE_EXPORT
from tasks.extract.text import STRAY_QUOTE
from tests.flows.test_cli import ONRAMP, assert_one_line_error, run


def test_a_quoted_cell_followed_by_text_names_the_file_and_line(tmp_path, prefect_api_url):
    source = tmp_path / "obrien.csv"
    source.write_text('Email,First Name,Last Name\nx@example.com,Ann,"O"Brien\ny@example.com,Bob,Two\n', encoding="utf-8")

    result = run(["plan", str(source), "--out", str(tmp_path / "out")], env={"PREFECT_API_URL": prefect_api_url})

    assert_one_line_error(result, 2, f"{source}:2: {STRAY_QUOTE}")


@pytest.mark.parametrize(
    "command",
    [["plan"], ["migrate", "--dry-run", "--portal-url"], ["sync", "--dry-run", "--portal-url"]],
    ids=["plan", "migrate", "sync"],
)
def test_an_out_that_is_a_file_names_the_option_and_the_file(tmp_path, prefect_api_url, hubspot, command):
    taken = tmp_path / "taken"
    taken.write_text("", encoding="utf-8")
    portal = [hubspot.url] if command[-1] == "--portal-url" else []

    # With a token (``run`` drops it), so migrate and sync get as far as their output folder.
    env = {**os.environ, "PREFECT_API_URL": prefect_api_url, "HUBSPOT_ACCESS_TOKEN": "token"}
    arguments = [*command, *portal, str(SAMPLE_EXPORT), "--out", str(taken / "run")]
    result = subprocess.run([*ONRAMP, *arguments], capture_output=True, text=True, env=env, timeout=300)

    assert_one_line_error(result, 2, f"--out {taken}/run: not a folder: {taken} is a file")


def test_migrate_accounts_refuses_an_out_that_is_a_file_before_any_account_runs(tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("", encoding="utf-8")
    manifest = tmp_path / "accounts.yaml"
    manifest.write_text(f"accounts:\n  - name: acme\n    sources: [{SAMPLE_EXPORT}]\n", encoding="utf-8")

    result = run(["migrate-accounts", str(manifest), "--out", str(taken)])

    assert_one_line_error(result, 2, f"--out {taken}: not a folder: it is a file")


def test_one_file_given_twice_is_refused_before_anything_is_planned(tmp_path, prefect_api_url):
    folder = tmp_path / "export"
    folder.mkdir()
    source = folder / "contacts.csv"
    source.write_text("Email,First Name\na@example.com,Ann\n", encoding="utf-8")

    result = run(["plan", str(folder), str(source), "--out", str(tmp_path / "out")], env={"PREFECT_API_URL": prefect_api_url})

    assert_one_line_error(result, 2, f"{source}: given twice: its rows would be counted twice; give each file once")
    assert not (tmp_path / "out" / "report.json").exists()


def test_inspect_refuses_a_folder_holding_one_file_twice(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "contacts.csv").write_text("Email,First Name\na@example.com,Ann\n", encoding="utf-8")
    (folder / "copy.csv").symlink_to(folder / "contacts.csv")

    result = run(["inspect", str(folder)])

    assert_one_line_error(result, 2, f"{folder}/copy.csv: given twice (as {folder}/contacts.csv too)")


def test_a_workbook_s_named_sheet_passes_the_check_before_the_engine_and_a_missing_workbook_does_not(tmp_path):
    import polars as pl

    from flows.cli import _preflight
    from schemas.params import PlanParameters
    from tasks.errors import InputError

    pl.DataFrame({"Email": ["ann@example.com"]}).write_excel(tmp_path / "book.xlsx", worksheet="Contacts")

    _preflight(PlanParameters(sources=[f"{tmp_path / 'book.xlsx'}#Contacts"], output=str(tmp_path / "out")))
    with pytest.raises(InputError, match="missing.xlsx#Contacts: no such file or folder"):
        _preflight(PlanParameters(sources=[f"{tmp_path / 'missing.xlsx'}#Contacts"], output=str(tmp_path / "out")))
