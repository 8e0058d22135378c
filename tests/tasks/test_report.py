import polars as pl
import pytest

from tasks.extract.mailchimp import KEEPS_FIRST, KEEPS_JOINED
from tasks.report import SKIPPED_FILES_SHOWN, LedgerError, SourceSummary, build_report, check_ledger, markdown_report, source_warnings

PLAN = {"imports": [], "opt_outs": [], "lineage": "lineage.csv"}


def contacts(outcomes: list[str], merged: list[int], provenance: list[str] | None = None, sources: list[str] | None = None) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "outcome": outcomes,
            "rows_merged": pl.Series(merged, dtype=pl.UInt32),
            "onramp_provenance": provenance or ["mailchimp-export:subscribed"] * len(outcomes),
            "sources": sources or [" | ".join(f"s.csv:{row}" for row in range(2, 2 + n)) for n in merged],
        }
    )


def test_the_ledger_balances_rows_read_against_rejects_merges_and_outcomes():
    sources = [SourceSummary("s.csv", "mailchimp-export", "subscribed", rows=5, rejected=1), SourceSummary("u.csv", "mailchimp-export", "unsubscribed", rows=2, rejected=0)]
    report = build_report(sources, contacts(["marketing", "marketing", "opted_out", "non_marketing"], [1, 2, 2, 1]), [], PLAN)
    assert {k: report[k] for k in ("rows_read", "rows_rejected", "duplicates_merged", "contacts")} == {
        "rows_read": 7,
        "rows_rejected": 1,
        "duplicates_merged": 2,
        "contacts": {"marketing": 2, "non_marketing": 1, "opted_out": 1},
    }
    assert report["sources"][1] == {"uri": "u.csv", "format": "mailchimp-export", "status": "unsubscribed", "rows": 2, "rejected": 0, "unread_status_values": [], "duplicate_headers": [], "notes": []}
    assert "| 7 | 1 | 2 | 2 | 1 | 1 |" in markdown_report(report)


def test_a_ledger_that_does_not_balance_is_refused():
    sources = [SourceSummary("s.csv", "mailchimp-export", "subscribed", rows=5, rejected=1)]
    with pytest.raises(LedgerError, match="5 rows read, 3 accounted for"):
        build_report(sources, contacts(["marketing", "marketing"], [1, 1]), [], PLAN)


def test_check_ledger_accepts_a_balanced_report():
    check_ledger({"rows_read": 3, "rows_rejected": 1, "duplicates_merged": 1, "contacts": {"marketing": 1, "non_marketing": 0, "opted_out": 0}})


def test_the_report_counts_contacts_per_provenance_and_those_merged_from_several_files():
    sources = [
        SourceSummary("s3://b/export.zip!subscribed.csv", "mailchimp-export", "subscribed", rows=3, rejected=0),
        SourceSummary("s3://b/cc.csv", "constantcontact-export", "", rows=2, rejected=0),
    ]
    mixed = "constantcontact-export:unsubscribed; mailchimp-export:subscribed"
    merged = contacts(
        ["opted_out", "marketing", "marketing"],
        [2, 2, 1],
        provenance=[mixed, "mailchimp-export:subscribed", "mailchimp-export:subscribed"],
        # Two rows of one file are one source; a URI's own colons are not a row number.
        sources=["s3://b/export.zip!subscribed.csv:2 | s3://b/cc.csv:2", "s3://b/cc.csv:3 | s3://b/cc.csv:4", "s3://b/export.zip!subscribed.csv:3"],
    )

    report = build_report(sources, merged, [], PLAN)

    assert report["provenance"] == {
        "several_sources": 1,
        "combinations": [
            {"provenance": "mailchimp-export:subscribed", "outcome": "marketing", "contacts": 2},
            {"provenance": mixed, "outcome": "opted_out", "contacts": 1},
        ],
    }
    markdown = markdown_report(report)
    assert "1 contact(s) merged from more than one source file" in markdown
    assert f"| {mixed} | opted_out | 1 |" in markdown


def test_a_provenance_that_misses_contacts_is_refused():
    report = {
        "rows_read": 2,
        "rows_rejected": 0,
        "duplicates_merged": 0,
        "contacts": {"marketing": 2, "non_marketing": 0, "opted_out": 0},
        "provenance": {"several_sources": 0, "combinations": [{"provenance": "x:y", "outcome": "marketing", "contacts": 1}]},
    }
    with pytest.raises(LedgerError, match="provenance does not balance: 1 contacts counted, 2 planned"):
        check_ledger(report)


