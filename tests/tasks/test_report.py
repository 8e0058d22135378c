import polars as pl
import pytest

from tasks.report import LedgerError, SourceSummary, build_report, check_ledger, markdown_report

PLAN = {"imports": [], "opt_outs": [], "lineage": "lineage.csv"}


def contacts(outcomes: list[str], merged: list[int]) -> pl.DataFrame:
    return pl.DataFrame({"outcome": outcomes, "rows_merged": pl.Series(merged, dtype=pl.UInt32)})


def test_the_ledger_balances_rows_read_against_rejects_merges_and_outcomes():
    sources = [SourceSummary("s.csv", "mailchimp-export", "subscribed", rows=5, rejected=1), SourceSummary("u.csv", "mailchimp-export", "unsubscribed", rows=2, rejected=0)]
    report = build_report(sources, contacts(["marketing", "marketing", "opted_out", "non_marketing"], [1, 2, 2, 1]), [], PLAN)
    assert {k: report[k] for k in ("rows_read", "rows_rejected", "duplicates_merged", "contacts")} == {
        "rows_read": 7,
        "rows_rejected": 1,
        "duplicates_merged": 2,
        "contacts": {"marketing": 2, "non_marketing": 1, "opted_out": 1},
    }
    assert report["sources"][1] == {"uri": "u.csv", "format": "mailchimp-export", "status": "unsubscribed", "rows": 2, "rejected": 0}
    assert "| 7 | 1 | 2 | 2 | 1 | 1 |" in markdown_report(report)


def test_a_ledger_that_does_not_balance_is_refused():
    sources = [SourceSummary("s.csv", "mailchimp-export", "subscribed", rows=5, rejected=1)]
    with pytest.raises(LedgerError, match="5 rows read, 3 accounted for"):
        build_report(sources, contacts(["marketing", "marketing"], [1, 1]), [], PLAN)


def test_check_ledger_accepts_a_balanced_report():
    check_ledger({"rows_read": 3, "rows_rejected": 1, "duplicates_merged": 1, "contacts": {"marketing": 1, "non_marketing": 0, "opted_out": 0}})
