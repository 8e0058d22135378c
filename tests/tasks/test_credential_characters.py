"""A credential copied with a character no credential has (a zero-width space from a web page, a
line break from a terminal) is trimmed of it at its edges, and refused inside, in one line naming
where it was read, the character's kind and position: never the credential or any part of it.

Sent as it was, it failed in ``requests`` or ``http.client`` with an error repeating the whole
``Authorization`` header, logged by Prefect (the audit's case: ``UnicodeEncodeError: 'latin-1' …
'Bearer pat-na1-wsSECRET888\\u200b'`` and ``InvalidHeader … 'Bearer pat-na1-ws\\nSECRET999'``)."""

from __future__ import annotations

import pytest
from prefect.blocks.system import Secret

from schemas.params import SourceCredentials
from tasks.errors import InputError, LoadError
from tasks.extract.api_credentials import constant_contact_credentials, mailchimp_api_key
from tasks.load.client import resolve_token
from tasks.secrets import CredentialMalformed, string_credential

SECRET = "pat-na1-wsSECRET888"
MAILCHIMP_KEY = "0123456789abcdef0123456789abcdef-us6"


def never_shown(message: str, *credentials: str) -> None:
    """No credential, nor any run of four of its characters, is in ``message``."""
    for credential in credentials:
        pieces = {credential[start:start + 4] for start in range(len(credential) - 3)}
        assert not {piece for piece in pieces if piece in message}, message


@pytest.mark.parametrize(
    "copied",
    [f"{SECRET}\u200b", f"\ufeff{SECRET}", f" \u200b\t{SECRET}\u2060\r\n", f"\u00a0{SECRET}\u3000"],
    ids=["zero-width space after", "byte-order mark before", "mixed around", "no-break and ideographic spaces"],
)
def test_a_credential_is_trimmed_of_the_spaces_and_invisible_characters_around_it(copied):
    assert string_credential({"WS_TOK": copied}, "WS_TOK", None, "HubSpot access token") == SECRET


@pytest.mark.parametrize(
    ("copied", "said"),
    [
        ("pat-na1-ws\u200bSECRET888", "an invisible character (U+200B) at character 11"),
        ("pat-na1-ws\nSECRET999", "a line break (U+000A) at character 11"),
        ("pat-na1-ws\x00SECRET999", "a control character (U+0000) at character 11"),
        ("pat-na1-ws SECRET999", "a space (U+0020) at character 11"),
        ("pat-na1-ws\u00a0SECRET999", "a space (U+00A0) at character 11"),
        ("pat-na1-wsSЕCRET999", "a character outside visible ASCII (a letter or sign no token is made of) at character 12"),
    ],
    ids=["zero-width space", "line break", "NUL", "space", "no-break space", "Cyrillic Е"],
)
def test_a_credential_holding_a_character_no_credential_has_is_refused_naming_where_and_which_never_what(copied, said):
    with pytest.raises(CredentialMalformed) as refused:
        string_credential({"WS_TOK": copied}, "WS_TOK", None, "HubSpot access token")

    assert str(refused.value) == (
        f"the HubSpot access token in WS_TOK holds {said}, and a HubSpot access token has only letters, digits and "
        "punctuation: something was copied with it; put it there again, copied alone"
    )
    never_shown(str(refused.value), copied, SECRET)


def test_the_hubspot_token_s_refusal_is_a_load_error_naming_the_variable(monkeypatch):
    monkeypatch.setenv("ACME_TOKEN", "pat-na1-ws\nSECRET999")

    with pytest.raises(LoadError, match="^the HubSpot access token in ACME_TOKEN holds a line break") as refused:
        resolve_token(None, "ACME_TOKEN")

    never_shown(str(refused.value), "pat-na1-ws\nSECRET999")


def test_a_token_in_a_secret_block_is_refused_naming_the_block(prefect_api_url):
    Secret(value="pat-na1-ws\u200bSECRET888").save("acme-token-with-a-pasted-space", overwrite=True)
    try:
        with pytest.raises(LoadError) as refused:
            resolve_token("acme-token-with-a-pasted-space", None)
    finally:
        Secret.delete("acme-token-with-a-pasted-space")

    assert str(refused.value).startswith(
        "the HubSpot access token in the Prefect Secret block 'acme-token-with-a-pasted-space' holds an invisible "
        "character (U+200B) at character 11, "
    )
    never_shown(str(refused.value), "pat-na1-ws\u200bSECRET888")


def test_a_mailchimp_key_is_trimmed_and_one_holding_a_line_break_refused_naming_its_variable():
    where = SourceCredentials(mailchimp_key_env="GLOBEX_MAILCHIMP_KEY")

    assert mailchimp_api_key("mailchimp://a1b2", where, {"GLOBEX_MAILCHIMP_KEY": f"\u200b{MAILCHIMP_KEY}\n"}) == MAILCHIMP_KEY
    broken = MAILCHIMP_KEY.replace("-us6", "\n-us6")
    with pytest.raises(InputError) as refused:
        mailchimp_api_key("mailchimp://a1b2", where, {"GLOBEX_MAILCHIMP_KEY": broken})

    assert str(refused.value).startswith(
        "mailchimp://a1b2: the Mailchimp API key in GLOBEX_MAILCHIMP_KEY holds a line break (U+000A) at character 33, "
    )
    never_shown(str(refused.value), broken)


def test_constant_contact_variables_are_trimmed_and_a_client_secret_holding_an_invisible_character_refused():
    where = SourceCredentials(constant_contact_env_prefix="GLOBEX_CC")
    environ = {"GLOBEX_CC_REFRESH_TOKEN": "refresh-abc123\u200b", "GLOBEX_CC_CLIENT_ID": "\ufeffclient-42"}

    found = constant_contact_credentials("constantcontact://contacts", where, environ)
    assert (found.refresh_token, found.client_id, found.client_secret) == ("refresh-abc123", "client-42", None)

    with pytest.raises(InputError) as refused:
        constant_contact_credentials("constantcontact://contacts", where, {**environ, "GLOBEX_CC_CLIENT_SECRET": "k9Zq\u200bXw7-pL2"})

    assert str(refused.value).startswith(
        "constantcontact://contacts: the Constant Contact client secret in GLOBEX_CC_CLIENT_SECRET holds an invisible "
        "character (U+200B) at character 5, "
    )
    never_shown(str(refused.value), "k9Zq\u200bXw7-pL2", "k9ZqXw7-pL2")


def test_a_constant_contact_block_s_key_holding_a_line_break_is_refused_naming_the_key_and_block(prefect_api_url):
    where = SourceCredentials(constant_contact_secret_block="globex-cc-pasted")
    Secret(value={"access_token": "eyJhbGc.eyJzdWI\n.c2ln"}).save("globex-cc-pasted", overwrite=True)
    try:
        with pytest.raises(InputError) as refused:
            constant_contact_credentials("constantcontact://contacts", where, {})
    finally:
        Secret.delete("globex-cc-pasted")

    assert str(refused.value).startswith(
        "constantcontact://contacts: the Constant Contact access token in the key access_token of the Prefect Secret "
        "block 'globex-cc-pasted' holds a line break (U+000A) at character 16, "
    )
    never_shown(str(refused.value), "eyJhbGc.eyJzdWI\n.c2ln")
