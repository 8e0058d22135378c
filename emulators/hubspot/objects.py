"""Writes to CRM objects through the object APIs: property checks, batches, 207 partial success.

Rules, as HubSpot applies them:

- a value for a property the portal lacks, a read-only property, an invalid enumeration option,
  a bad date or an invalid email fails the input with ``VALIDATION_ERROR`` (error codes
  ``PROPERTY_DOESNT_EXIST``, ``READ_ONLY_VALUE``, ``INVALID_OPTION``, ``INVALID_DATE``,
  ``INVALID_EMAIL``, ...);
- a batch holds at most 100 inputs, and its ids must be unique (``Duplicate IDs found in batch
  input``), else the whole request is refused with 400;
- when every input carries an ``objectWriteTraceId``, failed inputs are reported one by one in a
  207 and the others are written; otherwise the first failure refuses the whole batch with 400
  and nothing is written. With ``whole_batch_email_upserts`` set, a batch upsert by email is
  refused so even when traced ("Partial upserts are not supported when using email as the
  idProperty", HubSpot's contacts guide).
"""

from __future__ import annotations

import json
from typing import Any, Callable

from emulators.hubspot import catalog
from emulators.hubspot.errors import HubSpotError, standard_error, validation_error
from emulators.hubspot.state import DEFAULT_READ_PROPERTIES, CrmObject, Portal
from emulators.hubspot.values import ValueProblem, normalise

MAX_BATCH = 100


