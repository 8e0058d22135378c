"""A Mailchimp audience, or Constant Contact contacts, losing records while they are read, over
HTTP against the emulators.

Offset paging moves every member after a deleted one a place back: without care the first
members of the next page are skipped, and no later ``?since=`` run brings them (they did not
change). Constant Contact's cursors hold a position too. The emulators take records just after
serving a page (``removals``), as an admin deleting members (a purge, for Constant Contact,
where a deleted contact stays listed) would mid-read.
"""

from __future__ import annotations

import logging
import threading

import pytest

from emulators.constant_contact import serve_in_background as constant_contact
from emulators.mailchimp import serve_in_background as mailchimp
from schemas.lineage import SOURCE_ROW
from tasks.errors import InputError
from tasks.extract import constant_contact_api, mailchimp_api
from tasks.transform.catalog import reading_profile

LIST = "a1b2c3d4e5"
REREAD = (
    "{source}: the {collection} changed while being read (records removed or moved), which can skip others: "
    "reading it again from the start, each record kept once (read {read} of at most 3)"
)
AUDIENCE = {"source": f"mailchimp://{LIST}", "collection": "Mailchimp audience"}
CONTACTS = {"source": "constantcontact://contacts", "collection": "Constant Contact account's contacts"}


@pytest.mark.parametrize("connections", [1, 10], ids=["one-at-a-time", "ten-at-once"])
def test_members_deleted_mid_read_make_the_audience_read_again_and_every_member_is_staged_once(
    tmp_path, caplog, connections
):
    # Five members of the first page are deleted once it is served: members #1000-#1004 move
    # onto it, out of reach of the second page.
    with mailchimp(members=3500, removals=[(0, 10, 5)]) as server:
        before = [member["email_address"] for member in server.emulator.audience.members]
        caplog.set_level(logging.INFO)
        raw = mailchimp_api.read_members(LIST, tmp_path, server.settings.api_key, server.api_url, connections=connections)
        frame = raw.frame.collect()
        removed = [member["email_address"] for member in server.emulator.removed]
    assert removed == before[10:15]
    # The union of the two reads: the deleted members were read before they went, the moved
    # ones by the second read; each once.
    emails = frame["Email Address"].to_list()
    assert len(emails) == len(set(emails)) == 3500 and set(emails) == set(before)
    assert set(before[1000:1005]) <= set(emails)
    assert frame[SOURCE_ROW].to_list() == list(range(1, 3501))
    assert caplog.messages.count(REREAD.format(read=2, **AUDIENCE)) == 1
    assert REREAD.format(read=3, **AUDIENCE) not in caplog.messages


def test_an_audience_losing_members_under_every_read_stops_in_one_line(tmp_path):
    with mailchimp(members=2500, removals=[(0, 10, 5)] * 3) as server:
        with pytest.raises(InputError) as changing:
            mailchimp_api.read_members(LIST, tmp_path, server.settings.api_key, server.api_url)
        assert len(server.emulator.removed) == 15
    assert str(changing.value) == (
        f"mailchimp://{LIST}: the Mailchimp audience kept changing while being read (records removed or moved "
        "under each of 3 reads, which can skip others); run the command again"
    )
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("offset-pages")]


def test_a_member_deleted_beyond_the_pages_read_costs_no_second_read(tmp_path, caplog):
    # Deleted from the last page once the second is served (one page at a time, so before the
    # last is asked for): no member moves past a page boundary already read.
    with mailchimp(members=2500, removals=[(999, 2400, 1)]) as server:
        caplog.set_level(logging.INFO)
        raw = mailchimp_api.read_members(LIST, tmp_path, server.settings.api_key, server.api_url, connections=1)
        assert raw.frame.collect().height == 2499
        assert server.emulator.requests == 3
    assert not [message for message in caplog.messages if "reading it again" in message]


def _read_contacts(server, staging) -> list[str]:
    profile = reading_profile("constantcontact")
    raw = constant_contact_api.read_contacts(staging, server.settings.token, server.api_url, profile)
    return raw.frame.collect()["Email address"].to_list()


def test_contacts_purged_mid_read_make_them_be_read_again_and_every_contact_is_staged_once(tmp_path, caplog):
    # Five contacts of the first page of 500 go once it is served: the cursor of the second
    # page would pass over contacts #500-#504.
    with constant_contact(contacts=1200, requests_per_second=1000, removals=[(0, 10, 5)]) as server:
        before = [contact["email_address"]["address"] for contact in server.emulator.account.contacts]
        caplog.set_level(logging.INFO)
        emails = _read_contacts(server, tmp_path)
        removed = [contact["email_address"]["address"] for contact in server.emulator.removed]
    assert removed == before[10:15]
    assert len(emails) == len(set(emails)) == 1200 and set(emails) == set(before)
    assert caplog.messages.count(REREAD.format(read=2, **CONTACTS)) == 1


def test_contacts_that_keep_going_under_every_read_stop_it_in_one_line(tmp_path):
    with constant_contact(contacts=1200, requests_per_second=1000, removals=[(0, 10, 5)] * 3) as server:
        with pytest.raises(InputError) as changing:
            _read_contacts(server, tmp_path)
    assert str(changing.value) == (
        "constantcontact://contacts: the Constant Contact account's contacts kept changing while being read "
        "(records removed or moved under each of 3 reads, which can skip others); run the command again"
    )

