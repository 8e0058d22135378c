"""The canonical contact: one row per email, after every source is merged.

Checked with pandera as a contract between the transform and the planner: a failure here is a
bug in Onramp, not bad input, so it raises rather than producing rejects.
"""

from __future__ import annotations

import os
import re
from functools import cache
from importlib.resources import files

import idna
import pandera.polars as pa
import polars as pl

from tasks.transform.consent import Outcome

_DOMAIN_CHARACTERS = (
    "a-z0-9"
    # Letters of other scripts, for internationalised domains (bücher.de, email.삼성), which
    # HubSpot accepts. Left out: Latin-1's controls and punctuation, general punctuation (the
    # zero-width and other spaces), CJK punctuation (its full stop reads as a dot) and the
    # fullwidth forms of ASCII (＠, ．). A class of ranges, not \p{L}: Unicode classes cost the
    # regex 30 times the time over a million addresses. The ranges are written as characters,
    # not escapes, so Python's re reads the pattern as polars' regex does.
    "\u00c0-\u1fff\u2070-\u2fff\u3040-\ufdff\ufe10-\ufefe\uff66-\U0010ffff"
)
_DOMAIN_LABEL = rf"[{_DOMAIN_CHARACTERS}](?:[{_DOMAIN_CHARACTERS}-]{{0,61}}[{_DOMAIN_CHARACTERS}])?"
_LOCAL_CHARACTERS = "a-z0-9!#$%&'*+/=?^_`{|}~-"
"""RFC 2822's atext, lowercased: the local part stays ASCII, as HubSpot holds addresses to RFC
2822, which has no other."""
_FORMULA_FREE_LOCAL_CHARACTERS = "a-z0-9!#$%&'*/?^_`{|}~"
"""The atext a contact's address may start with: not "=", "+" or "-", which spreadsheets read as
a formula ("@" cannot start a local part anyway)."""


def _address_pattern(first_characters: str) -> str:
    """The form of an address whose local part starts with one of ``first_characters``."""
    local_part = rf"[{first_characters}][{_LOCAL_CHARACTERS}]*(?:\.[{_LOCAL_CHARACTERS}]+)*"
    return rf"^{local_part}@(?:{_DOMAIN_LABEL}\.)+{_DOMAIN_LABEL}$"


EMAIL_PATTERN = _address_pattern(_FORMULA_FREE_LOCAL_CHARACTERS)
"""The form of a contact's address, applied to the trimmed, lowercased address (its top-level
domain is checked apart, by :func:`ends_in_top_level_domain`). RFC 2822's form, less a first
character a spreadsheet reads as a formula: the plan's files would show such an address with an
apostrophe in front (``'+news@x.com``; the load takes it off again), and no real audience has
shown one, so such a contact is rejected (listed in ``rejects.csv``) rather than imported. Its
opt-out is never dropped: :data:`OPT_OUT_ADDRESS_PATTERN`."""

OPT_OUT_ADDRESS_PATTERN = _address_pattern(_LOCAL_CHARACTERS)
"""The form of an address an opt-out is sent for: RFC 2822's whole, a first ``+``, ``-`` or
``=`` included. HubSpot takes such an address as a contact's, so a portal may hold the person
already; opt-outs go by API, the address as it is, and an opt-out must never be dropped."""

MAX_EMAIL_CHARS = 254
MAX_LOCAL_PART_CHARS = 64
"""RFC 5321's limits: beyond them no mail server delivers, and HubSpot refuses the address."""

_ICANN_SECTION = ("// ===BEGIN ICANN DOMAINS===", "// ===END ICANN DOMAINS===")
EXTRA_TOP_LEVEL_DOMAINS_ENV = "ONRAMP_EXTRA_TOP_LEVEL_DOMAINS"
"""Top-level domains to take beyond the bundled list, comma-separated (``ONRAMP_EXTRA_TOP_LEVEL_DOMAINS=new,другой``):
for one delegated since the pinned snapshot, until the pin is raised."""


@cache
def top_level_domains() -> tuple[str, ...]:
    """Every top-level domain of the DNS root, as Unicode and as its ``xn--`` form, sorted.

    HubSpot refuses an address whose domain does not end in one of IANA's top-level domains
    (``jane@gmail.con``). The list is the Public Suffix List's ICANN section, which tracks
    IANA's root zone, as the pinned ``publicsuffixlist`` package bundles it, plus any named in
    :data:`EXTRA_TOP_LEVEL_DOMAINS_ENV` (read once, when the list is first used): a domain
    delegated after the snapshot is refused until it is named there or the pin is raised.
    """
    text = files("publicsuffixlist").joinpath("public_suffix_list.dat").read_text(encoding="utf-8")
    icann = text[text.index(_ICANN_SECTION[0]) : text.index(_ICANN_SECTION[1])]
    listed = {line.strip() for line in icann.splitlines() if line.strip() and not line.startswith("//") and "." not in line}
    extra = {name.strip().strip(".").lower() for name in os.environ.get(EXTRA_TOP_LEVEL_DOMAINS_ENV, "").split(",")}
    names = listed | {_unicode_domain(name) or name for name in extra if name}
    return tuple(sorted(names | {spelling for name in names if (spelling := _ascii_domain(name))}))


