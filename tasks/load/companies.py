"""Companies from the contacts' company columns, each contact associated with its company.

What HubSpot's importer does for "contacts associated with another object", done with the CRM
APIs instead of a multi-object import, because a multi-object import is always non-marketing
(reference §4) and would undo the marketing imports. Per contacts file, after it is loaded:

1. each contact's company domain: its ``website``'s host, else its email's domain unless that
   is a mail provider's (``free_mail_domains.txt``); a contact with neither gets no company.
   The company's name is the first ``company`` cell among its contacts, else the domain;
2. the contacts' ids, read back by email, 100 a request. A contact HubSpot does not hold (its
   row failed to load; the ledger says why) is counted ``missing`` and makes no company;
3. the companies of the domains of the contacts HubSpot holds: those this migration made
   before (the journal), then those HubSpot already has (search by ``domain``), and the rest
   created with ``batch/create``. A company is keyed by its domain, so no run makes a second
   company for a domain;
4. each contact associated with its company by the default (unlabeled) association, 100 pairs
   a request.

A file whose contacts step did not finish (its import, or on the upsert path its
marketing-status import, did not end ``DONE``) sends nothing at all: its rows are counted
``waiting``, with the reason, and the rerun that sends its contacts again does its companies.
So every row of a file is counted once: ``associated``, ``not_associated``, ``without_company``,
``missing`` or ``waiting``.

A contact HubSpot would not associate with its company (an association limit its admin set, any
refusal of an input of a batch), or whose company HubSpot would not create, is an error of the
file's result, by its file and line, source rows and why, and counted in ``not_associated``. A step with such
errors is not recorded done (:func:`~tasks.load.resume.leave_unrecorded`): the refusal comes from
the portal, not from the plan, so once it is mended there (a limit raised), the same command
associates them.

Files are done one after another: two files sharing a domain side by side would both find it
missing and both create it.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import fsspec
import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.csv_safety import restore_formulas
from tasks.errors import LoadError
from tasks.load import settings
from tasks.load.batches import chunked
from tasks.load.client import HubSpotPortal
from tasks.load.contact_ids import EMAIL_COLUMN, contact_ids
from tasks.load.log import get_logger
from tasks.load.plan import LoadPlan, read_header, tie_back
from tasks.load.resume import leave_unrecorded
from tasks.load.retry import HttpError, describe
from tasks.output import record_kept, record_written

FREE_MAIL_DOMAINS = frozenset(
    line.strip()
    for line in (Path(__file__).parent / "free_mail_domains.txt").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
)
COMPANY_COLUMN = "company"
WEBSITE_COLUMN = "website"
DOMAIN = "domain"
NAME = "name"
LINE = "line"
CONTACT = "contact"
# The load errors of contacts left without their company: their scope, and why.
ASSOCIATION_SCOPE = "association"
ASSOCIATION_REFUSED = "ASSOCIATION_REFUSED"
COMPANY_NOT_CREATED = "COMPANY_NOT_CREATED"
_COMPANIES_PATH = "/crm/v3/objects/companies"
_ASSOCIATE_PATH = "/crm/v4/associations/contacts/companies/batch/associate/default"
# A host name: dot-separated labels of letters, digits and hyphens, at least two labels.
_DOMAIN_PATTERN = r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$"
_SCHEME = r"^[a-z][a-z0-9+.-]*://"
# A file's result says where each of its domains' company came from, so that the totals can
# count distinct companies across files. A company this migration created, in any file, counts
# as created; one HubSpot had before, as existing; one HubSpot refused to create, as neither.
ORIGINS = "origins"
CREATED, EXISTING, NOT_CREATED = "created", "existing", "not created"
ORIGIN_RANK = {NOT_CREATED: 0, EXISTING: 1, CREATED: 2}


class CompanyJournal:
    """The companies this migration created, by domain, kept in files written whole.

    HubSpot's search finds a new record only "a few moments" after it is written, so a run
    killed right after a create could search again and not see the company it made; the
    journal is what prevents a second one. Each create's companies are written as soon as
    HubSpot answers, as a file of JSON lines of their own (``<key>-NNNNNN.jsonl``): an object
    store has no append, and a file written whole is never left half written. One load writes
    at a time (its lock and lease), so the numbers never collide. An earlier version appended
    to ``<key>.jsonl``, which is read as well; a partial last line of it is skipped.

    Args:
        records: The load's records folder (a path or fsspec URL; ``None``: kept in memory only).
        portal_url: The portal's base URL.
    """

    def __init__(self, records: str | Path | None, portal_url: str) -> None:
        self.key = hashlib.sha256(portal_url.rstrip("/").encode()).hexdigest()[:16]
        self.directory = f"{str(records).rstrip('/')}/companies" if records is not None else None
        self.ids: dict[str, str] = {}
        self.files = 0
        if self.directory is None:
            return
        fs, folder = fsspec.core.url_to_fs(self.directory)
        earlier = f"{folder}/{self.key}.jsonl"
        # The earlier version's file first, the rest in the order written; fetched together.
        with record_kept(self.directory):
            paths = sorted(fs.glob(f"{folder}/{self.key}*.jsonl"), key=lambda path: (path != earlier, path))
            contents = fs.cat(paths) if paths else {}
        self.files = len(paths)
        for path in paths:
            for line in contents[path].decode("utf-8").splitlines():
                try:
                    record = json.loads(line)
                    self.ids[record[DOMAIN]] = record["id"]
                except (ValueError, KeyError, TypeError):
                    continue

    def record(self, created: dict[str, str]) -> None:
        """Record companies just created (``{domain: id}``)."""
        self.ids.update(created)
        if self.directory is None or not created:
            return
        self.files += 1
        with record_written(f"{self.directory}/{self.key}-{self.files:06d}.jsonl") as handle:
            handle.writelines(json.dumps({DOMAIN: domain, "id": company_id}) + "\n" for domain, company_id in created.items())


def _unneutralised(column: str) -> pl.Expr:
    return restore_formulas(pl.col(column)).str.strip_chars()


def _valid_domain(host: pl.Expr) -> pl.Expr:
    """``host`` when it is a domain and not a mail provider's, else null."""
    return pl.when(host.str.contains(_DOMAIN_PATTERN) & ~host.is_in(list(FREE_MAIL_DOMAINS))).then(host)


