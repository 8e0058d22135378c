"""A run given the portal id it must load into: the token's portal is checked before anything
is sent or read, against the emulator over real HTTP (no Prefect engine)."""

from __future__ import annotations

from collections import Counter

import pytest

from tasks.errors import LoadError
from tasks.load.client import ACCOUNT_INFO_PATH, PortalDetails
from tasks.load.dryrun import dry_run
from tasks.load.expected import ExpectedPortal, portal_refusal
from tasks.load.resume import PORTAL_FILE
from tasks.load.run import load_plan, load_steps
from tests.tasks.load.conftest import TOKEN
from tests.tasks.load.test_resume import small_plan

EXPECTED = ExpectedPortal(111, "ACME_HUBSPOT_TOKEN")
MISMATCH = (
    "the token (ACME_HUBSPOT_TOKEN) is for HubSpot portal 222 (SANDBOX), not portal 111 as the run's portal id "
    "(--portal-id, or portal_id in the manifest) says: nothing was sent"
)
UNKNOWN = (
    "HubSpot will not say which portal the token (ACME_HUBSPOT_TOKEN) is for (403 from its account-info API: the app "
    "lacks the oauth scope), so it cannot be checked against portal 111: give the token's app the oauth scope, or drop "
    "the run's portal id (--portal-id, or portal_id in the manifest): nothing was sent"
)


def test_only_the_expected_portal_passes():
    assert portal_refusal(PortalDetails(111, "STANDARD", "US/Eastern"), EXPECTED) is None
    assert portal_refusal(PortalDetails(222, "SANDBOX", "US/Eastern"), EXPECTED) == MISMATCH
    assert portal_refusal(None, EXPECTED) == UNKNOWN


def test_the_token_is_named_where_it_was_read_never_by_its_value():
    environ = {"ACME_HUBSPOT_TOKEN": TOKEN, "BLANK": "  "}
    assert ExpectedPortal.of(None, "ACME_HUBSPOT_TOKEN", None, environ) is None
    assert ExpectedPortal.of(111, "ACME_HUBSPOT_TOKEN", None, environ) == EXPECTED
    # A named block is the only place the token is read, as resolve_token reads it: the variable, set, is not.
    assert ExpectedPortal.of(111, "ACME_HUBSPOT_TOKEN", "acme-token", environ) == ExpectedPortal(111, "Prefect Secret block 'acme-token'")
    # An account's own variable is the only place read, set or not (places_read)...
    assert ExpectedPortal.of(111, "BLANK", None, environ) == ExpectedPortal(111, "BLANK")
    # ... HUBSPOT_ACCESS_TOKEN holding none is passed over for the default block.
    assert ExpectedPortal.of(111, "HUBSPOT_ACCESS_TOKEN", None, environ) == ExpectedPortal(111, "Prefect Secret block 'hubspot-access-token'")
    assert ExpectedPortal.of(111, None, None, environ) == ExpectedPortal(111, "Prefect Secret block 'hubspot-access-token'")
    # A variable holding only invisible characters holds no token either, as resolve_token reads it.
    invisible = {"HUBSPOT_ACCESS_TOKEN": "\u200b\ufeff"}
    assert ExpectedPortal.of(111, "HUBSPOT_ACCESS_TOKEN", None, invisible) == ExpectedPortal(111, "Prefect Secret block 'hubspot-access-token'")


def test_the_expected_portal_is_loaded(portal, emulator, tmp_path):
    emulator.configure(portal_id=111, account_type="STANDARD")
    plan = small_plan(tmp_path)

    report = load_plan(portal, plan.directory, poll_interval=0.05, expected_portal=EXPECTED)

    assert (report["portal_id"], report["rows_failed"]) == (111, 0)
    assert [result["state"] for result in report["imports"]] == ["DONE"]


def load_by_steps(portal, plan, state):
    return load_steps(portal, plan.directory, state_dir=state, expected_portal=EXPECTED)


def load_plainly(portal, plan, state):
    return load_plan(portal, plan.directory, poll_interval=0.05, expected_portal=EXPECTED)


def read_only(portal, plan, state):
    return dry_run(portal, plan, EXPECTED)


@pytest.mark.parametrize("run", [load_by_steps, load_plainly, read_only])
@pytest.mark.parametrize(
    ("settings", "status", "message"),
    [
        ({"portal_id": 222, "account_type": "SANDBOX"}, 200, MISMATCH),
        ({"account_info_allowed": False}, 403, UNKNOWN),
    ],
)
def test_another_portal_or_an_unknown_one_stops_the_run_having_asked_only_which_it_is(
    portal, emulator, tmp_path, run, settings, status, message
):
    plan = small_plan(tmp_path)
    state = tmp_path / "state"
    emulator.configure(**settings)

    with pytest.raises(LoadError) as refused:
        run(portal, plan, state)

    assert str(refused.value) == message
    assert Counter(emulator.request_counts) == Counter({("GET", ACCOUNT_INFO_PATH, status): 1})
    # The state is not bound to the wrong portal either: the right token's run finds it free.
    assert not (state / PORTAL_FILE).exists()
    assert TOKEN not in message
