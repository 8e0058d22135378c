"""``report.html``: the run report as a page a person would rather look at than read.

Self-contained (inline CSS, no script, no network) so it opens from a zip, a bucket or an
email attachment. Every value that comes from input (file names, reasons) is HTML-escaped:
a source file name is user data like any other.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from pathlib import Path

import polars as pl

from tasks.report import (
    PROVENANCE_ROWS_SHOWN,
    kept_non_marketing_lines,
    list_removals_failed,
    lists_not_static,
    marketing_billing_hint,
    not_associated,
    rows_left_out_of_read_back,
    source_warnings,
)

REPORT_HTML_FILE = "report.html"

_OUTCOMES = (
    ("marketing", "Marketing contacts", "#2e7d32"),
    ("non_marketing", "Non-marketing contacts", "#1565c0"),
    ("opted_out", "Opted out", "#c62828"),
)
_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:60rem;color:#222}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%}td,th{padding:.3rem .5rem;text-align:left;border-bottom:1px solid #eee}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
td.b{width:40%}.bar{height:1.1rem;border-radius:3px;min-width:2px}.track{background:#f3f3f3;border-radius:3px;width:100%}
.ok{color:#2e7d32}.bad{color:#c62828}code{font-size:.85em;word-break:break-all}
"""


def render_report_html(report: dict, reject_reasons: dict[str, int] | None = None) -> str:
    """Render a run's report as one self-contained HTML page.

    Args:
        report: The run report (``report.json``), with ``load`` when the run loaded.
        reject_reasons: Reason → number of rejected rows, most frequent first (from the rejects).

    Returns:
        The page.
    """
    sections = [
        _funnel(report),
        _sources(report["sources"]),
        _source_warnings(report),
        _provenance(report.get("provenance")),
        _reasons(reject_reasons or {}),
        _load(report.get("load")),
    ]
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>Onramp run report</title><style>{_STYLE}</style></head><body>"
        "<h1>Onramp run report</h1>" + "".join(s for s in sections if s) + "</body></html>\n"
    )


def _funnel(report: dict) -> str:
    read = report["rows_read"]
    steps = [
        ("rows-read", "Rows read", read, "#555"),
        ("rows-rejected", "Rejected", report["rows_rejected"], "#8d6e63"),
        ("duplicates-merged", "Duplicates merged", report["duplicates_merged"], "#9e9e9e"),
        *((key.replace("_", "-"), label, report["contacts"][key], colour) for key, label, colour in _OUTCOMES),
    ]
    rows = "".join(
        f"<tr id='{key}'><th>{label}</th><td class='n'>{count:,}</td><td class='b'>{_bar(count, read, colour)}</td></tr>"
        for key, label, count, colour in steps
    )
    hint = marketing_billing_hint(report)
    billing = f"<p id='marketing-billing'>{escape(hint)}</p>" if hint else ""
    return f"<h2>From rows read to outcomes</h2><table>{rows}</table>{billing}"


def _sources(sources: Iterable[dict]) -> str:
    sources = list(sources)
    most = max((s["rows"] for s in sources), default=0)
    rows = "".join(
        f"<tr><td title='{escape(s['uri'])}'><code>{escape(_short(s['uri']))}</code></td><td>{escape(s['status'])}</td>"
        f"<td class='n'>{s['rows']:,}</td><td class='n'>{s['rejected']:,}</td>"
        f"<td class='b'>{_bar(s['rows'], most, '#607d8b')}</td></tr>"
        for s in sources
    )
    return (
        "<h2>Sources</h2><table><tr><th>file</th><th>status</th><th class='n'>rows</th>"
        f"<th class='n'>rejected</th><th></th></tr>{rows}</table>"
    )


def _source_warnings(report: dict) -> str:
    """What a person should read about the sources (``source_warnings``), a paragraph each."""
    return "".join(f"<p class='bad source-warning'>{escape(line)}</p>" for line in source_warnings(report))


