"""A recurring sync: what changed since the last successful run, as a plan.

Each run plans its sources as a migration does — files whole, provider APIs (``mailchimp://``,
``constantcontact://``) only for what changed since the **watermark** — then compares the
planned contacts with the snapshot the last successful run left (one row per email: its
outcome, a digest of its planned row, when it last changed, whether an API gave it) and writes
a **delta plan** — the same ``plan.json`` layout, holding only the new opt-outs and the new or
changed contacts — that the ordinary load runs on. The snapshot and the watermark advance only
after a load that went through, so a failed run is simply tried again.

Consent is one-way: an email the snapshot holds as opted out stays opted out, whatever a later
export says (``DESIGN.md``: an opt-out signal anywhere is final), so it is never upserted again.

Properties follow the merge's rule across runs: the most recent change wins. A contact a
provider did not list this time (it did not change there) is planned from the files alone,
which may hold an older row than the one the API gave and the sync sent: it is sent only if its
files changed after that (``lineage.csv``'s ``last_changed``), otherwise the snapshot keeps the
API's row. Without a change time on either side the digests decide, as for any other contact.

A contact planned from files alone is also held back when the files' row the snapshot holds
for it changed later (``older_than_sent``): an export older than the one a run sent must not
undo it. Without a change time on either side the digests decide. Change times decide values,
never consent: a row keeping a marketing contact from marketing is sent however old.

A run reading providers for their changes only holds non-marketing a contact a provider that
did not list it might keep from marketing (``held_non_marketing``); the snapshot says so, and
the next run reads every provider whole, as the first run did, so that each one's consent
decides (:func:`why_read_whole`). So does the first run after an upgrade, whose snapshot does not
say what each provider gave.

A contact the last run read that this run's sources lack has **left the source**: counted
(``left_source``), not deleted from HubSpot, and kept in the snapshot, marked, so that it is not
sent again if it comes back unchanged (a file missing from one export must not make the next
full one send everyone again). A run that reads a provider for its changes only cannot tell who
left it, only who left the files. When more than :data:`LEFT_SOURCE_WARNING_SHARE` of the
contacts the last run read are gone, the run warns: more likely an export cut short than a list
emptied.

The state lives beside the output, ``<output>/.onramp-sync/<key>/`` (``snapshot.parquet``,
``watermark.json`` and ``lists/``, the journal of the sync's static lists), where ``key`` names
the sources and the portal: the next scheduled run with the same parameters finds it, another
source or portal starts from nothing. A local source path counts as the folder it names
(``export``, ``export/`` and ``./export`` are one sync). An output given as a URL (``s3://...``)
keeps it there too.

The snapshot carries its **generation** (a random name, in its Parquet metadata), new with every
successful run: the load's step results of a run are kept under it, so a retry of a failed run
finds its own finished steps while the next run never takes an earlier run's results for its
own, even when its delta is the same bytes (a value changed back and forth). A run without a
generated snapshot (the first, or one after a version that kept none) names its results by
``pending.json`` in the state folder, made by its first try.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import fsspec
import polars as pl

from schemas.contact import LAST_CHANGED, LAST_CHANGED_FORMAT, SOURCES, SOURCES_SEPARATOR
from tasks.errors import InputError
from tasks.extract.api_helpers import query_item
from tasks.extract.api_settings import API_SCHEMES, api_scheme
from tasks.extract.locations import CHAIN_SEPARATOR
from tasks.import_files import MARKETING_ALREADY_SET, MARKETING_ALREADY_SET_FILE, OPT_OUT_EMAIL_COLUMN, STATIC_LISTS, opt_out_file_names
from tasks.load.lists import SYNC_DELTA
from tasks.load.optouts import normalise_email, normalised_emails
from tasks.load.plan import LoadPlan, read_plan
from tasks.load.plan_copies import PlannedLine, copy_lineage, copy_rows, planned_rows
from tasks.output import written_whole
from tasks.transform.consent import Outcome

SYNC_FOLDER = ".onramp-sync"
SNAPSHOT_FILE = "snapshot.parquet"
WATERMARK_FILE = "watermark.json"
PENDING_FILE = "pending.json"
"""In a sync's state folder: the generation of the run that has no generated snapshot to start
from (:func:`run_generation`), kept until a run succeeds so its retries find its steps."""
PENDING_OPT_OUTS_FILE = "pending-opt-outs.json"
"""In a sync's state folder: the opt-outs (email → status) of a run that stopped, or that HubSpot
did not take, sent again by the next run whatever its sources now say (:func:`diff`); removed
once a run ended with HubSpot taking them all."""
AGAIN_SUFFIX = "-again.csv"
"""The name ending of a delta's opt-out file for pending opt-outs no planned file holds."""
EARLIER_KEY_FILE = "earlier-key.json"
"""In the state folder of a sync's key: the key an earlier version named the sync's state by,
which it goes on using (:func:`state_key`)."""
GENERATION = "onramp_sync_generation"
"""The snapshot's Parquet metadata item naming its generation (:func:`run_generation`)."""
READ_WHOLE_NEXT = "onramp_sync_read_whole_next"
"""The snapshot's Parquet metadata item saying why the next run must read every provider whole
(:func:`next_whole_read`; empty when it need not). A snapshot without it is an earlier version's."""
FIRST_READ = "onramp_sync_first_read"
"""The snapshot's Parquet metadata item listing (JSON) the provider API sources as the sync's
first run read them, a ``since`` the user wrote kept: a whole read reads them so again."""
PROVIDER_READING = "onramp_sync_provider_reading"
"""The snapshot's Parquet metadata item naming how much of a provider's records the run read
(:data:`PROVIDER_READING_VERSION`)."""
PROVIDER_READING_VERSION = 2
"""How much of a provider's records this version reads. 2: a Mailchimp member's marketing
permissions (its outcome) and groups, a Constant Contact contact's second phones and addresses.
A snapshot of a lower one (or none) holds outcomes and rows read from less: a run reading its
providers for their changes only would never read again the members that did not change, so a
subscribed member whose email permission is off would stay marketing for good."""
LEFT_SOURCE_WARNING_SHARE = 0.2
"""Above this share of the contacts the last run read gone from the sources, the run warns."""
WATERMARK_OVERLAP = timedelta(minutes=5)
"""How far before the last successful run's start the next run asks a provider for changes.

The provider stamps a change with its own clock and compares ``since`` with that stamp, while
the watermark is read on this machine's clock: were this clock ahead of the provider's, a
change made just after a fetch began would carry a stamp before the watermark and be missed
for good. Providers also list a change a little after making it. Changes read twice cost
nothing: a row that matches the snapshot is not sent again."""
SINCE = "since"
SYNC_LIST_NAME = "Onramp — {source} {members} (sync {key})"
"""A sync's static list: named by the sync's key, not the plan's hash, so every run of the sync
adds its new members to the same list (found by the id the sync's state records, else by this
name; :func:`state_location`)."""
DELTA_FOLDER = "sync-delta"
FROM_API = "from_api"
LEFT_SOURCE = "left_source"
API_SOURCES = "api_sources"
SNAPSHOT_SCHEMA = {
    "email": pl.String,
    "outcome": pl.String,
    "digest": pl.String,
    LAST_CHANGED: pl.Datetime("us"),
    FROM_API: pl.Boolean,
    LEFT_SOURCE: pl.Boolean,
    API_SOURCES: pl.List(pl.String),
}
"""One row per email: its planned outcome, a digest of its planned row, when it last changed at
its sources (UTC, null when unknown), whether a provider API source gave (part of) its row,
whether it has left the sources (its row is the last one they gave), and which provider APIs
have given it (``mailchimp://a1b2``; null when unknown)."""
_SINCE_EARLIER_VERSIONS = {LAST_CHANGED: None, FROM_API: False, LEFT_SOURCE: False, API_SOURCES: None}
"""The snapshot's columns an earlier version did not keep, and what they read as: unknown, no,
no and unknown, so its first run compares digests as that version did."""
_API_SCHEME = f"(?:{'|'.join(API_SCHEMES)})://"
_API_SOURCE = f"(?i)(?:^|{pl.escape_regex(SOURCES_SEPARATOR)}){_API_SCHEME}"
"""A ``sources`` cell (``uri:row`` entries) naming a row read from a provider API."""
_API_SOURCE_NAME = f"(?i){_API_SCHEME}[^?#:|\\s]*"
"""A provider API source in a ``sources`` cell, without its query, page or record
(``mailchimp://a1b2`` of ``mailchimp://a1b2?since=…#page=1:17``)."""
MARKETING = Outcome.MARKETING.value
NON_MARKETING = Outcome.NON_MARKETING.value
OPTED_OUT = Outcome.OPTED_OUT.value
HELD_SUFFIX = "-held-non-marketing.csv"
"""The name ending of a delta's copy of a marketing file holding the contacts it sends as
non-marketing (``Delta.held_edited``)."""


