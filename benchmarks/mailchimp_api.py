"""How fast a Mailchimp audience is read over the API, one page at a time and ten at once.

    python -m benchmarks.mailchimp_api [--members N] [--latency S] [--connections 1,10]

Reads every member of an ``N``-member emulated audience with ``mailchimp_api.read_members``
(real HTTP on loopback, pages of 1,000 staged to a CSV) at each pool size, with the emulator
answering each request after ``S`` seconds (a remote API's latency; loopback has none), and
prints members a second and the most requests the emulator saw at once. The emulator runs in
this process: its JSON encoding shares the interpreter (and the cores) with the reader, so the
figure at 0 s latency is a floor for the reader's own speed.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from emulators.mailchimp import serve_in_background
from tasks.extract import mailchimp_api


def members_per_second(server, connections: int) -> tuple[float, int]:
    """Read the whole audience at one pool size.

    Returns:
        Members a second, and the most requests in flight at once.

    Raises:
        RuntimeError: The staged file does not hold every member.
    """
    server.emulator.reset_counters()
    with tempfile.TemporaryDirectory() as staging:
        started = time.perf_counter()
        raw = mailchimp_api.read_members(
            server.settings.list_id, Path(staging), server.settings.api_key, server.api_url, connections=connections
        )
        seconds = time.perf_counter() - started
        rows = raw.frame.select("Email Address").collect().height
    if rows != server.settings.members:
        raise RuntimeError(f"read {rows} members of {server.settings.members}")
    return rows / seconds, server.emulator.in_flight.peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--latency", type=float, default=0.5, help="seconds the emulator takes per request")
    parser.add_argument("--connections", default="1,10", help="pool sizes, comma-separated")
    args = parser.parse_args()
    with serve_in_background(members=args.members, response_delay=args.latency) as server:
        print(f"{args.members:,} members, pages of 1,000, {args.latency:g} s a request")
        for connections in (int(size) for size in args.connections.split(",")):
            rate, peak = members_per_second(server, connections)
            print(f"  {connections:>2} at once: {rate:>9,.0f} members/s  (at most {peak} requests in flight)")


if __name__ == "__main__":
    main()
