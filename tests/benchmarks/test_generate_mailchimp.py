"""The Mailchimp export generator: deterministic bytes, exact headers, messy values, true counts."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import pytest

from benchmarks.generate_mailchimp import (
    STATUS_SHARES,
    headers_for,
    main,
    status_counts,
    write_export,
)
from schemas.contact import top_level_domains

SAMPLE = Path(__file__).parents[2] / "samples" / "mailchimp-audience-export.zip"
SAMPLE_ARGS = ["--rows", "60", "--seed", "7"]  # as the Makefile's `make sample` runs it

SUBSCRIBED_2025 = (
    "Email Address, First Name, Last Name, Address, Phone Number, Birthday, MEMBER_RATING, "
    "OPTIN_TIME, OPTIN_IP, CONFIRM_TIME, CONFIRM_IP, GMTOFF, DSTOFF, TIMEZONE, CC, REGION, "
    "LAST_CHANGED, LEID, EUID, NOTES, TAGS"
).split(", ")
UNTIL_REGION = SUBSCRIBED_2025[: SUBSCRIBED_2025.index("REGION") + 1]
TAIL_2025 = ["LEID", "EUID", "NOTES", "TAGS"]


def _read_members(path: Path) -> dict[str, list[list[str]]]:
    with zipfile.ZipFile(path) as archive:
        return {
            name: list(csv.reader(io.StringIO(archive.read(name).decode("utf-8"), newline="")))
            for name in archive.namelist()
        }


def test_bundled_sample_is_what_make_sample_writes(tmp_path):
    out = tmp_path / "sample.zip"

    main([*SAMPLE_ARGS, "--out", str(out)])

    assert out.read_bytes() == SAMPLE.read_bytes()


def test_same_arguments_give_the_same_bytes_and_seeds_differ(tmp_path):
    paths = [tmp_path / name for name in ("a.zip", "b.zip", "c.zip")]
    write_export(paths[0], rows=200, seed=1, layout="old")
    write_export(paths[1], rows=200, seed=1, layout="old")
    write_export(paths[2], rows=200, seed=2, layout="old")

    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_headers_are_the_real_ones_per_status_and_era():
    assert headers_for("subscribed", "new") == SUBSCRIBED_2025
    assert headers_for("nonsubscribed", "new") == SUBSCRIBED_2025
    assert headers_for("unsubscribed", "new") == [
        *UNTIL_REGION,
        *["UNSUB_TIME", "UNSUB_CAMPAIGN_TITLE", "UNSUB_CAMPAIGN_ID", "UNSUB_REASON"],
        *["UNSUB_REASON_OTHER", *TAIL_2025],
    ]
    assert headers_for("cleaned", "new") == [
        *UNTIL_REGION, "CLEAN_TIME", "CLEAN_CAMPAIGN_TITLE", "CLEAN_CAMPAIGN_ID", *TAIL_2025,
    ]  # fmt: skip
    widths = [len(headers_for(s, "new")) for s in ("subscribed", "unsubscribed", "cleaned")]
    assert widths == [21, 25, 23]
    old = headers_for("subscribed", "old")
    assert old[old.index("CONFIRM_IP") + 1 : old.index("GMTOFF")] == ["LATITUDE", "LONGITUDE"]
    assert "TAGS" not in old
    old_unsubscribed = headers_for("unsubscribed", "old")
    assert [h for h in set(old_unsubscribed) if old_unsubscribed.count(h) > 1] == ["UNSUB_REASON"]


@pytest.mark.parametrize("layout", ["new", "old"])
def test_truth_matches_an_independent_parse(tmp_path, layout):
    path = tmp_path / "export.zip"
    truth = write_export(path, rows=300, seed=4, layout=layout)

    members = _read_members(path)

    assert truth.rows == 300
    assert set(members) == {status.member for status in truth.statuses.values()}
    for status, expected in truth.statuses.items():
        header, *records = members[expected.member]
        assert header == headers_for(status, layout)
        emails = [record[0].strip().lower() for record in records]
        valid = [
            email for email in emails if "@" in email and "." in email.split("@")[1] and email.rsplit(".", 1)[1] in top_level_domains()
        ]
        assert len(records) == expected.rows
        assert len(records) - len(valid) == expected.invalid_emails
        assert set(valid) == expected.emails


def test_status_mix_adds_up():
    for rows in (0, 1, 7, 60, 1001):
        for layout in ("new", "old"):
            counts = status_counts(rows, layout)
            assert sum(counts.values()) == rows
    assert set(status_counts(10, "new")) == set(STATUS_SHARES)
    assert "sms_only" not in status_counts(10, "old")
    assert status_counts(1000, "new")["subscribed"] == 700


def test_sample_is_messy_the_way_real_exports_are(tmp_path):
    truth = write_export(tmp_path / "x.zip", rows=60, seed=7)
    members = _read_members(tmp_path / "x.zip")
    by_status = {status: members[t.member] for status, t in truth.statuses.items()}
    cells = [cell for rows in by_status.values() for row in rows[1:] for cell in row]
    subscribed = truth.statuses["subscribed"]
    raw_emails = [row[0] for rows in by_status.values() for row in rows[1:]]

    assert truth.statuses["unsubscribed"].emails & subscribed.emails  # an opt-out of a subscriber
    # a duplicate within one file
    assert subscribed.rows - subscribed.invalid_emails > len(subscribed.emails)
    assert truth.statuses["sms_only"].invalid_emails == truth.statuses["sms_only"].rows
    assert {"", "no-at-sign"} <= set(raw_emails)
    assert any(email.endswith("@") for email in raw_emails)
    assert any(email != email.strip() for email in raw_emails)
    assert any(email.isupper() for email in raw_emails)
    assert any("\n" in cell and "," in cell and '"' in cell for cell in cells)  # NOTES
    assert any(cell.startswith("=HYPERLINK(") for cell in cells)
    assert any(cell.startswith('"') and '","' in cell for cell in cells)  # TAGS
    assert any("  " in cell and cell.endswith("  US") for cell in cells)  # Address
    assert any(cell.startswith("+1 ") for cell in cells)  # phone
    assert {"Françoise", "Zoë", "Søren"} <= set(cells) and any("李" in cell for cell in cells)
    assert any(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", cell) for cell in cells)
