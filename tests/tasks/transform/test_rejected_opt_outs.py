"""A rejected opt-out row still opts out every address it names (``tasks/transform/rejected_opt_outs.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from schemas import lineage
from schemas.contact import EMAIL, OUTCOME
from tasks.transform.consent import Outcome
from tasks.transform.profile import load_profile
from tasks.transform.rejected_opt_outs import (
    UNMATCHED_FILE,
    UNMATCHED_STATUS,
    RejectedFile,
    addresses_in,
    named_addresses,
    opt_out_named,
)
from tasks.report import rejected_opt_out_warnings
from tests.plain_plan import plan

HEADER = "Email Address,First Name,LAST_CHANGED"
SUBSCRIBED = "subscribed_email_audience_export_ff.csv"
UNSUBSCRIBED = "unsubscribed_email_audience_export_ff.csv"


@pytest.mark.parametrize(
    ("cell", "addresses"),
    [
        ("v1@example.com.", ["v1@example.com"]),
        ("v2@example.com\u200b", ["v2@example.com"]),
        ("v3@example.com;", ["v3@example.com"]),
        ("'v4@example.com'", ["v4@example.com"]),
        ("v5\uff20example.com", ["v5@example.com"]),  # a fullwidth @
        ("\u00a0v6@example.com\u00a0", ["v6@example.com"]),
        ("carl@example.org, carl@work.example.org", ["carl@example.org", "carl@work.example.org"]),
        ("a@x.org;b@y.org c@z.org", ["a@x.org", "b@y.org", "c@z.org"]),
        ("Dan <dan@example.net>", ["dan@example.net"]),
        ('"Dan D." <dan@example.net>,', ["dan@example.net"]),
        ("mailto:eve@example.com", ["eve@example.com"]),
        ("<MAILTO:eve@example.com?subject=Stop>", ["eve@example.com"]),
        ("o'brien@example.ie", ["o'brien@example.ie"]),
        ("no address here", []),
        (None, []),
    ],
)
def test_every_address_a_cell_names_is_read_out_of_its_wrapping(cell, addresses):
    assert addresses_in(cell) == addresses


def rejects(cells: list[str], status: str = "unsubscribed", extra: list[str | None] | None = None) -> pl.LazyFrame:
    """A file's staged rejects: lineage, reason and its cells."""
    return pl.LazyFrame(
        {
            lineage.SOURCE_URI: ["u.csv"] * len(cells),
            lineage.SOURCE_ROW: pl.Series(range(2, 2 + len(cells)), dtype=pl.Int64),
            lineage.SOURCE_STATUS: [status] * len(cells),
            lineage.SOURCE_FORMAT: ["mailchimp-export"] * len(cells),
            "reason": ["invalid email address"] * len(cells),
            "Email Address": cells,
            "First Name": ["N"] * len(cells),
            lineage.EXTRA_FIELDS: extra or [None] * len(cells),
        },
        schema_overrides={lineage.EXTRA_FIELDS: pl.String},
    )


def rejected_file(rows: pl.LazyFrame) -> RejectedFile:
    policy = load_profile("mailchimp").consent
    return RejectedFile(rows, "Email Address", ["Email Address", "First Name"], policy)


def test_named_addresses_are_normalised_checked_and_listed_once_in_order():
    named = named_addresses(
        [rejected_file(rejects(["B@Example.com.", "jane@XN--BCHER-KVA.de;", "b@example.com,", "not@an@address", "x@"]))]
    )
    assert named.get_column(EMAIL).to_list() == ["b@example.com", "jane@bücher.de"]
    b = named.row(0, named=True)
    assert b["_rejected_sources"] == "u.csv:2 | u.csv:4"
    assert b["_rejected_status"] == "unsubscribed"
    assert b["_rejected_provenance"] == ["mailchimp-export:unsubscribed"]


def test_only_rejected_rows_of_an_opt_out_status_name_addresses():
    assert named_addresses([rejected_file(rejects(["a@x.com."], status="subscribed"))]).is_empty()
    assert named_addresses([]).is_empty()


def test_a_row_that_split_wrong_names_the_cells_its_address_may_have_shifted_into():
    frame = rejects(["Smith", "lee@x.com"], extra=[None, "far@x.com"]).with_columns(
        pl.Series("First Name", ["kept@x.com", "shifted@x.com"])
    )
    # Row 2 splits right: only its email cell is read, never its other cells.
    assert named_addresses([rejected_file(frame)]).get_column(EMAIL).to_list() == ["lee@x.com", "shifted@x.com", "far@x.com"]


