"""One load at a time per state folder: a second run into the same output stops at once, and a
killed run's hold goes with its process."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import pytest

from tasks.errors import LoadError
from tasks.load.resume import LOCK_FILE, LoadInProgress, load_lock

REFUSAL = r"^another run is loading into this output \((.*)\) now: wait for it to finish, then run again$"

HOLDER = """
import sys
from tasks.load.resume import load_lock
with load_lock(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.read()
"""


def test_a_second_hold_of_the_folder_is_refused_at_once_until_the_first_ends(tmp_path):
    state = tmp_path / "out" / ".onramp-load"
    with load_lock(state):
        with pytest.raises(LoadInProgress, match=REFUSAL) as refused:
            with load_lock(state):
                pytest.fail("two loads held the same state folder")
        assert isinstance(refused.value, LoadError)  # the CLI's one line, exit status 1
    with load_lock(state):
        pass


def test_a_run_in_another_process_is_named_and_its_hold_ends_with_the_process(tmp_path):
    state = tmp_path / "state"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(state)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(LoadInProgress) as refused:
            with load_lock(state):
                pytest.fail("a second process held the state folder too")
        who = re.match(REFUSAL, str(refused.value)).group(1)
        assert re.fullmatch(rf"process {holder.pid} on \S+, since \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d UTC", who), who
    finally:
        # Killed, as a machine dying would: nothing of the hold is left for the next run.
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    with load_lock(state):
        assert (state / LOCK_FILE).read_text(encoding="utf-8").startswith("process ")
    assert (state / LOCK_FILE).read_text(encoding="utf-8") == ""
