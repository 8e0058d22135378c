"""The ``onramp`` command's console: expected errors are one line there, never a traceback.

Prefect logs a task's exception with its traceback, then again as the task and its flow end
failed; for bad input and failed loads the one-line message the command prints says it all. The
command drops those records from its console (Prefect's API, the UI's log, keeps them, without
the traceback), in its own process and, through :data:`QUIET_ENV_VAR`, the processes that inherit
its environment and its console (the local Dask workers of ``migrate-accounts --task-runner
dask``); runs started elsewhere keep them.
"""

from __future__ import annotations

import logging
import os
import re

DEBUG_ENV_VAR = "ONRAMP_DEBUG"
QUIET_ENV_VAR = "ONRAMP_QUIET_EXPECTED_TRACEBACKS"

_quieted = False


RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")
"""The engine's loggers of a run's own lines, which say a run failed and why."""


def quiet_expected_tracebacks() -> None:
    """Drop the traceback of bad input and failed loads from this process's log handlers, and
    the engine's lines saying a run failed of one from its console, and ask child processes to do
    the same. ``ONRAMP_DEBUG=1`` keeps them."""
    global _quieted
    if os.environ.get(DEBUG_ENV_VAR) or _quieted:
        return
    os.environ[QUIET_ENV_VAR] = "1"
    from prefect.logging.handlers import PrefectConsoleHandler

    from tasks.errors import InputError, LoadError

    expected_names = "|".join(re.escape(name) for name in sorted(_class_names(InputError) | _class_names(LoadError)))
    # "Task run failed with exception: InputError(…)", "Encountered exception during execution:
    # InputError(…)": the exception is not attached by the time the console's handler sees the
    # record. And every run's "Finished in state Failed(…)": the command's own last line says why
    # (a refused run's state holds its message alone).
    failed_of_expected = re.compile(rf"exception(?: during execution)?: (?:{expected_names})\(|^Finished in state Failed\(")

    class DropExpectedTracebacks(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            if record.exc_info and isinstance(record.exc_info[1], (InputError, LoadError)):
                record.exc_info = None
                record.exc_text = None
            return True

    class DropExpectedFailures(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return not record.name.startswith(RUN_LOGGERS) or failed_of_expected.search(record.getMessage()) is None

    expected, failures = DropExpectedTracebacks(), DropExpectedFailures()
    loggers = [logging.getLogger()] + [
        logger for name, logger in logging.Logger.manager.loggerDict.items()
        if name.startswith("prefect") and isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            handler.addFilter(failures if isinstance(handler, PrefectConsoleHandler) else expected)
    _quieted = True


def _class_names(error_class: type) -> set[str]:
    """The names of ``error_class`` and of every class deriving from it (imported by now)."""
    return {error_class.__name__}.union(*(_class_names(sub) for sub in error_class.__subclasses__()))


def quiet_if_the_command_asked() -> None:
    """In a process started by the command (a local Dask worker), quiet it as the command is."""
    if os.environ.get(QUIET_ENV_VAR):
        quiet_expected_tracebacks()