def check_properties(portal: Portal, type_id: str, properties: Any) -> dict[str, str]:
    """Check the ``properties`` of an input and return the values to store.

    An empty string or ``null`` clears a value, as in HubSpot's object APIs.

    Raises:
        HubSpotError: 400 ``VALIDATION_ERROR`` listing every invalid value.
    """
    if not isinstance(properties, dict):
        raise validation_error("properties must be an object of property names to values.")
    values: dict[str, str] = {}
    problems: list[tuple[str, str, str]] = []
    for name, raw in properties.items():
        definition = portal.property(type_id, name)
        if definition is None:
            problems.append((name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'))
        elif definition["modificationMetadata"]["readOnlyValue"]:
            problems.append((name, "READ_ONLY_VALUE", f'"{name}" is a read only property; its value cannot be set.'))
        elif raw is None or raw == "":
            values[name] = ""
        else:
            try:
                values[name] = normalise(definition, raw, "YEAR_MONTH_DAY")
            except ValueProblem as problem:
                problems.append((name, problem.api_code, problem.message))
    if problems:
        details = [
            {"isValid": False, "message": message, "error": code, "name": name}
            for name, code, message in problems
        ]
        raise validation_error(
            f"Property values were not valid: {json.dumps(details)}",
            errors=[
                {"message": message, "code": code, "context": {"propertyName": [name]}}
                for name, code, message in problems
            ],
        )
    return values


# A planned write: checked already, applied later; returns the input's result.
Apply = Callable[[], dict[str, Any]]


def check_batch(inputs: Any, id_of: Callable[[dict[str, Any]], str | None]) -> list[dict[str, Any]]:
    """Check a batch's size and id uniqueness.

    Args:
        inputs: the ``inputs`` of the request.
        id_of: the id an input targets (for creates, its email), or ``None``.

    Raises:
        HubSpotError: 400 for a missing, oversized or duplicate-id batch.
    """
    if not isinstance(inputs, list) or not all(isinstance(entry, dict) for entry in inputs):
        raise validation_error("inputs must be a list of objects.")
    if len(inputs) > MAX_BATCH:
        raise validation_error(
            f"Batch input is too large: {len(inputs)} inputs, the maximum is {MAX_BATCH}.",
            context={"maxInputs": [str(MAX_BATCH)]},
        )
    seen: set[str] = set()
    duplicates: list[str] = []
    for entry in inputs:
        key = id_of(entry)
        if key is None:
            continue
        if key in seen and key not in duplicates:
            duplicates.append(key)
        seen.add(key)
    if duplicates:
        raise validation_error(
            f"Duplicate IDs found in batch input: [{', '.join(duplicates)}]. IDs must be unique",
            context={"ids": duplicates},
        )
    return inputs


def partial_success(operation: str, inputs: list[dict[str, Any]], whole_batch_email_upserts: bool) -> bool:
    """Whether a batch may succeed in part (207), given the emulator's
    ``whole_batch_email_upserts``: not an upsert by email when it is set."""
    by_email = operation == "upsert" and any(entry.get("idProperty") == "email" for entry in inputs)
    return not (whole_batch_email_upserts and by_email)


def run_batch(
    portal: Portal,
    inputs: list[dict[str, Any]],
    plan: Callable[[dict[str, Any]], Apply],
    *,
    partial: bool = True,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Check every input with ``plan``, then write the ones that passed.

    When every input carries an ``objectWriteTraceId`` (and ``partial``), failed inputs become
    ``StandardError`` entries (their trace id in ``context.objectWriteTraceId``) and the rest is
    written; otherwise the first failure is raised and nothing is written.

    Args:
        portal: the portal.
        inputs: the batch's inputs, checked by :func:`check_batch`.
        plan: checks one input and returns its write.
        partial: whether the batch may succeed in part (:func:`partial_success`).

    Returns:
        ``(results, errors)``.

    Raises:
        HubSpotError: the first failure of an untraced batch, or of any batch when not ``partial``.
    """
    traced = partial and all(entry.get("objectWriteTraceId") for entry in inputs)
    applies: list[Apply] = []
    errors: list[dict[str, Any]] = []
    with portal.lock:
        for entry in inputs:
            try:
                applies.append(plan(entry))
            except HubSpotError as error:
                if not traced:
                    raise
                context = {
                    **(error.context or {}),
                    "objectWriteTraceId": [str(entry["objectWriteTraceId"])],
                }
                errors.append(
                    standard_error(error.message, error.category, context=context,
                                   errors=error.errors)
                )
        return [apply() for apply in applies], errors


def view_written(portal: Portal, record: CrmObject, entry: dict[str, Any]) -> dict[str, Any]:
    """Return a written record as write answers show it: the defaults plus the properties sent."""
    names = dict.fromkeys(
        [*DEFAULT_READ_PROPERTIES[record.object_type_id], *(entry.get("properties") or {})]
    )
    return portal.view(record, list(names), object_write_trace_id=entry.get("objectWriteTraceId"))


def _not_found(type_id: str, object_id: str) -> HubSpotError:
    name = catalog.OBJECT_TYPE_NAMES[type_id]
    return HubSpotError(
        404, f"Could not find {name} with id {object_id}.", "OBJECT_NOT_FOUND",
        context={"ids": [str(object_id)]},
    )


def _associations(portal: Portal, type_id: str, entry: dict[str, Any]) -> list[tuple[str, str]]:
    """Check a create input's ``associations`` and return ``(to type, to id)`` pairs."""
    pairs = []
    for association in entry.get("associations") or []:
        to_id = str((association.get("to") or {}).get("id", ""))
        type_ids = [t.get("associationTypeId") for t in association.get("types") or []]
        to_type = next(
            (
                to for (source, to), known in catalog.ASSOCIATION_TYPE_IDS.items()
                if source == type_id and any(t in known for t in type_ids)
            ),
            None,
        )
        if to_type is None or portal.get(to_type, to_id) is None:
            raise validation_error(
                f"Invalid association to {to_id} with types {type_ids}.",
                context={"toId": [to_id]},
            )
        pairs.append((to_type, to_id))
    return pairs


def plan_create(portal: Portal, type_id: str, entry: dict[str, Any]) -> Apply:
    """Check a create input (``{properties, associations?}``) and return its write.

    Raises:
        HubSpotError: 400 for invalid values, 409 when a contact has that email.
    """
    values = check_properties(portal, type_id, entry.get("properties") or {})
    email = values.get("email")
    if type_id == catalog.CONTACTS and email:
        existing = portal.find(type_id, "email", email)
        if existing is not None:
            raise HubSpotError(409, f"Contact already exists. Existing ID: {existing.id}", "CONFLICT")
    associations = _associations(portal, type_id, entry)

    def apply() -> dict[str, Any]:
        record = portal.create(type_id, values)
        for to_type, to_id in associations:
            portal.associate(type_id, record.id, to_type, to_id)
        return view_written(portal, record, entry)

    return apply


def plan_update(portal: Portal, type_id: str, entry: dict[str, Any]) -> Apply:
    """Check an update input (``{id, idProperty?, properties}``) and return its write.

    Raises:
        HubSpotError: 404 when the record does not exist, 400 for invalid values.
    """
    object_id = str(entry.get("id", ""))
    record = portal.find(type_id, entry.get("idProperty"), object_id)
    if record is None:
        raise _not_found(type_id, object_id)
    values = check_properties(portal, type_id, entry.get("properties") or {})
    return lambda: view_written(portal, portal.update(record, values), entry)


def plan_upsert(portal: Portal, type_id: str, entry: dict[str, Any]) -> Apply:
    """Check an upsert input (``{id, idProperty, properties}``) and return its write.

    The record is found by ``idProperty`` (for contacts usually ``email``, compared lowercased)
    and updated, or created with that id as its property value.

    Raises:
        HubSpotError: 400 for a missing/unknown ``idProperty`` or invalid values.
    """
    id_property = entry.get("idProperty")
    definition = portal.property(type_id, id_property) if id_property else None
    if definition is None or not definition.get("hasUniqueValue"):
        raise validation_error(
            f"idProperty {id_property!r} is not a unique-value property; upserts need one.",
            context={"idProperty": [str(id_property)]},
        )
    properties = {**(entry.get("properties") or {}), id_property: entry.get("id", "")}
    values = check_properties(portal, type_id, properties)
    record = portal.find(type_id, id_property, values[id_property])

    def apply() -> dict[str, Any]:
        if record is None:
            written, new = portal.create(type_id, values), True
        else:
            written, new = portal.update(record, values), False
        return {**view_written(portal, written, entry), "new": new}

    return apply


def batch_key(
    type_id: str, operation: str, id_property: str | None = None
) -> Callable[[dict[str, Any]], str | None]:
    """Return how a batch's inputs are compared for duplicates.

    Reads, updates and upserts compare their ``id`` (emails lowercased); creates of contacts
    compare their email. ``id_property`` is the batch-wide ``idProperty`` of a batch read.
    """
    def key(entry: dict[str, Any]) -> str | None:
        if operation == "create":
            email = (entry.get("properties") or {}).get("email")
            return str(email).strip().lower() if type_id == catalog.CONTACTS and email else None
        raw = str(entry.get("id", ""))
        by_email = (entry.get("idProperty") or id_property) == "email"
        return raw.strip().lower() if by_email else raw

    return key
