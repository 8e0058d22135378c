"""The streaming plan writes exactly what a plain in-memory run of the domain rules gives.

The reference below is plain Python over the collected rows: validation by the rules, the
merge of DESIGN.md (most restrictive outcome, newest properties with blanks filled, sources in
input order, the newest change time, contacts in order of first appearance), then every file
the plan writes. Only the
per-row column mapping (``map_rows``) is shared: it is one row at a time, not what streaming
changes.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import zipfile
from datetime import datetime
from pathlib import Path

import pandera.errors
import polars as pl
import pytest

from benchmarks.generate_constantcontact import write_export as write_constant_contact
from benchmarks.generate_mailchimp import write_export
from schemas import lineage
from schemas.contact import EMAIL_PATTERN, MAX_EMAIL_CHARS, MAX_LOCAL_PART_CHARS, canonical_address, top_level_domains
from tasks.extract.mailchimp import DISAGREEING_PREFIX, KEEPS_FIRST, disagreeing_column, read_export
from tasks.extract.tables import ReadOptions, read_source
from tasks.import_files import LINEAGE_FILE, PlanLimits
from tasks.output import OutputFolder
from tasks.errors import InputError
from tasks.plan import check_contract, consent_profiles, plan_sources
from tasks.report import source_warnings
from tasks.transform.consent import Outcome
from tasks.transform.contacts import map_rows
from tasks.transform.profile import load_profile
from tasks.transform.rejected_opt_outs import addresses_in
from tests.plain_plan import plan as plain_plan

PROFILE = load_profile("mailchimp")
SEVERITY = {"marketing": 0, "non_marketing": 1, "opted_out": 2}
STEMS = {"marketing": "contacts-marketing", "non_marketing": "contacts-non-marketing"}
LIMITS = PlanLimits(max_rows=40)
REJECT_HEADER = ["source", "row", "status", "format", "reason"]
_NUMBER = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?")
_PHONE = re.compile(r"\+?[0-9 ().\-/]*[0-9][0-9 ().\-/]*")
TYPED = {c.source_column.lower(): c for c in PROFILE.custom_properties.values() if c.type in ("number", "datetime")}
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
VALUE_REJECT_HEADER = ["source", "row", "column", "property", "value", "reason"]
UNREADABLE = {
    "MEMBER_RATING": ["abc", "NaN", "1_000", "1e400", "１２"],
    "OPTIN_TIME": ["2018-02-30 08:15:34", "yesterday", "2018-07-26 08:15:34 garbage"],
}
"""Cells no reading takes, written into every 5th row of the generated exports."""


def unreadable_reason(kind: str, cell: str) -> str | None:
    """Why a typed cell cannot be sent as its property's type (None when it can)."""
    if kind == "number":
        return None if _DECIMAL.fullmatch(cell) and math.isfinite(float(cell)) else "not a number"
    try:
        datetime.strptime(cell, PROFILE.timestamp_format)
    except ValueError:
        return "not a time any format of this source reads"
    return None


def spoil_typed_cells(export: Path) -> None:
    """Put unreadable number and time cells in every 5th row of each status file of ``export``."""
    with zipfile.ZipFile(export) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    with zipfile.ZipFile(export, "w") as archive:
        for name, data in members.items():
            if name.endswith(".csv"):
                rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
                for number, row in enumerate(rows[1:]):
                    if number % 5 == 0:
                        for column, values in UNREADABLE.items():
                            if column in rows[0]:
                                row[rows[0].index(column)] = values[number % len(values)]
                text = io.StringIO(newline="")
                csv.writer(text, lineterminator="\n").writerows(rows)
                data = text.getvalue().encode("utf-8")
            archive.writestr(name, data)


def safe(cell: object) -> str:
    """A cell as the plan writes it: formulas neutralised, None empty."""
    if cell is None:
        return ""
    text = str(cell)
    if text.startswith(("=", "+", "-", "@", "\t", "\r")) and not (_NUMBER.fullmatch(text) or _PHONE.fullmatch(text)):
        return "'" + text
    return text


