"""Pandera schemas for each kind of file in a Mailchimp audience export.

A row fails when it has no usable email; such rows go to the rejects with their reason. The
other columns differ between export years and are user-renamable, so they are optional here
and checked by name, never by position.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from schemas import lineage
from schemas.contact import EMAIL_PATTERN, normalise_email

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

REJECT_REASONS = {
    "email_present": "no email address",
    "email_valid": "invalid email address",
    "row_splits": "the row has more fields than the header",
}
"""Check name → the reason written to rejects.csv."""


def _email_present(data: pa.PolarsData) -> pl.LazyFrame:
    return data.lazyframe.select(pl.col(data.key).str.strip_chars().fill_null("") != "")


def _email_valid(data: pa.PolarsData) -> pl.LazyFrame:
    email = normalise_email(pl.col(data.key))
    # A blank email is reported once, by email_present.
    return data.lazyframe.select(email.fill_null("").eq("") | email.str.contains(EMAIL_PATTERN))


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
            pa.Check(_email_present, name="email_present", ignore_na=False),
            pa.Check(_email_valid, name="email_valid", ignore_na=False),
        ],
    )
    columns[lineage.EXTRA_FIELDS] = pa.Column(
        pl.String,
        nullable=True,
        checks=pa.Check(lambda data: data.lazyframe.select(pl.col(data.key).is_null()), name="row_splits", ignore_na=False),
    )
    columns[lineage.SOURCE_URI] = pa.Column(pl.String)
    columns[lineage.SOURCE_ROW] = pa.Column(pl.Int64, checks=pa.Check.ge(2))
    columns[lineage.SOURCE_STATUS] = pa.Column(pl.String)
    columns[lineage.SOURCE_FORMAT] = pa.Column(pl.String)
    return pa.DataFrameSchema(columns, strict=False, name=f"MailchimpExport[{status}]")
