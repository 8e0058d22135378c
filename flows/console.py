"""The ``onramp`` command's console: expected errors are one line there, never a traceback.

Prefect logs a task's exception with its traceback; for bad input and failed loads the one-line
message the command prints says it all. The command quiets its own process and, through
:data:`QUIET_ENV_VAR`, the processes that inherit its environment and its console (the local
Dask workers of ``migrate-accounts --task-runner dask``); runs started elsewhere keep them.
"""

from __future__ import annotations

import logging
import os

DEBUG_ENV_VAR = "ONRAMP_DEBUG"
QUIET_ENV_VAR = "ONRAMP_QUIET_EXPECTED_TRACEBACKS"

_quieted = False


def quiet_expected_tracebacks() -> None:
    """Drop the traceback of bad input and failed loads from this process's log handlers, and
    ask child processes to do the same. ``ONRAMP_DEBUG=1`` keeps them."""
    global _quieted
    if os.environ.get(DEBUG_ENV_VAR) or _quieted:
        return
    os.environ[QUIET_ENV_VAR] = "1"
    from tasks.errors import InputError, LoadError

    class DropExpectedTracebacks(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            if record.exc_info and isinstance(record.exc_info[1], (InputError, LoadError)):
                record.exc_info = None
                record.exc_text = None
            return True

    expected = DropExpectedTracebacks()
    loggers = [logging.getLogger()] + [
        logger for name, logger in logging.Logger.manager.loggerDict.items()
        if name.startswith("prefect") and isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            handler.addFilter(expected)
    _quieted = True


def quiet_if_the_command_asked() -> None:
    """In a process started by the command (a local Dask worker), quiet it as the command is."""
    if os.environ.get(QUIET_ENV_VAR):
        quiet_expected_tracebacks()
