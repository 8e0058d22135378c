"""Every source profile, how one is recognised from a file's headers, and how a row's status is read.

A profile (``profiles/<name>.toml``) says where each column goes (``tasks.transform.profile``)
and, in the tables read here, how to recognise and read its files:

- ``[detect]``: ``headers`` only the source's exports write (``Record ID``, ``Klaviyo ID``),
  ``shared_headers`` its exports write that plain lists and other sources write too
  (``Status``, ``Postal Code``), which count only beside one of its own (``detect_profile``), and
  ``email_columns`` in order of preference (later ones fill a blank first);
- ``timestamp_formats``: how the source writes times (Excel date serials are read too), read
  as UTC times by the transform (``parse_time``), and ``date_order``: the order its numeric dates
  write day and month in when the source has one (``month_first`` for Constant Contact's
  US-only exports); else each file's time column is read in the order its own values prove
  (``time_reading``), the formats' order when they prove none;
- ``[status]``: ``default`` (a row nothing reads), ``file_names`` (whole words of the file's
  name, or its workbook sheet's → the status of its rows, for one-file-per-status exports) and
  ``rules``, each reading some columns (``columns``, named as ``consent_header_key`` compares
  headers: any case, spacing or separator, a Salesforce ``__c`` or a ``(Y/N)`` aside; and
  ``column_prefixes``, every header starting so: one column per subscription, whatever the
  subscriptions' names): ``values`` (cell → status), ``when_true`` (a yes/true/1 cell → status),
  ``when_false`` (a no/false/0 cell, never an empty one → status), ``when_set`` (a yes/true/1
  cell or a date → status) or ``when_present`` (any non-empty, non-false cell → status);
  a cell of ``NULL_WORDS`` or a zero date (``0000-00-00``) holds nothing: never set nor present.

The status is a string the profile's ``[consent]`` table (the locked ``ConsentPolicy``) maps to
an outcome. When several rules read a row, the most restrictive reading wins, whatever the
order: an opt-out flag in any column is never out-voted by a "subscribed" elsewhere. Restrictive
as the run's policy says: a mapping's ``[consent]`` and the run's ``--consent`` are applied to
the profile before its rows are read (``ReadingProfile.with_consent_overrides``,
``with_run_consent``). The file's name gives the status of a row whose consent cells hold
nothing; an opt-out name a row's cells contradict makes it ``NAME_DISAGREES_STATUS``
(``ReadingProfile.status_expr``).

A user's mapping file (``tasks.transform.mapping_file``) overrides any of it for one run.
"""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING

import polars as pl

from schemas.contact import BOOKKEEPING_COLUMNS, INVISIBLE_CHARACTERS, PROVENANCE, trimmed
from schemas.lineage import SOURCE_STATUS
from tasks.errors import InputError
from tasks.transform.consent import (
    DECLINED_STATUS,
    NAME_DISAGREES_STATUS,
    NEVER_MARKETING_STATUSES,
    OPT_OUT_FLAG_UNCONFIRMED_STATUS,
    SEVERITY,
    UNRECOGNISED_STATUS,
    ConsentPolicy,
    Outcome,
    severity_expr,
)
from tasks.transform.profile import PROFILES_DIR, CustomProperty, SourceProfile, load_profile, property_name, property_slug

if TYPE_CHECKING:
    from tasks.transform.mapping_file import UserMapping

NULL_WORDS = frozenset({"null", "none", "n/a", "na", "-", "blank", "[]", "never"})
"""Cells that hold nothing, as databases and spreadsheets write an empty cell (``NULL``, ``N/A``,
``-``; ``Never`` in an "Unsubscribed At" column): a file's opt-out name reads such a row as it
reads an empty one. ``[]`` is an empty list, as Klaviyo writes "Email Suppressions" for a
profile with none."""

TRUTHY = frozenset(
    {"true", "t", "1", "1.0", "yes", "y", "x", "checked", "on", "oui", "vrai", "ja", "wahr", "si", "sí", "sim"}
)
"""Cells that set a flag, in the languages exports are localised to (compared lowercased);
``t`` and ``1.0`` as databases and spreadsheets write a boolean."""

FALSY = frozenset(
    {
        "false", "f", "0", "0.0", "no", "n", "off", "non", "faux", "falso", "nein", "falsch", "nee", "não", "nao",
        "unchecked",
    }
) | NULL_WORDS  # fmt: skip
"""Cells that say a flag is not set, or hold nothing (``NULL_WORDS``): never "present", never "set"."""

_DATE_CELL = r"^(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4})([ t]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(\s*[ap]m)?\s*(z|[+-]\d{2}:?\d{2})?)?$"
"""A lowercased cell holding a date or a date and time (``2024-03-01``, ``01/03/2024 10:00``,
``3/4/2024 1:05 pm``, as US-locale spreadsheets write a time, ``2024-03-01t10:00:00z``): in an
opt-out flag, when the row opted out."""

_ZERO_DATE_CELL = r"^0{4}-0{1,2}-0{1,2}([ t]0{1,2}:00(:00(\.0+)?)?\s*(z|[+-]\d{2}:?\d{2})?)?$"
"""A lowercased cell holding a zero date (``0000-00-00``, ``0000-00-00 00:00:00``), as MySQL
writes a date never set: it holds nothing, like an empty cell."""

ANY_DATE = "\0date"
"""In a header's known values (``ReadingProfile.status_values``): every date is read too (a
``when_set`` flag's). No cell holds it."""

ANY_VALUE = "\0any"
"""In a header's known values (``ReadingProfile.status_values``): every value is read (a
borrowed ``when_present`` flag's, behind ``FLAG_SETS``). No cell holds it."""

OTHERS_SAY_NOTHING = "\0others"
"""In a header's known values (``ReadingProfile.status_values``): a value not listed says
nothing, rather than being a value no rule reads (``StatusRule.others_say_nothing``: another
source's consent column, read for its opt-outs only). No cell holds it."""

FLAG_SETS = "\0sets:"
"""In a header's known values (``ReadingProfile.status_values``), before a value (or
``ANY_DATE``, ``ANY_VALUE``): the header is a flag read as ``OPT_OUT_FLAG_UNCONFIRMED_STATUS``
(``reading_fallback_opt_outs``), and the value sets it, as the borrowed rule reads it.
:func:`unread_status_values` counts the rows a flag gave that status under it; another rule
reading the header too (a mapping's ``[[status.rules]]``) reads other values, which set no flag.
No cell holds it."""

NAME_NEGATIONS = frozenset({"no", "non", "not", "without", "minus", "anti", "removed", "free"})
"""Words of a file's name that cancel the status word next to them: ``contacts_no_bounces``,
``newsletter_minus_unsubscribes``, ``non-bounced``, ``spam-free``, ``bounces_removed``."""

_NAME_WORD = re.compile(r"[^\W\d_]+")
"""A word of a file's name: a run of letters (digits, ``_``, ``-``, ``.`` and spaces split words)."""

# Removed before a header is compared.
_INVISIBLE_CHARACTERS = dict.fromkeys(map(ord, INVISIBLE_CHARACTERS), None)

_HEADER_SEPARATORS = re.compile(r"[\s_\-.?:()\[\]]+")
"""What separates a header's words: any whitespace (a non-breaking space, as spreadsheets write
one, or several spaces), ``_ - . ? :`` and brackets."""

_FILL_HINT_WORD = r"(?:y|yes|n|no|t|f|true|false|1|0|x|on|off|oui|non|ja|nein|si|sí)"
_ASIDE_SAYING_NOTHING = rf"{_FILL_HINT_WORD}(?:\s*/\s*{_FILL_HINT_WORD})+|e-?mail|\d+"
_HEADER_ASIDE = re.compile(rf"\(\s*(?:{_ASIDE_SAYING_NOTHING})\s*\)|\[\s*(?:{_ASIDE_SAYING_NOTHING})\s*\]", re.IGNORECASE)
"""A bracketed aside in a header that says how the column is filled (``Unsubscribed (Y/N)``),
that its channel is email (``Opt-out (email)``) or which copy of a repeated header it is (``Do
Not Email (2)``), not what it is. Any other aside says what the column is about (``Opt In
(SMS)``, ``Subscribed (pending confirmation)``, ``Unsubscribed (count)``): it stays, so such a
column names no consent column."""

_SALESFORCE_CUSTOM_SUFFIX = re.compile(r"__c$", re.IGNORECASE)
"""How Salesforce ends a custom field's API name (``Email_Opt_Out__c``)."""

_CONSENT_LIKE_WORDS = re.compile(
    r"unsub|opt(ed)? ?out|bounce|suppress|complain|spam|do ?not ?(e ?mail|contact|mail|solicit)"
    r"|don[’']?t ?(e ?mail|contact|send|mail)|do ?not ?send|block ?list|black ?list|gdpr|consent|permission|erasure|double ?opt"
    r"|\bmailable\b|robinson|suscripci"
    r"|(e ?mail|mailing|newsletter|subscri\w*|marketing|list) ?status"
    # A refusal in English: "No Email", "No Marketing", "Stop Emails", "Remove From Mailing
    # List", "Solicit Codes" (not "Solicitor", "No.", "Phone No" nor a bare "Stop").
    r"|\bno ?(e ?mails?|mail\w*(?! ?address)|marketing|newsletters?|promo\w*|contact\w*)\b|solicit(?!or)"
    r"|\bstop ?(e ?mails?|mail\w*|marketing|newsletters?|contact\w*)\b|\bremove\w* ?from\b"
    # German: "Abgemeldet am", "Von allen E-Mails abgemeldet", "Newsletter-Abmeldung", "Keine
    # Werbung", "Einwilligung", "Werbewiderspruch" (not "Anmeldung", a sign-up, nor "Abteilung").
    r"|abgemeldet|abmeld|abbestell|ausgetragen|austragung|\bkeine? ?(e ?mails?|werbung|newsletter|post)\b"
    r"|einwilligung|widerspruch|widerruf|sperrliste|werbesperre|nicht ?kontaktieren"
    # French: "Désinscrit le", "Désabonné de tous les e-mails", "Ne pas contacter".
    r"|d[ée]sinscri|d[ée]sabonn|\bne ?(pas|plus) ?(contacter|envoyer|solliciter|recevoir)\b|\brefus\b|\bopposition\b"
    # Spanish, Portuguese, Italian, Dutch: "Dado de baja", "Fecha de baja", "Desuscrito",
    # "Descadastrado", "Disiscritto", "Afgemeld", "Uitgeschreven", "Consenso", "Toestemming".
    r"|\bbaja\b|desuscri|descadastr|disiscri|afgemeld|afmeld|uitgeschreven|uitschrij|consens|toestemming"
    r"|\bgeen ?(e ?mails?|nieuwsbrief|mailings?|post|reclame)\b|annullat\w* ?iscrizion|\bno ?desea\b"
    r"|\bn(o|ão|ao|on|iet) ?(enviar|contactar|contatar|contattare|inviare|mailen|benaderen)\b"
)
"""Words of a header (``header_words``) that say its column may hold consent: an opt-out, a
bounce, a complaint, a refusal, a permission, a subscription's status, in English and in the
languages exports are localised to (a German HubSpot export's "Von allen E-Mails abgemeldet").
A plain file's column so named that no status rule reads is refused (``unread_consent_like``):
its opt-outs would be imported as text, and its rows marketed on another column's yes."""


@lru_cache(maxsize=4096)
def header_words(header: str) -> str:
    """A header's words, lowercase, one space apart: invisible characters removed, a Salesforce
    custom field's ``__c`` left out, and every run of whitespace and separators (``_ - . ? :``,
    brackets) one space. ``" Email_Opt_Out__c "`` → ``email opt out``; ``Email\u00a0 Opt-Out?`` →
    ``email opt out``."""
    visible = header.translate(_INVISIBLE_CHARACTERS).strip()
    return _HEADER_SEPARATORS.sub(" ", _SALESFORCE_CUSTOM_SUFFIX.sub("", visible).casefold()).strip()