def reason(row: dict, email_column: str) -> str | None:
    email = (row[email_column] or "").strip()
    failed = []
    if not email:
        failed.append("no email address")
    elif not re.search(EMAIL_PATTERN, email.lower()):
        failed.append("invalid email address")
    elif email.lower().rsplit(".", 1)[1] not in top_level_domains():
        failed.append("the email's domain ends in no top-level domain (a typo such as .con?)")
    if row[lineage.EXTRA_FIELDS] is not None:
        failed.append("the row has more fields than the header")
    return "; ".join(failed) or None


def reference(raws) -> dict:
    """Plain Python: every file's rows in memory, merged and laid out into files."""
    contacts: dict[str, list[dict]] = {}
    rejects, properties, sources, value_rejects = [], [], [], []
    for raw in raws:
        frame = raw.frame.collect()
        # The reader's columns telling where a repeated header's copies disagree are counted,
        # never written.
        disagreeing = [disagreeing_column(header) for header in raw.duplicate_headers]
        duplicates = [
            {"column": header, "copies": raw.header_copies[header], "rows_disagreeing": int(frame.get_column(column).sum()), "keeps": raw.keeps(header)}
            for header, column in zip(raw.duplicate_headers, disagreeing, strict=True)
        ]
        rows = frame.drop(disagreeing).to_dicts()
        bad = [(r, reason(r, raw.email_column)) for r in rows]
        rejected = [{**r, "reason": why} for r, why in bad if why]
        sources.append({"uri": raw.uri, "format": raw.format, "status": raw.status, "rows": len(rows), "rejected": len(rejected), "unread_status_values": [], "duplicate_headers": duplicates, "notes": []})
        if rejected:
            rejects.append(rejected)
        accepted_rows = [r for r, why in bad if not why]
        accepted = pl.DataFrame(accepted_rows, schema=raw.frame.drop(disagreeing).collect_schema())
        mapped = map_rows(accepted, raw.headers, raw.email_column, raw.uri, PROFILE, PROFILE.consent).frame.collect()
        properties += [c for c in mapped.columns if not c.startswith("_") and c != "email" and c not in properties]
        typed = [(h, TYPED[h.strip().lower()]) for h in raw.headers if h.strip().lower() in TYPED]
        for source_row, row in zip(accepted_rows, mapped.to_dicts(), strict=True):
            # A typed cell that cannot be read is not sent: the property is blank (filled in the
            # merge from another row), and the cell is in value-rejects.csv.
            for header, prop in typed:
                cell = (source_row[header] or "").strip()
                why = unreadable_reason(prop.type, cell) if cell else None
                if why:
                    row[prop.name] = None
                    value_rejects.append([raw.uri, str(source_row[lineage.SOURCE_ROW]), header, prop.name, cell, why])
            contacts.setdefault(canonical_address(row["email"]), []).append({**row, "email": canonical_address(row["email"])})
    merged = [merge(rows, properties) for rows in contacts.values()]
    opted_out_by_rejects, unmatched = opt_out_rejected_addresses(raws, merged)
    return {
        "contacts": merged, "properties": properties, "rejects": rejects, "sources": sources,
        "rejected_opt_outs": opted_out_by_rejects, "unmatched_opt_outs": unmatched, "value_rejects": value_rejects,
    }  # fmt: skip


def values_dropped(value_rejects: list[list[str]]) -> list[dict]:
    """report.json's count of the cells not sent, per source file and column, in order of first one."""
    counts: dict[tuple[str, ...], int] = {}
    for source, _, column, prop, _, why in value_rejects:
        counts[source, column, prop, why] = counts.get((source, column, prop, why), 0) + 1
    return [{"source": s, "column": c, "property": p, "reason": r, "values": n} for (s, c, p, r), n in counts.items()]


