"""Validate each source file against its pandera schema; unusable rows become rejects."""

from __future__ import annotations

from dataclasses import dataclass

import pandera.errors
import pandera.polars as pa
import polars as pl

from schemas import lineage
from tasks.errors import InputError

REASON = "reason"
_POSITION = "_position"


@dataclass(frozen=True)
class ValidatedFile:
    """One source file split into rows to use and rows to reject.

    Attributes:
        accepted: Rows that passed, all source columns and lineage kept.
        rejects: Rows that failed, with the lineage columns, a ``reason`` and the original values.
    """

    accepted: pl.DataFrame
    rejects: pl.DataFrame


def split_rejects(
    frame: pl.DataFrame, schema: pa.DataFrameSchema, reasons: dict[str, str], uri: str
) -> ValidatedFile:
    """Validate a file's rows; keep the good ones, turn the failures into rejects.

    Args:
        frame: The file's rows (string columns plus lineage).
        schema: The file kind's schema. Its row-level checks must be named in ``reasons``.
        reasons: Check name → the reason a person reads in rejects.csv.
        uri: The file, for the error when the file as a whole does not fit the schema.

    Raises:
        InputError: A schema-level failure (a column missing or of the wrong type), which no
            single row can be blamed for.
    """
    try:
        schema.validate(frame, lazy=True)
        return ValidatedFile(accepted=frame, rejects=_empty_rejects(frame))
    except pandera.errors.SchemaErrors as errors:
        failures = errors.failure_cases
    whole_file = failures.filter(pl.col("index").is_null())
    if whole_file.height:
        first = whole_file.row(0, named=True)
        raise InputError(uri, f"does not fit {schema.name}: {first['check']} {first['failure_case']}") from None
    row_reasons = (
        failures.select(pl.col("index").cast(pl.UInt32).alias(_POSITION), pl.col("check"))
        .unique()
        .sort(_POSITION, "check")
        .group_by(_POSITION, maintain_order=True)
        .agg(pl.col("check").replace_strict(reasons, default=pl.col("check")).str.join("; ").alias(REASON))
    )
    indexed = frame.with_row_index(_POSITION)
    accepted = indexed.join(row_reasons, on=_POSITION, how="anti", maintain_order="left").drop(_POSITION)
    rejected = indexed.join(row_reasons, on=_POSITION, how="inner", maintain_order="left").drop(_POSITION)
    return ValidatedFile(accepted=accepted, rejects=_reject_layout(rejected))


def _reject_layout(rejected: pl.DataFrame) -> pl.DataFrame:
    originals = [c for c in rejected.columns if c not in lineage.ALL and c != REASON]
    return rejected.select(*lineage.ALL, REASON, *originals)


def _empty_rejects(frame: pl.DataFrame) -> pl.DataFrame:
    return _reject_layout(frame.clear().with_columns(pl.lit(None, pl.String).alias(REASON)))