@lru_cache(maxsize=4096)
def consent_header_key(header: str) -> str:
    """What a consent column's header is compared by: its words (``header_words``) without a
    bracketed aside nor spaces, so every spelling of one column is the same key.

    ``unsubscribed_at``, ``Unsubscribed At``, ``UnsubscribedAt`` → ``unsubscribedat``;
    ``Unsubscribed?``, ``Unsubscribed (Y/N)``, ``Unsubscribed\u200b`` → ``unsubscribed``;
    ``Email_Opt_Out__c``, ``Email  Opt Out`` → ``emailoptout``. A header that is all aside
    (``(Unsubscribed)``) keeps its words. Compared once per header of a file, never per row.
    """
    visible = header.translate(_INVISIBLE_CHARACTERS)
    without_aside = _HEADER_ASIDE.sub(" ", visible)
    return header_words(without_aside if without_aside.strip() else visible).replace(" ", "")


def names_column(header: str, column: str) -> bool:
    """Whether a file's header names a status rule's column: the same trimmed, lowercase text,
    or, for a header no bundled profile's rule spells so (``_bundled_column_names``), the same
    ``consent_header_key`` (``unsubscribed_at`` names ``Unsubscribed At``). A header a bundled
    profile spells exactly (Brevo's ``EMAIL_BLACKLISTED``) names only that column, so which
    profile reads it, and so how a file is recognised, stays as that spelling says."""
    text = header.strip().lower()
    if text == column.strip().lower():
        return True
    return text not in _bundled_column_names() and consent_header_key(header) == consent_header_key(column)


