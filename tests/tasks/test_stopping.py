"""A stop request ends the work's waits at once; an error leaving a block is not one."""

from __future__ import annotations

import threading

import pytest

from tasks import stopping


# Each test has a stop request of its own (tests/conftest.py's fresh_stop_request).


def test_a_wait_in_another_thread_ends_when_the_stop_is_requested():
    outcome = []

    def wait_an_hour():
        try:
            stopping.wait(3600)
        except stopping.Stopping:
            outcome.append("stopped")

    waiting = threading.Thread(target=wait_an_hour, daemon=True)
    waiting.start()
    stopping.request_stop()
    waiting.join(timeout=30)

    assert outcome == ["stopped"]


def test_nothing_starts_once_stopping():
    stopping.check_not_stopping()
    stopping.request_stop()

    with pytest.raises(stopping.Stopping):
        stopping.check_not_stopping()
    with pytest.raises(stopping.Stopping):
        stopping.wait(0)


def test_an_error_is_not_an_interruption_but_an_interruption_requests_the_stop():
    with pytest.raises(ValueError), stopping.stopped_when_interrupted():
        raise ValueError("a step failed")
    stopping.check_not_stopping()

    with pytest.raises(KeyboardInterrupt), stopping.stopped_when_interrupted():
        raise KeyboardInterrupt
    with pytest.raises(stopping.Stopping):
        stopping.check_not_stopping()


def test_a_stop_is_not_taken_for_a_failure_to_handle():
    assert not issubclass(stopping.Stopping, Exception)
