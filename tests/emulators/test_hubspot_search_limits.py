"""HubSpot's CRM search limits, held by the emulator: filter groups and filters, one sort, 200 a
page, 10,000 results a query and 3,000 characters a request body (unless told not to), each
refused 400 ``VALIDATION_ERROR``, the first a request breaks named."""

from __future__ import annotations

import json

import pytest
import requests

from emulators.hubspot.search import MAX_BODY_CHARACTERS, MAX_RESULTS
from tests.emulators.conftest import auth

SEARCH = "/crm/v3/objects/contacts/search"


def search(hub, body: dict | str) -> requests.Response:
    data = body if isinstance(body, str) else json.dumps(body)
    return requests.post(hub.url + SEARCH, data=data, headers={**auth(), "Content-Type": "application/json"})


def groups(*sizes: int) -> dict:
    """A body of filter groups with these numbers of filters."""
    where = {"propertyName": "email", "operator": "HAS_PROPERTY"}
    return {"filterGroups": [{"filters": [where] * size} for size in sizes]}


def body_of(characters: int) -> str:
    """A search body of exactly this many characters (a long property name asked for)."""
    frame = '{"properties": [""]}'
    return frame.replace('""', '"' + "p" * (characters - len(frame)) + '"')


def assert_refused(response: requests.Response, words: str) -> None:
    assert response.status_code == 400, response.text
    answer = response.json()
    assert (answer["status"], answer["category"]) == ("error", "VALIDATION_ERROR")
    assert words in answer["message"] and answer["correlationId"]


@pytest.mark.parametrize(
    ("sizes", "accepted"),
    [
        ((1,) * 5, True),
        ((1,) * 6, False),
        ((6,), True),
        ((7,), False),
        ((6, 6, 6), True),
        ((6, 6, 6, 1), False),
    ],
)
def test_filter_groups_and_filters_are_held_to_five_six_and_eighteen(hub, sizes, accepted):
    response = search(hub, groups(*sizes))
    if accepted:
        assert response.status_code == 200, response.text
    else:
        assert_refused(response, "Too many filters")


def test_one_sorting_rule_a_search(hub):
    by_email = {"propertyName": "email", "direction": "ASCENDING"}
    assert search(hub, {"sorts": [by_email]}).status_code == 200
    assert_refused(search(hub, {"sorts": [by_email, {**by_email, "propertyName": "firstname"}]}), "sorting rule")


def test_a_page_has_at_most_200_results(hub):
    assert search(hub, {"limit": 200}).status_code == 200
    assert_refused(search(hub, {"limit": 201}), "limit 201")


def test_a_body_over_3000_characters_is_refused(hub):
    assert search(hub, body_of(MAX_BODY_CHARACTERS)).status_code == 200
    assert_refused(search(hub, body_of(MAX_BODY_CHARACTERS + 1)), f"{MAX_BODY_CHARACTERS + 1} characters")


def test_a_long_body_is_searched_when_the_limit_is_not_held(hub):
    requests.post(hub.url + "/_emulator/faults", json={"max_search_body_characters": None}).raise_for_status()

    assert search(hub, body_of(MAX_BODY_CHARACTERS + 1)).status_code == 200


def test_paging_past_10000_results_is_refused_naming_the_after(hub):
    assert search(hub, {"after": "9800", "limit": 200}).status_code == 200
    refused = search(hub, {"after": "9801", "limit": 200})
    assert_refused(refused, f"at most {MAX_RESULTS} results")
    assert refused.json()["context"] == {"after": ["9801"]}
    assert_refused(search(hub, {"after": "next"}), "Invalid after 'next'")


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({**groups(7), "sorts": ["email", "firstname"], "limit": 201, "after": "10000"}, "Too many filters"),
        ({"sorts": ["email", "firstname"], "limit": 201, "after": "next"}, "sorting rule"),
        ({"limit": 201, "after": "next"}, "limit 201"),
        ({"limit": 200, "after": "next"}, "Invalid after"),
    ],
)
def test_a_request_over_several_limits_is_refused_for_the_first_in_order(hub, body, named):
    assert_refused(search(hub, body), named)


def test_the_body_length_is_refused_before_any_other_limit(hub):
    over = {**groups(7), "properties": ["p" * MAX_BODY_CHARACTERS]}
    assert_refused(search(hub, over), "characters; a search request has at most")
