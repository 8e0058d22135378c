"""HTTP and paging for the provider API sources, and staging their pages as a CSV.

``ApiClient`` sends GETs with the provider's credentials (never in a URL, a log line or an
error), retries 429s and 5xx with jittered exponential backoff, and paces requests when the
provider caps them per second; one client may be shared by threads. ``offset_pages``
(Mailchimp: several pages at once, as many as the provider answers without 429s: see
``ConcurrencyLimit``) and ``cursor_pages`` (Constant Contact: one after the other) are
generators yielding one page of records at a time, in order, each record once; ``stage_pages``
writes pages to a CSV as they come, so memory stays flat whatever the audience's size (but for
one id a record, kept to yield each once), and ``staged_source`` reads that CSV back as a
RawSource. ``export_readings`` (with ``catalog.reading_opt_out_flags`` and ``reading_every_copy``)
and ``with_statuses`` read its rows' consent as the provider's export file's would be read.

What a read has to say (a throttle, a re-read) goes to the Prefect run's logger when it runs in
one, so the line reaches both the command's output and the run's log; else to Prefect's
``onramp.extract`` logger, which the console shows too (``run_logger``).
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urljoin, urlsplit

import httpx
import polars as pl
from prefect.exceptions import MissingContextError
from prefect.logging import get_logger, get_run_logger

from schemas.lineage import EXTRA_FIELDS, SOURCE_FORMAT, SOURCE_ROW, SOURCE_STATUS, SOURCE_URI
from tasks.errors import InputError
from tasks.extract.api_settings import PER_ROW_STATUS, REQUEST_TIMEOUT_SECONDS, RetryPolicy
from tasks.extract.mailchimp import RawSource, non_empty
from tasks.extract.oauth import TokenEndpointUnavailable
from tasks.transform.catalog import (
    CANONICAL_TIMESTAMP,
    ReadingProfile,
    StatusRule,
    reading_opt_out_flags,
)

FINAL_429 = Callable[[httpx.Response], str | None]
"""Reads a 429: the message to stop with when waiting cannot help (a spent daily quota), else None."""
DISGUISED_THROTTLE = Callable[[httpx.Response], bool]
"""Tells an answer that is the provider's throttle though its status is not 429 (retried as one)."""

ONE_READ = Callable[[set[str]], Generator[list[dict], None, bool]]
"""One read of a collection from its start: given the ids yielded so far (which it adds to), it
yields each page's records not among them and returns whether nothing can have been skipped."""
OUTCOME = Literal["answered", "throttled", "failed"]
"""How a request held by a ``ConcurrencyLimit`` ended: answered, refused by the provider's
throttle, or failed otherwise (a 5xx, a dropped connection: nothing about the limit)."""

READS_OF_A_CHANGING_COLLECTION = 3
"""Reads of a collection, at most, while records removed under the read may have skipped others:
the first and two more; then the read stops, asking to run again."""

_RETRIED_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_STAGED_LINEAGE = (SOURCE_URI, SOURCE_ROW, SOURCE_STATUS)

LOGGER = logging.Logger | logging.LoggerAdapter
"""A standard logger, or Prefect's run logger (an adapter binding the run)."""
EXTRACT_LOGGER = "onramp.extract"
"""The logger of reads outside a Prefect run, below Prefect's (``prefect.onramp.extract``)."""


def run_logger() -> LOGGER:
    """The Prefect run's logger inside a flow or task run, else Prefect's ``onramp.extract`` logger.

    A plain standard logger's INFO lines reach neither the console (Prefect's root handler takes
    WARNING and above) nor the run's log: the lines a user is promised go through the run's
    logger, or outside a run (``onramp inspect``) through one below Prefect's, whose INFO the
    console shows. Call it in the run's own thread (a pool's threads have no run context) and
    hand the logger on.
    """
    try:
        return get_run_logger()
    except MissingContextError:
        return get_logger(EXTRACT_LOGGER)


class RequestAbandoned(Exception):
    """A request given up between two tries because the read it served has already ended
    (another page failed, or the reader stopped): nobody reads this error."""


