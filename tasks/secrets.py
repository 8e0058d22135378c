"""Reading (and, for a refreshed token, writing) a credential in a Prefect Secret block.

One helper for every credential Onramp reads from Prefect (the HubSpot token, the provider API
sources' keys and tokens), so each says the same thing when a block is missing and none ever
repeats what a block holds.
"""

from __future__ import annotations


class SecretUnavailable(Exception):
    """A Secret block that cannot be read; the message names the cause, never a value."""


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
        raise SecretUnavailable(f"{type(error).__name__} reading the block") from None


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
