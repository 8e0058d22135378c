"""The plan without the Prefect engine, wired as ``flows/migrate.py::_plan`` wires its tasks.

Property and hostile-input tests plan hundreds of times; a flow run costs seconds, a plain call
milliseconds. Only the engine is left out: the same extract and the same ``plan_sources``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from tasks.extract.tables import ReadOptions, read_source, refuse_files_read_twice
from tasks.import_files import PlanLimits
from tasks.output import OutputFolder
from tasks.plan import consent_profiles, plan_sources


def plan(
    sources: Sequence[str],
    output: Path,
    consent_overrides: Mapping[str, str] | None = None,
    staging_root: Path | None = None,
    limits: PlanLimits = PlanLimits(),
) -> dict:
    """Plan ``sources`` into ``output`` as ``onramp plan`` does; returns the report.

    Args:
        sources: Zips, folders or CSV files (paths or fsspec URLs), in input order.
        output: The output folder.
        consent_overrides: Status → outcome overrides for the run.
        staging_root: Where the temporary staging folder is made, so a test can check that
            nothing lands outside it and the output folder.
        limits: Per-file limits of the import files.

    Raises:
        InputError: A source cannot be used at all.
    """
    out = OutputFolder(str(output))
    with tempfile.TemporaryDirectory(prefix="onramp-staging-", dir=staging_root) as staging:
        overrides = dict(consent_overrides or {})
        options = ReadOptions(consent_overrides=overrides)
        files = [file for source in sources for file in read_source(source, Path(staging), options)]
        refuse_files_read_twice(files)
        profiles = consent_profiles([file.profile.profile for file in files], overrides)
        return plan_sources([file.raw for file in files], out, profiles, limits)
