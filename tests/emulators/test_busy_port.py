"""``onramp emulator`` and ``onramp source-emulator`` on a port another program holds: one line
naming the port and what to do, never the socket's traceback (newcomer-path audit, F3)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.flows.test_cli import assert_one_line_error


@pytest.fixture()
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 a listening socket of this test holds."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.mark.parametrize(
    "command", [["emulator"], ["source-emulator", "mailchimp"], ["source-emulator", "constantcontact"]],
    ids=["hubspot", "mailchimp", "constantcontact"],
)
def test_an_emulator_on_a_port_in_use_says_so_in_one_line(busy_port, command):
    result = subprocess.run(
        [sys.executable, "-m", "flows.cli", *command, "--port", str(busy_port)],
        capture_output=True, text=True, timeout=120,
    )

    assert_one_line_error(result, 2, f"port {busy_port} is in use: pick another with --port")
