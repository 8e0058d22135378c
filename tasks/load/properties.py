"""Custom contact properties and their group, created before any contact is written.

An enumeration property holds at most ``settings.MAX_OPTIONS_PER_PROPERTY`` options (HubSpot's
limit, the portal's existing options counted). When the plan's values do not all fit, the most
frequent among the contacts files become options (ties by value: case-insensitive, then exact;
:func:`options_within_limit`) and the rest are left out, never a stopped load: the load sends
the contacts files without those values (:func:`without_options_left_out`, files derived into
the load's work folder, every row still sent) and reports each row that lost one as a value
error (``scope`` ``value``, ``error_type`` :data:`OPTION_LIMIT`), as it reports the values
HubSpot refuses.
"""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.csv_safety import restore_formulas, sink_safe_csv
from tasks.errors import LoadError
from tasks.import_files import MULTI_VALUE_SEPARATORS
from tasks.load import settings
from tasks.load.batches import chunked
from tasks.load.client import HubSpotPortal
from tasks.load.log import get_logger
from tasks.load.plan import LoadPlan, read_header, tie_back, unneutralise
from tasks.load.plan_copies import write_derived_plan
from tasks.load.retry import HttpError, describe
from tasks.report import OPTIONS_LEFT_OUT

_PROPERTIES_PATH = f"/crm/v3/properties/{settings.CONTACT_OBJECT_TYPE}"
OPTION_LIMIT = "OPTION_LIMIT"
"""The ``error_type`` of a row whose values of a property were left out for the options limit."""
LEFT_OUT_FOLDER = "options-left-out"
"""Under the load's work folder: the contacts files sent without the values left out, as a plan."""


def existing_properties(portal: HubSpotPortal) -> dict[str, Any]:
    """The portal's contact properties by name (one read of the Properties API).

    Args:
        portal: The portal to read.
    """
    response = portal.call(
        portal.sdk.crm.properties.core_api.get_all_with_http_info,
        settings.CONTACT_OBJECT_TYPE,
        what=f"GET {_PROPERTIES_PATH}",
    )
    return {prop.name: prop for prop in response.results}


def _ensure_group(portal: HubSpotPortal, group: dict[str, Any]) -> bool:
    """Create the property group unless it exists; True when this call created it."""
    groups_api = portal.sdk.crm.properties.groups_api
    existing = portal.call(
        groups_api.get_all_with_http_info, settings.CONTACT_OBJECT_TYPE, what=f"GET {_PROPERTIES_PATH}/groups"
    )
    if any(existing_group.name == group["name"] for existing_group in existing.results):
        return False
    try:
        portal.call(
            groups_api.create_with_http_info,
            settings.CONTACT_OBJECT_TYPE,
            {"name": group["name"], "label": group.get("label") or group["name"]},
            what=f"POST {_PROPERTIES_PATH}/groups",
        )
    except HttpError as error:
        # 409: another run created it between the read and the create, which is what we want.
        if error.status == 409:
            return False
        raise LoadError(f"cannot create the property group {group['name']!r}: {describe(error)}") from error
    return True


def _create_properties(portal: HubSpotPortal, properties: list[dict[str, Any]]) -> list[str]:
    """Batch-create properties; returns HubSpot's messages for whatever it refused."""
    problems: list[str] = []
    for batch in chunked(properties, settings.PROPERTY_BATCH_SIZE):
        try:
            # The plan's dicts are the API's JSON bodies already; the SDK serialises dicts as
            # they are, so nothing in them (options, hasUniqueValue, ...) is lost to a model.
            response = portal.call(
                portal.sdk.crm.properties.batch_api.create_with_http_info,
                settings.CONTACT_OBJECT_TYPE,
                {"inputs": batch},
                what=f"POST {_PROPERTIES_PATH}/batch/create",
            )
        except HttpError as error:
            # 409 (some already exist) and per-batch 4xx alike: the re-read decides what is missing.
            problems.append(describe(error))
            continue
        problems.extend(str(getattr(err, "message", err)) for err in (getattr(response, "errors", None) or []))
    return problems


def _option_body(option: Any) -> dict[str, Any]:
    """An existing ``Option`` as the ``OptionInput`` a PATCH sends back (so it is kept as it is)."""
    body = {"label": option.label, "value": option.value, "hidden": bool(option.hidden), "displayOrder": option.display_order}
    return body | ({"description": option.description} if option.description else {})


