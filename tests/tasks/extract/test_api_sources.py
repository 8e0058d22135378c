"""Reading the Mailchimp and Constant Contact APIs as sources, over HTTP against their emulators.

The emulators are real servers on 127.0.0.1; nothing here patches HTTP. Credentials go through
the environment or Prefect Secret blocks (in the session's test server), and the emulators'
base URLs through the environment, as a user's would.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import polars as pl
import pytest

from emulators.constant_contact import serve_in_background as constant_contact
from emulators.mailchimp import serve_in_background as mailchimp
from schemas.lineage import SOURCE_ROW, SOURCE_STATUS, SOURCE_URI
from schemas.params import SourceCredentials
from tasks.errors import InputError
from tasks.extract import constant_contact_api, mailchimp_api
from tasks.extract.api_helpers import ApiClient, ConcurrencyLimit, RequestAbandoned, offset_pages
from tasks.extract.api_settings import MAILCHIMP_MAX_CONNECTIONS, RetryPolicy
from tasks.extract.tables import PER_ROW_STATUS, ReadOptions, read_source, refuse_files_read_twice
from tasks.transform.catalog import reading_profile
from tests.plain_plan import plan

LIST = "a1b2c3d4e5"
FAST_RETRY = RetryPolicy(attempts=30, first_delay=0.05, max_delay=0.3)
MAILCHIMP_OUTCOMES = {
    "subscribed": "marketing", "unsubscribed": "opted_out", "cleaned": "opted_out",
    "pending": "non_marketing", "transactional": "non_marketing", "archived": "non_marketing",
}  # fmt: skip
CONSTANT_CONTACT_OUTCOMES = {
    "explicit": "marketing", "implicit": "marketing", "unsubscribed": "opted_out", "not_set": "non_marketing",
    "pending_confirmation": "non_marketing", "temp_hold": "non_marketing", "deleted": "non_marketing",
}  # fmt: skip


def _expected(truth: dict[str, int], outcomes: dict[str, str]) -> dict[str, int]:
    expected = dict.fromkeys(("marketing", "non_marketing", "opted_out"), 0)
    for status, count in truth.items():
        expected[outcomes[status]] += count
    return expected


@pytest.fixture(scope="module")
def chimp():
    with mailchimp(members=2345) as server:
        yield server


@pytest.fixture
def chimp_env(chimp, monkeypatch):
    monkeypatch.setenv("MAILCHIMP_API_KEY", chimp.settings.api_key)
    monkeypatch.setenv("MAILCHIMP_BASE_URL", chimp.api_url)
    return chimp


@pytest.fixture(scope="module")
def cc():
    with constant_contact(contacts=1234) as server:
        yield server


@pytest.fixture
def cc_env(cc, monkeypatch):
    monkeypatch.setenv("CONSTANT_CONTACT_TOKEN", cc.settings.token)
    monkeypatch.setenv("CONSTANT_CONTACT_BASE_URL", cc.api_url)
    return cc


def _collect(source: str, staging: Path) -> tuple[pl.DataFrame, object]:
    [read] = read_source(source, staging)
    return read.raw.frame.collect(), read


# --- Mailchimp -------------------------------------------------------------------------------


def test_mailchimp_pages_of_1000_without_duplicates(chimp_env, tmp_path):
    frame, read = _collect(f"mailchimp://{LIST}", tmp_path)
    assert read.profile.name == "mailchimp" and read.raw.status == PER_ROW_STATUS
    assert frame.height == frame["Email Address"].n_unique() == 2345
    assert frame[SOURCE_ROW].to_list() == list(range(1, 2346))
    # Each page after the first starts on the last member of the one before (read once).
    pages = frame.group_by(SOURCE_URI).len().sort(SOURCE_URI)
    assert pages.rows() == [(f"mailchimp://{LIST}#page={n}", size) for n, size in ((1, 1000), (2, 999), (3, 346))]
    assert dict(frame.group_by(SOURCE_STATUS).len().iter_rows()) == chimp_env.emulator.audience.truth()


def test_mailchimp_members_read_as_export_rows(chimp_env, tmp_path):
    frame, read = _collect(f"mailchimp://{LIST}", tmp_path)
    assert read.raw.headers[:7] == ["Email Address", "First Name", "Last Name", "Address", "Phone Number", "Birthday", "Company"]
    members = {m["email_address"]: m for m in chimp_env.emulator.audience.members}
    tagged = frame.filter(pl.col("TAGS").str.contains("Board, former", literal=True)).row(0, named=True)
    member = members[tagged["Email Address"]]
    assert next(csv.reader([tagged["TAGS"]])) == [tag["name"] for tag in member["tags"]]
    assert tagged["LAST_CHANGED"] == datetime.fromisoformat(member["last_changed"]).strftime("%Y-%m-%d %H:%M:%S")
    assert tagged["LEID"] == str(member["web_id"]) and tagged["EUID"] == member["unique_email_id"]
    with_address = frame.filter(pl.col("Address").is_not_null()).row(0, named=True)
    address = members[with_address["Email Address"]]["merge_fields"]["ADDRESS"]
    assert with_address["Address"] == f"{address['addr1']}, {address['city']}, {address['state']}  {address['zip']}  US"
    assert frame["Company"].null_count() == frame.height  # "" is blank, as in an export


def test_mailchimp_plan_matches_the_seeded_audience(chimp_env, tmp_path):
    report = plan([f"mailchimp://{LIST}"], tmp_path / "out")
    truth = chimp_env.emulator.audience.truth()
    assert report["rows_read"] == 2345 and report["rows_rejected"] == 0
    assert report["contacts"] == _expected(truth, MAILCHIMP_OUTCOMES)
    hubspot = tmp_path / "out" / "hubspot"
    for status in ("unsubscribed", "cleaned"):
        assert pl.read_csv(hubspot / f"opt-out-{status}.csv").height == truth[status]
    assert report["sources"] == [{"uri": f"mailchimp://{LIST}", "format": "mailchimp-export", "status": PER_ROW_STATUS, "rows": 2345, "rejected": 0, "unread_status_values": [], "duplicate_headers": [], "notes": []}]


def test_mailchimp_since_reads_only_what_changed(chimp_env, tmp_path):
    audience = chimp_env.emulator.audience
    saved = [dict(member) for member in audience.members[:7]]
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        changed = audience.touch(7, now, status="unsubscribed")
        since = (now - timedelta(minutes=5)).isoformat()
        report = plan([f"mailchimp://{LIST}?since={since}"], tmp_path / "out")
        assert report["rows_read"] == 7
        assert report["contacts"] == {"marketing": 0, "non_marketing": 0, "opted_out": 7}
        opted_out = pl.read_csv(tmp_path / "out" / "hubspot" / "opt-out-unsubscribed.csv")
        assert sorted(opted_out[opted_out.columns[0]].to_list()) == sorted(changed)
    finally:
        audience.members[:7] = saved


def test_mailchimp_429_is_retried_and_the_connection_limit_respected(tmp_path):
    # The two holders keep both connections busy for 2 s, long enough for the reader's first
    # request to meet them however slow the machine.
    with mailchimp(members=1500, max_connections=2, response_delay=2.0) as server:
        holders = [threading.Thread(target=_hold, args=(server,)) for _ in range(2)]
        for holder in holders:
            holder.start()
        while server.emulator.in_flight.now < 2:
            pass
        raw = mailchimp_api.read_members(LIST, tmp_path, server.settings.api_key, server.api_url, retry=FAST_RETRY)
        for holder in holders:
            holder.join()
        assert raw.frame.collect().height == 1500
        assert server.emulator.in_flight.refused >= 1
        assert server.emulator.in_flight.peak <= 2


def _hold(server) -> None:
    httpx.get(f"{server.api_url}/lists/{LIST}/members", auth=("x", server.settings.api_key), timeout=10)


def test_mailchimp_credentials_stay_out_of_errors_files_and_lineage(chimp_env, tmp_path, monkeypatch):
    key = chimp_env.settings.api_key
    report = plan([f"mailchimp://{LIST}"], tmp_path / "out")
    written = [p.read_text(encoding="utf-8") for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert written and not any(key in text for text in written) and key not in json.dumps(report)
    monkeypatch.setenv("MAILCHIMP_API_KEY", "wrong0123456789-us6")
    with pytest.raises(InputError, match="refused the credentials") as refused:
        read_source(f"mailchimp://{LIST}", tmp_path)
    assert "wrong0123456789" not in str(refused.value)
    with pytest.raises(InputError, match="never the URI") as in_uri:
        read_source(f"mailchimp://anystring:{key}@{LIST}", tmp_path)
    assert key not in str(in_uri.value)


def test_a_named_secret_block_is_the_only_place_the_key_is_read(chimp, prefect_api_url, tmp_path, monkeypatch, caplog):
    from prefect.blocks.system import Secret

    monkeypatch.delenv("MAILCHIMP_API_KEY", raising=False)
    monkeypatch.setenv("MAILCHIMP_BASE_URL", chimp.api_url)
    with pytest.raises(InputError) as missing:
        read_source(f"mailchimp://{LIST}", tmp_path, ReadOptions(credentials=SourceCredentials(mailchimp_secret_block="acme-mailchimp")))
    assert str(missing.value) == (
        f"mailchimp://{LIST}: no Mailchimp API key: create a Prefect Secret block named 'acme-mailchimp' (no such block)"
    )
    Secret(value=chimp.settings.api_key).save("acme-mailchimp", overwrite=True)
    wrong = "wrong0123456789abcdef-us6"
    Secret(value=wrong).save("acme-mailchimp-old", overwrite=True)
    caplog.set_level(logging.DEBUG)
    options = ReadOptions(credentials=SourceCredentials(mailchimp_secret_block="acme-mailchimp"))
    [read] = read_source(f"mailchimp://{LIST}", tmp_path, options)
    assert read.raw.frame.collect().height == chimp.settings.members
    with pytest.raises(InputError, match="refused the credentials") as refused:
        read_source(f"mailchimp://{LIST}", tmp_path, ReadOptions(credentials=SourceCredentials(mailchimp_secret_block="acme-mailchimp-old")))
    # A variable set for another account (a worker's, a shell's) is not read when a block is named.
    monkeypatch.setenv("MAILCHIMP_API_KEY", wrong)
    [read] = read_source(f"mailchimp://{LIST}", tmp_path, options)
    assert read.raw.frame.collect().height == chimp.settings.members
    with pytest.raises(InputError, match="refused the credentials"):
        read_source(f"mailchimp://{LIST}", tmp_path, ReadOptions())
    assert "\n" not in str(missing.value) + str(refused.value)
    assert not any(secret in str(refused.value) + caplog.text for secret in (chimp.settings.api_key, wrong))


def test_constant_contact_credentials_from_a_secret_block_which_keeps_the_rotated_refresh_token(
    prefect_api_url, tmp_path, monkeypatch
):
    from prefect.blocks.system import Secret

    from tasks.extract.api_credentials import constant_contact_credentials

    for name in ("TOKEN", "REFRESH_TOKEN", "CLIENT_ID", "CLIENT_SECRET"):
        monkeypatch.delenv(f"CONSTANT_CONTACT_{name}", raising=False)
    with constant_contact(contacts=5) as server:
        settings = server.settings
        monkeypatch.setenv("CONSTANT_CONTACT_BASE_URL", server.api_url)
        monkeypatch.setenv("CONSTANT_CONTACT_TOKEN_URL", server.token_url)
        credentials = {"refresh_token": settings.refresh_token, "client_id": settings.client_id, "client_secret": settings.client_secret}
        Secret(value=credentials).save("acme-cc", overwrite=True)
        where = SourceCredentials(constant_contact_secret_block="acme-cc")
        # A variable set for another account is not read when a block is named.
        monkeypatch.setenv("CONSTANT_CONTACT_TOKEN", "another-accounts-token")
        found = constant_contact_credentials("constantcontact://contacts", where, os.environ)
        assert (found.access_token, found.refresh_token, found.client_id) == (None, settings.refresh_token, settings.client_id)
        assert settings.refresh_token not in repr(found)
        [read] = read_source("constantcontact://contacts", tmp_path, ReadOptions(credentials=where))
        assert read.raw.frame.collect().height == 5 and server.emulator.tokens.refreshes == 1
        # The refresh rotated the refresh token: the block now holds the one in force.
        saved = Secret.load("acme-cc").get()
        assert saved["refresh_token"] != settings.refresh_token
        assert server.emulator.tokens.refresh_tokens == {saved["refresh_token"]}
        assert saved["client_secret"] == settings.client_secret
    Secret(value={"refresh_token": "rt-1"}).save("acme-cc-no-client", overwrite=True)
    with pytest.raises(InputError, match="needs the application's client id: set client_id in the Prefect Secret block 'acme-cc-no-client'"):
        constant_contact_credentials("constantcontact://contacts", SourceCredentials(constant_contact_secret_block="acme-cc-no-client"), os.environ)
    monkeypatch.delenv("CONSTANT_CONTACT_TOKEN")
    with pytest.raises(InputError) as missing:
        constant_contact_credentials("constantcontact://contacts", SourceCredentials(), os.environ)
    assert "set CONSTANT_CONTACT_TOKEN (or CONSTANT_CONTACT_REFRESH_TOKEN and CONSTANT_CONTACT_CLIENT_ID) or create a Prefect Secret block named 'constant-contact-credentials'" in str(missing.value)


def test_mailchimp_host_comes_from_the_keys_data_centre():
    assert mailchimp_api.base_url_for("0123abcd-us6", "mailchimp://x") == "https://us6.api.mailchimp.com/3.0"
    with pytest.raises(InputError, match="data-centre suffix"):
        mailchimp_api.base_url_for("0123abcd", "mailchimp://x")


@pytest.mark.parametrize(
    ("first", "again"),
    [(f"mailchimp://{LIST}", f"mailchimp://{LIST}?since=2017-01-01"), (f"mailchimp://{LIST}", f"mailchimp://{LIST}/"),
     ("constantcontact://contacts", "constantcontact://contacts")],
)  # fmt: skip
def test_one_audience_named_twice_is_refused_as_read_twice(chimp_env, cc_env, tmp_path, first, again):
    # Its rows would count twice, and the second read overwrote the CSV the first one scans.
    files = [read for source in (first, again) for read in read_source(source, tmp_path / "staging")]

    with pytest.raises(InputError) as error:
        refuse_files_read_twice(files)

    also = f" (as {first} too)" if first != again else ""
    assert str(error.value) == f"{again}: given twice{also}: its rows would be counted twice; give each file once"


def test_an_unknown_list_and_a_bad_since_are_input_errors(chimp_env, tmp_path):
    with pytest.raises(InputError, match="HTTP 404"):
        read_source("mailchimp://nosuchlist", tmp_path)
    with pytest.raises(InputError, match="not an ISO 8601 time"):
        read_source(f"mailchimp://{LIST}?since=yesterday", tmp_path)


@pytest.fixture(scope="module")
def big_audience():
    """Six pages of members; each test sets the latency and limits it needs."""
    with mailchimp(members=5500) as server:
        yield server


@pytest.fixture
def big_chimp(big_audience):
    settings = big_audience.settings
    saved = dict(vars(settings))
    big_audience.emulator.reset_counters()
    yield big_audience
    vars(settings).update(saved)


def _read_members(server, staging: Path, **options) -> bytes:
    """Read the audience and return the staged CSV's bytes."""
    mailchimp_api.read_members(LIST, staging, server.settings.api_key, server.api_url, **options)
    return (staging / "api" / f"mailchimp-{LIST}.csv").read_bytes()


