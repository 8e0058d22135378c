"""The plan benchmark runs and prints its figures (the figures themselves are never asserted)."""

import os
import re
import subprocess
import sys

import pytest


@pytest.mark.parametrize(("source", "read_step"), [("mailchimp", "read_export"), ("constantcontact", "read_source")])
def test_the_plan_benchmark_runs_and_ends_with_its_summary_line(prefect_api_url, source, read_step):
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.plan", "--source", source, "--rows", "2000"],
        capture_output=True,
        text=True,
        timeout=280,
        check=True,
        # The end-to-end run uses the session's Prefect server instead of starting one.
        env={**os.environ, "PREFECT_API_URL": prefect_api_url},
    )
    lines = result.stdout.strip().splitlines()
    assert any(line.startswith("in-process spans: ") and f"{read_step} " in line for line in lines), lines
    assert any(re.fullmatch(r"output-io by part: unzip \d+\.\d+ s, parse \d+\.\d+ s, write \d+\.\d+ s; \d+ MB of CSV written; .*", line) for line in lines), lines
    last = lines[-1]
    assert re.fullmatch(r"plan: \d+\.\d+x floor in-process, \d+\.\d+x floor end-to-end, peak \d+ MiB at 2000 rows", last)