def test_a_bar_in_a_status_does_not_split_the_markdown_table():
    sources = [SourceSummary("a.csv", "generic-csv", "per-row", rows=1, rejected=0)]
    report = build_report(sources, contacts(["non_marketing"], [1], provenance=["generic-csv:a|b"]), [], PLAN)
    assert "| generic-csv:a\\|b | non_marketing | 1 |" in markdown_report(report)


def test_a_repeated_header_warns_only_where_its_copies_disagree_saying_what_was_kept():
    duplicates = (
        {"column": "Email", "copies": 2, "rows_disagreeing": 1, "keeps": KEEPS_JOINED},
        {"column": "UNSUB_REASON", "copies": 2, "rows_disagreeing": 0, "keeps": KEEPS_FIRST},
    )
    sources = [SourceSummary("s.csv", "generic-csv", "per-row", rows=1, rejected=1, duplicate_headers=duplicates)]
    report = build_report(sources, contacts([], []), [], PLAN)

    assert report["sources"][0]["duplicate_headers"] == list(duplicates)
    assert source_warnings(report) == [
        "warning: s.csv: the column 'Email' appears 2 times, with different values in 1 row(s): "
        "such a row is rejected, its addresses joined"
    ]
    assert source_warnings(report)[0] in markdown_report(report)


def test_what_reading_a_file_warned_about_is_kept_with_its_source_and_warned_about_again():
    notes = (
        "no header names the email column: 'Contact Email', the only column holding addresses, is read as the email column",
        "the column 'ann@example.com' holds no email addresses",
    )
    sources = [
        SourceSummary("s.csv", "generic-csv", "per-row", rows=1, rejected=0, notes=notes),
        SourceSummary("t.csv", "generic-csv", "per-row", rows=1, rejected=0),
    ]
    report = build_report(sources, contacts(["non_marketing", "non_marketing"], [1, 1]), [], PLAN)

    assert [source["notes"] for source in report["sources"]] == [list(notes), []]
    # An address a note quotes (a header of one) is masked, as everywhere the console and logs say.
    assert source_warnings(report) == [
        f"warning: s.csv: {notes[0]}",
        "warning: s.csv: the column '***@example.com' holds no email addresses",
    ]
    assert source_warnings(report)[0] in markdown_report(report)


def test_the_files_not_read_are_named_in_one_line_the_first_few_and_how_many():
    skipped = [{"uri": f"x.zip!{n}.png", "reason": "not a CSV or TSV file or workbook"} for n in range(SKIPPED_FILES_SHOWN + 2)]
    report = build_report([], contacts([], []), [], PLAN, skipped)

    [line] = source_warnings(report)
    assert line.startswith(f"warning: {SKIPPED_FILES_SHOWN + 2} file(s) in the sources are not read")
    assert f"x.zip!{SKIPPED_FILES_SHOWN - 1}.png and 2 more;" in line
    assert f"x.zip!{SKIPPED_FILES_SHOWN}.png" not in line
    assert report["skipped_files"] == skipped


def test_the_markdown_report_says_what_the_load_did_as_the_console_does_whatever_its_size():
    sources = [SourceSummary("s.csv", "mailchimp-export", "subscribed", rows=1, rejected=0)]
    report = build_report(sources, contacts(["marketing"], [1]), [], PLAN)
    # Enough properties and errors that a JSON dump of the load cut at a few thousand characters
    # ended before the rows failed and the read-back.
    report["load"] = {
        "portal": "https://api.hubapi.com", "portal_id": 4417281, "account_type": "STANDARD",
        "properties": {"created": [f"property_{n}" for n in range(400)]},
        "imports": [{"file": "hubspot/contacts-marketing-001.csv", "import_id": "7"}],
        "opt_outs": {"unsubscribed": 3},
        "lists": [{"name": "Onramp — s.csv marketing", "list_id": "12", "added": 1, "removed_opted_out": 2}],
        "errors": [{"file": "hubspot/contacts-marketing-001.csv", "line": n, "message": "x" * 80} for n in range(100)],
        "rows_failed": 100,
        "reconciliation": {"by_check": {"not-marketing": 4, "opted-out-made-marketing": 0}},
    }

    markdown = markdown_report(report)

    assert markdown.endswith(
        "## Load\n\n"
        "- HubSpot portal 4417281 (STANDARD) at https://api.hubapi.com: 1 import(s), 3 opted out, 100 row(s) failed "
        "(report.json load.errors)\n"
        "  - list 'Onramp — s.csv marketing' (id 12): 1 contacts added, 2 opted-out contact(s) removed\n"
        "  - read back from HubSpot: 4 not-marketing (report.json load.reconciliation)\n"
    )
