"""A 429 at import creation: taken for the portal's imports a day at once when it names its limit,
after a few waits of the rate window when it names none (no body, as a proxy or gateway answers:
the emulator's ``bare_import_429s`` fault)."""

from __future__ import annotations

import logging

import pytest

from tasks.load import settings
from tasks.load.imports import (
    CreationRefusals,
    import_contacts_files,
    imports_limit_429,
    names_no_limit,
)
from tasks.load.retry import HttpError, call_with_retries
from tests.tasks.load.test_imports_a_day import REFUSAL
from tests.tasks.load.test_resume import small_plan
from tests.tasks.load.test_retry import FakeApiError, budget, scripted

WINDOW_MS = 100


def refused(body: dict | None = None) -> FakeApiError:
    return FakeApiError(429, body)


NO_BODY = refused()
WINDOW = refused({"policyName": "TEN_SECONDLY_ROLLING", "message": "You have reached your ten_secondly_rolling limit."})
IMPORTS_A_DAY = refused({"category": "RATE_LIMITS", "message": "You have reached the limit of 50 imports."})
FILE_TOO_LARGE = refused({"policyName": None, "category": "RATE_LIMITS", "subCategory": "IMPORT_FILE_TOO_LARGE"})


@pytest.mark.parametrize(
    ("error", "unnamed_before", "final"),
    [
        (IMPORTS_A_DAY, 0, True),
        (refused({"policyName": "IMPORTS_DAILY"}), 0, True),
        (NO_BODY, 0, False),
        (NO_BODY, settings.UNNAMED_429_WAITS - 1, False),
        (NO_BODY, settings.UNNAMED_429_WAITS, True),
        (refused({"message": "Too many requests"}), settings.UNNAMED_429_WAITS, True),
        (refused({"policyName": None, "message": "Too many requests"}), 0, False),
        # Windows a wait lifts, a quota the budget stops on, a file's own limit: never the caller's here.
        (WINDOW, settings.UNNAMED_429_WAITS, False),
        (refused({"policyName": "SECONDLY"}), settings.UNNAMED_429_WAITS, False),
        (refused({"policyName": "DAILY"}), settings.UNNAMED_429_WAITS, False),
        (FILE_TOO_LARGE, settings.UNNAMED_429_WAITS, False),
        (FakeApiError(503), settings.UNNAMED_429_WAITS, False),
        (ConnectionError("reset"), settings.UNNAMED_429_WAITS, False),
    ],
)
def test_which_creation_refusals_go_to_the_caller_and_when(error, unnamed_before, final):
    refusals = CreationRefusals()
    assert not any(refusals(NO_BODY) for _ in range(unnamed_before))
    assert refusals(error) is final


def test_a_null_policy_name_is_read_as_no_policy():
    assert not imports_limit_429(FILE_TOO_LARGE)
    assert imports_limit_429(refused({"policyName": None, "category": "RATE_LIMITS"}))
    assert names_no_limit(refused({"policyName": None}))
    assert not names_no_limit(IMPORTS_A_DAY) and not names_no_limit(WINDOW)


def test_a_429_naming_no_limit_is_waited_out_as_a_window():
    rate_budget, sleeps = budget()
    send = scripted(NO_BODY, NO_BODY, "created")
    assert call_with_retries(send, budget=rate_budget, what="POST /crm/v3/imports", final=CreationRefusals()) == "created"
    assert len(sleeps.waits) == 2


def test_a_429_naming_no_limit_goes_to_the_caller_after_its_waits():
    rate_budget, sleeps = budget()
    send = scripted(*[NO_BODY] * (settings.UNNAMED_429_WAITS + 1), "never")
    with pytest.raises(HttpError) as raised:
        call_with_retries(send, budget=rate_budget, what="POST /crm/v3/imports", final=CreationRefusals())
    assert raised.value.status == 429 and raised.value.__cause__ is NO_BODY
    assert len(send.calls) == settings.UNNAMED_429_WAITS + 1 and len(sleeps.waits) == settings.UNNAMED_429_WAITS


def test_ten_second_window_429s_before_do_not_spend_the_waits_of_a_429_naming_no_limit():
    rate_budget, sleeps = budget()
    send = scripted(WINDOW, WINDOW, WINDOW, *[NO_BODY] * settings.UNNAMED_429_WAITS, "created")
    assert call_with_retries(send, budget=rate_budget, what="POST /crm/v3/imports", final=CreationRefusals()) == "created"
    assert len(sleeps.waits) == 3 + settings.UNNAMED_429_WAITS


def test_an_import_refused_429_without_a_body_is_rejected_after_the_windows_waits(portal, emulator, tmp_path, caplog, monkeypatch):
    # A proxy's 429 carries none of HubSpot's rate-limit headers: the load waits its default
    # window, cut short here.
    monkeypatch.setattr(settings, "DEFAULT_RATE_WINDOW_SECONDS", WINDOW_MS / 1000)
    caplog.set_level(logging.WARNING)
    # One refusal more than the load sends: the one left shows how many it sent.
    emulator.bare_import_429s.add(settings.UNNAMED_429_WAITS + 2)

    [result] = import_contacts_files(portal, small_plan(tmp_path), poll_interval=0.01)

    assert emulator.bare_import_429s.pending == 1 and emulator.portal.imports == {}
    assert (result["state"], result["import_id"], result["rows_failed"]) == ("REJECTED", None, 2)
    refusal = REFUSAL.fullmatch(result["errors"][0]["message"])
    assert refusal, result["errors"][0]["message"]
    assert refusal["said"] == "429: Too Many Requests"
    waits = [record.getMessage() for record in caplog.records if ": 429 (" in record.getMessage()]
    assert waits == [f"POST /crm/v3/imports: 429 (naming no limit), waiting {WINDOW_MS / 1000:.1f} s"] * settings.UNNAMED_429_WAITS