def _unicode_domain(domain: str) -> str | None:
    """``domain`` as IDNA maps it (UTS 46: normalised, lowercased), spelt in Unicode (its ``xn--``
    labels decoded); None where IDNA refuses it."""
    try:
        return idna.decode(idna.encode(domain, uts46=True))
    except idna.IDNAError:
        return None


def _ascii_domain(domain: str) -> str | None:
    """``domain`` as IDNA maps it, spelt in ASCII (``xn--`` labels); None where IDNA refuses it."""
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        return None


def has_email_form(email: pl.Expr, pattern: str = EMAIL_PATTERN) -> pl.Expr:
    """True where a trimmed, lowercased address has a contact's form (or ``pattern``'s, one of
    :func:`_address_pattern`'s) and RFC 5321's lengths."""
    # The local part's length is where the "@" is: wherever the pattern matches, the local part
    # is ASCII (bytes are characters) and holds no "@", and wherever it does not, the address
    # fails anyway. Splitting every address into a list to measure its first part made the
    # whole test cost half as much again (700,000 addresses: 0.08 CPU s against 0.05).
    return (
        email.str.contains(pattern)
        & (email.str.len_chars() <= MAX_EMAIL_CHARS)
        & (email.str.find("@", literal=True) <= MAX_LOCAL_PART_CHARS)
    )


def ends_in_top_level_domain(email: pl.Expr) -> pl.Expr:
    """True where the address's last label is a top-level domain (:func:`top_level_domains`);
    False where it has none (no dot, or an "@" after the last one)."""
    # Matched from the end of the address, as the regex engine runs a pattern anchored only at
    # the end: a third of the CPU of extracting the last label and looking it up in the list
    # (700,000 addresses: 0.018 CPU s against 0.059).
    return email.str.contains(_ending_in_one_of(top_level_domains()))


@cache
def _ending_in_one_of(names: tuple[str, ...]) -> str:
    """The pattern of an address ending in a dot and one of ``names`` (the list is read again
    when the environment names others, so it is the key)."""
    # A name with a dot (``example.newtld`` in the environment's list) is never a last label.
    labels = (re.escape(name) for name in names if "." not in name)
    return rf"\.(?:{'|'.join(labels)})$"


def is_valid_email(email: pl.Expr) -> pl.Expr:
    """True where a trimmed, lowercased address is one a contact may have: its form
    (:data:`EMAIL_PATTERN`), its lengths and a real top-level domain."""
    return has_email_form(email) & ends_in_top_level_domain(email)


def is_opt_out_address(email: pl.Expr) -> pl.Expr:
    """True where a trimmed, lowercased address is one HubSpot can hold and so one to opt out: as
    :func:`is_valid_email`, its local part starting with any of RFC 2822's characters
    (:data:`OPT_OUT_ADDRESS_PATTERN`)."""
    return has_email_form(email, OPT_OUT_ADDRESS_PATTERN) & ends_in_top_level_domain(email)


EMAIL = "email"
OUTCOME = "outcome"
OPT_OUT_STATUS = "opt_out_status"
SOURCES = "sources"
SOURCES_SEPARATOR = " | "
"""Between the ``uri:row`` entries of a contact's ``sources``."""
ROWS_MERGED = "rows_merged"
PROVENANCE = "onramp_provenance"
"""Which source formats and statuses made a contact (``format:status`` entries, sorted, joined by
``; ``). Named as the HubSpot property that carries it, so the import files send it as it is."""
PROVENANCE_SEPARATOR = "; "
MAX_PROVENANCE_CHARS = 65_536
"""HubSpot's limit on a string property value; a longer provenance is cut (it never is in
practice: one entry per distinct format and status)."""
PROVENANCE_CUT_MARK = "…"
LAST_CHANGED = "last_changed"
"""When the contact last changed at its sources: the latest change time of the rows merged into
it (the merge takes its properties from the most recent), null when no row has one (a source
without a change-time column). Not a property: ``lineage.csv`` carries it, for the sync."""
BOOKKEEPING_COLUMNS = frozenset({OUTCOME, OPT_OUT_STATUS, SOURCES, ROWS_MERGED, LAST_CHANGED})
"""The contact's columns Onramp keeps for itself, never sent to HubSpot as properties (the
import files hold ``email`` and the properties; ``onramp_provenance`` is one)."""
LAST_CHANGED_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
"""How ``lineage.csv`` writes ``last_changed`` (ISO 8601, UTC: change times are read in whole
seconds, in UTC)."""


INTERNATIONAL_DOMAIN = r"[^\x00-\x7f]|xn--"
"""An address that may hold an internationalised domain, which has two spellings: Unicode, and its
``xn--`` ASCII form (a non-ASCII character or an ``xn--`` label anywhere)."""


