"""The ``onramp`` command: plan, migrate, sync, migrate-accounts, emulator, demo.

Exit status: 0 on success (rejected rows included), 2 on unusable input or usage (one line
on stderr naming the file and the problem, never a traceback; a ``PREFECT_API_URL`` or Dask
scheduler that does not answer too), 1 when a load (or, for ``migrate-accounts``, any account)
fails.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

EXIT_OK = 0
EXIT_LOAD_FAILED = 1
EXIT_BAD_INPUT = 2

SAMPLE_EXPORT = Path(__file__).resolve().parent.parent / "samples" / "mailchimp-audience-export.zip"
DEMO_TOKEN = "demo-token"

FLAG_OF_FIELD = {
    "sources": "SOURCE",
    "output": "--out",
    "consent_overrides": "--consent",
    "profile": "--profile",
    "mapping_file": "--mapping",
    "max_rows_per_file": "--max-rows-per-file",
    "max_bytes_per_file": "--max-bytes-per-file",
    "mailchimp_secret_block": "--mailchimp-secret",
    "constant_contact_secret_block": "--constant-contact-secret",
    "portal_url": "--portal-url",
    "token_secret_block": "--token-secret",
    "portal_id": "--portal-id",
    "load_path": "--load-path",
    "manifest": "MANIFEST",
    "max_concurrent_accounts": "--max-concurrent",
    "task_runner": "--task-runner",
    "dask_address": "--dask-address",
    "account_deployment": "--deployment",
    "child_start_timeout_seconds": "--child-start-timeout",
}
"""The command-line flag of each flow parameter the commands set, for messages about a value."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``onramp`` console script."""
    args = _parser().parse_args(argv)
    # Prefect's telemetry heartbeat can log a harmless "database is locked" traceback on a
    # fresh database; Onramp sends no telemetry unless the user turns it on.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Imported here so `onramp --help` and usage errors answer without loading Prefect.
    from flows.ephemeral import temporary_server_started_early

    # First, so Prefect's temporary server boots while the command imports and checks its input.
    with temporary_server_started_early(args.runs_flow):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from tasks.errors import InputError, LoadError

    try:
        with _output_kept_only_if_used(getattr(args, "out", None)):
            return args.run(args)
    except InputError as error:
        return _fail(str(error), EXIT_BAD_INPUT)
    except ValidationError as error:
        return _fail(_parameter_problem(error.errors()[0]), EXIT_BAD_INPUT)
    except LoadError as error:
        # Imported only now: it loads Prefect, which the emulators' commands never need.
        from tasks.load.resume import LoadInProgress

        # Another run holding the output is no failure of this one: a plan refused so loads nothing.
        return _fail(str(error) if isinstance(error, LoadInProgress) else f"load failed: {error}", EXIT_LOAD_FAILED)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


def _parameter_problem(error: dict) -> str:
    """A parameter's validation error named by the flag that set it (never quoting its value:
    it may be a credential typed where a name belongs)."""
    from schemas.params import VALUE_ERROR_PREFIX

    names = [str(part) for part in error["loc"]]
    flag = next((FLAG_OF_FIELD[name] for name in reversed(names) if name in FLAG_OF_FIELD), None)
    where = flag or ".".join(names) or "parameters"
    return f"{where}: {error['msg'].removeprefix(VALUE_ERROR_PREFIX)}"


@contextmanager
def _output_kept_only_if_used(output: str | None) -> Iterator[None]:
    """Remove the local output folder, and the parents of it, that this command made and left
    empty (a run refused before it wrote anything, a missing token say): no trace of a run that
    did nothing."""
    made = _missing_folders(output) if output else []
    try:
        yield
    finally:
        for folder in made:  # deepest first; a folder holding anything stays, and so do its parents
            try:
                folder.rmdir()
            except OSError:
                break


