"""A source's credentials named by a variable of the run's own (a manifest account's
``source_credentials``) are read there only: unset, the source fails naming it, never falling back
to the default Secret block, which holds some other client's key or token."""

from __future__ import annotations

import pytest
from prefect.blocks.system import Secret

from schemas.params import SourceCredentials
from tasks.errors import InputError
from tasks.extract.api_credentials import constant_contact_credentials, mailchimp_api_key
from tasks.extract.api_settings import CONSTANT_CONTACT_SECRET_BLOCK, MAILCHIMP_SECRET_BLOCK

ANOTHER_CLIENTS_KEY = "0123456789abcdef0123456789abcdef-us6"


@pytest.fixture
def default_blocks_of_another_client(prefect_api_url):
    Secret(value=ANOTHER_CLIENTS_KEY).save(MAILCHIMP_SECRET_BLOCK, overwrite=True)
    Secret(value="cc-token-of-another-client").save(CONSTANT_CONTACT_SECRET_BLOCK, overwrite=True)
    yield
    Secret.delete(MAILCHIMP_SECRET_BLOCK)
    Secret.delete(CONSTANT_CONTACT_SECRET_BLOCK)


def test_an_account_s_own_unset_variables_are_named_and_the_default_blocks_are_not_read(default_blocks_of_another_client):
    own = SourceCredentials(mailchimp_key_env="INITECH_MC_KEY", constant_contact_env_prefix="INITECH_CC")

    with pytest.raises(InputError) as no_key:
        mailchimp_api_key("mailchimp://a1b2c3d4e5", own, {})
    with pytest.raises(InputError) as no_token:
        constant_contact_credentials("constantcontact://contacts", own, {})

    assert str(no_key.value) == "mailchimp://a1b2c3d4e5: no Mailchimp API key: set INITECH_MC_KEY"
    assert str(no_token.value) == ("constantcontact://contacts: no Constant Contact credentials: set INITECH_CC_TOKEN "
                                   "(or INITECH_CC_REFRESH_TOKEN and INITECH_CC_CLIENT_ID)")
    # A run naming nothing still takes the default variables, then the default blocks.
    assert mailchimp_api_key("mailchimp://a1b2c3d4e5", SourceCredentials(), {}) == ANOTHER_CLIENTS_KEY
    assert constant_contact_credentials("constantcontact://contacts", SourceCredentials(), {}).access_token == "cc-token-of-another-client"
