"""One load at a time into a remote output, whichever machine runs it: a lease object in the
output (``.onramp-load.lock``) refuses a second run at once, naming the first and when its lease
lapses; a killed run's lease is taken over once it lapses, or at once on the machine it ran on;
it is released however the load ends, its version followed wherever S3 changes it.

Everything talks HTTP to moto's S3 server on 127.0.0.1 (the ``s3_server`` fixture); what a
storage or a network does to a request (a fresh ETag, a lost answer, a late or no answer) is done
by a proxy on 127.0.0.1 in front of it (:class:`S3Proxy`).
"""

from __future__ import annotations

import _thread
import http.client
import json
import logging
import math
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from tasks.errors import InputError
from tasks.load.client import ACCOUNT_INFO_PATH, HubSpotPortal
from tasks.load.lease import LEASE_FILE, LeaseLost, output_lease, unrenewed_seconds
from tasks.load.resume import LoadInProgress, load_lock
from tests.tasks.test_output_remote import fresh_file_systems, iam_user, s3_client  # noqa: F401 - an autouse fixture

REFUSAL = (
    r"^another run is loading into this output \((.*)\) now: wait for it to finish, then run again; "
    r"its lease lapses at (\d\d:\d\d:\d\d) UTC if that run is gone$"
)

HOLDER = """
import json, sys
from tasks.load.lease import output_lease
with output_lease(sys.argv[1], json.loads(sys.argv[2]), lease_seconds=float(sys.argv[3]), renewal_seconds=3600):
    print("held", flush=True)
    sys.stdin.read()
"""
"""Another run, as a process of its own: holds the output until its stdin closes."""

INTERRUPTED_TAKE = """
import json, os, signal, sys, threading
from tasks.load.lease import output_lease
threading.Timer(float(sys.argv[3]), os.kill, (os.getpid(), signal.SIGINT)).start()
try:
    with output_lease(sys.argv[1], json.loads(sys.argv[2])):
        print("held", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""
"""A run in a process of its own, Ctrl-C'd (a real SIGINT) ``argv[3]`` seconds after it starts to take the output."""

ANOTHER_MACHINE = "00000000-0000-0000-0000-000000000000 pid:[4026531836]"
"""Another machine's process space (another boot id), as its run writes it in its lease."""


def lease_object(s3_server, bucket: str, folder: str) -> dict | None:
    """The lease in ``bucket/folder`` as JSON, or None when there is none."""
    client = s3_client(s3_server)
    listed = client.list_objects_v2(Bucket=bucket, Prefix=f"{folder}/{LEASE_FILE}")
    if not listed["KeyCount"]:
        return None
    return json.loads(client.get_object(Bucket=bucket, Key=f"{folder}/{LEASE_FILE}")["Body"].read())


def write_lease(s3_server, folder: str, **terms) -> datetime:
    """Write a lease into ``folder`` as another run would; returns when it lapses (by the storage's clock)."""
    client = s3_client(s3_server)
    key = f"{folder}/{LEASE_FILE}"
    client.put_object(Bucket=s3_server.bucket, Key=key, Body=json.dumps(terms).encode())
    written = client.head_object(Bucket=s3_server.bucket, Key=key)["LastModified"]
    return written + timedelta(seconds=terms.get("lease_seconds", 600))


def refusal(output: str, storage_options: dict) -> re.Match:
    """The refusal of a run into ``output``: group 1 names the holder, group 2 when its lease lapses."""
    with pytest.raises(LoadInProgress) as refused:
        with output_lease(output, storage_options):
            pytest.fail("two runs held the same output")
    said = re.match(REFUSAL, str(refused.value))
    assert said, str(refused.value)
    return said


def refusal_holder(output: str, storage_options: dict) -> str:
    """Who the refusal of a run into ``output`` names as holding it."""
    return refusal(output, storage_options).group(1)