def _missing_folders(output: str) -> list[Path]:
    """The local folders of ``output`` that do not exist yet, deepest first (none for a remote one)."""
    from fsspec.core import url_to_fs
    from fsspec.implementations.local import LocalFileSystem

    try:
        fs, root = url_to_fs(output)
    except (ValueError, ImportError):
        return []  # an unknown or unavailable scheme: refused with its own message later
    if not isinstance(fs, LocalFileSystem):
        return []
    missing = []
    folder = Path(root)
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def _fail(message: str, status: int) -> int:
    print(f"onramp: error: {_one_line(message)}", file=sys.stderr)
    return status


def _one_line(message: str) -> str:
    """``message`` as one line of plain text: a file or member name may hold a newline or a
    terminal escape."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in message)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="onramp", description="Move contacts from Mailchimp, Constant Contact and CRM or ESP exports (or their APIs) into HubSpot.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # runs_flow: the command runs a flow, in this process, on Prefect's API (see flows/ephemeral.py).

    plan = commands.add_parser("plan", help="extract, validate and transform; write the plan (no HubSpot)")
    _add_plan_arguments(plan)
    plan.set_defaults(run=_run_plan, runs_flow=True)

    migrate = commands.add_parser("migrate", help="plan, then load into a HubSpot portal")
    _add_plan_arguments(migrate)
    _add_portal_arguments(migrate)
    _add_load_arguments(migrate)
    migrate.set_defaults(run=_run_migrate, runs_flow=True)

    sync = commands.add_parser("sync", help="send what changed in the sources since the last successful sync (run it on a schedule)")
    _add_plan_arguments(sync)
    _add_portal_arguments(sync)
    sync.add_argument("--dry-run", action="store_true", help="only report what the changes would do in the portal; send nothing (the plan is still written to --out)")
    sync.set_defaults(run=_run_sync, runs_flow=True)

    accounts = commands.add_parser("migrate-accounts", help="migrate every account of a manifest (YAML), a few at once")
    accounts.add_argument("manifest", metavar="MANIFEST", help="accounts manifest: names, sources, portals (path or URL)")
    accounts.add_argument("--out", required=True, help="output folder; each account writes to OUT/<name>/")
    accounts.add_argument("--max-concurrent", type=int, default=3, metavar="N", help="accounts migrated at once (default: 3)")
    accounts.add_argument("--task-runner", choices=("threads", "dask"), default="threads",
                          help="run accounts in threads of this process, or in Dask worker processes (default: threads)")
    accounts.add_argument("--dask-address", metavar="ADDRESS",
                          help="with --task-runner dask: scheduler of a running Dask cluster (tcp://host:8786); default: start a local one")
    accounts.add_argument("--deployment", metavar="FLOW/DEPLOYMENT",
                          help="run each account as a flow run of this deployment (onramp-migrate/backfill) on its workers, "
                               "on the Prefect server at PREFECT_API_URL")
    accounts.add_argument("--child-start-timeout", type=float, default=600, metavar="SECONDS",
                          help="with --deployment: an account whose flow run no worker has started by then fails, "
                               "and the run is cancelled; a started run may take as long as it needs (default: 600)")
    accounts.set_defaults(run=_run_migrate_accounts, runs_flow=True)

    emulator = commands.add_parser("emulator", help="serve the local HubSpot emulator on 127.0.0.1")
    _add_emulator_arguments(emulator)
    emulator.set_defaults(run=_run_emulator, runs_flow=False)

    source_emulator = commands.add_parser(
        "source-emulator", help="serve a local Mailchimp or Constant Contact API on 127.0.0.1, to read from"
    )
    source_emulator.add_argument("provider", choices=sorted(SOURCE_EMULATORS), help="the API to emulate")
    source_emulator.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    source_emulator.add_argument(
        "--records", type=int, metavar="N", help="members or contacts the account is seeded with (default: 2,500 / 1,200)"
    )
    source_emulator.set_defaults(run=_run_source_emulator, runs_flow=False)

    demo = commands.add_parser("demo", help="migrate the bundled sample export into a local emulator")
    demo.add_argument("--out", default="demo-output", help="output folder (default: ./demo-output)")
    demo.set_defaults(run=_run_demo, runs_flow=True)

    profiles = commands.add_parser("profiles", help="list the source profiles: the formats Onramp recognises")
    profiles.set_defaults(run=_run_profiles, runs_flow=False)

    inspect = commands.add_parser("inspect", help="show how a source would be read: format, columns, consent")
    inspect.add_argument(
        "source", metavar="SOURCE",
        help="export zip, folder, CSV, workbook (x.xlsx#Sheet) or provider API (mailchimp://LIST, constantcontact://contacts)",
    )
    _add_reading_arguments(inspect)
    inspect.add_argument("--json", action="store_true", help="print JSON instead of text")
    inspect.set_defaults(run=_run_inspect, runs_flow=False)
    return parser


def _add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "sources", nargs="+", metavar="SOURCE",
        help="export zip, folder, CSV or workbook (x.xlsx#Sheet), as a local path or URL, "
        "or a provider API (mailchimp://LIST, constantcontact://contacts)",
    )
    parser.add_argument("--out", required=True, help="output folder (local path or URL)")
    parser.add_argument(
        "--consent",
        action="append",
        default=[],
        metavar="STATUS=OUTCOME",
        help="re-map a source status to marketing, non_marketing or opted_out (repeatable)",
    )
    parser.add_argument("--max-rows-per-file", type=int, help="most contacts in one import file (default: 1,000,000)")
    parser.add_argument(
        "--max-bytes-per-file", type=int, metavar="BYTES",
        help="largest import file, in bytes (default: 471,859,200 = 450 MiB; a free HubSpot portal takes 20 MB: 20000000)",
    )
    _add_reading_arguments(parser)


def _add_reading_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", help="read every file with this profile (see `onramp profiles`) instead of detecting one")
    parser.add_argument("--mapping", metavar="FILE", help="mapping file (TOML or YAML) overriding column targets and consent")
    parser.add_argument(
        "--mailchimp-secret", metavar="BLOCK",
        help="Prefect Secret block holding the Mailchimp API key, the only place it is read when given "
        "(default: MAILCHIMP_API_KEY, else the block mailchimp-api-key)",
    )
    parser.add_argument(
        "--constant-contact-secret", metavar="BLOCK",
        help="Prefect Secret block holding the Constant Contact token(s), the only place they are read when given "
        "(default: the CONSTANT_CONTACT_* variables, else the block constant-contact-credentials)",
    )


def _read_options(args: argparse.Namespace) -> object:
    from tasks.extract.tables import ReadOptions
    from tasks.transform.catalog import reading_profile
    from tasks.transform.mapping_file import UserMapping

    if args.profile:
        reading_profile(args.profile)
    mapping = UserMapping.load(args.mapping) if args.mapping else None
    return ReadOptions(profile=args.profile, mapping=mapping, credentials=_source_credentials(args))


def _source_credentials(args: argparse.Namespace) -> object:
    """Where API sources find their credentials: the blocks named here alone, else the environment,
    else the default blocks."""
    from schemas.params import SourceCredentials

    return SourceCredentials(
        mailchimp_secret_block=args.mailchimp_secret, constant_contact_secret_block=args.constant_contact_secret
    )


def _add_portal_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--portal-url", help="HubSpot API base URL (default: https://api.hubapi.com)")
    parser.add_argument(
        "--token-secret",
        help="Prefect Secret block holding the token, the only place it is read when given "
        "(default: the HUBSPOT_ACCESS_TOKEN environment variable, else the block hubspot-access-token)",
    )
    parser.add_argument(
        "--portal-id",
        type=int,
        metavar="N",
        help="the HubSpot portal id (Hub ID) the token must be for: stop before sending or reading anything "
        "if it is another portal's (default: not checked)",
    )


def _add_load_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="only read the portal: report what would be created, updated, opted out and left alone, "
        "and the marketing contacts that would be added to billing; send nothing (the plan is still written to --out)",
    )
    parser.add_argument(
        "--load-path",
        choices=("auto", "imports", "upsert"),
        default="auto",
        help="send contacts by the Imports API, by batch upsert, or auto: upsert for small files (default: auto)",
    )
    parser.add_argument(
        "--companies",
        action="store_true",
        help="also create the contacts' companies (keyed by website or non-free-mail email domain) "
        "and associate each contact with its company",
    )


def _add_emulator_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8090, help="port to listen on; 0 picks a free one (default: 8090)")
    parser.add_argument("--state", metavar="FILE", help="keep the portal in FILE between restarts")
    portal = parser.add_argument_group("portal")
    portal.add_argument("--tier", default="professional", help="rate-limit tier: free, starter, professional, enterprise, api-add-on (default: professional)")
    portal.add_argument("--daily-limit", type=int, metavar="N", help="requests a day (default: the tier's)")
    # Unset, each is the emulator's own default; its settings refuse an unknown type or zone.
    portal.add_argument("--portal-id", type=int, metavar="N", help="the portal id the account-info API answers, as a rehearsed portal's (default: 123456)")
    portal.add_argument("--account-type", metavar="TYPE", help="STANDARD, SANDBOX, DEVELOPER_TEST or APP_DEVELOPER (default: STANDARD)")
    portal.add_argument("--time-zone", metavar="ZONE", help="the portal's IANA time zone (its daily quota resets at midnight there; default: US/Eastern)")
    portal.add_argument(
        "--max-imports-per-day", type=int, metavar="N",
        help="imports the portal may create in any 24 hours (HubSpot: 500, 50 on free portals; default: not limited)",
    )
    portal.add_argument(
        "--max-property-options", type=int, metavar="N",
        help="options one enumeration property may hold (default: HubSpot's 5,000)",
    )
    portal.add_argument(
        "--no-batch-opt-outs", action="store_true",
        help="answer the batch communication-preferences endpoints 403, as below Marketing Hub Enterprise",
    )
    portal.add_argument(
        "--missing-scope", action="append", default=[], metavar="SCOPE",
        help="a scope the token's app lacks (repeatable): requests needing it get HubSpot's 403 MISSING_SCOPES",
    )
    portal.add_argument(
        "--token", action="append", metavar="TOKEN",
        help="accept only this bearer token (repeatable; default: any). Never a real HubSpot token: "
        "the command line is visible to other processes",
    )
    faults = parser.add_argument_group("faults (seeded, so a failing rehearsal can be replayed)")
    faults.add_argument("--error-rate", type=float, default=0.0, metavar="F", help="fraction of requests answered 500/502/503/504/423")
    faults.add_argument("--drop-rate", type=float, default=0.0, metavar="F", help="fraction of connections dropped mid-response")
    faults.add_argument("--latency", type=float, default=0.0, metavar="S", help="seconds added to every answer")
    faults.add_argument("--fault-seed", type=int, default=0, metavar="N", help="seed of the fault draws")
    faults.add_argument("--fail-imports", type=int, default=0, metavar="N", help="the first N imports end FAILED")
    faults.add_argument(
        "--error-after-write", type=int, default=0, metavar="N",
        help="the first N writes are applied, then answered 504 (a gateway timeout of work done)",
    )
    faults.add_argument("--daily-quota-at", type=int, metavar="N", help="the daily quota is reached at request N (429 DAILY)")


def _plan_parameters(args: argparse.Namespace) -> dict:
    from tasks.errors import InputError

    overrides = {}
    for item in args.consent:
        status, sep, outcome = item.partition("=")
        if not sep or not status.strip():
            raise InputError("--consent", f"expected STATUS=OUTCOME, got {item!r}")
        overrides[status.strip()] = outcome.strip()
    _read_options(args)
    params = {
        "sources": args.sources,
        "output": args.out,
        "consent_overrides": overrides,
        "profile": args.profile,
        "mapping_file": args.mapping,
        "source_credentials": _source_credentials(args),
    }
    for limit in ("max_rows_per_file", "max_bytes_per_file"):
        if getattr(args, limit) is not None:
            params[limit] = getattr(args, limit)
    return params


def _preflight(params: object) -> None:
    """Fail fast, before the Prefect engine starts, on bad parameters, a source that is not there
    or an output that cannot be written (the flow checks them again: a deployment's run has no CLI)."""
    from flows.migrate import check_parameters
    from tasks.output import make_local_output

    # Before anything opens, logs or records a location: no credential in it, a known scheme;
    # a remote output written to once (check_parameters checks it).
    check_parameters(params)
    # A local folder is made now, so a file in its way is refused before the engine starts.
    make_local_output(params.output)


def _run_plan(args: argparse.Namespace) -> int:
    from schemas.params import PlanParameters

    params = PlanParameters(**_plan_parameters(args))
    _preflight(params)
    from flows.migrate import plan_contacts

    report = _in_engine(plan_contacts, params)
    _print_summary(report, params.output)
    return EXIT_OK


def _run_migrate(args: argparse.Namespace) -> int:
    from schemas.params import MigrationParameters

    params = MigrationParameters(**_portal_parameters(args), dry_run=args.dry_run, load_path=args.load_path, import_companies=args.companies)
    _preflight(params)
    from flows.migrate import migrate_contacts

    report = _summarised(migrate_contacts, params)
    return EXIT_OK if params.dry_run else _load_exit(report["load"])


def _load_exit(load: dict) -> int:
    """The exit status of a command that loaded: ``EXIT_LOAD_FAILED`` when HubSpot did not take
    something that must be sent again, a row or a contact's removal from a static list
    (:func:`tasks.report.load_failed`), else ``EXIT_OK``."""
    from tasks.report import load_failed

    return EXIT_LOAD_FAILED if load_failed(load) else EXIT_OK


def _portal_parameters(args: argparse.Namespace) -> dict:
    """The plan's parameters and the portal's, as given on the command line."""
    values = _plan_parameters(args)
    if args.portal_url:
        values["portal_url"] = args.portal_url
    if args.token_secret:
        values["token_secret_block"] = args.token_secret
    if args.portal_id is not None:
        values["portal_id"] = args.portal_id
    return values


def _run_sync(args: argparse.Namespace) -> int:
    from schemas.params import SyncParameters

    params = SyncParameters(**_portal_parameters(args), dry_run=args.dry_run)
    _preflight(params)
    from flows.sync import sync_contacts

    report = _summarised(sync_contacts, params)
    # No "load" when nothing changed: nothing was sent, nothing failed.
    return _load_exit(report.get("load", {}))


def _run_migrate_accounts(args: argparse.Namespace) -> int:
    from schemas.manifest import AccountsParameters
    from tasks.output import check_output_location

    params = AccountsParameters(
        manifest=args.manifest, output=args.out, max_concurrent_accounts=args.max_concurrent,
        task_runner=args.task_runner, dask_address=args.dask_address, account_deployment=args.deployment,
        child_start_timeout_seconds=args.child_start_timeout,
    )
    # Read here too, so a bad manifest is one line naming its line before the engine starts.
    params.read_manifest()
    check_output_location(params.output)
    from flows.accounts import ROLLUP_FILE, migrate_accounts
    from tasks.report import LOAD_FAILURES

    rollup = _in_engine(migrate_accounts, params)
    for account in rollup["accounts"]:
        detail = _one_line(account["error"]) if account["error"] else _load_counts(account["ledger"])
        print(f"  {account['name']:<20} {account['status']:<9} {detail}")
    totals = rollup["totals"]
    print(f"{len(rollup['accounts'])} account(s), {len(rollup['failed'])} failed; {_load_counts(totals)}; "
          f"roll-up: {params.output.rstrip('/')}/{ROLLUP_FILE}")
    # As `onramp migrate`: what HubSpot did not take fails the command, though its accounts finished.
    return EXIT_LOAD_FAILED if rollup["failed"] or any(totals[failure] for failure in LOAD_FAILURES) else EXIT_OK


def _load_counts(ledger: dict) -> str:
    """An account's ledger (or the roll-up's totals) as the accounts summary says it: rows read
    and failed, and what `onramp migrate`'s summary says beside them (values HubSpot refused,
    contacts it would not take out of a list, mismatches the read-back from HubSpot found)."""
    from flows.accounts import NOT_ASSOCIATED
    from tasks.report import mismatches_said

    refused, unassociated, read_back = ledger["rows_with_value_errors"], ledger[NOT_ASSOCIATED], ledger["read_back"]
    not_removed = ledger["list_removals_failed"]
    return (
        f"{ledger['rows_read']} rows read, {ledger['rows_failed']} failed"
        + (f", {refused} with values HubSpot refused" if refused else "")
        + (f", {not_removed} contact(s) HubSpot would not take out of a list" if not_removed else "")
        + (f", {unassociated} not associated with their company" if unassociated else "")
        + (f"; read back from HubSpot: {mismatches_said(read_back)}" if read_back else "")
    )


SOURCE_EMULATORS = {
    # provider: (package under emulators/, settings field seeded with --records, the source to
    # read, the environment variables pointing Onramp at it: name → server attribute path)
    "mailchimp": (
        "mailchimp", "members", "mailchimp://{settings.list_id}",
        {"MAILCHIMP_BASE_URL": "api_url", "MAILCHIMP_API_KEY": "settings.api_key"},
    ),
    "constantcontact": (
        "constant_contact", "contacts", "constantcontact://contacts",
        {"CONSTANT_CONTACT_BASE_URL": "api_url", "CONSTANT_CONTACT_TOKEN": "settings.token"},
    ),
}
"""How ``onramp source-emulator`` serves each provider and tells the user to reach it."""


def _run_source_emulator(args: argparse.Namespace) -> int:
    import importlib
    import operator
    import signal
    import threading

    from emulators.hubspot.server import PortUnavailable

    package, records_field, source, variables = SOURCE_EMULATORS[args.provider]
    serve = importlib.import_module(f"emulators.{package}").serve_in_background
    seeded = {} if args.records is None else {records_field: args.records}
    try:
        server = serve(port=args.port, **seeded)
    except PortUnavailable as error:
        return _port_unavailable(error)
    with server:
        exports = " ".join(f"{name}={operator.attrgetter(path)(server)}" for name, path in variables.items())
        print(f"{args.provider} emulator on {server.url}; in another terminal:", flush=True)
        print(f"  export {exports}", flush=True)
        print(f"  onramp inspect {source.format(settings=server.settings)}", flush=True)
        # Ctrl-C or a SIGTERM stops it (a shell's background job ignores SIGINT).
        stopped = threading.Event()
        for stop_signal in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stop_signal, lambda *_: stopped.set())
        while not stopped.wait(1):
            pass
    return EXIT_OK


