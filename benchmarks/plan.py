"""How fast the plan runs against the floor of polars reading and writing the same CSV files.

    python -m benchmarks.plan [--rows N] [--seed S] [--keep] [--export FILE]
        [--source mailchimp|constantcontact]

Generates an export of N rows (default 1,000,000) into a temporary folder: a Mailchimp audience
zip, or with ``--source constantcontact`` a Constant Contact contact CSV. Then it measures, side
by side in one run (these machines are noisy: only the ratios mean much):

- the **floor**: polars alone scanning the export's CSV files (extracted beforehand, as the plan
  reads staged files too) and writing the same rows back out as CSV;
- the **in-process plan**: ``read_export`` (a Constant Contact CSV: ``read_source``) +
  ``plan_sources``, no Prefect engine;
- **end to end**: ``onramp plan`` as a subprocess (the Prefect engine included; its database is
  migrated by a warm-up run first, as on any machine that has run Onramp once);
- the **output's own I/O**: what any plan that writes the same files must at least spend, in
  the same tools: unzipping the export (as the plan stages it, without its checks), parsing
  its CSV files once (polars) and writing the plan's CSV files (polars, from memory: the
  in-process run's import files, opt-outs, ``lineage.csv`` and ``rejects.csv``, each read back
  untimed first). No validation, mapping, merge or staging: the distance between it and the
  floor is what the output asks for, the distance between it and the plan is the plan's own
  work.

Each runs in a child process of its own, so peak resident memory is that run's alone (from
``os.wait4``). Validation time is the time pandera spends checking each file's shape and the
contacts' contract, plus what the row rules add to a scan of the files. The in-process run
also prints the time of each step and the peak RSS by the end of each. Each run's CPU seconds
(all threads; the timed part for the floor and in-process, the whole process end to end) give
a second pair of ratios, ``cpu: ...``, which a machine loaded by other work moves less. The
last line reads ``plan: <R1>x floor in-process, <R2>x floor end-to-end, peak <M> MiB at <N> rows``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks import generate_constantcontact, generate_mailchimp

WARM_UP_ROWS = 50
SPANS = (
    ("tasks.validate", "_check_shape"),
    ("tasks.plan", "stage_sources"),
    ("tasks.plan", "stage_contacts"),
    ("tasks.plan", "check_contract"),
    ("tasks.plan", "write_plan"),
    ("tasks.plan", "write_rejects"),
)
"""The functions the in-process run times (module, name): where the plan's time goes."""
KIB_PER_MIB = 1024


@dataclass(frozen=True)
class Source:
    """A kind of export the benchmark plans.

    Attributes:
        export_name: The export's file name in the benchmark's folder (a Constant Contact file's
            name must carry no status word, or its rows would default to that status).
        write: Writes an export of ``rows`` rows from a seed to a path.
        read: Reads an export as ``onramp plan`` does (into a staging folder): its raw sources
            and their consent profiles.
        read_span: The name of the in-process run's reading step.
    """

    export_name: str
    write: Callable[[Path, int, int], object]
    read: Callable[[Path, Path], tuple[list, dict]]
    read_span: str


def _read_mailchimp(export: Path, staging: Path) -> tuple[list, dict]:
    """A Mailchimp zip as ``onramp plan`` reads it: its raw sources and consent profiles."""
    from tasks.extract.mailchimp import read_export
    from tasks.transform.profile import load_profile

    profile = load_profile("mailchimp")
    return read_export(str(export), staging), {profile.format: (profile, profile.consent)}


def _read_any(export: Path, staging: Path) -> tuple[list, dict]:
    """Any other export as ``onramp plan`` reads it (profile detected from the headers)."""
    from tasks.extract.tables import read_source
    from tasks.plan import consent_profiles

    files = read_source(str(export), staging)
    return [file.raw for file in files], consent_profiles([file.profile.profile for file in files], {})


