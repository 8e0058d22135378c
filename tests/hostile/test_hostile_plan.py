"""Every case of the hostile corpus through the plan's plain functions (no engine: fast).

Each case either plans, with every unusable row in rejects.csv and every written cell safe
for a spreadsheet, or stops with one InputError line naming the file and the problem. Never
a traceback, never a hang (each case has a timeout), never a file outside the output folder
(the staging folder, made deep inside the case's folder, is gone afterwards).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tasks.errors import InputError
from tests.hostile.corpus import CORPUS, Case
from tests.plain_plan import plan
from tests.written_files import column, formula_cells, written_csvs


def _paths(folder: Path) -> set[str]:
    """Every path under ``folder``, symlinks not followed (the corpus has a symlink loop)."""
    found = set()
    for root, dirs, files in os.walk(folder):
        found.update(os.path.relpath(os.path.join(root, name), folder) for name in dirs + files)
    return found


def _planned_emails(output: Path) -> set[str]:
    hubspot = output / "hubspot"
    return {
        email
        for path in written_csvs(hubspot)
        for email in column(path, "Email" if path.name.startswith("opt-out-") else "email")
    }


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, id=case.name, marks=[pytest.mark.xfail(strict=True, reason=case.bug)] if case.bug else [])
        for case in CORPUS
    ],
)
def test_hostile_input_plans_or_stops_with_one_line(case: Case, tmp_path: Path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    sources = case.build(inputs)
    staging_root = tmp_path / "a" / "b" / "c" / "d" / "staging"
    staging_root.mkdir(parents=True)
    before = _paths(tmp_path)
    output = tmp_path / "out"

    try:
        report = plan(sources, output, staging_root=staging_root)
    except InputError as error:
        refusal = str(error)
    else:
        refusal = None

    written = _paths(tmp_path) - before
    assert all(path == "out" or path.startswith(f"out{os.sep}") for path in written), written
    assert list(staging_root.iterdir()) == []
    if case.refused:
        assert refusal is not None, f"expected a refusal, the run planned {case.name}"
        assert "\n" not in refusal
        for fragment in case.refused:
            assert fragment in refusal
        return
    assert refusal is None, refusal
    assert report["rows_read"] == case.rows_read
    assert report["rows_rejected"] == case.rows_rejected
    reasons = column(output / "rejects.csv", "reason")
    assert len(reasons) == case.rows_rejected
    for reason in case.reasons:
        assert any(reason in given for given in reasons)
    if case.planned_emails is not None:
        assert _planned_emails(output) == case.planned_emails
    assert formula_cells(output) == []


def test_the_corpus_is_large_and_named_uniquely():
    assert len(CORPUS) >= 30
    assert len({case.name for case in CORPUS}) == len(CORPUS)