def options_within_limit(
    planned: list[dict[str, Any]], existing: set[str], counts: dict[str, int], limit: int
) -> tuple[list[dict[str, Any]], list[str]]:
    """Which planned options a property lacks can be added under its options limit.

    The existing options count toward the limit and are never removed. When the missing options
    do not all fit, only those some row sent holds are wanted (a sync's plan lists every option
    of its sources, its files only the delta's rows), the most frequent (``counts``: the rows
    holding each value) first, ties by value case-insensitively, then exactly, so the choice is
    the same every run.

    Args:
        planned: The plan's ``OptionInput`` dicts for the property, in its display order.
        existing: The values of the options the property already has (empty for a new one).
        counts: Value → how many rows hold it; a value it lacks counts 0.
        limit: The most options the property may hold.

    Returns:
        ``(to_add, left_out)``: the options to add, in ``planned``'s order, and the values some
        row holds that do not fit, most frequent first.
    """
    missing = [option for option in planned if option["value"] not in existing]
    room = max(limit - len(existing), 0)
    if len(missing) <= room:
        return missing, []
    wanted = [option for option in missing if counts.get(option["value"], 0)]
    ranked = sorted(wanted, key=lambda option: (-counts[option["value"]], option["value"].casefold(), option["value"]))
    fits = {option["value"] for option in ranked[:room]}
    return [option for option in missing if option["value"] in fits], [option["value"] for option in ranked[room:]]


def _value_cells(plan: LoadPlan, name: str, field_type: str) -> list[pl.LazyFrame]:
    """Each contacts file's values of property ``name``, one a row (a multi-value cell split)."""
    separator = MULTI_VALUE_SEPARATORS.get(field_type)
    cell = restore_formulas(pl.col(name))
    values = (cell.str.split(separator).explode() if separator else cell).str.strip_chars().alias(name)
    paths = [plan.path(entry["file"]) for entry in plan.imports]
    return [pl.scan_csv(path, infer_schema=False, glob=False).select(values) for path in paths if name in read_header(path)]


def value_counts(plan: LoadPlan, name: str, field_type: str) -> dict[str, int]:
    """How many times each value of property ``name`` is sent in the plan's contacts files.

    Read only when a property's values do not all fit its options (one pass over its column).
    """
    scans = _value_cells(plan, name, field_type)
    if not scans:
        return {}
    counted = pl.concat(scans).filter(pl.col(name) != "").group_by(name).len().collect()
    return dict(zip(counted[name].to_list(), counted["len"].to_list(), strict=True))


