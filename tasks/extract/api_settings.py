"""Constants of the provider API sources: URIs, environment variables, endpoints, pages, retries.

The Mailchimp Marketing API v3 and the Constant Contact v3 API (source-formats.md §2, §3.2).
Their responses are written as the providers' own export files are, so the shipped profiles
(``tasks/transform/profiles/mailchimp.toml``, ``constantcontact.toml``) map them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PER_ROW_STATUS = "per-row"
"""A source's ``status`` in the report when its rows carry their own (an API source, or a file
with consent columns: ``tasks.extract.tables`` uses it too)."""

# --- Mailchimp Marketing API v3 -------------------------------------------------------------

MAILCHIMP_SCHEME = "mailchimp"
"""``mailchimp://<list_id>[?since=<ISO 8601>]``: every member of one audience."""
MAILCHIMP_PROFILE = "mailchimp"
"""The reading profile of a Mailchimp export file (its name carries the status) and of the API's members."""
MAILCHIMP_KEY_ENV = "MAILCHIMP_API_KEY"
MAILCHIMP_SECRET_BLOCK = "mailchimp-api-key"
"""The Prefect Secret block read when the key's environment variable is unset (block names
allow only lowercase letters, digits and dashes)."""
MAILCHIMP_BASE_URL_ENV = "MAILCHIMP_BASE_URL"
"""Overrides the API base (an emulator: ``http://127.0.0.1:PORT/3.0``)."""
MAILCHIMP_BASE_URL = "https://{dc}.api.mailchimp.com/3.0"
"""The data centre is the API key's suffix (``…-us6`` → ``us6``)."""
MAILCHIMP_MEMBERS_ENDPOINT = "/lists/{list_id}/members"
MAILCHIMP_MERGE_FIELDS_ENDPOINT = "/lists/{list_id}/merge-fields"
MAILCHIMP_INTEREST_CATEGORIES_ENDPOINT = "/lists/{list_id}/interest-categories"
MAILCHIMP_INTERESTS_ENDPOINT = "/lists/{list_id}/interest-categories/{category_id}/interests"
"""An audience's group categories and each one's groups (``interests``), both paged."""
MAILCHIMP_GROUP_SEPARATOR = ", "
"""Between a member's groups in a category's column, as the export lists them (``Cats, Dogs``)."""
MAILCHIMP_PAGE_SIZE = 1000
"""The Marketing API's largest ``count``."""
MAILCHIMP_MAX_CONNECTIONS = 10
"""Member pages requested at once: Mailchimp allows 10 simultaneous connections per user and
answers 429 beyond (https://mailchimp.com/developer/marketing/docs/fundamentals/, "API
limits"; source-formats.md §2). Another integration of the same user holding connections gets
this read some 429s, which are retried, and halve the pages requested at once until they stop
(``api_helpers.ConcurrencyLimit``): the read settles at the connections left free."""
MAILCHIMP_EXCLUDE_FIELDS = "_links,members._links"
"""Hypermedia links: a large share of each page, and nothing a contact needs."""

MAILCHIMP_MERGE_LABELS = {
    "EMAIL": "Email Address",
    "FNAME": "First Name",
    "LNAME": "Last Name",
    "ADDRESS": "Address",
    "PHONE": "Phone Number",
    "BIRTHDAY": "Birthday",
}
"""The default merge fields' export labels, used when the list's merge fields cannot name them."""

MAILCHIMP_MEMBER_COLUMNS = {
    "MEMBER_RATING": ("member_rating",),
    "OPTIN_TIME": ("timestamp_signup",),
    "OPTIN_IP": ("ip_signup",),
    "CONFIRM_TIME": ("timestamp_opt",),
    "CONFIRM_IP": ("ip_opt",),
    "LATITUDE": ("location", "latitude"),
    "LONGITUDE": ("location", "longitude"),
    "GMTOFF": ("location", "gmtoff"),
    "DSTOFF": ("location", "dstoff"),
    "TIMEZONE": ("location", "timezone"),
    "CC": ("location", "country_code"),
    "REGION": ("location", "region"),
    "LAST_CHANGED": ("last_changed",),
    "LEID": ("web_id",),
    "EUID": ("unique_email_id",),
    "NOTES": ("last_note", "note"),
    "UNSUB_REASON": ("unsubscribe_reason",),
}
"""Export system column → the member field holding it (a path into the member object)."""
MAILCHIMP_TIME_COLUMNS = frozenset({"OPTIN_TIME", "CONFIRM_TIME", "LAST_CHANGED"})
MAILCHIMP_UNKNOWN_ZERO_COLUMNS = frozenset({"LATITUDE", "LONGITUDE"})
"""Mailchimp writes 0 for an unknown location; the export leaves the cell blank."""
MAILCHIMP_TAGS_COLUMN = "TAGS"
MAILCHIMP_PERMISSIONS_COLUMN = "MARKETING_PERMISSIONS"
"""A GDPR-enabled audience's marketing permissions of a member, each ``<text>: yes|no``
(``Email: no; Direct Mail: yes``): kept as a property, and read for consent
(``mailchimp_api.permission_status``)."""
MAILCHIMP_EMAIL_PERMISSION = re.compile(r"e-?mail|courriel|correo|posta elettronica|e-?post\b|newsletter", re.IGNORECASE)
"""A marketing permission's text naming email (Mailchimp's default is ``Email``, beside
``Direct Mail`` and ``Customized Online Advertising``; an account may retitle it, in its own
language: ``Courriel``, ``Correo electrónico``, ``E-Mail``, ``Newsletter``)."""
EMAIL_PERMISSION_OFF_STATUS = "email_permission_off"
"""A subscribed member of a GDPR-enabled audience who did not give (or took back) the email
marketing permission: Mailchimp asks to email only those who expressly opted in to it."""