def company_links(path: Path) -> pl.DataFrame:
    """Each contact of a contacts file with its company's domain and name, when it has one.

    Returns:
        Columns ``email``, ``domain``, ``name`` (the contact's ``company`` cell, or null) and
        ``line`` (its line in the file, the header line 1, counted in records as lineage counts
        them), one row per contact with a domain, in file order.
    """
    present = set(read_header(path))
    wanted = [column for column in (EMAIL_COLUMN, COMPANY_COLUMN, WEBSITE_COLUMN) if column in present]
    rows = pl.read_csv(path, columns=wanted, infer_schema=False, encoding="utf8-lossy", glob=False)
    website = (
        _unneutralised(WEBSITE_COLUMN).str.to_lowercase().str.replace(_SCHEME, "").str.replace(r"^www\.", "")
        .str.replace(r"[/?#:].*$", "")
        if WEBSITE_COLUMN in present
        else pl.lit(None, pl.String)
    )
    email = _unneutralised(EMAIL_COLUMN).str.to_lowercase()
    name = pl.when(_unneutralised(COMPANY_COLUMN) != "").then(_unneutralised(COMPANY_COLUMN)) if COMPANY_COLUMN in present else pl.lit(None, pl.String)
    return rows.select(
        email.alias(EMAIL_COLUMN),
        pl.coalesce(_valid_domain(website), _valid_domain(email.str.split("@").list.last())).alias(DOMAIN),
        name.alias(NAME),
        (pl.int_range(pl.len(), dtype=pl.Int64) + 2).alias(LINE),
    ).drop_nulls(DOMAIN)


def domain_search_body(domains: list[str]) -> dict[str, Any]:
    """The body of a company search for these domains (one ``IN`` filter)."""
    return {
        "filterGroups": [{"filters": [{"propertyName": DOMAIN, "operator": "IN", "values": domains}]}],
        "properties": [DOMAIN],
        "limit": settings.COMPANY_SEARCH_PAGE_SIZE,
    }


