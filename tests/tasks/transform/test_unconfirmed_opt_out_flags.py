"""A plain opt-out flag read beside a profile that does not read it itself gives
``opt_out_flag_unconfirmed``: never marketing, opted out only when a run confirms it; the rows it
gives that status are counted by flag for the report's warning."""

from __future__ import annotations

import polars as pl
import pytest

from schemas.lineage import SOURCE_STATUS
from tasks.errors import InputError
from tasks.plan import check_override_statuses, refused_run_override
from tasks.report import unconfirmed_flag_warnings, unread_status_warnings
from tasks.transform.catalog import reading_fallback_opt_outs, reading_profile, unread_status_values
from tasks.transform.consent import NEVER_MARKETING_STATUSES, OPT_OUT_FLAG_UNCONFIRMED_STATUS

HEADERS = ["Email", "Marketing contact status", "Bounced", "Unsubscribed At"]
HUBSPOT_WITH_FLAGS = reading_fallback_opt_outs(reading_profile("hubspot"), HEADERS)


def read(rows: list[list[str]]) -> pl.DataFrame:
    """``rows`` of a HubSpot export with two plain flags, with each row's status."""
    frame = pl.DataFrame(rows, schema=dict.fromkeys(HEADERS, pl.String), orient="row")
    return frame.with_columns(HUBSPOT_WITH_FLAGS.status_expr(HEADERS).alias(SOURCE_STATUS))


def test_the_status_is_never_marketing_and_non_marketing_by_default():
    assert OPT_OUT_FLAG_UNCONFIRMED_STATUS in NEVER_MARKETING_STATUSES
    assert HUBSPOT_WITH_FLAGS.profile.consent.outcome_of(OPT_OUT_FLAG_UNCONFIRMED_STATUS).value == "non_marketing"
    assert OPT_OUT_FLAG_UNCONFIRMED_STATUS not in HUBSPOT_WITH_FLAGS.profile.consent.opt_out_statuses


def test_a_run_may_confirm_it_as_an_opt_out_never_make_it_marketing():
    assert refused_run_override({OPT_OUT_FLAG_UNCONFIRMED_STATUS: "opted_out"}) is None
    assert refused_run_override({OPT_OUT_FLAG_UNCONFIRMED_STATUS: "non_marketing"}) is None
    status, why = refused_run_override({OPT_OUT_FLAG_UNCONFIRMED_STATUS: "marketing"})
    assert (status, "cannot be mapped to marketing" in why) == (OPT_OUT_FLAG_UNCONFIRMED_STATUS, True)
    # The run's profiles know the status once a file borrowed a flag; the plain profile does not.
    check_override_statuses({OPT_OUT_FLAG_UNCONFIRMED_STATUS: "opted_out"}, [HUBSPOT_WITH_FLAGS.profile.consent])
    with pytest.raises(InputError):
        check_override_statuses({OPT_OUT_FLAG_UNCONFIRMED_STATUS: "opted_out"}, [reading_profile("hubspot").profile.consent])


def test_rows_are_counted_under_the_first_flag_set_in_them():
    frame = read(
        [
            ["a@x.com", "Marketing contact", "1", ""],
            ["b@x.com", "Non-marketing contact", "yes", "2024-01-01"],
            ["c@x.com", "Marketing contact", "0", "2024-02-01"],
            ["d@x.com", "Marketing contact", "0", "N/A"],
            ["e@x.com", "Marketing contact", "2", ""],
        ]
    )
    assert frame[SOURCE_STATUS].to_list() == [OPT_OUT_FLAG_UNCONFIRMED_STATUS] * 3 + ["marketing_contact", "unrecognised"]
    counted = unread_status_values(frame.lazy(), HUBSPOT_WITH_FLAGS.status_values(HEADERS), name_opts_out=False).collect()
    assert sorted(counted.iter_rows()) == [
        ("Bounced", "1", OPT_OUT_FLAG_UNCONFIRMED_STATUS, 1),
        ("Bounced", "2", "unrecognised", 1),
        ("Bounced", "yes", OPT_OUT_FLAG_UNCONFIRMED_STATUS, 1),
        ("Unsubscribed At", "2024-02-01", OPT_OUT_FLAG_UNCONFIRMED_STATUS, 1),
    ]


def source(uri: str, unread: list[tuple[str, str, str, int, str]]) -> dict:
    keys = ("column", "value", "status", "rows", "outcome")
    return {"uri": uri, "format": "hubspot-export+generic", "unread_status_values": [dict(zip(keys, u)) for u in unread]}


def test_the_warning_names_the_flags_the_rows_and_how_to_confirm_them():
    unread = [
        ("Bounced", "1", OPT_OUT_FLAG_UNCONFIRMED_STATUS, 3, "non_marketing"),
        ("Unsubscribed At", "2024-02-01", OPT_OUT_FLAG_UNCONFIRMED_STATUS, 1, "non_marketing"),
        ("Bounced", "2", "unrecognised", 1, "non_marketing"),
    ]
    report = {"sources": [source("all.csv", unread), source("plain.csv", [])]}
    assert unconfirmed_flag_warnings(report) == [
        "warning: all.csv: 4 row(s) set an opt-out flag (Bounced, Unsubscribed At: 1/2024-02-01) that a hubspot-export "
        "file does not read as consent, so it may merely share a flag's name: planned non-marketing (neither opted "
        "out nor marketing); if they did opt out, --consent opt_out_flag_unconfirmed=opted_out says so"
    ]
    # Its rows are not values no rule reads: the other warning names only those.
    [line] = unread_status_warnings(report)
    assert "Bounced='2'" in line and "'1'" not in line


def test_a_confirmed_flag_is_warned_as_planned_opted_out():
    report = {"sources": [source("all.csv", [("Bounced", "1", OPT_OUT_FLAG_UNCONFIRMED_STATUS, 2, "opted_out")])]}
    [line] = unconfirmed_flag_warnings(report)
    assert line.endswith("planned opted out (--consent opt_out_flag_unconfirmed=opted_out)")