def _offset_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("offset-pages")]


def test_mailchimp_pages_read_ten_at_once_stage_the_rows_of_a_sequential_read(big_chimp, tmp_path):
    one_at_a_time = _read_members(big_chimp, tmp_path / "sequential", connections=1)
    assert big_chimp.emulator.in_flight.peak == 1
    # A latency per request: the five pages after the first are in flight together.
    big_chimp.settings.response_delay = 0.5
    big_chimp.emulator.reset_counters()
    at_once = _read_members(big_chimp, tmp_path / "concurrent")
    assert at_once == one_at_a_time
    frame = pl.read_csv(tmp_path / "concurrent" / "api" / f"mailchimp-{LIST}.csv", infer_schema=False)
    assert frame.height == frame["Email Address"].n_unique() == 5500
    assert frame[SOURCE_ROW].cast(pl.Int64).to_list() == list(range(1, 5501))
    assert 1 < big_chimp.emulator.in_flight.peak <= MAILCHIMP_MAX_CONNECTIONS
    assert big_chimp.emulator.in_flight.refused == 0 and big_chimp.emulator.requests == 6
    assert _offset_threads() == []


def test_mailchimp_concurrent_pages_never_exceed_ten_connections(big_chimp):
    # Pages of 100: 55 requests, far more than the pool, against an account allowing exactly 10.
    big_chimp.settings.response_delay = 0.1
    path = f"/lists/{LIST}/members"
    with ApiClient(big_chimp.api_url, f"mailchimp://{LIST}", "Mailchimp", httpx.BasicAuth("x", big_chimp.settings.api_key)) as client:
        only_emails = {"fields": "members.id,members.email_address,total_items"}
        pages = list(offset_pages(client, path, "members", 100, only_emails, MAILCHIMP_MAX_CONNECTIONS))
        # A reader that stops early leaves no thread behind either.
        stopped = offset_pages(client, path, "members", 100, only_emails, MAILCHIMP_MAX_CONNECTIONS)
        assert (len(next(stopped)), len(next(stopped))) == (100, 99)
        stopped.close()
        assert _offset_threads() == []
    emails = [member["email_address"] for page in pages for member in page]
    assert emails == [member["email_address"] for member in big_chimp.emulator.audience.members]
    # Pages of 100 overlapping by one: 99 new members each after the first.
    assert [len(page) for page in pages] == [100] + [99] * 54 + [54]
    assert 1 < big_chimp.emulator.in_flight.peak <= 10 and big_chimp.emulator.in_flight.refused == 0