def _port_unavailable(error: OSError) -> int:
    """Fail an emulator command whose ``--port`` cannot be listened on, in one line."""
    return _fail(f"{error}: pick another with --port", EXIT_BAD_INPUT)


def _run_emulator(args: argparse.Namespace) -> int:
    from emulators.hubspot import EmulatorSettings, serve_forever
    from emulators.hubspot.server import PortUnavailable

    try:
        settings = EmulatorSettings(
            tier=args.tier,
            daily_limit=args.daily_limit,
            **{
                name: value
                for name, value in {
                    "portal_id": args.portal_id,
                    "account_type": args.account_type,
                    "time_zone": args.time_zone,
                    "max_imports_per_day": args.max_imports_per_day,
                    "max_property_options": args.max_property_options,
                }.items()
                if value is not None
            },
            allowed_tokens=frozenset(args.token) if args.token else None,
            batch_comm_prefs_allowed=not args.no_batch_opt_outs,
            missing_scopes=tuple(args.missing_scope),
            fault_seed=args.fault_seed,
            error_rate=args.error_rate,
            drop_rate=args.drop_rate,
            latency=args.latency,
            daily_quota_at=args.daily_quota_at,
            state_file=args.state,
        )
    except ValueError as error:
        return _fail(str(error), EXIT_BAD_INPUT)
    try:
        serve_forever(
            port=args.port, settings=settings, fail_imports=args.fail_imports, error_after_write=args.error_after_write
        )
    except PortUnavailable as error:
        return _port_unavailable(error)
    except KeyboardInterrupt:
        # Ctrl-C is how an emulator is stopped (its state is saved by then): not an error.
        pass
    return EXIT_OK


