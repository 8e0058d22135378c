"""The HTTP server under the emulator: kept-alive connections are not stalled by Nagle."""

from __future__ import annotations

import socket

import requests

from tests.emulators.conftest import auth

UPSERT = "/crm/v3/objects/contacts/batch/upsert"


def test_sequential_requests_share_one_connection_with_nagle_off(hub):
    # Each response goes out in two sends; with Nagle on, every kept-alive request after the
    # first would wait for the client's delayed ACK. Its speed is measured in the benchmark.
    session = requests.Session()
    for number in range(30):
        email = f"c{number}@x.com"
        answer = session.post(hub.url + UPSERT, headers=auth(), json={
            "inputs": [{"idProperty": "email", "id": email, "properties": {"email": email}}]})
        assert answer.status_code == 200
    sockets = hub.connection_sockets()
    assert len(sockets) == 1
    assert sockets[0].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    assert len(hub.emulator.portal.emails) == 30
