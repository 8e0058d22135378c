"""Reading an audience from the Mailchimp Marketing API v3: ``mailchimp://<list_id>``.

Endpoints: ``GET /lists/{list_id}/merge-fields`` (the audience's column labels),
``GET /lists/{list_id}/interest-categories`` and ``…/interest-categories/{id}/interests`` (its
group categories and groups), read once at the start, and ``GET /lists/{list_id}/members``
(every member of every status, pages of 1,000, with ``since_last_changed`` for an incremental
run). Member pages are requested up to ``MAILCHIMP_MAX_CONNECTIONS`` at once (Mailchimp's 10
simultaneous connections) and staged in offset order; a 429 is retried, and halves the pages
requested at once, which grow back one at a time while none is refused: the read settles at the
connections the user's other apps leave free.
Members deleted mid-read make the audience be read again, each member staged once.

Members are written as the audience export writes them (``Email Address``, the merge fields
by label, each group category by title holding the member's groups (``Cats, Dogs``),
``MEMBER_RATING`` … ``LAST_CHANGED``, ``LEID``, ``EUID``, ``TAGS`` as a quoted list),
so the ``mailchimp`` profile maps them; each row carries its member's status. Read for a run
(``read_as_export``), each member's consent is read as the export's file of its status would
read it: a merge field named like a plain opt-out flag, and a mapping's ``[[status.rules]]``,
may only make the member's own status more restrictive.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import polars as pl

from schemas.lineage import SOURCE_STATUS
from schemas.params import SourceCredentials
from tasks.errors import InputError
from tasks.extract.api_credentials import mailchimp_api_key
from tasks.extract.api_helpers import (
    ApiClient,
    StagedPage,
    ApiSource,
    canonical_time,
    export_readings,
    label_copies,
    offset_pages,
    parse_since,
    quoted_list,
    source_parts,
    stage_pages,
    staged_source,
    text,
    unique_headers,
    with_statuses,
)
from tasks.extract.api_settings import (
    EMAIL_PERMISSION_OFF_STATUS,
    MAILCHIMP_BASE_URL,
    MAILCHIMP_BASE_URL_ENV,
    MAILCHIMP_EMAIL_PERMISSION,
    MAILCHIMP_EXCLUDE_FIELDS,
    MAILCHIMP_GROUP_SEPARATOR,
    MAILCHIMP_INTEREST_CATEGORIES_ENDPOINT,
    MAILCHIMP_INTERESTS_ENDPOINT,
    MAILCHIMP_MAX_CONNECTIONS,
    MAILCHIMP_MEMBER_COLUMNS,
    MAILCHIMP_MEMBERS_ENDPOINT,
    MAILCHIMP_MERGE_FIELDS_ENDPOINT,
    MAILCHIMP_MERGE_LABELS,
    MAILCHIMP_PAGE_SIZE,
    MAILCHIMP_PERMISSIONS_COLUMN,
    MAILCHIMP_SCHEME,
    MAILCHIMP_TAGS_COLUMN,
    MAILCHIMP_TIME_COLUMNS,
    MAILCHIMP_UNKNOWN_ZERO_COLUMNS,
    RetryPolicy,
)
from tasks.extract.locations import check_api_url
from tasks.extract.mailchimp import FORMAT
from tasks.transform.catalog import ReadingProfile, consent_headers
from tasks.transform.consent import DEFAULT_OUTCOME, SEVERITY, severity_expr

_DATA_CENTRE = re.compile(r"-([a-z]+[0-9]+)$", re.IGNORECASE)


@dataclass(frozen=True)
class GroupCategory:
    """One of an audience's group categories (``interest-categories``), as the export writes it:
    a column titled like it, holding each member's groups of it.

    Attributes:
        title: The category's title, the export's header.
        groups: Each group's (``interest``) id → its name, in the audience's display order.
    """

    title: str
    groups: dict[str, str]


def base_url_for(api_key: str, source: str) -> str:
    """The API base of the key's data centre (``…-us6`` → ``https://us6.api.mailchimp.com/3.0``).

    Raises:
        InputError: The key has no data-centre suffix.
    """
    match = _DATA_CENTRE.search(api_key)
    if match is None:
        raise InputError(source, "the Mailchimp API key has no data-centre suffix (a key ends like '-us6')")
    # Host names are case-insensitive; Mailchimp issues lower-case keys, a user may retype one.
    return MAILCHIMP_BASE_URL.format(dc=match.group(1).lower())


def read_uri(
    source: str,
    staging_dir: Path,
    environ: Mapping[str, str],
    credentials: SourceCredentials = SourceCredentials(),
    retry: RetryPolicy = RetryPolicy(),
) -> ApiSource:
    """Read ``mailchimp://<list_id>[?since=<ISO 8601>]`` with the key from the environment or a
    Prefect Secret block (``tasks.extract.api_credentials``).

    Args:
        source: The source URI.
        staging_dir: Where the members are staged.
        environ: The environment: the key's variable and, for an emulator, ``MAILCHIMP_BASE_URL``.
        credentials: Where the key is (names of a variable and a block).
        retry: How failed requests are retried.

    Raises:
        InputError: A malformed URI, no key, or the API refuses or keeps failing.
    """
    list_id, since = source_parts(source, "mailchimp://<list_id>[?since=<ISO 8601 time>]")
    api_key = mailchimp_api_key(source, credentials, environ)
    overridden = environ.get(MAILCHIMP_BASE_URL_ENV, "").strip()
    if not overridden:
        return read_members(list_id, staging_dir, api_key, base_url_for(api_key, source), since, source=source, retry=retry)
    base_url = check_api_url(overridden, source, MAILCHIMP_BASE_URL_ENV, "https://us6.api.mailchimp.com/3.0")
    # A malformed ``since`` is refused before the try: it has nothing to do with the address.
    parse_since(source, since)
    try:
        return read_members(list_id, staging_dir, api_key, base_url, since, source=source, retry=retry)
    except InputError as error:
        # Said where the requests went: a mistyped address otherwise reads as Mailchimp being down.
        where = f"the API at {httpx.URL(base_url).netloc.decode()}, set by {MAILCHIMP_BASE_URL_ENV}"
        raise InputError(error.uri, f"{error.problem} ({where})", error.line) from None


def read_members(
    list_id: str,
    staging_dir: Path,
    api_key: str,
    base_url: str,
    since: str | None = None,
    *,
    source: str | None = None,
    retry: RetryPolicy = RetryPolicy(),
    connections: int = MAILCHIMP_MAX_CONNECTIONS,
) -> ApiSource:
    """Stage every member of an audience as an export-shaped CSV and scan it.

    Args:
        list_id: The audience id.
        staging_dir: Where the CSV goes; keep it until the frame is collected.
        api_key: The API key (sent as the Basic-auth password, never in a URL).
        base_url: The API base (``https://<dc>.api.mailchimp.com/3.0``, or an emulator's).
        since: Only members changed after this ISO 8601 time.
        source: The source as the user named it (default ``mailchimp://<list_id>``).
        retry: How failed requests are retried.
        connections: Member pages requested at once, at most: fewer while Mailchimp answers
            429 (1: one after the other; the staged file is the same).

    Returns:
        The audience's RawSource: status ``per-row``, lineage ``mailchimp://<list_id>#page=<n>``.
    """
    source = source or f"{MAILCHIMP_SCHEME}://{list_id}"
    changed_after = parse_since(source, since)
    auth = httpx.BasicAuth("onramp", api_key)
    with ApiClient(base_url, source, "Mailchimp", auth, retry, throttled=connection_limit_403) as client:
        labels, groups, copies = member_columns(merge_field_labels(client, list_id), group_categories(client, list_id))
        headers = member_headers(labels, groups)
        params = {"exclude_fields": MAILCHIMP_EXCLUDE_FIELDS}
        if changed_after is not None:
            params["since_last_changed"] = changed_after.isoformat()
        pages = member_pages(client, list_id, params, connections)
        staged = (
            StagedPage(f"{MAILCHIMP_SCHEME}://{list_id}#page={number}", [member_row(m, labels, groups) for m in page])
            for number, page in enumerate(pages, start=1)
        )
        path = staging_dir / "api" / f"mailchimp-{list_id}.csv"
        stage_pages(staged, headers, path)
    return staged_source(source, path, headers, FORMAT, copies=copies)


def read_as_export(
    audience: ApiSource, profile: ReadingProfile, consent_overrides: Mapping[str, str]
) -> tuple[ApiSource, ReadingProfile]:
    """An audience as read (``read_uri``), each member's status read as the audience export's
    file of that status would read it (``tables.read_table``): a run reads one person alike
    from either source.

    A merge field named like a plain opt-out flag (``Do Not Email``, ``Unsubscribed``) is read
    as one (``reading_opt_out_flags``: set, it gives ``opt_out_flag_unconfirmed``), and so is
    another profile's consent column for its opt-outs (``Email Suppressions``), but
    for a member whose own status opts out (as in the export's file of that status, whose name
    opts out: a flag set agrees with it); the columns a mapping's ``[[status.rules]]`` read are
    read for every member. Each member's status is the most restrictive of its own and theirs
    (``ReadingProfile.floored_status_expr``, the member's status standing for the status an
    export's file name gives): an unsubscribed or cleaned member stays opted out, and an
    opt-out a column holds is never lost. A member with no status (null or empty) is read as
    one of a status opting out nothing, never marketing (``_read_without_a_status``). Merge
    fields sharing a label (the export repeats the header) are each read
    (``reading_every_copy``): a flag set in any of them is read.

    Args:
        audience: The audience's RawSource, each row carrying its member's status.
        profile: The ``mailchimp`` profile with the user's mapping and the run's ``--consent``
            applied (``tables.ReadOptions.applied``).
        consent_overrides: The run's ``--consent``, applied again once the profile borrowed a
            status of its own (``opt_out_flag_unconfirmed=opted_out``), as for an export.

    Returns:
        The audience's RawSource and the profile that read it (``export_readings``);
        ``audience`` itself and ``profile`` reading every copy of a repeated label when no rule
        reads any of its columns.
    """
    headers = audience.headers
    profile, flags_read = export_readings(audience, profile, consent_overrides)
    if not consent_headers(flags_read, headers):
        return audience, profile
    member_status = pl.col(SOURCE_STATUS)
    # The floor is a status, not an expression: each status the audience's members have gets
    # a branch of its own (Mailchimp has six; one it adds is read too, never dropped). Finding
    # them is one pass over the staged file's status column, only when a rule reads a column.
    statuses = audience.frame.select(member_status.unique()).collect().to_series().drop_nulls().sort().to_list()
    status = pl.when(member_status.is_null()).then(_read_without_a_status(flags_read, headers)).otherwise(member_status)
    for own in statuses:
        status = pl.when(member_status == own).then(_read_as_its_export_file(own, profile, flags_read, headers)).otherwise(status)
    return with_statuses(audience, flags_read, status), flags_read


def _read_as_its_export_file(own: str, profile: ReadingProfile, flags_read: ReadingProfile, headers: list[str]) -> pl.Expr:
    """The status of a member whose own is ``own``, as the export's file of that status reads
    it (``read_as_export``): with ``flags_read`` (``profile`` reading plain opt-out flags too),
    but where ``own`` opts out, as such a file's name does."""
    reading = profile if own.lower() in profile.profile.consent.opt_out_statuses else flags_read
    return reading.floored_status_expr(headers, own)


def _read_without_a_status(flags_read: ReadingProfile, headers: list[str]) -> pl.Expr:
    """The status of a member Mailchimp gives no status (null or empty), as an export file of a
    status opting out nothing reads it (``read_as_export``): its columns' reading where that is
    never marketing (a flag set, a rule's opt-out, a value no rule reads), else null, the
    status no policy names (``consent.DEFAULT_OUTCOME``: non-marketing). A rule reading it as
    marketing is as far below a missing status as below one Mailchimp adds."""
    reading = flags_read.reading_expr(headers)
    outcome = flags_read.profile.consent.status_outcome_expr(reading)
    return pl.when(reading.is_not_null() & (severity_expr(outcome) >= SEVERITY[DEFAULT_OUTCOME])).then(reading)


def connection_limit_403(response: httpx.Response) -> bool:
    """Whether an answer is Mailchimp's connection limit answered as a 403 with no body, as it
    sometimes is instead of a 429 (source-formats.md §2); a refused key's 403 has a body."""
    return response.status_code == 403 and not response.content.strip()


def merge_field_labels(client: ApiClient, list_id: str) -> dict[str, str]:
    """Each merge field's tag → its label, the export's column name (``FNAME`` → ``First Name``),
    email first; two fields may share a label."""
    path = MAILCHIMP_MERGE_FIELDS_ENDPOINT.format(list_id=list_id)
    pages = offset_pages(client, path, "merge_fields", MAILCHIMP_PAGE_SIZE, id_key="merge_id", collection="audience's merge fields")
    fields = [field for page in pages for field in page]
    tags = ["EMAIL", *(field["tag"] for field in fields if field["tag"] != "EMAIL")]
    names = {field["tag"]: field.get("name") for field in fields}
    return {tag: names.get(tag) or MAILCHIMP_MERGE_LABELS.get(tag, tag) for tag in tags}


def group_categories(client: ApiClient, list_id: str) -> list[GroupCategory]:
    """The audience's group categories and their groups, each in display order (as the
    export's columns and a cell's groups are)."""
    path = MAILCHIMP_INTEREST_CATEGORIES_ENDPOINT.format(list_id=list_id)
    pages = offset_pages(client, path, "categories", MAILCHIMP_PAGE_SIZE, collection="audience's group categories")
    categories = sorted((category for page in pages for category in page), key=_display_order)
    return [GroupCategory(text(category.get("title")) or category["id"], _groups(client, list_id, category["id"])) for category in categories]


def _groups(client: ApiClient, list_id: str, category_id: str) -> dict[str, str]:
    path = MAILCHIMP_INTERESTS_ENDPOINT.format(list_id=list_id, category_id=category_id)
    pages = offset_pages(client, path, "interests", MAILCHIMP_PAGE_SIZE, collection="audience's groups")
    return {group["id"]: text(group.get("name")) for group in sorted((group for page in pages for group in page), key=_display_order)}


def _display_order(item: Mapping) -> int:
    return item.get("display_order") or 0


def member_columns(
    labels: Mapping[str, str], categories: list[GroupCategory]
) -> tuple[dict[str, str], dict[str, GroupCategory], dict[str, tuple[str, ...]]]:
    """Each merge field's tag → its column in the staged file, each group category's column →
    the category, and each column whose label other fields (or a system column) share → their
    columns (``label_copies``).

    A merge field or group category labelled like a system column (a ``TAGS`` field) or like
    another gets a column of its own (``TAGS (2)``, ``Do Not Email (2)``): the system columns
    keep their names, the mailchimp profile maps them.
    """
    system = [*MAILCHIMP_MEMBER_COLUMNS, MAILCHIMP_TAGS_COLUMN, MAILCHIMP_PERMISSIONS_COLUMN]
    names = [*system, *labels.values(), *(category.title for category in categories)]
    unique = unique_headers(names)
    label_columns = unique[len(system) : len(system) + len(labels)]
    group_columns = unique[len(system) + len(labels) :]
    return (
        dict(zip(labels, label_columns, strict=True)),
        dict(zip(group_columns, categories, strict=True)),
        label_copies(names, unique),
    )


def member_headers(labels: Mapping[str, str], groups: Mapping[str, GroupCategory]) -> list[str]:
    """The staged file's columns: the merge fields (email first), the group categories, then
    the system columns."""
    return [*labels.values(), *groups, *MAILCHIMP_MEMBER_COLUMNS, MAILCHIMP_TAGS_COLUMN, MAILCHIMP_PERMISSIONS_COLUMN]


def member_pages(
    client: ApiClient, list_id: str, params: Mapping[str, str], connections: int = MAILCHIMP_MAX_CONNECTIONS
) -> Iterator[list[dict]]:
    """Every member of the audience, all statuses, in pages of up to 1,000 requested
    ``connections`` at a time, each with the same ``params`` (``since_last_changed`` included).

    Members deleted while the audience is read would make others be skipped: the audience is
    then read again, each member yielded once (``offset_pages``).

    Yields:
        Each page's member objects not yielded before, in offset order.
    """
    path = MAILCHIMP_MEMBERS_ENDPOINT.format(list_id=list_id)
    yield from offset_pages(client, path, "members", MAILCHIMP_PAGE_SIZE, params, connections, collection="audience")


def member_row(member: Mapping, labels: Mapping[str, str], groups: Mapping[str, GroupCategory]) -> tuple[dict[str, str], str]:
    """A member as an export row, with its status.

    Merge fields go under their labels (an address flattened as the export does:
    ``1 Main St, Bar Harbor, ME  04609  US``), and each group category's column lists the
    member's groups of it (``interests``: ``{id: true}``). The columns are fixed when the read
    begins, from the audience's merge fields and groups: one added while the read runs is not
    read.
    """
    cells = {labels["EMAIL"]: text(member.get("email_address"))}
    for tag, value in (member.get("merge_fields") or {}).items():
        if tag in labels:
            cells[labels[tag]] = _address(value) if isinstance(value, dict) else text(value)
    for column, path in MAILCHIMP_MEMBER_COLUMNS.items():
        value = _at(member, path)
        if column in MAILCHIMP_TIME_COLUMNS:
            value = canonical_time(value)
        elif column in MAILCHIMP_UNKNOWN_ZERO_COLUMNS and value == 0:
            value = ""
        cells[column] = text(value)
    interests = member.get("interests") or {}
    for column, category in groups.items():
        cells[column] = MAILCHIMP_GROUP_SEPARATOR.join(name for group, name in category.groups.items() if interests.get(group) is True)
    cells[MAILCHIMP_TAGS_COLUMN] = quoted_list(tag["name"] for tag in member.get("tags") or [])
    permissions = member.get("marketing_permissions") or []
    cells[MAILCHIMP_PERMISSIONS_COLUMN] = "; ".join(
        f"{text(permission.get('text'))}: {'yes' if permission.get('enabled') else 'no'}" for permission in permissions
    )
    return cells, permission_status(text(member.get("status")), permissions)


def permission_status(status: str, permissions: list[Mapping]) -> str:
    """A member's status, its marketing permissions weighed (a GDPR-enabled audience's).

    A subscribed member is ``EMAIL_PERMISSION_OFF_STATUS`` (non-marketing, unless a run's
    ``--consent`` says otherwise) when a permission naming email
    (:data:`MAILCHIMP_EMAIL_PERMISSION`) is not enabled, or, when none names email, none is
    enabled: Mailchimp asks senders to email only those who opted in to it, and a marketing
    contact is one HubSpot cannot make non-marketing again. A member of an audience without
    permissions keeps its status.

    Args:
        status: The member's Mailchimp status.
        permissions: Its ``marketing_permissions`` (``{"text", "enabled"}`` each).
    """
    if status != "subscribed" or not permissions:
        return status
    email = [permission for permission in permissions if MAILCHIMP_EMAIL_PERMISSION.search(text(permission.get("text")))]
    granted = [permission.get("enabled") is True for permission in email or permissions]
    given = all(granted) if email else any(granted)
    return status if given else EMAIL_PERMISSION_OFF_STATUS


def _at(record: Mapping, path: tuple[str, ...]) -> object:
    value: object = record
    for key in path:
        # JSON objects are dicts; checking against the Mapping ABC took about a quarter of the
        # time a member took to read.
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _address(address: Mapping) -> str:
    street = " ".join(part for part in (address.get("addr1"), address.get("addr2")) if part)
    region = "  ".join(part for part in (address.get("state"), address.get("zip"), address.get("country")) if part)
    return ", ".join(part for part in (street, address.get("city"), region) if part)