def _run_demo(args: argparse.Namespace) -> int:
    from emulators.hubspot import serve_in_background
    from flows.migrate import migrate_contacts
    from schemas.params import MigrationParameters

    from tasks.load.settings import TOKEN_ENV_VAR

    print(f"Starting a local HubSpot emulator and migrating {SAMPLE_EXPORT.name} into it...", flush=True)
    with serve_in_background() as emulator:
        # The emulator accepts any token; this one lives only in this process.
        os.environ.setdefault(TOKEN_ENV_VAR, DEMO_TOKEN)
        params = MigrationParameters(sources=[str(SAMPLE_EXPORT)], output=args.out, portal_url=emulator.url)
        report = _summarised(migrate_contacts, params)
    out = Path(params.output)
    print(
        "\nWhere to look:\n"
        f"  {out / 'report.json'}        the ledger and the load results ({out / 'report.html'} as a page)\n"
        f"  {out / 'hubspot'}/               the files the load sent (contacts per outcome, opt-outs)\n"
        f"  {out / 'rejects.csv'}        rows that could not be used, with the reason\n"
        f"  {out / 'value-rejects.csv'}  values not sent: not of their property's type\n"
        f"  {out / 'lineage.csv'}        each contact's source rows\n"
        "Next: `prefect server start` shows these runs and their artifacts in the Prefect UI;\n"
        "`onramp migrate SOURCE --out DIR` with HUBSPOT_ACCESS_TOKEN set loads into a real portal."
    )
    return _load_exit(report["load"])