SOURCES = {
    "mailchimp": Source(
        "export.zip",
        lambda path, rows, seed: generate_mailchimp.write_export(path, rows, seed, track_emails=False),
        _read_mailchimp,
        "read_export",
    ),
    "constantcontact": Source("contact_export.csv", generate_constantcontact.write_export, _read_any, "read_source"),
}
"""``--source`` → what is generated and planned."""


@dataclass(frozen=True)
class Run:
    """One measured run: wall seconds, peak RSS in MiB, CPU seconds, seconds of validation (if any)."""

    name: str
    seconds: float
    peak_mib: float
    cpu: float
    validation: float | None = None

    def line(self, rows: int) -> str:
        validation = "" if self.validation is None else f", validation {self.validation:.2f} s ({self.validation / self.seconds:.0%})"
        return (
            f"{self.name:<12} {self.seconds:8.2f} s {rows / self.seconds:12,.0f} rows/s  cpu {self.cpu:7.2f} s"
            f"  peak {self.peak_mib:7.0f} MiB{validation}"
        )


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    if args.child:
        print(json.dumps(CHILDREN[args.child](Path(args.folder), SOURCES[args.source])))
        return
    source = SOURCES[args.source]
    with _folder(args.keep) as folder:
        export = folder / source.export_name
        if args.export:
            # A multi-million-row export takes minutes to generate: reuse one made earlier.
            print(f"using {args.export} in {folder}", flush=True)
            shutil.copyfile(args.export, export)
        else:
            print(f"generating {args.rows:,} rows (seed {args.seed}) in {folder}", flush=True)
            source.write(export, args.rows, args.seed)
        # The floor scans the very CSV files the plan reads: a zip's members, or the CSV itself.
        if zipfile.is_zipfile(export):
            with zipfile.ZipFile(export) as archive:
                archive.extractall(folder / "floor-in")
        else:
            (folder / "floor-in").mkdir()
            shutil.copyfile(export, folder / "floor-in" / export.name)
        floor = _measure_child("floor", folder, args.source)
        in_process = _measure_child("in-process", folder, args.source)
        output_io = _measure_child("output-io", folder, args.source)
        end_to_end = _measure_end_to_end(folder, export, source)
        for run in (floor.run, in_process.run, end_to_end, output_io.run):
            print(run.line(args.rows))
        print(
            "output-io by part: " + ", ".join(f"{k} {v:.2f} s" for k, v in output_io.extra["parts"].items())
            + f"; {output_io.extra['written_mb']:,.0f} MB of CSV written; "
            f"{output_io.run.seconds / floor.run.seconds:.2f}x floor, cpu {output_io.run.cpu / floor.run.cpu:.2f}x"
        )
        if "profile" in in_process.extra:
            print("in-process spans: " + ", ".join(f"{k} {v:.2f} s" for k, v in in_process.extra["profile"].items()))
            print("in-process CPU by step: " + ", ".join(f"{k} {v:.2f} s" for k, v in in_process.extra["cpu_profile"].items()))
            print("in-process peak RSS by the end of: " + ", ".join(f"{k} {v:.0f} MiB" for k, v in in_process.extra["peaks"].items()))
        peak = max(in_process.run.peak_mib, end_to_end.peak_mib)
        # CPU seconds (every thread's) move less than wall time when other work shares the cores.
        print(
            f"cpu: {in_process.run.cpu / floor.run.cpu:.2f}x floor in-process, "
            f"{end_to_end.cpu / floor.run.cpu:.2f}x floor end-to-end"
        )
        print(
            f"plan: {in_process.run.seconds / floor.run.seconds:.2f}x floor in-process, "
            f"{end_to_end.seconds / floor.run.seconds:.2f}x floor end-to-end, peak {peak:.0f} MiB at {args.rows} rows"
        )


@dataclass(frozen=True)
class ChildRun:
    run: Run
    extra: dict