def merge(rows: list[dict], properties: list[str]) -> dict:
    """DESIGN.md's one row per email, in input order of the rows given."""
    newest = sorted(range(len(rows)), key=lambda i: (rows[i]["_last_changed"] is None, -(rows[i]["_last_changed"] or datetime.min).timestamp(), i))
    ranked = [rows[i] for i in newest]
    outcome = max((r["_row_outcome"] for r in rows), key=SEVERITY.__getitem__)
    opted_out = [r[lineage.SOURCE_STATUS] for r in ranked if r["_row_outcome"] == "opted_out"]
    contact = {"email": rows[0]["email"], "outcome": outcome, "opt_out_status": opted_out[0] if opted_out else None}
    for p in properties:
        contact[p] = next((r[p] for r in ranked if r.get(p) is not None), None)
    contact["onramp_provenance"] = "; ".join(sorted({f"{r[lineage.SOURCE_FORMAT]}:{r[lineage.SOURCE_STATUS]}" for r in rows}))
    contact["sources"] = " | ".join(f"{r[lineage.SOURCE_URI]}:{r[lineage.SOURCE_ROW]}" for r in rows)
    contact["rows_merged"] = len(rows)
    times = [r["_last_changed"] for r in rows if r["_last_changed"] is not None]
    contact["last_changed"] = max(times) if times else None
    return contact


def opt_out_rejected_addresses(raws, contacts: list[dict]) -> dict:
    """DESIGN.md's "an opt-out is never lost" for rejected rows: every address a rejected opt-out
    row names (its email cell; for a row longer than its header, every cell after it too) opts
    out its contact, in place, the row added to its sources and provenance. Only reading the
    tokens out of a cell (``addresses_in``, one cell at a time) is shared.

    Returns:
        The report's counts: contacts opted out so, addresses naming no contact; and those
        addresses as their opt-out file lists them (email, first row's status, rows).
    """
    named: dict[str, dict[tuple[str, int], dict]] = {}
    for raw in raws:
        later = raw.headers[raw.headers.index(raw.email_column) + 1 :]
        for row in raw.frame.collect().to_dicts():
            if not reason(row, raw.email_column) or PROFILE.consent.outcome_of(row[lineage.SOURCE_STATUS]) is not Outcome.OPTED_OUT:
                continue
            cells = [row[raw.email_column]]
            if row[lineage.EXTRA_FIELDS] is not None:
                cells += [*(row[c] for c in later), row[lineage.EXTRA_FIELDS]]
            for token in (token for cell in cells for token in addresses_in(cell)):
                email = token.strip().lower()
                email = canonical_address(email) if not email.isascii() or "xn--" in email else email
                local = email.rpartition("@")[0]
                formed = re.search(EMAIL_PATTERN, email) and len(email) <= MAX_EMAIL_CHARS and len(local) <= MAX_LOCAL_PART_CHARS
                if formed and email.rpartition(".")[2] in top_level_domains():
                    named.setdefault(email, {})[(row[lineage.SOURCE_URI], row[lineage.SOURCE_ROW])] = row
    matched = newly = 0
    for contact in contacts:
        rows = list(named.get(contact["email"], {}).values())
        if not rows:
            continue
        matched += 1
        newly += contact["outcome"] != "opted_out"
        contact["outcome"] = "opted_out"
        contact["opt_out_status"] = contact["opt_out_status"] or rows[0][lineage.SOURCE_STATUS]
        entries = {f"{r[lineage.SOURCE_FORMAT]}:{r[lineage.SOURCE_STATUS]}" for r in rows}
        contact["onramp_provenance"] = "; ".join(sorted(set(contact["onramp_provenance"].split("; ")) | entries))
        contact["sources"] += "".join(f" | {r[lineage.SOURCE_URI]}:{r[lineage.SOURCE_ROW]}" for r in rows)
    emails = {c["email"] for c in contacts}
    unmatched = [
        [email, next(iter(rows.values()))[lineage.SOURCE_STATUS], " | ".join(f"{uri}:{row}" for uri, row in rows)]
        for email, rows in named.items()
        if email not in emails
    ]
    return {"contacts_opted_out": newly, "addresses_without_contact": len(named) - matched}, unmatched


