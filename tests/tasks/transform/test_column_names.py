"""Every source column gets a property of its own: non-Latin and colliding headers lose no value."""

from __future__ import annotations

import polars as pl
import pytest

from schemas import lineage
from tasks.transform.contacts import ContactRows, map_rows, merge_contacts
from tasks.transform.profile import PROPERTY_NAME, custom_property_name, load_profile, property_slug


def mapped(profile_name: str, row: dict[str, str], email_column: str = "Email") -> ContactRows:
    """One accepted row of a file with these headers, mapped with the profile."""
    profile = load_profile(profile_name)
    headers = list(row)
    frame = pl.DataFrame({h: [v] for h, v in row.items()}, schema=dict.fromkeys(headers, pl.String)).with_columns(
        pl.lit("contacts.csv").alias(lineage.SOURCE_URI),
        pl.lit(2, pl.Int64).alias(lineage.SOURCE_ROW),
        pl.lit("").alias(lineage.SOURCE_STATUS),
        pl.lit(profile.format).alias(lineage.SOURCE_FORMAT),
    )
    return map_rows(frame, headers, email_column, "contacts.csv", profile, profile.consent)


def routes(rows: ContactRows) -> dict[str, str]:
    """Header → property (a column also kept apart, as a shared property's second source, its copy's)."""
    return {route.column: route.property for route in rows.routes}


def contact(rows: ContactRows) -> dict[str, str]:
    [merged] = merge_contacts([rows.frame]).iter_rows(named=True)
    return merged


@pytest.mark.parametrize(("header", "slug"), [("Année", "ann_e"), ("Straße", "stra_e"), (" Favourite Colour! ", "favourite_colour"), ("Имя", "")])
def test_characters_outside_ascii_letters_and_digits_are_separators(header, slug):
    assert property_slug(header) == slug


@pytest.mark.parametrize(
    ("header", "name"),
    [("Prénom", "mailchimp_pr_nom"), ("Société", "mailchimp_soci_t"), ("Straße", "mailchimp_stra_e"), ("Œuvre", "mailchimp_uvre"), ("#", "mailchimp_column")],
)
def test_a_header_that_had_a_name_keeps_the_name_earlier_versions_gave_it(header, name):
    # A recurring sync must keep filling the property it made, not create a second one.
    rows = mapped("mailchimp", {"Email Address": "fr@example.com", header: "valeur"}, "Email Address")
    assert routes(rows)[header] == name
    assert contact(rows)[name] == "valeur"


def test_non_latin_headers_each_keep_their_values_in_a_property_of_their_own():
    row = {"Email": "ru@example.com", "Имя": "Иван", "Фамилия": "Петров", "Город": "Москва", "電話番号": "0312345678"}
    rows = mapped("generic", row)
    names = [routes(rows)[header] for header in ("Имя", "Фамилия", "Город", "電話番号")]
    assert len(set(names)) == 4
    assert all(PROPERTY_NAME.fullmatch(name) and name.startswith("imported_column_") for name in names)
    assert [contact(rows)[name] for name in names] == ["Иван", "Петров", "Москва", "0312345678"]
    assert {p.name: p.label for p in rows.custom_properties} == dict(zip(names, ("Имя", "Фамилия", "Город", "電話番号"), strict=True))
    # The same header is the same property in every file and run: a sync fills what it filled.
    assert names[0] == custom_property_name("imported", "Имя") == routes(mapped("generic", {"Email": "a@x.com", "Имя": "Ann"}))["Имя"]


def test_headers_with_one_slug_each_keep_their_values_in_a_property_of_their_own():
    rows = mapped("generic", {"Email": "sl@example.com", "Fav Colour": "Red", "Fav-Colour": "Blue", "fav_colour!": "Green"})
    names = [routes(rows)[header] for header in ("Fav Colour", "Fav-Colour", "fav_colour!")]
    assert names[0] == "imported_fav_colour"
    assert len(set(names)) == 3 and all(PROPERTY_NAME.fullmatch(name) for name in names)
    assert [contact(rows)[name] for name in names] == ["Red", "Blue", "Green"]
    assert [p.label for p in rows.custom_properties] == ["Fav Colour", "Fav-Colour", "fav_colour!"]
    assert routes(mapped("generic", {"Email": "sl@example.com", "Fav Colour": "", "Fav-Colour": "", "fav_colour!": ""})) == routes(rows)


