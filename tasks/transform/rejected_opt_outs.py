"""Rejected opt-out rows: a row that cannot be imported still opts out every address it names.

A row of an opt-out (an unsubscribed or cleaned file, a row whose status is an opt-out) is
rejected when its email cell is not one clean address (``jane@example.com.``, a zero-width
space, ``Jane <jane@example.com>``, ``mailto:``, two addresses in one cell, an address starting
with ``+``, ``-`` or ``=``) or when the row splits wrong. It is not imported, but its opt-out must not be lost: the same person in a
subscribed file would otherwise become a marketing contact. So the addresses those rows name
are read out of their cells (:func:`named_addresses`), and every contact with one of them is
planned as opted out (:func:`opt_out_named`), the rejected row added to its sources and
provenance. Rows merged and contacts are not changed: the rejected row stays counted once, as a
reject, so the ledger still balances.

Rejects are few, so the addresses are read in Python; the contacts are only joined with them,
and not even that when no rejected row is an opt-out (the common case).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from schemas import lineage
from schemas.contact import (
    EMAIL,
    INTERNATIONAL_DOMAIN,
    INVISIBLE_CHARACTERS,
    LAST_CHANGED,
    OPT_OUT_STATUS,
    OUTCOME,
    PROVENANCE,
    PROVENANCE_SEPARATOR,
    SOURCES,
    SOURCES_SEPARATOR,
    canonical_address,
    is_opt_out_address,
    normalise_email,
)
from schemas.mailchimp import JOINED_EMAILS_SEPARATOR
from tasks.csv_safety import safe_frame, write_safe_csv
from tasks.import_files import LINEAGE_FILE, REJECTED_OPT_OUTS_FILE
from tasks.output import OutputFolder
from tasks.transform.consent import ConsentPolicy, Outcome

_ZERO_WIDTH = dict.fromkeys(map(ord, INVISIBLE_CHARACTERS))
"""Characters that show as nothing (a ``str.translate`` table deleting them): pasted into a cell,
they make a good address invalid."""
_SEPARATORS = re.compile(rf"(?:{re.escape(JOINED_EMAILS_SEPARATOR)}|[\s,;<>()\[\]\"])+")
"""What stands between the addresses of a cell, or around one: the extractor's join of a repeated
email header, spaces, commas and semicolons, and the brackets of ``Name <address>``."""
_EDGES = "'\"`.,;:!?"
"""Stripped from both ends of a token: quotes around an address, punctuation after it."""
_MAILTO = "mailto:"

_CELLS = "_cells"
_STATUS = "_rejected_status"
_SOURCES = "_rejected_sources"
_PROVENANCE = "_rejected_provenance"
_NAMED_COLUMNS = (_STATUS, _SOURCES, _PROVENANCE)
MATCHED = "matched"
NEWLY_OPTED_OUT = "newly_opted_out"
"""The columns of the tally :func:`opt_out_named` gives: contacts named, and those it opted out."""

REPORT_KEY = "rejected_opt_outs"
"""The report's section on them (:meth:`RejectedOptOutCounts.as_dict`)."""


@dataclass(frozen=True)
class RejectedFile:
    """One source file's rejects, as the plan staged them.

    Attributes:
        rows: Its rejects: the lineage columns, ``reason`` and the original cells.
        email_column: Its email header.
        headers: Its headers, in file order.
        policy: The run's consent policy for its format.
    """

    rows: pl.LazyFrame
    email_column: str
    headers: Sequence[str]
    policy: ConsentPolicy


@dataclass(frozen=True)
class RejectedOptOutCounts:
    """What rejected opt-out rows did to a plan.

    Attributes:
        contacts_opted_out: Contacts planned as opted out because a rejected opt-out row names
            them (ones opted out by their own rows are not counted).
        addresses_without_contact: Addresses only rejected opt-out rows name: no contact has
            them, so nothing is planned for them.
    """

    contacts_opted_out: int = 0
    addresses_without_contact: int = 0

    @classmethod
    def of(cls, named: pl.DataFrame, tallies: Sequence[pl.DataFrame]) -> RejectedOptOutCounts:
        """The counts from the named addresses and the tallies of :func:`opt_out_named`."""
        matched = sum(int(t.get_column(MATCHED).sum()) for t in tallies)
        opted_out = sum(int(t.get_column(NEWLY_OPTED_OUT).sum()) for t in tallies)
        return cls(contacts_opted_out=opted_out, addresses_without_contact=named.height - matched)

    def as_dict(self) -> dict[str, int]:
        return {"contacts_opted_out": self.contacts_opted_out, "addresses_without_contact": self.addresses_without_contact}