def sync_key(sources: Iterable[str], portal_url: str) -> str:
    """The name of a sync's state: its sources (in any order, each as :func:`sync_source` reads
    it) and the portal it feeds."""
    return earlier_sync_key(map(sync_source, sources), portal_url)


def earlier_sync_key(sources: Iterable[str], portal_url: str) -> str:
    """The key of ``sources`` as they are written: a sync's key before sources were normalised
    (the same for absolute paths without a trailing slash and URLs without one)."""
    identity = json.dumps({"sources": sorted(sources), "portal": portal_url.rstrip("/")})
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


def sync_source(source: str) -> str:
    """A source as it names a sync: a local path as the absolute path it reads (``~`` expanded,
    ``./`` and a trailing slash gone), a URL as written but for a trailing slash and, for a
    provider API, its ``?since=``, which bounds the first run only: a schedule that drops it after
    that run is the same sync (a sync an earlier version named with it is found by
    :func:`state_key` while the command still writes it)."""
    if "://" in source or CHAIN_SEPARATOR in source:
        return _without_since(source).rstrip("/") if api_scheme(source) else source.rstrip("/")
    return os.path.abspath(os.path.expanduser(source))


def state_key(output: str, sources: Sequence[str], portal_url: str) -> str:
    """The key of the state a sync's run reads and advances (:func:`sync_key`).

    A version before sources were normalised named the state by the sources as typed
    (``export/``): such a state, when the normalised key has none yet, goes on being the sync's,
    so its next run is not a first run (sending everything again and filling another list). The
    normalised key's folder records it (:data:`EARLIER_KEY_FILE`), so the same sources typed
    another way (``export``) find it too.

    Args:
        output: The output folder (a path or URL).
        sources: The sync's sources, as the user wrote them.
        portal_url: The portal's base URL.
    """
    key, typed = sync_key(sources, portal_url), earlier_sync_key(sources, portal_url)
    fs, alias = fsspec.core.url_to_fs(f"{state_location(output, key)}/{EARLIER_KEY_FILE}")
    if fs.exists(alias):
        with fs.open(alias, "r", encoding="utf-8") as handle:
            return json.load(handle)["key"]
    if typed != key and not _exists(snapshot_location(output, key)) and _exists(snapshot_location(output, typed)):
        with written_whole(f"{state_location(output, key)}/{EARLIER_KEY_FILE}") as handle:
            json.dump({"key": typed}, handle)
        return typed
    return key


def _exists(location: str) -> bool:
    fs, path = fsspec.core.url_to_fs(location)
    return fs.exists(path)


def state_location(output: str, key: str) -> str:
    """The folder of sync ``key``'s state under the output folder (a path or URL); the load keeps
    the journal of the sync's static lists there (``tasks/load/lists.py``), so every run finds
    the list the first one made, even renamed."""
    return f"{output.rstrip('/')}/{SYNC_FOLDER}/{key}"


def snapshot_location(output: str, key: str) -> str:
    """Where the snapshot of sync ``key`` is kept under the output folder (a path or URL)."""
    return f"{state_location(output, key)}/{SNAPSHOT_FILE}"


def watermark_location(output: str, key: str) -> str:
    """Where the watermark of sync ``key`` is kept, beside its snapshot."""
    return f"{state_location(output, key)}/{WATERMARK_FILE}"


def read_watermark(location: str) -> datetime | None:
    """The ``since`` of this run's provider API reads, or None before the first successful run."""
    fs, path = fsspec.core.url_to_fs(location)
    if not fs.exists(path):
        return None
    with fs.open(path, "r", encoding="utf-8") as handle:
        return datetime.fromisoformat(json.load(handle)[SINCE])


def write_watermark(location: str, since: datetime) -> None:
    """Keep the next run's ``since``; written aside first, like the snapshot."""
    with written_whole(location) as handle:
        json.dump({SINCE: since.isoformat()}, handle)


def next_watermark(fetch_started: datetime, overlap: timedelta = WATERMARK_OVERLAP) -> datetime:
    """The watermark a successful run leaves: when it started reading its sources, less the
    overlap (:data:`WATERMARK_OVERLAP` says why), in whole seconds, UTC.

    Args:
        fetch_started: When the run started reading its sources (aware).
        overlap: How much earlier the next run starts asking.
    """
    return (fetch_started - overlap).astimezone(UTC).replace(microsecond=0)


