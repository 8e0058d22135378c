"""The Imports API: checking an import request, processing its rows, reporting its errors.

An import is checked when it is created (HTTP 400 for a malformed request, 429 for a file over
HubSpot's per-file limits, or, when ``max_imports_per_day`` is set, for one import more than the
portal may create in 24 hours) and then processed in the background: ``STARTED`` → ``PROCESSING`` →
``DONE`` (or ``CANCELED``/``FAILED``). At most ``max_concurrent_imports`` (3) process at once;
the others wait as ``DEFERRED``.

Per row, as HubSpot does: the contact is upserted by its lowercased email; a blank cell never
clears a value; ``marketableContactImport: true`` makes the contact a marketing contact and
``false`` never downgrades one; an import never moves ``lifecyclestage`` backwards; a value that
does not fit its property is skipped and reported, the rest of the row still imports; a row with
an invalid email or the wrong number of cells imports nothing. Columns mapped to companies
(``0-2``) create or update a company (matched by domain, else name) associated with the row's
contact; such multi-object imports are non-marketing, as in HubSpot.

Error rows: ``sourceData.lineNumber`` counts records of the file from 1, the header being
line 1 and the first data row line 2 (line 0 is a file-wide error, e.g. a column mapped to a
property the portal does not have: that column is skipped for every row).

``metadata.counters`` keys:

- ``TOTAL_ROWS``: data rows read;
- ``CREATED_OBJECTS``: contacts created;
- ``UPDATED_OBJECTS``: existing contacts written to;
- ``ERRORS``: error records, as listed by ``/errors``.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from emulators.hubspot import catalog
from emulators.hubspot.errors import HubSpotError, validation_error
from emulators.hubspot.settings import EmulatorSettings
from emulators.hubspot.state import CrmObject, ImportJob, Portal, now_iso, now_ms
from emulators.hubspot.values import DATE_FORMATS, ValueProblem, normalise, normalise_email

# Where the Imports API lives: the routes' prefix, and what the faults of import creations pick.
IMPORTS_PATH = "/crm/v3/imports"
ACTIVE_STATES = ("STARTED", "PROCESSING")
FINAL_STATES = ("DONE", "FAILED", "CANCELED", "REVERTED")
OPERATIONS = ("CREATE", "UPDATE", "UPSERT")
_LIFECYCLE_ORDER = {value: rank for rank, (value, _) in enumerate(catalog.LIFECYCLE_STAGES)}
_CHUNK_ROWS = 500
# HubSpot counts a portal's imports over a rolling 24 hours.
IMPORTS_WINDOW = timedelta(hours=24)


def _decode(data: bytes) -> str:
    # HubSpot wants UTF-8; a BOM is tolerated, stray bytes become U+FFFD rather than failing.
    return data.decode("utf-8-sig", errors="replace")


def _first_record(data: bytes) -> list[str]:
    # Only the first record is needed to check the mapping; the rest is read while processing.
    head = _decode(data[: 1024 * 1024])
    return next(csv.reader(io.StringIO(head)), [])


def _count_records(data: bytes) -> int:
    return sum(1 for _ in csv.reader(io.StringIO(_decode(data))))


def _check_limits(file_name: str, data: bytes, has_header: bool, settings: EmulatorSettings) -> None:
    if len(data) > settings.max_import_bytes:
        raise HubSpotError(
            429,
            f"File {file_name} is {len(data)} bytes; an import file may hold at most "
            f"{settings.max_import_bytes} bytes. Split the file.",
            "RATE_LIMITS",
            sub_category="IMPORT_FILE_TOO_LARGE",
        )
    # Counting newlines is an upper bound (quoted cells hold newlines); parse only when close.
    allowed = settings.max_import_rows + (1 if has_header else 0)
    if data.count(b"\n") + 1 > allowed and _count_records(data) > allowed:
        raise HubSpotError(
            429,
            f"File {file_name} has more than {settings.max_import_rows} rows; split the file.",
            "RATE_LIMITS",
            sub_category="IMPORT_ROW_LIMIT_EXCEEDED",
        )


def _check_imports_a_day(portal: Portal, settings: EmulatorSettings) -> None:
    """Refuse one import more than ``max_imports_per_day`` in the last 24 hours (the caller
    holds the portal's lock, so two creations cannot both take the last one).

    HubSpot documents the limit (500 a day, 50 on free portals) but not its answer: this 429 is
    assumed, shaped as its per-file limit answers are, with no ``policyName`` (it is no request
    rate window) and no ``subCategory`` (it is no limit of the file).
    """
    allowed = settings.max_imports_per_day
    if allowed is None:
        return
    since = datetime.now(timezone.utc) - IMPORTS_WINDOW
    created = sum(1 for job in portal.imports.values() if datetime.fromisoformat(job.created_at) > since)
    if created >= allowed:
        raise HubSpotError(
            429,
            f"You have reached the limit of {allowed} imports in a rolling 24 hours for this portal.",
            "RATE_LIMITS",
        )


def _check_mapping(file_name: str, page: dict[str, Any], data: bytes) -> None:
    mappings = page.get("columnMappings")
    if not isinstance(mappings, list) or not mappings:
        raise validation_error(f"File {file_name} has no columnMappings.")
    for mapping in mappings:
        type_id = mapping.get("columnObjectTypeId")
        if type_id not in (catalog.CONTACTS, catalog.COMPANIES):
            raise validation_error(
                f"Unknown columnObjectTypeId {type_id!r} for column {mapping.get('columnName')!r}."
            )
    first = [cell.strip() for cell in _first_record(data)]
    if page.get("hasHeader", True):
        mapped = [str(mapping.get("columnName", "")).strip() for mapping in mappings]
        unmapped = [name for name in first if name not in mapped]
        absent = [name for name in mapped if name not in first]
        if unmapped or absent or len(first) != len(mapped):
            raise validation_error(
                f"Every column of {file_name} must be mapped, in file order: unmapped columns "
                f"{unmapped}, mapped columns not in the file {absent}.",
                context={"unmappedColumns": unmapped, "missingColumns": absent},
            )
    elif len(first) != len(mappings):
        raise validation_error(
            f"File {file_name} has {len(first)} columns but {len(mappings)} column mappings."
        )
    identifies = any(
        mapping.get("columnObjectTypeId") == catalog.CONTACTS
        and (mapping.get("propertyName") == "email" or mapping.get("columnType") == "HUBSPOT_OBJECT_ID")
        for mapping in mappings
    )
    if not identifies:
        raise validation_error(
            f"File {file_name} has no column mapped to the contact's email or record ID."
        )


def create_job(
    portal: Portal,
    settings: EmulatorSettings,
    import_request: str | None,
    uploads: list[tuple[str, bytes]],
) -> ImportJob:
    """Check a ``POST /crm/v3/imports`` request and store the import it describes.

    Args:
        portal: the portal.
        settings: the emulator's settings (file limits).
        import_request: the ``importRequest`` form field (JSON text).
        uploads: the ``files`` form fields as ``(file name, content)``.

    Returns:
        The stored import, not yet processing.

    Raises:
        HubSpotError: 400 for a malformed request, 429 for a file over the per-file limits or
            one import more than ``max_imports_per_day`` in 24 hours.
    """
    if not import_request:
        raise validation_error("The importRequest form field is required.")
    try:
        request = json.loads(import_request)
    except json.JSONDecodeError as error:
        raise validation_error(f"importRequest is not valid JSON: {error.msg}") from None
    if not isinstance(request, dict):
        raise validation_error("importRequest must be a JSON object.")
    described = request.get("files")
    if not isinstance(described, list) or not described:
        raise validation_error("importRequest.files must list at least one file.")
    if not uploads:
        raise validation_error("No file was uploaded in the files form field.")
    date_format = request.get("dateFormat", "MONTH_DAY_YEAR")
    if date_format not in DATE_FORMATS:
        raise validation_error(f"Invalid dateFormat {date_format}; one of {list(DATE_FORMATS)}.")
    operations = request.get("importOperations") or {}
    if any(op not in OPERATIONS for op in operations.values()):
        raise validation_error(f"Invalid importOperations {operations}; values are {list(OPERATIONS)}.")
    by_name = dict(uploads)
    files = []
    for entry in described:
        file_name = entry.get("fileName") if isinstance(entry, dict) else None
        if file_name not in by_name:
            raise validation_error(
                f"fileName {file_name!r} in importRequest does not match any uploaded file "
                f"({sorted(by_name)}); it must equal the uploaded file's name, extension included.",
            )
        if entry.get("fileFormat", "CSV") != "CSV":
            raise validation_error(
                f"fileFormat {entry.get('fileFormat')!r} is not supported by this emulator; use CSV."
            )
        page = entry.get("fileImportPage") or {}
        data = by_name[file_name]
        _check_limits(file_name, data, page.get("hasHeader", True), settings)
        _check_mapping(file_name, page, data)
        files.append((entry, data, portal.next_id("file")))
    with portal.lock:
        _check_imports_a_day(portal, settings)
        stamp = now_iso()
        job = ImportJob(
            id=str(portal.next_id("import")),
            name=str(request.get("name") or ""),
            request=request,
            files=files,
            created_at=stamp,
            updated_at=stamp,
        )
        portal.imports[job.id] = job
    return job


class _FileRun:
    """Processing state of one file of an import."""

    def __init__(self, job: ImportJob, portal: Portal, entry: dict[str, Any], file_id: int) -> None:
        self.job = job
        self.portal = portal
        self.file_id = file_id
        self.page = entry.get("fileImportPage") or {}
        self.mappings = self.page["columnMappings"]
        self.date_format = job.request.get("dateFormat", "MONTH_DAY_YEAR")
        self.operation = (job.request.get("importOperations") or {}).get(catalog.CONTACTS, "UPSERT")
        self.email_column: int | None = None
        self.id_column: int | None = None
        # (column number, property definition) of each column written, by object type.
        self.columns: dict[str, list[tuple[int, dict[str, Any]]]] = {
            catalog.CONTACTS: [], catalog.COMPANIES: [],
        }
        for number, mapping in enumerate(self.mappings):
            name = mapping.get("propertyName")
            type_id = mapping.get("columnObjectTypeId")
            if type_id == catalog.CONTACTS and mapping.get("columnType") == "HUBSPOT_OBJECT_ID":
                self.id_column = number
            elif type_id == catalog.CONTACTS and name == "email":
                self.email_column = number
            elif name and name not in catalog.READ_ONLY[type_id]:
                self._add_column(number, type_id, name, mapping)
        # HubSpot imports contacts of a multi-object import as non-marketing.
        self.marketable = (
            job.request.get("marketableContactImport") is True
            and not self.columns[catalog.COMPANIES]
        )

    def _add_column(self, number: int, type_id: str, name: str, mapping: dict[str, Any]) -> None:
        definition = self.portal.property(type_id, name)
        if definition is None:
            self.error(
                "PROPERTY_DEFINITION_NOT_FOUND",
                f"Column {mapping.get('columnName')!r} is mapped to property {name!r}, "
                "which does not exist; the column was not imported.",
                line=0, column=number, value=name, type_id=type_id,
            )
        else:
            self.columns[type_id].append((number, definition))

    def error(
        self,
        error_type: str,
        message: str,
        *,
        line: int,
        column: int | None = None,
        value: str | None = None,
        row: list[str] | None = None,
        type_id: str = catalog.CONTACTS,
    ) -> None:
        """Record one error of this file."""
        job = self.job
        error = {
            "id": f"{job.id}-{len(job.errors) + 1}",
            "createdAt": now_ms(),
            "errorType": error_type,
            "errorMessage": message,
            "objectType": catalog.OBJECT_TYPE_NAMES[type_id],
            "objectTypeId": type_id,
            "sourceData": {
                "rowData": row or [],
                "additionalRowData": [],
                "containsEncryptedProperties": False,
                "lineNumber": line,
                "fileId": self.file_id,
            },
        }
        if column is not None:
            error["knownColumnNumber"] = column
        if value is not None:
            error["invalidValue"] = value
            error["invalidValueToDisplay"] = value
        job.errors.append(error)
        job.counters["ERRORS"] = len(job.errors)

    def row(self, line: int, cells: list[str]) -> CrmObject | None:
        """Import one data row; return the contact written, or ``None`` when the row failed."""
        if len(cells) != len(self.mappings):
            self.error(
                "INCORRECT_NUMBER_OF_COLUMNS",
                f"Row has {len(cells)} columns; the file's mapping has {len(self.mappings)}.",
                line=line, row=cells,
            )
            return None
        try:
            record, email = self._target(line, cells)
        except _RowFailed:
            return None
        values = self._values(catalog.CONTACTS, line, cells)
        if email:
            values["email"] = email
        if record is None:
            record = self.portal.create(catalog.CONTACTS, values)
            self.job.counters["CREATED_OBJECTS"] += 1
        else:
            self._keep_lifecycle(record, values)
            record = self.portal.update(record, values)
            self.job.counters["UPDATED_OBJECTS"] += 1
        if self.marketable:
            # Made marketing again: a change to non-marketing waiting for the update date is undone.
            record.properties["hs_marketable_status"] = "true"
            record.properties["hs_marketable_until_renewal"] = "false"
        if self.columns[catalog.COMPANIES]:
            company = self._values(catalog.COMPANIES, line, cells)
            if company:
                self._write_company(record, company)
        return record

    def _values(self, type_id: str, line: int, cells: list[str]) -> dict[str, str]:
        """Return the row's checked values for one object type (blank cells are left out)."""
        values: dict[str, str] = {}
        for number, definition in self.columns[type_id]:
            raw = cells[number]
            if not raw.strip():
                continue  # blank cells never clear a value
            try:
                values[definition["name"]] = normalise(definition, raw, self.date_format)
            except ValueProblem as problem:
                self.error(
                    problem.import_error_type, problem.message,
                    line=line, column=number, value=raw, row=cells, type_id=type_id,
                )
        return values

    def _write_company(self, contact: CrmObject, values: dict[str, str]) -> None:
        # A company is matched by its domain, else by its name, and associated with the contact.
        key = "domain" if values.get("domain") else "name"
        company = self.portal.find(catalog.COMPANIES, key, values[key]) if key in values else None
        if company is None:
            company = self.portal.create(catalog.COMPANIES, values)
        else:
            self.portal.update(company, values)
        self.portal.associate(catalog.CONTACTS, contact.id, catalog.COMPANIES, company.id)

    def _fail(self, error_type: str, message: str, line: int, cells: list[str], column=None):
        value = cells[column] if column is not None else None
        self.error(error_type, message, line=line, column=column, value=value, row=cells)
        return _RowFailed()

    def _target(self, line: int, cells: list[str]) -> tuple[CrmObject | None, str | None]:
        """Return the contact a row writes to (``None``: create one) and the row's email.

        Raises:
            _RowFailed: the row can't be imported (its error is recorded).
        """
        record = None
        if self.id_column is not None and cells[self.id_column].strip():
            record = self.portal.get(catalog.CONTACTS, cells[self.id_column].strip())
            if record is None:
                raise self._fail(
                    "INVALID_OBJECT_ID", f"No contact has record ID {cells[self.id_column]}.",
                    line, cells, self.id_column,
                )
        email = None
        raw = cells[self.email_column].strip() if self.email_column is not None else ""
        if raw:
            try:
                email = normalise_email(raw)
            except ValueProblem as problem:
                raise self._fail(
                    problem.import_error_type, problem.message, line, cells, self.email_column
                ) from None
            record = record or self.portal.find(catalog.CONTACTS, "email", email)
        elif record is None:
            raise self._fail(
                "MISSING_REQUIRED_PROPERTY", "The row has no email address.",
                line, cells, self.email_column,
            )
        if record is not None and self.operation == "CREATE":
            raise self._fail(
                "CREATE_ONLY_IMPORT", "The contact already exists and this import only creates.",
                line, cells,
            )
        if record is None and self.operation == "UPDATE":
            raise self._fail(
                "UPDATE_ONLY_IMPORT", "No such contact exists and this import only updates.",
                line, cells,
            )
        return record, email

    @staticmethod
    def _keep_lifecycle(record: CrmObject, values: dict[str, str]) -> None:
        # An import may move a lifecycle stage forward, never backward.
        new = values.get("lifecyclestage")
        old = record.properties.get("lifecyclestage")
        if new and old and _LIFECYCLE_ORDER.get(new, -1) < _LIFECYCLE_ORDER.get(old, -1):
            del values["lifecyclestage"]


class _RowFailed(Exception):
    """A row that imports nothing; its error is already recorded."""


def _import_list(portal: Portal, job: ImportJob) -> str:
    # The list from an import is a MANUAL list named after the import; a name already taken
    # gets the import id appended so the import itself never fails on it.
    name = job.name or f"Import {job.id}"
    if portal.list_holding_name(name) is not None:
        name = f"{name} ({job.id})"
    return portal.create_list(name, catalog.CONTACTS, "MANUAL").list_id


def process(job: ImportJob, portal: Portal, settings: EmulatorSettings) -> None:
    """Import every row of every file of an import, then mark it ``DONE``.

    Stops early (leaving the state alone) when the import is canceled.
    """
    # A rerun (an import queued again after a restart) starts its report afresh.
    job.errors.clear()
    job.counters.update({"TOTAL_ROWS": 0, "CREATED_OBJECTS": 0, "UPDATED_OBJECTS": 0, "ERRORS": 0})
    if job.request.get("createContactListFromImport") is True and job.list_id is None:
        job.list_id = _import_list(portal, job)
    imported: dict[str, None] = {}
    for entry, data, file_id in job.files:
        run = _FileRun(job, portal, entry, file_id)
        records = csv.reader(io.StringIO(_decode(data)))
        first_line = 1
        if run.page.get("hasHeader", True):
            next(records, None)
            first_line = 2
        rows = enumerate(records, start=first_line)
        while not job.cancel_requested:
            chunk = _take(rows, 1 if settings.row_delay else _CHUNK_ROWS)
            if not chunk:
                break
            with portal.lock:
                for line, cells in chunk:
                    job.counters["TOTAL_ROWS"] += 1
                    try:
                        record = run.row(line, cells)
                    except HubSpotError as error:
                        run.error(
                            "DUPLICATE_UNIQUE_PROPERTY_VALUE", error.message, line=line, row=cells
                        )
                        record = None
                    if record is not None:
                        imported[record.id] = None
                job.updated_at = now_iso()
            if settings.row_delay:
                time.sleep(settings.row_delay)
    if job.list_id is not None:
        portal.add_members(job.list_id, list(imported))


def _take(rows, count: int) -> list:
    chunk = []
    for item in rows:
        chunk.append(item)
        if len(chunk) == count:
            break
    return chunk


class ImportRunner:
    """Processes imports in the background, at most ``max_concurrent_imports`` at once.

    Args:
        portal: the portal the imports write to.
        settings: a callable returning the current settings (they may change at runtime).
    """

    def __init__(self, portal: Portal, settings: Callable[[], EmulatorSettings]) -> None:
        self._portal = portal
        self._settings = settings
        self._executor = ThreadPoolExecutor(
            max_workers=settings().max_concurrent_imports, thread_name_prefix="hubspot-import"
        )
        self._go = threading.Event()
        self._go.set()
        self.fail_next = 0

    def submit(self, job: ImportJob) -> dict[str, Any]:
        """Queue an import: ``STARTED`` when a slot is free, else ``DEFERRED``.

        Returns:
            The import as it stood when queued (the answer to its creation), in the
            ``PublicImportResponse`` shape.
        """
        with self._portal.lock:
            active = sum(
                1 for other in self._portal.imports.values()
                if other is not job and other.state in ACTIVE_STATES
            )
            job.state = "STARTED" if active < self._settings().max_concurrent_imports else "DEFERRED"
            view = job_view(job)
        self._executor.submit(self._run, job)
        return view

    def hold(self) -> None:
        """Keep imports that reach ``PROCESSING`` from finishing until :meth:`release`."""
        self._go.clear()

    def release(self) -> None:
        """Let held imports finish."""
        self._go.set()

    def shutdown(self) -> None:
        """Stop the workers; imports still queued are dropped."""
        self._go.set()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _set_state(self, job: ImportJob, state: str) -> bool:
        with self._portal.lock:
            if job.cancel_requested:
                return False
            job.state = state
            job.updated_at = now_iso()
            return True

    def _run(self, job: ImportJob) -> None:
        settings = self._settings()
        if not self._set_state(job, "STARTED"):
            return
        if settings.import_start_delay:
            time.sleep(settings.import_start_delay)
        if not self._set_state(job, "PROCESSING"):
            return
        while not self._go.wait(timeout=0.05):
            if job.cancel_requested:
                return
        with self._portal.lock:
            forced_failure = self.fail_next > 0
            self.fail_next -= forced_failure
        try:
            if forced_failure:
                raise RuntimeError("failure injected by the emulator")
            process(job, self._portal, settings)
        except Exception:  # noqa: BLE001 - any crash of a real import shows as FAILED
            self._set_state(job, "FAILED")
            return
        self._set_state(job, "DONE")


def cancel(portal: Portal, job: ImportJob) -> dict[str, Any]:
    """Cancel an import that has not finished.

    Returns:
        The ``ActionResponse`` body.

    Raises:
        HubSpotError: 400 when the import already finished.
    """
    with portal.lock:
        if job.state in FINAL_STATES:
            raise validation_error(
                f"Import {job.id} is {job.state} and can no longer be canceled."
            )
        requested = now_iso()
        job.cancel_requested = True
        job.state = "CANCELED"
        job.updated_at = requested
        return {
            "status": "COMPLETE",
            "requestedAt": requested,
            "startedAt": requested,
            "completedAt": now_iso(),
        }


def job_view(job: ImportJob) -> dict[str, Any]:
    """Return an import in the ``PublicImportResponse`` shape."""
    mapped = sorted(
        {
            mapping.get("columnObjectTypeId")
            for entry, _, _ in job.files
            for mapping in entry["fileImportPage"]["columnMappings"]
            if mapping.get("columnObjectTypeId")
        }
    )
    object_lists = (
        [{"listId": job.list_id, "objectType": catalog.OBJECT_TYPE_NAMES[catalog.CONTACTS]}]
        if job.list_id
        else []
    )
    return {
        "id": job.id,
        "createdAt": job.created_at,
        "updatedAt": job.updated_at,
        "state": job.state,
        "optOutImport": False,
        "mappedObjectTypeIds": mapped,
        "metadata": {
            "counters": dict(job.counters),
            "fileIds": [str(file_id) for _, _, file_id in job.files],
            "objectLists": object_lists,
        },
        "importName": job.name,
        "importRequestJson": job.request,
        "importSource": "API",
    }


def error_view(error: dict[str, Any], include_message: bool, include_row_data: bool) -> dict[str, Any]:
    """Return an import error in the ``PublicImportError`` shape, trimmed as the query asks."""
    view = dict(error)
    if not include_message:
        view.pop("errorMessage", None)
    if not include_row_data:
        view["sourceData"] = {**error["sourceData"], "rowData": []}
    return view
