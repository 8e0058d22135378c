"""Reading contacts from the Constant Contact v3 API: ``constantcontact://contacts``.

Endpoints: ``GET /contact_lists``, ``/contact_tags`` and ``/contact_custom_fields`` (names for
the ids contacts carry), then ``GET /contacts?status=all&include=…&limit=500`` followed through
``_links.next.href``, with ``updated_after`` for an incremental run. Requests are paced to the
API's 4 a second; a ``throttled`` 429 is waited out, a ``quota_exceeded`` one (10,000 requests
a day) stops the read with when it can resume. An expired access token is refreshed once,
mid-read, when a refresh token is given (``tasks.extract.oauth``).

Contacts are written as the UI export writes them (``Email address``, ``First name``,
``Email status``, ``Phone - mobile``, ``City - Home``, ``Email Lists``, ``Tags``,
``Created At``, custom fields by label; a second phone or street address of one kind under
columns of its own, ``Phone - home 2``, ``City - Home 2``), so the ``constantcontact`` profile
maps them and reads each row's status from its ``Email status`` (``permission_to_send``;
``removed`` for a deleted contact, unless it opted out: see ``email_status``), the most
restrictive reading winning as for an export file. Read for a run (``read_as_export``), a custom field named like a plain
opt-out flag is read too, as in an export file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import polars as pl

from schemas.lineage import SOURCE_ROW
from schemas.params import SourceCredentials
from tasks.errors import InputError
from tasks.extract.api_credentials import (
    ConstantContactCredentials,
    RefreshedTokens,
    constant_contact_credentials,
)
from tasks.extract.api_helpers import (
    ApiClient,
    ApiSource,
    BearerAuth,
    StagedPage,
    canonical_time,
    cursor_pages,
    error_detail,
    export_readings,
    label_copies,
    parse_since,
    quoted_list,
    reading_every_copy,
    source_parts,
    stage_pages,
    staged_source,
    text,
    unique_headers,
    with_statuses,
)
from tasks.extract.api_settings import (
    CONSTANT_CONTACT_ADDRESS_KINDS,
    CONSTANT_CONTACT_ADDRESS_PARTS,
    CONSTANT_CONTACT_BASE_URL,
    CONSTANT_CONTACT_BASE_URL_ENV,
    CONSTANT_CONTACT_CONTACTS_ENDPOINT,
    CONSTANT_CONTACT_CUSTOM_FIELDS_ENDPOINT,
    CONSTANT_CONTACT_DELETED_STATUS,
    CONSTANT_CONTACT_INCLUDE,
    CONSTANT_CONTACT_LISTS_ENDPOINT,
    CONSTANT_CONTACT_PAGE_SIZE,
    CONSTANT_CONTACT_PHONE_KINDS,
    CONSTANT_CONTACT_REQUESTS_PER_SECOND,
    CONSTANT_CONTACT_SCHEME,
    CONSTANT_CONTACT_STATUS,
    CONSTANT_CONTACT_TAGS_ENDPOINT,
    CONSTANT_CONTACT_TOKEN_URL,
    CONSTANT_CONTACT_TOKEN_URL_ENV,
    RetryPolicy,
)
from tasks.extract.locations import check_api_url
from tasks.extract.oauth import RefreshingBearerAuth
from tasks.transform.catalog import ReadingProfile, consent_headers

EMAIL = "Email address"
STATUS = "Email status"
LISTS = "Email Lists"
TAGS = "Tags"
FIXED_COLUMNS = {
    "First name": ("first_name",),
    "Last name": ("last_name",),
    "Company": ("company_name",),
    "Job title": ("job_title",),
    "Email update source": ("update_source",),
    "Confirmed Opt-Out Date": ("email_address", "opt_out_date"),
    "Confirmed Opt-Out Source": ("email_address", "opt_out_source"),
    "Confirmed Opt-Out Reason": ("email_address", "opt_out_reason"),
    "Anniversary": ("anniversary",),
    "Created At": ("created_at",),
    "Updated At": ("updated_at",),
}
"""Export column → the contact field holding it."""
TIME_COLUMNS = frozenset({"Confirmed Opt-Out Date", "Created At", "Updated At"})
BIRTHDAY = "Birthday"
UNSUBSCRIBED = "unsubscribed"
"""The ``permission_to_send`` of a contact who opted out."""
OPT_OUT_FIELDS = ("opt_out_date", "opt_out_source", "opt_out_reason")
"""The ``email_address`` fields Constant Contact fills when a contact opts out."""


def read_uri(
    source: str,
    staging_dir: Path,
    environ: Mapping[str, str],
    profile: ReadingProfile,
    credentials: SourceCredentials = SourceCredentials(),
    retry: RetryPolicy = RetryPolicy(),
) -> ApiSource:
    """Read ``constantcontact://contacts[?since=<ISO 8601>]`` with credentials from the
    environment or a Prefect Secret block (``tasks.extract.api_credentials``).

    Args:
        source: The source URI.
        staging_dir: Where the contacts are staged.
        environ: The environment: the credentials' variables and, for an emulator,
            ``CONSTANT_CONTACT_BASE_URL`` and ``CONSTANT_CONTACT_TOKEN_URL``.
        profile: The reading profile, whose status rules read each row's status.
        credentials: Where the tokens are (names of variables and a block).
        retry: How failed requests are retried.

    Raises:
        InputError: A malformed URI, no credentials, or the API refuses or keeps failing.
    """
    usage = "constantcontact://contacts[?since=<ISO 8601 time>]"
    name, since = source_parts(source, usage)
    if name != "contacts":
        raise InputError(source, f"expected {usage}")
    found = constant_contact_credentials(source, credentials, environ)
    base_url = _endpoint(environ, CONSTANT_CONTACT_BASE_URL_ENV, CONSTANT_CONTACT_BASE_URL, source)
    token_url = _endpoint(environ, CONSTANT_CONTACT_TOKEN_URL_ENV, CONSTANT_CONTACT_TOKEN_URL, source)
    auth = bearer_auth(source, found, token_url)
    return read_contacts(staging_dir, auth, base_url, profile, since, source=source, retry=retry, refusals=token_refusals(found))


def _endpoint(environ: Mapping[str, str], variable: str, default: str, source: str) -> str:
    """The URL ``variable`` overrides an endpoint with (an emulator's), else ``default``.

    Raises:
        InputError: A URL that cannot be requested, refused at once rather than retried.
    """
    url = environ.get(variable, "").strip()
    return check_api_url(url, source, variable, default) if url else default


def bearer_auth(source: str, credentials: ConstantContactCredentials, token_url: str) -> RefreshingBearerAuth:
    """The requests' ``Authorization``: the access token, refreshed through ``token_url`` when
    there is a refresh token (first of all when there is no access token); new tokens go back
    to the Secret block the credentials came from."""
    return RefreshingBearerAuth(
        source, "Constant Contact", token_url, credentials.access_token, credentials.refresh_token,
        credentials.client_id, credentials.client_secret, credentials.origin,
        client_origin=credentials.client_origin, on_new_tokens=RefreshedTokens(credentials),
    )  # fmt: skip


def token_refusals(credentials: ConstantContactCredentials) -> dict[int, str]:
    """What to say when Constant Contact refuses the credentials: with no refresh token, a 401
    is most likely the access token's 24 hours ending (mid-read too), and a refresh token would
    cure it. With one, a 401 has already been refreshed once: the generic refusal says it."""
    if credentials.refresh_token:
        return {}
    return {
        401: "Constant Contact refused the access token (HTTP 401): it has expired (access tokens last 24 hours) "
        f"or is not valid; {credentials.refresh_hint} so Onramp can refresh it"
    }


def read_contacts(
    staging_dir: Path,
    auth: httpx.Auth | str,
    base_url: str,
    profile: ReadingProfile,
    since: str | None = None,
    *,
    source: str = f"{CONSTANT_CONTACT_SCHEME}://contacts",
    retry: RetryPolicy = RetryPolicy(),
    refusals: Mapping[int, str] | None = None,
) -> ApiSource:
    """Stage every contact of the account as an export-shaped CSV and scan it.

    Args:
        staging_dir: Where the CSV goes; keep it until the frame is collected.
        auth: The OAuth2 credentials (``bearer_auth``), or an access token (sent as a Bearer
            header, never in a URL).
        base_url: The API base (``https://api.cc.email/v3``, or an emulator's).
        profile: The reading profile, whose status rules read each row's ``Email status``.
        since: Only contacts updated after this ISO 8601 time.
        source: The source as the user named it.
        retry: How failed requests are retried.
        refusals: What to say, by status, when the credentials are refused (``token_refusals``).

    Returns:
        The contacts' RawSource: status ``per-row``, lineage ``constantcontact://contacts#page=<n>``.
    """
    updated_after = parse_since(source, since)
    client = ApiClient(
        base_url, source, "Constant Contact", BearerAuth(auth) if isinstance(auth, str) else auth, retry,
        requests_per_second=CONSTANT_CONTACT_REQUESTS_PER_SECOND, final_429=quota_spent, refusals=refusals,
    )  # fmt: skip
    with client:
        lists = _names(client, CONSTANT_CONTACT_LISTS_ENDPOINT, "lists", "list_id", "name")
        tags = _names(client, CONSTANT_CONTACT_TAGS_ENDPOINT, "tags", "tag_id", "name")
        fields = _names(client, CONSTANT_CONTACT_CUSTOM_FIELDS_ENDPOINT, "custom_fields", "custom_field_id", "label")
        headers, copies = contact_headers(fields)
        field_columns = dict(zip(fields, headers[len(headers) - len(fields) :], strict=True))
        params = {"status": CONSTANT_CONTACT_STATUS, "include": CONSTANT_CONTACT_INCLUDE, "limit": CONSTANT_CONTACT_PAGE_SIZE}
        if updated_after is not None:
            params["updated_after"] = updated_after.isoformat()
        overflow = OverflowCells(headers)
        staged = (
            StagedPage(
                f"{CONSTANT_CONTACT_SCHEME}://contacts#page={number}",
                [_with_status(overflow.kept(contact_row(contact, lists, tags, field_columns))) for contact in page],
            )
            for number, page in enumerate(contact_pages(client, params), start=1)
        )
        path = staging_dir / "api" / "constantcontact-contacts.csv"
        stage_pages(staged, headers, path)
    # The profile reads each row's status as it reads an export's, user rules included, and
    # every copy of a label it reads (a custom field labelled ``Email status``).
    reading = reading_every_copy(profile, copies)
    raw = overflow.joined(staged_source(source, path, headers, profile.format, reading.status_expr(headers), copies))
    return dataclasses.replace(raw, status_values=reading.status_values(headers))


def read_as_export(
    contacts: ApiSource, profile: ReadingProfile, consent_overrides: Mapping[str, str]
) -> tuple[ApiSource, ReadingProfile]:
    """The contacts as read (``read_uri``), each one's status read as the account's export file
    would read it (``tables.read_table``): a custom field named like a plain opt-out flag
    (``Do Not Email``) is read as one too (``reading_opt_out_flags``: set, it gives
    ``opt_out_flag_unconfirmed``), and so is another profile's consent column for its opt-outs
    (``Email Suppressions``), the most restrictive reading winning. Fields sharing a
    label (the export repeats the header) are each read (``reading_every_copy``).

    Args:
        contacts: The contacts' RawSource, read with ``profile``.
        profile: The ``constantcontact`` profile with the user's mapping and the run's
            ``--consent`` applied (``tables.ReadOptions.applied``).
        consent_overrides: The run's ``--consent``.

    Returns:
        The contacts' RawSource and the profile that read it (``export_readings``);
        ``contacts`` itself and ``profile`` reading every copy of a repeated label when no
        custom field is named like such a flag or column.
    """
    headers = contacts.headers
    profile, flags_read = export_readings(contacts, profile, consent_overrides)
    if consent_headers(flags_read, headers) == consent_headers(profile, headers):
        return contacts, profile
    return with_statuses(contacts, flags_read, flags_read.status_expr(headers)), flags_read


def quota_spent(response: httpx.Response) -> str | None:
    """The message to stop with on a ``quota_exceeded`` 429 (a ``throttled`` one is waited out)."""
    try:
        keys = {item.get("error_key") for item in response.json()}
    except (ValueError, TypeError, AttributeError):
        return None
    if "quota_exceeded" not in keys:
        return None
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    hours, minutes = divmod(int((midnight - now).total_seconds()) // 60, 60)
    return (
        f"Constant Contact's daily request quota is spent ({error_detail(response)}); run again after "
        f"00:00 UTC (in {hours} h {minutes:02d} min) with the same command"
    )


def contact_pages(client: ApiClient, params: Mapping[str, str | int]) -> Iterator[list[dict]]:
    """Every contact the filters select, one page of up to 500 at a time, each once.

    A deleted contact stays listed (``status=all``), so deleting contacts does not move the
    cursor; should the read still end with fewer contacts than the first page counted
    (``contacts_count``), the contacts are read again (``cursor_pages``).

    Yields:
        Each page's contact objects not yielded before.
    """
    yield from cursor_pages(
        client, CONSTANT_CONTACT_CONTACTS_ENDPOINT, "contacts", params,
        id_key="contact_id", count_key="contacts_count", collection="account's contacts",
    )  # fmt: skip


def contact_headers(custom_fields: Mapping[str, str]) -> tuple[list[str], dict[str, tuple[str, ...]]]:
    """The staged file's columns: the export's, then each custom field by its label; and each
    column whose label a custom field shares → the columns of those fields (``label_copies``)."""
    standard = [
        EMAIL, *list(FIXED_COLUMNS)[:4], STATUS, *list(FIXED_COLUMNS)[4:],
        *(phone_column(kind, 1) for kind in CONSTANT_CONTACT_PHONE_KINDS),
        *(address_column(kind, part, 1) for kind in CONSTANT_CONTACT_ADDRESS_KINDS for part in CONSTANT_CONTACT_ADDRESS_PARTS),
        BIRTHDAY, LISTS, TAGS,
    ]  # fmt: skip
    names = [*standard, *custom_fields.values()]
    headers = unique_headers(names)
    return headers, label_copies(names, headers)


class OverflowCells:
    """The cells of a second phone or street address of one kind (``Phone - home 2``), kept
    beside the staged file, whose columns are fixed before any contact is read.

    Constant Contact allows three phones and three addresses of any kinds; the export has one
    column per kind and a second one for a second phone of a kind (``Phone - home 2``). Few
    contacts have one: their cells are held in memory by staged row, and joined to the staged
    file as columns of their own, in the order the kinds are (``joined``).

    Args:
        headers: The staged file's columns.
    """

    def __init__(self, headers: list[str]) -> None:
        self._headers = frozenset(headers)
        self._rows = 0
        self._cells: dict[int, dict[str, str]] = {}

    def kept(self, cells: dict[str, str]) -> dict[str, str]:
        """A staged row's cells as given (rows are numbered as ``stage_pages`` writes them),
        once the cells of no staged column are kept aside."""
        self._rows += 1
        extra = {column: value for column, value in cells.items() if column not in self._headers and value}
        if extra:
            self._cells[self._rows] = extra
        return cells

    def joined(self, raw: ApiSource) -> ApiSource:
        """``raw`` with a column for each overflow cell kept, after the staged file's columns
        (``raw`` itself when none was)."""
        if not self._cells:
            return raw
        columns = sorted({column for cells in self._cells.values() for column in cells}, key=_overflow_order)
        extra = pl.DataFrame(
            {SOURCE_ROW: list(self._cells), **{column: [cells.get(column) for cells in self._cells.values()] for column in columns}},
            schema={SOURCE_ROW: pl.Int64, **dict.fromkeys(columns, pl.String)},
        )
        staged = raw.frame.collect_schema().names()
        frame = raw.frame.join(extra.lazy(), on=SOURCE_ROW, how="left").select(
            *raw.headers, *columns, *(column for column in staged if column not in raw.headers)
        )
        return dataclasses.replace(raw, frame=frame, headers=[*raw.headers, *columns])


def contact_row(
    contact: Mapping, lists: Mapping[str, str], tags: Mapping[str, str], field_columns: Mapping[str, str]
) -> dict[str, str]:
    """A contact as an export row (its status is read from ``Email status`` by the profile)."""
    email = contact.get("email_address") or {}
    cells = {EMAIL: text(email.get("address")), STATUS: email_status(email, deleted=bool(contact.get("deleted_at")))}
    for column, path in FIXED_COLUMNS.items():
        value = contact.get(path[0]) if len(path) == 1 else email.get(path[1])
        cells[column] = canonical_time(value) if column in TIME_COLUMNS else text(value)
    phones = [phone for phone in contact.get("phone_numbers") or [] if text(phone.get("phone_number"))]
    for phone, nth in _nth_of_kind(phones, CONSTANT_CONTACT_PHONE_KINDS):
        cells[phone_column(phone["kind"], nth)] = text(phone.get("phone_number"))
    # An address goes whole under its own columns: two addresses' fields are never mixed.
    for address, nth in _nth_of_kind(contact.get("street_addresses") or [], CONSTANT_CONTACT_ADDRESS_KINDS):
        for part in CONSTANT_CONTACT_ADDRESS_PARTS:
            cells[address_column(address["kind"], part, nth)] = text(address.get(part))
    if contact.get("birthday_month") and contact.get("birthday_day"):
        cells[BIRTHDAY] = f"{contact['birthday_month']:02d}/{contact['birthday_day']:02d}"
    cells[LISTS] = quoted_list(lists.get(list_id, list_id) for list_id in contact.get("list_memberships") or [])
    cells[TAGS] = quoted_list(tags.get(tag_id, tag_id) for tag_id in contact.get("taggings") or [])
    for field in contact.get("custom_fields") or []:
        column = field_columns.get(field.get("custom_field_id"))
        if column is not None:
            cells[column] = text(field.get("value"))
    return cells


def phone_column(kind: str, nth: int) -> str:
    """The export's column of a contact's ``nth`` phone of a kind: ``Phone - home``, then
    ``Phone - home 2`` for a second home phone."""
    return f"Phone - {kind}" + ("" if nth == 1 else f" {nth}")


def address_column(kind: str, part: str, nth: int) -> str:
    """The column of a field of a contact's ``nth`` street address of a kind: ``City - Home``,
    then ``City - Home 2`` for a second home address, as for phones (``phone_column``)."""
    return f"{CONSTANT_CONTACT_ADDRESS_PARTS[part]} - {kind.capitalize()}" + ("" if nth == 1 else f" {nth}")


def _overflow_order(column: str) -> tuple[int, str]:
    """Overflow columns (``OverflowCells``) as the export's are: phones by kind, then addresses
    by kind, each kind's second before its third, an address's fields in the export's order."""
    return _OVERFLOW_PLACES.get(column, len(_OVERFLOW_PLACES)), column


_MORE_OF_A_KIND = (2, 3)
"""The places of the phones or addresses of one kind after the first that Constant Contact's
limit of three allows."""
_OVERFLOW_PLACES = {
    column: place
    for place, column in enumerate(
        [
            *(phone_column(kind, nth) for kind in CONSTANT_CONTACT_PHONE_KINDS for nth in _MORE_OF_A_KIND),
            *(address_column(kind, part, nth) for kind in CONSTANT_CONTACT_ADDRESS_KINDS for nth in _MORE_OF_A_KIND
              for part in CONSTANT_CONTACT_ADDRESS_PARTS),
        ]
    )
}  # fmt: skip


def _nth_of_kind(items: list[Mapping], kinds: tuple[str, ...]) -> Iterator[tuple[dict, int]]:
    """Each phone or address with its kind (one not in ``kinds`` is ``other``) and its place
    among those of that kind (1: the first)."""
    seen: dict[str, int] = {}
    for item in items:
        kind = item.get("kind") if item.get("kind") in kinds else "other"
        seen[kind] = seen.get(kind, 0) + 1
        yield {**item, "kind": kind}, seen[kind]


def email_status(email: Mapping, *, deleted: bool) -> str:
    """A contact's ``Email status``: its ``permission_to_send``, or ``removed`` once deleted,
    unless it opted out.

    Deleting a contact does not undo its opt-out: Constant Contact keeps the address's
    permission and opt-out data, and the README promises a deleted contact still carries its
    opt-out. Read as ``removed`` (non-marketing), an unsubscribed contact deleted since would
    lose it, and a sync would keep it a marketing contact in HubSpot.

    Args:
        email: The contact's ``email_address`` object.
        deleted: Whether the contact has a ``deleted_at``.
    """
    permission = text(email.get("permission_to_send"))
    if not deleted:
        return permission
    opted_out = permission.lower() == UNSUBSCRIBED or any(email.get(name) for name in OPT_OUT_FIELDS)
    return UNSUBSCRIBED if opted_out else CONSTANT_CONTACT_DELETED_STATUS


def _with_status(cells: dict[str, str]) -> tuple[dict[str, str], str]:
    return cells, cells[STATUS]


def _names(client: ApiClient, path: str, items_key: str, id_key: str, name_key: str) -> dict[str, str]:
    """Id → name of an account's lists, tags or custom fields."""
    return {
        item[id_key]: item.get(name_key) or item[id_key]
        for page in cursor_pages(client, path, items_key, {"limit": CONSTANT_CONTACT_PAGE_SIZE}, id_key=id_key)
        for item in page
    }
