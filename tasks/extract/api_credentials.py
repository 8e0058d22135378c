"""Where a provider API source's credentials come from: the environment, else a Prefect Secret block.

Never the URI and never a flow parameter's value (Prefect stores parameters):
``schemas.params.SourceCredentials`` names the variables and blocks, and this module reads
them when a source is read. Per provider, a Secret block named is the only place read, and so
is a variable (a prefix) of the run's own, such as a manifest account's; the default variables
below are read first, then the default blocks (``tasks.secrets.places_read``):

- Mailchimp: ``MAILCHIMP_API_KEY``, else the block ``mailchimp-api-key`` holding the key.
- Constant Contact: ``CONSTANT_CONTACT_TOKEN`` (an access token) and/or
  ``CONSTANT_CONTACT_REFRESH_TOKEN`` with ``CONSTANT_CONTACT_CLIENT_ID`` (and
  ``CONSTANT_CONTACT_CLIENT_SECRET`` for the authorization-code flow), else the block
  ``constant-contact-credentials`` holding an access token, or a JSON object with the keys
  ``access_token``, ``refresh_token``, ``client_id``, ``client_secret``.

Tokens refreshed from a block's refresh token are saved back to the block
(``RefreshedTokens``): Constant Contact rotates refresh tokens by default, voiding the one the
block held, and the next run must start from the new one. A refresh token rotated from an
environment variable cannot be kept past the process: the run says so once, as it says once
that a block could not be written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from schemas.params import SourceCredentials
from tasks.errors import InputError
from tasks.extract.api_settings import (
    CONSTANT_CONTACT_CREDENTIAL_ENV,
    CONSTANT_CONTACT_ENV_PREFIX,
    CONSTANT_CONTACT_SECRET_BLOCK,
    MAILCHIMP_KEY_ENV,
    MAILCHIMP_SECRET_BLOCK,
)
from tasks.extract.api_helpers import run_logger
from tasks.secrets import (
    CredentialMalformed,
    CredentialUnusable,
    SecretUnavailable,
    places_read,
    read_secret_block,
    save_secret_block,
    string_credential,
    usable_credential,
)

_REFRESH_PARTS = "{refresh_token} and {client_id} (and {client_secret}, for the authorization-code flow)"
"""The credentials a refresh needs, named as where they are set (variables or a block's keys)."""


@dataclass(frozen=True)
class ConstantContactCredentials:
    """What Constant Contact is called with: an access token, or a refresh token and a client id.

    Attributes:
        access_token: An OAuth2 access token, or None to get one with the refresh token.
        refresh_token: The refresh token, or None.
        client_id: The application's client id (its API key).
        client_secret: The client secret (authorization-code flow), or None (PKCE flow).
        origin: Where they were found (names only, for messages): the refresh token's variable.
        client_origin: Where the client id and secret were found (names only): their variables,
            or the block.
        block: The Prefect Secret block they were read from, or None (the environment).
        refresh_hint: How to give what a refresh needs, where these came from (names only):
            ``set CONSTANT_CONTACT_REFRESH_TOKEN and CONSTANT_CONTACT_CLIENT_ID (…)``.
    """

    access_token: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    origin: str = ""
    client_origin: str = ""
    block: str | None = None
    refresh_hint: str = ""


def mailchimp_api_key(source: str, where: SourceCredentials, environ: Mapping[str, str]) -> str:
    """The Mailchimp API key: from the Secret block or the variable the run names, alone; a run
    naming neither reads ``MAILCHIMP_API_KEY``, then the default block (``places_read``).

    Raises:
        InputError: Neither holds a key (one line naming both).
    """
    variable, block = places_read(where.mailchimp_secret_block, where.mailchimp_key_env,
                                  MAILCHIMP_KEY_ENV, MAILCHIMP_SECRET_BLOCK)
    try:
        return string_credential(environ, variable, block, "Mailchimp API key")
    except CredentialUnusable as error:
        raise InputError(source, str(error)) from None


def constant_contact_credentials(
    source: str, where: SourceCredentials, environ: Mapping[str, str]
) -> ConstantContactCredentials:
    """Constant Contact's credentials: from the Secret block or the ``<prefix>_*`` variables the
    run names, alone; a run naming neither reads ``CONSTANT_CONTACT_*``, then the default block
    (``places_read``).

    Raises:
        InputError: Neither holds a token, or a refresh token comes without its client id.
    """
    prefix, block = places_read(where.constant_contact_secret_block, where.constant_contact_env_prefix,
                                CONSTANT_CONTACT_ENV_PREFIX, CONSTANT_CONTACT_SECRET_BLOCK)
    if prefix:
        names = {key: f"{prefix}_{suffix}" for key, suffix in CONSTANT_CONTACT_CREDENTIAL_ENV.items()}
        found = _usable(source, {key: (environ.get(name, ""), name) for key, name in names.items()})
        if found["access_token"] or found["refresh_token"]:
            hint = "set " + _REFRESH_PARTS.format(**names)
            client = names["client_id"] + (f" and {names['client_secret']}" if found["client_secret"] else "")
            credentials = ConstantContactCredentials(**found, origin=names["refresh_token"], client_origin=client, refresh_hint=hint)
            return _checked(source, credentials, names["client_id"])
        wanted = f"set {names['access_token']} (or {names['refresh_token']} and {names['client_id']})"
        if block is None:
            raise InputError(source, f"no Constant Contact credentials: {wanted}")
        asked = f"{wanted} or create"
    else:
        asked = "create"
    value = _read_block(source, block, f"no Constant Contact credentials: {asked} a Prefect Secret block named {block!r}")
    origin = f"the Prefect Secret block {block!r}"
    block_keys = {key: key for key in CONSTANT_CONTACT_CREDENTIAL_ENV}
    hint = f"store a JSON object of {_REFRESH_PARTS.format(**block_keys)} in {origin}"
    if isinstance(value, str):
        access_token = _usable(source, {"access_token": (value, origin)})["access_token"]
        credentials = ConstantContactCredentials(access_token=access_token, origin=origin, refresh_hint=hint)
    elif isinstance(value, Mapping) and set(value) <= set(CONSTANT_CONTACT_CREDENTIAL_ENV):
        read = {key: (str(value.get(key) or ""), f"the key {key} of {origin}") for key in CONSTANT_CONTACT_CREDENTIAL_ENV}
        found = _usable(source, read)
        credentials = ConstantContactCredentials(**found, origin=origin, block=block, refresh_hint=hint)
    else:
        keys = ", ".join(CONSTANT_CONTACT_CREDENTIAL_ENV)
        raise InputError(source, f"the Prefect Secret block {block!r} holds neither an access token nor a JSON object of {keys}")
    if not (credentials.access_token or credentials.refresh_token):
        raise InputError(source, f"the Prefect Secret block {block!r} holds no access_token or refresh_token")
    return _checked(source, credentials, f"client_id in the Prefect Secret block {block!r}")


class RefreshedTokens:
    """Keeps newly issued tokens where the next run reads them, or says once that it cannot.

    From a Secret block, each new pair is saved back to it; a failed write is a warning (once,
    without any token), not an error: this run goes on with the tokens in memory, the next one
    starts from what the block still holds. From environment variables, a rotated refresh token
    (the one configured is void once refreshed) can only live in this process: a warning says
    once that the variable must be updated. Called by ``RefreshingBearerAuth`` with each new
    access token and the refresh token then in force.

    Args:
        credentials: The credentials the tokens were refreshed from.
    """

    def __init__(self, credentials: ConstantContactCredentials) -> None:
        self._credentials = credentials
        # Made in the run's thread: the refresh may come from another.
        self._log = run_logger()
        self._warned = False

    def __call__(self, access_token: str, refresh_token: str) -> None:
        credentials = self._credentials
        if credentials.block is not None:
            self._save(credentials.block, access_token, refresh_token)
        elif refresh_token != credentials.refresh_token:
            self._warn_once(
                "Constant Contact rotated the refresh token given in %s: the old one no longer works and the new one "
                "lasts only until this command ends; before the next run, authorise the application again and set %s, "
                "or keep the credentials in a Prefect Secret block (--constant-contact-secret), which Onramp keeps up to date",
                credentials.origin,
                credentials.origin,
            )

    def _save(self, block: str, access_token: str, refresh_token: str) -> None:
        fields = {key: value for key, value in asdict(self._credentials).items() if key in CONSTANT_CONTACT_CREDENTIAL_ENV and value}
        try:
            save_secret_block(block, {**fields, "access_token": access_token, "refresh_token": refresh_token})
        except SecretUnavailable as error:
            self._warn_once(
                "Constant Contact issued a new refresh token that could not be saved to the Prefect Secret block %r (%s): "
                "the next run may need the application authorised again",
                block,
                error,
            )

    def _warn_once(self, message: str, *args: object) -> None:
        if not self._warned:
            self._warned = True
            self._log.warning(message, *args)


def _usable(source: str, read: Mapping[str, tuple[str, str]]) -> dict[str, str | None]:
    """Constant Contact's credentials as they are sent (``tasks.secrets.usable_credential``), each
    None when empty, from each one's value and where it was read (names only), by key.

    Raises:
        InputError: One holds a character outside visible ASCII (one line naming where it was
            read, the character's kind and position; never the credential).
    """
    try:
        return {
            key: usable_credential(value, f"Constant Contact {key.replace('_', ' ')}", origin) or None
            for key, (value, origin) in read.items()
        }
    except CredentialMalformed as error:
        raise InputError(source, str(error)) from None


def _checked(source: str, credentials: ConstantContactCredentials, client_id_name: str) -> ConstantContactCredentials:
    if credentials.refresh_token and not credentials.client_id:
        raise InputError(source, f"a Constant Contact refresh token needs the application's client id: set {client_id_name}")
    return credentials


def _read_block(source: str, block: str, missing: str) -> object:
    try:
        return read_secret_block(block)
    except SecretUnavailable as error:
        raise InputError(source, f"{missing} ({error})") from None