@lru_cache(maxsize=256)
def _headers_by_name(headers: tuple[str, ...]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """A file's headers by what names a column (``names_column``), so a rule finds its columns
    once per file, never comparing every header with every column: by trimmed, lowercase text,
    and, but for those a bundled profile spells so, by ``consent_header_key``. Not to be changed
    by the caller (cached)."""
    exact: dict[str, list[str]] = {}
    keyed: dict[str, list[str]] = {}
    for header in headers:
        text = header.strip().lower()
        exact.setdefault(text, []).append(header)
        if text not in _bundled_column_names():
            keyed.setdefault(consent_header_key(header), []).append(header)
    return exact, keyed


@cache
def _bundled_column_names() -> frozenset[str]:
    """Every column a bundled profile's status rule names, trimmed and lowercase."""
    return frozenset(column.strip().lower() for profile in all_profiles() for rule in profile.rules for column in rule.columns)


def looks_like_consent(header: str) -> bool:
    """Whether a header's words (``header_words``) say its column may hold consent
    (``_CONSENT_LIKE_WORDS``): ``Unsubscribe Reason``, ``GDPR Consent``, ``Do-Not-Email``,
    ``emailOptOut``, ``Newsletter Status``; not ``First Name`` nor a bare ``Status``."""
    return _CONSENT_LIKE_WORDS.search(header_words(header)) is not None


ONRAMP_COLUMNS = BOOKKEEPING_COLUMNS | {PROVENANCE}
"""The columns Onramp gives each contact itself: a mapping cannot send a source column to one,
nor to ``email`` (named by the mapping's ``email``) or a name starting with ``_`` (Onramp's
working columns)."""

CANONICAL_TIMESTAMP = "%Y-%m-%d %H:%M:%S"
"""How normalised times are written: what every profile's ``timestamp_format`` reads."""

EXCEL_EPOCH = (1899, 12, 30)
EXCEL_FIRST_SERIAL = 61
"""In Excel's 1900 date system serial 60 is the fictitious 1900-02-29; from 61 on, serial N is
N days after 1899-12-30."""
EXCEL_LAST_SERIAL = 2_958_465
"""9999-12-31, Excel's last date: a bigger number is not a date."""
MICROSECONDS_PER_DAY = 86_400_000_000
EARLIEST_YEAR = 1000
"""A four-digit year format (``%m/%d/%Y``) reads ``2/13/24`` as the year 24: no contact's time is
that old, so a time before this year is read as none (a two-digit year format reads it)."""
TWO_DIGIT_YEARS_FROM = 1930
"""A two-digit year (``%y``: ``2/13/24``, ``3/4/65``) is read in the hundred years from here, as
Excel reads one (``24`` → 2024, ``65`` → 1965; polars alone would read ``65`` as 2065)."""

_FILE_NAME_START = re.compile(r"[/\\!]")
"""What precedes a file's own name in a URI: a folder, or the zip archive holding it."""

FALLBACK_PROFILE = "generic"
"""The profile of a file no other profile's identifying headers match."""

MIN_DETECT_SCORE = 2
"""Identifying headers (its own and shared ones) a file must match for a profile to be chosen,
one of them its own (``ReadingProfile.score``): one column name says too little, and names a
plain list writes too (``Status``, ``Tags``, ``Phone Number``, ``Postal Code``) say nothing of
the vendor however many there are: a contact list's ``Status`` of ``Active`` is a membership's,
which ActiveCampaign's profile would read as a subscription."""

HUBSPOT_DEFAULT_PROPERTIES = frozenset(
    {
        "email", "firstname", "lastname", "salutation", "phone", "mobilephone", "fax", "company",
        "jobtitle", "website", "address", "city", "state", "zip", "country", "industry",
        "lifecyclestage", "annualrevenue", "numemployees", "date_of_birth", "hs_language",
    }
)  # fmt: skip
"""HubSpot contact properties that exist in every portal: a mapping to one of these is a
default route; any other name is a custom property Onramp creates."""


@dataclass(frozen=True)
class StatusRule:
    """One way a source says a row's consent status, read from one or more columns.

    Attributes:
        columns: Headers the rule reads, as a file's headers name them (``names_column``:
            ``unsubscribed_at`` names ``Unsubscribed At``); every one present is read.
        column_prefixes: Starts of headers the rule reads too (case-insensitive, compared with
            the trimmed header, so a trailing space counts): every header starting so is read
            (HubSpot's ``Opted out of email: <subscription>``, one per subscription of the
            portal, named as the portal names them).
        values: Lowercase cell value → status.
        when_true: The status of a row whose cell is one of ``TRUTHY``.
        when_false: The status of a row whose cell says no (one of ``FALSY`` but for
            ``NULL_WORDS``: ``Marketing Consent=no``): an explicit refusal, never the status
            of an empty cell, which a run may map to marketing.
        when_set: The status of a row whose flag is set: its cell is one of ``TRUTHY`` or a date
            (``Unsubscribed: 2024-03-01``), never a zero date. A cell neither set nor one of ``FALSY`` says nothing
            the rule reads (``status_values``): the row is ``unrecognised``, never opted out on
            a guess (HubSpot does not let an API client re-subscribe it).
        when_present: The status of a row whose cell is non-empty, not one of ``FALSY`` and
            no zero date (``0000-00-00 00:00:00``).
        others_say_nothing: Whether a value the rule does not read says nothing of the row's
            consent, rather than being a value no rule reads (``read_as_unconfirmed``).
    """

    columns: tuple[str, ...] = ()
    column_prefixes: tuple[str, ...] = ()
    values: Mapping[str, str] = dataclasses.field(default_factory=dict)
    when_true: str | None = None
    when_false: str | None = None
    when_set: str | None = None
    when_present: str | None = None
    others_say_nothing: bool = False

    @classmethod
    def from_data(cls, data: Mapping) -> StatusRule:
        """Build a rule from a ``[[status.rules]]`` table."""
        return cls(
            columns=tuple(data.get("columns", ())),
            column_prefixes=tuple(data.get("column_prefixes", ())),
            values={str(k).strip().lower(): v for k, v in data.get("values", {}).items()},
            when_true=data.get("when_true"),
            when_false=data.get("when_false"),
            when_set=data.get("when_set"),
            when_present=data.get("when_present"),
        )

    def statuses(self) -> frozenset[str]:
        """Every status this rule can give a row."""
        given = (*self.values.values(), self.when_true, self.when_false, self.when_set, self.when_present)
        return frozenset(status for status in given if status is not None)

    def giving(self, status: str) -> StatusRule:
        """This rule reading the same cells, giving ``status`` wherever it gives a status."""
        return dataclasses.replace(
            self,
            values=dict.fromkeys(self.values, status),
            when_true=self.when_true and status,
            when_false=self.when_false and status,
            when_set=self.when_set and status,
            when_present=self.when_present and status,
        )

    def read_as_unconfirmed(self, consent: ConsentPolicy) -> StatusRule | None:
        """This rule (another source's, ``consent`` its policy) reading its columns in a file of
        a source that does not read them, for their opt-outs only: a value the source reads as
        an opt-out, or as evidence of one (``NEVER_MARKETING_STATUSES``: HubSpot's opt-out of
        one subscription), gives ``OPT_OUT_FLAG_UNCONFIRMED_STATUS``, as a plain opt-out flag
        does (the column may merely share the source's name: a Mailchimp merge field
        ``Email Suppressions``, a Salesforce lead's ``Status``); any other value says nothing
        (``others_say_nothing``), so the row keeps its own source's status. A listed value
        (``values``) without a letter is never read so: a source's numeric code
        (ActiveCampaign's ``2``, unsubscribed) means that only in its own export, and a
        ``Status`` of ``2`` anywhere else is anything. A refusal the source reads
        (``DECLINED_STATUS``: ``Marketing Consent=no``) stays one: a row whose own cell refuses
        marketing is never marketing, whatever its file's status (its policy, naming no such
        status, makes it non-marketing).

        Returns:
            That rule; None when the source reads no opt-out from the column.
        """
        evidence = consent.opt_out_statuses | NEVER_MARKETING_STATUSES

        def given(status: str | None) -> str | None:
            if status == DECLINED_STATUS:
                return status
            return OPT_OUT_FLAG_UNCONFIRMED_STATUS if status in evidence else None

        rule = dataclasses.replace(
            self,
            values={
                value: OPT_OUT_FLAG_UNCONFIRMED_STATUS
                for value, status in self.values.items()
                if given(status) and any(character.isalpha() for character in value)
            },
            when_true=given(self.when_true),
            when_false=given(self.when_false),
            when_set=given(self.when_set),
            when_present=given(self.when_present),
            others_say_nothing=True,
        )
        return rule if rule.statuses() else None

    def headers_read(self, headers: Sequence[str]) -> list[str]:
        """The file's headers (as written in the file) this rule reads, each once: the headers
        naming its columns (``names_column``: ``Email_Opt_Out__c`` names ``Email Opt Out``), in
        the rule's order (several headers naming one column in file order), then every header
        whose trimmed, lowercase form starts with one of its prefixes, in file order.

        Args:
            headers: The file's headers, as written in the file.
        """
        exact, keyed = _headers_by_name(tuple(headers))
        named = [
            header
            for column in self.columns
            for header in sorted(
                {*exact.get(column.strip().lower(), ()), *keyed.get(consent_header_key(column), ())}, key=headers.index
            )
        ]
        # A header is compared trimmed, so a prefix's leading spaces could never match.
        prefixes = tuple(prefix.lstrip().lower() for prefix in self.column_prefixes)
        prefixed = [h for h in headers if prefixes and h.strip().lower().startswith(prefixes)]
        return list(dict.fromkeys(named + prefixed))

    def readings(self, cell: pl.Expr) -> Iterator[tuple[str, pl.Expr]]:
        """Each status this rule can give, with the condition on a cleaned, lowercased cell."""
        by_status: dict[str, list[str]] = {}
        for value, status in self.values.items():
            by_status.setdefault(status, []).append(value)
        for status, values in by_status.items():
            yield status, cell.is_in(values)
        if self.when_true:
            yield self.when_true, cell.is_in(list(TRUTHY))
        if self.when_false:
            yield self.when_false, cell.is_in(list(FALSY - NULL_WORDS))
        if self.when_set:
            yield self.when_set, cell.is_in(list(TRUTHY)) | (cell.str.contains(_DATE_CELL) & ~holds_nothing(cell))
        if self.when_present:
            yield self.when_present, ~holds_nothing(cell) & ~cell.is_in(list(FALSY))


@dataclass(frozen=True)
class ReadingProfile:
    """A source profile with what it takes to recognise and read the source's files.

    Attributes:
        name: The profile file's stem (``constantcontact``), as ``--profile`` names it.
        profile: Where the columns go and what each status means.
        detect_headers: Lowercase headers only the source's exports write: a file is read
            with the profile only when it has one (``detect_profile``).
        email_columns: Email headers in order of preference.
        rules: How a row's status is read.
        default_status: A row's status when no rule reads it and its file name says nothing.
        file_statuses: Lowercase word in a file name → status, longest word first.
        timestamp_formats: strptime formats of the source's times.
        date_order: The order (``DATE_ORDERS``) the source's numeric dates write day and month
            in, when the source (or the user's mapping) says; None when each file's values
            decide it (``time_reading``).
        consent_from: The bundled profile whose consent rules this profile borrowed for some
            of the file's consent columns, if any: the fallback profile another's
            (``detect_profile``), any other the fallback's opt-out flags
            (``reading_fallback_opt_outs``).
        mapping_rules: The rules among ``rules`` a user's mapping added (``with_mapping``): they
            read a column beside the profile's own rules and the plain opt-out flags it borrows,
            never instead of them.
        shared_detect_headers: Lowercase headers the source's exports write that plain lists
            or other sources write too (``Created At``, ``Mobile``): they identify the source
            only beside one of ``detect_headers``, and rank the profiles matching as many of those.
        silent_on_name: Status a file's name gives → the keys (``consent_header_key``: every
            spelling of a header) of the consent headers that say nothing of it (Constant
            Contact's ``Email permission status`` of a row in ``bounced.csv``: a permission, not
            whether mail reached the address), so their less restrictive readings neither
            contradict nor out-vote that name.
    """

    name: str
    profile: SourceProfile
    detect_headers: frozenset[str]
    email_columns: tuple[str, ...]
    rules: tuple[StatusRule, ...]
    default_status: str
    file_statuses: tuple[tuple[str, str], ...]
    timestamp_formats: tuple[str, ...]
    date_order: str | None = None
    consent_from: str | None = None
    mapping_rules: tuple[StatusRule, ...] = ()
    shared_detect_headers: frozenset[str] = frozenset()
    silent_on_name: Mapping[str, frozenset[str]] = dataclasses.field(default_factory=dict)

    @property
    def format(self) -> str:
        """The source format rows read with this profile carry."""
        return self.profile.format

    def own_rules(self) -> tuple[StatusRule, ...]:
        """Its status rules but those a user's mapping added: the profile's own and those it borrowed."""
        return tuple(rule for rule in self.rules if rule not in self.mapping_rules)

    def score(self, headers: Sequence[str]) -> tuple[int, int]:
        """How far a file's headers identify this source: how many are its own
        (``detect_headers``), then how many identify it with the shared ones
        (``shared_detect_headers``) counted too. Compared as a tuple, its own headers rank first:
        a Salesforce report's ``Mailing State/Province`` outweighs the ``Account Name``,
        ``Mobile`` and ``Lead Source`` it shares with Zoho."""
        present = {h.strip().lower() for h in headers}
        own = len(present & self.detect_headers)
        return own, own + len(present & self.shared_detect_headers)

    def email_headers(self, headers: Sequence[str]) -> list[str]:
        """The file's email headers (as written in the file), in order of preference."""
        present = {h.strip().lower(): h for h in headers}
        return [present[c.lower()] for c in self.email_columns if c.lower() in present]

    def name_status(self, file_name: str, sheet: str | None = None) -> str | None:
        """The status the file's name, or its sheet's, gives all its rows; None when neither says one.

        Only the file's own name counts, not the folder or zip archive holding it
        (``active_exports.zip!unsubscribed.xlsx`` is unsubscribed); a workbook's sheet named for
        a status (``contacts.xlsx#Bounced``) counts as a file so named. When the names hold
        several words, the most restrictive status wins (``active_and_unsubscribed.csv``). A
        status word counts only as whole words of the name (``bounces`` is listed beside
        ``bounce``): ``Suppressor_club.csv`` and ``antispam.csv`` say nothing, nor does a word
        next to a negation (``NAME_NEGATIONS``: ``contacts_no_bounces.csv``, ``spam-free.csv``).

        Args:
            file_name: The file's URI, without a workbook's ``#sheet``.
            sheet: The workbook sheet the rows are on, if any.
        """
        names = _name_words(file_name, sheet)
        said = [status for word, status in self.file_statuses for name in names if _name_says(name, _NAME_WORD.findall(word))]
        # max keeps the first of equally restrictive statuses: the longest word's.
        return max(said, key=self.severity, default=None)

    def negated_name_words(self, file_name: str, sheet: str | None = None) -> list[tuple[str, str]]:
        """Each status word of the file's (or its sheet's) name not read because a negation is
        next to it (``Unsubscribed_non-members.csv``), with that negation, in name order.

        Args:
            file_name: The file's URI, without a workbook's ``#sheet``.
            sheet: The workbook sheet the rows are on, if any.
        """
        names = _name_words(file_name, sheet)
        words = {word: _NAME_WORD.findall(word) for word, _ in self.file_statuses}
        return list(
            dict.fromkeys(
                (word, negation)
                for name in names
                for word, phrase in words.items()
                if not _name_says(name, phrase)
                for negation in _negations_beside(name, phrase)
            )
        )

    def file_status(self, file_name: str, sheet: str | None = None) -> str:
        """The status the file's name (or its sheet's) gives all its rows, or the profile's default.

        Args:
            file_name: The file's URI, without a workbook's ``#sheet``.
            sheet: The workbook sheet the rows are on, if any.
        """
        return self.name_status(file_name, sheet) or self.default_status

    def severity(self, status: str) -> int:
        """How restrictive a status's outcome is under this profile's consent policy (a run's
        ``--consent`` included once applied: ``with_run_consent``)."""
        return SEVERITY[self.profile.consent.outcome_of(status)]

    def timestamp_columns(self) -> frozenset[str]:
        """Lowercase headers holding times: the change-time columns and date or datetime properties."""
        customs = {key for key, prop in self.profile.custom_properties.items() if prop.type in ("datetime", "date")}
        return frozenset({c.lower() for c in self.profile.last_changed_columns} | customs)

    def status_expr(self, headers: Sequence[str], name_status: str | None = None) -> pl.Expr:
        """Each row's status: the most restrictive reading of any rule, else the status the file's
        name gives, else the profile's default.

        Readings are ranked by this profile's consent policy, so a profile read for a run
        carries the run's ``--consent`` (``with_run_consent``): of ``Active`` and
        ``Implied permission``, both marketing by default, ``implicit=non_marketing`` makes the
        second win. Of equally restrictive readings, the first rule's, then the first column's,
        wins. An opt-out flag in any column is never out-voted by a "subscribed" in another. A row
        whose consent cells all hold nothing (empty, ``NULL``, a zero date) takes its file's
        name's status (``unsubscribes.csv`` of bare addresses). In a file whose name opts out,
        a row with any other consent cell that reads no opt-out (``bounces.csv`` whose row's
        Email Status is ``Active``, ``unsubscribes.csv`` whose Unsubscribed is ``FALSE``, a
        ``Status`` of ``Lapsed`` no rule reads) gives ``NAME_DISAGREES_STATUS``: a name is weak
        evidence (``Bounce_Trampoline_Parks.csv``), and the row's own cells contradict it. A
        column that says nothing of what the name says (``silent_on_name``: Constant Contact's
        ``Email permission status`` in ``removed.xlsx``) never makes a row less restrictive
        than the name.

        Args:
            headers: The file's headers, as written in the file.
            name_status: The status the file's (or its sheet's) name gives all its rows
                (``name_status``); None when the name says nothing.
        """
        return pl.coalesce(self.reading_expr(headers, name_status), pl.lit(name_status or self.default_status, dtype=pl.String))

    def floored_status_expr(self, headers: Sequence[str], floor: str) -> pl.Expr:
        """Each row's status in a file whose every row has a status no column may make less
        restrictive (a Mailchimp export's, from its name: Mailchimp's own record of each member,
        not a guess from a name as ``status_expr`` weighs it): the most restrictive of ``floor``
        and the rules' readings. Of equally restrictive ones a rule's wins, so the rows a plain
        opt-out flag is set in are counted under it and a run confirming it opts them out.

        Args:
            headers: The file's headers, as written in the file.
            floor: The status of every row of the file.
        """
        readings = [*self._readings(headers), (self.severity(floor), pl.lit(floor, dtype=pl.String))]
        return _most_restrictive(readings)

    def reading_expr(self, headers: Sequence[str], name_status: str | None = None) -> pl.Expr:
        """Each row's status as its consent cells give it (``status_expr``); null where they give
        none: no rule reads any of them and none holds a value no rule reads (or, in a file
        whose name opts out, they all hold nothing), so the row takes its file's name's status
        or the profile's default.

        Args:
            headers: The file's headers, as written in the file.
            name_status: The status the file's (or its sheet's) name gives all its rows
                (``name_status``); None when the name says nothing.
        """
        return _most_restrictive(self._readings(headers, name_status))

    def _readings(self, headers: Sequence[str], name_status: str | None = None) -> list[tuple[int, pl.Expr]]:
        """Each reading of a row's consent cells (``reading_expr``): its severity, and its status
        where it reads one (else null), in reading order."""
        name_is_opt_out = name_status is not None and name_status in self.profile.consent.opt_out_statuses
        silent = self.silent_on_name.get(name_status, frozenset()) if name_status is not None else frozenset()
        silent_headers = {header for header in headers if consent_header_key(header) in silent}
        readings: list[tuple[int, pl.Expr]] = []
        for rule in self.rules:
            for header in rule.headers_read(headers):
                for status, condition in rule.readings(_consent_cell(header)):
                    if name_status is not None and self.severity(status) < self.severity(name_status):
                        if header in silent_headers:
                            continue
                        if name_is_opt_out:
                            status = NAME_DISAGREES_STATUS
                    readings.append((self.severity(status), pl.when(condition).then(pl.lit(status))))
        if name_is_opt_out:
            # The name reads only a row whose consent cells hold nothing: a flag not set
            # (``Unsubscribed=FALSE``) or a value no rule reads (``Status=Lapsed``) contradicts it;
            # a column that says nothing of what the name says does not.
            said = [
                ~holds_nothing(_consent_cell(header))
                for header in consent_headers(self, headers)
                if header not in silent_headers
            ]
            if said:
                condition = pl.any_horizontal(said).fill_null(False)
                readings.append((self.severity(NAME_DISAGREES_STATUS), pl.when(condition).then(pl.lit(NAME_DISAGREES_STATUS))))
        elif unrecognised := [_unrecognised(header, known) for header, known in self.status_values(headers).items()]:
            # A value no rule reads might be an opt-out a rule does not know (``opted out`` in an
            # opt-out flag, a typo): such a row is never marketing, whatever another column says.
            condition = pl.any_horizontal(unrecognised).fill_null(False)
            readings.append((self.severity(UNRECOGNISED_STATUS), pl.when(condition).then(pl.lit(UNRECOGNISED_STATUS))))
        return readings

    def copy_rank(self, header: str) -> pl.Expr:
        """How strongly a cell of a consent header speaks for its row: of a repeated header's
        copies (each read in its turn under the header's name), the row keeps the highest.

        First the outcome's severity of the cell's reading, a cell no rule reads counting as
        the default status (``no`` beside ``yes`` in an opt-in flag: not subscribed). Of equally
        severe cells, one a rule reads or one holding a value no rule reads (``maybe`` in an
        opt-out flag: never marketing, whatever another column says) ranks above one holding
        a value that says nothing (a flag not set: ``false``). A cell holding nothing (empty,
        ``N/A``, ``NULL``, a zero date) ranks below every cell that says something, in every
        kind of column, whatever the default status's severity: the file's opt-out name reads
        the row only when all its cells hold nothing, so ``yes,N/A`` and ``N/A,yes`` must keep
        the same copy. So the copy kept does not depend on the copies' order, but for copies
        ranking alike (two statuses of one outcome that a rule reads): the first of them is kept.

        Args:
            header: The consent header (as written in the file), its column holding one copy.
        """
        reading = self.reading_expr([header])
        status = pl.coalesce(reading, pl.lit(self.default_status, dtype=pl.String))
        severity = severity_expr(self.profile.consent.status_outcome_expr(status)).cast(pl.Int32)
        said = pl.when(reading.is_not_null()).then(2).otherwise(1)
        return pl.when(holds_nothing(_consent_cell(header))).then(0).otherwise(severity * 3 + said)

    def status_values(self, headers: Sequence[str]) -> dict[str, frozenset[str]]:
        """The file's consent headers whose values the rules read one by one, each with the
        (cleaned, lowercase) values some rule reads.

        A value outside that set (Constant Contact's ``Deleted``, a ``maybe`` opt-out flag) says
        nothing of the row's consent: :func:`unread_status_values` counts such cells so the
        report can name them. A header some rule reads as ``when_present`` is left out: there,
        every value says something; but for a flag borrowed from the fallback profile
        (``reading_fallback_opt_outs``), whose known values hold the values setting it
        (``FLAG_SETS``: ``ANY_VALUE`` for ``when_present``), so the rows it gives
        ``OPT_OUT_FLAG_UNCONFIRMED_STATUS`` are counted under it.

        Args:
            headers: The file's headers, as written in the file.
        """
        known: dict[str, set[str]] = {}
        open_ended: set[str] = set()
        closed: set[str] = set()
        for rule in self.rules:
            borrowed = rule.statuses() == {OPT_OUT_FLAG_UNCONFIRMED_STATUS}
            for header in rule.headers_read(headers):
                values = known.setdefault(header, set())
                if borrowed:
                    values.update(FLAG_SETS + value for value in _values_setting(rule))
                if rule.when_present:
                    if borrowed:
                        values.add(ANY_VALUE)
                    else:
                        open_ended.add(header)
                values.update(rule.values)
                if not rule.others_say_nothing:
                    closed.add(header)
                if rule.when_true or rule.when_false or rule.when_set:
                    values.update(TRUTHY | FALSY)
                if rule.when_set:
                    values.add(ANY_DATE)
        # A header only rules reading another source's opt-outs read: its other values say nothing.
        return {
            header: frozenset(values if header in closed else values | {OTHERS_SAY_NOTHING})
            for header, values in known.items()
            if header not in open_ended
        }

    def with_consent_overrides(self, overrides: Mapping[str, str]) -> ReadingProfile:
        """This profile with status → outcome overrides applied to its consent policy.

        The policy ranks a row's readings (``severity``) as well as giving its outcome, so a
        mapping's ``[consent]`` and a run's ``--consent`` (``with_run_consent``) are applied
        before any status expression is built: of two readings of one row equally restrictive
        by default (Constant Contact's ``Active`` and ``Implied permission``), the one an
        override makes more restrictive must win.

        Args:
            overrides: Status → outcome, as a mapping's ``[consent]`` or a run's ``--consent``.

        Raises:
            InputError: An override re-maps an opt-out status, makes a
                ``NEVER_MARKETING_STATUSES`` status marketing, or names an unknown outcome.
        """
        if not overrides:
            return self
        profile = dataclasses.replace(self.profile, consent=self.profile.consent.with_overrides(overrides))
        return dataclasses.replace(self, profile=profile)

    def with_run_consent(self, overrides: Mapping[str, str]) -> ReadingProfile:
        """This profile with those of a run's ``--consent`` overrides that name one of its
        statuses applied (``with_consent_overrides``), before its rows are read.

        The others change no row of this profile: they are another format's of the run (a
        Mailchimp export's ``nonsubscribed`` beside a Constant Contact file), or a typo, which
        the run refuses once every file's profile is known (``tasks.plan.check_override_statuses``
        compares the overrides with the profiles' statuses, so none may be added here).

        Args:
            overrides: The run's status → outcome overrides.

        Raises:
            InputError: As ``with_consent_overrides``, for an override naming one of its statuses.
        """
        known = self.profile.consent.outcomes
        return self.with_consent_overrides({status: outcome for status, outcome in overrides.items() if status.lower() in known})

    def with_mapping(self, mapping: UserMapping) -> ReadingProfile:
        """This profile with a user's mapping applied.

        Raises:
            InputError: The mapping re-maps an opt-out status or names an unknown outcome.
        """
        defaults = dict(self.profile.default_properties)
        customs = dict(self.profile.custom_properties)
        for column, target in mapping.columns.items():
            key = column.strip().lower()
            defaults.pop(key, None)
            customs.pop(key, None)
            if target in HUBSPOT_DEFAULT_PROPERTIES:
                defaults[key] = target
            else:
                customs[key] = CustomProperty(
                    name=target,
                    label=column.strip(),
                    group=self.profile.group_name,
                    source_label=self.profile.label,
                    source_column=column.strip(),
                )
        profile = dataclasses.replace(self.profile, default_properties=defaults, custom_properties=customs)
        email_columns = (mapping.email, *self.email_columns) if mapping.email else self.email_columns
        mapped = dataclasses.replace(
            self,
            profile=profile,
            email_columns=email_columns,
            rules=self.rules + mapping.rules,
            mapping_rules=self.mapping_rules + mapping.rules,
            date_order=mapping.date_order or self.date_order,
        )
        return mapped.with_consent_overrides(mapping.consent)


_CAMEL_CASE_JOIN = re.compile(r"(?<=[a-z])(?=[A-Z])")
"""Where a small letter meets a capital in a name (``DoNotContact``, ``HardBounces``): a word ends."""


def _name_words(file_name: str, sheet: str | None) -> tuple[list[str], list[str]]:
    """The lowercase words of a file's own name (not its folder's or zip's) and of its sheet's,
    a capital after a small letter starting a word (``DoNotContact.csv``)."""
    own_name = _FILE_NAME_START.split(file_name)[-1]
    return _words_of(own_name), _words_of(sheet or "")


def _words_of(name: str) -> list[str]:
    return _NAME_WORD.findall(_CAMEL_CASE_JOIN.sub(" ", name).lower())


def name_word(file_name: str, words: Sequence[str]) -> str | None:
    """The first of ``words`` (each one or more words: ``do not contact``) a file's own name holds
    as whole words, with no negation beside it (as :meth:`ReadingProfile.name_status` reads a
    name), else None."""
    name, _ = _name_words(file_name, None)
    return next((word for word in words if _name_says(name, _NAME_WORD.findall(word.lower()))), None)


def _name_says(name: Sequence[str], phrase: Sequence[str]) -> bool:
    """Whether a name's words hold a status word's words, with no negation right before or after."""
    return any(not negations for negations in _phrase_negations(name, phrase))


def _negations_beside(name: Sequence[str], phrase: Sequence[str]) -> list[str]:
    """The negations right before or after each place a name's words hold a status word's words."""
    return sorted({negation for negations in _phrase_negations(name, phrase) for negation in negations})


def _phrase_negations(name: Sequence[str], phrase: Sequence[str]) -> Iterator[frozenset[str]]:
    """For each place a name's words hold a status word's words, the negations next to it."""
    width = len(phrase)
    for start in range(len(name) - width + 1):
        if list(name[start : start + width]) == list(phrase):
            yield NAME_NEGATIONS & frozenset({*name[max(start - 1, 0) : start], *name[start + width : start + width + 1]})


def holds_nothing(cell: pl.Expr) -> pl.Expr:
    """True where a cleaned, lowercased cell (a consent cell, a change time) is empty, one of
    ``NULL_WORDS`` or a zero date: it says nothing."""
    return cell.is_null() | (cell == "") | cell.is_in(list(NULL_WORDS)) | cell.str.contains(_ZERO_DATE_CELL)


def _most_restrictive(readings: list[tuple[int, pl.Expr]]) -> pl.Expr:
    """The status of the most severe of a row's ``readings`` (severity, status or null) that reads
    one; null when none does."""
    # A stable sort keeps reading order within one severity: borrowed opt-out flags, the
    # profile's rules, then the user's.
    ordered = [expr for _, expr in sorted(readings, key=lambda reading: -reading[0])]
    return pl.coalesce(*ordered) if ordered else pl.lit(None, dtype=pl.String)


def _consent_cell(header: str) -> pl.Expr:
    """A consent cell as the rules compare it: trimmed (of spaces and invisible characters:
    ``\u200eYes``) and lowercased."""
    return trimmed(pl.col(header)).str.to_lowercase()


def _unrecognised(header: str, known: frozenset[str]) -> pl.Expr:
    """True where the consent cell says something (``holds_nothing``: ``N/A`` says nothing, so
    it is never a value no rule reads) and is not one of ``known`` nor, when ``known`` holds
    ``ANY_DATE``, a date; never when ``known`` holds ``ANY_VALUE``."""
    if ANY_VALUE in known or OTHERS_SAY_NOTHING in known:
        return pl.lit(False)
    cell = _consent_cell(header)
    unknown = ~holds_nothing(cell) & ~cell.is_in(_cell_values(known))
    return unknown & ~cell.str.contains(_DATE_CELL) if ANY_DATE in known else unknown


def _flag_values(known: frozenset[str]) -> set[str]:
    """The values setting a borrowed flag, among a header's known values (``FLAG_SETS``); empty
    for a header that is no borrowed flag."""
    return {value.removeprefix(FLAG_SETS) for value in known if value.startswith(FLAG_SETS)}


def _flag_set(sets: set[str], header: str) -> pl.Expr:
    """True where a borrowed flag's cleaned cell is set: it says something, not a value saying
    the flag is not set (``FALSY``), and one of ``sets`` (:func:`_flag_values`)."""
    cell = _consent_cell(header)
    said = ~holds_nothing(cell) & ~cell.is_in(list(FALSY))
    if ANY_VALUE in sets:
        return said
    listed = cell.is_in(_cell_values(sets))
    return said & (listed | cell.str.contains(_DATE_CELL)) if ANY_DATE in sets else said & listed


def _values_setting(rule: StatusRule) -> set[str]:
    """The values a borrowed flag's rule reads as set, as ``FLAG_SETS`` lists them."""
    values = set(rule.values)
    if rule.when_true or rule.when_set:
        values |= TRUTHY
    if rule.when_set:
        values.add(ANY_DATE)
    if rule.when_present:
        values.add(ANY_VALUE)
    return values


def _cell_values(known: Iterable[str]) -> list[str]:
    """The values among ``known`` a cell can hold: every marker starts with NUL, which no cell does."""
    return [value for value in known if not value.startswith("\0")]


def _first_of(conditions: Mapping[str, pl.Expr]) -> dict[str, pl.Expr]:
    """Each header's condition, true only in the rows where no header before it holds true."""
    headers = list(conditions)
    return {
        h: conditions[h] & ~pl.any_horizontal(pl.lit(False), *(conditions[e] for e in headers[:i]))
        for i, h in enumerate(headers)
    }


UNREAD_STATUS_COLUMNS = ("column", "value", "status", "rows")
"""The columns of :func:`unread_status_values`' table."""

NAME_ONLY_COLUMN = ""
"""The ``column`` under which :func:`unread_status_values` counts the rows opted out by their
file's name alone (every consent cell holding nothing), with an empty ``value``."""


def unread_status_values(
    frame: pl.LazyFrame, status_values: Mapping[str, frozenset[str]], name_opts_out: bool
) -> pl.LazyFrame | None:
    """How many rows hold each consent value no rule reads, and the status those rows got; and
    how many rows a file's opt-out name disagrees with, by the value their column read, or
    alone opts out.

    A row whose status is ``NAME_DISAGREES_STATUS`` is counted once, under the first of these
    consent columns whose cell holds something, by that value, read or not; one whose status is
    ``OPT_OUT_FLAG_UNCONFIRMED_STATUS``, under the first borrowed flag (``FLAG_SETS``) set in
    it, by that flag's value. A row with an
    opt-out status whose cells all hold nothing (its file's name opted it out) is counted under
    ``NAME_ONLY_COLUMN``, when ``name_opts_out``.

    Args:
        frame: A file's rows, with their ``SOURCE_STATUS`` (see ``ReadingProfile.status_expr``).
        status_values: Consent header → the values its rules read (``ReadingProfile.status_values``).
        name_opts_out: Whether the file's name gives its rows an opt-out (:func:`name_opt_out_of`)
            where their status is per row: otherwise an opted-out row with empty consent cells
            has its status from elsewhere (a provider API, a Mailchimp export file's status).

    Returns:
        A lazy table of ``UNREAD_STATUS_COLUMNS`` (the value cleaned and lowercased, as the rules
        compare it), or None for a file with no such header.
    """
    if not status_values:
        return None
    headers = list(status_values)
    disagrees = pl.col(SOURCE_STATUS) == NAME_DISAGREES_STATUS
    unconfirmed = pl.col(SOURCE_STATUS) == OPT_OUT_FLAG_UNCONFIRMED_STATUS
    said = {h: (~holds_nothing(_consent_cell(h))).fill_null(False) for h in headers}
    first_said = _first_of(said)
    flags = {h: _flag_set(sets, h).fill_null(False) for h, known in status_values.items() if (sets := _flag_values(known))}
    first_set = _first_of(flags)
    opt_outs = sorted({status for profile in all_profiles() for status in profile.profile.consent.opt_out_statuses})
    # No rule reads an opt-out from cells that hold nothing: such a row's opt-out is its file's name's.
    name_only = pl.lit(name_opts_out) & pl.col(SOURCE_STATUS).is_in(opt_outs) & ~pl.any_horizontal(pl.lit(False), *said.values())
    return (
        # The file's status keeps its lineage name until the headers are unpivoted into values:
        # a header may be called ``status``.
        frame.select(
            pl.col(SOURCE_STATUS),
            *(
                pl.when(
                    pl.when(disagrees)
                    .then(first_said[h])
                    .when(unconfirmed)
                    .then(first_set.get(h, pl.lit(False)))
                    .otherwise(_unrecognised(h, known))
                )
                .then(_consent_cell(h))
                .alias(h)
                for h, known in status_values.items()
            ),
            pl.when(name_only).then(pl.lit("")).alias(NAME_ONLY_COLUMN),
        )
        .unpivot(on=[*headers, NAME_ONLY_COLUMN], index=SOURCE_STATUS, variable_name="column", value_name="value")
        .rename({SOURCE_STATUS: "status"})
        .drop_nulls("value")
        .group_by(*UNREAD_STATUS_COLUMNS[:3])
        .agg(pl.len().cast(pl.Int64).alias("rows"))
        .select(UNREAD_STATUS_COLUMNS)
    )


def name_opt_out_of(format: str, file_name: str, sheet: str | None = None) -> str | None:
    """The status the name of a file read as ``format`` gives its rows
    (``ReadingProfile.name_status``), when that status is one of the profile's opt-outs.

    Args:
        format: The source format the file was read as (a borrowing fallback's
            ``generic-csv+<profile>`` is the fallback's).
        file_name: The file's URI, without a workbook's ``#sheet``.
        sheet: The workbook sheet the rows are on, if any.

    Returns:
        The opt-out status; None when the name gives none, or a status that is no opt-out, or
        no bundled profile reads ``format``.
    """
    profile = _profile_of_format(format)
    return name_opt_out(profile, file_name, sheet=sheet) if profile else None


def _profile_of_format(format: str) -> ReadingProfile | None:
    """The bundled profile whose files are read as ``format``; None for a mapping's own."""
    base = format.partition("+")[0]
    return next((p for p in all_profiles() if p.format == base), None)


def negated_name_words_of(format: str, file_name: str, sheet: str | None = None) -> list[tuple[str, str]]:
    """The status words of the name of a file read as ``format`` that a negation cancels
    (``ReadingProfile.negated_name_words``); empty for a format no bundled profile reads.

    Args:
        format: The source format the file was read as.
        file_name: The file's URI, without a workbook's ``#sheet``.
        sheet: The workbook sheet the rows are on, if any.
    """
    profile = _profile_of_format(format)
    return profile.negated_name_words(file_name, sheet) if profile else []


@cache
def reading_profile(name: str) -> ReadingProfile:
    """Read ``profiles/<name>.toml`` with its detection and status tables.

    Raises:
        InputError: No such profile.
    """
    path = PROFILES_DIR / f"{name}.toml"
    if not path.is_file():
        raise InputError("--profile", f"no profile {name!r} (profiles: {', '.join(profile_names())})")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    detect = data.get("detect", {})
    status = data.get("status", {})
    words = status.get("file_names", {})
    return ReadingProfile(
        name=name,
        profile=load_profile(name),
        detect_headers=frozenset(h.lower() for h in detect.get("headers", ())),
        shared_detect_headers=frozenset(h.lower() for h in detect.get("shared_headers", ())),
        email_columns=tuple(detect.get("email_columns", ())),
        rules=tuple(StatusRule.from_data(rule) for rule in status.get("rules", ())),
        default_status=status.get("default", ""),
        file_statuses=tuple(sorted(((w.lower(), s) for w, s in words.items()), key=lambda p: -len(p[0]))),
        timestamp_formats=tuple(data.get("timestamp_formats", ())),
        date_order=data.get("date_order"),
        silent_on_name={
            name_status: frozenset(map(consent_header_key, columns)) for name_status, columns in status.get("silent_on_name", {}).items()
        },
    )


def profile_names() -> list[str]:
    """Every profile shipped with Onramp, by name."""
    return sorted(path.stem for path in PROFILES_DIR.glob("*.toml"))


def all_profiles() -> list[ReadingProfile]:
    """Every profile, by name."""
    return [reading_profile(name) for name in profile_names()]


def detect_profile(headers: Sequence[str], fallback: str = FALLBACK_PROFILE) -> ReadingProfile:
    """The profile whose own identifying headers a file matches most, then its identifying
    headers shared ones included (``ReadingProfile.score``), by name on a tie.

    Returns:
        That profile when it matches one of its own headers and at least ``MIN_DETECT_SCORE``
        identifying headers: a plain list's ``Status`` and ``Tags``, or ``Phone Number`` and
        ``Postal Code``, are no vendor's evidence. Else ``fallback``,
        whose consent rules read the usual opt-out and consent columns of any CRM. When the file
        has a consent column it does not read and a bundled profile does (Brevo's
        ``EMAIL_BLACKLISTED`` beside ``Email`` and ``First Name``), and exactly one profile
        reads every consent column of the file, ``fallback`` borrows that profile's reading of
        those columns (``borrowing_consent``); when none or several do,
        ``unread_known_consent`` says what the fallback would leave unread.
    """
    best = max(all_profiles(), key=lambda p: (p.score(headers), -profile_names().index(p.name)))
    own, identifying = best.score(headers)
    if own and identifying >= MIN_DETECT_SCORE:
        return best
    default = reading_profile(fallback)
    unread = _unread_bundled_consent(default, headers)
    if unread is None:
        return default
    readers = consent_readers(headers)
    every_column = {column for columns in readers.values() for column in columns}
    whole = [name for name, columns in readers.items() if set(columns) == every_column]
    return borrowing_consent(default, reading_profile(whole[0]), unread.columns, headers) if len(whole) == 1 else default


def borrowing_consent(
    base: ReadingProfile,
    lender: ReadingProfile,
    columns: Sequence[str],
    headers: Sequence[str],
    default_status: str | None = None,
    read_first: bool = False,
) -> ReadingProfile:
    """``base`` reading ``columns`` with ``lender``'s status rules, its routing left as it is.

    A plain CRM file with one other source's consent column (``List Status``) keeps the
    fallback profile's properties (``First Name`` → ``firstname``, others ``imported_…``, as
    every run before it wrote them), and only the column's consent is read as the source reads it.

    Args:
        base: The profile routing the file's columns (the fallback).
        lender: The bundled profile that reads ``columns``.
        columns: The file's consent headers ``base`` does not read, as written in the file.
        headers: The file's headers, as written in the file.
        default_status: The status of a row nothing reads; None for ``lender``'s.
        read_first: Whether ``lender``'s rules come before ``base``'s, so that of equally
            restrictive readings of a row theirs wins; else ``base``'s come first.

    Returns:
        ``base`` with ``lender``'s rules for ``columns`` only (``base`` still reads its own,
        as it would a bare ``Status``), ``lender``'s statuses in its consent table and, unless
        ``default_status`` is given, its default status (a Brevo row not blacklisted is
        ``not_blacklisted``, as ``--consent`` names it for Brevo's files); its format names
        both (``generic-csv+activecampaign``), so the run keeps its consent table apart from a
        plain file's.
    """
    borrowed = tuple(
        dataclasses.replace(rule, columns=tuple(read), column_prefixes=())
        for rule in lender.rules
        if (read := [header for header in rule.headers_read(headers) if header in columns])
    )
    format = f"{base.format}+{lender.name}"
    ours, theirs = base.profile.consent.outcomes, lender.profile.consent.outcomes
    # A status both tables name keeps the more restrictive outcome: an opt-out stays one.
    outcomes = {
        status: max((o for o in (ours.get(status), theirs.get(status)) if o is not None), key=SEVERITY.__getitem__)
        for status in {**ours, **theirs}
    }
    consent = ConsentPolicy.from_mapping(format, {status: outcome.value for status, outcome in outcomes.items()})
    profile = dataclasses.replace(base.profile, format=format, consent=consent)
    return dataclasses.replace(
        base,
        profile=profile,
        rules=borrowed + base.rules if read_first else base.rules + borrowed,
        default_status=lender.default_status if default_status is None else default_status,
        consent_from=lender.name,
        # The columns borrowed say as little of a name's status as in the lender's own files.
        silent_on_name={
            status: base.silent_on_name.get(status, frozenset()) | lender.silent_on_name.get(status, frozenset())
            for status in {*base.silent_on_name, *lender.silent_on_name}
        },
    )


def reading_fallback_opt_outs(profile: ReadingProfile, headers: Sequence[str], other_sources: bool = False) -> ReadingProfile:
    """``profile`` also reading the file's opt-out and bounce flags the fallback profile knows
    (``Unsubscribed``, ``Do Not Email``, ``Bounced``, ``Unsubscribed At``, …) and ``profile``
    does not read as consent itself.

    A profile is chosen by a few identifying headers (``Email Address`` and ``Email Status`` make
    a file Constant Contact's), or named for the file; an opt-out flag beside its own columns
    must not be lost (``Unsubscribed=yes`` read as Constant Contact was planned marketing). But
    a column of a source's own export may merely share a flag's name (a HubSpot export's custom
    ``Bounced``, a count; Salesforce's postal ``Do Not Mail``), and an opt-out HubSpot is told
    cannot be undone by an API client: so a flag set there gives
    ``OPT_OUT_FLAG_UNCONFIRMED_STATUS`` (non-marketing unless the run maps it to opted out,
    never marketing; the report counts its rows by flag), and a value no rule reads gives
    ``unrecognised``. Only the fallback's rules that give nothing but opt-outs are borrowed
    (not its ``Status`` or ``Subscribed``), read before the profile's own: of a row's equally
    restrictive readings (``non_marketing_contact``) the flag's wins, so the report counts every
    row the flag is set in and a run's ``opt_out_flag_unconfirmed=opted_out`` opts out all of them.

    A mapping's ``[[status.rules]]`` reading such a flag (``column_prefixes = ["Email Opt"]``
    catching a merge field ``Email Opt Out``) read it beside the borrowed rule, not instead: the
    most restrictive reading wins, so a rule can make a flagged row opted out, never marketing.

    Args:
        profile: The profile the file is read with, with the user's mapping applied.
        headers: The file's headers, as written in the file.
        other_sources: Whether the consent columns other bundled profiles read and
            ``profile`` does not are borrowed too, for their opt-outs only, each as an
            unconfirmed opt-out flag (``_other_sources_rules``): how a file is read. The
            refusals weigh a named profile's own reading, without them (``unread_consent``): a
            column read only for its opt-outs is no reason to let a profile that does not read
            it be forced on a file another profile reads whole.

    Returns:
        ``profile`` itself when the file has no such flag (the fallback profile reads them all)
        nor, with ``other_sources``, such a column; else ``profile`` borrowing the fallback's
        rules for those flags, and the other sources' for those columns (``borrowing_consent``),
        each giving ``OPT_OUT_FLAG_UNCONFIRMED_STATUS``: its routing, its own rules and its
        default status unchanged, its format naming both (``constantcontact-export+generic``),
        so the run keeps its consent table apart from that of the profile's files without such
        a flag.
    """
    fallback = reading_profile(FALLBACK_PROFILE)
    opt_outs = fallback.profile.consent.opt_out_statuses
    rules = tuple(rule.giving(OPT_OUT_FLAG_UNCONFIRMED_STATUS) for rule in fallback.rules if rule.statuses() <= opt_outs)
    if other_sources:
        rules += _other_sources_rules(profile, headers, rules)
    consent = ConsentPolicy.from_mapping(fallback.format, {OPT_OUT_FLAG_UNCONFIRMED_STATUS: Outcome.NON_MARKETING.value})
    lender = dataclasses.replace(fallback, rules=rules, profile=dataclasses.replace(fallback.profile, consent=consent))
    read = {header for rule in profile.own_rules() for header in rule.headers_read(headers)}
    flags = [header for header in consent_headers(lender, headers) if header not in read]
    if not flags:
        return profile
    return borrowing_consent(profile, lender, flags, headers, default_status=profile.default_status, read_first=True)


def _other_sources_rules(profile: ReadingProfile, headers: Sequence[str], flags: Sequence[StatusRule]) -> tuple[StatusRule, ...]:
    """The rules reading, for their opt-outs only (``StatusRule.read_as_unconfirmed``), the
    file's consent columns that another bundled profile than ``profile`` reads: another
    platform's (a Mailchimp merge field ``Email Suppressions``, Klaviyo's; a HubSpot export's
    ``EMAIL_BLACKLISTED``, Brevo's), or the plain file's under a common word (``Status``,
    ``Subscribed``), which any source may use for something else (a Salesforce lead's
    ``Status=Open``): only an opt-out word there (``Unsubscribed``) is read. A column every
    profile reading it reads so: each rule gives the same status. The columns ``profile``'s own
    rules read are left out where they are borrowed (``reading_fallback_opt_outs``).

    Args:
        profile: The profile the file is read with.
        headers: The file's headers, as written in the file.
        flags: The plain opt-out flags borrowed already, whose columns they read alone.
    """
    flagged = {header for rule in flags for header in rule.headers_read(headers)}
    rules = []
    for source in all_profiles():
        if source.name == profile.name:
            continue
        for rule in source.rules:
            read = [header for header in rule.headers_read(headers) if header not in flagged]
            if read and (unconfirmed := rule.read_as_unconfirmed(source.profile.consent)) is not None:
                rules.append(dataclasses.replace(unconfirmed, columns=tuple(read), column_prefixes=()))
    return tuple(rules)


def reading_opt_out_flags(profile: ReadingProfile, headers: Sequence[str], consent_overrides: Mapping[str, str]) -> ReadingProfile:
    """``profile`` also reading the plain opt-out flags among a file's columns, and the opt-outs
    of other profiles' consent columns it does not read, as a file whose name opts out nothing is read
    (:func:`reading_fallback_opt_outs`: set, a flag gives ``opt_out_flag_unconfirmed``), with
    the run's ``--consent`` applied again: the status it borrowed is its own only now
    (``opt_out_flag_unconfirmed=opted_out``), and it ranks a row's readings too.

    Args:
        profile: The profile, the user's mapping and the run's ``--consent`` applied.
        headers: The file's columns.
        consent_overrides: The run's ``--consent``.
    """
    return reading_fallback_opt_outs(profile, headers, other_sources=True).with_run_consent(consent_overrides)


def consent_headers(profile: ReadingProfile, headers: Sequence[str]) -> tuple[str, ...]:
    """The file's headers (as written in the file) the profile's status rules read, in rule order."""
    return tuple(dict.fromkeys(header for rule in profile.rules for header in rule.headers_read(headers)))


def consent_readers(headers: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Each bundled profile that reads consent from some of the file's headers, with those headers."""
    readers = {profile.name: consent_headers(profile, headers) for profile in all_profiles()}
    return {name: columns for name, columns in readers.items() if columns}


@dataclass(frozen=True)
class UnreadConsent:
    """Consent a file carries that the profile it would be read with does not read, and who reads it.

    Attributes:
        named: The profile named for the file (``--profile``, a mapping's ``profile``), or the
            fallback profile it would be read with.
        reader: A bundled profile that reads all of it (every consent column of the file, and
            the opt-out in its name if one gives one), when one does; else None.
        columns: The file's headers (as written) whose consent would go unread.
        name_status: The status the file's name gives, when it would go unread too: an opt-out,
            or a status every row keeps that is no consent either (a Mailchimp export's
            ``nonsubscribed``).
        left_to_mapping: The file's consent columns the reader does not read either, when no
            one profile reads them all (only a mapping's ``[[status.rules]]`` can have them
            read beside the reader's); empty when the reader reads every one.
        auto_reads: Whether the file read without a named profile (the profile its headers
            match, or Mailchimp's for its export's names) reads all of it, when no reader does.
        name_reader: The profile reading the name's opt-out, when no one profile reads all of
            it: a mapping's ``[[status.rules]]`` beside it can read the columns it does not
            (``left_to_mapping``).
        name_opts_out: Whether ``name_status`` is an opt-out.
        consent_like: The file's headers (as written) that look like consent
            (``looks_like_consent``) and that no status rule of the plain profile reading the file,
            nor any bundled profile's, reads, nor its mapping sends to a property
            (``unread_consent_like``).
    """

    named: str
    reader: str | None
    columns: tuple[str, ...] = ()
    name_status: str | None = None
    left_to_mapping: tuple[str, ...] = ()
    auto_reads: bool = False
    name_reader: str | None = None
    name_opts_out: bool = True
    consent_like: tuple[str, ...] = ()

    def problem(self) -> str:
        """The one-line refusal: what would go unread and how to have all of the file's consent
        read, never by a profile that would lose an opt-out its columns or name give; then the
        columns that look like consent no rule reads, and how to say what they hold."""
        said = [self._known_problem() if self.columns or self.name_status else "", self._consent_like_problem()]
        return "; and ".join(part for part in said if part)

    def _consent_like_problem(self) -> str:
        """What to do about ``consent_like``: read each with a mapping's ``[[status.rules]]``, or
        say it holds no consent by sending it to a property under ``[columns]``; empty when none."""
        if not self.consent_like:
            return ""
        first = _toml_string(self.consent_like[0])
        status = property_slug(self.consent_like[0]) or "said_here"
        columns = ", ".join(repr(header) for header in self.consent_like)
        # Every such column, each with its own rule: a mapping reading only the first would be
        # refused again for the next. The outcome is the user's to say (a consent date is no
        # opt-out), so the text holds a choice, which the mapping refuses until one is made.
        return (
            f"the {self.named} profile reads no consent from {columns}, named like consent (an opt-out there would be "
            f"imported as text, its row marketed on another column's yes): say what each holds in a mapping file "
            f"(--mapping), reading it with [[status.rules]] (e.g. columns = [{first}], and when_set = \"{status}\" for a "
            f"yes or a date, when_present for any value, or values = {{ <word> = \"{status}\" }}; and under [consent] "
            f"{status} = \"<opted_out, non_marketing or marketing>\") or, if it holds no consent, sending it to a "
            f"property under [columns] ({self._as_properties()})"
        )

    def _as_properties(self) -> str:
        """The ``[columns]`` lines sending every one of ``consent_like`` to the property it is named for."""
        profile = reading_profile(self.named).profile
        return "; ".join(f"{_toml_string(header)} = \"{profile.unlisted_route(header).name}\"" for header in self.consent_like)

    def _known_problem(self) -> str:
        """The refusal of unread consent some bundled profile reads (``columns``, ``name_status``)."""
        columns, name = ", ".join(self.columns), self.name_status
        lost = "their opt-outs would be lost" if self.columns else "its opt-outs would be lost"
        if name and not self.name_opts_out:
            lost = f"{'their opt-outs would be lost and ' if self.columns else ''}rows it says are no consent could be planned marketing"
        if self.columns and name:
            unread = f"the {self.named} profile does not read its consent columns ({columns}) nor its name, which says {name!r}, so {lost}"
        elif self.columns:
            unread = f"the {self.named} profile does not read its consent columns ({columns}), so {lost}"
        else:
            unread = f"the {self.named} profile does not read its name, which says {name!r}, so {lost}"
        if self.reader and self.left_to_mapping:
            read = [column for column in self.columns if column not in self.left_to_mapping]
            return (
                f"{unread}, and no one profile reads all its consent columns: the {self.reader} profile reads "
                f"{', '.join(read)} (--profile {self.reader}), and a mapping's [[status.rules]] can read "
                f"{', '.join(self.left_to_mapping)}"
            )
        if self.reader and not name:
            return f"{unread}: the {self.reader} profile reads them (--profile {self.reader}), or name them in a mapping's [[status.rules]]"
        if self.reader:
            return f"{unread}: the {self.reader} profile reads {'them all' if self.columns else 'it'} (--profile {self.reader})"
        if self.auto_reads:
            return f"{unread}: the profile its headers match reads them all (run without --profile or a mapping's profile)"
        beside = f" with the {self.name_reader} profile (profile = {self.name_reader!r}), which reads its name" if self.name_reader else ""
        return f"{unread}, and no one profile reads them all: name {', '.join(self.left_to_mapping)} in a mapping's [[status.rules]]{beside}"


def name_opt_out(
    profile: ReadingProfile, file_name: str, name_statuses: Mapping[str, str] | None = None, sheet: str | None = None
) -> str | None:
    """The opt-out status a file's name gives its rows read with ``profile``: from the profile's
    ``file_names``, or given for it outside them (a Mailchimp export's name, for ``mailchimp``).

    Args:
        profile: The profile reading the file.
        file_name: The file's URI, without a workbook's ``#sheet``.
        name_statuses: Statuses the name gives outside the profiles' ``file_names``, by profile.
        sheet: The workbook sheet the rows are on, whose name counts as the file's does.

    Returns:
        That status; None when the name gives the profile no opt-out.
    """
    said = ((name_statuses or {}).get(profile.name), profile.name_status(file_name, sheet))
    return next((status for status in said if status in profile.profile.consent.opt_out_statuses), None)


def _consent_read(
    profile: ReadingProfile, headers: Sequence[str], file_name: str, name_statuses: Mapping[str, str], sheet: str | None
) -> tuple[frozenset[str], str | None]:
    """The file's consent columns a file read with ``profile`` reads, as ``read_table`` reads it
    (the plain opt-out flags beside its own, unless its name opts out), and the opt-out its
    name gives (the status, for ``name_statuses``); every consent column of the file, and the
    status every row keeps, when the name gives an opt-out no column makes less restrictive (a
    Mailchimp export's, read as Mailchimp's)."""
    floor = name_statuses.get(profile.name)
    if floor in profile.profile.consent.opt_out_statuses:
        return frozenset(header for columns in consent_readers(headers).values() for header in columns), floor
    if floor is not None:
        # A status that opts nothing out (a Mailchimp export's subscribed file): the columns
        # still say who opted out, and only those the profile reads are read.
        return frozenset(consent_headers(reading_fallback_opt_outs(profile, headers), headers)), floor
    said = name_opt_out(profile, file_name, name_statuses, sheet)
    reading = profile if said is not None else reading_fallback_opt_outs(profile, headers)
    return frozenset(consent_headers(reading, headers)), said


def unread_consent(
    named: ReadingProfile,
    headers: Sequence[str],
    file_name: str = "",
    name_statuses: Mapping[str, str] | None = None,
    sheet: str | None = None,
    auto_profile: str | None = None,
) -> UnreadConsent | None:
    """Whether reading a file with the profile named for it would ignore consent the file carries:
    consent some bundled profile reads (``_unread_named_consent``, which says how and when), and,
    when the named profile is the plain one, a column that looks like consent no rule reads
    (``unread_consent_like``).

    Args:
        named: The named profile, with the user's mapping applied and the plain opt-out flags
            it will read beside its own columns (``reading_fallback_opt_outs``).
        headers: The file's headers, as written in the file.
        file_name: The file's URI (without a workbook's ``#sheet``), for statuses in its name.
        name_statuses: Statuses the name gives outside the profiles' ``file_names``, by profile.
        sheet: The workbook sheet the rows are on, whose name counts as the file's does.
        auto_profile: The profile the file is read with when none is named, if not the one its
            headers match.

    Returns:
        What would go unread; None when nothing would.
    """
    lost = _unread_named_consent(named, headers, file_name, name_statuses, sheet, auto_profile)
    return _with_consent_like(lost, named, headers)


def _unread_named_consent(
    named: ReadingProfile,
    headers: Sequence[str],
    file_name: str = "",
    name_statuses: Mapping[str, str] | None = None,
    sheet: str | None = None,
    auto_profile: str | None = None,
) -> UnreadConsent | None:
    """Whether reading a file with the profile named for it would ignore consent the file carries.

    An opt-out is final wherever it is written. The named profile must read every consent
    column a file read without it would have read: the columns of the profile its headers
    match (Constant Contact's ``Email permission status``, which a generic file's profile does
    not read), or, when they match none (or the named profile reads none of the file's consent
    columns), every column some bundled profile reads (Klaviyo's ``Email Suppressions`` beside
    a ``Bounced`` flag the named profile reads), as the fallback profile must
    (``unread_known_consent``). It must read the opt-out status in the file's name too, when the
    profile its headers match, or Mailchimp for its export's files, reads one (Constant
    Contact's ``unsubscribed.xlsx``; Mailchimp's ``cleaned_email_audience_export_….csv``),
    whatever columns it reads: a row whose consent cells hold nothing (an empty merge field
    named ``Bounced``) takes its status from the name. The named profile reads a column with
    its own rules, a mapping's ``[[status.rules]]`` or the plain opt-out flags it reads beside
    them. A file whose name gives the named profile an opt-out every row keeps (a Mailchimp
    export's, read as Mailchimp's) is read as named, and so is a file named the profile it is
    read with anyway (``--profile mailchimp`` on a Mailchimp export, whose merge field
    ``List Status`` both read for its opt-outs only).

    Args:
        named: The named profile, with the user's mapping applied and the plain opt-out flags
            it will read beside its own columns (``reading_fallback_opt_outs``).
        headers: The file's headers, as written in the file.
        file_name: The file's URI (without a workbook's ``#sheet``), for statuses in its name.
        name_statuses: Statuses the name gives outside the profiles' ``file_names``, by
            profile (a Mailchimp export's name: ``{"mailchimp": "unsubscribed"}``): the status
            of every row read with that profile, which no column makes less restrictive.
        sheet: The workbook sheet the rows are on, whose name counts as the file's does.
        auto_profile: The profile the file is read with when none is named, if not the one its
            headers match (``mailchimp`` for its export's names).

    Returns:
        What would go unread, advising only what reads all of the file's consent: a bundled
        profile reading every consent column and the name's opt-out (the one the headers match
        first, else by name), else the file read without a named profile, else a mapping's
        ``[[status.rules]]`` (beside the profile reading the name's opt-out, if any); None when
        nothing would go unread.
    """
    statuses = dict(name_statuses or {})
    floor = statuses.get(named.name)
    if floor in named.profile.consent.opt_out_statuses:
        # Every row keeps that opt-out (a Mailchimp export read as Mailchimp's): no column can
        # lose one.
        return None
    detected = detect_profile(headers)
    auto = reading_profile(auto_profile) if auto_profile else detected
    if named.name == auto.name != FALLBACK_PROFILE:
        # Forced as the file is read without it: it reads all a run without it would (a plain
        # file is refused without it when another profile's consent column is left unread).
        return None
    read = set(consent_headers(named, headers))
    known = {header for columns in consent_readers(headers).values() for header in columns}
    expected = known if detected.name == FALLBACK_PROFILE or not read else set(consent_headers(detected, headers))
    columns = tuple(header for header in dict.fromkeys(headers) if header in expected and header not in read)
    # Whose reading of the name counts, first: a status every row keeps (a Mailchimp export's,
    # which no profile reading the name as a guess may weaken), then the named profile's, then
    # the profile its headers match.
    floors = [
        (lender, status)
        for name, status in statuses.items()
        if name != named.name and (lender := reading_profile(name)).severity(status) > SEVERITY[Outcome.MARKETING]
    ]
    guesses = [(reader, status) for reader in (named, detected) if (status := name_opt_out(reader, file_name, sheet=sheet))]
    said = next(iter(floors + guesses), None)
    name_unread = said is not None and said[0].name != named.name
    if not columns and not name_unread:
        return None
    lost = UnreadConsent(
        named=named.name,
        reader=None,
        columns=columns,
        name_status=said[1] if name_unread else None,
        name_opts_out=not name_unread or said[1] in said[0].profile.consent.opt_out_statuses,
    )
    needed = expected | (read & known)

    def reads_all(profile: ReadingProfile) -> bool:
        read_by, name = _consent_read(profile, headers, file_name, statuses, sheet)
        # A status every row keeps is read only by its profile, never as another's guess from the name.
        reads_name = said is None or (name is not None and (not floors or profile.name == said[0].name))
        return needed <= read_by and reads_name

    detected_reader = detected.consent_from or detected.name
    candidates = [detected_reader, *(name for name in profile_names() if name != detected_reader)]
    reader = next((name for name in candidates if name != named.name and reads_all(reading_profile(name))), None)
    if reader is not None:
        return dataclasses.replace(lost, reader=reader)
    if reads_all(auto):
        return dataclasses.replace(lost, auto_reads=True)
    name_reader = reading_profile(said[0].name) if name_unread else named
    read_by_name_reader, _ = _consent_read(name_reader, headers, file_name, statuses, sheet)
    left = tuple(header for header in dict.fromkeys(headers) if header in needed - read_by_name_reader)
    return dataclasses.replace(lost, left_to_mapping=left, name_reader=name_reader.name if name_reader.name != named.name else None)


def unread_known_consent(profile: ReadingProfile, headers: Sequence[str]) -> UnreadConsent | None:
    """The file's consent columns some bundled profile reads and ``profile`` leaves unread
    (``_unread_bundled_consent``), and, when ``profile`` is the plain one, its columns that look
    like consent no rule reads (``unread_consent_like``).

    Args:
        profile: The profile the file would be read with, with the user's mapping applied (and
            the plain opt-out flags it will read beside its own columns).
        headers: The file's headers, as written in the file.

    Returns:
        What would go unread; None when nothing would.
    """
    return _with_consent_like(_unread_bundled_consent(profile, headers), profile, headers)


def _with_consent_like(lost: UnreadConsent | None, profile: ReadingProfile, headers: Sequence[str]) -> UnreadConsent | None:
    """``lost`` with the plain profile's unread columns that look like consent added
    (``unread_consent_like``); ``lost`` itself for any other profile."""
    if profile.name != FALLBACK_PROFILE:
        return lost
    consent_like = unread_consent_like(profile, headers)
    if not consent_like:
        return lost
    return dataclasses.replace(lost or UnreadConsent(named=profile.name, reader=None), consent_like=consent_like)


def unread_consent_like(profile: ReadingProfile, headers: Sequence[str]) -> tuple[str, ...]:
    """The file's headers that look like consent (``looks_like_consent``: ``Unsubscribe Reason``,
    ``GDPR Consent``, ``List Unsubscribe``) whose consent nothing would read, in file order.

    Such a column would become a text property: an opt-out there would never reach HubSpot, and
    its row would be marketed on another column's yes. Left out: the columns ``profile`` reads
    (a mapping's ``[[status.rules]]`` included) or some other bundled profile reads (refused or
    borrowed as such: ``_unread_bundled_consent``), the email columns, and the columns the
    profile or the user's mapping sends to a property (``[columns]``: the user says it holds no
    consent).

    Args:
        profile: The profile the file would be read with, with the user's mapping applied.
        headers: The file's headers, as written in the file.
    """
    read = set(consent_headers(profile, headers))
    known = {header for columns in consent_readers(headers).values() for header in columns}
    emails = set(profile.email_headers(headers))
    return tuple(
        header
        for header in dict.fromkeys(headers)
        if looks_like_consent(header)
        and header not in read | known | emails
        and not profile.profile.lists(header)
    )


def _unread_bundled_consent(profile: ReadingProfile, headers: Sequence[str]) -> UnreadConsent | None:
    """The file's consent columns some bundled profile reads and ``profile`` leaves unread.

    What a file read with the fallback profile must not have: its opt-outs (ActiveCampaign's
    ``List Status``, Klaviyo's ``Email Suppressions``) would be read as no consent at all, and
    a run's ``--consent no_consent=marketing`` would make them marketing.

    Args:
        profile: The profile the file would be read with, with the user's mapping applied (and
            the plain opt-out flags it will read beside its own columns).
        headers: The file's headers, as written in the file.

    Returns:
        The unread columns in file order, naming the profile that reads the most of them (by
        name on a tie) and the file's consent columns that profile, with the plain opt-out
        flags it would read beside its own, leaves unread in turn; None when ``profile`` reads
        every one.
    """
    readers = consent_readers(headers)
    read = set(consent_headers(profile, headers))
    known = {column for columns in readers.values() for column in columns}
    left = tuple(header for header in dict.fromkeys(headers) if header in known and header not in read)
    if not left:
        return None
    reader = max(readers, key=lambda name: (len(set(readers[name]) & set(left)), -profile_names().index(name)))
    # The reader reads the plain opt-out flags beside its own too (``reading_fallback_opt_outs``).
    read_by_reader = set(consent_headers(reading_fallback_opt_outs(reading_profile(reader), headers), headers))
    others = tuple(header for header in dict.fromkeys(headers) if header in known and header not in read_by_reader)
    return UnreadConsent(named=profile.name, reader=reader, columns=left, left_to_mapping=others)


DAY_FIRST = "day_first"
MONTH_FIRST = "month_first"
DATE_ORDERS = (DAY_FIRST, MONTH_FIRST)
"""The orders a numeric date writes its day and month in (``13/02/2024``, ``02/13/2024``), as a
profile's or a mapping's ``date_order`` names them."""

_YEAR_DIRECTIVE = re.compile(r"%[Yy]")


def date_order_of(time_format: str) -> str | None:
    """The order a time format writes a date's day and month in, when both are numbers before
    the year: ``%d/%m/%Y`` → ``day_first``, ``%m/%d/%Y %H:%M`` → ``month_first``. None for any
    other format: ``%Y-%m-%d`` writes the year first, and only one order reads it; a dotted date
    (``%d.%m.%Y``) is day first wherever it is written (German, Swiss, Nordic, Russian), so it is
    never read the other way round, nor taken as evidence of a file's order."""
    if "%d.%m" in time_format:
        return None
    day, month = time_format.find("%d"), time_format.find("%m")
    year = _YEAR_DIRECTIVE.search(time_format)
    if day < 0 or month < 0 or year is None or year.start() < max(day, month):
        return None
    return DAY_FIRST if day < month else MONTH_FIRST


def in_date_order(formats: Sequence[str], order: str) -> tuple[str, ...]:
    """``formats`` reading numeric dates in ``order`` only: a format of the other order reads
    with its day and month swapped (``%m/%d/%Y`` → ``%d/%m/%Y``); each format once, in order."""
    swapped = (_day_month_swapped(fmt) if date_order_of(fmt) not in (None, order) else fmt for fmt in formats)
    return tuple(dict.fromkeys(swapped))


def _day_month_swapped(time_format: str) -> str:
    return time_format.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


def formats_date_order(formats: Sequence[str]) -> str | None:
    """The order of the first of ``formats`` writing a numeric day and month (Zoho lists both
    orders, day first first): the order a column whose values prove none is read in. None when
    no format writes one: there is no order to decide."""
    return next((order for fmt in formats if (order := date_order_of(fmt))), None)


@dataclass(frozen=True)
class TimeReading:
    """How one column's time cells are read (:func:`parse_time`).

    Attributes:
        formats: strptime formats, the first that reads a cell wins; numeric dates in one order.
        other_order: When the column's values prove both orders (``13/02/2024`` and
            ``02/13/2024``): the formats in the other order. A cell each order reads as a
            different time (``05/02/2024``) is no time; one a single order reads is read so.
        excel_serials: Whether an Excel date serial (``44099.7``, a time that went through a
            spreadsheet) is read as its date and time.
    """

    formats: tuple[str, ...]
    other_order: tuple[str, ...] = ()
    excel_serials: bool = True


PARSED_TIME_PREFIX = "_time_of_"
"""Before a time column's header: the reader's working column holding its cells read as times
(``parsed_time_column``), beside the cells as written."""


def parsed_time_column(header: str) -> str:
    """The working column a reader puts a time column's cells in, read as times (:func:`parse_time`)."""
    return PARSED_TIME_PREFIX + header


def time_reading(formats: Sequence[str], declared: str | None = None, proven: Collection[str] = ()) -> TimeReading:
    """How a column's time cells are read: numeric dates in the order the user or the profile
    declares, else in the order the column's own values prove, else in the formats' order.

    A value proves an order when only that order reads it (``13/02/2024``: 13 is no month).
    When the column's values prove both, neither is guessed: a value both orders read as
    different dates is no time (``TimeReading.other_order``).

    Args:
        formats: The profile's ``timestamp_formats``.
        declared: The order the mapping or the profile names (``DATE_ORDERS``), if any: it
            holds whatever the values say.
        proven: The orders the column's dates are proven written in: by its own values, else
            by its file's other time columns (:func:`orders_to_read`).
    """
    fallback = formats_date_order(formats)
    if fallback is None:
        return TimeReading(tuple(formats))
    if declared is not None:
        return TimeReading(in_date_order(formats, declared))
    if len(set(proven)) == 1:
        return TimeReading(in_date_order(formats, next(iter(proven))))
    other = (MONTH_FIRST if fallback == DAY_FIRST else DAY_FIRST) if proven else None
    return TimeReading(in_date_order(formats, fallback), in_date_order(formats, other) if other else ())


def orders_to_read(proven: Mapping[str, Collection[str]]) -> dict[str, frozenset[str]]:
    """Each time column of a file → the orders its dates are read in (``time_reading``'s
    ``proven``): those its own values prove, else those the file's other time columns prove (a
    UK report's ``Created Date 13/02/2024`` makes its ``Last Modified Date 05/02/2024`` the 5th
    of February: one locale wrote the file). Empty when nothing in the file proves an order.

    Args:
        proven: Each time column → the orders its values prove (``date_order_evidence``).
    """
    in_file = frozenset(order for orders in proven.values() for order in orders)
    return {column: frozenset(orders) or in_file for column, orders in proven.items()}


DATES_READ_APART = "read_apart"
"""The key of :func:`date_order_evidence` saying a cell is a date the two orders read as two days."""


def date_order_evidence(cell: pl.Expr, formats: Sequence[str]) -> dict[str, pl.Expr]:
    """What a trimmed cell says of its date order, from one reading of it in each order: each
    order (``DATE_ORDERS``) → whether the cell proves it (the numeric formats of ``formats`` read
    it in that order only: ``13/02/2024`` proves day first, ``02/13/2024`` month first,
    ``05/02/2024`` and ``2024-02-13`` neither); and :data:`DATES_READ_APART` → whether the two
    orders read it as two days (``05/02/2024``; not ``05/05/2024``)."""
    numeric = [fmt for fmt in formats if date_order_of(fmt)]
    day, month = (_parsed(cell, in_date_order(numeric, order), excel_serials=False) for order in DATE_ORDERS)
    return {
        DAY_FIRST: day.is_not_null() & month.is_null(),
        MONTH_FIRST: month.is_not_null() & day.is_null(),
        DATES_READ_APART: _read_apart(day, month),
    }


def _read_apart(first: pl.Expr, second: pl.Expr) -> pl.Expr:
    """Whether two readings of a cell are two different times."""
    return first.is_not_null() & second.is_not_null() & (first != second)


def parse_time(cell: pl.Expr, reading: TimeReading) -> pl.Expr:
    """A trimmed time cell as a UTC time to the second (naive, as every source's times are
    compared); null where the reading reads no time.

    Offsets (``2020-09-25 16:45:13 -0400``) are converted to UTC. Fractions of a second are
    dropped, as the canonical form every run compares change times in writes none.
    """
    first = _parsed(cell, reading.formats, reading.excel_serials)
    if not reading.other_order:
        return first.dt.truncate("1s")
    other = _parsed(cell, reading.other_order, reading.excel_serials)
    return pl.when(~_read_apart(first, other)).then(pl.coalesce(first, other)).dt.truncate("1s")


def _parsed(cell: pl.Expr, formats: Sequence[str], excel_serials: bool) -> pl.Expr:
    """The cell read by the first of ``formats`` that reads it (or as an Excel date serial)."""
    parsed = [_parse(cell, fmt) for fmt in formats]
    if excel_serials:
        serial = cell.cast(pl.Float64, strict=False)
        parsed.append(
            pl.when(serial.is_between(EXCEL_FIRST_SERIAL, EXCEL_LAST_SERIAL)).then(
                pl.datetime(*EXCEL_EPOCH, time_unit="us") + pl.duration(microseconds=(serial * MICROSECONDS_PER_DAY).round().cast(pl.Int64))
            )
        )
    if not parsed:
        return pl.lit(None, pl.Datetime("us"))
    return parsed[0] if len(parsed) == 1 else pl.coalesce(parsed)


_OFFSET_DIRECTIVE = re.compile(r"%[:#]?z")
"""A format's UTC offset (``%z``: ``+0100``; ``%:z``: ``+01:00``; ``%#z``: also ``Z`` and ``+01``)."""


def _parse(value: pl.Expr, fmt: str) -> pl.Expr:
    # No cache: times are nearly all distinct.
    parsed = value.str.to_datetime(fmt, strict=False, time_unit="us", cache=False)
    if _OFFSET_DIRECTIVE.search(fmt):
        # Naive UTC, like every other time: rows of several sources are compared by it.
        parsed = parsed.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    else:
        parsed = parsed.cast(pl.Datetime("us"))
    if "%y" in fmt:
        return pl.when(parsed.dt.year() >= TWO_DIGIT_YEARS_FROM + 100).then(parsed.dt.offset_by("-100y")).otherwise(parsed)
    return pl.when(parsed.dt.year() >= EARLIEST_YEAR).then(parsed)


def _toml_string(text: str) -> str:
    """``text`` as a TOML basic string, a character one cannot see or tell from a space (a
    non-breaking or zero-width space) escaped, so a mapping copied from a message names the
    header as the file writes it."""
    quoted = json.dumps(text, ensure_ascii=False)
    return "".join(char if char.isprintable() and (char == " " or not char.isspace()) else f"\\u{ord(char):04x}" for char in quoted)


def _column_route(header: str, target: str | CustomProperty) -> dict[str, str]:
    return {"column": header, "property": property_name(target), "kind": "custom" if isinstance(target, CustomProperty) else "default"}


def describe(profile: ReadingProfile, headers: Sequence[str], email_column: str | None = None) -> dict:
    """What reading a file with these headers would do: for ``onramp inspect``.

    Args:
        profile: The profile the file is read with.
        headers: The file's headers.
        email_column: The email column the reader found, when it knows (a renamed first column
            of addresses, which no profile names); else the profile's first email header present.

    Returns:
        ``{"profile", "format", "email_column", "columns": [{"column", "property", "kind"}],
        "consent_columns": [...], "consent_like_unread": [...], "statuses": {status: outcome},
        "default_status"}``: ``consent_like_unread`` are the headers whose names look like consent
        (``looks_like_consent``) that no status rule reads, in file order (a plain file's are
        refused unless its mapping sends them to a property: ``unread_consent_like``). A column
        filling a property other columns fill first (``Work Phone`` after ``Phone``) fills it
        where they are blank, said by ``"after"`` (those columns), and is kept whole in a
        property of its own too: a second entry, with ``"copy": True``.
    """
    emails = profile.email_headers(headers)
    email = email_column or (emails[0] if emails else None)
    # Routed together, as the plan routes them: two columns that would share a property's name
    # (``Fav Colour``, ``Fav-Colour``) are shown going where the plan sends each, and a column
    # filling a property another fills first, going to its own property as well.
    distinct = [header for header in dict.fromkeys(headers) if header != email]
    routes = profile.profile.routes_with_copies(distinct)
    own_route = dict(routes[: len(distinct)])
    fillers: dict[str, list[str]] = {}
    for header, target in own_route.items():
        fillers.setdefault(property_name(target), []).append(header)

    def column(header: str) -> dict:
        if header == email:
            return {"column": header, "property": "email", "kind": "email"}
        sources = fillers[property_name(own_route[header])]
        earlier = sources[: sources.index(header)]
        return _column_route(header, own_route[header]) | ({"after": earlier} if earlier else {})

    columns = [column(header) for header in headers]
    columns += [{**_column_route(header, target), "copy": True} for header, target in routes[len(distinct) :]]
    return {
        "profile": profile.name,
        "format": profile.format,
        "email_column": email,
        "columns": columns,
        "consent_columns": sorted(consent_headers(profile, headers)),
        "consent_like_unread": [
            header
            for header in dict.fromkeys(headers)
            if header != email and looks_like_consent(header) and header not in consent_headers(profile, headers)
        ],
        "statuses": {s: o.value for s, o in profile.profile.consent.outcomes.items()},
        "default_status": profile.default_status,
    }
