"""How fast a Mailchimp audience is read over the API, one page at a time and ten at once.

    python -m benchmarks.mailchimp_api [--members N] [--latency S] [--connections 1,10]
                                       [--free-connections K]

Reads every member of an ``N``-member emulated audience with ``mailchimp_api.read_members``
(real HTTP on loopback, pages of 1,000 staged to a CSV) at each pool size, with the emulator
answering each request after ``S`` seconds (a remote API's latency; loopback has none), and
prints members a second, the most requests the emulator saw at once and how many it refused
with a 429. ``K`` is the simultaneous connections the user's other apps leave free (the
emulator answers 429 beyond; Mailchimp allows 10 in all). The emulator runs in this process:
its JSON encoding shares the interpreter (and the cores) with the reader, so the figure at 0 s
latency is a floor for the reader's own speed.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from emulators.mailchimp import serve_in_background
from tasks.extract import mailchimp_api
from tasks.extract.api_settings import MAILCHIMP_MAX_CONNECTIONS


def members_per_second(server, connections: int) -> tuple[float, int, int]:
    """Read the whole audience at one pool size.

    Returns:
        Members a second, the most requests in flight at once, and the requests refused (429).

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
    return rows / seconds, server.emulator.in_flight.peak, server.emulator.in_flight.refused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--latency", type=float, default=0.5, help="seconds the emulator takes per request")
    parser.add_argument("--connections", default="1,10", help="pool sizes, comma-separated")
    parser.add_argument(
        "--free-connections", type=int, default=MAILCHIMP_MAX_CONNECTIONS,
        help="simultaneous connections other apps leave free (429 beyond)",
    )  # fmt: skip
    args = parser.parse_args()
    free = args.free_connections
    with serve_in_background(members=args.members, response_delay=args.latency, max_connections=free) as server:
        print(f"{args.members:,} members, pages of 1,000, {args.latency:g} s a request, {free} connections free")
        for connections in (int(size) for size in args.connections.split(",")):
            rate, peak, refused = members_per_second(server, connections)
            print(
                f"  {connections:>2} at once: {rate:>9,.0f} members/s  "
                f"(at most {peak} requests in flight, {refused} answered 429)"
            )


if __name__ == "__main__":
    main()