@contextmanager
def holding_process(s3_server, output: str, lease_seconds: float) -> Iterator[subprocess.Popen]:
    """A run in a process of its own holding ``output``, until the block ends (or it is killed)."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, output, json.dumps(s3_server.storage_options), str(lease_seconds)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline() == "held\n"
        yield holder
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


class S3Proxy(ThreadingHTTPServer):
    """An HTTP proxy on 127.0.0.1 in front of the S3 server, doing to the requests for a lease
    object what a storage or a network may: subclasses change what is asked (:meth:`asked`) or
    what is answered (:meth:`answered`)."""

    def __init__(self, s3_server) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.upstream = urlsplit(s3_server.endpoint).netloc
        self.storage_options = {**s3_server.storage_options, "client_kwargs": {"endpoint_url": f"http://127.0.0.1:{self.server_port}"}}

    def asked(self, method: str, headers: Message) -> None:
        """Change a lease request's ``headers`` before it is sent on (in place)."""

    def delay(self, method: str, headers: Message) -> float:
        """How many seconds a lease request waits before it is sent on; ``math.inf``: never sent
        on nor answered (a storage gone silent), until the proxy stops."""
        return 0

    def answered(self, method: str, asked: Message, status: int, headers: list[tuple[str, str]]) -> list[tuple[str, str]] | None:
        """The headers to answer a lease request with, or ``None`` to drop the connection instead
        (the request was done, its answer lost)."""
        return headers

    @contextmanager
    def running(self) -> Iterator[S3Proxy]:
        self.stopping = threading.Event()
        thread = threading.Thread(target=self.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.stopping.set()
            self.shutdown()
            self.server_close()


class _Forward(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: S3Proxy

    def forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        lease = urlsplit(self.path).path.endswith(LEASE_FILE)
        headers = Message()
        for name, value in self.headers.items():
            headers[name] = value
        if lease:
            self.server.asked(self.command, headers)
            delay = self.server.delay(self.command, headers)
            if math.isinf(delay):
                self.server.stopping.wait()
                return
            time.sleep(delay)
        upstream = http.client.HTTPConnection(self.server.upstream, timeout=30)
        upstream.request(self.command, self.path, body=body or None, headers=dict(headers.items()))
        answer = upstream.getresponse()
        data = answer.read()
        upstream.close()
        answered = [(name, value) for name, value in answer.getheaders() if name.lower() not in ("transfer-encoding", "connection")]
        if lease:
            answered = self.server.answered(self.command, self.headers, answer.status, answered)
            if answered is None:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
        self.send_response(answer.status)
        for name, value in answered:
            self.send_header(name, value)
        if answer.getheader("Content-Length") is None:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = forward

    def log_message(self, *args) -> None:
        """Quiet: the tests say what went wrong."""


class FreshETags(S3Proxy):
    """Each write of the lease gets an ETag of its own, unchanged bytes too, as S3 gives an
    SSE-KMS or SSE-C object's (moto's is their MD5); a condition on any other is not met."""

    def __init__(self, s3_server) -> None:
        super().__init__(s3_server)
        self.current: tuple[str, str] | None = None  # (moto's ETag, the one given)
        self.writes = 0

    def asked(self, method: str, headers: Message) -> None:
        if "If-Match" in headers:
            given = headers["If-Match"]
            del headers["If-Match"]
            headers["If-Match"] = self.current[0] if self.current and given == self.current[1] else '"not-the-current-version"'

    def answered(self, method: str, asked: Message, status: int, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        etag = next((value for name, value in headers if name.lower() == "etag"), None)
        if method == "PUT" and status == 200:
            self.current = (etag, f'"{uuid.uuid4().hex}"')
            self.writes += 1
        if self.current and etag == self.current[0]:
            return [(name, self.current[1] if name.lower() == "etag" else value) for name, value in headers]
        return headers


class LostAnswer(S3Proxy):
    """The answer to the first write of the lease sent with ``condition`` (``If-None-Match``: the
    create, ``If-Match``: a takeover) is lost: the write is done, the connection dropped."""

    def __init__(self, s3_server, condition: str) -> None:
        super().__init__(s3_server)
        self.condition = condition
        self.lost = 0

    def answered(self, method: str, asked: Message, status: int, headers: list[tuple[str, str]]) -> list[tuple[str, str]] | None:
        if method == "PUT" and self.condition in asked and not self.lost:
            self.lost += 1
            return None
        return headers


class CtrlCAsAnswered(S3Proxy):
    """Ctrl-C as the first write of the lease is answered: done, but the run interrupted before it
    knows (``_thread.interrupt_main``: a SIGINT to the main thread, where pytest runs the test)."""

    def __init__(self, s3_server) -> None:
        super().__init__(s3_server)
        self.interrupted = False

    def answered(self, method: str, asked: Message, status: int, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        if method == "PUT" and status == 200 and not self.interrupted:
            self.interrupted = True
            _thread.interrupt_main()
        return headers


class Silent(S3Proxy):
    """A storage gone silent: lease requests matching ``requests`` (a method, and ``If-None-Match``
    or ``If-Match`` for a conditional write; ``"all"`` once :attr:`after_take` is set: every one)
    are never answered."""

    def __init__(self, s3_server, requests: str) -> None:
        super().__init__(s3_server)
        self.requests = requests
        self.after_take = threading.Event()
        self.unanswered = 0

    def delay(self, method: str, headers: Message) -> float:
        if self.requests == "all" and self.after_take.is_set() or self.requests == method:
            self.unanswered += 1
            return math.inf
        return 0


class LateCreate(S3Proxy):
    """The lease's exclusive create is sent on (and written) ``seconds`` late, whatever its sender
    does meanwhile."""

    def __init__(self, s3_server, seconds: float) -> None:
        super().__init__(s3_server)
        self.seconds = seconds
        self.creates = 0
        self.landed = threading.Event()

    def delay(self, method: str, headers: Message) -> float:
        if method == "PUT" and "If-None-Match" in headers:
            self.creates += 1
            return self.seconds
        return 0

    def answered(self, method: str, asked: Message, status: int, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        if method == "PUT" and "If-None-Match" in asked:
            self.landed.set()
        return headers


def left_in(with_block: threading.Thread, seconds: float) -> bool:
    """Whether ``with_block`` (started) is still running ``seconds`` on: a hang."""
    with_block.join(timeout=seconds)
    return with_block.is_alive()


def test_a_second_run_into_the_output_is_refused_naming_the_first_and_when_its_lease_lapses(s3_server):
    output = f"s3://{s3_server.bucket}/one-at-a-time"
    key = f"one-at-a-time/{LEASE_FILE}"
    with output_lease(output, s3_server.storage_options):
        held = lease_object(s3_server, s3_server.bucket, "one-at-a-time")
        written = s3_client(s3_server).head_object(Bucket=s3_server.bucket, Key=key)["LastModified"]
        # The same output spelled otherwise is the same output.
        said = refusal(f"{output}/", s3_server.storage_options)
        assert said.group(1) == held["holder"]
        assert re.fullmatch(r"process \d+ on \S+, since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", said.group(1)), said.group(1)
        assert said.group(2) == f"{written + timedelta(seconds=600):%H:%M:%S}"
    assert lease_object(s3_server, s3_server.bucket, "one-at-a-time") is None
    with output_lease(output, s3_server.storage_options):
        pass


def test_another_machines_lease_is_taken_over_once_it_lapses(s3_server, caplog):
    caplog.set_level(logging.WARNING, logger="tasks.load")
    output = f"s3://{s3_server.bucket}/lapsed-run"
    # A lease of 4 s, never renewed, by a process that no longer runs here (nor anything says there):
    # long enough to be refused first on a busy machine.
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    holder = "process 7 on another-worker, since 2026-01-01 00:00:00 UTC"
    lapses_at = write_lease(s3_server, "lapsed-run", holder=holder, lease_seconds=4, id="theirs",
                            pid=int(ended.stdout), process_space=ANOTHER_MACHINE)  # fmt: skip
    assert refusal(output, s3_server.storage_options).group(2) == f"{lapses_at:%H:%M:%S}"
    time.sleep(5.1)

    with output_lease(output, s3_server.storage_options):
        assert lease_object(s3_server, s3_server.bucket, "lapsed-run")["holder"] != holder

    assert f"took the load's lease over from {holder}: not renewed for" in caplog.text
    assert lease_object(s3_server, s3_server.bucket, "lapsed-run") is None


def test_a_killed_run_on_this_machine_has_its_lease_taken_over_at_once(s3_server, caplog):
    caplog.set_level(logging.WARNING, logger="tasks.load")
    output = f"s3://{s3_server.bucket}/killed-run"
    with holding_process(s3_server, output, 600) as holder:
        alive = lease_object(s3_server, s3_server.bucket, "killed-run")
        assert alive["holder"].startswith(f"process {holder.pid} on ")
        # Alive on this machine: refused, until its lease lapses.
        assert refusal_holder(output, s3_server.storage_options) == alive["holder"]
        # Killed, as by OOM: its lease stays behind, 600 s from lapsing.
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    assert lease_object(s3_server, s3_server.bucket, "killed-run") == alive

    with output_lease(output, s3_server.storage_options):
        assert lease_object(s3_server, s3_server.bucket, "killed-run")["holder"] != alive["holder"]

    assert f"took the load's lease over from {alive['holder']}: its process is no longer running on this machine" in caplog.text
    assert lease_object(s3_server, s3_server.bucket, "killed-run") is None


def test_a_process_gone_from_another_machine_is_waited_for(s3_server):
    # The same host name and a process id that runs nowhere here: still another machine's run.
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    holder = f"process {ended.stdout.strip()} on {socket.gethostname()}, since 2026-01-01 00:00:00 UTC"
    write_lease(s3_server, "other-machine", holder=holder, lease_seconds=600, id="theirs", pid=int(ended.stdout), process_space=ANOTHER_MACHINE)

    assert refusal_holder(f"s3://{s3_server.bucket}/other-machine", s3_server.storage_options) == holder


def test_a_renewed_lease_does_not_lapse(s3_server):
    output = f"s3://{s3_server.bucket}/renewed"
    # Lapsed after 1 s unless renewed, and renewed five times a second: still held 2.5 s on.
    with output_lease(output, s3_server.storage_options, lease_seconds=1, renewal_seconds=0.2) as hold:
        time.sleep(2.5)
        refusal_holder(output, s3_server.storage_options)
        hold.check()


def test_a_lease_given_a_new_etag_at_every_write_stays_held_and_is_released(s3_server, caplog):
    caplog.set_level(logging.WARNING, logger="tasks.load")
    with FreshETags(s3_server).running() as storage:
        with output_lease(f"s3://{s3_server.bucket}/sse-kms", storage.storage_options, renewal_seconds=0.2):
            time.sleep(1.5)
        renewals = storage.writes - 1

    assert renewals >= 3
    assert "lease" not in caplog.text
    assert lease_object(s3_server, s3_server.bucket, "sse-kms") is None


@pytest.mark.parametrize("condition", ["If-None-Match", "If-Match"], ids=["create", "takeover"])
def test_a_take_whose_answer_is_lost_holds_the_lease_it_wrote(s3_server, condition):
    folder = f"lost-answer-{condition.lower()}"
    if condition == "If-Match":
        write_lease(s3_server, folder, holder=None)  # released by the last run: taken over
    with LostAnswer(s3_server, condition).running() as storage:
        output = f"s3://{s3_server.bucket}/{folder}"
        with output_lease(output, storage.storage_options):
            assert storage.lost == 1
            held = lease_object(s3_server, s3_server.bucket, folder)
            assert refusal_holder(output, s3_server.storage_options) == held["holder"]

    assert lease_object(s3_server, s3_server.bucket, folder) is None


def test_ctrl_c_as_the_lease_is_written_leaves_no_lease(s3_server):
    with CtrlCAsAnswered(s3_server).running() as storage:
        with pytest.raises(KeyboardInterrupt):
            with output_lease(f"s3://{s3_server.bucket}/interrupted", storage.storage_options):
                pytest.fail("went on after Ctrl-C")
        assert storage.interrupted

    assert lease_object(s3_server, s3_server.bucket, "interrupted") is None


def test_ctrl_c_while_the_lease_is_being_written_leaves_no_lease_once_it_lands(s3_server):
    # Ctrl-C 1 s into the take, while its create waits 3 s to be sent on: it lands after the run
    # stopped waiting for it (fsspec's event loop goes on with it).
    with LateCreate(s3_server, 3).running() as storage:
        output = f"s3://{s3_server.bucket}/interrupted-in-flight"
        run = subprocess.run([sys.executable, "-c", INTERRUPTED_TAKE, output, json.dumps(storage.storage_options), "1"],
                             capture_output=True, text=True, timeout=60)  # fmt: skip

        assert run.stdout == "interrupted\n", run.stderr
        assert storage.creates == 1
        assert storage.landed.wait(timeout=30)
    assert lease_object(s3_server, s3_server.bucket, "interrupted-in-flight") is None


@pytest.mark.parametrize("silent", ["DELETE", "all"], ids=["release-unanswered", "silent-after-the-take"])
def test_a_release_the_storage_does_not_answer_is_given_up_with_a_warning(s3_server, caplog, silent):
    caplog.set_level(logging.WARNING, logger="tasks.load")
    folder = f"unanswered-{silent.lower()}"
    with Silent(s3_server, silent).running() as storage:

        def load() -> None:
            with output_lease(f"s3://{s3_server.bucket}/{folder}", storage.storage_options, renewal_seconds=0.2, request_seconds=2):
                # Silent from here on: a renewal is in flight, unanswered, as the load ends.
                storage.after_take.set()
                time.sleep(0.5)

        with_block = threading.Thread(target=load, daemon=True)
        with_block.start()
        # s3fs's own timeouts and retries would keep it minutes.
        assert not left_in(with_block, 20)
        assert storage.unanswered >= 1

    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1, warnings
    assert re.fullmatch(
        rf"s3://{s3_server.bucket}/{folder}/{re.escape(LEASE_FILE)}: could not release the load's lease \(.+\): "
        "it lapses by itself within 600 s; a run into this output before then is refused",
        warnings[0],
    ), warnings[0]
    assert lease_object(s3_server, s3_server.bucket, folder)["holder"] is not None


@pytest.mark.parametrize("body", [b'{"holder": "me", "lease_seconds": 1e999}', b'{"holder": "me", "pid": 123456789012345678901234567890}',
                                  b'{"lease_seconds": 60}', b"not json"], ids=["endless-lease", "huge-pid", "no-holder", "not-json"])  # fmt: skip
def test_a_lease_onramp_did_not_write_is_held_by_an_unknown_run_for_a_default_lease(s3_server, body):
    client = s3_client(s3_server)
    key = f"hand-made/{LEASE_FILE}"
    client.put_object(Bucket=s3_server.bucket, Key=key, Body=body)
    written = client.head_object(Bucket=s3_server.bucket, Key=key)["LastModified"]

    said = refusal(f"s3://{s3_server.bucket}/hand-made", s3_server.storage_options)

    assert said.group(1) == f"its lease: s3://{s3_server.bucket}/hand-made/{LEASE_FILE}"
    assert said.group(2) == f"{written + timedelta(seconds=600):%H:%M:%S}"


def test_the_lease_is_released_when_the_load_fails(s3_server):
    output = f"s3://{s3_server.bucket}/failed-load"
    with pytest.raises(RuntimeError, match="the load broke"):
        with output_lease(output, s3_server.storage_options):
            raise RuntimeError("the load broke")

    assert lease_object(s3_server, s3_server.bucket, "failed-load") is None


def test_a_lease_another_run_took_over_is_left_to_it_and_its_loss_stops_the_load(s3_server, caplog, hub, emulator):
    caplog.set_level(logging.WARNING, logger="tasks.load")
    output = f"s3://{s3_server.bucket}/taken-over"
    newcomer = {"holder": "process 1 on another-worker, since 2026-01-01 00:00:00 UTC", "lease_seconds": 600}
    portal = HubSpotPortal(hub.url, "token-taken-over")
    with output_lease(output, s3_server.storage_options, renewal_seconds=0.2) as hold:
        portal.guard = hold.check
        portal.request("GET", ACCOUNT_INFO_PATH)
        # As a run on another machine does once this one went unrenewed for longer than its lease.
        write_lease(s3_server, "taken-over", **newcomer)
        time.sleep(1)
        before = sum(emulator.request_counts.values())
        with pytest.raises(LeaseLost) as lost:
            portal.request("GET", ACCOUNT_INFO_PATH)

    # Not one request more: the other run may be loading into the output now.
    assert sum(emulator.request_counts.values()) == before
    assert str(lost.value) == (
        f"{output}/{LEASE_FILE}: another run ({newcomer['holder']}) took this load's lease over (it went unrenewed longer "
        "than its lease): two runs may be loading into this output now; the load stopped: once no other run loads into "
        "this output, run again to resume"
    )
    assert f"another run ({newcomer['holder']}) took this load's lease over" in caplog.text
    assert "the load stops at its next request" in caplog.text
    assert lease_object(s3_server, s3_server.bucket, "taken-over") == newcomer
    assert refusal_holder(output, s3_server.storage_options) == newcomer["holder"]


def test_a_lease_deleted_under_the_load_is_told_as_deleted(s3_server, caplog):
    caplog.set_level(logging.WARNING, logger="tasks.load")
    with output_lease(f"s3://{s3_server.bucket}/deleted", s3_server.storage_options, renewal_seconds=0.2) as hold:
        s3_client(s3_server).delete_object(Bucket=s3_server.bucket, Key=f"deleted/{LEASE_FILE}")
        time.sleep(1)
        with pytest.raises(LeaseLost, match="the load's lease was deleted while it ran"):
            hold.check()

    assert "the load's lease was deleted while it ran" in caplog.text
    assert "took this load's lease over" not in caplog.text


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