# --- Constant Contact v3 API ----------------------------------------------------------------

CONSTANT_CONTACT_SCHEME = "constantcontact"
"""``constantcontact://contacts[?since=<ISO 8601>]``: every contact of the account."""
CONSTANT_CONTACT_PROFILE = "constantcontact"
CONSTANT_CONTACT_ENV_PREFIX = "CONSTANT_CONTACT"
"""The credentials' environment variables are ``<prefix>_`` and a name of
``CONSTANT_CONTACT_CREDENTIAL_ENV`` (a multi-account manifest gives each account a prefix)."""
CONSTANT_CONTACT_CREDENTIAL_ENV = {
    "access_token": "TOKEN",
    "refresh_token": "REFRESH_TOKEN",
    "client_id": "CLIENT_ID",
    "client_secret": "CLIENT_SECRET",
}
"""Credential → its environment variable's suffix; the same keys name the fields of a Secret
block holding a JSON object (a block holding a plain string is an access token)."""
CONSTANT_CONTACT_SECRET_BLOCK = "constant-contact-credentials"
CONSTANT_CONTACT_TOKEN_URL = "https://authz.constantcontact.com/oauth2/default/v1/token"
"""The OAuth2 token endpoint: ``grant_type=refresh_token`` gives a new access token (24 h),
and a new refresh token when the application rotates them (source-formats.md §3.2)."""
CONSTANT_CONTACT_TOKEN_URL_ENV = "CONSTANT_CONTACT_TOKEN_URL"
"""Overrides the token endpoint (an emulator's)."""
CONSTANT_CONTACT_BASE_URL_ENV = "CONSTANT_CONTACT_BASE_URL"
CONSTANT_CONTACT_BASE_URL = "https://api.cc.email/v3"
CONSTANT_CONTACT_CONTACTS_ENDPOINT = "/contacts"
CONSTANT_CONTACT_LISTS_ENDPOINT = "/contact_lists"
CONSTANT_CONTACT_TAGS_ENDPOINT = "/contact_tags"
CONSTANT_CONTACT_CUSTOM_FIELDS_ENDPOINT = "/contact_custom_fields"
CONSTANT_CONTACT_PAGE_SIZE = 500
"""The v3 API's largest ``limit``."""
CONSTANT_CONTACT_STATUS = "all"
"""Every contact, deleted ones included: a deleted contact may still carry its opt-out."""
CONSTANT_CONTACT_INCLUDE = "custom_fields,list_memberships,phone_numbers,street_addresses,taggings"
CONSTANT_CONTACT_REQUESTS_PER_SECOND = 4
CONSTANT_CONTACT_DELETED_STATUS = "removed"
"""The export's word for a deleted contact (the profile maps it to non-marketing)."""
CONSTANT_CONTACT_PHONE_KINDS = ("home", "mobile", "work", "other")
CONSTANT_CONTACT_ADDRESS_KINDS = ("home", "work", "other")
CONSTANT_CONTACT_ADDRESS_PARTS = {
    "street": "Street address line 1",
    "city": "City",
    "state": "State/Province",
    "postal_code": "Zip/Postal Code",
    "country": "Country",
}
"""Street address field → the export's column, ``<column> - <Kind>``."""

API_SCHEMES = (MAILCHIMP_SCHEME, CONSTANT_CONTACT_SCHEME)


@dataclass(frozen=True)
class ApiSourceKind:
    """What an API source is, as ``onramp inspect`` tells it.

    Attributes:
        provider: The provider's API.
        endpoint: The request that lists the records (``{name}``: the URI's name).
        consent: Where each row's status comes from.
    """

    provider: str
    endpoint: str
    consent: str


API_SOURCE_KINDS = {
    MAILCHIMP_SCHEME: ApiSourceKind(
        "Mailchimp Marketing API v3",
        f"GET {MAILCHIMP_MEMBERS_ENDPOINT.replace('{list_id}', '{name}')} (every status)",
        "each member's status",
    ),
    CONSTANT_CONTACT_SCHEME: ApiSourceKind(
        "Constant Contact v3 API",
        f"GET {CONSTANT_CONTACT_CONTACTS_ENDPOINT}?status={CONSTANT_CONTACT_STATUS}",
        f"each contact's permission_to_send, as the export's Email status ({CONSTANT_CONTACT_DELETED_STATUS}: deleted)",
    ),
}


def api_scheme(source: str) -> str | None:
    """The provider a SOURCE names (``mailchimp``, ``constantcontact``), or None for a file."""
    scheme, separator, _ = source.partition("://")
    return scheme.lower() if separator and scheme.lower() in API_SCHEMES else None


# --- HTTP ----------------------------------------------------------------------------------

REQUEST_TIMEOUT_SECONDS = 120.0
"""Mailchimp ends a call after 120 s; Constant Contact's pages are answered well within it."""


@dataclass(frozen=True)
class RetryPolicy:
    """How a request is retried on 429, 5xx and dropped connections.

    Attributes:
        attempts: Tries in all before giving up.
        first_delay: Seconds before the first retry; doubled each time, jittered.
        max_delay: The longest wait between two tries.
    """

    attempts: int = 8
    first_delay: float = 1.0
    max_delay: float = 60.0
