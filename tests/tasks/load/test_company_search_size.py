"""The load's company search by domain against HubSpot's 3,000 characters a search body (its
"Search the CRM" guide: "If the body of your request exceeds 3,000 characters, a 400 error will be
returned"), which the emulator holds only when told (``max_search_body_characters``)."""

from __future__ import annotations

import pytest

from emulators.hubspot.search import MAX_BODY_CHARACTERS
from tasks.errors import LoadError
from tasks.load import load_plan, settings
from tests.tasks.load.conftest import count_requests
from tests.tasks.load.test_tags_lists_companies import POLL, plan_dir


def contacts_at(domains: list[str]) -> list[list[str]]:
    return [[f"ann@{domain}", "Ann", "", ""] for domain in domains]


def test_a_search_of_ordinary_domains_stays_within_the_body_limit(portal, emulator, tmp_path):
    emulator.configure(max_search_body_characters=MAX_BODY_CHARACTERS)
    domains = [f"company-{n:02d}.example.com" for n in range(settings.COMPANY_SEARCH_VALUES)]

    report = load_plan(portal, plan_dir(tmp_path, contacts_at(domains)), poll_interval=POLL, import_companies=True)

    assert (report["companies"]["created"], report["companies"]["associated"]) == (len(domains), len(domains))
    assert count_requests(emulator, "POST", "/search", 400) == 0


@pytest.mark.xfail(
    strict=True,
    raises=LoadError,
    reason="tasks/load/companies.py _search_existing sends COMPANY_SEARCH_VALUES (50) domains a "
    "search whatever their length: 50 domains of 60 characters make a body of about 3,300",
)
def test_a_search_of_long_domains_stays_within_the_body_limit(portal, emulator, tmp_path):
    emulator.configure(max_search_body_characters=MAX_BODY_CHARACTERS)
    # Legal domains (a label has at most 63 characters), if long ones.
    domains = [f"regional-veterinary-hospital-and-animal-care-partners-{n:02d}.com" for n in range(settings.COMPANY_SEARCH_VALUES)]

    report = load_plan(portal, plan_dir(tmp_path, contacts_at(domains)), poll_interval=POLL, import_companies=True)

    assert (report["companies"]["created"], report["companies"]["associated"]) == (len(domains), len(domains))
    assert count_requests(emulator, "POST", "/search", 400) == 0
