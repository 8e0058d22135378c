"""The load's logger: Prefect's run logger inside a flow or task run, the standard one outside."""

from __future__ import annotations

import logging

from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger


def get_logger() -> logging.Logger | logging.LoggerAdapter:
    """Return the logger to write load messages to.

    Inside a Prefect run the run logger, so lines show up in the UI against the task that wrote
    them; outside one (plain function calls, tests, the CLI's own code) ``tasks.load``.
    Callers mask emails themselves (``tasks.privacy``) and never log a token.
    """
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("tasks.load")