def addresses_in(cell: str | None) -> list[str]:
    """Every address-like token of a rejected cell, as written (not yet normalised or checked).

    Zero-width characters are removed and the text NFKC-normalised (a fullwidth ``＠`` is an
    ``@``); then the cell is split between addresses and around them (``Name <address>``,
    ``a@x.org, b@y.org``, ``a@x.org;b@y.org``), and each token loses its quotes, trailing
    punctuation and any ``mailto:`` (with the ``?subject=`` after it).

    Args:
        cell: An email cell of a rejected row, or a cell its address may have shifted into.

    Returns:
        The tokens holding an ``@``, in cell order.
    """
    if not cell:
        return []
    text = unicodedata.normalize("NFKC", cell.translate(_ZERO_WIDTH))
    found = []
    for token in _SEPARATORS.split(text):
        token = token.strip(_EDGES)
        if token.lower().startswith(_MAILTO):
            token = token[len(_MAILTO) :].partition("?")[0].strip(_EDGES)
        if "@" in token:
            found.append(token)
    return found


def opt_out_rows(file: RejectedFile) -> pl.LazyFrame:
    """A file's rejected rows whose status is an opt-out, each with the cells that may hold its
    address.

    The email cell; and for a row with more fields than its header, also every cell after it
    and the fields beyond the header: such a row split wrong, and its address may have shifted
    right of its column.

    Returns:
        The rows' lineage columns and ``_cells`` (a list of strings, nulls included).
    """
    names = file.rows.collect_schema().names()
    later = file.headers[file.headers.index(file.email_column) + 1 :] if file.email_column in file.headers else []
    extra = [pl.col(lineage.EXTRA_FIELDS)] if lineage.EXTRA_FIELDS in names else []
    split_wrong = pl.col(lineage.EXTRA_FIELDS).is_not_null() if extra else pl.lit(False)
    cells = [pl.col(file.email_column), *(pl.when(split_wrong).then(pl.col(c)) for c in later if c in names), *extra]
    cells = [cell.cast(pl.String) for cell in cells]
    opted_out = file.policy.status_outcome_expr(pl.col(lineage.SOURCE_STATUS)) == Outcome.OPTED_OUT.value
    return file.rows.filter(opted_out).select(*lineage.ALL, pl.concat_list(cells).alias(_CELLS))


def named_addresses(files: Sequence[RejectedFile]) -> pl.DataFrame:
    """Every address that rejected opt-out rows name, normalised as contacts' emails are.

    Each token of :func:`addresses_in` is trimmed and lowercased, an internationalised domain
    put in its one spelling (``canonical_address``), and kept if HubSpot would take it
    (``is_opt_out_address``: an address at no top-level domain, ``jane@gmail.con``, is no
    contact's and could not be opted out). That is more than a contact's form: an address
    starting with ``+``, ``-`` or ``=`` (``+news@example.com``) is rejected as a contact, for the
    spreadsheets the import files are opened in, but HubSpot holds it, so its opt-out is kept.

    Args:
        files: Every source file's rejects, in input order.

    Returns:
        One row per address, in order of first mention: ``email``, the opt-out status of its
        first rejected row, the ``uri:row`` of each such row (joined as ``sources`` are) and
        their ``format:status`` entries (a sorted list). Empty when no rejected row is an opt-out.
    """
    rows = pl.concat([opt_out_rows(f) for f in files]).collect() if files else pl.DataFrame()
    mentions = [
        (address, row[lineage.SOURCE_STATUS], f"{row[lineage.SOURCE_URI]}:{row[lineage.SOURCE_ROW]}",
         f"{row[lineage.SOURCE_FORMAT]}:{row[lineage.SOURCE_STATUS]}")
        for row in rows.iter_rows(named=True)
        for cell in row[_CELLS]
        for address in addresses_in(cell)
    ]  # fmt: skip
    named = pl.DataFrame(mentions, schema=dict.fromkeys([EMAIL, _STATUS, _SOURCES, _PROVENANCE], pl.String), orient="row").with_columns(
        normalise_email(pl.col(EMAIL))
    )
    international = named.filter(pl.col(EMAIL).str.contains(INTERNATIONAL_DOMAIN)).get_column(EMAIL).unique()
    respelt = pl.col(EMAIL).replace(international, [canonical_address(address) for address in international])
    return (
        named.with_columns(respelt)
        .filter(is_opt_out_address(pl.col(EMAIL)))
        .group_by(EMAIL, maintain_order=True)
        .agg(
            pl.col(_STATUS).first(),
            pl.col(_SOURCES).unique(maintain_order=True).str.join(SOURCES_SEPARATOR),
            pl.col(_PROVENANCE).unique().sort(),
        )
    )


