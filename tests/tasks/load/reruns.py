"""A load run as the CLI runs it (load_steps in a Prefect flow, on a state folder), for tests that
run it again on the same folder, and which of its steps an earlier run had done."""

from __future__ import annotations

from prefect import flow

from tasks.load.client import HubSpotPortal
from tasks.load.run import AUTO, load_steps

POLL = 0.02


@flow(validate_parameters=False)
def load_in_a_flow(portal: HubSpotPortal, plan: str, state: str, load_path: str = AUTO, import_companies: bool = False) -> dict:
    """One load of ``plan`` on the state folder ``state``, imports polled every ``POLL`` seconds.

    Args:
        portal: The emulated portal.
        plan: The plan directory.
        state: The state folder a rerun finds the finished steps in.
        load_path: ``auto``, ``imports`` or ``upsert``.
        import_companies: Also make the contacts' companies and associate them.

    Returns:
        The load report, with its ``steps``.
    """
    return load_steps(portal, plan, state_dir=state, load_path=load_path, poll_interval=POLL, import_companies=import_companies)


def already_done(report: dict) -> list[tuple[str, str | None]]:
    """The steps (name, subject) a run found done by an earlier run, in load order."""
    return [(step["step"], step["subject"]) for step in report["steps"] if step["already_done"]]
