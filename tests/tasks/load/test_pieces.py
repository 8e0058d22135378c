"""The load's pure pieces: plan reading, lineage tie-back, batching, import requests, opt-out
addresses, the portal's token handling."""

from __future__ import annotations

import json

import polars as pl
import pytest

from tasks.errors import LoadError
from tasks.load import (
    apply_opt_out_file,
    apply_opt_out_file_task,
    ensure_properties,
    ensure_properties_task,
    import_contacts_file,
    import_contacts_file_task,
    load_plan,
    settings,
)
from tasks.load.batches import chunked
from tasks.load.client import HubSpotPortal, resolve_token
from tasks.load.imports import build_import_request
from tasks.load.optouts import normalise_email, normalised_emails, read_opt_out_emails
from tasks.load.plan import iter_column, read_plan, tie_back
from tests.tasks.load.plans import write_csv, write_plan


def test_chunked_cuts_lazily_in_order():
    assert list(chunked(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(chunked([], 3)) == []
    with pytest.raises(ValueError):
        list(chunked([1], 0))


def test_read_plan_rejects_an_unknown_format(tmp_path):
    (tmp_path / "plan.json").write_text(json.dumps({"format_version": 99}))
    with pytest.raises(LoadError, match="format_version 99"):
        read_plan(tmp_path)


def test_read_plan_without_a_plan_is_a_load_error(tmp_path):
    with pytest.raises(LoadError, match="plan.json"):
        read_plan(tmp_path)


def test_iter_column_counts_records_not_physical_lines(tmp_path):
    path = tmp_path / "c.csv"
    write_csv(path, ["email", "notes"], [["a@x.com", "two\nlines"], ["b@x.com", ""]])
    assert list(iter_column(path, "EMAIL")) == [(2, "a@x.com"), (3, "b@x.com")]


def test_tie_back_finds_source_rows_by_file_and_line(tmp_path):
    plan = read_plan(
        write_plan(
            tmp_path,
            contacts={"hubspot/contacts-marketing-001.csv": ({"outcome": "marketing"}, ["email"], [["a@x.com"], ["b@x.com"]])},
            opt_outs={"hubspot/opt-out-cleaned.csv": ("cleaned", ["c@x.com"])},
        )
    )
    errors = tie_back(
        plan,
        [
            {"file": "hubspot/contacts-marketing-001.csv", "line": 3},
            {"file": "hubspot/opt-out-cleaned.csv", "line": 2},
            {"file": "hubspot/contacts-marketing-001.csv", "line": None},
            {"file": "hubspot/contacts-marketing-001.csv", "line": 99},
        ],
    )
    assert [error["sources"] for error in errors] == [
        ["file:///exports/audience.zip:3"],
        ["file:///exports/audience.zip:4"],
        [],
        [],
    ]


def test_tie_back_splits_merged_sources(tmp_path):
    write_csv(
        tmp_path / "lineage.csv",
        ["email", "outcome", "file", "line", "sources"],
        [["a@x.com", "marketing", "hubspot/c.csv", "2", "s3://b/one.csv:4 | s3://b/two.csv:9"]],
    )
    (tmp_path / "plan.json").write_text(json.dumps({"format_version": 1, "lineage": "lineage.csv"}))
    [error] = tie_back(read_plan(tmp_path), [{"file": "hubspot/c.csv", "line": 2}])
    assert error["sources"] == ["s3://b/one.csv:4", "s3://b/two.csv:9"]


def test_import_request_maps_every_column_in_file_order():
    entry = {
        "file": "hubspot/contacts-marketing-001.csv",
        "marketable": True,
        "create_list": True,
        "name": "Onramp mailchimp subscribed marketing 001",
    }
    header = ["email", "firstname", "mailchimp_member_rating"]
    request = build_import_request(entry, header, date_format="YEAR_MONTH_DAY")
    assert request["name"] == "Onramp mailchimp subscribed marketing 001"
    assert request["importOperations"] == {"0-1": "UPSERT"}
    assert request["dateFormat"] == "YEAR_MONTH_DAY"
    assert request["marketableContactImport"] is True
    assert request["createContactListFromImport"] is True
    [file] = request["files"]
    assert file["fileName"] == "contacts-marketing-001.csv"
    assert file["fileFormat"] == "CSV"
    assert file["fileImportPage"]["hasHeader"] is True
    mappings = file["fileImportPage"]["columnMappings"]
    assert [m["columnName"] for m in mappings] == header
    assert [m["propertyName"] for m in mappings] == header
    assert all(m["columnObjectTypeId"] == "0-1" for m in mappings)
    assert mappings[0]["columnType"] == "HUBSPOT_ALTERNATE_ID"
    assert all("columnType" not in m for m in mappings[1:])


def test_import_request_defaults_to_non_marketing_without_a_list():
    request = build_import_request({"file": "hubspot/x.csv"}, ["email"], date_format="YEAR_MONTH_DAY")
    assert request["marketableContactImport"] is False
    assert request["createContactListFromImport"] is False
    assert request["name"] == "x.csv"


def test_import_request_needs_an_email_column():
    with pytest.raises(LoadError, match="email"):
        build_import_request({"file": "hubspot/x.csv"}, ["firstname"], date_format="YEAR_MONTH_DAY")


@pytest.mark.parametrize(
    ("cell", "email"),
    [
        ("  Jane.Doe@Example.COM ", "jane.doe@example.com"),
        ("'-joe@example.com", "-joe@example.com"),
        ("'+joe@example.com", "+joe@example.com"),
        ("o'brien@example.com", "o'brien@example.com"),
        ("'quoted@example.com", "'quoted@example.com"),
        (" '=x@example.com", "=x@example.com"),
        ("", ""),
    ],
)
def test_normalise_email(cell, email):
    assert normalise_email(cell) == email
    # The polars form the opted-out lookup reads whole files with says the same.
    assert pl.select(normalised_emails(pl.lit(cell))).item() == email


def test_read_opt_out_emails_dedupes_and_reports_blank_lines(tmp_path):
    path = tmp_path / "opt-out-unsubscribed.csv"
    write_csv(path, ["Email", "Reason"], [["A@x.com", "r"], [" ", "r"], ["a@x.com", "r"], ["b@x.com", "r"]])
    addresses, blank_lines = read_opt_out_emails(path)
    assert addresses == [(2, "a@x.com"), (5, "b@x.com")]
    assert blank_lines == [3]


def test_portal_repr_and_errors_never_show_the_token():
    portal = HubSpotPortal("http://127.0.0.1:9/", "pat-na1-very-secret")
    assert "very-secret" not in repr(portal)
    assert portal.url == "http://127.0.0.1:9"


def test_portal_without_a_token_is_a_load_error():
    with pytest.raises(LoadError):
        HubSpotPortal(settings.DEFAULT_PORTAL_URL, "")


def test_resolve_token_prefers_the_environment(monkeypatch):
    monkeypatch.setenv(settings.TOKEN_ENV_VAR, " pat-from-env \n")
    assert resolve_token() == "pat-from-env"


def test_a_named_block_is_the_only_place_the_token_is_read(prefect_api_url, monkeypatch):
    """A run naming its block never takes the token the machine holds for another portal."""
    from prefect.blocks.system import Secret

    monkeypatch.setenv(settings.TOKEN_ENV_VAR, "pat-of-another-portal")
    Secret(value="pat-of-this-portal").save("this-portal-token", overwrite=True)
    assert resolve_token("this-portal-token") == "pat-of-this-portal"
    assert resolve_token("this-portal-token", None) == "pat-of-this-portal"
    assert resolve_token(None) == "pat-of-another-portal"
    with pytest.raises(LoadError, match=r"^no HubSpot access token: create a Prefect Secret block named 'no-such-block'") as refused:
        resolve_token("no-such-block")
    assert "pat-of" not in str(refused.value)


def test_task_wrappers_wrap_the_plain_functions_without_prefect_retries():
    pairs = [
        (ensure_properties_task, ensure_properties),
        (apply_opt_out_file_task, apply_opt_out_file),
        (import_contacts_file_task, import_contacts_file),
    ]
    for wrapper, function in pairs:
        assert wrapper.fn is function
        assert wrapper.retries == 0