def _provenance(provenance: dict | None) -> str:
    if not provenance:
        return ""
    combinations = provenance["combinations"]
    most = max((c["contacts"] for c in combinations), default=0)
    rows = "".join(
        f"<tr><td><code>{escape(c['provenance'])}</code></td><td>{escape(c['outcome'])}</td>"
        f"<td class='n'>{c['contacts']:,}</td><td class='b'>{_bar(c['contacts'], most, '#607d8b')}</td></tr>"
        for c in combinations[:PROVENANCE_ROWS_SHOWN]
    )
    more = len(combinations) - PROVENANCE_ROWS_SHOWN
    return (
        f"<h2>Provenance</h2><p id='several-sources'>{provenance['several_sources']:,} contact(s) merged from more than "
        "one source file; each contact's sources are in its <code>onramp_provenance</code> property.</p>"
        "<table><tr><th>sources (format:status)</th><th>outcome</th><th class='n'>contacts</th><th></th></tr>"
        f"{rows}</table>" + (f"<p>{more:,} more combination(s) in <code>report.json</code>.</p>" if more > 0 else "")
    )


def _reasons(reasons: dict[str, int]) -> str:
    if not reasons:
        return "<h2>Rejects</h2><p class='ok'>No row was rejected.</p>"
    rows = "".join(f"<tr><td>{escape(reason)}</td><td class='n'>{count:,}</td></tr>" for reason, count in list(reasons.items())[:10])
    return f"<h2>Top reject reasons</h2><table>{rows}</table><p>Every rejected row is in <code>rejects.csv</code>.</p>"


def _load(load: dict | None) -> str:
    if not load:
        return ""
    failed = load.get("rows_failed", 0)
    refused = load.get("rows_with_value_errors", 0)
    not_removed = list_removals_failed(load)
    without_company = not_associated(load)
    named = " report.json's <code>load.errors</code> names each row and why." if failed or refused or not_removed else ""
    removals = (
        f" {not_removed:,} contact(s) HubSpot would not take out of a list (the run fails; a sync sends them again next run)."
        if not_removed
        else ""
    )
    companies = (
        f" {without_company:,} row(s) loaded but not associated with their company (HubSpot refused the association "
        "or the company); report.json's <code>load.companies.errors</code> names each row and why."
        if without_company
        else ""
    )
    status = (
        f"<p class='{'bad' if failed or refused or not_removed or without_company else 'ok'}'>{failed:,} row(s) failed in HubSpot. "
        f"{refused:,} row(s) loaded with values HubSpot refused (those values were left out).{removals}{named}{companies}</p>"
    )
    rows = "".join(
        f"<tr><td><code>{escape(str(i.get('file', '')))}</code></td><td>{escape(str(i.get('state', '')))}</td>"
        f"<td class='n'>{i.get('rows', 0):,}</td><td class='n'>{i.get('rows_failed', 0):,}</td></tr>"
        for i in load.get("imports", [])
    )
    table = (
        "<table><tr><th>file</th><th>state</th><th class='n'>rows</th><th class='n'>failed</th></tr>"
        f"{rows}</table>"
    )
    opt_outs = load.get("opt_outs", {})
    opted = f"<p>{opt_outs.get('unsubscribed', 0):,} address(es) opted out of all email, {opt_outs.get('failed', 0):,} failed.</p>"
    opted += "".join(f"<p>{escape(line)}</p>" for line in kept_non_marketing_lines(load))
    # Which portal, when HubSpot said (its id tells a sandbox from production at the same URL).
    account = f", HubSpot portal {load['portal_id']} ({escape(str(load.get('account_type')))})" if load.get("portal_id") else ""
    warnings = "".join(f"<p class='bad'>Warning: {escape(warning)}</p>" for warning in (*lists_not_static(load), *load.get("warnings", [])))
    waiting = _waiting(load)
    return (
        f"<h2>HubSpot</h2><p>Portal <code>{escape(str(load.get('portal', '')))}</code>{account}</p>{status}{table}{opted}"
        f"{waiting}{warnings}{_reconciliation(load.get('reconciliation'), rows_left_out_of_read_back(load))}"
    )


