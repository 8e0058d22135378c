"""The HubSpot record ids of a contacts file's contacts, read back by email.

Lists and associations take record ids, which neither load path keeps for every row (an import
reports none), so they are read back: 100 emails per ``batch/read``, streamed from the file.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from pathlib import Path

from tasks.load.batches import chunked
from tasks.load.client import HubSpotPortal
from tasks.load.optouts import normalise_email
from tasks.load.plan import iter_column
from tasks.load.reconcile import READ_BATCH_SIZE, read_contacts

EMAIL_COLUMN = "email"


def file_emails(path: Path, skipped_lines: Collection[int] = ()) -> Iterator[str]:
    """The emails of a planned contacts file, as HubSpot stores them (lower case), but those of
    ``skipped_lines``."""
    for line, cell in iter_column(path, EMAIL_COLUMN):
        email = normalise_email(cell)
        if email and line not in skipped_lines:
            yield email


def contact_ids(portal: HubSpotPortal, emails: Iterator[str]) -> Iterator[tuple[list[str], dict[str, str]]]:
    """Read contacts by email, a batch at a time.

    Yields:
        ``(emails asked, {email: record id})`` per batch; an email HubSpot has no contact for
        (its row failed to load, and is in the ledger already) is missing from the dict.
    """
    for batch in chunked(emails, READ_BATCH_SIZE):
        yield batch, {email: found["id"] for email, found in read_contacts(portal, batch, []).items()}