def sources_since(sources: Sequence[str], watermark: datetime | None, first_read: Sequence[str] = ()) -> list[str]:
    """The sources as a run reads them: each provider API source asks only for the changes
    since the watermark; files are read whole (the diff finds their changes).

    Before the first successful run there is no watermark and a source is read as the user
    wrote it, so a ``?since=`` of theirs bounds the first run; after it, the watermark replaces it.
    A whole read (no watermark, :func:`why_read_whole`) reads each provider as the first run did,
    though the schedule no longer writes its ``since``: the contacts it left out stay out.

    Args:
        sources: The sync's sources, as the user wrote them.
        watermark: :func:`read_watermark`, or None for a whole read.
        first_read: The provider sources as the first run read them (``SnapshotMarks.first_read``).
    """
    if watermark is None:
        as_first_read = {_without_since(source): source for source in first_read}
        return [as_first_read.get(_without_since(source), source) if api_scheme(source) else source for source in sources]
    return [_with_since(source, watermark) if api_scheme(source) else source for source in sources]


def why_read_whole(marks: SnapshotMarks | None, sources: Sequence[str]) -> str | None:
    """Why this run must read every provider API whole, as the sync's first run did, not only
    what changed since the watermark; None when it need not.

    A run reading providers for their changes only plans a contact from the providers that
    listed it. It holds non-marketing one that a provider which did not list it might keep from
    marketing (:func:`_marketing_unheard`), which takes the snapshot's record of which providers
    gave each contact, and may hold one the silent provider would now let through: the snapshot
    does not keep each provider's own answer. A whole read merges every provider's answer, as a
    migration does. The last run says when the next one needs it (:func:`next_whole_read`); a
    snapshot an earlier version kept does not, and may lack the providers a contact came from,
    so the first run after the upgrade reads whole; so does the first after an upgrade reading
    more of each provider's records (:data:`PROVIDER_READING_VERSION`).

    Args:
        marks: The snapshot's marks (:func:`read_marks`); None before the first run.
        sources: The sync's sources, as the user wrote them.
    """
    if marks is None or not any(api_scheme(source) for source in sources):
        return None
    if marks.read_whole_next is None:
        return "the snapshot, kept by an earlier version, does not say what each provider gave"
    if (marks.provider_reading or 1) < PROVIDER_READING_VERSION:
        return "the snapshot was kept by an earlier version, which read less of each provider's records (permissions, groups)"
    return marks.read_whole_next or None


def next_whole_read(delta: Delta, failed: set[str], read_whole: bool) -> str:
    """Why the run after this one must read every provider whole (:func:`why_read_whole`), or
    "" when it need not.

    Args:
        delta: This run's delta.
        failed: The emails of the rows HubSpot did not take (:func:`failed_emails`).
        read_whole: Whether this run read every provider whole: its refused rows are read again
            only by another (the watermark, held back, would not list the unchanged ones).
    """
    if delta.held_non_marketing:
        return f"the last run held {len(delta.held_non_marketing)} contact(s) non-marketing that a provider did not list"
    if read_whole and failed:
        return f"HubSpot did not take {len(failed)} contact(s) of the last run, which read every provider whole"
    return ""


def _with_since(source: str, moment: datetime) -> str:
    """``source`` with its ``since`` set to ``moment`` (any other query item kept, for the reader
    to refuse as it would have)."""
    parts = urlsplit(_without_since(source))
    since = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return urlunsplit(parts._replace(query="&".join(filter(None, [parts.query, f"{SINCE}={since}"]))))


def _without_since(source: str) -> str:
    """``source`` without its ``since`` query item (any other kept)."""
    parts = urlsplit(source)
    return urlunsplit(parts._replace(query="&".join(item for item in parts.query.split("&") if item and query_item(item)[0] != SINCE)))


def reads_changes_only(sources: Iterable[str]) -> bool:
    """Whether some source is a provider API read with a ``since``: the run then sees only the
    contacts changed since, and the snapshot keeps everyone else."""
    return any(
        api_scheme(source) and any(name == SINCE and value for name, value in map(query_item, urlsplit(source).query.split("&")))
        for source in sources
    )


@dataclass(frozen=True)
class SnapshotMarks:
    """What a snapshot's Parquet metadata says beside its rows.

    Attributes:
        generation: Its generation (:func:`run_generation`); None from a version that kept none.
        read_whole_next: Why the next run must read every provider whole, "" when it need not
            (:data:`READ_WHOLE_NEXT`); None from an earlier version, which did not say.
        first_read: The provider sources as the sync's first run read them
            (:data:`FIRST_READ`); None from an earlier version.
        provider_reading: How much of a provider's records the run read
            (:data:`PROVIDER_READING_VERSION`); None from an earlier version.
    """

    generation: str | None
    read_whole_next: str | None
    first_read: tuple[str, ...] | None
    provider_reading: int | None = None


def _from_snapshot(location: str, read: Callable[[IO[bytes]], Any]) -> Any:
    """``read`` of the snapshot file at ``location``; None when there is none.

    Raises:
        InputError: The file is not a snapshot Parquet can read (damaged, or another file).
    """
    fs, path = fsspec.core.url_to_fs(location)
    if not fs.exists(path):
        return None
    try:
        with fs.open(path, "rb") as handle:
            return read(handle)
    except pl.exceptions.PolarsError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(
            location,
            f"cannot be read as the sync's snapshot ({reason}); move the folder it is in away to start the sync "
            "over (every contact is sent again)",
        ) from None


def read_snapshot(location: str) -> pl.DataFrame | None:
    """The last successful run's snapshot, or None before the first one."""
    return _from_snapshot(location, lambda handle: pl.read_parquet(handle, glob=False))


def read_marks(location: str) -> SnapshotMarks | None:
    """The last successful run's snapshot's marks (:class:`SnapshotMarks`), or None before the first one."""
    metadata = _from_snapshot(location, pl.read_parquet_metadata)
    if metadata is None:
        return None
    first_read = metadata.get(FIRST_READ)
    provider_reading = metadata.get(PROVIDER_READING)
    return SnapshotMarks(
        metadata.get(GENERATION) or None,
        metadata.get(READ_WHOLE_NEXT),
        tuple(json.loads(first_read)) if first_read else None,
        int(provider_reading) if provider_reading else None,
    )


def write_snapshot(location: str, snapshot: pl.DataFrame, read_whole_next: str = "", first_read: Sequence[str] = ()) -> None:
    """Replace the snapshot, as a new generation (:func:`run_generation`); written whole
    (:func:`~tasks.output.written_whole`), so a crash mid-write leaves the old one. The pending
    generation, if any, is done with.

    Args:
        location: The snapshot's location (:func:`snapshot_location`).
        snapshot: The snapshot (:data:`SNAPSHOT_SCHEMA`).
        read_whole_next: Why the next run must read every provider whole (:func:`next_whole_read`).
        first_read: The provider sources as the sync's first run read them (:data:`FIRST_READ`).
    """
    metadata = {
        GENERATION: secrets.token_hex(8),
        READ_WHOLE_NEXT: read_whole_next,
        FIRST_READ: json.dumps(list(first_read)),
        PROVIDER_READING: str(PROVIDER_READING_VERSION),
    }
    with written_whole(location, "wb") as handle:
        snapshot.write_parquet(handle, metadata=metadata)
    fs, path = fsspec.core.url_to_fs(f"{location.rsplit('/', 1)[0]}/{PENDING_FILE}")
    if fs.exists(path):
        fs.rm(path)


