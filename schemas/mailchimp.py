"""Pandera schemas for each kind of file in a Mailchimp audience export.

A row fails when it has no usable email; such rows go to the rejects with their reason. Every
row-level check is a rule in ``ROW_RULES``, a polars expression, so the validator can evaluate
it over a lazy scan while pandera checks the columns and their types. The other columns differ
between export years and are user-renamable, so they are optional here and checked by name,
never by position.
"""

from __future__ import annotations

from collections.abc import Callable

import pandera.polars as pa
import polars as pl

from schemas import lineage
from schemas.contact import ends_in_top_level_domain, has_email_form, normalise_email, trimmed

_COMMON_COLUMNS = (
    "First Name", "Last Name", "Address", "Phone Number", "Birthday", "MEMBER_RATING",
    "OPTIN_TIME", "OPTIN_IP", "CONFIRM_TIME", "CONFIRM_IP", "LATITUDE", "LONGITUDE",
    "GMTOFF", "DSTOFF", "TIMEZONE", "CC", "REGION",
)
_TRAILING_COLUMNS = ("LEID", "EUID", "NOTES", "TAGS")
_SUBSCRIBED_BLOCK = ("LAST_CHANGED",)

STATUS_COLUMNS: dict[str, tuple[str, ...]] = {
    "subscribed": _SUBSCRIBED_BLOCK,
    "nonsubscribed": _SUBSCRIBED_BLOCK,
    "transactional": _SUBSCRIBED_BLOCK,
    "sms_only": _SUBSCRIBED_BLOCK,
    "unsubscribed": ("UNSUB_TIME", "UNSUB_CAMPAIGN_TITLE", "UNSUB_CAMPAIGN_ID", "UNSUB_REASON", "UNSUB_REASON_OTHER"),
    "cleaned": ("CLEAN_TIME", "CLEAN_CAMPAIGN_TITLE", "CLEAN_CAMPAIGN_ID"),
}
"""The status-specific block of system columns each file kind carries (source-formats §1.2)."""

JOINED_EMAILS_SEPARATOR = ", "
"""Joins a row's different addresses under one repeated email header (the extractor's doing),
so the row is rejected with every address in view: none may silently win."""

REJECT_REASONS = {
    "email_present": "no email address",
    "email_single": "several email addresses in one row",
    "email_valid": "invalid email address",
    "email_domain_known": "the email's domain ends in no top-level domain (a typo such as .con?)",
    "row_splits": "the row has more fields than the header",
}
"""Check name → the reason written to rejects.csv."""


def email_present(email: pl.Expr) -> pl.Expr:
    """True where the email cell holds something besides blanks (spaces and the characters one
    cannot see, :func:`~schemas.contact.trimmed`)."""
    return trimmed(email).fill_null("") != ""


def email_single(email: pl.Expr) -> pl.Expr:
    """True where the cell holds one address, not several joined (see JOINED_EMAILS_SEPARATOR)."""
    return ~email.str.contains(JOINED_EMAILS_SEPARATOR, literal=True)


def email_valid(email: pl.Expr) -> pl.Expr:
    """True where the trimmed, lowercased email has the form of one HubSpot accepts (or is blank,
    or several joined: reported once, by email_present and email_single)."""
    email = normalise_email(email)
    return email.fill_null("").eq("") | has_email_form(email) | ~email_single(email)


def email_domain_known(email: pl.Expr) -> pl.Expr:
    """True where the email's domain ends in a top-level domain (or the email is blank or has no
    email's form: reported once, by the rules above).

    HubSpot refuses the address otherwise, and one such address fails the whole batch it is
    sent in, so finding it here keeps the load at full batches as well as saying why.
    """
    email = normalise_email(email)
    return email.fill_null("").eq("") | ~has_email_form(email) | ends_in_top_level_domain(email)


def row_splits(extra_fields: pl.Expr) -> pl.Expr:
    """True where the row had no more fields than the header."""
    return extra_fields.is_null()


ROW_RULES: dict[str, Callable[[pl.Expr], pl.Expr]] = {
    "email_present": email_present,
    "email_single": email_single,
    "email_valid": email_valid,
    "email_domain_known": email_domain_known,
    "row_splits": row_splits,
}
"""Check name → the rule as a polars expression over the checked column (True = passes).

The pandera checks below are built from these, and the validator evaluates the same rules
over the lazy scan, so the schema and the per-row reasons can never disagree.
"""


def _row_check(name: str) -> pa.Check:
    rule = ROW_RULES[name]
    return pa.Check(lambda data: data.lazyframe.select(rule(pl.col(data.key))), name=name, ignore_na=False)


def export_file_schema(status: str, email_column: str) -> pa.DataFrameSchema:
    """The schema of one Mailchimp export file.

    Args:
        status: The file's status (from its name), which decides its system columns.
        email_column: The file's email header as it appears (the EMAIL merge field's label).
    """
    optional = _COMMON_COLUMNS + STATUS_COLUMNS.get(status, ()) + _TRAILING_COLUMNS
    columns = {
        name: pa.Column(pl.String, required=False, nullable=True)
        for name in optional
        if name != email_column
    }
    columns[email_column] = pa.Column(
        pl.String,
        nullable=True,
        checks=[
            _row_check("email_present"),
            _row_check("email_single"),
            _row_check("email_valid"),
            _row_check("email_domain_known"),
        ],
    )
    columns[lineage.EXTRA_FIELDS] = pa.Column(pl.String, nullable=True, checks=_row_check("row_splits"))
    columns[lineage.SOURCE_URI] = pa.Column(pl.String)
    # Row numbers are the extractor's own (from 2, the header being row 1), never data to check.
    columns[lineage.SOURCE_ROW] = pa.Column(pl.Int64)
    columns[lineage.SOURCE_STATUS] = pa.Column(pl.String)
    columns[lineage.SOURCE_FORMAT] = pa.Column(pl.String)
    return pa.DataFrameSchema(columns, strict=False, name=f"MailchimpExport[{status}]")
