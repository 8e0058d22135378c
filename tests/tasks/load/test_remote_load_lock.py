"""One load at a time into a remote output, whichever machine runs it: a lease object in the
output (``.onramp-load.lock``) refuses a second run at once, naming the first; a killed run's
lease is taken over once it lapses; it is released however the load ends.

Everything talks HTTP to moto's S3 server on 127.0.0.1 (the ``s3_server`` fixture).
"""

from __future__ import annotations

import json
import logging
import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest

from tasks.errors import InputError
from tasks.load.resume import LEASE_FILE, LoadInProgress, load_lock, output_lease, unrenewed_seconds
from tests.tasks.test_output_remote import fresh_file_systems, iam_user, s3_client  # noqa: F401 - an autouse fixture

REFUSAL = r"^another run is loading into this output \((.*)\) now: wait for it to finish, then run again$"

HOLDER = """
import json, sys
from tasks.load.resume import output_lease
with output_lease(sys.argv[1], json.loads(sys.argv[2]), lease_seconds=float(sys.argv[3]), renewal_seconds=3600):
    print("held", flush=True)
    sys.stdin.read()
"""
"""Another run, as a process of its own (another machine's): holds the output until its stdin closes."""


def lease_object(s3_server, bucket: str, folder: str) -> dict | None:
    """The lease in ``bucket/folder`` as JSON, or None when there is none."""
    client = s3_client(s3_server)
    listed = client.list_objects_v2(Bucket=bucket, Prefix=f"{folder}/{LEASE_FILE}")
    if not listed["KeyCount"]:
        return None
    return json.loads(client.get_object(Bucket=bucket, Key=f"{folder}/{LEASE_FILE}")["Body"].read())


def refusal_holder(output: str, storage_options: dict) -> str:
    """Who the refusal of a run into ``output`` names as holding it."""
    with pytest.raises(LoadInProgress) as refused:
        with output_lease(output, storage_options):
            pytest.fail("two runs held the same output")
    return re.match(REFUSAL, str(refused.value)).group(1)


def test_a_second_run_into_the_output_is_refused_naming_the_first_until_it_ends(s3_server):
    output = f"s3://{s3_server.bucket}/one-at-a-time"
    with output_lease(output, s3_server.storage_options):
        held = lease_object(s3_server, s3_server.bucket, "one-at-a-time")
        # The same output spelled otherwise is the same output.
        who = refusal_holder(f"{output}/", s3_server.storage_options)
        assert who == held["holder"]
        assert re.fullmatch(r"process \d+ on \S+, since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", who), who
    assert lease_object(s3_server, s3_server.bucket, "one-at-a-time") is None
    with output_lease(output, s3_server.storage_options):
        pass


def test_a_killed_runs_lease_is_taken_over_once_it_lapses(s3_server, caplog):
    caplog.set_level(logging.WARNING, logger="tasks.load")
    output = f"s3://{s3_server.bucket}/killed-run"
    # A lease of 1 s, never renewed: lapsed 2 s after it was written, by the server's clock.
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, output, json.dumps(s3_server.storage_options), "1"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline() == "held\n"
    finally:
        # Killed, as OOM or a lost machine would: its lease stays behind.
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    dead = lease_object(s3_server, s3_server.bucket, "killed-run")
    assert dead["holder"].startswith(f"process {holder.pid} on ")
    time.sleep(2.1)

    with output_lease(output, s3_server.storage_options):
        assert lease_object(s3_server, s3_server.bucket, "killed-run")["holder"] != dead["holder"]

    assert f"took the load's lease over from {dead['holder']}: not renewed for" in caplog.text
    assert lease_object(s3_server, s3_server.bucket, "killed-run") is None


def test_a_renewed_lease_does_not_lapse(s3_server):
    output = f"s3://{s3_server.bucket}/renewed"
    # Lapsed after 1 s unless renewed, and renewed five times a second: still held 2.5 s on.
    with output_lease(output, s3_server.storage_options, lease_seconds=1, renewal_seconds=0.2):
        time.sleep(2.5)
        refusal_holder(output, s3_server.storage_options)


