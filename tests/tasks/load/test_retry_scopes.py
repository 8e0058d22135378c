"""A 403 ``MISSING_SCOPES``: a scope the load cannot do without stops it in one line naming the
scope; the scopes it works around (batch opt-outs, account-info) go to the caller as before."""

from __future__ import annotations

import pytest

from tasks.errors import LoadError
from tasks.load.retry import Cause, HttpError, call_with_retries, classify, missing_scopes
from tests.tasks.load.test_retry import FakeApiError, budget, scripted


def missing(*scopes: str) -> FakeApiError:
    """HubSpot's answer to a token whose app lacks ``scopes`` (the emulator's body, HubSpot's shape)."""
    return FakeApiError(403, {
        "status": "error",
        "message": "This app hasn't been granted all required scopes to make this call.",
        "category": "MISSING_SCOPES",
        "errors": [{"message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": list(scopes)}}],
    })


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (missing("crm.import"), Cause.SCOPE),
        (missing("crm.objects.contacts.write"), Cause.SCOPE),
        (missing("communication_preferences.statuses.batch.write"), Cause.FATAL),
        (missing("oauth"), Cause.FATAL),
        (FakeApiError(403, {"message": "forbidden", "category": "PERMISSION_DENIED"}), Cause.FATAL),
    ],
)
def test_a_missing_scope_the_load_needs_is_its_own_cause(error, cause):
    assert classify(error) is cause


def test_the_missing_scopes_are_read_from_the_body():
    assert missing_scopes(missing("crm.lists.write", "crm.import")) == {"crm.lists.write", "crm.import"}
    assert missing_scopes(FakeApiError(403, {"category": "MISSING_SCOPES"})) == {"(unnamed)"}
    assert missing_scopes(FakeApiError(404, {"category": "OBJECT_NOT_FOUND"})) == frozenset()


def test_a_missing_scope_stops_the_load_in_one_line_naming_it_without_retry():
    rate_budget, sleeps = budget()
    send = scripted(missing("crm.import"), "never")

    with pytest.raises(LoadError) as raised:
        call_with_retries(send, budget=rate_budget, what="POST /crm/v3/imports")

    assert str(raised.value) == (
        "POST /crm/v3/imports: the token's app lacks the HubSpot scope crm.import (403 MISSING_SCOPES): "
        "add it to the private app's scopes and rerun"
    )
    assert len(send.calls) == 1 and sleeps.waits == []


def test_a_worked_around_scope_goes_to_the_caller():
    rate_budget, _ = budget()
    with pytest.raises(HttpError) as raised:
        call_with_retries(scripted(missing("communication_preferences.statuses.batch.write")),
                          budget=rate_budget, what="POST /communication-preferences/v4/statuses/batch/unsubscribe-all")
    assert raised.value.status == 403