def iso_utc(moment: datetime | None) -> str:
    """A change time as lineage writes it: ISO 8601 in UTC, empty when unknown."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def expected_files(ref: dict) -> dict[str, list[list[str]]]:
    files, lineage_rows = {}, []
    for outcome, stem in STEMS.items():
        group = [c for c in ref["contacts"] if c["outcome"] == outcome]
        columns = ["email", *(p for p in ref["properties"] if any(c[p] is not None for c in group)), "onramp_provenance"]
        for number, start in enumerate(range(0, len(group), LIMITS.max_rows), start=1):
            chunk = group[start : start + LIMITS.max_rows]
            file = f"hubspot/{stem}-{number:03d}.csv"
            files[file] = [columns, *([safe(c[k]) for k in columns] for c in chunk)]
            lineage_rows += [
                [c["email"], outcome, file, str(line), c["sources"], iso_utc(c["last_changed"])] for line, c in enumerate(chunk, start=2)
            ]
    opted_out = [c for c in ref["contacts"] if c["outcome"] == "opted_out"]
    for status in sorted({c["opt_out_status"] for c in opted_out}):
        members = [c for c in opted_out if c["opt_out_status"] == status]
        file = f"hubspot/opt-out-{status}.csv"
        files[file] = [["Email"], *([c["email"]] for c in members)]
        lineage_rows += [
            [c["email"], "opted_out", file, str(line), c["sources"], iso_utc(c["last_changed"])] for line, c in enumerate(members, start=2)
        ]
    if ref["unmatched_opt_outs"]:
        file = "hubspot/opt-out-rejected-rows.csv"
        files[file] = [["email", "status", "sources"], *ref["unmatched_opt_outs"]]
        lineage_rows += [[email, "opted_out", file, str(line), sources, ""] for line, (email, _, sources) in enumerate(ref["unmatched_opt_outs"], start=2)]
    files["lineage.csv"] = [["email", "outcome", "file", "line", "sources", "last_changed"], *lineage_rows]
    files["rejects.csv"] = expected_rejects(ref["rejects"])
    files["value-rejects.csv"] = [VALUE_REJECT_HEADER, *([safe(cell) for cell in row] for row in ref["value_rejects"])]
    return files


def expected_rejects(per_file: list[list[dict]]) -> list[list[str]]:
    originals: list[str] = []
    for rows in per_file:
        originals += [c for c in rows[0] if c not in lineage.ALL and c != "reason" and c not in originals]
    header = [*lineage.ALL, "reason", *originals]
    names = REJECT_HEADER + ["extra fields" if c == lineage.EXTRA_FIELDS else c for c in originals]
    return [names, *([safe(r.get(c)) for c in header] for rows in per_file for r in rows)]


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


@pytest.mark.parametrize(("layout", "seed"), [("new", 5), ("old", 8)])
def test_the_streaming_plan_writes_what_the_in_memory_rules_give(tmp_path, layout, seed):
    write_export(tmp_path / "export.zip", rows=300, seed=seed, layout=layout)
    spoil_typed_cells(tmp_path / "export.zip")
    raws = read_export(str(tmp_path / "export.zip"), tmp_path / "staging")
    ref = reference(raws)
    assert any(c["rows_merged"] > 1 for c in ref["contacts"]), "the export should hold duplicates"
    assert any(c["last_changed"] for c in ref["contacts"]), "the export should hold change times"
    assert {row[2] for row in ref["value_rejects"]} == set(UNREADABLE), "the export should hold unreadable typed cells"

    report = plan_sources(raws, OutputFolder(str(tmp_path / "out")), {PROFILE.format: (PROFILE, PROFILE.consent)}, LIMITS)

    expected = expected_files(ref)
    written = {str(p.relative_to(tmp_path / "out")): read_csv(p) for p in (tmp_path / "out").rglob("*.csv")}
    assert written.keys() == expected.keys()
    for name, rows in expected.items():
        assert written[name] == rows, name
    counts = {o: sum(c["outcome"] == o for c in ref["contacts"]) for o in SEVERITY}
    assert report["contacts"] == counts
    assert report["sources"] == ref["sources"]
    assert report["rows_read"] == sum(s["rows"] for s in ref["sources"])
    assert report["duplicates_merged"] == sum(c["rows_merged"] - 1 for c in ref["contacts"])
    assert report["rejected_opt_outs"] == ref["rejected_opt_outs"]
    assert report["values_dropped"] == values_dropped(ref["value_rejects"])
    assert json.loads((tmp_path / "out" / "report.json").read_text()) == report
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["hubspot", "lineage.csv", "plan.json", "rejects.csv", "report.json", "value-rejects.csv"]


def test_staging_a_file_in_slices_writes_the_same_files(tmp_path, monkeypatch):
    write_export(tmp_path / "export.zip", rows=300, seed=5)
    raws = read_export(str(tmp_path / "export.zip"), tmp_path / "staging")
    profiles = {PROFILE.format: (PROFILE, PROFILE.consent)}
    whole = plan_sources(raws, OutputFolder(str(tmp_path / "whole")), profiles, LIMITS)
    # 7 rows a slice: every file is staged in several, the last one short or empty.
    monkeypatch.setattr("tasks.plan.ROWS_PER_SLICE", 7)
    sliced = plan_sources(raws, OutputFolder(str(tmp_path / "sliced")), profiles, LIMITS)

    assert sliced == whole
    files = sorted(p.relative_to(tmp_path / "whole") for p in (tmp_path / "whole").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "sliced") for p in (tmp_path / "sliced").rglob("*") if p.is_file())
    for name in files:
        assert (tmp_path / "sliced" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name


def test_staging_a_constant_contact_file_in_slices_writes_the_same_files(tmp_path, monkeypatch):
    # Its per-row consent, list cells, local times and repeats with another status, merged and
    # counted across slices as in one.
    write_constant_contact(tmp_path / "contact_export.csv", rows=200, seed=4)
    [read] = read_source(str(tmp_path / "contact_export.csv"), tmp_path / "staging", ReadOptions())
    profiles = consent_profiles([read.profile.profile], {})
    whole = plan_sources([read.raw], OutputFolder(str(tmp_path / "whole")), profiles, LIMITS)
    monkeypatch.setattr("tasks.plan.ROWS_PER_SLICE", 7)
    sliced = plan_sources([read.raw], OutputFolder(str(tmp_path / "sliced")), profiles, LIMITS)

    assert sliced == whole
    assert whole["duplicates_merged"] and whole["contacts"]["opted_out"]
    files = sorted(p.relative_to(tmp_path / "whole") for p in (tmp_path / "whole").rglob("*") if p.is_file())
    for name in files:
        assert (tmp_path / "sliced" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name


def contact_slices(folder: Path, emails_per_slice: list[list[str]]) -> list[Path]:
    """Contact slices as ``stage_contacts`` writes them, one Parquet file per list of emails."""
    paths = []
    for number, emails in enumerate(emails_per_slice):
        rows = {
            "email": emails,
            "outcome": ["marketing"] * len(emails),
            "opt_out_status": pl.Series([None] * len(emails), dtype=pl.String),
            "onramp_provenance": ["mailchimp-export:subscribed"] * len(emails),
            "sources": [f"f:{number}"] * len(emails),
            "rows_merged": pl.Series([1] * len(emails), dtype=pl.UInt32),
            "last_changed": pl.Series([None] * len(emails), dtype=pl.Datetime("us")),
        }
        paths.append(folder / f"contacts-{number:05d}.parquet")
        pl.DataFrame(rows).write_parquet(paths[-1])
    return paths


@pytest.fixture
def small_email_partitions(monkeypatch):
    monkeypatch.setattr("tasks.transform.contacts.ROWS_PER_EMAIL_PARTITION", 2)


def test_the_contract_passes_distinct_emails_across_slices_and_partitions(tmp_path, small_email_partitions):
    check_contract(contact_slices(tmp_path, [[f"a{i}@x.com" for i in range(5)], [f"b{i}@x.com" for i in range(5)]]))


def test_an_email_in_two_slices_breaks_the_contract_whatever_its_partition(tmp_path, small_email_partitions):
    slices = contact_slices(tmp_path, [[f"a{i}@x.com" for i in range(5)], ["b0@x.com", "a3@x.com", "b1@x.com"]])
    with pytest.raises(pandera.errors.SchemaError) as caught:
        check_contract(slices)
    assert caught.value.check == "field_uniqueness"
    assert "a3@x.com" in str(caught.value)


def test_a_bad_contact_in_a_later_slice_breaks_the_contract_naming_its_check(tmp_path, small_email_partitions):
    slices = contact_slices(tmp_path, [["a@x.com"], ["b@x.com", "Not An Email"]])
    with pytest.raises(pandera.errors.SchemaError) as caught:
        check_contract(slices)
    assert "valid_email" in str(caught.value.check)


@pytest.mark.parametrize("bad_slice", [0, 2, 3, 4])
def test_a_bad_contact_is_found_in_any_slice_checked_together_with_others(tmp_path, monkeypatch, bad_slice):
    # Slices of 2, 0, 1, 4 and 1 contacts, checked at most 3 contacts at a time: the first three
    # together, the 4-contact slice alone (bigger than a batch), the last on its own.
    monkeypatch.setattr("tasks.plan.ROWS_PER_CONTRACT_CHECK", 3)
    emails = [["a@x.com", "b@x.com"], [], ["c@x.com"], ["d@x.com", "e@x.com", "f@x.com", "g@x.com"], ["h@x.com"]]
    emails[bad_slice] = [*emails[bad_slice][:-1], "Not An Email"]
    with pytest.raises(pandera.errors.SchemaError) as caught:
        check_contract(contact_slices(tmp_path, emails))
    assert "valid_email" in str(caught.value.check)


def test_a_consent_override_naming_no_status_of_the_run_is_refused_as_a_typo():
    mailchimp, generic = load_profile("mailchimp"), load_profile("generic")
    with pytest.raises(InputError, match=r"^--consent: no mailchimp-export row has the status 'subscibed': the statuses are .*subscribed"):
        consent_profiles([mailchimp], {"subscibed": "non_marketing"})
    # A status one of the run's formats knows is taken, for every format of the run.
    profiles = consent_profiles([mailchimp, generic], {"cleaned": "opted_out", "no_consent": "marketing"})
    assert profiles["generic-csv"][1].outcome_of("no_consent") is Outcome.MARKETING
    assert profiles["mailchimp-export"][1].outcome_of("Subscribed") is Outcome.MARKETING


DUPLICATE_PHONES = (
    "Email,Phone,Notes,PHONE,phone\n"
    "a@x.com,111,n1,222,\n"  # two numbers: the second is not planned
    "b@x.com,,n2,333,\n"  # one number, in the second copy
    "c@x.com,444,n3,444,444\n"  # the same number thrice
    "not-an-address,555,n4,,666\n"  # rejected, and counted like any row
    ",,,,\n"  # blank
    "d@x.com,777,n5,,\n"
)


def plan_text(tmp_path: Path, name: str, text: str) -> dict:
    tmp_path.mkdir()
    source = tmp_path / name
    source.write_text(text, encoding="utf-8")
    return plain_plan([str(source)], tmp_path / "out")


def test_a_repeated_header_counts_the_rows_whose_copies_disagree(tmp_path, monkeypatch):
    report = plan_text(tmp_path / "whole", "phones.csv", DUPLICATE_PHONES)

    [source] = report["sources"]
    assert source["duplicate_headers"] == [{"column": "Phone", "copies": 3, "rows_disagreeing": 2, "keeps": KEEPS_FIRST}]
    assert source_warnings(report) == [
        f"warning: {source['uri']}: the column 'Phone' appears 3 times, with different values in 2 row(s): "
        "the first non-empty value of each row is kept"
    ]
    [contacts] = (tmp_path / "whole" / "out" / "hubspot").glob("contacts-*.csv")
    assert pl.read_csv(contacts, infer_schema=False).select("email", "phone").rows() == [
        ("a@x.com", "111"), ("b@x.com", "333"), ("c@x.com", "444"), ("d@x.com", "777"),
    ]  # fmt: skip
    # The count is the reader's own: nothing of it reaches the rejects, whose blank row stays one.
    rejects = pl.read_csv(tmp_path / "whole" / "out" / "rejects.csv", infer_schema=False)
    assert not [column for column in rejects.columns if column.startswith(DISAGREEING_PREFIX)]
    assert rejects.get_column("reason").to_list()[1] == "blank row"
    monkeypatch.setattr("tasks.plan.ROWS_PER_SLICE", 2)
    assert plan_text(tmp_path / "sliced", "phones.csv", DUPLICATE_PHONES)["sources"][0]["duplicate_headers"] == source["duplicate_headers"]


def test_copies_that_agree_or_fill_each_others_blanks_say_nothing(tmp_path):
    path = tmp_path / "old.zip"
    write_export(path, rows=60, seed=3, layout="old")
    # Old Mailchimp exports repeat UNSUB_REASON, one copy left blank.
    report = plain_plan([str(path)], tmp_path / "out")
    [unsubscribed] = [source for source in report["sources"] if source["status"] == "unsubscribed"]
    assert unsubscribed["duplicate_headers"] == [{"column": "UNSUB_REASON", "copies": 2, "rows_disagreeing": 0, "keeps": KEEPS_FIRST}]
    assert source_warnings(report) == []


def test_the_files_a_source_holds_that_are_not_read_are_in_the_report_once(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    for name in ("a.csv", "b.csv"):
        (folder / name).write_text(f"Email\n{name}@x.com\n", encoding="utf-8")
    (folder / "README.txt").write_text("from the CRM", encoding="utf-8")

    report = plain_plan([str(folder)], tmp_path / "out")

    assert report["skipped_files"] == [{"uri": f"{folder}/README.txt", "reason": "not a CSV or TSV file or workbook, nor a table: its first line names no email column"}]
    assert json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))["skipped_files"] == report["skipped_files"]
    assert source_warnings(report) == [
        f"warning: 1 file(s) in the sources are not read (only CSV and TSV files, workbooks and .txt tables whose first line names the email column are): {folder}/README.txt; "
        "rename one that holds contacts to .csv to read it"
    ]


def test_a_plan_of_several_formats_names_its_imports_and_list_after_each(tmp_path):
    generic = tmp_path / "newsletter.csv"
    generic.write_text("Email,First Name,Subscribed\nann@example.com,Ann,yes\n", encoding="utf-8")
    pipedrive = tmp_path / "people.csv"
    pipedrive.write_text(
        "Person - Name,Person - Email - Work,Person - Marketing status\nBo,bo@example.com,Subscribed\n", encoding="utf-8"
    )

    plain_plan([str(generic), str(pipedrive)], tmp_path / "out")

    plan = json.loads((tmp_path / "out" / "plan.json").read_text())
    # Neither source's name alone: the marketing contact may be either's.
    assert {entry["name"] for entry in plan["imports"]} == {"Onramp Imported contacts + Pipedrive marketing 001"}
    [marketing_list] = plan["lists"]
    assert re.fullmatch(r"Onramp — Imported contacts \+ Pipedrive marketing contacts \(plan [0-9a-f]{8}\)", marketing_list["name"])


@pytest.mark.parametrize(
    ("subscribed", "unsubscribed"),
    [
        # Copied from a web page: a zero-width space before, a byte-order mark and a no-break space after.
        ("\u200bAnn@Example.com\ufeff\u00a0", "ann@example.com"),
        # From a right-to-left text: direction marks, an embedding, an isolate.
        ("ann@example.com", "\u200eann@example.com\u200f"),
        ("ann@example.com", "\u202bann@example.com\u202c"),
        ("\u2067ann@example.com\u2069", "ann@example.com"),
        ("ann@example.com", "\u061cann@example.com\u2063"),
    ],
    ids=["zero-width", "direction-marks", "embedding", "isolate", "arabic-mark-invisible-separator"],
)
def test_an_address_pasted_with_invisible_characters_around_it_is_the_same_contact(tmp_path, subscribed, unsubscribed):
    people = tmp_path / "people.csv"
    people.write_text(f"Email,First Name\n{subscribed},Ann\n", encoding="utf-8")
    unsubscribes = tmp_path / "unsubscribes.csv"
    unsubscribes.write_text(f"Email\n{unsubscribed}\n", encoding="utf-8")
    report = plain_plan([str(people), str(unsubscribes)], tmp_path / "out")
    assert (report["rows_rejected"], report["duplicates_merged"]) == (0, 1)
    [contact] = pl.read_csv(tmp_path / "out" / LINEAGE_FILE, infer_schema=False).rows(named=True)
    assert (contact["email"], contact["outcome"]) == ("ann@example.com", "opted_out")


def test_an_email_cell_of_invisible_characters_alone_is_rejected_as_no_email(tmp_path):
    people = tmp_path / "people.csv"
    people.write_text("Email,First Name\n\u200b\u200e,Ann\nbob@example.com,Bob\n", encoding="utf-8")
    report = plain_plan([str(people)], tmp_path / "out")
    assert report["rows_rejected"] == 1
    [rejected] = pl.read_csv(tmp_path / "out" / "rejects.csv", infer_schema=False).rows(named=True)
    assert (rejected["row"], rejected["reason"]) == ("2", "no email address")
