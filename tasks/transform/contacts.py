"""From validated source rows to canonical contacts: map columns, decide consent, merge by email.

The rules (DESIGN.md, "Domain rules"):
- emails are trimmed and lowercased before they are compared;
- each row gets the consent outcome of its status; the most restrictive outcome of an
  email's rows wins, and an opt-out anywhere is final;
- properties come from the most recently changed row (then the earliest in input order);
  a blank never overwrites a value, it is filled from the other rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from schemas import lineage
from schemas.contact import EMAIL, OPT_OUT_STATUS, OUTCOME, ROWS_MERGED, SOURCES, normalise_email
from tasks.transform.consent import ConsentPolicy, Outcome, outcome_from_severity_expr, severity_expr
from tasks.transform.profile import CustomProperty, SourceProfile

_SEVERITY = "_severity"
_ROW_OUTCOME = "_row_outcome"
_LAST_CHANGED = "_last_changed"
_FILE_INDEX = "_file_index"
_INPUT_ORDER = "_input_order"
_PRIORITY = "_priority"


@dataclass(frozen=True)
class ColumnRoute:
    """Where one source column went: the report says it for every column."""

    source: str
    column: str
    property: str
    kind: str  # "email", "default", "custom"

    def as_dict(self) -> dict[str, str]:
        return {"source": self.source, "column": self.column, "property": self.property, "kind": self.kind}


@dataclass(frozen=True)
class ContactRows:
    """One file's accepted rows, mapped to HubSpot property columns."""

    frame: pl.LazyFrame
    routes: list[ColumnRoute]
    custom_properties: list[CustomProperty]


def map_rows(
    rows: pl.DataFrame | pl.LazyFrame,
    headers: Sequence[str],
    email_column: str,
    uri: str,
    profile: SourceProfile,
    policy: ConsentPolicy,
) -> ContactRows:
    """Map one file's accepted rows to property columns with an outcome and a change time.

    Args:
        rows: Accepted rows: the file's header columns (strings) plus lineage.
        headers: The file's headers, in file order.
        email_column: The header holding the email address.
        uri: The file, for the column routes.
        profile: The source format's profile.
        policy: The run's consent policy for this format.
    """
    targets: dict[str, list[str]] = {}
    customs: dict[str, CustomProperty] = {}
    routes = [ColumnRoute(uri, email_column, EMAIL, "email")]
    for header in headers:
        if header == email_column:
            continue
        target = profile.route(header)
        if isinstance(target, CustomProperty):
            customs.setdefault(target.name, target)
            name, kind = target.name, "custom"
        else:
            name, kind = target, "default"
        targets.setdefault(name, []).append(header)
        routes.append(ColumnRoute(uri, header, name, kind))

    def value_of(name: str, sources: list[str]) -> pl.Expr:
        cleaned = [_blank_to_null(pl.col(s)) for s in sources]
        # Two headers for one property (e.g. "Phone" and "Phone Number"): first non-empty wins.
        value = cleaned[0] if len(cleaned) == 1 else pl.coalesce(cleaned)
        custom = customs.get(name)
        if custom is not None:
            value = _convert(value, custom, profile.timestamp_format)
        return value.alias(name)

    change_times = [
        _parse_timestamp(pl.col(h), profile.timestamp_format)
        for column in profile.last_changed_columns
        for h in headers
        if h.strip().lower() == column.lower()
    ]
    outcome = policy.status_outcome_expr(pl.col(lineage.SOURCE_STATUS))
    frame = rows.lazy().select(
        normalise_email(pl.col(email_column)).alias(EMAIL),
        *(value_of(name, sources) for name, sources in targets.items()),
        (pl.coalesce(change_times) if change_times else pl.lit(None, pl.Datetime("us"))).alias(_LAST_CHANGED),
        outcome.alias(_ROW_OUTCOME),
        *lineage.ALL,
    )
    return ContactRows(frame=frame, routes=routes, custom_properties=list(customs.values()))


