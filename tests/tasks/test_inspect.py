from pathlib import Path

import pytest

from tasks.errors import InputError
from tasks.extract.tables import ReadOptions, read_source
from tasks.inspect import inspect_source, inspection_text
from tasks.transform.contacts import map_rows
from tasks.transform.mapping_file import UserMapping


def test_a_mapping_naming_a_column_no_file_has_is_refused_as_a_plan_would(tmp_path):
    source = tmp_path / "crm.csv"
    source.write_text("Email,First Name\na@x.com,Ann\n", encoding="utf-8")
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[columns]\n"Frist Name" = "firstname"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"no file read has a column 'Frist Name': did you mean 'First Name'") as refused:
        inspect_source(str(source), ReadOptions(mapping=UserMapping.load(mapping)))
    assert (refused.value.uri, refused.value.line) == (str(mapping), 2)
    mapping.write_text('[columns]\n"First Name" = "firstname"\n', encoding="utf-8")
    [described] = inspect_source(str(source), ReadOptions(mapping=UserMapping.load(mapping)))
    assert described["rows"] == 1


def test_a_renamed_first_column_of_addresses_is_shown_as_the_email_column(tmp_path):
    source = tmp_path / "people.csv"
    source.write_text("Contact,First Name\na@x.com,Ann\nb@x.com,Bob\n", encoding="utf-8")
    [described] = inspect_source(str(source))
    assert described["email_column"] == "Contact"
    assert {"column": "Contact", "property": "email", "kind": "email"} in described["columns"]


def test_a_file_named_for_its_opt_outs_says_its_rows_nothing_reads_take_the_names_status(tmp_path):
    plain = tmp_path / "bounces.csv"
    plain.write_text("Email,First Name\na@x.com,Ann\n", encoding="utf-8")
    with_status = tmp_path / "unsubscribes.csv"
    with_status.write_text("Email,Email Status\nb@x.com,\nc@x.com,subscribed\n", encoding="utf-8")
    neutral = tmp_path / "people.csv"
    neutral.write_text("Email,First Name\nd@x.com,Dee\n", encoding="utf-8")
    entries = {Path(entry["uri"]).name: entry for path in (plain, with_status, neutral) for entry in inspect_source(str(path))}
    assert {name: entry["unread_row_status"] for name, entry in entries.items()} == {
        "bounces.csv": "bounced", "unsubscribes.csv": "unsubscribed", "people.csv": "no_consent",
    }  # fmt: skip
    text = inspection_text(list(entries.values()))
    assert "consent from the file name (a row nothing reads: bounced)" in text
    assert "consent from Email Status (a row nothing reads: unsubscribed)" in text
    assert "(a row nothing reads: no_consent)" in text


def test_columns_sharing_a_property_name_are_shown_going_where_the_plan_sends_them(tmp_path):
    source = tmp_path / "people.csv"
    source.write_text("Email,Fav Colour,Fav-Colour,First Name\na@x.com,Red,Blue,Ann\n", encoding="utf-8")
    [read] = read_source(str(source), tmp_path / "staging")
    [described] = inspect_source(str(source))
    shown = {column["column"]: column["property"] for column in described["columns"]}
    raw, profile = read.raw, read.profile.profile
    planned = map_rows(raw.frame.collect(), raw.headers, raw.email_column, raw.uri, profile, profile.consent)
    assert shown == {route.column: route.property for route in planned.routes}
    assert shown["Fav Colour"] == "imported_fav_colour"
    assert shown["Fav-Colour"].startswith("imported_fav_colour_")


def test_columns_filling_one_property_are_shown_as_the_plan_fills_it_and_keeps_each_whole(tmp_path):
    source = tmp_path / "people.csv"
    source.write_text("Email,Phone,Work Phone,Home Phone,Region,State\na@x.com,,2,3,EMEA,CA\n", encoding="utf-8")
    [read] = read_source(str(source), tmp_path / "staging")
    [described] = inspect_source(str(source))
    raw, profile = read.raw, read.profile.profile
    planned = map_rows(raw.frame.collect(), raw.headers, raw.email_column, raw.uri, profile, profile.consent)
    shown = [(column["column"], column["property"]) for column in described["columns"]]
    assert sorted(shown) == sorted((route.column, route.property) for route in planned.routes)
    by_route = {(column["column"], column["property"]): column for column in described["columns"]}
    assert by_route[("Work Phone", "phone")]["after"] == ["Phone"]
    assert by_route[("Home Phone", "phone")]["after"] == ["Phone", "Work Phone"]
    assert by_route[("Work Phone", "imported_work_phone")]["copy"] is True
    # A sales territory is not the state: only State fills it.
    assert by_route[("Region", "imported_region")]["kind"] == "custom"
    assert ("Region", "state") not in by_route and "after" not in by_route[("State", "state")]
    text = inspection_text([described])
    assert "Home Phone                       → phone (default, where Phone and Work Phone are blank)" in text
    assert "Work Phone                       → imported_work_phone (custom: the whole column)" in text
    [planned_row] = planned.frame.collect().select("phone", "state", "imported_work_phone", "imported_region").rows()
    assert planned_row == ("2", "CA", "2", "EMEA")


def test_a_hubspot_export_shows_each_subscription_opt_out_column_as_a_consent_column(tmp_path):
    source = tmp_path / "hubspot.csv"
    source.write_text(
        "Record ID,Email,Marketing contact status,Opted out of email: Product Updates,Lifecycle Stage\n"
        "1,a@x.com,Marketing contact,true,Lead\n",
        encoding="utf-8",
    )
    [described] = inspect_source(str(source))
    assert described["consent_columns"] == ["Marketing contact status", "Opted out of email: Product Updates"]
    assert [(c["status"], c["outcome"]) for c in described["status_counts"]] == [("opted_out_of_a_subscription", "non_marketing")]


def test_how_a_file_was_read_is_said_as_the_plan_says_it(tmp_path):
    source = tmp_path / "contacts.csv"
    source.write_bytes("Email,Name\rmr1@example.com,Zoé Müller\r".encode("mac_roman"))

    [entry] = inspect_source(str(source))

    [note] = entry["notes"]
    assert note.startswith("read as Mac Roman (Excel for Mac's \"CSV (Macintosh)\"), not Windows-1252")
    assert f"  warning      {note}" in inspection_text([entry]).splitlines()
    plain = tmp_path / "plain.csv"
    plain.write_text("Email,Name\nann@example.com,Ann\n", encoding="utf-8")
    assert inspect_source(str(plain))[0]["notes"] == []
