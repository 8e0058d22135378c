"""The ``whole_batch_status_reads`` fault: a batch status read naming a malformed address
answered 400 whole, as HubSpot might, instead of listing it in ``errors``."""

from __future__ import annotations

import pytest
import requests

from emulators.hubspot import EmulatorSettings
from tests.emulators.conftest import auth

STATUSES = "/communication-preferences/v4/statuses"
EMAIL = {"channel": "EMAIL"}
INPUTS = {"inputs": ["gone@example.com", "not an address"]}


@pytest.mark.parametrize("read", ["/batch/unsubscribe-all/read", "/batch/read"])
def test_a_batch_status_read_naming_a_malformed_address_is_400_whole_only_with_the_fault(hub, read):
    hub.emulator.portal.opt_out("gone@example.com")
    listed = requests.post(hub.url + STATUSES + read, params=EMAIL, headers=auth(), json=INPUTS)
    hub.emulator.configure(whole_batch_status_reads=True)
    refused = requests.post(hub.url + STATUSES + read, params=EMAIL, headers=auth(), json=INPUTS)
    valid_only = requests.post(hub.url + STATUSES + read, params=EMAIL, headers=auth(), json={"inputs": ["gone@example.com"]})

    assert listed.status_code in (200, 207)
    assert [error["context"]["emails"] for error in listed.json()["errors"]] == [["not an address"]]
    assert (refused.status_code, refused.json()["category"]) == (400, "VALIDATION_ERROR")
    assert refused.json()["context"]["emails"] == ["not an address"]
    assert valid_only.status_code == 200
    assert [result["subscriberIdString"] for result in valid_only.json()["results"]] == ["gone@example.com"]


@pytest.mark.parametrize("setting", ["false", 1, None])
def test_whole_batch_status_reads_other_than_true_or_false_is_one_line_error(setting):
    with pytest.raises(ValueError) as refused:
        EmulatorSettings(whole_batch_status_reads=setting)

    assert str(refused.value) == f"whole_batch_status_reads must be true or false, not {setting!r}"
