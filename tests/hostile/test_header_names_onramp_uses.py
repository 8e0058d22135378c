"""Headers named as Onramp's own columns: a SendGrid bounce export's ``reason``, a newsletter
tool's ``status``, a CRM's ``source``, ``row`` or ``format`` plan as any other column (they
crashed the plan with polars' duplicate-column error), keep their values in ``rejects.csv`` under
a name of their own, and a header holding one of the lineage names is refused in one line."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest

from schemas import lineage
from tasks.errors import InputError
from tests.plain_plan import plan


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> str:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *rows])
    return str(path)


def rejects(out: Path) -> pl.DataFrame:
    return pl.read_csv(out / "rejects.csv", infer_schema=False)


def test_a_bounce_exports_reason_and_status_columns_plan_and_keep_their_values_in_the_rejects(tmp_path):
    source = write_csv(
        tmp_path / "bounces.csv",
        ["email", "reason", "status", "source", "row", "format"],
        [["gone@example.com", "550 mailbox full", "bounced", "web", "7", "html"], ["not-an-address", "550 no such user", "bounced", "api", "8", "text"]],
    )

    report = plan([source], tmp_path / "out")

    assert (report["rows_read"], report["rows_rejected"]) == (2, 1)
    assert report["contacts"]["opted_out"] == 1
    [reject] = rejects(tmp_path / "out").to_dicts()
    assert (reject["row"], reject["reason"]) == ("3", "invalid email address")
    assert [reject[f"{name} (in the file)"] for name in ("reason", "status", "source", "row", "format")] == [
        "550 no such user", "bounced", "api", "8", "text",
    ]  # fmt: skip


def test_a_status_column_every_value_of_which_is_read_plans(tmp_path):
    source = write_csv(tmp_path / "subscribers.csv", ["email", "status"], [["s1@example.com", "subscribed"], ["s2@example.com", "unsubscribed"]])

    report = plan([source], tmp_path / "out")

    assert (report["contacts"]["marketing"], report["contacts"]["opted_out"]) == (1, 1)


@pytest.mark.parametrize("header", lineage.RESERVED)
def test_a_header_holding_a_lineage_name_is_refused_in_one_line(tmp_path, header):
    source = write_csv(tmp_path / "contacts.csv", ["email", header], [["a@example.com", "x"]])

    with pytest.raises(InputError) as refused:
        plan([source], tmp_path / "out")

    assert str(refused.value) == f"{source}:1: the header {header!r} is a name Onramp gives its own column: rename that column"