def domain_search_batches(domains: list[str]) -> Iterator[list[str]]:
    """The domains in batches of one search each: at most ``COMPANY_SEARCH_VALUES``, and no more
    than keep the search's body, as sent, within HubSpot's ``SEARCH_BODY_MAX_CHARACTERS`` with
    room for a next page's cursor (long domains make smaller batches).

    Args:
        domains: The domains to search for, each at most 253 characters (DNS's limit).

    Yields:
        Consecutive batches, in order, every domain in one.
    """
    room = settings.SEARCH_BODY_MAX_CHARACTERS - settings.SEARCH_CURSOR_ROOM
    # As requests sends it (json.dumps' default separators): each domain after the first adds
    # itself, quoted, and ", " to the body of one domain less.
    empty = len(json.dumps(domain_search_body([])))
    batch: list[str] = []
    size = empty
    for domain in domains:
        added = len(json.dumps(domain)) + (2 if batch else 0)
        if batch and (len(batch) == settings.COMPANY_SEARCH_VALUES or size + added > room):
            yield batch
            batch, size, added = [], empty, len(json.dumps(domain))
        batch.append(domain)
        size += added
    if batch:
        yield batch


def _search_existing(portal: HubSpotPortal, domains: list[str]) -> dict[str, str]:
    """The companies HubSpot has for these domains; of several for one domain, the oldest."""
    found: dict[str, str] = {}
    for batch in domain_search_batches(domains):
        body = domain_search_body(batch)
        while True:
            try:
                page = portal.request("POST", f"{_COMPANIES_PATH}/search", json=body) or {}
            except HttpError as error:
                raise LoadError(f"cannot search HubSpot companies by domain: {describe(error)}") from error
            for company in page.get("results", []):
                domain = str((company.get("properties") or {}).get(DOMAIN) or "").lower()
                company_id = str(company["id"])
                if domain not in found or int(company_id) < int(found[domain]):
                    found[domain] = company_id
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
            body = {**body, "after": after}
    return found


def _create(portal: HubSpotPortal, companies: dict[str, str], journal: CompanyJournal) -> list[str]:
    """Create companies (``{domain: name}``), 100 a request; returns HubSpot's refusals."""
    problems: list[str] = []
    for batch in chunked(list(companies.items()), settings.COMPANY_BATCH_SIZE):
        body = {
            "inputs": [
                {"properties": {DOMAIN: domain, NAME: name}, "objectWriteTraceId": domain} for domain, name in batch
            ]
        }
        try:
            answer = portal.request("POST", f"{_COMPANIES_PATH}/batch/create", json=body, landed=_made_by(portal, batch)) or {}
        except HttpError as error:
            problems.append(describe(error))
            continue
        journal.record(
            {str(company["properties"][DOMAIN]).lower(): str(company["id"]) for company in answer.get("results", [])}
        )
        problems.extend(str(error.get("message")) for error in answer.get("errors", []))
    return problems


def _made_by(portal: HubSpotPortal, batch: list[tuple[str, str]]) -> Callable[[], dict[str, Any] | None]:
    """What finds a lost ``batch/create`` of ``batch`` (``(domain, name)`` pairs HubSpot had no
    company for) applied: the companies HubSpot now has for its domains, as the create would
    have answered them; ``None`` when it has none (nothing was made: send it again). A second
    create would make every company twice."""

    def landed() -> dict[str, Any] | None:
        found = _search_existing(portal, [domain for domain, _name in batch])
        if not found:
            return None
        return {"results": [{"id": company_id, "properties": {DOMAIN: domain}} for domain, company_id in found.items()]}

    return landed


class Association(NamedTuple):
    """A contact to associate with its company: its email, its record id and the company's."""

    email: str
    contact: str
    company: str


