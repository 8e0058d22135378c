"""A local HubSpot portal that speaks HubSpot's HTTP API, for tests, benchmarks and rehearsals.

Quick start::

    from hubspot import HubSpot
    from emulators.hubspot import serve_in_background

    with serve_in_background(tier="professional") as hub:
        client = HubSpot(access_token="any-token", host=hub.url)
        ...
        hub.emulator.reset()

``serve_forever(port)`` serves in the foreground (``onramp emulator``).
"""

from emulators.hubspot.emulator import HubSpotEmulator
from emulators.hubspot.server import EmulatorServer, serve_forever, serve_in_background
from emulators.hubspot.settings import EmulatorSettings

__all__ = [
    "EmulatorServer",
    "EmulatorSettings",
    "HubSpotEmulator",
    "serve_forever",
    "serve_in_background",
]