def _waiting(load: dict) -> str:
    """What the load left for the rerun: list members and companies of files whose import did not
    finish, and contacts HubSpot does not hold (their rows failed), which get no company."""
    listed = sum(static.get("waiting", 0) for static in load.get("lists", []))
    companies = load.get("companies") or {}
    waiting = companies.get("waiting", 0)
    said = [
        text
        for count, text in ((listed, f"{listed:,} contact(s) not added to their list yet"), (waiting, f"{waiting:,} contact(s) without their company yet"))
        if count
    ]
    lines = []
    if said:
        lines.append(
            f"<p class='bad'>{' and '.join(said)}: their file's import did not finish; "
            "the same command sends them again, then does these.</p>"
        )
    if companies.get("missing"):
        lines.append(f"<p>{companies['missing']:,} contact(s) with a company domain are not in HubSpot (their rows failed): no company was made for them.</p>")
    return "".join(lines)


def _reconciliation(reconciliation: dict | None, left_out_rows: int) -> str:
    """What the read-back compared and found; it says what it left out (``left_out_rows``: the
    rows HubSpot did not take, :func:`~tasks.report.rows_left_out_of_read_back`) rather than
    claim a match."""
    if not reconciliation:
        return ""
    mismatches = reconciliation.get("mismatches", [])
    compared = (
        f"Read back from HubSpot: {reconciliation.get('contacts_checked', 0):,} contact(s) (each present, its "
        f"marketing status, its lists) and {reconciliation.get('opt_outs_checked', 0):,} opt-out(s) (unsubscribed "
        "from all email, not a marketing contact)"
    )
    left_out = "; other property values were not compared"
    if left_out_rows:
        left_out += f", nor the {left_out_rows:,} row(s) HubSpot did not take (failed, or not taken out of a list)"
    if not mismatches:
        return f"<h3>Reconciliation</h3><p class='ok'>{compared}: no mismatch{left_out}.</p>"
    rows = "".join(f"<li>{_mismatch(m)}</li>" for m in mismatches[:50])
    return f"<h3>Reconciliation</h3><p class='bad'>{compared}: {len(mismatches):,} mismatch(es){left_out}:</p><ul>{rows}</ul>"


def _mismatch(mismatch: dict) -> str:
    """One mismatch of the read-back: its check, the plan's file and line, what HubSpot holds,
    and the source rows (never an email)."""
    sources = mismatch.get("sources") or []
    rows = f" (source rows: {escape(', '.join(sources))})" if sources else ""
    return (
        f"<code>{escape(str(mismatch.get('check', '')))}</code> {escape(str(mismatch.get('file', '')))} "
        f"line {escape(str(mismatch.get('line', '')))}: {escape(str(mismatch.get('detail', '')))}{rows}"
    )


def _bar(count: int, total: int, colour: str) -> str:
    width = 0 if not total else max(0.0, min(100.0, 100.0 * count / total))
    return f"<div class='track'><div class='bar' style='width:{width:.1f}%;background:{colour}'></div></div>"


def _short(uri: str) -> str:
    """The file's own name: an archive member's name, else the last part of the path."""
    return uri.rsplit("!", 1)[-1].rsplit("/", 1)[-1]


def reject_reasons(rejects_csv: Path) -> dict[str, int]:
    """Reason → rejected rows, most frequent first, read from the rejects file's reason column."""
    counts = (
        pl.scan_csv(rejects_csv, infer_schema=False, glob=False)
        .group_by("reason")
        .len()
        .sort(["len", "reason"], descending=[True, False])
        .collect()
    )
    return dict(counts.iter_rows())