def refusals(batch: list[Association], answer: dict[str, Any]) -> dict[str, str]:
    """Why HubSpot did not associate each contact of a batch its answer has no result for.

    A batch answer's ``results`` are the associations made; its ``errors`` do not always say
    which input they are about. A contact is refused when no result pairs it with its company,
    and its reason is the message of the error whose ``context`` names its record id, else those
    of the errors that name no contact of the batch.

    Args:
        batch: The batch sent.
        answer: HubSpot's answer to it.

    Returns:
        ``{email: why}`` for each contact left without its company.
    """
    made = {
        (str((result.get("from") or {}).get("id")), str((result.get("to") or {}).get("id")))
        for result in answer.get("results") or []
    }
    named = [(_named_ids(error), str(error.get("message"))) for error in answer.get("errors") or []]
    contacts = {item.contact for item in batch}
    unnamed = "; ".join(dict.fromkeys(message for ids, message in named if not ids & contacts)) or "HubSpot gave no reason"

    def why(contact: str) -> str:
        return next((message for ids, message in named if contact in ids), unnamed)

    return {item.email: why(item.contact) for item in batch if (item.contact, item.company) not in made}


def _named_ids(error: dict[str, Any]) -> set[str]:
    """The values a batch error's ``context`` names (record ids among them)."""
    context = error.get("context") or {}
    return {str(value) for values in context.values() if isinstance(values, list) for value in values}


def _associate(portal: HubSpotPortal, associations: Iterable[Association]) -> tuple[int, dict[str, str]]:
    """Associate contacts with their companies by default, 100 a request.

    Returns:
        How many were associated, and why each refused contact was (``{email: why}``).
    """
    done, refused = 0, {}
    for batch in chunked(associations, settings.ASSOCIATION_BATCH_SIZE):
        body = {"inputs": [{"from": {"id": item.contact}, "to": {"id": item.company}} for item in batch]}
        try:
            answer = portal.request("POST", _ASSOCIATE_PATH, json=body) or {}
        except HttpError as error:
            refused.update((item.email, describe(error)) for item in batch)
            continue
        left = refusals(batch, answer)
        done += len(batch) - len(left)
        refused.update(left)
    return done, refused


def _not_associated_errors(
    plan: LoadPlan, file: str, held: pl.DataFrame, refused: dict[str, str], companies: dict[str, str]
) -> list[dict[str, Any]]:
    """The load errors of a file's contacts left without their company, by line, with their
    sources (``tie_back``); never an email.

    Args:
        plan: The plan (its lineage names the sources).
        file: The contacts file.
        held: The file's contacts HubSpot holds (:func:`_held`).
        refused: Why HubSpot refused each association, by email.
        companies: The company ids HubSpot has, by domain: a contact whose domain has none is
            one whose company HubSpot did not create.
    """
    left = held.filter(~pl.col(DOMAIN).is_in(list(companies)) | pl.col(EMAIL_COLUMN).is_in(list(refused)))
    errors = [
        {"file": file, "line": line, "error_type": ASSOCIATION_REFUSED, "scope": ASSOCIATION_SCOPE,
         DOMAIN: domain, "message": f"not associated with its company: {refused[email]}"}
        if domain in companies
        else {"file": file, "line": line, "error_type": COMPANY_NOT_CREATED, "scope": ASSOCIATION_SCOPE,
              DOMAIN: domain, "message": f"HubSpot did not create the company of {domain} (load.companies.problems says why)"}
        for email, domain, line in left.select(EMAIL_COLUMN, DOMAIN, LINE).iter_rows()
    ]
    return tie_back(plan, sorted(errors, key=lambda error: error["line"]))


def _held(portal: HubSpotPortal, contacts: pl.DataFrame) -> pl.DataFrame:
    """The contacts of :func:`company_links` (one row per email) that HubSpot holds, with their
    record ids (column ``contact``), read back by email, 100 a request; file order."""
    found = [
        pl.DataFrame({EMAIL_COLUMN: list(ids), CONTACT: list(ids.values())}, schema={EMAIL_COLUMN: pl.String, CONTACT: pl.String})
        for _asked, ids in contact_ids(portal, iter(contacts[EMAIL_COLUMN]))
    ]
    if not found:
        return contacts.clear().with_columns(pl.lit(None, pl.String).alias(CONTACT))
    return contacts.join(pl.concat(found), on=EMAIL_COLUMN, how="inner", maintain_order="left")