@pytest.mark.parametrize("bare_403", [False, True], ids=["429", "bodiless-403"])
def test_mailchimp_connection_limit_refusals_under_concurrency_are_retried(big_chimp, tmp_path, bare_403):
    # Three connections allowed and each held for a second: of the five pages asked together
    # after the first, some are refused until others are answered.
    big_chimp.settings.max_connections = 3
    big_chimp.settings.response_delay = 1.0
    big_chimp.settings.bare_403_beyond_limit = bare_403
    staged = _read_members(big_chimp, tmp_path, retry=FAST_RETRY)
    assert staged.count(b"\n") == 5501
    assert big_chimp.emulator.in_flight.refused >= 1 and big_chimp.emulator.in_flight.peak <= 3


_LIMIT_CHANGE = re.compile(r"Mailchimp answered (?:429|\d+ pages in a row): reading (?P<after>\d+) pages at once \(was (?P<before>\d+)\)")


def test_mailchimp_pages_at_once_settle_at_the_connections_other_apps_leave_free(big_chimp, caplog):
    # Other apps hold 7 of the user's 10 connections: 3 are left. Pages of 100 and a latency, so
    # the 55 requests overlap and the limit has time to shrink and grow back several times.
    big_chimp.settings.max_connections = 3
    big_chimp.settings.response_delay = 0.1
    caplog.set_level(logging.DEBUG, logger="prefect.onramp.extract")
    key = big_chimp.settings.api_key
    client = ApiClient(
        big_chimp.api_url, f"mailchimp://{LIST}", "Mailchimp", httpx.BasicAuth("x", key), FAST_RETRY,
        throttled=mailchimp_api.connection_limit_403,
    )  # fmt: skip
    with client:
        only_emails = {"fields": "members.id,members.email_address,total_items"}
        pages = list(offset_pages(client, f"/lists/{LIST}/members", "members", 100, only_emails, MAILCHIMP_MAX_CONNECTIONS))
    emails = [member["email_address"] for page in pages for member in page]
    assert emails == [member["email_address"] for member in big_chimp.emulator.audience.members]
    matches = filter(None, map(_LIMIT_CHANGE.fullmatch, caplog.messages))
    changes = [(int(match["before"]), int(match["after"])) for match in matches]
    shrinks = [(before, after) for before, after in changes if after < before]
    refused = big_chimp.emulator.in_flight.refused
    assert shrinks[0] == (MAILCHIMP_MAX_CONNECTIONS, MAILCHIMP_MAX_CONNECTIONS // 2)
    # The requests one shrink answers for were all in flight together when it came, no more than
    # the pages then allowed; with 3 connections free a single page is never refused, so the
    # limit never reaches its floor, where a refusal shrinks nothing and logs nothing.
    assert refused <= sum(before for before, _ in shrinks) <= MAILCHIMP_MAX_CONNECTIONS * len(shrinks)
    assert all(after == before + 1 for before, after in changes if after > before)
    assert f"Mailchimp throttled {refused} page requests (each retried)" in caplog.text
    assert key not in caplog.text and big_chimp.emulator.in_flight.peak <= 3


def test_the_concurrency_limit_halves_once_a_round_and_grows_back_one_at_a_time():
    limit = ConcurrencyLimit(10)
    first_round = [limit.acquire() for _ in range(10)]
    assert limit.release(first_round[0], "throttled") == (10, 5)
    # The rest of the round was sent at 10: its refusals are counted but halve nothing more,
    # and its answers do not count towards growing the 5.
    outcomes = ["throttled"] * 4 + ["answered"] * 5
    assert [limit.release(ticket, outcome) for ticket, outcome in zip(first_round[1:], outcomes, strict=True)] == [None] * 9
    assert (limit.allowed, limit.throttled) == (5, 5)
    # As many answers in a row as are allowed add one; a failure that is no throttle (a 5xx)
    # neither grows nor shrinks the limit, nor breaks the run.
    for allowed in (5, 6):
        tickets = [limit.acquire() for _ in range(allowed)]
        assert limit.release(tickets[0], "answered") is None
        assert limit.release(limit.acquire(), "failed") is None
        assert [limit.release(ticket, "answered") for ticket in tickets[1:]] == [None] * (allowed - 2) + [(allowed, allowed + 1)]
    # A throttle breaks the run: the answers before it count for nothing.
    tickets = [limit.acquire() for _ in range(7)]
    assert [limit.release(ticket, "answered") for ticket in tickets[:6]] == [None] * 6
    assert limit.release(tickets[6], "throttled") == (7, 3)
    assert [limit.release(limit.acquire(), "throttled") for _ in range(3)] == [(3, 1), None, None]
    assert (limit.allowed, limit.throttled) == (1, 9)
    # Never above the ceiling.
    at_ceiling = ConcurrencyLimit(2)
    assert [at_ceiling.release(at_ceiling.acquire(), "answered") for _ in range(5)] == [None] * 5
    assert at_ceiling.allowed == 2


def test_a_request_waiting_for_the_concurrency_limit_is_abandoned_with_its_read():
    limit = ConcurrencyLimit(1)
    limit.acquire()
    abandoned = threading.Event()
    abandoned.set()
    with pytest.raises(RequestAbandoned):
        limit.acquire(abandoned)


def test_a_mailchimp_page_that_keeps_failing_ends_the_read_in_one_line(big_chimp, tmp_path):
    big_chimp.settings.failing_offsets = frozenset({2997})  # the fourth page: 3 x 999
    big_chimp.settings.response_delay = 0.2
    with pytest.raises(InputError) as failed:
        _read_members(big_chimp, tmp_path, retry=RetryPolicy(attempts=3, first_delay=0.01, max_delay=0.02))
    assert str(failed.value) == f"mailchimp://{LIST}: Mailchimp still failing after 3 attempts: HTTP 503"
    assert _offset_threads() == []


def test_a_mailchimp_page_whose_json_is_cut_short_is_asked_again(big_chimp, tmp_path):
    # The second page's first two answers are 200s holding half their JSON.
    big_chimp.settings.cut_short_offsets = {999: 2}
    whole = _read_members(big_chimp, tmp_path, retry=FAST_RETRY)
    frame = pl.read_csv(whole, infer_schema=False)
    assert frame.height == frame["Email Address"].n_unique() == 5500
    assert big_chimp.settings.cut_short_offsets == {999: 0}


def test_a_mailchimp_page_never_answered_whole_ends_the_read_in_one_line(big_chimp, tmp_path):
    big_chimp.settings.cut_short_offsets = {0: 10}
    with pytest.raises(InputError) as failed:
        _read_members(big_chimp, tmp_path, retry=RetryPolicy(attempts=3, first_delay=0.01, max_delay=0.02))
    assert str(failed.value) == f"mailchimp://{LIST}: Mailchimp still failing after 3 attempts: HTTP 200 with a body that is not a JSON object"


def test_since_last_changed_filters_every_concurrent_page(big_chimp, tmp_path):
    members = big_chimp.emulator.audience.members
    saved = [member["last_changed"] for member in members]
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        # Every other member changed: an unfiltered page 2 or 3 would bring unchanged ones.
        for member in members[::2]:
            member["last_changed"] = now.isoformat()
        since = (now - timedelta(minutes=5)).isoformat()
        mailchimp_api.read_members(LIST, tmp_path, big_chimp.settings.api_key, big_chimp.api_url, since)
        frame = pl.read_csv(tmp_path / "api" / f"mailchimp-{LIST}.csv", infer_schema=False)
        assert frame["Email Address"].to_list() == [member["email_address"] for member in members[::2]]
        assert big_chimp.emulator.requests == 3
    finally:
        for member, last_changed in zip(members, saved, strict=True):
            member["last_changed"] = last_changed


# --- Constant Contact ------------------------------------------------------------------------


def test_constant_contact_pages_through_next_links_without_duplicates(cc_env, tmp_path):
    frame, read = _collect("constantcontact://contacts", tmp_path)
    assert read.profile.name == "constantcontact"
    assert frame.height == frame["Email address"].n_unique() == 1234
    assert frame[SOURCE_URI].unique().sort().to_list() == [f"constantcontact://contacts#page={n}" for n in (1, 2, 3)]
    lists = {entry["name"] for entry in cc_env.emulator.account.lists}
    named = {name for cell in frame["Email Lists"].drop_nulls() for name in next(csv.reader([cell]))}
    assert named == lists  # list ids resolved to their names
    assert frame["Favourite boat"].drop_nulls().len() > 0


def _constant_contact_truth(contacts: list[dict]) -> dict[str, int]:
    """Contacts per status as Onramp reads them: ``deleted`` apart, except a deleted contact who
    unsubscribed, whose opt-out outlives the delete."""
    counts: dict[str, int] = {}
    for contact in contacts:
        permission = contact["email_address"]["permission_to_send"]
        key = "deleted" if "deleted_at" in contact and permission != "unsubscribed" else permission
        counts[key] = counts.get(key, 0) + 1
    return counts


def test_constant_contact_plan_matches_the_seeded_account(cc_env, tmp_path):
    report = plan(["constantcontact://contacts"], tmp_path / "out")
    truth = _constant_contact_truth(cc_env.emulator.account.contacts)
    assert any("deleted_at" in c and c["email_address"]["permission_to_send"] == "unsubscribed" for c in cc_env.emulator.account.contacts)
    assert report["rows_read"] == 1234 and report["rows_rejected"] == 0
    assert report["contacts"] == _expected(truth, CONSTANT_CONTACT_OUTCOMES)
    opted_out = pl.read_csv(tmp_path / "out" / "hubspot" / "opt-out-unsubscribed.csv")
    assert opted_out.height == truth["unsubscribed"]


def test_a_deleted_contact_who_opted_out_stays_opted_out(tmp_path, monkeypatch):
    with constant_contact(contacts=6) as server:
        monkeypatch.setenv("CONSTANT_CONTACT_TOKEN", server.settings.token)
        monkeypatch.setenv("CONSTANT_CONTACT_BASE_URL", server.api_url)
        unsubscribed, opt_out_data, deleted, *_ = server.emulator.account.contacts
        no_opt_out = {"opt_out_date": None, "opt_out_source": None, "opt_out_reason": None}
        unsubscribed["email_address"].update(no_opt_out, permission_to_send="unsubscribed")
        # Permission left as it was before, but the address carries its opt-out.
        opt_out_data["email_address"].update(permission_to_send="implicit", opt_out_date="2026-03-01T08:00:00Z")
        deleted["email_address"].update(no_opt_out, permission_to_send="explicit")
        for contact in (unsubscribed, opt_out_data, deleted):
            contact["deleted_at"] = "2026-03-02T08:00:00Z"
        plan(["constantcontact://contacts"], tmp_path / "out")
    outcomes = dict(pl.read_csv(tmp_path / "out" / "lineage.csv").select("email", "outcome").iter_rows())
    address = lambda contact: contact["email_address"]["address"].lower()  # noqa: E731
    assert [outcomes[address(c)] for c in (unsubscribed, opt_out_data, deleted)] == ["opted_out", "opted_out", "non_marketing"]
    opted_out = pl.read_csv(tmp_path / "out" / "hubspot" / "opt-out-unsubscribed.csv")["Email"].to_list()
    assert {address(unsubscribed), address(opt_out_data)} <= set(opted_out)


def test_constant_contact_updated_after_reads_only_what_changed(cc_env, tmp_path):
    account = cc_env.emulator.account
    saved = [json.loads(json.dumps(contact)) for contact in account.contacts[:5]]
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        changed = account.touch(5, now, permission="unsubscribed")
        since = (now - timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
        frame, _ = _collect(f"constantcontact://contacts?since={since}", tmp_path)
        assert sorted(frame["Email address"].to_list()) == sorted(changed)
        assert set(frame[SOURCE_STATUS]) == {"unsubscribed"}
    finally:
        account.contacts[:5] = saved


def test_constant_contact_throttling_is_waited_out(tmp_path):
    with constant_contact(contacts=40, requests_per_second=1) as server:
        profile = reading_profile("constantcontact")
        raw = constant_contact_api.read_contacts(
            tmp_path, server.settings.token, server.api_url, profile, retry=FAST_RETRY
        )
        assert raw.frame.collect().height == 40
        assert server.emulator.limits.throttled >= 1


def _oauth_env(monkeypatch, server, access_token: bool = True) -> None:
    settings = server.settings
    values = {
        "CONSTANT_CONTACT_TOKEN": settings.token if access_token else None,
        "CONSTANT_CONTACT_REFRESH_TOKEN": settings.refresh_token,
        "CONSTANT_CONTACT_CLIENT_ID": settings.client_id,
        "CONSTANT_CONTACT_CLIENT_SECRET": settings.client_secret,
        "CONSTANT_CONTACT_BASE_URL": server.api_url,
        "CONSTANT_CONTACT_TOKEN_URL": server.token_url,
    }
    for name, value in values.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


def test_a_token_expiring_mid_read_is_refreshed_once_and_the_read_completes(tmp_path, monkeypatch):
    # Each access token admits 4 requests: the lists, tags, custom fields and the first page of
    # contacts; the second page meets a 401.
    with constant_contact(contacts=1100, access_token_lifetime_requests=4) as server:
        _oauth_env(monkeypatch, server)
        frame, _ = _collect("constantcontact://contacts", tmp_path)
        assert frame.height == frame["Email address"].n_unique() == 1100
        assert server.emulator.tokens.refreshes == 1
        # The refresh token was rotated: the newest, kept in memory, serves the next read.
        assert server.settings.refresh_token not in server.emulator.tokens.refresh_tokens
        frame, _ = _collect("constantcontact://contacts", tmp_path / "again")
        assert frame.height == 1100


def _read_contacts_uri(tmp_path: Path, retry: RetryPolicy) -> pl.DataFrame:
    """Read ``constantcontact://contacts`` as ``read_source`` does, with credentials from the environment."""
    raw = constant_contact_api.read_uri(
        "constantcontact://contacts", tmp_path, os.environ, reading_profile("constantcontact"), retry=retry
    )
    return raw.frame.collect()


def test_a_refresh_the_token_endpoint_fails_twice_is_retried_and_the_read_completes(tmp_path, monkeypatch):
    # The access token expires at the second page of contacts (as above); the first two token
    # requests of its refresh are answered 503, and the third issues a token.
    with constant_contact(contacts=1100, access_token_lifetime_requests=4, token_failures=2) as server:
        _oauth_env(monkeypatch, server)
        frame = _read_contacts_uri(tmp_path, FAST_RETRY)
        assert frame.height == frame["Email address"].n_unique() == 1100
        assert (server.emulator.tokens.failed, server.emulator.tokens.refreshes) == (2, 1)


def test_a_token_endpoint_that_keeps_failing_ends_the_read_in_one_line(tmp_path, monkeypatch):
    with constant_contact(contacts=5, token_failures=1_000) as server:
        _oauth_env(monkeypatch, server, access_token=False)
        with pytest.raises(InputError) as failed:
            _read_contacts_uri(tmp_path, RetryPolicy(attempts=3, first_delay=0.01, max_delay=0.02))
        assert (server.emulator.tokens.failed, server.emulator.tokens.refreshes) == (3, 0)
    message = str(failed.value)
    assert message == (
        "constantcontact://contacts: Constant Contact still failing after 3 attempts: "
        "token endpoint answered HTTP 503"
    )
    assert not (tmp_path / "api" / "constantcontact-contacts.csv").exists()


def test_a_public_client_gets_its_first_token_and_a_revoked_refresh_token_is_a_clear_error(tmp_path, monkeypatch):
    with constant_contact(contacts=5, client_secret=None) as server:
        _oauth_env(monkeypatch, server, access_token=False)
        frame, _ = _collect("constantcontact://contacts", tmp_path)
        assert frame.height == 5 and server.emulator.tokens.refreshes == 1
        refresh_tokens = set(server.emulator.tokens.refresh_tokens)
        server.emulator.tokens.revoke()
        with pytest.raises(InputError) as revoked:
            read_source("constantcontact://contacts", tmp_path / "again")
    message = str(revoked.value)
    assert message.startswith("constantcontact://contacts: Constant Contact refused the refresh token (invalid_grant")
    assert "CONSTANT_CONTACT_REFRESH_TOKEN" in message
    assert not any(token in message for token in (*refresh_tokens, server.settings.refresh_token))


def test_constant_contact_spent_quota_says_when_to_resume(tmp_path, monkeypatch):
    with constant_contact(contacts=10, daily_quota=2) as server:
        monkeypatch.setenv("CONSTANT_CONTACT_TOKEN", server.settings.token)
        monkeypatch.setenv("CONSTANT_CONTACT_BASE_URL", server.api_url)
        with pytest.raises(InputError, match=r"daily request quota is spent.*after 00:00 UTC") as spent:
            read_source("constantcontact://contacts", tmp_path)
        assert server.settings.token not in str(spent.value)
        assert server.emulator.limits.used_today == 2


def test_an_api_source_keeps_its_providers_profile(tmp_path):
    with pytest.raises(InputError, match="read with the 'constantcontact' profile"):
        read_source("constantcontact://contacts", tmp_path, ReadOptions(profile="generic"))


def test_api_uris_pass_the_location_check_unless_they_carry_a_credential():
    from tasks.extract.locations import check_location

    check_location(f"mailchimp://{LIST}?since=2025-06-01T00:00:00+00:00")
    check_location("constantcontact://contacts")
    with pytest.raises(InputError, match="carries a credential") as raised:
        check_location(f"mailchimp://any:secret0123-us6@{LIST}")
    assert "secret0123" not in str(raised.value)
