"""The emulator refuses the property values HubSpot refuses, with HubSpot's error codes."""

from __future__ import annotations

import json

import pytest
import requests

from emulators.hubspot.values import ValueProblem, normalise
from tests.emulators.conftest import auth

NUMBER = {"name": "rating", "type": "number", "fieldType": "number"}
DATE = {"name": "joined", "type": "date", "fieldType": "date"}
DATETIME = {"name": "seen", "type": "datetime", "fieldType": "date"}
OPTIONS = [{"value": "a", "label": "Alpha"}, {"value": "b", "label": "Beta"}]
SELECT = {"name": "pick", "type": "enumeration", "fieldType": "select", "options": OPTIONS}
CHECKBOX = {"name": "picks", "type": "enumeration", "fieldType": "checkbox", "options": OPTIONS}


def problem_of(definition: dict, raw: str) -> ValueProblem:
    with pytest.raises(ValueProblem) as caught:
        normalise(definition, raw, "YEAR_MONTH_DAY")
    return caught.value


@pytest.mark.parametrize("raw", ["1", "-2", "+3", "1.5", ".5", "1e5", "0"])
def test_decimal_numbers_are_taken_as_written(raw):
    assert normalise(NUMBER, raw) == raw


@pytest.mark.parametrize("raw", ["abc", "NaN", "nan", "Infinity", "inf", "1_000", "1,000", "+5:30", "1e400", "１２", "١٢", "0x10"])
def test_what_is_no_decimal_number_is_refused(raw):
    problem = problem_of(NUMBER, raw)
    assert (problem.import_error_type, problem.api_code) == ("COULD_NOT_PARSE_NUMBER", "INVALID_LONG")


@pytest.mark.parametrize("raw", ["2024-01-15", "1705276800000", "2024-01-15T00:00:00Z"])
def test_a_date_at_midnight_utc_is_taken(raw):
    assert normalise(DATE, raw, "YEAR_MONTH_DAY") == "2024-01-15"


@pytest.mark.parametrize("raw", ["2024-01-15 10:00", "1705276800001", "2024-01-15T00:00:00+01:00"])
def test_a_date_at_another_time_is_refused(raw):
    problem = problem_of(DATE, raw)
    assert (problem.import_error_type, problem.api_code) == ("COULD_NOT_PARSE_DATE", "INVALID_DATE")
    assert "midnight UTC" in problem.message


@pytest.mark.parametrize("definition", [DATE, DATETIME])
@pytest.mark.parametrize("raw", ["2024-01-15 garbage", "2018-02-30", "yesterday", "２０２４-01-15", "99999999999999999999"])
def test_what_is_no_date_is_refused(definition, raw):
    problem = problem_of(definition, raw)
    assert (problem.import_error_type, problem.api_code) == ("COULD_NOT_PARSE_DATE", "INVALID_DATE")


def test_a_datetime_keeps_its_time():
    assert normalise(DATETIME, "2024-01-15 10:30", "YEAR_MONTH_DAY") == "2024-01-15T10:30:00.000Z"


@pytest.mark.parametrize(
    ("definition", "raw", "import_error_type"),
    [
        (NUMBER, " 1", "COULD_NOT_PARSE_NUMBER"),
        (NUMBER, "1\u00a0", "COULD_NOT_PARSE_NUMBER"),
        (DATE, "2024-01-15 ", "COULD_NOT_PARSE_DATE"),
        (DATETIME, "\u200b2024-01-15", "COULD_NOT_PARSE_DATE"),
        (SELECT, "a ", "INVALID_ENUMERATION_OPTION"),
        (CHECKBOX, "a; b", "INVALID_ENUMERATION_OPTION"),
    ],
)
def test_a_padded_non_string_value_is_refused(definition, raw, import_error_type):
    problem = problem_of(definition, raw)
    assert (problem.import_error_type, problem.api_code) == (import_error_type, "LEADING_TRAILING_WHITESPACE")
    assert problem.message == f'"{raw}" includes leading or trailing whitespace.'


def test_a_padded_string_value_is_taken_as_it_is():
    assert normalise({"name": "firstname", "type": "string", "fieldType": "text"}, " Ann ") == " Ann "


def test_the_object_api_answers_a_padded_number_with_hubspots_validation_error(client, hub):
    client.crm.properties.core_api.create("contacts", {
        "name": "rating", "label": "Rating", "type": "number", "fieldType": "number",
        "groupName": "contactinformation"})
    response = requests.post(
        f"{hub.url}/crm/v3/objects/contacts",
        json={"properties": {"email": "a@x.com", "rating": " 5"}},
        headers=auth(),
    )
    assert response.status_code == 400
    body = response.json()
    assert body["category"] == "VALIDATION_ERROR"
    [detail] = json.loads(body["message"].removeprefix("Property values were not valid: "))
    assert detail == {"isValid": False, "message": '" 5" includes leading or trailing whitespace.', "error": "LEADING_TRAILING_WHITESPACE", "name": "rating"}


def test_a_batch_upsert_refuses_a_string_value_over_65536_characters_for_that_input_alone(hub):
    # HubSpot holds at most 65,536 characters in a text property; one more is refused, naming
    # the property, as any invalid value is.
    response = requests.post(
        f"{hub.url}/crm/v3/objects/contacts/batch/upsert",
        json={"inputs": [
            {"idProperty": "email", "id": "long@x.com", "properties": {"firstname": "x" * 65_537}, "objectWriteTraceId": "1"},
            {"idProperty": "email", "id": "full@x.com", "properties": {"firstname": "y" * 65_536}, "objectWriteTraceId": "2"},
        ]},
        headers=auth(),
    )
    assert response.status_code == 207
    [error] = response.json()["errors"]
    assert (error["category"], error["context"]["objectWriteTraceId"]) == ("VALIDATION_ERROR", ["1"])
    assert [(detail["code"], detail["context"]["propertyName"]) for detail in error["errors"]] == [("MAX_LENGTH_EXCEEDED", ["firstname"])]
    [written] = hub.emulator.portal.live("0-1")
    assert (written.properties["email"], len(written.properties["firstname"])) == ("full@x.com", 65_536)