def load_file_companies(
    portal: HubSpotPortal, plan: LoadPlan, entry: dict[str, Any], journal: CompanyJournal, waiting: str | None = None
) -> dict[str, Any]:
    """Create a loaded contacts file's companies (those missing) and associate its contacts.

    Args:
        portal: The portal.
        plan: The plan.
        entry: The file's ``imports`` entry.
        journal: The companies this migration created (shared by the files, which run one
            after another).
        waiting: Why the file's contacts are not to get their companies yet
            (``tasks/load/run.py``'s ``contacts_waiting``), ``None`` when its contacts step
            finished. Given, nothing is sent (the module's docstring says why).

    Returns:
        ``{"file", "domains", "created", "existing", "associated", "without_company",
        "not_associated", "missing", "waiting", "waiting_reason", "problems", "errors",
        "origins"}``: counts (``created``: companies this step created; ``existing``: those
        HubSpot had before the migration; ``not_associated``: contacts HubSpot holds but would
        not associate with their company, or whose company it would not create; ``missing``:
        contacts with a company domain that HubSpot does not hold, their rows failed to load;
        ``waiting``: the file's rows left for the rerun, because of ``waiting_reason``), HubSpot's
        messages for the companies it would not create, the errors of the contacts not
        associated (``{"file", "line", "error_type", "scope": "association", "domain",
        "message", "sources"}``) and each domain's origin (:func:`_origin`) for
        :func:`companies_report`. With errors, the step is not recorded done (the module's
        docstring says why).
    """
    rows = int(entry.get("rows") or 0)
    if waiting is not None:
        get_logger().info("companies of %s: %d contacts left for the rerun: %s", entry["file"], rows, waiting)
        return _file_result(entry["file"], waiting=rows, waiting_reason=waiting)
    links = company_links(plan.path(entry["file"]))
    # One contact per email, the last row's domain, as HubSpot holds the last row's values.
    held = _held(portal, links.unique(EMAIL_COLUMN, keep="last", maintain_order=True))
    names = links.group_by(DOMAIN, maintain_order=True).agg(pl.col(NAME).drop_nulls().first())
    # Only the domains of contacts HubSpot holds: a row that failed to load makes no company.
    landed = set(held[DOMAIN].unique().to_list())
    wanted = {domain: name for domain, name in zip(names[DOMAIN].to_list(), names[NAME].to_list()) if domain in landed}
    known = {domain: journal.ids[domain] for domain in wanted if domain in journal.ids}
    unknown = [domain for domain in wanted if domain not in known]
    existing = _search_existing(portal, unknown) if unknown else {}
    to_create = {domain: wanted[domain] or domain for domain in unknown if domain not in existing}
    problems = _create(portal, to_create, journal) if to_create else []
    ids = {**existing, **journal.ids}
    associable = held.filter(pl.col(DOMAIN).is_in(list(ids))).select(EMAIL_COLUMN, CONTACT, DOMAIN)
    associated, refused = _associate(
        portal, (Association(email, contact, ids[domain]) for email, contact, domain in associable.iter_rows())
    )
    errors = _not_associated_errors(plan, entry["file"], held, refused, ids)
    if errors:
        leave_unrecorded()
    created = len([domain for domain in to_create if domain in journal.ids])
    get_logger().info(
        "companies of %s: %d domains, %d created, %d associations, %d contacts not associated",
        entry["file"], len(wanted), created, associated, len(errors),
    )
    return _file_result(
        entry["file"],
        domains=len(wanted),
        created=created,
        existing=len(existing),
        associated=associated,
        without_company=max(rows - links.height, 0),
        not_associated=len(errors),
        missing=links[EMAIL_COLUMN].n_unique() - held.height,
        problems=problems,
        errors=errors,
        origins={domain: _origin(domain, existing, journal) for domain in wanted},
    )