def _run_profiles(args: argparse.Namespace) -> int:
    from tasks.inspect import profiles_text

    print(profiles_text())
    return EXIT_OK


def _run_inspect(args: argparse.Namespace) -> int:
    import json

    from tasks.extract.locations import check_location
    from tasks.inspect import inspect_source, inspection_text

    check_location(args.source)
    files = inspect_source(args.source, _read_options(args))
    print(json.dumps(files, indent=2, ensure_ascii=False) if args.json else inspection_text(files))
    return EXIT_OK


def _in_engine(flow: Callable, params: object) -> dict:
    """Run a flow with its console logs kept free of tracebacks for expected errors."""
    from flows.console import quiet_expected_tracebacks
    from flows.ephemeral import use_the_early_server

    quiet_expected_tracebacks()
    _check_prefect_api()
    use_the_early_server()
    return flow(params)


def _check_prefect_api() -> None:
    """Refuse in one line, before the flow starts, a Prefect API the user named that does not
    answer (Prefect's own failure is a traceback); a no-op when none is named: the command's
    temporary server is checked as it starts (``flows.ephemeral``).

    Raises:
        InputError: ``PREFECT_API_URL`` (named without user-info or query) did not answer its
            health check, answered it with an error status, or runs an incompatible Prefect.
    """
    import httpx
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    from tasks.errors import InputError

    url = PREFECT_API_URL.value()
    if not url:
        return
    try:
        # Entering the client asks the server's version, once per process: the flow's own client
        # does not ask again.
        with get_client(sync_client=True) as client:
            failure = client.api_healthcheck()
    except Exception as error:  # noqa: BLE001 - whatever it is, the flow could not start: said in one line
        failure = error
    if failure is None:
        return
    if isinstance(failure, httpx.HTTPStatusError):
        problem = f"the Prefect API there answered its health check {failure.response.status_code}"
    elif "incompatible versions" in str(failure):
        problem = f"the Prefect API there is of another version: {failure}"
    else:
        problem = "no Prefect API answered there"
    raise InputError(url, f"{problem} (PREFECT_API_URL): start it (prefect server start) or point PREFECT_API_URL at one that runs")


