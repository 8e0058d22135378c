"""A few hostile inputs through the real ``onramp plan`` command: exit status and stderr.

The rest of the corpus runs through the plain functions (tests/hostile/); these prove that
what the functions raise reaches the user as exit 2 and one line, never a traceback. The
commands run side by side (each costs seconds of interpreter and engine start-up).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile.corpus import CORPUS, SUBSCRIBED, csv_file, formula_source
from tests.written_files import formula_cells

ONRAMP = [sys.executable, "-m", "flows.cli", "plan"]
BY_NAME = {case.name: case for case in CORPUS}
NEWLINE_NAME = "subscribed_a\nb.csv"

REFUSED = {
    "zip-bomb-declaring-2-gib": BY_NAME["zip-bomb-declaring-2-gib"].build,
    "utf16-without-bom": BY_NAME["utf16-without-bom"].build,
    "encrypted-zip-member": BY_NAME["encrypted-zip-member"].build,
    "xlsx-one-cell-at-xfd1048576": BY_NAME["xlsx-one-cell-at-xfd1048576"].build,
    "xlsx-password-protected-ole2": BY_NAME["xlsx-password-protected-ole2"].build,
    "newline-in-file-name": csv_file(NEWLINE_NAME, b"Name,City\nAnn,Paris\n"),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, prefect_api_url) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    """Every command of the module, started together; name → (result, its folder)."""
    env = {**os.environ, "PREFECT_API_URL": prefect_api_url}
    env.pop("HUBSPOT_ACCESS_TOKEN", None)
    started = {}
    for name, build in {**REFUSED, "formulas-from-a-relative-path": _relative_formula_source}.items():
        folder = tmp_path_factory.mktemp(name)
        sources = build(folder)
        started[name] = (subprocess.Popen([*ONRAMP, *sources, "--out", "out"], cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), folder)
    results = {}
    for name, (process, folder) in started.items():
        stdout, stderr = process.communicate(timeout=240)
        results[name] = (subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), folder)
    return results


def _relative_formula_source(folder: Path) -> list[str]:
    """The formula corpus case, named relatively (``=1+1``) so the source URI is a formula."""
    return [os.path.relpath(source, folder) for source in formula_source(folder)]


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_input_exits_2_with_one_line_and_no_traceback(runs, name):
    result, folder = runs[name]
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("onramp: error: ")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    if name in BY_NAME:
        assert all(fragment in errors[0] for fragment in BY_NAME[name].refused)
    assert not (folder / "out" / "hubspot").exists()


def test_a_newline_in_a_file_name_stays_on_the_error_line(runs):
    result, _ = runs["newline-in-file-name"]
    assert "subscribed_a\\nb.csv" in result.stderr
    assert "no email column" in result.stderr


def test_formula_cells_and_a_formula_source_name_are_neutralised(runs):
    result, folder = runs["formulas-from-a-relative-path"]
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert (folder / "out" / "rejects.csv").read_text().count("'=1+1/") == 2
    assert formula_cells(folder / "out") == []
    assert SUBSCRIBED in (folder / "out" / "lineage.csv").read_text()
