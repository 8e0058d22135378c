import csv
import json
import re
from datetime import datetime

import polars as pl
import pytest

from tasks.output import OutputFolder
from tasks.import_files import REJECTED_OPT_OUTS_FILE, PlanLimits, by_outcome, chunk_bounds, opt_out_file_names, write_plan
from tasks.transform.profile import CustomProperty, load_profile

PROFILE = load_profile("mailchimp")
RATING = CustomProperty(name="mailchimp_member_rating", label="Member rating", group="mailchimp", source_label="Mailchimp", type="number", field_type="number", source_column="MEMBER_RATING")
UNUSED = CustomProperty(name="mailchimp_unsub_reason", label="Unsubscribe reason", group="mailchimp", source_label="Mailchimp", source_column="UNSUB_REASON")


@pytest.mark.parametrize(
    ("sizes", "limits", "bounds"),
    [
        ([10] * 5, PlanLimits(max_rows=2, max_bytes=1000), [(0, 2), (2, 4), (4, 5)]),
        ([10] * 5, PlanLimits(max_rows=100, max_bytes=25), [(0, 2), (2, 4), (4, 5)]),
        ([10, 30, 10], PlanLimits(max_rows=100, max_bytes=25), [(0, 1), (1, 2), (2, 3)]),
        ([5] * 4, PlanLimits(max_rows=100, max_bytes=1000), [(0, 4)]),
        ([], PlanLimits(), []),
    ],
)
def test_chunks_respect_both_limits_and_cover_every_row(sizes, limits, bounds):
    assert chunk_bounds(pl.Series(sizes, dtype=pl.Int64), limits) == bounds


def test_chunks_never_exceed_the_byte_limit_unless_one_row_does():
    sizes = pl.Series([7, 3, 9, 1, 1, 8, 2, 6, 4, 5] * 20, dtype=pl.Int64)
    bounds = chunk_bounds(sizes, PlanLimits(max_rows=7, max_bytes=20))
    assert bounds[0][0] == 0 and bounds[-1][1] == sizes.len()
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    assert all(end - start <= 7 and sizes[start:end].sum() <= 20 for start, end in bounds)


@pytest.mark.parametrize(("status", "file"), [("unsubscribed", "hubspot/opt-out-unsubscribed.csv"), ("Temp Hold", "hubspot/opt-out-temp-hold.csv")])
def test_opt_out_files_are_named_after_the_status(status, file):
    assert opt_out_file_names([status]) == {status: file}


def test_statuses_whose_names_make_one_file_name_each_get_a_file_of_their_own():
    files = opt_out_file_names(["opted out", "opted-out", "Bounced", "bounced", "rejected rows", "cleaned"])

    assert len(set(files.values())) == len(files)
    assert REJECTED_OPT_OUTS_FILE not in files.values()
    assert files["cleaned"] == "hubspot/opt-out-cleaned.csv"
    assert re.fullmatch(r"hubspot/opt-out-opted-out-[0-9a-f]{8}\.csv", files["opted out"])


def test_every_opt_out_of_statuses_sharing_a_file_name_is_written(tmp_path):
    two_spellings = contacts().with_columns(
        pl.when(pl.col("email") == "c1@x.com").then(pl.lit("Unsubscribed")).otherwise(pl.col("opt_out_status")).alias("opt_out_status")
    )
    plan = write_plan(by_outcome(two_spellings), PROFILE, [RATING], OutputFolder(str(tmp_path)))

    written = {entry["status"]: [row["Email"] for row in read_csv(tmp_path / entry["file"])] for entry in plan["opt_outs"]}
    assert written == {"Unsubscribed": ["c1@x.com"], "unsubscribed": ["u1@x.com"]}


def contacts() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "email": ["m1@x.com", "n1@x.com", "m2@x.com", "u1@x.com", "c1@x.com", "m3@x.com"],
            "outcome": ["marketing", "non_marketing", "marketing", "opted_out", "opted_out", "marketing"],
            "opt_out_status": [None, None, None, "unsubscribed", "cleaned", None],
            "firstname": ["=evil()", None, "Ann", "Uma", None, None],
            "mailchimp_member_rating": ["4", None, None, "2", None, "-5"],
            "sources": ["s:2", "n:2", "s:3 | s:9", "u:2", "c:2", "s:4"],
            "rows_merged": pl.Series([1, 1, 2, 1, 1, 1], dtype=pl.UInt32),
            "last_changed": pl.Series([None, None, datetime(2024, 5, 1, 12, 0, 9), None, datetime(2021, 1, 2, 3, 4, 5), None], dtype=pl.Datetime("us")),
        }
    )