def _summarised(flow: Callable, params: object) -> dict:
    """Run a flow that loads and print its summary; when the load stops (the daily quota, HubSpot
    down), the summary its report holds is printed before the error goes up, so the console
    still says what was planned and where the report is."""
    from tasks.errors import LoadError
    from tasks.stopping import is_interruption

    started = datetime.datetime.now(datetime.UTC)
    try:
        report = _in_engine(flow, params)
    except BaseException as error:
        # A load error, or an interruption (Ctrl-C, SIGTERM); not a bug.
        stopped = _report_of_the_stop(params.output, error, started) if isinstance(error, LoadError) or is_interruption(error) else None
        if stopped is not None:
            _print_summary(stopped, params.output)
        raise
    _print_summary(report, params.output)
    return report


def _report_of_the_stop(output: str, error: BaseException, started: datetime.datetime) -> dict | None:
    """The report the run published when its load stopped with ``error`` (a load error, or an
    interruption); None when there is none (the run stopped before it planned) or the report
    there is an earlier run's (its message differs, or it was written before ``started``)."""
    from tasks.load.run import INTERRUPTED
    from tasks.report import report_written_since
    from tasks.stopping import is_interruption

    report = report_written_since(output, started)
    # The flow writes the error's own message there as it stops, or why an interruption stopped
    # it (flows/migrate.py).
    said = report.get("load_stopped") if report else None
    matches = bool(said) and said.startswith(INTERRUPTED) if is_interruption(error) else said == str(error)
    return report if matches else None


