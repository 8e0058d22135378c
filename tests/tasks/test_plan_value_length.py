"""A cell longer than HubSpot holds in a property is not sent, nor cut: the plan reports it."""

from __future__ import annotations

import csv
import sys

import pytest

import tasks.plan
from tasks.typed_values import MAX_VALUE_CHARS, TOO_LONG
from tests.plain_plan import plan


@pytest.mark.parametrize("rows_per_slice", [tasks.plan.ROWS_PER_SLICE, 1])
def test_a_too_long_cell_is_reported_not_sent_whichever_slice_finds_it(tmp_path, monkeypatch, rows_per_slice):
    # One row a slice: the second and third slices each find a column the first did not.
    monkeypatch.setattr(tasks.plan, "ROWS_PER_SLICE", rows_per_slice)
    over, full = "x" * (MAX_VALUE_CHARS + 1), "é" * MAX_VALUE_CHARS
    source = tmp_path / "subscribed_email_audience_export_ab12.csv"
    source.write_text(
        f"Email Address,First Name,NOTES\na@x.com,A,short\nb@x.com,{over},ok\nc@x.com,C,{over}\nd@x.com,D,{full}\n",
        encoding="utf-8",
    )
    report = plan([str(source)], tmp_path / "out")

    assert [(c["column"], c["values"], c["reason"]) for c in report["values_dropped"]] == [
        ("First Name", 1, TOO_LONG),
        ("NOTES", 1, TOO_LONG),
    ]
    csv.field_size_limit(sys.maxsize)
    with open(tmp_path / "out" / "value-rejects.csv", newline="", encoding="utf-8") as handle:
        assert [(r["row"], r["column"], r["value"] == over) for r in csv.DictReader(handle)] == [
            ("3", "First Name", True),
            ("4", "NOTES", True),
        ]
    [imports] = (tmp_path / "out" / "hubspot").rglob("contacts-marketing-*.csv")
    with open(imports, newline="", encoding="utf-8") as handle:
        sent = {r["email"]: (r["firstname"], r["mailchimp_notes"]) for r in csv.DictReader(handle)}
    assert sent == {"a@x.com": ("A", "short"), "b@x.com": ("", "ok"), "c@x.com": ("C", ""), "d@x.com": ("D", full)}
