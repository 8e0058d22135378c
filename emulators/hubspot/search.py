"""CRM search (``POST /crm/v3/objects/{type}/search``): filters, sorts, paging, the 10,000 cap.

Filters of a group are ANDed, groups are ORed; ``query`` matches a token prefix of the default
searchable properties; a number property sorts by its number (``hs_object_id`` ascending is how a
client pages past the cap: a ``GT`` filter on the last id it saw). A request over one of HubSpot's
search limits (all held in :func:`_within_limits`; the body's 3,000 characters unless the
emulator's ``max_search_body_characters`` says otherwise) is refused 400 ``VALIDATION_ERROR``.
Search sees writes at once here, whereas HubSpot indexes them "after a few moments".
"""

from __future__ import annotations

from typing import Any

from emulators.hubspot.errors import validation_error
from emulators.hubspot.state import CrmObject, Portal

# HubSpot's search limits, from its "Search the CRM" guide (Limits and Sort sections,
# https://developers.hubspot.com/docs/api-reference/latest/crm/search-the-crm, last modified
# 2026-03-30): "you can include a maximum of five filterGroups with up to six filters in each
# group, with a maximum of 18 filters in total. If you've included too many groups or filters,
# you'll receive a VALIDATION_ERROR error response"; "Only one sorting rule can be applied to any
# search"; "The maximum number of supported objects per page is 200"; "If the body of your request
# exceeds 3,000 characters, a 400 error will be returned" (the Contacts spec words it as "The
# search query string, up to 3000 characters"; the guide's body is the stricter reading); and
# "Attempting to page beyond 10,000 will result in a 400 error". (HubSpot's August 2024 changelog
# announced 10 filters a group and 25 in all; the guide still says 6 and 18, the stricter. How
# HubSpot answers a second sort is undocumented: it is refused like the other limits here.)
MAX_FILTER_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS = 18
MAX_SORTS = 1
MAX_BODY_CHARACTERS = 3_000
MAX_PAGE = 200
MAX_RESULTS = 10_000
QUERY_PROPERTIES = ("firstname", "lastname", "email", "phone", "company", "name", "domain", "website")


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _compare(left: str, right: str) -> int:
    numbers = _number(left), _number(right)
    if None not in numbers:
        return (numbers[0] > numbers[1]) - (numbers[0] < numbers[1])
    left, right = left.lower(), right.lower()
    return (left > right) - (left < right)


def _matches(values: dict[str, str], condition: dict[str, Any]) -> bool:
    operator = condition.get("operator")
    value = values.get(condition.get("propertyName", ""))
    wanted = str(condition.get("value", ""))
    listed = [str(item).lower() for item in condition.get("values") or []]
    if operator == "HAS_PROPERTY":
        return value not in (None, "")
    if operator == "NOT_HAS_PROPERTY":
        return value in (None, "")
    if value in (None, ""):
        return operator in ("NEQ", "NOT_IN", "NOT_CONTAINS_TOKEN")
    checks = {
        "EQ": lambda: _compare(value, wanted) == 0,
        "NEQ": lambda: _compare(value, wanted) != 0,
        "LT": lambda: _compare(value, wanted) < 0,
        "LTE": lambda: _compare(value, wanted) <= 0,
        "GT": lambda: _compare(value, wanted) > 0,
        "GTE": lambda: _compare(value, wanted) >= 0,
        "BETWEEN": lambda: _compare(value, wanted) >= 0
        and _compare(value, str(condition.get("highValue", ""))) <= 0,
        "IN": lambda: value.lower() in listed,
        "NOT_IN": lambda: value.lower() not in listed,
        "CONTAINS_TOKEN": lambda: wanted.strip("*").lower() in value.lower(),
        "NOT_CONTAINS_TOKEN": lambda: wanted.strip("*").lower() not in value.lower(),
    }
    if operator not in checks:
        raise validation_error(f"Unknown filter operator {operator!r}.")
    return checks[operator]()