def read_csv(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_plan_writes_one_file_set_per_outcome_with_lineage(tmp_path):
    plan = write_plan(by_outcome(contacts()), PROFILE, [RATING, UNUSED], OutputFolder(str(tmp_path)), PlanLimits(max_rows=2))
    assert [(i["file"], i["rows"], i["marketable"], i["create_list"], i.get("list")) for i in plan["imports"]] == [
        ("hubspot/contacts-marketing-001.csv", 2, True, False, "marketing"),
        ("hubspot/contacts-marketing-002.csv", 1, True, False, "marketing"),
        ("hubspot/contacts-non-marketing-001.csv", 1, False, False, None),
    ]
    # One static list for the source's marketing contacts, whatever the number of files.
    [marketing_list] = plan["lists"]
    assert marketing_list["files"] == ["hubspot/contacts-marketing-001.csv", "hubspot/contacts-marketing-002.csv"]
    assert re.fullmatch(r"Onramp — Mailchimp marketing contacts \(plan [0-9a-f]{8}\)", marketing_list["name"])
    first = read_csv(tmp_path / "hubspot/contacts-marketing-001.csv")
    assert first == [
        {"email": "m1@x.com", "firstname": "'=evil()", "mailchimp_member_rating": "4"},
        {"email": "m2@x.com", "firstname": "Ann", "mailchimp_member_rating": ""},
    ]
    assert read_csv(tmp_path / "hubspot/contacts-marketing-002.csv") == [{"email": "m3@x.com", "firstname": "", "mailchimp_member_rating": "-5"}]
    # A column with no value for an outcome is not sent for it.
    assert read_csv(tmp_path / "hubspot/contacts-non-marketing-001.csv") == [{"email": "n1@x.com"}]
    assert read_csv(tmp_path / "hubspot/opt-out-unsubscribed.csv") == [{"Email": "u1@x.com"}]
    assert read_csv(tmp_path / "hubspot/opt-out-cleaned.csv") == [{"Email": "c1@x.com"}]
    lineage = {row["email"]: row for row in read_csv(tmp_path / "lineage.csv")}
    assert (lineage["m2@x.com"]["file"], lineage["m2@x.com"]["line"], lineage["m2@x.com"]["sources"]) == ("hubspot/contacts-marketing-001.csv", "3", "s:3 | s:9")
    assert (lineage["c1@x.com"]["file"], lineage["c1@x.com"]["line"]) == ("hubspot/opt-out-cleaned.csv", "2")
    assert len(lineage) == 6
    # When each contact last changed at its sources, in UTC; empty when no source said.
    assert list(lineage["m1@x.com"]) == ["email", "outcome", "file", "line", "sources", "last_changed"]
    assert {e: row["last_changed"] for e, row in lineage.items() if row["last_changed"]} == {
        "m2@x.com": "2024-05-01T12:00:09Z", "c1@x.com": "2021-01-02T03:04:05Z"
    }
    assert json.loads((tmp_path / "plan.json").read_text()) == plan
    assert [p["name"] for p in plan["properties"]] == ["mailchimp_member_rating"]
    assert plan["properties"][0] | {"description": ""} == {
        "name": "mailchimp_member_rating", "label": "Member rating", "type": "number", "fieldType": "number", "groupName": "mailchimp", "description": ""
    }


def test_plans_of_other_people_with_the_same_shape_fill_lists_of_their_own(tmp_path):
    def list_name(folder, emails) -> str:
        marketing = contacts().filter(pl.col("outcome") == "marketing").with_columns(pl.Series("email", emails))
        plan = write_plan(by_outcome(pl.concat([marketing, contacts().filter(pl.col("outcome") != "marketing")])),
                          PROFILE, [RATING], OutputFolder(str(tmp_path / folder)))  # fmt: skip
        return plan["lists"][0]["name"]

    first = list_name("a", ["m1@x.com", "m2@x.com", "m3@x.com"])

    assert list_name("again", ["m1@x.com", "m2@x.com", "m3@x.com"]) == first
    assert list_name("other", ["o1@x.com", "o2@x.com", "o3@x.com"]) != first


def test_no_opted_out_email_is_in_any_contacts_file(tmp_path):
    plan = write_plan(by_outcome(contacts()), PROFILE, [RATING], OutputFolder(str(tmp_path)))
    imported = {row["email"] for i in plan["imports"] for row in read_csv(tmp_path / i["file"])}
    opted_out = {row["Email"] for o in plan["opt_outs"] for row in read_csv(tmp_path / o["file"])}
    assert opted_out == {"u1@x.com", "c1@x.com"}
    assert not imported & opted_out


def test_tags_become_a_multi_select_property_with_the_options_the_cells_use(tmp_path):
    tags = PROFILE.custom_properties["tags"]
    frame = contacts().with_columns(
        pl.Series("mailchimp_tags", ["vip;2025 waiver", None, "Newsletter;vip", None, "gone", None])
    )
    plan = write_plan(by_outcome(frame), PROFILE, [RATING, tags], OutputFolder(str(tmp_path)))

    definition = next(p for p in plan["properties"] if p["name"] == "mailchimp_tags")
    assert (definition["type"], definition["fieldType"]) == ("enumeration", "checkbox")
    # Every value a cell uses, opted-out contacts' too (they may be created later), once, in a
    # stable order; the cells keep HubSpot's multi-checkbox form.
    assert definition["options"] == [
        {"label": value, "value": value, "hidden": False, "displayOrder": order}
        for order, value in enumerate(["2025 waiver", "gone", "Newsletter", "vip"])
    ]
    assert [row["mailchimp_tags"] for row in read_csv(tmp_path / "hubspot/contacts-marketing-001.csv")] == ["vip;2025 waiver", "Newsletter;vip", ""]
