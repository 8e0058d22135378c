"""A Mailchimp audience that loses members while it is read, over HTTP against the emulator.

Offset paging moves every member after a deleted one a place back: without care the first
members of the next page are skipped, and no later ``?since=`` run brings them (they did not
change). The emulator deletes members just after serving a page (``removals``), as an admin
would mid-read.
"""

from __future__ import annotations

import logging
import threading

import pytest

from emulators.mailchimp import serve_in_background as mailchimp
from schemas.lineage import SOURCE_ROW
from tasks.errors import InputError
from tasks.extract import mailchimp_api

LIST = "a1b2c3d4e5"
REREAD = (
    f"mailchimp://{LIST}: records were removed from the Mailchimp audience while it was read, which can skip "
    "others: reading it again from the start, each record kept once (read {read} of at most 3)"
)


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
    assert caplog.messages.count(REREAD.format(read=2)) == 1
    assert REREAD.format(read=3) not in caplog.messages


def test_an_audience_losing_members_under_every_read_stops_in_one_line(tmp_path):
    with mailchimp(members=2500, removals=[(0, 10, 5)] * 3) as server:
        with pytest.raises(InputError) as changing:
            mailchimp_api.read_members(LIST, tmp_path, server.settings.api_key, server.api_url)
        assert len(server.emulator.removed) == 15
    assert str(changing.value) == (
        f"mailchimp://{LIST}: the Mailchimp audience kept changing while it was read: records were removed under "
        "each of 3 reads, which can skip others; run the command again"
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