def run_generation(folder: str) -> str:
    """The name of the load a run of the sync whose state is ``folder`` makes: its step results
    are kept under it (``flows/sync.py``).

    It is the generation of the snapshot the run starts from, so a retry of a failed run finds
    its finished steps, and a run after a success (a new snapshot) none of an earlier run's. A
    run with no generated snapshot makes a pending generation its retries find, until one
    succeeds (:func:`write_snapshot`); deleting the state folder starts another.

    Args:
        folder: The sync's state folder (:func:`state_location`).
    """
    marks = read_marks(f"{folder}/{SNAPSHOT_FILE}")
    if marks is not None and marks.generation:
        return marks.generation
    pending = f"{folder}/{PENDING_FILE}"
    fs, path = fsspec.core.url_to_fs(pending)
    if fs.exists(path):
        with fs.open(path, "r", encoding="utf-8") as handle:
            return json.load(handle)[GENERATION]
    generation = f"pending-{secrets.token_hex(8)}"
    with written_whole(pending) as handle:
        json.dump({GENERATION: generation}, handle)
    return generation


def planned_state(plan: LoadPlan) -> pl.DataFrame:
    """Every planned email as :data:`SNAPSHOT_SCHEMA` holds it: its outcome, a digest of its
    planned row (opt-outs: status), and from the plan's lineage its change time and whether a
    provider API gave (part of) it."""
    emails: list[str] = []
    outcomes: list[str] = []
    digests: list[str] = []
    for entry, is_opt_out in [(e, False) for e in plan.imports] + [(e, True) for e in plan.opt_outs]:
        header, email_index, rows = planned_rows(plan.path(entry["file"]))
        for _, cells in rows:
            email = normalise_email(cells[email_index]) if len(cells) > email_index else ""
            if not email:
                continue
            emails.append(email)
            outcomes.append(OPTED_OUT if is_opt_out else entry["outcome"])
            row = f"status:{entry.get('status')}" if is_opt_out else _row_text(header, cells)
            digests.append(_digest(row))
    # The schema is given: a plan with no row (every row rejected) would type the columns null.
    planned = pl.DataFrame(
        {"email": emails, "outcome": outcomes, "digest": digests}, schema=dict.fromkeys(("email", "outcome", "digest"), pl.String)
    ).unique(
        "email", keep="first", maintain_order=True
    )
    return (
        planned.join(_lineage_state(plan), on="email", how="left", maintain_order="left")
        .with_columns(pl.col(FROM_API).fill_null(False), pl.lit(False).alias(LEFT_SOURCE), pl.col(API_SOURCES).fill_null([]))
        .select(pl.col(name).cast(dtype) for name, dtype in SNAPSHOT_SCHEMA.items())
    )


def _digest(row: str) -> str:
    """A planned row's digest (opt-outs: ``status:<status>``), as the snapshot keeps it."""
    return hashlib.sha256(row.encode()).hexdigest()[:32]


def _lineage_state(plan: LoadPlan) -> pl.DataFrame:
    """Each email of the plan's lineage with its ``last_changed``, ``from_api`` and
    ``api_sources``; none without a lineage file, and no change time from a lineage without the
    column."""
    if not plan.lineage_path.exists():
        return pl.DataFrame(schema={name: SNAPSHOT_SCHEMA[name] for name in ("email", LAST_CHANGED, FROM_API, API_SOURCES)})
    lineage = pl.scan_csv(plan.lineage_path, infer_schema=False, glob=False)
    changed = (
        pl.col(LAST_CHANGED).str.to_datetime(LAST_CHANGED_FORMAT, time_unit="us", strict=False)
        if LAST_CHANGED in lineage.collect_schema().names()
        else pl.lit(None, SNAPSHOT_SCHEMA[LAST_CHANGED])
    )
    from_api = pl.col(SOURCES).str.contains(_API_SOURCE).fill_null(False)
    api_sources = pl.col(SOURCES).str.extract_all(_API_SOURCE_NAME).list.unique().list.sort()
    return (
        # The planned emails are read as the load sends them (``normalise_email``): so is the
        # lineage's, which the CSV holds neutralised (``'+gone@example.com``).
        lineage.select(
            normalised_emails(pl.col("email")).alias("email"), changed.alias(LAST_CHANGED), from_api.alias(FROM_API), api_sources.alias(API_SOURCES)
        )
        .unique("email", keep="first")
        .collect()
    )


def current_snapshot(snapshot: pl.DataFrame) -> pl.DataFrame:
    """``snapshot`` with :data:`SNAPSHOT_SCHEMA`'s columns, in its order: one an earlier version
    kept lacks some (:data:`_SINCE_EARLIER_VERSIONS` says how they read)."""
    missing = [
        pl.lit(_SINCE_EARLIER_VERSIONS[name], SNAPSHOT_SCHEMA[name]).alias(name)
        for name in _SINCE_EARLIER_VERSIONS
        if name not in snapshot.columns
    ]
    return snapshot.with_columns(missing).select(pl.col(name).cast(dtype) for name, dtype in SNAPSHOT_SCHEMA.items())


def _row_text(header: list[str], cells: list[str]) -> str:
    """A planned row as its non-blank ``column=value`` pairs, in column order by name.

    A plan leaves out a column nobody in it has a value for, so a contact read again in a
    smaller plan (a provider's changes only) sits under fewer columns: its text must not
    depend on them, or it would look changed when it is not.
    """
    return "\x1f".join(f"{name}={cell}" for name, cell in sorted(zip(header, cells)) if cell)


