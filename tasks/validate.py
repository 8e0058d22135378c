"""Validate each source file against its pandera schema; unusable rows become rejects.

Nothing is collected here. Pandera checks what a file is as a whole (its columns and their
types) on the lazy scan; the schema's row checks are evaluated as polars expressions (the
rules they are built from) into a per-row ``reason``, so accepted rows and rejects come out
as two lazy frames over one scan, ready to stream to their sinks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandera.errors
import pandera.polars as pa
import polars as pl
from pandera.config import ValidationDepth, config_context

from schemas import lineage
from tasks.errors import InputError

REASON = lineage.REJECT_REASON
REASON_SEPARATOR = "; "
BLANK_ROW_REASON = "blank row"
"""The reason of a reject with no value in any cell (a blank line, a row of empty cells): it
failed the row rules only because it holds nothing, which a person should read as such."""

RowRule = Callable[[pl.Expr], pl.Expr]


@dataclass(frozen=True)
class ValidatedFile:
    """One source file split into rows to use and rows to reject, both lazy.

    Attributes:
        checked: Every row with its ``reason`` (null for a row that passed).
        accepted: Rows that passed, all source columns and lineage kept.
        rejects: Rows that failed, with the lineage columns, a ``reason`` and the original values.
    """

    checked: pl.LazyFrame

    @property
    def accepted(self) -> pl.LazyFrame:
        return self.checked.filter(pl.col(REASON).is_null()).drop(REASON)

    @property
    def rejects(self) -> pl.LazyFrame:
        rejected = self.checked.filter(pl.col(REASON).is_not_null())
        originals = [c for c in rejected.collect_schema().names() if c not in lineage.ALL and c != REASON]
        # Looked for among the rejects only (after the filter), never in every row: a file
        # may have thousands of columns.
        blank = pl.all_horizontal(_blank(pl.col(c)) for c in originals) if originals else pl.lit(True)
        reason = pl.when(blank).then(pl.lit(BLANK_ROW_REASON)).otherwise(pl.col(REASON)).alias(REASON)
        return rejected.select(*lineage.ALL, reason, *originals)


def split_rejects(
    frame: pl.LazyFrame | pl.DataFrame,
    schema: pa.DataFrameSchema,
    rules: Mapping[str, RowRule],
    reasons: Mapping[str, str],
    uri: str,
) -> ValidatedFile:
    """Validate a file: pandera checks its shape, its row rules give each row a reason.

    Args:
        frame: The file's rows (string columns plus lineage), lazily.
        schema: The file kind's schema. Each of its checks must be a row rule.
        rules: Check name → the rule the check is built from (True where a row passes).
        reasons: Check name → the reason a person reads in rejects.csv.
        uri: The file, for the error when the file as a whole does not fit the schema.

    Raises:
        InputError: A schema-level failure (a column missing or of the wrong type), which no
            single row can be blamed for.
    """
    frame = frame.lazy()
    _check_shape(frame, schema, uri)
    return ValidatedFile(checked=frame.with_columns(reason_expr(schema, rules, reasons)))


def reason_expr(schema: pa.DataFrameSchema, rules: Mapping[str, RowRule], reasons: Mapping[str, str]) -> pl.Expr:
    """The ``reason`` of each row: every failed check's reason, by check name, or null.

    Raises:
        ValueError: The schema holds a check that is no row rule, which would go unchecked.
    """
    failed: dict[str, list[pl.Expr]] = {}
    for name, column in schema.columns.items():
        for check in column.checks:
            if check.name not in rules:
                raise ValueError(f"{schema.name}: check {check.name!r} on {name!r} is not a row rule")
            # A null rule result passes, as it does for pandera.
            failed.setdefault(check.name, []).append(rules[check.name](pl.col(name)).not_().fill_null(False))
    if not failed:
        return pl.lit(None, pl.String).alias(REASON)
    fails = {name: pl.any_horizontal(exprs) for name, exprs in sorted(failed.items())}
    parts = [pl.when(fail).then(pl.lit(reasons.get(name, name))) for name, fail in fails.items()]
    joined = pl.concat_str(parts, separator=REASON_SEPARATOR, ignore_nulls=True)
    return pl.when(pl.any_horizontal(fails.values())).then(joined).alias(REASON)


def _blank(cell: pl.Expr) -> pl.Expr:
    """True where a source cell holds nothing but blanks."""
    return cell.cast(pl.String).str.strip_chars().fill_null("") == ""


def _check_shape(frame: pl.LazyFrame, schema: pa.DataFrameSchema, uri: str) -> None:
    """Pandera on the lazy frame at schema depth: columns and types, no data read."""
    try:
        with config_context(validation_depth=ValidationDepth.SCHEMA_ONLY):
            schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as errors:
        first = errors.failure_cases.row(0, named=True)
        raise InputError(uri, f"does not fit {schema.name}: {first['check']} {first['failure_case']}") from None
