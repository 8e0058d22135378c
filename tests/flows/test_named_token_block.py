"""A run that names a Prefect Secret block reads its HubSpot token there only: the machine's
HUBSPOT_ACCESS_TOKEN, another client's maybe, is ignored (the audit's case: a deployment run
naming ``client-b-token`` loaded with the worker's variable)."""

from __future__ import annotations

import pytest
from prefect.blocks.system import Secret

from emulators.hubspot.settings import DEFAULT_PORTAL_ID
from flows.cli import SAMPLE_EXPORT
from flows.migrate import migrate_contacts
from schemas.params import MigrationParameters
from tasks.load.settings import TOKEN_ENV_VAR

CLIENT_A_TOKEN = "pat-na1-client-a-token"
CLIENT_B_TOKEN = "pat-na1-client-b-token"


@pytest.fixture
def only_client_b_accepted(hubspot):
    """The portal is client B's: HubSpot refuses client A's token (401)."""
    hubspot.emulator.reset()
    hubspot.emulator.configure(allowed_tokens=frozenset({CLIENT_B_TOKEN}))
    yield hubspot.emulator
    hubspot.emulator.configure(allowed_tokens=None)


def test_a_run_naming_a_block_loads_with_the_block_s_token_not_the_variable_s(
    tmp_path, hubspot, only_client_b_accepted, prefect_api_url, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV_VAR, CLIENT_A_TOKEN)
    Secret(value=CLIENT_B_TOKEN).save("client-b-token", overwrite=True)

    report = migrate_contacts(
        MigrationParameters(
            sources=[str(SAMPLE_EXPORT)], output=str(tmp_path / "out"), portal_url=hubspot.url,
            token_secret_block="client-b-token", portal_id=DEFAULT_PORTAL_ID,
        )
    )

    imports = report["load"]["imports"]
    assert imports and {result["state"] for result in imports} == {"DONE"} and report["load"]["rows_failed"] == 0
    refused = [key for key in only_client_b_accepted.request_counts if key[2] == 401]
    assert refused == []