@dataclass(frozen=True)
class Delta:
    """What a sync run sends, and the snapshot to keep once it has landed.

    Attributes:
        opt_outs: Emails opted out since the snapshot (sent first).
        contacts: Emails new or changed since the snapshot, none of them ever opted out.
        kept_opted_out: Emails the export now plans as contacts that the snapshot holds as
            opted out: not sent, still opted out.
        opt_outs_again: The pending opt-outs (a stopped run's, or ones HubSpot did not take)
            this run's plan holds in no opt-out file (email → status): sent from a file of
            their own (:func:`write_delta_plan`).
        unplanned_opt_outs: Those of ``opt_outs_again`` no source gives any more, as far as
            the run can tell: sent, but not among the planned contacts the counts start from.
        unlisted_opt_outs: Those of ``opt_outs_again`` a provider read for its changes only
            did not list, whose snapshot row it gave: sent, not among the planned contacts
            either, but still that provider's as far as the run can tell.
        kept_newer_from_api: Emails planned from files alone whose snapshot row a provider
            API gave at a later change time: not sent, the API's row kept.
        older_than_sent: Emails planned from files alone at a change time before the one of
            the files' row the snapshot holds (sent by an earlier run): not sent, that row kept.
        held_non_marketing: Emails a run reading a provider for its changes planned as
            marketing that the snapshot holds as non-marketing from a provider API that did not
            list them this time (:func:`_marketing_unheard`): not sent as marketing.
        held_edited: Those of ``held_non_marketing`` whose row changed otherwise: sent as
            non-marketing contacts (:func:`write_delta_plan`); the others are not sent.
        left_source: Emails the last run read that this run's sources lack (as far as it can
            tell): not sent, kept in the snapshot.
        left_share: ``left_source``'s share of the emails the last run read that this run
            could tell were gone (0 without any).
        next_snapshot: The snapshot after a successful run.
        marketing_already_set: Those of ``contacts`` planned as marketing that the snapshot
            holds as marketing too: an earlier successful run made them marketing contacts,
            and a person may have set them non-marketing in HubSpot since (a billing choice,
            not a change of consent). The delta plan names them
            (:func:`write_delta_plan`), and the load keeps non-marketing those HubSpot holds so
            (``tasks/load/opted_out.py``); the snapshot keeps them marketing, as planned, so
            every later run treats them alike.
        pending_sent_again: The pending opt-outs (a stopped run's, or ones HubSpot did not
            take) this run read and sends again that are not new since the snapshot (one the
            snapshot holds opted out, or no planned opt-out file holds): among ``opt_outs``,
            counted apart from the new ones, so each person is counted once.
    """

    opt_outs: frozenset[str]
    contacts: frozenset[str]
    kept_opted_out: frozenset[str]
    opt_outs_again: dict[str, str]
    unplanned_opt_outs: frozenset[str]
    unlisted_opt_outs: frozenset[str]
    kept_newer_from_api: frozenset[str]
    older_than_sent: frozenset[str]
    held_non_marketing: frozenset[str]
    held_edited: frozenset[str]
    left_source: frozenset[str]
    left_share: float
    next_snapshot: pl.DataFrame
    marketing_already_set: frozenset[str] = frozenset()
    pending_sent_again: frozenset[str] = frozenset()

    @property
    def mostly_left(self) -> bool:
        """Whether more of the last run's contacts left the sources than a sync expects
        (:data:`LEFT_SOURCE_WARNING_SHARE`): an export cut short, a file missing?"""
        return self.left_share > LEFT_SOURCE_WARNING_SHARE

    def counts(self, planned: int) -> dict[str, int]:
        """The delta's counts, as the run report keeps them under ``"sync"``: each person once.

        ``new_opt_outs`` counts the opt-outs new since the snapshot; ``opt_outs_sent_again`` the
        pending ones sent again (:attr:`pending_sent_again`), of which
        ``opt_outs_no_longer_in_sources`` are of contacts no source gives now and
        ``opt_outs_not_listed_by_providers`` of contacts a provider read for its changes only did
        not list. ``planned_contacts`` is the sum of ``new_opt_outs``, of ``opt_outs_sent_again``
        less those two, and of every count after them but ``held_sent_non_marketing`` (those of
        ``held_non_marketing`` whose other changes are sent) and ``left_source`` (not planned).
        """
        planned_opt_outs = len(self.opt_outs) - len(self.unplanned_opt_outs) - len(self.unlisted_opt_outs)
        not_sent = {
            "kept_opted_out": len(self.kept_opted_out),
            "kept_newer_from_api": len(self.kept_newer_from_api),
            "older_than_sent": len(self.older_than_sent),
            "held_non_marketing": len(self.held_non_marketing),
        }
        return {
            "planned_contacts": planned,
            "new_opt_outs": len(self.opt_outs - self.pending_sent_again),
            "opt_outs_sent_again": len(self.pending_sent_again),
            "opt_outs_no_longer_in_sources": len(self.unplanned_opt_outs),
            "opt_outs_not_listed_by_providers": len(self.unlisted_opt_outs),
            "new_or_changed_contacts": len(self.contacts),
            **not_sent,
            "held_sent_non_marketing": len(self.held_edited),
            "unchanged": planned - planned_opt_outs - len(self.contacts) - sum(not_sent.values()),
            "left_source": len(self.left_source),
        }


