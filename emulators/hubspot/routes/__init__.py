"""HTTP routes of the HubSpot emulator, one module per HubSpot API."""
