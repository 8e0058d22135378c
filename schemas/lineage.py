"""Names of the lineage columns every row carries from extraction to the ledger.

They start with an underscore, as no HubSpot property name does; a source header holding one
of them (:data:`RESERVED`) is refused, as it would collide with Onramp's own column.
"""

SOURCE_URI = "_source_uri"
"""The file a row came from: a path or URL, with ``!member`` for a file inside an archive."""

SOURCE_ROW = "_source_row"
"""The row's number as a spreadsheet shows it: the header is row 1, the first record row 2."""

SOURCE_STATUS = "_source_status"
"""The status the source gives the row (Mailchimp: the status its file is named after)."""

SOURCE_FORMAT = "_source_format"
"""The source format, e.g. ``mailchimp-export``."""

EXTRA_FIELDS = "_extra_fields"
"""Fields a row carries beyond its header, comma-joined; null for a row that splits right."""

REJECT_REASON = "_reject_reason"
"""Why a row is rejected (null for a row that passed): ``reason`` in ``rejects.csv``."""

ALL = (SOURCE_URI, SOURCE_ROW, SOURCE_STATUS, SOURCE_FORMAT)

RESERVED = (*ALL, EXTRA_FIELDS, REJECT_REASON)
"""The names a source's rows carry beside its own columns, which no header of it may hold."""