def test_swapping_clashing_columns_keeps_each_headers_property_and_values():
    row = {"Email": "sw@example.com", "Fav Colour": "Red", "Fav-Colour": "Blue", "Année": "2020", "Annèe": "2021"}
    swapped = {"Email": "sw@example.com", "Annèe": "2021", "Fav-Colour": "Blue", "Année": "2020", "Fav Colour": "Red"}
    rows, rows_swapped = mapped("generic", row), mapped("generic", swapped)
    assert routes(rows_swapped) == routes(rows)
    # The header that sorts first by its text keeps the plain name (è is before é).
    assert (routes(rows)["Fav Colour"], routes(rows)["Annèe"]) == ("imported_fav_colour", "imported_ann_e")
    assert len({routes(rows)[header] for header in ("Fav Colour", "Fav-Colour", "Année", "Annèe")}) == 4
    values, values_swapped = contact(rows), contact(rows_swapped)
    assert {header: values_swapped[name] for header, name in routes(rows).items()} == row
    assert {header: values[name] for header, name in routes(rows).items()} == row


def test_swapping_columns_that_fill_one_property_keeps_the_copies_apart_by_header():
    row = {"Email Address": "a@x.com", "Phone Number": "555-0111", "Phone": "555-0122", "phone": "555-0133"}
    swapped = {"Email Address": "a@x.com", "Phone Number": "555-0111", "phone": "555-0133", "Phone": "555-0122"}
    kept, kept_swapped = (
        {route.column: route.property for route in mapped("mailchimp", r, "Email Address").routes if route.kind == "custom"}
        for r in (row, swapped)
    )
    assert kept == kept_swapped
    assert kept["Phone"] == "mailchimp_phone" and kept["phone"].startswith("mailchimp_phone_")


def test_an_unlisted_header_never_takes_the_property_of_a_listed_one():
    rows = mapped("mailchimp", {"Email Address": "a@x.com", "Member Rating": "gold", "MEMBER_RATING": "4"}, "Email Address")
    assert routes(rows)["MEMBER_RATING"] == "mailchimp_member_rating"
    assert routes(rows)["Member Rating"].startswith("mailchimp_member_rating_")
    merged = contact(rows)
    assert (merged["mailchimp_member_rating"], merged[routes(rows)["Member Rating"]]) == ("4", "gold")


def test_the_second_column_of_a_shared_property_is_kept_even_when_an_unlisted_header_has_its_name():
    # "Phone Number" and "Phone" both fill ``phone``; "Phone" is kept whole as well, where
    # "Phone!" (unlisted) already goes.
    rows = mapped("mailchimp", {"Email Address": "a@x.com", "Phone Number": "555-0111", "Phone": "555-0122", "Phone!": "555-0133"}, "Email Address")
    kept = [route.property for route in rows.routes if route.column == "Phone" and route.kind == "custom"]
    assert len(kept) == 1 and kept[0] not in {"phone", "mailchimp_phone"}
    merged = contact(rows)
    assert (merged["phone"], merged["mailchimp_phone"], merged[kept[0]]) == ("555-0111", "555-0133", "555-0122")
    assert next(p.label for p in rows.custom_properties if p.name == kept[0]) == "Phone"


def test_an_unlisted_header_never_takes_a_listed_property_that_another_file_of_the_run_fills():
    rows = mapped("mailchimp", {"Email Address": "a@x.com", "Member Rating": "gold"}, "Email Address")
    assert routes(rows)["Member Rating"].startswith("mailchimp_member_rating_")