def opt_out_named(contacts: pl.LazyFrame, named: pl.DataFrame) -> tuple[pl.LazyFrame, pl.LazyFrame | None]:
    """Plan as opted out every contact whose email a rejected opt-out row names.

    Such a contact keeps the opt-out status it had, else takes its first rejected row's; the
    rejected rows are added to its ``sources`` and their ``format:status`` to its provenance.
    Its ``rows_merged`` stays as it was (the rows are counted as rejects). Contacts keep their
    order.

    Args:
        contacts: Merged contacts (of ``stream_contacts_by_file``).
        named: The addresses of :func:`named_addresses`.

    Returns:
        The contacts, and a one-row tally (``MATCHED``, ``NEWLY_OPTED_OUT``) to collect with
        them (it shares their query); with no address named, the contacts as given and None.
    """
    if named.is_empty():
        return contacts, None
    joined = contacts.join(named.lazy(), on=EMAIL, how="left", maintain_order="left")
    named_row = pl.col(_STATUS).is_not_null()
    # Split only where a row names the contact: elsewhere the list functions see nulls.
    provenance = (
        pl.when(named_row)
        .then(pl.col(PROVENANCE))
        .str.split(PROVENANCE_SEPARATOR)
        .list.concat(pl.col(_PROVENANCE))
        .list.unique()
        .list.sort()
        .list.join(PROVENANCE_SEPARATOR)
    )
    opted_out = joined.with_columns(
        pl.when(named_row).then(pl.lit(Outcome.OPTED_OUT.value)).otherwise(pl.col(OUTCOME)).alias(OUTCOME),
        pl.coalesce(OPT_OUT_STATUS, _STATUS).alias(OPT_OUT_STATUS),
        pl.coalesce(provenance, PROVENANCE).alias(PROVENANCE),
        pl.when(named_row)
        .then(pl.concat_str([SOURCES, _SOURCES], separator=SOURCES_SEPARATOR))
        .otherwise(pl.col(SOURCES))
        .alias(SOURCES),
    ).drop(_NAMED_COLUMNS)
    tally = joined.select(
        named_row.sum().alias(MATCHED),
        (named_row & (pl.col(OUTCOME) != Outcome.OPTED_OUT.value)).sum().alias(NEWLY_OPTED_OUT),
    )
    return opted_out, tally


UNMATCHED_FILE = REJECTED_OPT_OUTS_FILE
"""The opt-out file of the addresses only rejected opt-out rows name (no contact has them)."""

UNMATCHED_STATUS = "named by rejected rows"
"""Its status in ``plan.json``: the rows' own statuses are in its ``status`` column."""


def plan_unmatched(named: pl.DataFrame, contact_files: Sequence[Path], out: OutputFolder) -> dict | None:
    """Plan the opt-out of every address rejected opt-out rows name that no contact has.

    HubSpot keeps an opt-out by address, not by contact, so it holds before the contact exists:
    a portal may already hold the address (a sync's earlier run, a portal in use), or another
    tool may create it later, and either would otherwise stay subscribed. The addresses go to
    :data:`UNMATCHED_FILE` (``email``, ``status``, ``sources``), which the load opts out as it
    does every opt-out file; ``lineage.csv`` gains a row for each, so a failure ties back to the
    rejected rows.

    Args:
        named: The addresses of :func:`named_addresses`.
        contact_files: Every planned contact's Parquet file.
        out: The run's output folder, where ``lineage.csv`` is written already.

    Returns:
        The file's ``plan.json`` ``opt_outs`` entry, or None when every named address is a contact.
    """
    if named.is_empty():
        return None
    contacts = pl.scan_parquet(contact_files, glob=False).select(EMAIL)
    unmatched = named.lazy().join(contacts, on=EMAIL, how="anti", maintain_order="left").collect()
    if unmatched.is_empty():
        return None
    rows = unmatched.select(
        pl.col(EMAIL).alias("email"), pl.col(_STATUS).alias("status"), pl.col(_SOURCES).alias(SOURCES)
    )
    write_safe_csv(rows, out.path(UNMATCHED_FILE))
    placed = rows.select(
        pl.col("email"),
        pl.lit(Outcome.OPTED_OUT.value).alias(OUTCOME),
        pl.lit(UNMATCHED_FILE).alias("file"),
        (pl.int_range(pl.len()) + 2).alias("line"),
        pl.col(SOURCES),
        pl.lit(None, pl.String).alias(LAST_CHANGED),
    )
    with out.path(LINEAGE_FILE).open("a", encoding="utf-8", newline="") as handle:
        safe_frame(placed.lazy()).collect().write_csv(handle, include_header=False)
    return {"file": UNMATCHED_FILE, "status": UNMATCHED_STATUS, "rows": unmatched.height}