def _json_object(response: httpx.Response) -> dict | None:
    """A response's body as the JSON object every endpoint read answers, else None."""
    try:
        document = response.json()
    except ValueError:  # JSONDecodeError and UnicodeDecodeError both are
        return None
    return document if isinstance(document, dict) else None


def _transport_problem(error: httpx.TransportError) -> str:
    """What went wrong with a request that got no usable answer, for the error after the retries.

    A token endpoint's transient answer is told as it is (a status, no secret); any other
    transport error by its kind only, as its text can hold the URL.
    """
    if isinstance(error, TokenEndpointUnavailable):
        return str(error)
    return f"connection failed ({type(error).__name__})"


class ConcurrencyLimit:
    """Requests allowed in flight at once, adapted to the provider's throttle (AIMD).

    A provider's simultaneous-connection limit is shared by every app of the user (Mailchimp:
    10 per user), so a reader sending ``ceiling`` requests at once while another app holds some
    connections is refused again and again, and a page can run out of retries. The number
    allowed starts at ``ceiling``; a throttled answer halves it (not below 1), and as many
    answers in a row as are allowed, with no throttle between, add one back (never above
    ``ceiling``): the reader settles at what the other apps leave free and takes connections
    back as they free them.

    A request sent before a decrease was sent at the old number: its refusal is answered by that
    decrease and is counted, but decreases nothing more (one round of refusals halves once,
    however many of its requests were refused), and its answer does not count towards growing
    the new number. Threads may share one limit.

    Attributes:
        ceiling: The most requests ever allowed in flight at once.
        allowed: Requests allowed in flight at once now.
        throttled: Throttled answers so far.
    """

    def __init__(self, ceiling: int) -> None:
        self.ceiling = max(1, ceiling)
        self.allowed = self.ceiling
        self.throttled = 0
        self._in_flight = 0
        self._answered_in_a_row = 0
        # Throttles that started a decrease so far; each request is sent with the count of its
        # time as its ticket, so a refusal tells whether a decrease came after it was sent.
        self._decreases = 0
        self._slots = threading.Condition()

    def acquire(self, abandoned: threading.Event | None = None) -> int:
        """Wait until fewer requests than allowed are in flight, and count one more.

        Args:
            abandoned: Set when the request is no longer wanted: the wait ends.

        Returns:
            The ticket to ``release`` the slot with.

        Raises:
            RequestAbandoned: ``abandoned`` was set while waiting.
        """
        def is_abandoned() -> bool:
            return abandoned is not None and abandoned.is_set()

        with self._slots:
            # Every release wakes the waiters, and one waits only while requests are in flight.
            self._slots.wait_for(lambda: self._in_flight < self.allowed or is_abandoned())
            if is_abandoned():
                raise RequestAbandoned()
            self._in_flight += 1
            return self._decreases

    def release(self, ticket: int, outcome: OUTCOME) -> tuple[int, int] | None:
        """Free a slot and adapt the number allowed to how its request ended.

        Args:
            ticket: What ``acquire`` returned for the request.
            outcome: How it ended.

        Returns:
            The number allowed before and after, when this answer changed it; else None.
        """
        with self._slots:
            self._in_flight -= 1
            before = self.allowed
            if outcome == "throttled":
                self.throttled += 1
                self._answered_in_a_row = 0
                if ticket == self._decreases:
                    self._decreases += 1
                    self.allowed = max(1, self.allowed // 2)
            elif outcome == "answered" and ticket == self._decreases:
                self._answered_in_a_row += 1
                if self._answered_in_a_row >= self.allowed and self.allowed < self.ceiling:
                    self._answered_in_a_row = 0
                    self.allowed += 1
            self._slots.notify_all()
            return (before, self.allowed) if self.allowed != before else None


class ApiClient:
    """One provider's API session: base URL, credentials, retries and pacing.

    Threads may share one client: ``httpx.Client`` is thread-safe, the pacing slots are taken
    under a lock, and each ``get`` keeps its retry state to itself.

    Args:
        base_url: The API base, e.g. ``https://us6.api.mailchimp.com/3.0``.
        source: The source as the user named it (``mailchimp://a1b2``): errors are about it.
        provider: The provider's name, for messages.
        auth: The credentials (``httpx.BasicAuth`` or a ``BearerAuth``).
        retry: How 429s, 5xx and dropped connections are retried.
        requests_per_second: The provider's per-second cap, or None.
        final_429: Tells a 429 that waiting cannot cure apart from one it can.
        throttled: Tells a refusal that is the provider's throttle in disguise (Mailchimp's
            bodiless 403), retried as a 429 is.
        refusals: What to say, by status, when the provider refuses the credentials, in place
            of "refused the credentials (HTTP <status>)".

    Attributes:
        log: Where the read's lines go: the run's logger of the thread that made the client
            (``run_logger``), used by every thread sharing it.
    """

    def __init__(
        self,
        base_url: str,
        source: str,
        provider: str,
        auth: httpx.Auth,
        retry: RetryPolicy = RetryPolicy(),
        requests_per_second: float | None = None,
        final_429: FINAL_429 = lambda response: None,
        throttled: DISGUISED_THROTTLE = lambda response: False,
        refusals: Mapping[int, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.source = source
        self.provider = provider
        self.retry = retry
        self.final_429 = final_429
        self.throttled = throttled
        self.refusals = dict(refusals or {})
        self.log = run_logger()
        self._interval = 1.0 / requests_per_second if requests_per_second else 0.0
        self._next_slot = 0.0
        self._pace_lock = threading.Lock()
        self._http = httpx.Client(auth=auth, timeout=REQUEST_TIMEOUT_SECONDS, follow_redirects=False)

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.close()

    def url(self, path_or_href: str) -> str:
        """An absolute URL: an endpoint path below the base, or a provider's link
        (``/v3/contacts?cursor=…``, relative to the host)."""
        if path_or_href.startswith(("http://", "https://")):
            return path_or_href
        if path_or_href.startswith(httpx.URL(self.base_url).path.rstrip("/") + "/"):
            return urljoin(self.base_url, path_or_href)
        return self.base_url + path_or_href

    def get(
        self,
        path_or_href: str,
        params: Mapping[str, str | int] | None = None,
        abandoned: threading.Event | None = None,
        limit: ConcurrencyLimit | None = None,
    ) -> dict:
        """GET one JSON document, retrying what a retry can cure.

        Args:
            path_or_href: An endpoint path below the base, or a provider's link.
            params: The query.
            abandoned: Set when the answer is no longer wanted: the waits between tries end
                at once and no further try is made.
            limit: Shared by requests sent together: each try waits for one of its slots
                and tells it how it ended. A throttled try is retried as without a limit.

        Raises:
            InputError: Credentials refused, resource missing, a request the provider rejects,
                a spent quota, or still failing after every retry.
            RequestAbandoned: ``abandoned`` was set before a try.
        """
        url = self.url(path_or_href)
        problem = ""
        for attempt in range(self.retry.attempts):
            if abandoned is not None and abandoned.is_set():
                raise RequestAbandoned(self.source)
            self._pace()
            try:
                response = self._send(url, params, limit, abandoned)
            except httpx.TransportError as error:
                problem = _transport_problem(error)
                self._wait(attempt, None, abandoned)
                continue
            if response.status_code < 300:
                document = _json_object(response)
                if document is not None:
                    return document
                # A body cut short (a connection dropped mid-answer) or a proxy's HTML page under
                # a 200: the provider's answer did not arrive, which another try may cure.
                problem = f"HTTP {response.status_code} with a body that is not a JSON object"
                self._wait(attempt, None, abandoned)
                continue
            if response.status_code == 429 and (final := self.final_429(response)):
                raise InputError(self.source, final)
            if response.status_code not in _RETRIED_STATUSES and not self.throttled(response):
                raise InputError(self.source, self._refusal(response))
            problem = f"HTTP {response.status_code}"
            self._wait(attempt, response.headers.get("retry-after"), abandoned)
        raise InputError(self.source, f"{self.provider} still failing after {self.retry.attempts} attempts: {problem}")

    def _send(
        self,
        url: str,
        params: Mapping[str, str | int] | None,
        limit: ConcurrencyLimit | None,
        abandoned: threading.Event | None,
    ) -> httpx.Response:
        """One try, holding a slot of ``limit`` while it is in flight."""
        if limit is None:
            return self._http.get(url, params=params)
        ticket = limit.acquire(abandoned)
        outcome: OUTCOME = "failed"
        cause = ""
        try:
            response = self._http.get(url, params=params)
            if response.status_code < 300:
                outcome = "answered"
            elif response.status_code == 429 or self.throttled(response):
                outcome, cause = "throttled", f"answered {response.status_code}"
            return response
        finally:
            change = limit.release(ticket, outcome)
            if change is not None:
                before, after = change
                # Once per change, not per request. Cuts are news; under steady contention the
                # limit climbs back one by one between them, hundreds of times over a long read.
                cause, level = (cause, logging.INFO) if after < before else (f"answered {before} pages in a row", logging.DEBUG)
                self.log.log(level, "%s %s: reading %d pages at once (was %d)", self.provider, cause, after, before)

    def _refusal(self, response: httpx.Response) -> str:
        status = response.status_code
        if status in self.refusals:
            return self.refusals[status]
        if status in (401, 403):
            return f"{self.provider} refused the credentials (HTTP {status})"
        return f"{self.provider} answered HTTP {status}: {error_detail(response)}"

    def _pace(self) -> None:
        if not self._interval:
            return
        with self._pace_lock:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._interval
        if slot > now:
            time.sleep(slot - now)

    def _wait(self, attempt: int, retry_after: str | None, abandoned: threading.Event | None) -> None:
        if attempt + 1 >= self.retry.attempts:
            return
        if retry_after and retry_after.isdigit():
            delay = min(float(retry_after), self.retry.max_delay)
        else:
            ceiling = min(self.retry.max_delay, self.retry.first_delay * 2**attempt)
            delay = random.uniform(ceiling / 2, ceiling)
        # Each thread backs off on its own, jittered: threads refused together retry apart.
        if abandoned is None:
            time.sleep(delay)
        else:
            abandoned.wait(delay)


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <token>``, kept out of ``repr`` so it never reaches a log."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "BearerAuth(<secret>)"

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


def error_detail(response: httpx.Response) -> str:
    """The provider's own words on an error: Mailchimp's ``detail``, Constant Contact's
    ``error_message`` (neither echoes a credential)."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return "; ".join(str(item.get("error_message", item)) for item in body)
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or response.reason_phrase)
    return response.reason_phrase


def offset_pages(
    client: ApiClient,
    path: str,
    items_key: str,
    page_size: int,
    params: Mapping[str, str | int] | None = None,
    connections: int = 1,
    *,
    id_key: str = "id",
    collection: str = "collection",
    reads: int = READS_OF_A_CHANGING_COLLECTION,
) -> Iterator[list[dict]]:
    """Page through a collection with ``count`` and ``offset`` (Mailchimp), several pages at once,
    each record once even when the collection changes under the read.

    The first page tells ``total_items``; the next offsets are then requested by up to
    ``connections`` threads, never more than ``connections`` pages ahead of the page being
    yielded, so at most that many pages wait in memory whatever the collection's size. Pages are
    yielded in offset order: the same pages, in the same order, as one request at a time.

    The requests in flight at once are as many as a ``ConcurrencyLimit`` of ``connections``
    allows: halved on each round of throttled answers, grown back one at a time, so a read
    sharing the provider's connections with other apps settles at what they leave free. Each
    cut is logged (``client.log``), and the throttled answers once when the read ends.

    A record removed below the offset reached while the collection is read moves every later
    record one place back: the first record of the next page would be skipped, and a later run
    with ``since_last_changed`` would not bring it (it did not change). So each page after the
    first starts one record early, on the previous page's last: a page whose first record is not
    one of the previous page's started past the records it should have read. The read then
    starts again from the first page, yielding only the records not yet yielded (the union of
    the reads, each record once by ``id_key``), at most ``reads`` times. A record added instead
    moves the others on: those read twice are yielded once. Only the ids are kept across the
    pages (Mailchimp's: about 115 MB a million members), never the records.

    Args:
        client: The provider's client (shared by the threads).
        path: The collection's endpoint.
        items_key: The records' key in a page (``members``).
        page_size: The ``count`` asked for (at least 2: pages overlap by one record).
        params: The query every page is asked with (filters such as ``since_last_changed``).
        connections: Requests in flight at once, at most (the limit's ceiling).
        id_key: The key of each record's unique id.
        collection: What the collection is, for messages (``audience``).
        reads: Reads from the first page, at most, while records are removed under them.

    Yields:
        Each page's records not yielded before, until ``total_items`` are read.

    Raises:
        InputError: A page that fails (the first failing page in offset order; the requests
            still in flight are abandoned and every thread has ended when it is raised), or
            records removed under every one of the ``reads`` reads.
    """
    if page_size < 2:
        raise ValueError("pages overlap by one record: page_size must be at least 2")
    limit = ConcurrencyLimit(connections)
    pool = ThreadPoolExecutor(max_workers=limit.ceiling, thread_name_prefix="offset-pages")
    try:
        yield from _reads_until_steady(
            client, collection, reads,
            lambda yielded: _offset_read(client, path, items_key, page_size, params, limit, pool, yielded, id_key),
        )  # fmt: skip
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if limit.throttled:
            client.log.info(
                "%s throttled %d page requests (each retried); the read ended at %d pages at once",
                client.provider, limit.throttled, limit.allowed,
            )  # fmt: skip


def _reads_until_steady(client: ApiClient, collection: str, reads: int, read_once: ONE_READ) -> Iterator[list[dict]]:
    """Read a collection again from the start while a read may have skipped records, at most
    ``reads`` times, each record yielded once over all the reads.

    Raises:
        InputError: Every read may have skipped records.
    """
    yielded: set[str] = set()
    for read in range(1, reads + 1):
        if (yield from read_once(yielded)):
            return
        if read < reads:
            client.log.warning(
                "%s: the %s %s changed while being read (records removed or moved), which can skip others: "
                "reading it again from the start, each record kept once (read %d of at most %d)",
                client.source, client.provider, collection, read + 1, reads,
            )  # fmt: skip
    raise InputError(
        client.source,
        f"the {client.provider} {collection} kept changing while being read (records removed or moved under each "
        f"of {reads} reads, which can skip others); run the command again",
    )


def _offset_read(
    client: ApiClient,
    path: str,
    items_key: str,
    page_size: int,
    params: Mapping[str, str | int] | None,
    limit: ConcurrencyLimit,
    pool: ThreadPoolExecutor,
    yielded: set[str],
    id_key: str,
) -> Generator[list[dict], None, bool]:
    """One read of ``offset_pages`` from the first page: yields each page's records whose ids are
    not in ``yielded``, adding them.

    Returns:
        Whether every page began within the one before (no record can have been skipped); False
        from the first that did not, its read abandoned.
    """
    abandoned = threading.Event()

    def request(offset: int) -> tuple[int, Future[dict]]:
        query = {**(params or {}), "count": page_size, "offset": offset}
        return offset, pool.submit(client.get, path, query, abandoned, limit)

    try:
        ahead = deque([request(0)])
        stride = next_offset = 0
        previous_ids: set[str] = set()
        while ahead:
            offset, answer = ahead.popleft()
            body = answer.result()
            records = body.get(items_key) or []
            ids = [record[id_key] for record in records]
            if offset and not (ids and ids[0] in previous_ids):
                return False
            if not records:
                return True
            total = body.get("total_items", 0)
            # The stride is the first page's length less the overlap: a provider answering fewer
            # than ``page_size`` records a page is paged at its own size.
            stride = stride or max(1, len(records) - 1)
            next_offset = next_offset or stride
            last_page = offset + len(records) >= total
            while not last_page and len(ahead) < limit.ceiling and next_offset + 1 < total:
                ahead.append(request(next_offset))
                next_offset += stride
            previous_ids = set(ids)
            yield from _unseen(records, ids, yielded)
            if last_page:
                return True
        # The pages asked for ran out before one said it was the last: the collection shrank.
        return False
    finally:
        abandoned.set()


def _unseen(records: list[dict], ids: list[str], yielded: set[str]) -> Iterator[list[dict]]:
    """The page's records whose ids are not in ``yielded`` (as one page, none if all were),
    their ids then added to it."""
    fresh = [record for record, record_id in zip(records, ids, strict=True) if record_id not in yielded]
    yielded.update(ids)
    if fresh:
        yield fresh


def cursor_pages(
    client: ApiClient,
    path: str,
    items_key: str,
    params: Mapping[str, str | int] | None = None,
    *,
    id_key: str,
    count_key: str | None = None,
    collection: str = "collection",
    reads: int = READS_OF_A_CHANGING_COLLECTION,
) -> Iterator[list[dict]]:
    """Page through a collection by following ``_links.next.href`` (Constant Contact), each
    record once.

    A cursor is opaque, but may hold a position: a record leaving the collection, or moving
    past the cursor, while it is read can then skip another. With ``count_key``, the first
    page is asked for with ``include_count=true``, and a read that ends with fewer distinct
    records than that count skipped some (records added meanwhile only raise the number read):
    it starts again from the first page, yielding only the records not yet yielded, at most
    ``reads`` times. A record removed and another added under the same read leave the count as
    it was, and go unseen. Only the ids are kept across the pages, never the records.

    Args:
        client: The provider's client.
        path: The collection's endpoint.
        items_key: The records' key in a page (``contacts``).
        params: The query of the first page (the next links carry it on).
        id_key: The key of each record's unique id.
        count_key: The first page's count of the collection (``contacts_count``), or None to
            trust a read that ends (a collection that cannot shrink: names of lists, tags…).
        collection: What the collection is, for messages.
        reads: Reads from the first page, at most, while they end short of the count.

    Yields:
        Each page's records not yielded before, until a page has no next link.

    Raises:
        InputError: A page that fails, or every one of the ``reads`` reads ended short.
    """
    first_query = {**(params or {}), "include_count": "true"} if count_key else params
    return _reads_until_steady(
        client, collection, reads,
        lambda yielded: _cursor_read(client, path, items_key, first_query, yielded, id_key, count_key),
    )  # fmt: skip


def _cursor_read(
    client: ApiClient,
    path: str,
    items_key: str,
    params: Mapping[str, str | int] | None,
    yielded: set[str],
    id_key: str,
    count_key: str | None,
) -> Generator[list[dict], None, bool]:
    """One read of ``cursor_pages`` from the first page (see ``ONE_READ``)."""
    # The ids this read met, to hold against the count: the first read's are those yielded.
    read_ids = yielded if not yielded else set()
    body = client.get(path, params)
    counted = body.get(count_key) if count_key else None
    while True:
        records = body.get(items_key) or []
        ids = [record[id_key] for record in records]
        yield from _unseen(records, ids, yielded)
        # After: on the first read this is ``yielded`` itself.
        read_ids.update(ids)
        href = ((body.get("_links") or {}).get("next") or {}).get("href")
        if not href:
            return counted is None or len(read_ids) >= counted
        body = client.get(href)


_URI_NAME = re.compile(r"^[0-9A-Za-z_-]+$")


def source_parts(source: str, usage: str) -> tuple[str, str | None]:
    """The name and the ``?since=`` of an API source URI (``mailchimp://a1b2?since=2025-01-01``).

    Raises:
        InputError: Anything else in the URI (user info, a path, other parameters). The
            message does not repeat the URI: whatever else it holds may be a credential.
    """
    parts = urlsplit(source)
    query: dict[str, list[str]] = {}
    for name, value in map(query_item, filter(None, parts.query.split("&"))):
        query.setdefault(name, []).append(value)
    if not _URI_NAME.match(parts.netloc) or parts.path not in ("", "/") or set(query) - {"since"} or len(query.get("since", ())) > 1:
        raise InputError(f"{parts.scheme}://...", f"expected {usage}; credentials come from the environment or a Prefect Secret block, never the URI")
    return parts.netloc, query.get("since", [None])[0]


def query_item(item: str) -> tuple[str, str]:
    """One ``name=value`` of a source URI's query, unquoted.

    unquote, not parse_qs: "+00:00" in a time typed on a command line is no space.
    """
    name, _, value = item.partition("=")
    return unquote(name), unquote(value)


def parse_since(source: str, value: str | None) -> datetime | None:
    """The ``?since=`` of a source URI as an aware time (a naive one is UTC).

    Raises:
        InputError: Not an ISO 8601 time.
    """
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise InputError(source, f"since={value!r} is not an ISO 8601 time") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def canonical_time(value: str | None) -> str:
    """An API time (``2022-02-23T19:31:52+00:00``, ``…Z``) as the exports' UTC text; blank stays blank."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime(CANONICAL_TIMESTAMP)


def quoted_list(names: Iterable[str]) -> str:
    """Names as the exports' ``TAGS`` cell writes them: ``"Member","Board, former"``."""
    return ",".join('"' + name.replace('"', '""') + '"' for name in names)


def text(value: object) -> str:
    """A JSON value as a cell: None and ``""`` blank, numbers as written."""
    return "" if value is None else str(value)


def unique_headers(names: Sequence[str]) -> list[str]:
    """Headers with any name seen before (case-insensitively) suffixed ``(2)``, ``(3)``…, a
    suffix no other name has: a custom field labelled like a standard column keeps a column of
    its own, and so does each of two fields sharing a label."""
    taken = {name.casefold() for name in names}
    copies: dict[str, int] = {}
    unique = []
    for name in names:
        key = name.casefold()
        if key not in copies:
            copies[key] = 1
            unique.append(name)
            continue
        copies[key] += 1
        # A field labelled "Do Not Email (2)" keeps its label: the copy of "Do Not Email" moves on.
        while f"{name} ({copies[key]})".casefold() in taken:
            copies[key] += 1
        header = f"{name} ({copies[key]})"
        taken.add(header.casefold())
        unique.append(header)
    return unique


def label_copies(names: Sequence[str], headers: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Each header whose name (case-insensitively) other fields share → the headers those
    fields are staged under (``unique_headers``): ``Do Not Email`` → ``("Do Not Email (2)",)``.

    Args:
        names: The fields' names, as the provider labels them (the export's headers, repeated).
        headers: ``unique_headers(names)``.
    """
    shared: dict[str, list[str]] = {}
    for name, header in zip(names, headers, strict=True):
        shared.setdefault(name.casefold(), []).append(header)
    return {first: tuple(others) for first, *others in shared.values() if others}


@dataclass(frozen=True)
class StagedPage:
    """One page of records as rows of the export's columns.

    Attributes:
        uri: The page's lineage URI (``mailchimp://a1b2#page=3``).
        rows: Each record's cells by header, with its status.
    """

    uri: str
    rows: list[tuple[dict[str, str], str]]


def stage_pages(pages: Iterable[StagedPage], headers: Sequence[str], path: Path) -> int:
    """Write pages to a CSV as they arrive: the headers, then the lineage columns.

    Returns:
        The records written; each record's ``SOURCE_ROW`` is its 1-based index in the read.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*headers, *_STAGED_LINEAGE])
        for page in pages:
            for cells, status in page.rows:
                written += 1
                writer.writerow([*(cells.get(header, "") for header in headers), page.uri, written, status])
    return written


def reading_every_copy(profile: ReadingProfile, copies: Mapping[str, tuple[str, ...]]) -> ReadingProfile:
    """``profile`` whose status rules read, beside each header they read, the headers of the
    fields sharing its label (``ApiSource.label_copies``), as the provider's export file reads
    every copy of a repeated consent header: two merge fields labelled ``Do Not Email`` are
    both read, and a row keeps the most restrictive reading (a flag set in either copy).

    Args:
        profile: The profile reading the staged file (its mapping, borrowed flags and run's
            ``--consent`` applied).
        copies: Each header → the headers of the other fields sharing its label.
    """

    def with_copies(rule: StatusRule) -> StatusRule:
        read = tuple(copy for header in rule.headers_read(list(copies)) for copy in copies[header])
        return dataclasses.replace(rule, columns=(*rule.columns, *read)) if read else rule

    return dataclasses.replace(
        profile, rules=tuple(map(with_copies, profile.rules)), mapping_rules=tuple(map(with_copies, profile.mapping_rules))
    )


def export_readings(
    source: ApiSource, profile: ReadingProfile, consent_overrides: Mapping[str, str]
) -> tuple[ReadingProfile, ReadingProfile]:
    """The two readings of an API source's rows as its provider's export file reads them
    (``read_as_export``): ``profile``, and ``profile`` also reading the plain opt-out flags
    among the source's columns and the opt-outs of other profiles' consent columns
    (``catalog.reading_opt_out_flags``), each reading every copy of a label the source repeats
    (``reading_every_copy``).

    Args:
        source: The staged source: its headers and ``label_copies``.
        profile: The provider's profile with the user's mapping and the run's ``--consent``
            applied (``tables.ReadOptions.applied``).
        consent_overrides: The run's ``--consent``, applied again once the profile borrowed a
            status of its own (``opt_out_flag_unconfirmed=opted_out``).

    Returns:
        ``profile`` and its reading of the plain opt-out flags and other profiles' consent
        columns, both reading every copy.
    """
    flags_read = reading_opt_out_flags(profile, source.headers, consent_overrides)
    return reading_every_copy(profile, source.label_copies), reading_every_copy(flags_read, source.label_copies)


def with_statuses(raw: RawSource, profile: ReadingProfile, status: pl.Expr) -> RawSource:
    """A staged source whose rows' status is ``status``, read by ``profile``: its format and the
    values its rules read (``ReadingProfile.status_values``, which the report counts the others
    of) are ``profile``'s."""
    frame = raw.frame.with_columns(status.alias(SOURCE_STATUS), pl.lit(profile.format, dtype=pl.String).alias(SOURCE_FORMAT))
    return dataclasses.replace(raw, frame=frame, format=profile.format, status_values=profile.status_values(raw.headers))


@dataclass(frozen=True)
class ApiSource(RawSource):
    """A provider API's records staged as its export file's rows (``staged_source``).

    Attributes:
        label_copies: Each header whose label other fields share (two merge fields labelled
            ``Do Not Email``; the export repeats the header) → the headers those fields are
            staged under (``label_copies``), so their consent is read as the export reads
            every copy (``reading_every_copy``).
    """

    label_copies: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)


def staged_source(
    source: str,
    path: Path,
    headers: Sequence[str],
    source_format: str,
    status: pl.Expr | None = None,
    copies: Mapping[str, tuple[str, ...]] | None = None,
) -> ApiSource:
    """A staged CSV as a RawSource whose rows carry their own status.

    Args:
        source: The source URI as the user named it.
        path: The CSV ``stage_pages`` wrote.
        headers: Its columns, the email column first.
        source_format: The format of the export the columns copy (its profile's format).
        status: Each row's status read from its cells (a profile's rules); default: the
            status staged with the row.
        copies: Each header whose label other fields share → their headers (``label_copies``).
    """
    schema = {**dict.fromkeys(headers, pl.String), **dict.fromkeys(_STAGED_LINEAGE, pl.String)}
    frame = pl.scan_csv(path, schema=schema, glob=False).select(
        *(non_empty(header).alias(header) for header in headers),
        pl.lit(None, dtype=pl.String).alias(EXTRA_FIELDS),
        pl.col(SOURCE_URI),
        pl.col(SOURCE_ROW).cast(pl.Int64),
        pl.col(SOURCE_STATUS) if status is None else status.alias(SOURCE_STATUS),
        pl.lit(source_format, dtype=pl.String).alias(SOURCE_FORMAT),
    )
    return ApiSource(
        uri=source,
        status=PER_ROW_STATUS,
        format=source_format,
        headers=list(headers),
        duplicate_headers=[],
        frame=frame,
        email_column=headers[0],
        local_path=path,
        label_copies=dict(copies or {}),
    )