def floor_child(folder: Path, source: Source) -> dict:
    """Polars alone: scan every extracted CSV as text and write its rows back out."""
    import polars as pl

    files = sorted((folder / "floor-in").rglob("*.csv"))
    out = folder / "floor-out"
    out.mkdir(exist_ok=True)
    start, cpu = time.perf_counter(), _cpu_seconds()
    pl.collect_all(
        [pl.scan_csv(f, infer_schema=False).sink_csv(out / f"{n}.csv", lazy=True) for n, f in enumerate(files)]
    )
    return {"seconds": time.perf_counter() - start, "cpu": _cpu_seconds() - cpu}


def in_process_child(folder: Path, source: Source) -> dict:
    """``read_export`` (or ``read_source``) + ``plan_sources`` without the Prefect engine, with timing spans."""
    import tasks.plan
    from tasks.output import OutputFolder

    spans: dict[str, float] = {}
    cpu_spans: dict[str, float] = {}
    peaks: dict[str, float] = {}
    for module_name, name in SPANS:
        module = importlib.import_module(module_name)
        setattr(module, name, _timed(getattr(module, name), name, spans, cpu_spans, peaks))
    timed_read = _timed(source.read, source.read_span, spans, cpu_spans, peaks)
    with tempfile.TemporaryDirectory(prefix="staging-", dir=folder) as staging:
        start, cpu = time.perf_counter(), _cpu_seconds()
        raws, profiles = timed_read(folder / source.export_name, Path(staging))
        tasks.plan.plan_sources(raws, OutputFolder(str(folder / "in-process-out")), profiles)
        seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
        rules = _row_rules_seconds(raws)
    validation = spans["_check_shape"] + spans["check_contract"] + rules
    return {
        "seconds": seconds,
        "cpu": cpu,
        "validation": validation,
        "profile": spans | {"row rules (separate pass)": rules},
        "cpu_profile": cpu_spans,
        "peaks": dict(sorted(peaks.items(), key=lambda item: item[1])),
    }


def output_io_child(folder: Path, source: Source) -> dict:
    """The plan's I/O alone: unzip the export, parse its CSV files, write the plan's CSV files."""
    import polars as pl

    from tasks.extract.sources import stage_files

    written = sorted((folder / "in-process-out").rglob("*.csv"))
    parts = dict.fromkeys(("unzip", "parse", "write"), 0.0)
    with tempfile.TemporaryDirectory(prefix="output-io-", dir=folder) as scratch:
        start, cpu = time.perf_counter(), _cpu_seconds()
        # Unzipped as the plan unzips (two members at a time), without its checks.
        staged = stage_files(str(folder / source.export_name), Path(scratch))
        parts["unzip"] = time.perf_counter() - start
        # One file at a time, as the plan reads them (all at once would hold the export).
        for file in staged:
            pl.scan_csv(file.path, infer_schema=False).collect()
        parts["parse"] = time.perf_counter() - start - parts["unzip"]
        cpu = _cpu_seconds() - cpu
        for number, path in enumerate(written):
            # Read back untimed, one file at a time: only writing it is the plan's.
            frame = pl.read_csv(path, infer_schema=False)
            write_start, write_cpu = time.perf_counter(), _cpu_seconds()
            frame.write_csv(Path(scratch) / f"{number}.csv", quote_style="necessary")
            parts["write"] += time.perf_counter() - write_start
            cpu += _cpu_seconds() - write_cpu
    return {"seconds": sum(parts.values()), "cpu": cpu, "parts": parts, "written_mb": sum(p.stat().st_size for p in written) / 1e6}


def _row_rules_seconds(raws: list) -> float:
    """What the row rules add to a scan of the files: scan with the reasons minus scan without."""
    import polars as pl

    from schemas.mailchimp import REJECT_REASONS, ROW_RULES, export_file_schema
    from tasks.validate import reason_expr

    schemas = [export_file_schema(raw.status, raw.email_column) for raw in raws]

    def scan(counted: Callable) -> float:
        start = time.perf_counter()
        pl.collect_all([raw.frame.select(counted(schema).null_count()) for raw, schema in zip(raws, schemas, strict=True)])
        return time.perf_counter() - start

    checked = lambda schema: pl.col(name for name, column in schema.columns.items() if column.checks)  # noqa: E731
    return max(0.0, scan(lambda schema: reason_expr(schema, ROW_RULES, REJECT_REASONS)) - scan(checked))


