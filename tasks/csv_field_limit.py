"""The csv module's field limit, one for every reader of the process.

The limit is process-wide (``csv.field_size_limit``), so it is set here, once, when the
``tasks`` package is first imported: what a reader refuses must not depend on which other
modules happen to be imported.
"""

from __future__ import annotations

import csv

CSV_FIELD_LIMIT = 16 * 1024 * 1024
"""The longest cell the csv module reads: a long NOTES or TAGS cell is data (the module's default,
128 KiB, is too low); past this a record is refused as one that cannot be split."""

csv.field_size_limit(CSV_FIELD_LIMIT)