def diff(
    planned: pl.DataFrame, previous: pl.DataFrame | None, changes_only: bool = False, pending: Mapping[str, str] | None = None
) -> Delta:
    """Compare the planned state with the last successful run's snapshot.

    Args:
        planned: :func:`planned_state` of this run's plan.
        previous: The snapshot (any version's), or None on the first run (everything is new).
        changes_only: The run read some source for its changes only
            (:func:`reads_changes_only`): an email it did not see may simply not have changed
            there, so only one whose snapshot row came from files alone counts as having left.
            Such a run also keeps, rather than sends, a contact planned from files alone whose
            snapshot row a provider API gave at a change time no older than the files'
            (:func:`_newer_from_api`), and a contact it plans as marketing that the snapshot holds
            as non-marketing from a provider API that did not list it this time
            (:func:`_marketing_unheard`).
        pending: The opt-outs a stopped run was sending, or an earlier run's HubSpot did not
            take (:data:`PENDING_OPT_OUTS_FILE`, email → status): opted out again whatever the
            sources now say (someone who subscribed again since is one HubSpot may hold opted
            out already, or must), and taken out of the list.
    """
    pending = dict(pending or {})
    previous = current_snapshot(previous) if previous is not None else pl.DataFrame(schema=SNAPSHOT_SCHEMA)
    was_opted_out = previous.filter(pl.col("outcome") == OPTED_OUT)
    opted_out = planned.filter(pl.col("outcome") == OPTED_OUT)
    contacts = planned.filter(pl.col("outcome") != OPTED_OUT)
    again = pl.DataFrame({"email": list(pending)}, schema={"email": pl.String})
    planned_opt_outs = set(opted_out["email"])
    kept = contacts.join(was_opted_out, on="email", how="semi").join(again, on="email", how="anti")
    never_opted_out = contacts.join(was_opted_out, on="email", how="anti").join(again, on="email", how="anti")
    nobody = never_opted_out.select("email").clear()
    newer_from_api = _newer_from_api(never_opted_out, previous) if changes_only else nobody
    older = _older_than_sent(never_opted_out, previous)
    unheard = _marketing_unheard(never_opted_out, previous) if changes_only else nobody
    unheard = unheard.join(pl.concat([newer_from_api, older]), on="email", how="anti")
    held_back = pl.concat([newer_from_api, older, unheard])
    # A held contact's other changes still go, as the non-marketing contact it stays.
    held_edited = unheard.join(previous.select("email", "digest"), on="email").join(planned, on=["email", "digest"], how="anti")
    changed = never_opted_out.join(held_back, on="email", how="anti").join(previous, on=["email", "outcome", "digest"], how="anti")
    already_marketing = _marketing_again(changed, previous)
    opted_out_since = opted_out.join(was_opted_out, on="email", how="anti").select("email")
    new_opt_outs = pl.concat([opted_out_since, again]).unique("email")
    # A row held back is not this run's state: the snapshot keeps the row it replaces (below).
    fresh = pl.concat([
        planned.join(was_opted_out, on="email", how="anti").join(held_back, on="email", how="anti"),
        planned.join(held_edited, on="email", how="semi").with_columns(pl.lit(NON_MARKETING).alias("outcome")),
    ])
    if changes_only:
        # The providers that did not list a contact this time still gave what the snapshot holds.
        fresh = _with_earlier_api_sources(fresh, previous)
    unseen = previous.join(planned, on="email", how="anti")
    # A provider read for its changes only does not list who did not change: its contacts
    # cannot be told gone. Everyone else the sources lack has left them.
    can_tell = pl.lit(not changes_only) | pl.col(FROM_API).not_()
    read_last_run = previous.filter(pl.col(LEFT_SOURCE).not_() & can_tell)
    left = unseen.filter(pl.col(LEFT_SOURCE).not_() & can_tell)
    # Every row the sources no longer give stays, the last one they gave (an opt-out for good):
    # a contact that comes back unchanged is not sent again.
    stayed = previous.join(planned, on="email", how="semi").join(fresh, on="email", how="anti")
    unseen_after = unseen.with_columns(pl.col(LEFT_SOURCE) | can_tell)
    next_snapshot = pl.concat(
        [fresh, stayed.with_columns(pl.lit(False).alias(LEFT_SOURCE)), unseen_after]
    ).join(again, on="email", how="anti")
    # A provider read for its changes only still holds whom it did not list: a pending opt-out
    # planned from the other sources alone keeps the providers its snapshot row came from.
    pending_planned = planned.join(again, on="email", how="semi")
    origin = _with_earlier_providers(pending_planned, previous) if changes_only else pending_planned
    next_snapshot = pl.concat([next_snapshot, _opted_out_rows(pending, origin, unseen_after)])
    unplanned = again.join(planned, on="email", how="anti")
    # A provider read for its changes only did not list them; one a run found gone has left.
    unlisted = unplanned.join(previous.filter(can_tell.not_() & pl.col(LEFT_SOURCE).not_()), on="email", how="semi")
    return Delta(
        opt_outs=frozenset(new_opt_outs["email"]),
        contacts=frozenset(changed["email"]),
        kept_opted_out=frozenset(kept["email"]),
        opt_outs_again={email: status for email, status in pending.items() if email not in planned_opt_outs},
        unplanned_opt_outs=frozenset(unplanned.join(unlisted, on="email", how="anti")["email"]),
        unlisted_opt_outs=frozenset(unlisted["email"]),
        kept_newer_from_api=frozenset(newer_from_api["email"]),
        older_than_sent=frozenset(older["email"]),
        held_non_marketing=frozenset(unheard["email"]),
        held_edited=frozenset(held_edited["email"]),
        left_source=frozenset(left["email"]),
        left_share=left.height / read_last_run.height if read_last_run.height else 0.0,
        next_snapshot=next_snapshot,
        marketing_already_set=frozenset(already_marketing["email"]),
        pending_sent_again=frozenset(again.join(opted_out_since, on="email", how="anti")["email"]),
    )


def _marketing_again(changed: pl.DataFrame, previous: pl.DataFrame) -> pl.DataFrame:
    """The emails of ``changed`` planned as marketing whose snapshot row is marketing too: an
    earlier successful run made them marketing contacts (the snapshot keeps a contact HubSpot
    did not take as it was). One new, or whose outcome changed to marketing, is not among them.

    Args:
        changed: The contacts this run sends (:data:`SNAPSHOT_SCHEMA`).
        previous: The snapshot, in this version's columns.
    """
    was_marketing = previous.filter(pl.col("outcome") == MARKETING).select("email")
    return changed.filter(pl.col("outcome") == MARKETING).join(was_marketing, on="email", how="semi").select("email")


def _newer_from_api(contacts: pl.DataFrame, previous: pl.DataFrame) -> pl.DataFrame:
    """The emails of ``contacts`` planned from files alone whose snapshot row came (partly) from
    a provider API and changed no earlier than the files' row.

    A run that reads a provider for its changes only does not see a contact that did not change
    there: the files' row, read whole every run, then stands alone, older than the row the API
    gave and the sync sent. Sending it would undo the newer change in HubSpot. A null time on
    either side decides nothing (null comparisons drop the row): the digests do, as before.

    Args:
        contacts: Planned contacts (:data:`SNAPSHOT_SCHEMA`).
        previous: The snapshot, in this version's columns.
    """
    return _changed_before(contacts, previous.filter(pl.col(FROM_API)), pl.col(LAST_CHANGED) <= pl.col("_sent_changed"))


def _opted_out_rows(pending: Mapping[str, str], planned: pl.DataFrame, unseen: pl.DataFrame) -> pl.DataFrame:
    """Snapshot rows of ``pending`` opt-outs (email → status), as :func:`planned_state` gives an
    opt-out: where it came from (its change time, its providers) as this run planned it, else as
    the snapshot holds it, so that a contact a provider still has is not counted gone from it.

    One no source gives any more keeps its unseen row's ``left_source`` (counted gone by this run,
    not by the next again); one the snapshot does not hold either (a stopped first run's) has left.

    Args:
        pending: The pending opt-outs.
        planned: This run's planned state of them; in a run reading a provider for its changes
            only, with the providers their snapshot rows name (:func:`_with_earlier_providers`).
        unseen: The snapshot's rows this run did not plan, ``left_source`` as this run leaves it.
    """
    emails = sorted(pending)
    opted_out = pl.DataFrame(
        {"email": emails, "outcome": [OPTED_OUT] * len(emails), "digest": [_digest(f"status:{pending[email]}") for email in emails]},
        schema={name: SNAPSHOT_SCHEMA[name] for name in ("email", "outcome", "digest")},
    )
    whence = [LAST_CHANGED, FROM_API, LEFT_SOURCE, API_SOURCES]
    known = pl.concat([planned.select("email", *whence), unseen.select("email", *whence)])
    return (
        opted_out.join(known, on="email", how="left", maintain_order="left")
        .with_columns(pl.col(FROM_API).fill_null(False), pl.col(LEFT_SOURCE).fill_null(True), pl.col(API_SOURCES).fill_null([]))
        .select(pl.col(name).cast(dtype) for name, dtype in SNAPSHOT_SCHEMA.items())
    )