CHILDREN: dict[str, Callable[[Path, Source], dict]] = {"floor": floor_child, "in-process": in_process_child, "output-io": output_io_child}


def _timed(
    function: Callable, name: str, spans: dict[str, float], cpu_spans: dict[str, float], peaks: dict[str, float]
) -> Callable:
    """``function``, adding its wall time to ``spans``, its CPU seconds (every thread's) to
    ``cpu_spans`` and the process's peak RSS after it to ``peaks``.

    The peaks only grow: the first span (in run order) whose peak is the run's peak is where
    the memory went.
    """

    def timed(*args, **kwargs):
        start, cpu = time.perf_counter(), _cpu_seconds()
        try:
            return function(*args, **kwargs)
        finally:
            spans[name] = spans.get(name, 0.0) + time.perf_counter() - start
            cpu_spans[name] = cpu_spans.get(name, 0.0) + _cpu_seconds() - cpu
            peaks[name] = _peak_mib()

    return timed


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / KIB_PER_MIB


def _cpu_seconds() -> float:
    """User and system CPU seconds of this process so far, every thread's."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _measure_child(kind: str, folder: Path, source: str) -> ChildRun:
    command = [sys.executable, "-m", "benchmarks.plan", "--child", kind, "--folder", str(folder), "--source", source]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    stdout = process.stdout.read()
    peak, _ = _wait(process)
    result = json.loads(stdout.strip().splitlines()[-1])
    run = Run(kind, result["seconds"], peak, result["cpu"], result.get("validation"))
    return ChildRun(run, result)


def _measure_end_to_end(folder: Path, export: Path, source: Source) -> Run:
    env = os.environ | {
        "PREFECT_HOME": str(folder / "prefect-home"),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    warm_up = folder / "warm-up" / source.export_name
    source.write(warm_up, WARM_UP_ROWS, 0)
    _run_cli(warm_up, folder / "warm-up-out", env)
    start = time.perf_counter()
    peak, cpu = _run_cli(export, folder / "end-to-end-out", env)
    return Run("end-to-end", time.perf_counter() - start, peak, cpu)


def _run_cli(export: Path, out: Path, env: dict) -> tuple[float, float]:
    command = [sys.executable, "-m", "flows.cli", "plan", str(export), "--out", str(out)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    return _wait(process)


def _wait(process: subprocess.Popen) -> tuple[float, float]:
    """Wait for the child: its peak RSS in MiB and its CPU seconds (with its waited-for children's)."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{process.args} failed with exit status {process.returncode}")
    return usage.ru_maxrss / KIB_PER_MIB, usage.ru_utime + usage.ru_stime


@contextmanager
def _folder(keep: bool) -> Iterator[Path]:
    if keep:
        yield Path(tempfile.mkdtemp(prefix="onramp-bench-"))
        return
    with tempfile.TemporaryDirectory(prefix="onramp-bench-") as folder:
        yield Path(folder)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.plan", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the generated export")
    parser.add_argument("--seed", type=int, default=1, help="the generator's seed")
    parser.add_argument("--keep", action="store_true", help="keep the folder with the export and outputs")
    parser.add_argument(
        "--export",
        help="an export to plan instead of generating one (a zip from benchmarks.generate_mailchimp, "
        "or with --source constantcontact a CSV from benchmarks.generate_constantcontact, "
        "with the same --rows; --rows only labels the figures)",
    )
    parser.add_argument("--source", choices=sorted(SOURCES), default="mailchimp", help="the kind of export planned")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    main()