def test_the_lease_is_released_when_the_load_fails(s3_server):
    output = f"s3://{s3_server.bucket}/failed-load"
    with pytest.raises(RuntimeError, match="the load broke"):
        with output_lease(output, s3_server.storage_options):
            raise RuntimeError("the load broke")

    assert lease_object(s3_server, s3_server.bucket, "failed-load") is None


def test_a_lease_another_run_took_over_is_left_to_it_and_its_loss_is_told(s3_server, caplog):
    caplog.set_level(logging.WARNING, logger="tasks.load")
    output = f"s3://{s3_server.bucket}/taken-over"
    key = f"taken-over/{LEASE_FILE}"
    newcomer = {"holder": "process 1 on another-worker, since 2026-01-01 00:00:00 UTC", "lease_seconds": 600}
    with output_lease(output, s3_server.storage_options, renewal_seconds=0.2):
        # As a run on another machine does once this one went unrenewed for longer than its lease.
        s3_client(s3_server).put_object(Bucket=s3_server.bucket, Key=key, Body=json.dumps(newcomer).encode())
        time.sleep(1)

    assert "another run took this load's lease over" in caplog.text
    assert lease_object(s3_server, s3_server.bucket, "taken-over") == newcomer
    assert refusal_holder(output, s3_server.storage_options) == newcomer["holder"]


def test_a_user_who_may_write_but_not_delete_marks_the_lease_released_for_the_next_run(s3_server):
    with iam_user(s3_server, "leaser", "put-only-leases", ["s3:PutObject", "s3:GetObject", "s3:ListBucket"]) as credentials:
        with output_lease("s3://put-only-leases/run", credentials):
            pass
        with output_lease("s3://put-only-leases/run", credentials):
            pass

    assert lease_object(s3_server, "put-only-leases", "run") == {"holder": None}


def test_access_denied_to_the_lease_is_one_line(s3_server):
    with iam_user(s3_server, "nobody-leases", "locked-leases", []) as credentials:
        with pytest.raises(InputError) as error:
            with output_lease("s3://locked-leases/run", credentials):
                pytest.fail("held an output it may not write")

    assert str(error.value) == (
        "s3://locked-leases/run: cannot hold the output for this run (.onramp-load.lock): access denied to the bucket 'locked-leases'"
    )


def test_an_unreachable_storage_is_one_line(s3_server):
    nowhere = {**s3_server.storage_options, "client_kwargs": {"endpoint_url": "http://127.0.0.1:9"}, "config_kwargs": {"retries": {"max_attempts": 1}}}

    with pytest.raises(InputError) as error:
        with output_lease(f"s3://{s3_server.bucket}/run", nowhere):
            pytest.fail("held an output it cannot reach")

    assert str(error.value) == (
        f"s3://{s3_server.bucket}/run: cannot hold the output for this run (.onramp-load.lock): "
        "cannot reach the storage (nothing answers at its endpoint)"
    )


def test_a_local_output_is_held_by_its_state_folder_alone(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with load_lock(out / ".onramp-load"), output_lease(str(out)):
        assert sorted(path.name for path in out.iterdir()) == [".onramp-load"]
        with pytest.raises(LoadInProgress):
            with load_lock(out / ".onramp-load"):
                pytest.fail("two loads held the same state folder")


def test_how_long_a_lease_went_unrenewed_is_judged_by_the_storages_clock():
    written = datetime(2026, 3, 2, 10, 0, 0, tzinfo=timezone.utc)

    # The server's Date, whatever this machine's clock says (minutes off, or on another day).
    assert unrenewed_seconds(written, "Mon, 02 Mar 2026 10:09:59 GMT") == 599
    assert unrenewed_seconds(datetime.now(timezone.utc), None) < 60