def _within_limits(
    body: dict[str, Any], body_characters: int, max_body_characters: int | None
) -> tuple[list[list[dict[str, Any]]], int, int]:
    """A search request's filter groups, page size and offset, once it is held to HubSpot's
    search limits (the constants above), all of them here.

    Args:
        body: The request's JSON body.
        body_characters: The length of the body as sent, in characters.
        max_body_characters: The characters a body may have (``None``: not held; the
            emulator's setting, see ``settings.py``).

    Raises:
        HubSpotError: 400 ``VALIDATION_ERROR`` for the first limit the request breaks, in this
            order: the body's characters, the filters, the sorts, the page size, paging past
            ``MAX_RESULTS`` (an ``after`` that is not a number is refused before that one).
    """
    groups = [group.get("filters") or [] for group in body.get("filterGroups") or []]
    sorts = body.get("sorts") or []
    if max_body_characters is not None and body_characters > max_body_characters:
        raise validation_error(
            f"The request body has {body_characters} characters; a search request has at most "
            f"{max_body_characters}."
        )
    if len(groups) > MAX_FILTER_GROUPS or any(len(group) > MAX_FILTERS_PER_GROUP for group in groups) \
            or sum(map(len, groups)) > MAX_FILTERS:
        raise validation_error(
            f"Too many filters: at most {MAX_FILTER_GROUPS} filterGroups of {MAX_FILTERS_PER_GROUP} "
            f"filters each, {MAX_FILTERS} filters in all."
        )
    if len(sorts) > MAX_SORTS:
        raise validation_error(f"{len(sorts)} sorts; only {MAX_SORTS} sorting rule can be applied to a search.")
    limit = int(body.get("limit") or 10)
    if limit > MAX_PAGE:
        raise validation_error(f"limit {limit} is greater than the maximum of {MAX_PAGE}.")
    try:
        offset = int(body.get("after") or 0)
    except ValueError:
        raise validation_error(f"Invalid after {body.get('after')!r}.") from None
    if offset + limit > MAX_RESULTS:
        raise validation_error(
            f"Search can page through at most {MAX_RESULTS} results; narrow the filters.",
            context={"after": [str(offset)]},
        )
    return groups, limit, offset


def _sort_key(sort: Any) -> tuple[str, bool]:
    if isinstance(sort, dict):
        return sort.get("propertyName", "hs_object_id"), sort.get("direction") == "DESCENDING"
    text = str(sort)
    return text.lstrip("-"), text.startswith("-")


def _sort_value(definition: dict[str, Any] | None, value: str | None) -> tuple[int, float, str]:
    """A value as a sort orders it: a number property by its number (record id ``9`` before
    ``10``, as HubSpot orders them, which paging by ``hs_object_id`` relies on), anything else
    as text; a record without a value sorts first."""
    number = _number(value) if definition and definition.get("type") == "number" else None
    if number is not None:
        return 1, number, ""
    return (1 if value not in (None, "") else 0), 0.0, str(value or "")


def search(
    portal: Portal,
    type_id: str,
    body: dict[str, Any],
    body_characters: int,
    max_body_characters: int | None = None,
) -> dict[str, Any]:
    """Run a search request and return ``{total, results, paging?}``.

    Args:
        portal: The portal searched.
        type_id: The object type searched (``0-1``, ...).
        body: The request's JSON body.
        body_characters: The length of the body as sent, in characters.
        max_body_characters: The characters a body may have (``None``: not held).

    Raises:
        HubSpotError: 400 for an invalid request, one over a search limit or paging past 10,000
            results.
    """
    groups, limit, offset = _within_limits(body, body_characters, max_body_characters)
    query = str(body.get("query") or "").strip().lower()
    with portal.lock:
        found: list[tuple[CrmObject, dict[str, str]]] = []
        for record in portal.live(type_id):
            values = portal.values(record)
            if groups and not any(all(_matches(values, c) for c in group) for group in groups):
                continue
            if query and not any(
                token.startswith(query)
                for name in QUERY_PROPERTIES
                for token in str(values.get(name) or "").lower().replace("@", " ").split()
            ):
                continue
            found.append((record, values))
        found.sort(key=lambda pair: int(pair[0].id))
        for sort in reversed(body.get("sorts") or []):
            name, descending = _sort_key(sort)
            definition = portal.property(type_id, name)
            found.sort(key=lambda pair: _sort_value(definition, pair[1].get(name)), reverse=descending)
        page = found[offset: offset + limit]
        response: dict[str, Any] = {
            "total": len(found),
            "results": [portal.view(record, body.get("properties")) for record, _ in page],
        }
    if offset + limit < len(found):
        response["paging"] = {"next": {"after": str(offset + limit)}}
    return response