def _print_summary(report: dict, output: str) -> None:
    from tasks.load.run import resumed_note
    from tasks.report import load_lines, marketing_billing_hint, pending_opt_out_lines, portal_named, source_warnings, summary_rows

    c = report["contacts"]
    print(
        f"\nrows read {report['rows_read']}  rejected {report['rows_rejected']}  "
        f"duplicates merged {report['duplicates_merged']}  ->  marketing {c['marketing']}  "
        f"non-marketing {c['non_marketing']}  opted out {c['opted_out']}"
    )
    billing = marketing_billing_hint(report)
    if billing:
        print(f"  {billing}")
    for row in summary_rows(report)[:-1]:
        print(f"  {row['status']:>14}  {row['rows']:>8} rows  {row['rejected']:>6} rejected  {row['source']}")
    for line in source_warnings(report):
        print(line)
    sync = report.get("sync")
    if sync:
        print(
            f"sync: {sync['new_or_changed_contacts']} new or changed contacts, {sync['new_opt_outs']} new opt-outs, "
            f"{sync['unchanged']} unchanged, {sync['kept_opted_out']} kept opted out, "
            f"{sync['kept_newer_from_api']} kept as a provider API last gave them, "
            f"{sync['older_than_sent']} older than the row sent, "
            f"{sync['held_non_marketing']} kept non-marketing as a provider that did not list them left them, "
            f"{sync['left_source']} no longer in the sources"
        )
        if sync["held_non_marketing"]:
            print(
                f"sync: {sync['held_sent_non_marketing']} of the {sync['held_non_marketing']} kept non-marketing were sent with their "
                "other changes; the next run reads every provider whole, so each one's consent decides for them"
            )
        if sync.get("changed_already_marketing"):
            print(
                f"sync: {sync['changed_already_marketing']} of the {sync['new_or_changed_contacts']} new or changed contacts an earlier "
                "run made marketing: their marketing status was read from HubSpot first (report.json sync.changed_already_marketing)"
            )
        for line in pending_opt_out_lines(report):
            print(line)
    dry_run = report.get("dry_run")
    if dry_run:
        contacts, opt_outs = dry_run["contacts"], dry_run["opt_outs"]
        print(
            f"dry run against {portal_named(dry_run)}, nothing written: would create {contacts['create']}, "
            f"update {contacts['update']}, leave {contacts['unchanged']} contacts; opt out {opt_outs['opt_out']} "
            f"({opt_outs['unchanged']} already); +{dry_run['billing_delta']} marketing contacts"
        )
        if dry_run.get("marketing_opted_out"):
            print(
                f"  {dry_run['marketing_opted_out']} contact(s) of the marketing files are unsubscribed from all email in "
                "HubSpot: the load will send them as non-marketing, not billed and not in the list (report.json dry_run.files)"
            )
    if report.get("load_stopped"):
        print("the load stopped before it finished: report.json load_stopped says why, load_done what was done; "
              "the same command resumes it")
    load = report.get("load")
    if load:
        for line in load_lines(load):
            print(line)
        resumed = resumed_note(load)
        if resumed:
            print(resumed)
    print(f"report: {output.rstrip('/')}/report.json")


if __name__ == "__main__":
    sys.exit(main())
