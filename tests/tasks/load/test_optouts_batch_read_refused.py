"""Opt-outs read back where HubSpot refuses a whole batch status read (400) for one malformed
address, as it might (the emulator's ``whole_batch_status_reads``), against the HubSpot emulator
over real HTTP: the addresses the refusal names are left out and the others read again in one
batch (address by address only when it names none), the malformed one failed with HubSpot's
reason, the load going on."""

from __future__ import annotations

import pytest

from tasks.load import apply_opt_outs, read_plan, settings
from tasks.load.optouts import NOT_UNSUBSCRIBED
from tests.tasks.load.conftest import count_requests
from tests.tasks.load.plans import write_plan

UNSUBSCRIBED = "hubspot/opt-out-unsubscribed.csv"
BATCH_READ = "/batch/unsubscribe-all/read"
SINGLE_READ = "/{subscriber}/unsubscribe-all"


def opt_out_plan(tmp_path, emails):
    return read_plan(write_plan(tmp_path, opt_outs={UNSUBSCRIBED: ("unsubscribed", emails)}))


def test_refused_opt_outs_whose_batch_read_back_is_refused_are_read_back_one_call_each(portal, emulator, tmp_path, caplog):
    # The first batch is taken whole (the portal batches); the second names refused addresses,
    # so it is refused whole and goes one call per address; the refused ones (the malformed one
    # among them) are read back in a batch, which HubSpot refuses naming the malformed one: the
    # other two are read again in a batch.
    taken = [f"gone{n}@example.com" for n in range(settings.OPT_OUT_BATCH_SIZE)]
    portal.request("POST", f"{settings.COMM_PREFS_PATH}/held@example.com/unsubscribe-all", params={"channel": "EMAIL"})
    emulator.configure(refused_opt_outs=("held@example.com", "never@example.com"), whole_batch_status_reads=True)
    emails = [*taken, "fresh@example.com", "held@example.com", "never@example.com", "not an address"]

    report = apply_opt_outs(portal, opt_out_plan(tmp_path, emails))

    assert (report["unsubscribed"], report["failed"]) == (len(taken) + 2, 2)
    # Header = line 1: never@ and the malformed address are the file's last two lines.
    assert [(error["line"], error["error_type"]) for error in report["errors"]] == [
        (len(emails), "OPT_OUT_FAILED"),
        (len(emails) + 1, "OPT_OUT_FAILED"),
    ]
    assert (count_requests(emulator, "POST", BATCH_READ, status=200), count_requests(emulator, "POST", BATCH_READ, status=400)) == (2, 1)
    # fresh@ read back alone after its unsubscribe; the refused ones in the batches.
    assert count_requests(emulator, "GET", SINGLE_READ) == 1
    assert "never@example.com" not in emulator.portal.opt_outs
    # The refusals' warnings quote HubSpot's messages, which name the addresses: masked.
    assert "batch unsubscribe refused" in caplog.text and "batch status read refused" in caplog.text
    assert "held@example.com" not in caplog.text and "never@example.com" not in caplog.text


# A refusal naming the malformed address in its context: the other two are read again in one
# batch, none alone. One saying which only in its message: each is read alone.
@pytest.mark.parametrize(
    ("names_them", "reason", "batch_reads_taken", "single_reads"),
    [(True, "Invalid email addresses: not an address", 1, 0), (False, "Invalid email address: not an address", 0, 3)],
    ids=["named-in-context", "named-in-message-only"],
)
def test_a_batch_taken_whose_read_back_is_refused_is_read_again_without_the_malformed_address(
    portal, emulator, tmp_path, monkeypatch, names_them, reason, batch_reads_taken, single_reads
):
    from emulators.hubspot.routes import commprefs

    if not names_them:
        naming = commprefs.validation_error
        monkeypatch.setattr(commprefs, "validation_error", lambda message, **fields: naming(message, **{k: v for k, v in fields.items() if k != "context"}))
    # The batch unsubscribe takes the valid addresses and leaves the malformed one out; the
    # read-back of the batch is refused for it.
    emulator.configure(whole_batch_status_reads=True)
    emails = ["gone1@example.com", "not an address", "gone2@example.com"]

    report = apply_opt_outs(portal, opt_out_plan(tmp_path, emails))

    assert (report["unsubscribed"], report["failed"]) == (2, 1)
    [error] = report["errors"]
    assert error["line"] == 3 and NOT_UNSUBSCRIBED not in error["message"]
    assert f"HubSpot would not read it back: HTTP 400: {reason}" in error["message"]
    assert report["files"][0]["mode"] == "batch"
    batch_reads = (count_requests(emulator, "POST", BATCH_READ, status=400), count_requests(emulator, "POST", BATCH_READ, status=200))
    assert batch_reads == (1, batch_reads_taken)
    assert count_requests(emulator, "GET", SINGLE_READ) == single_reads
    assert {"gone1@example.com", "gone2@example.com"} <= set(emulator.portal.opt_outs)
