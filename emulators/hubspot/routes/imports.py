"""CRM Imports API v3 routes (``/crm/v3/imports``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from emulators.hubspot import imports
from emulators.hubspot.errors import not_found, validation_error
from emulators.hubspot.routes.common import emulator_of, offset_page, query_bool, query_int
from emulators.hubspot.state import ImportJob

router = APIRouter(prefix=imports.IMPORTS_PATH)


def _job(request: Request, import_id: str) -> ImportJob:
    job = emulator_of(request).portal.imports.get(import_id)
    if job is None:
        raise not_found(f"Import {import_id} not found.", context={"importId": [import_id]})
    return job


@router.post("")
async def create_import(request: Request) -> dict[str, Any]:
    """Start an import from a multipart form: ``importRequest`` (JSON) and ``files``."""
    emulator = emulator_of(request)
    try:
        form = await request.form(max_files=100, max_part_size=16 * 1024 * 1024)
    except Exception as error:  # noqa: BLE001 - any unreadable form is the client's error
        raise validation_error(f"Could not read the multipart form: {error}") from None
    uploads = []
    for upload in form.getlist("files"):
        if hasattr(upload, "read"):
            uploads.append((upload.filename or "", await upload.read()))
    import_request = form.get("importRequest")
    if hasattr(import_request, "read"):
        import_request = (await import_request.read()).decode("utf-8")
    job = imports.create_job(emulator.portal, emulator.settings, import_request, uploads)
    return emulator.imports.submit(job)


@router.get("")
async def list_imports(request: Request) -> dict[str, Any]:
    """List imports, oldest first, paged by ``after``/``limit``."""
    portal = emulator_of(request).portal
    with portal.lock:
        views = [imports.job_view(job) for job in portal.imports.values()]
    limit = query_int(request, "limit", 100, maximum=500)
    return offset_page(views, request.query_params.get("after"), limit, request)


@router.get("/{import_id}")
async def get_import(import_id: str, request: Request) -> dict[str, Any]:
    """Return one import."""
    job = _job(request, import_id)
    with emulator_of(request).portal.lock:
        return imports.job_view(job)


@router.post("/{import_id}/cancel")
async def cancel_import(import_id: str, request: Request) -> dict[str, Any]:
    """Cancel an import that has not finished."""
    return imports.cancel(emulator_of(request).portal, _job(request, import_id))


@router.get("/{import_id}/errors")
async def import_errors(import_id: str, request: Request) -> dict[str, Any]:
    """Page through an import's errors."""
    job = _job(request, import_id)
    include_message = query_bool(request, "includeErrorMessage")
    include_rows = query_bool(request, "includeRowData")
    with emulator_of(request).portal.lock:
        errors = list(job.errors)
    limit = query_int(request, "limit", 100, maximum=1000)
    page = offset_page(errors, request.query_params.get("after"), limit, request)
    page["results"] = [
        imports.error_view(error, include_message, include_rows) for error in page["results"]
    ]
    return page
