"""The one-off migration (backfill): plan, then load into one HubSpot portal.

``plan_contacts`` only plans (no HubSpot); ``migrate_contacts`` plans and loads. Both are thin
wiring of the tasks in ``tasks/``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import NamedTuple

import fsspec
from fsspec.implementations.local import LocalFileSystem
from prefect import flow
from prefect.logging import get_run_logger
from prefect.states import Failed, State
from prefect.task_runners import ThreadPoolTaskRunner

from schemas.params import MigrationParameters, PlanParameters
from tasks.errors import InputError, LoadError
from tasks.extract.api_settings import api_scheme
from tasks.extract.excel import split_sheet
from tasks.extract.locations import CHAIN_SEPARATOR, check_location, check_portal_url
from tasks.extract.tables import ReadOptions, refuse_files_read_twice
from tasks.import_files import PlanLimits
from tasks.load.client import HubSpotPortal, resolve_token, token_read_from
from tasks.load.dryrun import dry_run_task
from tasks.load.expected import ExpectedPortal, check_expected_portal
from tasks.load.plan import read_plan
from tasks.load.lease import LeaseHold, output_held
from tasks.load.resume import LoadInProgress, LoadState, move_records_into_output
from tasks.load.run import INTERRUPTED, LOAD_DONE, LoadStopped, load_steps, stop_message
from tasks.load.settings import MAX_CONCURRENT_IMPORTS
from tasks.output import SCHEME_ALIASES, OutputFolder, check_remote_output, storage_problem
from tasks.plan import check_run_overrides, consent_profiles
from tasks.steps import extract_files, plan, publish_report
from tasks.stopping import is_interruption
from tasks.transform.mapping_file import UserMapping


def check_parameters(params: PlanParameters) -> None:
    """Fail fast, before any task runs, on a location or consent policy that cannot be used.

    Every flow calls it first, so a run started from the Prefect UI or a deployment is held to
    the same rules as the CLI, which calls it before the engine starts.

    Raises:
        InputError: A source, the output or the portal URL has an unsupported scheme or carries a
            credential (the message cuts it out); an override names an unknown outcome or
            is one no run may make, whatever its files (:func:`~tasks.plan.check_run_overrides`:
            it weakens an opt-out of any bundled profile); a source is not there or cannot be reached
            (:func:`check_sources_reachable`); a remote output cannot be written
            (:func:`~tasks.output.check_remote_output`; a local one is made, and so checked,
            with the run's output folder, after the token is: a run refused for its token
            leaves no folder behind).
    """
    for location in [*params.sources, params.output]:
        check_location(location)
    if getattr(params, "portal_url", None):
        check_portal_url(params.portal_url)
    check_run_overrides(params.consent_overrides)
    check_sources_reachable(params.sources)
    check_output_apart(params.sources, params.output)
    check_remote_output(params.output)


def check_output_apart(sources: list[str], output: str) -> None:
    """Refuse an output folder that is a source folder or inside one, local or on a bucket
    (``--out s3://clients`` beside the source ``s3://clients/crm/``, each account's output being
    ``s3://clients/<account>``): the plan's own files (import files, ``lineage.csv``,
    ``rejects.csv``) would be read as contacts by the next run.

    Raises:
        InputError: One line naming the output and the source folder it is in.
    """
    for source in sources:
        if api_scheme(source) or CHAIN_SEPARATOR in source or not _is_within(output, source):
            continue
        raise InputError(
            output, f"the output folder is inside the source folder {source}: the next run would read the plan's own "
            "files as contacts; give the output a folder of its own"
        )


LOCAL = "file"
"""The file system of a location given as a path (or a ``file://`` URL)."""


def _is_within(output: str, source: str) -> bool:
    """Whether ``output`` is the folder ``source`` names or inside it, however each is written
    (``s3a://`` is ``s3://``, ``file://`` a local path). A bucket's folders are prefixes,
    compared without a request; a local source must be a folder."""
    (out_protocol, out_path), (source_protocol, source_path) = (_where(output), _where(source))
    if out_protocol != source_protocol:
        return False
    if out_protocol != LOCAL:
        out_path, source_path = out_path.rstrip("/"), source_path.rstrip("/")
        return out_path == source_path or out_path.startswith(source_path + "/")
    out = Path(out_path).expanduser().resolve()
    folder = Path(source_path).expanduser().resolve()
    return folder.is_dir() and (out == folder or folder in out.parents)


def _where(location: str) -> tuple[str, str]:
    """A location's file system (one name for each: ``SCHEME_ALIASES``) and its path there."""
    protocol, path = fsspec.core.split_protocol(location)
    return SCHEME_ALIASES.get(protocol or LOCAL, protocol or LOCAL), path


def check_sources_reachable(sources: list[str]) -> None:
    """Refuse a source that is not there or whose storage cannot be reached, before any work.

    A provider API (``mailchimp://``) is not checked here: its credentials are read when it is.

    Raises:
        InputError: One line naming the source and why: no such file or folder, no bucket named
            (``s3://``), no credentials, the storage unreachable, access denied.
    """
    for source in sources:
        problem = None if api_scheme(source) else _source_problem(source)
        if problem:
            raise InputError(source, problem)


def _source_problem(source: str) -> str | None:
    """Why a source cannot be read, in a few words; None when it is there (a workbook's
    ``#Sheet`` is looked for when the workbook is read)."""
    try:
        fs, path = fsspec.core.url_to_fs(split_sheet(source)[0])
        if not isinstance(fs, LocalFileSystem) and not path.strip("/"):
            # All of a store is no source: s3fs cannot even list it ("Cannot traverse all of S3").
            return "names no bucket: give a file or folder in a bucket (s3://BUCKET/PATH)"
        return None if fs.exists(path) else "no such file or folder"
    # Any failure to reach a storage is the source's: file systems raise their clients' own
    # errors (botocore's NoCredentialsError is no OSError).
    except Exception as error:  # noqa: BLE001
        return f"cannot read the source: {storage_problem(error)}"


def refused(error: InputError | LoadInProgress) -> State:
    """How a flow ends on bad input found before any work, or an output another run holds:
    Failed with the error's one line, so the flow-run log says it without a traceback (Prefect
    logs one for a raised error). The error rides in the state: a caller of the flow (the CLI)
    still gets it raised."""
    return Failed(message=str(error), data=error)


def plan_run(params: PlanParameters, out: OutputFolder) -> dict:
    """Read every source with its own profile (sources may mix formats), then plan them together.

    Raises:
        InputError: A source cannot be read, or one file is reached twice (the same path given
            twice, a folder and a file in it: ``refuse_files_read_twice``).
    """
    limits = PlanLimits(max_rows=params.max_rows_per_file, max_bytes=params.max_bytes_per_file)
    mapping = UserMapping.load(params.mapping_file) if params.mapping_file else None
    for loosened in mapping.loosened_by(params.consent_overrides) if mapping else []:
        get_run_logger().warning(loosened)
    # The run's --consent reaches each file's profile before its rows are read: the policy ranks
    # a row's readings, not only the outcome of the status that wins.
    options = ReadOptions(
        profile=params.profile,
        mapping=mapping,
        credentials=params.source_credentials,
        consent_overrides=params.consent_overrides,
    )
    with tempfile.TemporaryDirectory(prefix="onramp-staging-") as staging:
        files = [file for source in params.sources for file in extract_files(source, Path(staging), options)]
        refuse_files_read_twice(files)
        if mapping:
            # Only headers are read so far: a column no file has stops the run before any row is.
            mapping.check_headers(header for file in files for header in file.raw.headers)
        profiles = consent_profiles([file.profile.profile for file in files], params.consent_overrides)
        return plan([file.raw for file in files], out, profiles, limits)


@flow(name="onramp-plan", validate_parameters=True)
def plan_contacts(params: PlanParameters) -> dict | State:
    """Extract, validate and transform the sources; write the plan and report. Talks to no HubSpot."""
    try:
        check_parameters(params)
        out = OutputFolder(params.output)
    except InputError as error:
        return refused(error)
    # Held too: a plan into an output a migration is loading would rewrite the files it imports.
    with ExitStack() as holding:
        if isinstance(output := held_or_refused(out, holding), State):
            return output
        report = plan_run(params, out)
        publish_report(report, out, params.rejects_alert_fraction)
    return report


@flow(
    name="onramp-migrate",
    validate_parameters=True,
    # Contacts files load concurrently, but HubSpot processes only three imports at a time.
    task_runner=ThreadPoolTaskRunner(max_workers=MAX_CONCURRENT_IMPORTS),
)
def migrate_contacts(params: MigrationParameters) -> dict | State:
    """Plan the sources, then load the plan into one HubSpot portal (or only read it, for a dry
    run) and report both.

    The token is resolved before any work, so a missing one fails in seconds, not after the plan,
    and so does, with a ``portal_id``, a token for another portal (:func:`checked_portal`). A
    rerun with the same output folder resumes: finished load steps are not sent again.
    """
    try:
        portal, out = checked_run(params)
    except InputError as error:
        return refused(error)
    with ExitStack() as holding:
        if isinstance(output := held_or_refused(out, holding), State):
            return output
        portal.guard = output.lease.check
        report = plan_run(params, out)
        if params.dry_run:
            report["dry_run"] = dry_run_task(portal, read_plan(out.local), load_path=params.load_path)
        else:
            with reported_if_the_load_stops(report, out, params.rejects_alert_fraction):
                report["load"] = load_steps(
                    portal,
                    out.local,
                    state_dir=output.state.work,
                    records=output.state.records,
                    load_path=params.load_path,
                    import_companies=params.import_companies,
                )
        publish_report(report, out, params.rejects_alert_fraction)
    return report


def checked_run(params: MigrationParameters) -> tuple[HubSpotPortal, OutputFolder]:
    """What a run that loads needs before any work: its parameters checked, its portal's token
    (:func:`checked_portal`; before anything binds a state to it) and its output folder.

    Raises:
        InputError: As :func:`check_parameters` and :func:`checked_portal` say; or the output
            folder cannot be made.
        LoadError: A token for another portal.
    """
    check_parameters(params)
    portal = checked_portal(params)
    return portal, OutputFolder(params.output)


class HeldOutput(NamedTuple):
    """An output held for one run (:func:`held`)."""

    state: LoadState
    lease: LeaseHold
    """Whether the output's lease is still this run's: a run that loads makes its portal check
    it before each request (``HubSpotPortal.guard``)."""


def held_or_refused(out: OutputFolder, holding: ExitStack) -> HeldOutput | State:
    """The output held until ``holding`` closes (:func:`held`); or, when
    another run holds it or its lease cannot be held, the flow's refusal (:func:`refused`), one
    line in the flow-run log rather than a traceback (a double click on Run in Prefect's UI)."""
    try:
        return holding.enter_context(held(out))
    except (InputError, LoadInProgress) as error:
        return refused(error)


@contextmanager
def held(out: OutputFolder) -> Iterator[HeldOutput]:
    """The output held for one run, from its plan on (:func:`~tasks.load.lease.output_held`: its
    work folder's lock, a remote output's lease for a run on another machine): a second run into it at once (a double click on Run) would rewrite the
    plan's files under the first's load, then send it all again. Yields the load's state (its
    work folder is the one held) and the lease's hold. Leaving, a remote output's local copy is
    removed."""
    with out, output_held(out.url, out.local) as (state, lease):
        move_records_into_output(state)
        yield HeldOutput(state, lease)


def checked_portal(params: MigrationParameters) -> HubSpotPortal:
    """The portal a run loads into (or, for a dry run, reads), before any work: its token
    resolved (a missing one fails in seconds) and, with a ``portal_id``, the token checked to be
    that portal's (before the run plans, claims its records, reads or sends anything).

    Raises:
        InputError: No token: the variable unset or empty and no Secret block holding one (a
            usage problem, exit status 2: nothing was tried).
        LoadError: A token for another portal (or one HubSpot will not name).
    """
    try:
        token = resolve_token(params.token_secret_block, params.token_env)
    except LoadError as missing:
        # Named by the portal it is for: a multi-account run's accounts each have their own.
        raise InputError(params.portal_url, str(missing)) from None
    portal = HubSpotPortal(params.portal_url, token, token_location=token_read_from(params.token_secret_block, params.token_env))
    check_expected_portal(portal, ExpectedPortal.of(params.portal_id, params.token_env, params.token_secret_block))
    return portal


@contextmanager
def reported_if_the_load_stops(report: dict, out: OutputFolder, rejects_alert_fraction: float) -> Iterator[None]:
    """When the load stops (daily quota, HubSpot down, Ctrl-C or SIGTERM), publish the report with
    why under ``load_stopped`` and, for a stop partway, what was done by then under ``load_done``
    (steps done, contacts sent of those planned) before failing, so the run says where it stopped."""
    try:
        yield
    except LoadError as error:
        report["load_stopped"] = str(error)
        if isinstance(error, LoadStopped):
            report["load_done"] = error.done
        publish_report(report, out, rejects_alert_fraction)
        raise
    except BaseException as interruption:
        if not is_interruption(interruption):
            raise  # a bug: nothing to say of the load
        done = getattr(interruption, LOAD_DONE, None)
        report["load_stopped"] = stop_message(INTERRUPTED, done) if done else INTERRUPTED
        if done:
            report["load_done"] = done
        publish_report(report, out, rejects_alert_fraction)
        raise