def test_without_named_addresses_the_contacts_are_left_untouched():
    contacts = pl.LazyFrame({EMAIL: ["a@x.com"], OUTCOME: ["marketing"]})
    empty = named_addresses([])
    assert opt_out_named(contacts, empty) == (contacts, None)


def write(folder: Path, name: str, *lines: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / name


def test_a_rejected_unsubscribe_opts_out_the_subscribed_copy_and_the_ledger_balances(tmp_path):
    exports = tmp_path / "in"
    write(
        exports, SUBSCRIBED, HEADER,
        "v1@example.com,V,2024-01-01 00:00:00",
        "carl@example.org,Carl,2024-01-01 00:00:00",
        "dan@example.net,Dan,2024-01-01 00:00:00",
        "long@example.com,Long,2024-01-01 00:00:00",
        "jane@bücher.de,Jane,2024-01-01 00:00:00",
        "stays@example.com,Stays,2024-01-01 00:00:00",
    )  # fmt: skip
    write(
        exports, UNSUBSCRIBED, HEADER,
        '"v1@example.com.",V,2025-01-01 00:00:00',
        '"carl@example.org, carl@work.example.org",Carl,2025-01-01 00:00:00',
        "Dan <dan@example.net>,Dan,2025-01-01 00:00:00",
        "long@example.com,Long,2025-01-01 00:00:00,one field too many",
        "mailto:jane@xn--bcher-kva.de,Jane,2025-01-01 00:00:00",
    )  # fmt: skip
    out = tmp_path / "out"

    report = plan([str(exports)], out)

    assert report["rows_read"] == 11 and report["rows_rejected"] == 5
    assert report["rows_read"] == report["rows_rejected"] + report["duplicates_merged"] + sum(report["contacts"].values())
    assert report["duplicates_merged"] == 0
    assert report["contacts"] == {"marketing": 1, "non_marketing": 0, "opted_out": 5}
    assert report["rejected_opt_outs"] == {"contacts_opted_out": 5, "addresses_without_contact": 1}
    opted_out = ["v1@example.com", "carl@example.org", "dan@example.net", "long@example.com", "jane@bücher.de"]
    assert pl.read_csv(out / "hubspot" / "opt-out-unsubscribed.csv")["Email"].to_list() == opted_out
    lineage_rows = {row["email"]: row for row in pl.read_csv(out / "lineage.csv").iter_rows(named=True)}
    subscribed, unsubscribed = str(exports / SUBSCRIBED), str(exports / UNSUBSCRIBED)
    assert lineage_rows["long@example.com"]["sources"] == f"{subscribed}:5 | {unsubscribed}:5"
    assert lineage_rows["stays@example.com"]["outcome"] == "marketing"
    combinations = {(c["provenance"], c["outcome"]): c["contacts"] for c in report["provenance"]["combinations"]}
    assert combinations == {
        ("mailchimp-export:subscribed; mailchimp-export:unsubscribed", "opted_out"): 5,
        ("mailchimp-export:subscribed", "marketing"): 1,
    }
    assert json.loads((out / "report.json").read_text(encoding="utf-8"))["rejected_opt_outs"] == report["rejected_opt_outs"]
    # The address no contact has is opted out too: HubSpot keeps an opt-out by address.
    unmatched = pl.read_csv(out / UNMATCHED_FILE).rows(named=True)
    assert unmatched == [{"email": "carl@work.example.org", "status": "unsubscribed", "sources": f"{unsubscribed}:3"}]
    planned = json.loads((out / "plan.json").read_text(encoding="utf-8"))["opt_outs"]
    assert planned[-1] == {"file": UNMATCHED_FILE, "status": UNMATCHED_STATUS, "rows": 1}
    assert report["files"]["opt_outs"][-1] == planned[-1]
    assert lineage_rows["carl@work.example.org"] == {
        "email": "carl@work.example.org", "outcome": "opted_out", "file": UNMATCHED_FILE, "line": 2,
        "sources": f"{unsubscribed}:3", "last_changed": None,
    }  # fmt: skip


def test_a_contact_already_opted_out_keeps_its_status_and_is_not_counted(tmp_path):
    exports = tmp_path / "in"
    write(exports, SUBSCRIBED, HEADER, "ann@example.com,Ann,2024-01-01 00:00:00")
    write(exports, UNSUBSCRIBED, HEADER, "ann@example.com,Ann,2025-01-01 00:00:00")
    write(exports, "cleaned_email_audience_export_ff.csv", HEADER, "ann@example.com;,Ann,2025-01-01 00:00:00")

    report = plan([str(exports)], tmp_path / "out")

    assert report["contacts"] == {"marketing": 0, "non_marketing": 0, "opted_out": 1}
    assert report["rejected_opt_outs"] == {"contacts_opted_out": 0, "addresses_without_contact": 0}
    assert pl.read_csv(tmp_path / "out" / "hubspot" / "opt-out-unsubscribed.csv")["Email"].to_list() == ["ann@example.com"]
    [combination] = report["provenance"]["combinations"]
    assert combination["provenance"] == (
        "mailchimp-export:cleaned; mailchimp-export:subscribed; mailchimp-export:unsubscribed"
    )


def test_a_rejected_row_of_a_subscribed_file_changes_nothing(tmp_path):
    exports = tmp_path / "in"
    write(exports, SUBSCRIBED, HEADER, "ann@example.com,Ann,2024-01-01 00:00:00", "ann@example.com.,Ann,2024-01-01 00:00:00")

    report = plan([str(exports)], tmp_path / "out")

    assert report["contacts"][Outcome.MARKETING.value] == 1 and report["rows_rejected"] == 1
    assert report["rejected_opt_outs"] == {"contacts_opted_out": 0, "addresses_without_contact": 0}


def test_the_rule_gives_the_same_plan_when_files_are_staged_in_slices(tmp_path, monkeypatch):
    exports = tmp_path / "in"
    write(exports, SUBSCRIBED, HEADER, *(f"p{i}@example.com,P,2024-01-01 00:00:00" for i in range(7)))
    write(exports, UNSUBSCRIBED, HEADER, *(f"p{i}@example.com.,P,2025-01-01 00:00:00" for i in range(0, 7, 2)))
    whole = plan([str(exports)], tmp_path / "whole")
    monkeypatch.setattr("tasks.plan.ROWS_PER_SLICE", 2)
    sliced = plan([str(exports)], tmp_path / "sliced")

    assert whole["rejected_opt_outs"] == sliced["rejected_opt_outs"] == {"contacts_opted_out": 4, "addresses_without_contact": 0}
    for name in ("lineage.csv", "hubspot/opt-out-unsubscribed.csv", "hubspot/contacts-marketing-001.csv"):
        assert (tmp_path / "sliced" / name).read_text() == (tmp_path / "whole" / name).read_text(), name
    # Contacts keep their order: the subscribed file's.
    assert pl.read_csv(tmp_path / "whole" / "hubspot" / "opt-out-unsubscribed.csv")["Email"].to_list() == [
        f"p{i}@example.com" for i in range(0, 7, 2)
    ]


def test_the_warning_counts_the_contacts_and_addresses_rejected_rows_opted_out():
    assert rejected_opt_out_warnings({"rejected_opt_outs": {"contacts_opted_out": 0, "addresses_without_contact": 0}}) == []
    [line] = rejected_opt_out_warnings({"rejected_opt_outs": {"contacts_opted_out": 5, "addresses_without_contact": 1}})
    assert line == (
        "warning: rejected opt-out rows name 5 contact(s), planned as opted out, and 1 address(es) no contact has, "
        f"opted out by address ({UNMATCHED_FILE}); their rows are in rejects.csv"
    )


def test_a_plan_of_rejected_opt_out_rows_alone_still_plans_their_opt_outs(tmp_path):
    exports = tmp_path / "in"
    write(exports, UNSUBSCRIBED, HEADER, "Dan <dan@example.net>,Dan,2025-01-01 00:00:00", " eve@example.com. ,Eve,2025-01-01 00:00:00")
    out = tmp_path / "out"

    report = plan([str(exports)], out)

    assert report["contacts"] == {"marketing": 0, "non_marketing": 0, "opted_out": 0}
    # The load reads plan.json: the file must be in it even when nothing else is planned.
    planned = json.loads((out / "plan.json").read_text(encoding="utf-8"))["opt_outs"]
    assert planned == [{"file": UNMATCHED_FILE, "status": UNMATCHED_STATUS, "rows": 2}]
    assert pl.read_csv(out / UNMATCHED_FILE)["email"].to_list() == ["dan@example.net", "eve@example.com"]
