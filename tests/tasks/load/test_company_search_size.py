"""The load's company search by domain against HubSpot's 3,000 characters a search body (its
"Search the CRM" guide: "If the body of your request exceeds 3,000 characters, a 400 error will be
returned"), which the emulator holds (``max_search_body_characters``)."""

from __future__ import annotations

import json

import pytest

from tasks.load.companies import domain_search_body, domain_search_batches
from tasks.load import load_plan, settings
from tests.tasks.load.conftest import count_requests
from tests.tasks.load.test_tags_lists_companies import POLL, plan_dir


def contacts_at(domains: list[str]) -> list[list[str]]:
    return [[f"ann@{domain}", "Ann", "", ""] for domain in domains]


@pytest.mark.parametrize(
    "domains",
    [
        [f"company-{n:02d}.example.com" for n in range(settings.COMPANY_SEARCH_VALUES)],
        # Legal domains (a label has at most 63 characters), if long ones.
        [f"regional-veterinary-hospital-and-animal-care-partners-{n:02d}.com" for n in range(settings.COMPANY_SEARCH_VALUES)],
    ],
    ids=["ordinary", "long"],
)
def test_a_search_of_domains_stays_within_the_body_limit(portal, emulator, tmp_path, domains):
    report = load_plan(portal, plan_dir(tmp_path, contacts_at(domains)), poll_interval=POLL, import_companies=True)

    assert (report["companies"]["created"], report["companies"]["associated"]) == (len(domains), len(domains))
    assert count_requests(emulator, "POST", "/search", 400) == 0


def test_search_batches_keep_every_domain_once_in_order_and_each_body_within_the_limit():
    longest = "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 61  # DNS's 253 characters
    domains = [f"d{n}.example.com" for n in range(120)] + [longest] * 30 + ["x.io"]

    batches = list(domain_search_batches(domains))

    assert [domain for batch in batches for domain in batch] == domains
    assert max(len(batch) for batch in batches) == settings.COMPANY_SEARCH_VALUES
    room = settings.SEARCH_BODY_MAX_CHARACTERS - settings.SEARCH_CURSOR_ROOM
    assert all(len(json.dumps(domain_search_body(batch))) <= room for batch in batches)
    # Long domains make smaller batches, never an empty one.
    assert 1 < min(len(batch) for batch in batches) < settings.COMPANY_SEARCH_VALUES