def _file_result(
    file: str,
    *,
    domains: int = 0,
    created: int = 0,
    existing: int = 0,
    associated: int = 0,
    without_company: int = 0,
    not_associated: int = 0,
    missing: int = 0,
    waiting: int = 0,
    waiting_reason: str | None = None,
    problems: Iterable[str] = (),
    errors: Iterable[dict[str, Any]] = (),
    origins: dict[str, str] | None = None,
) -> dict[str, Any]:
    """:func:`load_file_companies`' result: what is not given is none."""
    return {
        "file": file,
        "domains": domains,
        "created": created,
        "existing": existing,
        "associated": associated,
        "without_company": without_company,
        "not_associated": not_associated,
        "missing": missing,
        "waiting": waiting,
        "waiting_reason": waiting_reason,
        "problems": list(problems),
        "errors": list(errors),
        ORIGINS: origins or {},
    }


def _origin(domain: str, existing: dict[str, str], journal: CompanyJournal) -> str:
    """Where a domain's company came from: :data:`CREATED` by this migration (this file, an
    earlier file or an earlier run: the journal), :data:`EXISTING` in HubSpot before it, or
    :data:`NOT_CREATED` (HubSpot refused to create it)."""
    if domain in journal.ids:
        return CREATED
    return EXISTING if domain in existing else NOT_CREATED


def companies_report(files: list[dict[str, Any]]) -> dict[str, Any]:
    """The files' company results, with their totals (the load report's ``companies``).

    The files share domains (a company made for file 1 is found again by file 2), so
    ``domains``, ``created`` and ``existing`` count distinct companies, each by the best origin
    any file saw for it (:data:`ORIGIN_RANK`); ``associated`` and ``without_company`` count
    contacts, each in one file, so they are summed, as are ``not_associated``, ``missing``,
    ``waiting`` and the files' ``errors`` (the contacts left without their company, by file and
    line; a file waiting says why in its ``waiting_reason``). Each file's
    ``created`` counts what that file's step created, its ``existing`` what HubSpot had before
    the migration.
    """
    origin_of: dict[str, str] = {}
    for result in files:
        for domain, origin in result.get(ORIGINS, {}).items():
            if ORIGIN_RANK[origin] > ORIGIN_RANK.get(origin_of.get(domain), -1):
                origin_of[domain] = origin
    counts = Counter(origin_of.values())
    # A step finished by an older Onramp (its result cached without origins) can only be added.
    legacy = [result for result in files if ORIGINS not in result]
    return {
        "domains": len(origin_of) + sum(result["domains"] for result in legacy),
        "created": counts[CREATED] + sum(result["created"] for result in legacy),
        "existing": counts[EXISTING] + sum(result["existing"] for result in legacy),
        **{key: sum(result[key] for result in files) for key in ("associated", "without_company")},
        # A step finished by an older Onramp counted no contact as not associated, missing or waiting.
        **{key: sum(result.get(key, 0) for result in files) for key in ("not_associated", "missing", "waiting")},
        "problems": [problem for result in files for problem in result["problems"]],
        "errors": [error for result in files for error in result.get("errors", [])],
        # The per-domain origins stay in the steps' cached results, out of the report; the
        # errors are the totals'.
        "files": [{key: value for key, value in result.items() if key not in (ORIGINS, "errors")} for result in files],
    }


def load_companies(
    portal: HubSpotPortal, plan: LoadPlan, records: str | Path | None = None, waiting: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """:func:`load_file_companies` for every contacts file of the plan, in plan order.

    Args:
        portal: The portal.
        plan: The plan.
        records: Where the :class:`CompanyJournal` is kept (``None``: in memory).
        waiting: Why a file's contacts are not to get their companies yet, by file
            (``tasks/load/run.py``'s ``contacts_waiting``); a file not in it has finished.

    Returns:
        :func:`companies_report` of the files.
    """
    journal = CompanyJournal(records, portal.url)
    waiting = waiting or {}
    return companies_report(
        [load_file_companies(portal, plan, entry, journal, waiting.get(entry["file"])) for entry in plan.imports]
    )


load_file_companies_task = task(
    load_file_companies,
    name="hubspot-companies",
    task_run_name="companies of {entry[file]}",
    # Retries by cause happen per request inside; the portal must not be hashed into a cache key.
    retries=0,
    cache_policy=NO_CACHE,
)