def merge_contacts(files: Sequence[pl.LazyFrame]) -> pl.DataFrame:
    """Merge every file's mapped rows into one contact per email.

    Args:
        files: Mapped rows per file (from :func:`map_rows`), in input order.

    Returns:
        One row per email, in order of first appearance: ``email``, ``outcome``,
        ``opt_out_status`` (the status of the most recent opted-out row), every property
        column, ``sources`` (``uri:row`` of each merged row) and ``rows_merged``.
    """
    if not files:
        return pl.DataFrame(
            schema={EMAIL: pl.String, OUTCOME: pl.String, OPT_OUT_STATUS: pl.String, SOURCES: pl.String, ROWS_MERGED: pl.UInt32}
        )
    rows = pl.concat(
        [f.with_columns(pl.lit(i, pl.UInt32).alias(_FILE_INDEX)) for i, f in enumerate(files)],
        how="diagonal_relaxed",
    )
    # Explicit orders: polars 2 streams and does not keep row order through group_by.
    rows = (
        rows.sort(_FILE_INDEX, lineage.SOURCE_ROW)
        .with_row_index(_INPUT_ORDER)
        .sort(_LAST_CHANGED, _INPUT_ORDER, descending=[True, False], nulls_last=True)
        .with_row_index(_PRIORITY)
        .with_columns(severity_expr(pl.col(_ROW_OUTCOME)).alias(_SEVERITY))
    )
    internal = {EMAIL, _LAST_CHANGED, _ROW_OUTCOME, _FILE_INDEX, _INPUT_ORDER, _PRIORITY, _SEVERITY, *lineage.ALL}
    properties = [c for c in rows.collect_schema().names() if c not in internal]
    opted_out = pl.col(_ROW_OUTCOME) == Outcome.OPTED_OUT.value
    merged = (
        rows.group_by(EMAIL)
        .agg(
            outcome_from_severity_expr(pl.col(_SEVERITY).max()).alias(OUTCOME),
            pl.col(lineage.SOURCE_STATUS).filter(opted_out).sort_by(pl.col(_PRIORITY).filter(opted_out)).first().alias(OPT_OUT_STATUS),
            *(pl.col(p).sort_by(_PRIORITY).drop_nulls().first().alias(p) for p in properties),
            pl.format("{}:{}", lineage.SOURCE_URI, lineage.SOURCE_ROW).sort_by(_INPUT_ORDER).str.join(" | ").alias(SOURCES),
            pl.len().cast(pl.UInt32).alias(ROWS_MERGED),
            pl.col(_INPUT_ORDER).min().alias(_INPUT_ORDER),
        )
        .sort(_INPUT_ORDER)
        .drop(_INPUT_ORDER)
    )
    return merged.collect()


def _blank_to_null(value: pl.Expr) -> pl.Expr:
    value = value.str.strip_chars()
    return pl.when(value == "").then(None).otherwise(value)


def _parse_timestamp(value: pl.Expr, timestamp_format: str) -> pl.Expr:
    return _blank_to_null(value).str.to_datetime(timestamp_format, strict=False, time_unit="us")


def _convert(value: pl.Expr, prop: CustomProperty, timestamp_format: str) -> pl.Expr:
    """Write a cell the way HubSpot's importer reads the property's type."""
    if prop.type == "datetime":
        # Unix milliseconds: the one datetime form HubSpot's importer takes whatever the
        # import's dateFormat. A value that does not parse is sent as it is, so HubSpot's
        # own error comes back tied to the row instead of Onramp dropping it.
        millis = _parse_timestamp(value, timestamp_format).dt.epoch("ms").cast(pl.String)
        return pl.coalesce(millis, value)
    if prop.values == "tag_list":
        return _tag_list(value)
    return value


def _tag_list(value: pl.Expr) -> pl.Expr:
    """``"Member","2025 waiver"`` → ``Member;2025 waiver`` (HubSpot's multi-value separator)."""
    names = (
        pl.when(value.str.starts_with('"'))
        .then(value.str.strip_chars('"').str.split('","'))
        .otherwise(value.str.split(","))
    )
    joined = names.list.eval(pl.element().str.replace_all('""', '"').str.strip_chars()).list.eval(
        pl.element().filter(pl.element() != "")
    ).list.join(";")
    return pl.when(joined == "").then(None).otherwise(joined)