def read_pending_opt_outs(location: str) -> dict[str, str]:
    """The pending opt-outs (:data:`PENDING_OPT_OUTS_FILE`), email → status: a stopped run's, and
    those HubSpot did not take; none when every run ended with HubSpot taking them."""
    fs, path = fsspec.core.url_to_fs(location)
    if not fs.exists(path):
        return {}
    with fs.open(path, "r", encoding="utf-8") as handle:
        return json.load(handle)


def keep_pending_opt_outs(location: str, plan: LoadPlan) -> None:
    """Add a run's opt-outs (every row of its delta plan's opt-out files) to the pending ones,
    before it sends any: unless the run ends and keeps only those HubSpot did not take
    (:func:`keep_only_pending_opt_outs`), the next run sends them again (:func:`diff`), whether
    or not HubSpot took them."""
    with written_whole(location) as handle:
        json.dump(read_pending_opt_outs(location) | _opt_outs_of(plan), handle)


def opt_outs_not_taken(plan: LoadPlan, failed: set[str]) -> dict[str, str]:
    """The opt-outs of a delta plan (email → status) whose rows HubSpot did not take: the
    unsubscribe refused or not confirmed, or the list removal refused.

    Args:
        plan: The delta plan.
        failed: The emails of the rows HubSpot did not take (:func:`failed_emails`).
    """
    return {email: status for email, status in _opt_outs_of(plan).items() if email in failed}


def keep_only_pending_opt_outs(location: str, pending: Mapping[str, str]) -> None:
    """Once a run ended, keep pending only the opt-outs HubSpot did not take
    (:func:`opt_outs_not_taken`), for every later run to send again until it does; with none
    left, the file goes."""
    if pending:
        with written_whole(location) as handle:
            json.dump(dict(pending), handle)
        return
    fs, path = fsspec.core.url_to_fs(location)
    if fs.exists(path):
        fs.rm(path)


def _opt_outs_of(plan: LoadPlan) -> dict[str, str]:
    """Every address of a plan's opt-out files, email → status."""
    return {email: entry["status"] for entry in plan.opt_outs for _, email in _emails_in(plan, entry["file"]) if email}


def _marketing_unheard(contacts: pl.DataFrame, previous: pl.DataFrame) -> pl.DataFrame:
    """The emails of ``contacts`` planned as marketing that the snapshot holds as non-marketing
    from a provider API that did not list them this time (a snapshot row whose providers are
    unknown, an earlier version's: from a provider, now planned from files alone).

    A run that reads a provider for its changes only plans a contact from the sources that
    listed it: a provider that did not (nothing changed there) still says what it said, and a
    migration would merge it in, the most restrictive outcome winning. Planned from the others
    alone, a contact that provider keeps from marketing (transactional at Mailchimp, no
    permission at Constant Contact) would be sent as marketing. Held back, the snapshot keeps
    the row that provider's merge gave; the next run reads every provider whole
    (:func:`why_read_whole`), and the merged rows of all of them decide.

    Args:
        contacts: Planned contacts (:data:`SNAPSHOT_SCHEMA`).
        previous: The snapshot, in this version's columns.
    """
    earlier = previous.filter(pl.col("outcome") == NON_MARKETING).select(
        "email", pl.col(API_SOURCES).alias("_earlier_apis"), pl.col(FROM_API).alias("_earlier_from_api")
    )
    unlisted = (
        pl.when(pl.col("_earlier_apis").is_null())
        .then(pl.col("_earlier_from_api") & pl.col(FROM_API).not_())
        .otherwise(pl.col("_earlier_apis").list.set_difference(pl.col(API_SOURCES)).list.len() > 0)
    )
    return contacts.filter(pl.col("outcome") == MARKETING).join(earlier, on="email").filter(unlisted).select("email")


def _with_earlier_api_sources(planned: pl.DataFrame, previous: pl.DataFrame) -> pl.DataFrame:
    """``planned`` whose ``api_sources`` also name the providers its snapshot row names."""
    earlier = previous.select("email", pl.col(API_SOURCES).alias("_earlier_apis"))
    joined = planned.join(earlier, on="email", how="left", maintain_order="left")
    merged = pl.concat_list(pl.col(API_SOURCES), pl.col("_earlier_apis").fill_null([])).list.unique().list.sort()
    return joined.with_columns(merged.alias(API_SOURCES)).drop("_earlier_apis")


def _with_earlier_providers(planned: pl.DataFrame, previous: pl.DataFrame) -> pl.DataFrame:
    """``planned`` whose ``api_sources`` also name the providers its snapshot row names
    (:func:`_with_earlier_api_sources`), and ``from_api`` also when that row's is.

    For an opt-out's row only: its digest is its status, not a provider's row, so saying a
    provider gave it changes no comparison; it keeps a run reading that provider for its
    changes only from taking it for gone (``left_source``) once the other sources drop it.
    """
    earlier = previous.select("email", pl.col(FROM_API).alias("_earlier_from_api"))
    joined = _with_earlier_api_sources(planned, previous).join(earlier, on="email", how="left", maintain_order="left")
    return joined.with_columns((pl.col(FROM_API) | pl.col("_earlier_from_api").fill_null(False)).alias(FROM_API)).drop("_earlier_from_api")


def _older_than_sent(contacts: pl.DataFrame, previous: pl.DataFrame) -> pl.DataFrame:
    """The emails of ``contacts`` planned from files alone whose snapshot row, from files alone
    too, changed later: an older export than the one an earlier run sent (the most recent change
    wins). The same time decides nothing, nor a null one: the digests do.

    Args:
        contacts: Planned contacts (:data:`SNAPSHOT_SCHEMA`).
        previous: The snapshot, in this version's columns.
    """
    return _changed_before(contacts, previous.filter(pl.col(FROM_API).not_()), pl.col(LAST_CHANGED) < pl.col("_sent_changed"))


def _changed_before(contacts: pl.DataFrame, sent: pl.DataFrame, older: pl.Expr) -> pl.DataFrame:
    """The emails of ``contacts`` from files alone that ``older`` (comparing a contact's
    ``last_changed`` with ``_sent_changed``, its time in ``sent``) holds back.

    Change times decide which row's values win, never consent: a row keeping from marketing a
    contact sent as marketing is not held back, however old (a migration of both rows would
    merge them, the most restrictive outcome winning)."""
    sent_rows = sent.select("email", pl.col(LAST_CHANGED).alias("_sent_changed"), pl.col("outcome").alias("_sent_outcome"))
    restricts = (pl.col("outcome") != MARKETING) & (pl.col("_sent_outcome") == MARKETING)
    return contacts.join(sent_rows, on="email").filter(pl.col(FROM_API).not_() & older & restricts.not_()).select("email")