def canonical_address(address: str) -> str:
    """One spelling of a trimmed, lowercased address whose domain is internationalised.

    ``jane@xn--bcher-kva.de``, ``jane@bücher.de`` and ``jane@bu\u0308cher.de`` (the ü as u and a
    combining mark) are one mailbox. Spelt apart, they would be two contacts, and an opt-out
    recorded under one spelling would leave the other subscribed. So the domain is mapped and
    written back in Unicode (IDNA 2008 with UTS 46's mapping: normalised, its ``xn--`` labels
    decoded), as people type it and HubSpot shows it; opt-outs go to its ``xn--`` spelling too
    (:func:`ascii_spelling`). A domain IDNA refuses is left as it is.
    """
    local, at, domain = address.rpartition("@")
    unicode = _unicode_domain(domain)
    return address if unicode is None else f"{local}{at}{unicode}"


def ascii_spelling(address: str) -> str | None:
    """The other spelling of an address whose domain is in Unicode: its ``xn--`` form.

    Opt-outs are sent under both spellings: the plan writes one (:func:`canonical_address`), and
    a portal may hold the address in the other (from a form, another integration), where an
    opt-out under the first alone would leave it subscribed.

    Returns:
        ``jane@xn--bcher-kva.de`` for ``jane@bücher.de``; None for an ASCII domain, or one IDNA
        refuses.
    """
    local, at, domain = address.rpartition("@")
    spelt = None if not at or domain.isascii() else _ascii_domain(domain)
    return None if spelt is None else f"{local}{at}{spelt}"


INVISIBLE_CHARACTERS = (
    "\u00ad\u061c\u115f\u1160\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\u206a\u206b\u206c\u206d\u206e\u206f"
    "\u3164\ufeff\uffa0\ufff9\ufffa\ufffb"
)
"""Characters a cell or a header may carry unseen, pasted from a web page, a spreadsheet or a
right-to-left text: the format characters of the Basic Multilingual Plane (a soft hyphen, zero-width
spaces and joiners, the marks, embeddings, overrides and isolates that set a text's direction,
invisible operators, a byte-order mark, interlinear annotation marks) but the Arabic and Syriac
marks written before numbers, which show; and the Hangul fillers, letters that show as blanks.
Listed, not matched by category: trimming a cell of a set costs in proportion to its size."""

_CELL_EDGES = "".join(chr(code) for code in range(0x3001) if chr(code).isspace()) + INVISIBLE_CHARACTERS
"""What is trimmed from around a cell that is compared (an address, a consent value): Unicode's
spaces (as ``strip_chars()`` trims) and the characters one cannot see, which a copied
``\u200bann@example.com`` or ``\u200eYes`` carries."""


def trimmed(column: pl.Expr) -> pl.Expr:
    """A cell without the spaces and invisible characters around it."""
    return column.str.strip_chars(_CELL_EDGES)


def normalise_email(column: pl.Expr) -> pl.Expr:
    """Trim (spaces and invisible characters) and lowercase, as HubSpot does, before anything is
    compared (an internationalised domain's spellings are made one when the contacts are merged:
    :func:`canonical_address`)."""
    return trimmed(column).str.to_lowercase()


CanonicalContactSchema = pa.DataFrameSchema(
    {
        EMAIL: pa.Column(
            pl.String,
            checks=pa.Check(lambda data: data.lazyframe.select(is_valid_email(pl.col(data.key))), name="valid_email"),
            unique=True,
            nullable=False,
        ),
        OUTCOME: pa.Column(pl.String, checks=pa.Check.isin([o.value for o in Outcome]), nullable=False),
        OPT_OUT_STATUS: pa.Column(pl.String, nullable=True),
        PROVENANCE: pa.Column(pl.String, nullable=False),
        SOURCES: pa.Column(pl.String, nullable=False),
        ROWS_MERGED: pa.Column(pl.UInt32, checks=pa.Check.ge(1), nullable=False, coerce=True),
        # Not required: the merge always gives it, the contract holds without it (a contact is
        # whole without a change time, as when no source has one).
        LAST_CHANGED: pa.Column(pl.Datetime("us"), nullable=True, required=False),
    },
    checks=[
        pa.Check(
            lambda data: data.lazyframe.select(
                (pl.col(OUTCOME) == Outcome.OPTED_OUT.value) == pl.col(OPT_OUT_STATUS).is_not_null()
            ),
            name="opt_out_status_iff_opted_out",
        )
    ],
    strict=False,
    name="CanonicalContact",
)
"""One contact per email, with its consent outcome and the source rows it came from."""

ContactRowSchema = CanonicalContactSchema.update_column(EMAIL, unique=False)
"""The contract's checks that look at one contact at a time: every check but email uniqueness,
so a large export is checked one slice of contacts at a time."""

UniqueEmailSchema = pa.DataFrameSchema(
    {EMAIL: pa.Column(pl.String, unique=True, nullable=False)}, strict=False, name="CanonicalContact"
)
"""The contract's one check across contacts: no email twice. Together with
:data:`ContactRowSchema` it is :data:`CanonicalContactSchema`; run on email-hash partitions
(all of an email's contacts share one), it holds one partition's emails, not the export's."""