def _options_that_fit(plan: LoadPlan, prop: dict[str, Any], existing: set[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """:func:`options_within_limit` for one planned property (none for a property without
    options), its values counted only when they do not all fit."""
    planned = list(prop.get("options") or [])
    missing = sum(option["value"] not in existing for option in planned)
    counts = value_counts(plan, prop["name"], prop.get("fieldType", "")) if len(existing) + missing > settings.MAX_OPTIONS_PER_PROPERTY else {}
    return options_within_limit(planned, existing, counts, settings.MAX_OPTIONS_PER_PROPERTY)


def _add_options(portal: HubSpotPortal, prop: dict[str, Any], current: Any, missing: list[dict[str, Any]]) -> list[str]:
    """Add ``missing`` (planned options an existing enumeration property lacks, that fit under
    its limit), before anything is written.

    HubSpot's PATCH replaces the whole ``options`` list, so the union is sent: every existing
    option untouched, then the missing ones ordered after them. Options are never removed (the
    portal's other records may use them).

    Returns:
        The values added.

    Raises:
        LoadError: HubSpot refused the update: the import would then refuse those values.
    """
    existing = list(current.options or [])
    start = max((option.display_order or 0 for option in existing), default=-1) + 1
    options = [_option_body(option) for option in existing] + [
        {**option, "displayOrder": start + offset} for offset, option in enumerate(missing)
    ]
    try:
        portal.call(
            portal.sdk.crm.properties.core_api.update_with_http_info,
            settings.CONTACT_OBJECT_TYPE,
            prop["name"],
            {"options": options},
            what=f"PATCH {_PROPERTIES_PATH}/{prop['name']}",
        )
    except HttpError as error:
        raise LoadError(f"cannot add options to the HubSpot property {prop['name']!r}: {describe(error)}") from error
    return [option["value"] for option in missing]


def ensure_properties(portal: HubSpotPortal, plan: LoadPlan) -> dict[str, Any]:
    """Make sure the plan's property group and custom contact properties exist in the portal.

    Reads what exists, creates only what is missing (a 409 counts as existing), then reads again
    to confirm. An existing property of another type is left alone and reported: HubSpot does
    not allow changing it, and the values will be checked by the import. An existing
    enumeration gets the planned options it lacks (:func:`_add_options`). Options beyond the
    limit (:func:`options_within_limit`) are neither created nor added: they are reported under
    :data:`OPTIONS_LEFT_OUT`, with a warning, for :func:`without_options_left_out`.

    Args:
        portal: The portal.
        plan: The plan naming the group and properties.

    Returns:
        ``{"group": {"name", "created"} | None, "created": [names], "existing": [names],
        "type_mismatches": [{"name", "planned", "existing"}], "options_added": {name: [values]},
        "options_left_out": {name: [values]}}``.

    Raises:
        LoadError: A property or the group could not be created: importing into a property that
            does not exist would lose that column for every row.
    """
    logger = get_logger()
    group = plan.property_group
    report: dict[str, Any] = {
        "group": {"name": group["name"], "created": _ensure_group(portal, group)} if group else None,
        "created": [],
        "existing": [],
        "type_mismatches": [],
        "options_added": {},
        OPTIONS_LEFT_OUT: {},
    }
    # A run over several source formats has a group per format; the first is reported above.
    for other in plan.property_groups[1:]:
        _ensure_group(portal, other)
    planned = plan.properties
    if not planned:
        return report
    existing = existing_properties(portal)
    missing = []
    for prop in planned:
        current = existing.get(prop["name"])
        if current is not None:
            report["existing"].append(prop["name"])
            if current.type != prop.get("type"):
                report["type_mismatches"].append({"name": prop["name"], "planned": prop.get("type"), "existing": current.type})
                logger.warning("property %s exists as %s, plan says %s", prop["name"], current.type, prop.get("type"))
                continue
        have = {option.value for option in current.options or []} if current is not None else set()
        fits, left_out = _options_that_fit(plan, prop, have)
        if current is None:
            missing.append({**prop, "options": fits} if left_out else prop)
        elif fits:
            report["options_added"][prop["name"]] = _add_options(portal, prop, current, fits)
        if left_out:
            report[OPTIONS_LEFT_OUT][prop["name"]] = left_out
            logger.warning("%s", left_out_warning(prop["name"], len(left_out)))
    if missing:
        problems = _create_properties(portal, missing)
        now = existing_properties(portal)
        still_missing = [prop["name"] for prop in missing if prop["name"] not in now]
        if still_missing:
            raise LoadError(
                f"cannot create HubSpot properties {', '.join(still_missing)}: {'; '.join(problems) or 'no reason given'}"
            )
        report["created"] = [prop["name"] for prop in missing]
    logger.info(
        "properties: %d created, %d already there%s",
        len(report["created"]),
        len(report["existing"]),
        f", group {group['name']} created" if report["group"] and report["group"]["created"] else "",
    )
    return report


def left_out_warning(name: str, count: int) -> str:
    """The one line saying that ``count`` values of property ``name`` could not be options."""
    return (
        f"warning: property {name}: {count:,} value(s) left out, HubSpot holds at most "
        f"{settings.MAX_OPTIONS_PER_PROPERTY:,} options a property (the portal's own counted; the most "
        f"frequent values were kept): the rows are sent without them, each in report.json load.errors ({OPTION_LIMIT})"
    )


@dataclass
class OptionsLeftOut:
    """The plan a load sends once the values left out of their properties' options are taken
    out of its contacts files (:func:`without_options_left_out`).

    Attributes:
        plan: The plan to send: the given one when nothing was left out, else one whose
            contacts files holding a value left out are derived copies without it (same file
            names, same rows at the same lines, so errors and lineage keep their places).
        errors: One value error per row and property that lost a value (``file``, ``line``,
            ``error_type`` :data:`OPTION_LIMIT`, ``scope`` ``value``, ``message``, ``column``,
            ``sources``), for the load report's ``errors``.
    """

    plan: LoadPlan
    errors: list[dict[str, Any]] = field(default_factory=list)


def without_options_left_out(plan: LoadPlan, properties: dict[str, Any], state_dir: str | Path) -> OptionsLeftOut:
    """The plan to send without the values :func:`ensure_properties` could not make options.

    A multi-value cell keeps its other values; a cell left with none is sent blank. The copies
    are written under ``state_dir`` (:data:`LEFT_OUT_FOLDER`) the same way every run, so a rerun's
    steps find the same content and keys; every file ``plan`` already sends from a derived copy
    (``tasks/load/opted_out.py``) is copied there too, the derived plan being one folder.

    Args:
        plan: The plan the load sends (maybe derived already).
        properties: The properties step's report (its :data:`OPTIONS_LEFT_OUT`; an earlier
            version's cached report without it left nothing out).
        state_dir: The load's work folder.

    Returns:
        :class:`OptionsLeftOut`.
    """
    directory = Path(state_dir) / LEFT_OUT_FOLDER
    shutil.rmtree(directory, ignore_errors=True)
    left_out = {name: frozenset(values) for name, values in (properties.get(OPTIONS_LEFT_OUT) or {}).items() if values}
    if not left_out:
        return OptionsLeftOut(plan)
    field_types = {prop["name"]: prop.get("fieldType", "") for prop in plan.properties}
    already_derived = plan.derived.files if plan.derived is not None else frozenset()
    entries, errors = [], []
    for entry in plan.imports:
        source = plan.path(entry["file"])
        columns = [name for name in read_header(source) if name in left_out]
        if not columns and entry["file"] not in already_derived:
            continue
        target = directory / entry["file"]
        target.parent.mkdir(parents=True, exist_ok=True)
        if columns:
            errors.extend(_write_without(source, target, entry["file"], {name: (left_out[name], field_types.get(name, "")) for name in columns}))
        else:
            shutil.copyfile(source, target)
        entries.append(entry)
    _copy_lineage(plan, directory / "lineage.csv", {entry["file"] for entry in entries})
    sent = LoadPlan(plan.directory, plan.data, derived=write_derived_plan(plan, entries, directory))
    return OptionsLeftOut(sent, tie_back(sent, errors))


def _write_without(source: Path, target: Path, file: str, columns: dict[str, tuple[frozenset[str], str]]) -> list[dict[str, Any]]:
    """Copy a contacts file without the values left out of ``columns`` (name → (values left
    out, field type)); the value errors of the rows that lost some."""
    planned = pl.scan_csv(source, infer_schema=False, glob=False)
    # The planned cells and headers are neutralised for people opening the file: taken off here,
    # the copy, neutralised once as it is written, holds every cell as the plan did.
    rows = planned.select(restore_formulas(pl.col(name)).alias(unneutralise(name)) for name in planned.collect_schema().names())
    kept, lost = [], []
    for name, (values, field_type) in columns.items():
        separator = MULTI_VALUE_SEPARATORS.get(field_type)
        cell = pl.col(name)
        parts = (cell.str.split(separator) if separator else pl.concat_list(cell)).list.eval(pl.element().str.strip_chars())
        out = pl.element().is_in(list(values))
        dropped = parts.list.eval(pl.element().filter(out))
        joined = parts.list.eval(pl.element().filter(out.not_() & (pl.element() != ""))).list.join(separator or "")
        # Only a cell that lost a value is rewritten; every other cell is copied as it is.
        kept.append(pl.when(dropped.list.len() > 0).then(pl.when(joined != "").then(joined)).otherwise(pl.col(name)).alias(name))
        lost.append(dropped.alias(name))
    sink_safe_csv(rows.with_columns(kept), target)
    found = rows.select(lost).with_row_index("line", offset=2).collect()
    errors = []
    for row in found.iter_rows(named=True):
        for name in columns:
            if row[name]:
                errors.append(
                    {
                        "file": file,
                        "line": row["line"],
                        "error_type": OPTION_LIMIT,
                        "scope": "value",
                        "message": f"not sent: {', '.join(row[name])} (no room among the property's "
                        f"{settings.MAX_OPTIONS_PER_PROPERTY:,} options, HubSpot's limit)",
                        "column": name,
                    }
                )
    return errors


def _copy_lineage(plan: LoadPlan, target: Path, files: set[str]) -> None:
    """The lineage of ``files``'s rows, from the plan (or its derived copies) they are sent from."""
    derived = plan.derived.files if plan.derived is not None else frozenset()
    sources = [(plan.lineage_path, files - derived)] + ([(plan.derived.lineage_path, files & derived)] if plan.derived is not None else [])
    with target.open("w", newline="", encoding="utf-8") as writing:
        writer: csv.DictWriter | None = None
        for path, wanted in sources:
            if not wanted or not path.exists():
                continue
            with path.open(newline="", encoding="utf-8-sig") as reading:
                reader = csv.DictReader(reading)
                if writer is None:
                    writer = csv.DictWriter(writing, fieldnames=reader.fieldnames or [], lineterminator="\n")
                    writer.writeheader()
                writer.writerows(row for row in reader if row.get("file") in wanted)


ensure_properties_task = task(
    ensure_properties,
    name="hubspot-ensure-properties",
    task_run_name="ensure HubSpot properties",
    # call_with_retries already retries what is worth retrying; the portal holds a live
    # session and a token, which must not be hashed into a cache key.
    retries=0,
    cache_policy=NO_CACHE,
)
