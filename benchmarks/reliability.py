"""Run the reliability tests of issue 8 and print (or write) the figures of that run.

    python -m benchmarks.reliability                 # CI's bounded sample
    python -m benchmarks.reliability --long          # 2,000 examples per invariant, 8 kills per crash test
    python -m benchmarks.reliability --write-docs    # also replace the figures in docs/RELIABILITY.md

The figures come from the run itself, never typed by hand: hypothesis' own statistics (passing
examples per invariant), the hostile corpus' cases, and what each fault and crash test injected,
survived and lost, as the tests append it to a JSON-lines file (``ONRAMP_RELIABILITY_FIGURES``).
A failing test makes the run exit non-zero and the figures say so.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "RELIABILITY.md"
START, END = "<!-- figures:start -->", "<!-- figures:end -->"
TESTS = [
    "tests/invariants",
    "tests/hostile",
    "tests/reliability",
    "tests/flows/test_hostile_cli.py",
    "tests/flows/test_load_resume.py",
    "tests/flows/test_secrets.py",
]
LONG = {"ONRAMP_FUZZ_EXAMPLES": "2000", "ONRAMP_CRASH_KILLS": "8"}


def run(examples: int | None, kills: int | None, long: bool, log: str | None = None) -> dict:
    env = {**os.environ, **(LONG if long else {})}
    if examples is not None:
        env["ONRAMP_FUZZ_EXAMPLES"] = str(examples)
    if kills is not None:
        env["ONRAMP_CRASH_KILLS"] = str(kills)
    with tempfile.TemporaryDirectory() as scratch:
        figures_file = Path(scratch) / "figures.jsonl"
        env["ONRAMP_RELIABILITY_FIGURES"] = str(figures_file)
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                   "--hypothesis-show-statistics", "-rN", "--durations=40", *TESTS]
        started = dt.datetime.now(dt.timezone.utc)
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        records = [json.loads(line) for line in figures_file.read_text().splitlines()] if figures_file.exists() else []
    output = result.stdout + result.stderr
    if log:
        Path(log).write_text(output, encoding="utf-8")
    outcome = re.findall(r"(\d+) (passed|failed|xfailed|xpassed|error|errors|skipped)", output.splitlines()[-1] if output else "")
    counts = {kind: int(n) for n, kind in outcome}
    return {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "settings": {k: env[k] for k in ("ONRAMP_FUZZ_EXAMPLES", "ONRAMP_CRASH_KILLS") if k in env} or "CI sample",
        "tests": counts,
        "hypothesis_examples": sum(int(n) for n in re.findall(r"(\d+) passing(?: examples?)?,", output)),
        "hostile_cases": _corpus_size(),
        "faults_injected": sum(r["faults"] for r in records),
        "crashes_survived": sum(r["crashes"] for r in records),
        "rows_lost": sum(r["rows_lost"] for r in records),
        "fault_tests": records,
        "ok": result.returncode == 0,
        "tail": _failures(output) if result.returncode else "",
    }


def _failures(output: str) -> str:
    """The assertion lines of what failed, and pytest's summary line."""
    lines = output.splitlines()
    wrong = [line for line in lines if line.startswith(("E ", "FAILED", "ERROR")) or re.match(r"^tests/\S+:\d+: \w+Error", line)]
    return "\n".join([*wrong[:30], *lines[-1:]])


def _corpus_size() -> int:
    sys.path.insert(0, str(ROOT))
    from tests.hostile.corpus import CORPUS

    return len(CORPUS)


def markdown(figures: dict) -> str:
    tests = ", ".join(f"{n} {kind}" for kind, n in figures["tests"].items())
    lines = [
        f"Latest run: {figures['date']}, settings: {figures['settings']} — `python -m benchmarks.reliability`.",
        "",
        "| figure | value |",
        "|---|---:|",
        f"| inputs tried: hypothesis examples (passing) | {figures['hypothesis_examples']:,} |",
        f"| inputs tried: hostile corpus files | {figures['hostile_cases']} |",
        f"| faults injected (5xx, 423, 429, slow answers, FAILED imports) | {figures['faults_injected']:,} |",
        f"| crashes survived (SIGKILL, then rerun) | {figures['crashes_survived']} |",
        f"| rows lost | {figures['rows_lost']} |",
        f"| tests | {tests} |",
        "",
        "| fault or crash test | faults | crashes | rows lost |",
        "|---|---:|---:|---:|",
        *(f"| {r['test']} | {r['faults']} | {r['crashes']} | {r['rows_lost']} |" for r in figures["fault_tests"]),
    ]
    if not figures["ok"]:
        lines += ["", "**The run failed:**", "", "```", figures["tail"], "```"]
    return "\n".join(lines)


def write_docs(figures: dict) -> None:
    text = DOC.read_text(encoding="utf-8")
    before, _, rest = text.partition(START)
    _, _, after = rest.partition(END)
    DOC.write_text(f"{before}{START}\n{markdown(figures)}\n{END}{after}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true", help="2,000 examples per invariant and 8 kills per crash test")
    parser.add_argument("--examples", type=int, help="hypothesis examples per invariant (ONRAMP_FUZZ_EXAMPLES)")
    parser.add_argument("--kills", type=int, help="SIGKILLs per crash test (ONRAMP_CRASH_KILLS)")
    parser.add_argument("--log", metavar="FILE", help="keep pytest's whole output (statistics, slowest tests) in FILE")
    parser.add_argument("--write-docs", action="store_true", help=f"replace the figures in {DOC.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    figures = run(args.examples, args.kills, args.long, args.log)
    print(markdown(figures))
    if args.write_docs:
        write_docs(figures)
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
