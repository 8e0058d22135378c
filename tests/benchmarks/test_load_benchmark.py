"""The load benchmark runs with slow answers and prints its figures (never asserted)."""

import re
import subprocess
import sys

import pytest


def run_benchmark(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.load", "--imports-rows", "0", *arguments],
        capture_output=True, text=True, timeout=280,
    )


def test_the_load_benchmark_answers_late_and_ends_with_its_summary_line():
    result = run_benchmark("--opt-out-seconds", "1", "--seconds", "1", "--latency", "0.2")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert re.fullmatch(r"emulator latency: 0\.20 s an answer \(budget's bound: 97\.5% of ceiling\); threads: \d+ upsert, \d+ opt-out", lines[0]), lines
    assert re.fullmatch(r"opt-outs \(single-address\): 9 of 9 addresses in .*, failed rows: 0, 429s: 0", lines[1]), lines
    assert re.fullmatch(r"load: [\d,]+ records/s = \d+\.\d% of ceiling, failed rows: 0, 429s: 0", lines[-1]), lines


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        (("--latency", "-1"), "--latency must be 0 or more seconds, not -1.0"),
        (("--seconds", "0"), "--seconds must be more than 0, not 0.0"),
    ],
)
def test_an_impossible_run_is_refused_in_one_line(arguments, error):
    result = run_benchmark(*arguments)

    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"load.py: error: {error}"
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