def write_delta_plan(plan: LoadPlan, delta: Delta, directory: Path, key: str) -> LoadPlan:
    """Write the plan of what the delta sends: the plan's files cut to the delta's emails.

    Files keep their names and headers; empty ones are left out; lineage follows the rows to
    their new lines, so a HubSpot error still names its source row. Static lists are the
    sync's own (:func:`sync_lists`). The edited rows of contacts held non-marketing
    (``Delta.held_edited``) go to a non-marketing copy of their marketing file
    (:data:`HELD_SUFFIX`), which no list holds. The contacts an earlier run already made
    marketing (``Delta.marketing_already_set``) stay in their marketing file, and are listed in
    a file of their own that ``plan.json`` names (:data:`~tasks.import_files.MARKETING_ALREADY_SET`),
    none without any: the newly marketing are the file's others.

    Args:
        plan: This run's full plan.
        delta: What to send.
        directory: The delta plan's folder (emptied first).
        key: The sync's key (:func:`sync_key`), which names its lists.
    """
    shutil.rmtree(directory, ignore_errors=True)
    # Made here, not by the first file copied: a run that planned no row (an API source read
    # since its watermark with nothing changed) copies none, and still writes its lineage.
    directory.mkdir(parents=True)
    moved: dict[PlannedLine, PlannedLine] = {}
    kept_entries: dict[str, list[dict[str, Any]]] = {"imports": [], "opt_outs": []}
    for kind, wanted in (("imports", delta.contacts), ("opt_outs", delta.opt_outs)):
        for entry in getattr(plan, kind):
            rows = copy_rows(plan.path(entry["file"]), directory / entry["file"], wanted.__contains__)
            for new_line, old_line in enumerate(rows, start=2):
                moved[(entry["file"], old_line)] = (entry["file"], new_line)
            if rows:
                kept_entries[kind].append({**entry, "rows": len(rows)})
            else:
                (directory / entry["file"]).unlink()
    statuses = sorted(set(delta.opt_outs_again.values()))
    for status, file in opt_out_file_names(statuses).items():
        again_file = file.removesuffix(".csv") + AGAIN_SUFFIX
        emails = sorted(email for email, said in delta.opt_outs_again.items() if said == status)
        (directory / again_file).parent.mkdir(parents=True, exist_ok=True)
        with (directory / again_file).open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle, lineterminator="\n").writerows([[OPT_OUT_EMAIL_COLUMN], *([email] for email in emails)])
        kept_entries["opt_outs"].append({"file": again_file, "status": status, "rows": len(emails)})
    for entry in (entry for entry in plan.imports if entry.get("outcome") == MARKETING and delta.held_edited):
        held_file = entry["file"].removesuffix(".csv") + HELD_SUFFIX
        rows = copy_rows(plan.path(entry["file"]), directory / held_file, delta.held_edited.__contains__)
        for new_line, old_line in enumerate(rows, start=2):
            moved[(entry["file"], old_line)] = (held_file, new_line)
        if rows:
            held = {key: value for key, value in entry.items() if key != "list"}
            kept_entries["imports"].append(
                {**held, "file": held_file, "outcome": NON_MARKETING, "marketable": False, "rows": len(rows), "name": f"{entry['name']} held"}
            )
        else:
            (directory / held_file).unlink()
    already_marketing = {}
    if delta.marketing_already_set:
        with (directory / MARKETING_ALREADY_SET_FILE).open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle, lineterminator="\n").writerows([["email"], *([email] for email in sorted(delta.marketing_already_set))])
        already_marketing = {MARKETING_ALREADY_SET: MARKETING_ALREADY_SET_FILE}
    copy_lineage(plan.lineage_path, directory / plan.data.get("lineage", "lineage.csv"), moved)
    label = plan.data.get("property_group", {}).get("label", "")
    lists = sync_lists(kept_entries["imports"], label, key, delta.opt_outs)
    # The marker makes the load take the delta's non-marketing contacts out of the sync's list.
    data = {**plan.data, **kept_entries, "lists": lists, SYNC_DELTA: True, **already_marketing}
    (directory / "plan.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    return read_plan(directory)


def sync_lists(
    imports: Iterable[dict[str, Any]], source_label: str, key: str, opt_outs: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """A delta plan's static lists: one per outcome the load lists (``STATIC_LISTS``), named
    after the sync rather than the plan, holding the files the delta sends to it.

    A list is kept without files when the delta opts people out or sends some as non-marketing:
    earlier runs may have put them in it, and the load takes them out of a list it finds
    (``tasks/load/lists.py``), though it makes none for them. Otherwise a list without files is
    left out (nothing to do with it).
    (The load's list step is keyed by its entry and the plan's opt-out files,
    ``tasks/load/resume.py``: a retry of a failed run that finds other opt-outs takes those out
    too.)

    Args:
        imports: The contacts files the delta plan holds (its ``imports`` entries, whose
            ``list`` names their list's key).
        source_label: The source's name, for the list names.
        key: The sync's key.
        opt_outs: The emails the delta opts out.
    """
    named = []
    imports = list(imports)
    leaving = bool(opt_outs) or any(entry.get("outcome") == Outcome.NON_MARKETING.value for entry in imports)
    for outcome, members in STATIC_LISTS.items():
        sent = [entry["file"] for entry in imports if entry.get("list") == outcome.value]
        if sent or leaving:
            name = SYNC_LIST_NAME.format(source=source_label, members=members, key=key)
            named.append({"key": outcome.value, "name": name, "outcome": outcome.value, "files": sent})
    return named


def failed_emails(plan: LoadPlan, errors: Iterable[dict[str, Any]]) -> set[str]:
    """The emails of the delta rows HubSpot did not take (``row``-scoped load errors)."""
    wanted = {(error["file"], error["line"]) for error in errors if error.get("scope") == "row" and error.get("line")}
    return {email for file in {file for file, _ in wanted} for line, email in _emails_in(plan, file) if (file, line) in wanted}


def _emails_in(plan: LoadPlan, file: str) -> Iterator[tuple[int, str]]:
    """Each row of a planned file as its line and its email, read as the load sends it."""
    _, email_index, rows = planned_rows(plan.path(file))
    return ((line, normalise_email(cells[email_index])) for line, cells in rows if len(cells) > email_index)


def snapshot_after(delta: Delta, previous: pl.DataFrame | None, failed: set[str]) -> pl.DataFrame:
    """The snapshot to keep after a load: the delta's, except that contacts whose rows failed
    keep their previous entry (or none), so the next run sends them again.

    An opt-out that failed keeps the delta's row, opted out: the source said so, which is final
    (``DESIGN.md``). It stays pending (:func:`keep_only_pending_opt_outs`) and is sent again by
    every run until HubSpot takes it; whatever the source says by then, it is never a contact
    to send again (a previous marketing row would make it one, were it to subscribe again)."""
    refused_contacts = sorted(failed - delta.opt_outs)
    kept = delta.next_snapshot.filter(~pl.col("email").is_in(refused_contacts))
    if previous is None or not refused_contacts:
        return kept
    return pl.concat([kept, current_snapshot(previous).filter(pl.col("email").is_in(refused_contacts))])
