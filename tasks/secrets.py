"""Reading (and, for a refreshed token, writing) a credential in a Prefect Secret block.

One helper for every credential Onramp reads from Prefect (the HubSpot token, the provider API
sources' keys and tokens), so each says the same thing when a block is missing and none ever
repeats what a block holds.
"""

from __future__ import annotations

from collections.abc import Mapping


class SecretUnavailable(Exception):
    """A Secret block that cannot be read; the message names the cause, never a value."""


_READ_FAILURES = {ValueError: "no such block"}
"""How a failure to read a block is named, by the error Prefect raises: ``Secret.load`` raises
``ValueError`` for a name no block has; anything else (no API to ask) is named by its type."""


def read_secret_block(name: str) -> object:
    """The value a Prefect ``Secret`` block holds: a string, or a dict when it holds a JSON object.

    Args:
        name: The block's name.

    Raises:
        SecretUnavailable: No such block, or no Prefect API to ask (the message is the error's
            type: Prefect's own message may quote more than the name).
    """
    # Imported here so that credentials from the environment never need a Prefect API.
    from prefect.blocks.system import Secret

    try:
        return Secret.load(name).get()
    except Exception as error:  # noqa: BLE001 - any failure means "nothing from Prefect"
        raise SecretUnavailable(_READ_FAILURES.get(type(error), f"{type(error).__name__} reading the block")) from None


def save_secret_block(name: str, value: str | dict) -> None:
    """Write a Prefect ``Secret`` block, replacing what it held (a refreshed token, say).

    Raises:
        SecretUnavailable: The block could not be written (the message is the error's type).
    """
    from prefect.blocks.system import Secret

    try:
        Secret(value=value).save(name, overwrite=True)
    except Exception as error:  # noqa: BLE001 - any failure means "not saved"
        raise SecretUnavailable(f"{type(error).__name__} writing the block") from None


class CredentialMissing(Exception):
    """No credential where one was looked for; the message says where to put one, never a value."""


def string_credential(environ: Mapping[str, str], variable: str | None, block: str, what: str) -> str:
    """A credential held as one string: the environment variable when it holds one, else the block.

    Args:
        environ: The environment to read.
        variable: The variable to read first; None reads only the block (a block named for one
            account must never be overridden by a variable set for another).
        block: The Prefect Secret block to read otherwise.
        what: The credential's name for messages (``HubSpot access token``).

    Raises:
        CredentialMissing: Neither holds a non-empty string (one line naming both).
    """
    value = environ.get(variable, "").strip() if variable else ""
    if value:
        return value
    asked = f"set {variable} or create" if variable else "create"
    try:
        held = read_secret_block(block)
    except SecretUnavailable as error:
        raise CredentialMissing(f"no {what}: {asked} a Prefect Secret block named {block!r} ({error})") from None
    value = held.strip() if isinstance(held, str) else ""
    if not value:
        raise CredentialMissing(f"the Prefect Secret block {block!r} holds no {what} (a string)")
    return value
