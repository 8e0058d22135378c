"""A portal keeps a connection alive for every request the load can have in flight at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tasks.load import settings
from tasks.load.client import ACCOUNT_INFO_PATH, HubSpotPortal


def kept_alive(portal: HubSpotPortal) -> tuple[int, int]:
    """``(opened, idle)``: connections the portal's session opened to its host, and those it
    holds for the next requests (urllib3 drops the rest once its pool is full)."""
    pools = portal.session.get_adapter(portal.url).poolmanager.pools
    (pool,) = [pools[key] for key in pools.keys()]  # one host, one pool
    return pool.num_connections, sum(1 for connection in list(pool.pool.queue) if connection is not None)


def test_every_upsert_thread_answered_at_once_keeps_its_connection(hub, emulator, portal):
    # A second's latency holds every thread's request open together; a high limit keeps the
    # budget from spacing them out.
    emulator.configure(latency=1.0, ten_second_limit=100_000)
    portal.request("GET", ACCOUNT_INFO_PATH)  # the budget learns the limit from this answer

    with ThreadPoolExecutor(max_workers=settings.UPSERT_THREADS) as pool:
        list(pool.map(lambda _: portal.request("GET", ACCOUNT_INFO_PATH), range(settings.UPSERT_THREADS)))

    opened, idle = kept_alive(portal)
    assert opened > 10  # more than requests' default pool keeps
    assert idle == opened
