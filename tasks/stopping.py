"""The command is stopping (Ctrl-C, SIGTERM): every wait of the work in flight ends at once.

Python delivers a signal to the main thread only, but a load waits in other threads: the
contacts files' steps in the flow's task runner (an import polled until HubSpot finishes it,
which can take many minutes), opt-outs in their own pool, and every request's rate-limit wait
and retry backoff wherever it is sent from. The main thread, interrupted, unwinds to the task
runner, which waits for those threads: without a way to tell them, the command went on until
the last import ended.

So the work's waits are :func:`wait`, not ``time.sleep``, and every HubSpot request checks
:func:`check_not_stopping` as it asks the rate budget for a slot: once :func:`request_stop` is
called, each wait ends at once and raises :class:`Stopping`, and no new request starts. A
request already in flight ends first (its timeouts bound it). What is stopped is safe to
resume: a rerun takes up an import HubSpot was still processing, and a step is done again only
if it did not finish.

The request is process-wide and stays: it is made when the process is about to end.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_stop_requested = threading.Event()


class Stopping(KeyboardInterrupt):
    """Raised in the work's threads once the command is stopping.

    The interruption, as it reaches them: like ``KeyboardInterrupt`` no ``except Exception`` (a
    retry loop, a step recording its failure) takes it for a failure to handle and go on, and
    Prefect records a step ended by it as "aborted by an interrupt signal".
    """

    def __init__(self) -> None:
        super().__init__("the command is stopping")


def request_stop() -> None:
    """Have every wait of the work end now, and no new request start (see the module)."""
    _stop_requested.set()


def check_not_stopping() -> None:
    """Raise :class:`Stopping` if the command is stopping; call it before starting anything.

    Raises:
        Stopping: :func:`request_stop` was called.
    """
    if _stop_requested.is_set():
        raise Stopping


def wait(seconds: float) -> None:
    """Sleep ``seconds``, unless the command is stopping: then raise at once.

    Args:
        seconds: How long to wait (0 or less only checks).

    Raises:
        Stopping: :func:`request_stop` was called before or during the wait.
    """
    if _stop_requested.wait(max(seconds, 0.0)):
        raise Stopping


def is_interruption(error: BaseException) -> bool:
    """Whether ``error`` interrupts the work (Ctrl-C, SIGTERM as Prefect raises it, a
    :class:`Stopping`, the command's exit) rather than being an error of it: not an ``Exception``."""
    return not isinstance(error, Exception)


@contextmanager
def stopped_when_interrupted() -> Iterator[None]:
    """Request the stop when the block is left by an interruption, not by an error.

    Wrap the part of the work that waits for other threads: the interrupted thread (the main
    thread, which Python hands a signal to) unwinds through it while they still run. Prefect
    turns a SIGTERM during a flow into its own ``TerminationSignal``, raised there, so this is
    how its arrival reaches them.
    """
    try:
        yield
    except BaseException as error:
        if is_interruption(error):
            request_stop()
        raise
