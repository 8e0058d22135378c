"""A client id or secret Constant Contact's token endpoint refuses (``invalid_client``) is
reported as given where it was set (the client id and secret variables), never as the refresh
token's. Over HTTP against the Constant Contact emulator's token endpoint."""

from __future__ import annotations

import pytest

from emulators.constant_contact import serve_in_background as constant_contact
from tasks.errors import InputError
from tasks.extract.tables import read_source


@pytest.mark.parametrize(
    ("client_secret", "named"),
    [("wrong-secret", "CONSTANT_CONTACT_CLIENT_ID and CONSTANT_CONTACT_CLIENT_SECRET"), (None, "CONSTANT_CONTACT_CLIENT_ID")],
)
def test_a_refused_client_is_reported_as_given_in_the_client_variables(tmp_path, monkeypatch, client_secret, named):
    with constant_contact(contacts=5, client_secret="emulator-client-secret") as server:
        values = {
            "CONSTANT_CONTACT_REFRESH_TOKEN": server.settings.refresh_token,
            "CONSTANT_CONTACT_CLIENT_ID": server.settings.client_id,
            "CONSTANT_CONTACT_CLIENT_SECRET": client_secret,
            "CONSTANT_CONTACT_BASE_URL": server.api_url,
            "CONSTANT_CONTACT_TOKEN_URL": server.token_url,
        }
        monkeypatch.delenv("CONSTANT_CONTACT_TOKEN", raising=False)
        for name, value in values.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        with pytest.raises(InputError) as refused:
            read_source("constantcontact://contacts", tmp_path)

    assert str(refused.value) == f"constantcontact://contacts: Constant Contact refused the client id or secret (invalid_client) given in {named}"
