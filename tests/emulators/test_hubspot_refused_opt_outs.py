"""The ``refused_opt_outs`` fault: HubSpot answering 400 to the opt-out of given addresses."""

from __future__ import annotations

import pytest
import requests

from tests.emulators.conftest import auth

STATUSES = "/communication-preferences/v4/statuses"
EMAIL = {"channel": "EMAIL"}


def test_an_opt_out_of_a_refused_address_is_answered_400_alone_or_in_a_batch_and_nothing_is_written(hub):
    settings = requests.post(hub.url + "/_emulator/faults", json={"refused_opt_outs": ["No@Example.com"]}).json()
    assert settings["refused_opt_outs"] == ["no@example.com"]

    batch = requests.post(hub.url + STATUSES + "/batch/unsubscribe-all", params=EMAIL, headers=auth(), json={"inputs": ["yes@example.com", "NO@example.com"]})
    single = requests.post(hub.url + STATUSES + "/no@example.com/unsubscribe-all", params=EMAIL, headers=auth())
    other = requests.post(hub.url + STATUSES + "/yes@example.com/unsubscribe-all", params=EMAIL, headers=auth())

    assert (batch.status_code, batch.json()["category"], single.status_code, other.status_code) == (400, "VALIDATION_ERROR", 400, 200)
    assert set(hub.emulator.portal.opt_outs) == {"yes@example.com"}
    hub.emulator.configure(refused_opt_outs=())
    assert requests.post(hub.url + STATUSES + "/no@example.com/unsubscribe-all", params=EMAIL, headers=auth()).status_code == 200


@pytest.mark.parametrize("refused", [[1], None, {"no@example.com": True}])
def test_refused_opt_outs_other_than_addresses_are_answered_one_400_and_change_nothing(hub, refused):
    answer = requests.post(hub.url + "/_emulator/faults", json={"refused_opt_outs": refused})

    assert (answer.status_code, answer.json()["category"]) == (400, "VALIDATION_ERROR")
    assert answer.json()["message"].startswith("refused_opt_outs must be an address or a list of addresses")
    assert "Traceback" not in answer.text
    assert hub.emulator.settings.refused_opt_outs == ()
