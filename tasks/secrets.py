"""Reading (and, for a refreshed token, writing) a credential in a Prefect Secret block.

One helper for every credential Onramp reads from Prefect (the HubSpot token, the provider API
sources' keys and tokens), so each says the same thing when a block is missing and none ever
repeats what a block holds.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from schemas.contact import INVISIBLE_CHARACTERS

BLOCK_NAME = re.compile(r"^[a-z0-9-]+$")
"""What Prefect accepts as a block document's name (``prefect.types.names.BlockDocumentName``:
lowercase letters, digits and dashes): a name outside it names no block that can exist."""

CREDENTIAL_SHAPES = {
    "a HubSpot private-app token": re.compile(r"^pat-[a-z]{2,4}\d*-", re.IGNORECASE),
    "a UUID (HubSpot's keys and token bodies)": re.compile(r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}", re.IGNORECASE),
    "a Mailchimp API key": re.compile(r"[0-9a-f]{32}-[a-z]{2}\d+", re.IGNORECASE),
    "a JWT (an OAuth2 access token)": re.compile(r"^eyJ[\w-]*\.[\w-]*\.?"),
    "a long run of hex digits": re.compile(r"[0-9a-f]{24}", re.IGNORECASE),
    # A random token's segment of 20 or more switches between letters and digits again and
    # again; a name people give a block switches once or twice (mycompany2024hubspotkey).
    "a long mix of letters and digits": re.compile(r"(?=[a-z0-9_]{20,})(?:[a-z_]*\d+[a-z_]+){3}", re.IGNORECASE),
}
"""Shapes a credential has and a block name a person chooses does not, by what they are."""


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


def looks_like_a_credential(value: str) -> bool:
    """Whether ``value``, given where a Secret block's name belongs, looks like a credential
    itself (a token or key typed in place of the block's name), so no message may repeat it."""
    return any(shape.search(value) for shape in CREDENTIAL_SHAPES.values())


def block_name_problem(value: str) -> str | None:
    """Why ``value`` cannot be the name of a Prefect Secret block, in words that never repeat
    it (it may be a credential); None when it can be.

    Args:
        value: What was given as a block's name.
    """
    if looks_like_a_credential(value):
        return "that looks like a token, not the name of a Prefect Secret block"
    if not BLOCK_NAME.match(value):
        return "not the name of a Prefect Secret block (block names are lowercase letters, digits and dashes)"
    return None


def shown_block_name(name: str) -> str:
    """A block's name as a message may show it: quoted, or a placeholder when it looks like a
    credential (a message is printed, logged and stored by Prefect)."""
    return "(the name given, not shown: it looks like a token)" if looks_like_a_credential(name) else repr(name)


def places_read(
    named_block: str | None, variable: str | None, default_variable: str, default_block: str
) -> tuple[str | None, str | None]:
    """Where a credential is read: the environment variable first, then the Secret block.

    A place the run names is the only place read. A block it names is read alone: a worker's or
    a shell's variable is often set for another client, and taking it over the block the run was
    given would load one client's contacts into another's portal. A variable of its own (a
    manifest account's ``token_env``, say) is read alone too: the default block follows only the
    default variable, or no variable (a run naming nothing reads ``HUBSPOT_ACCESS_TOKEN``, then
    ``hubspot-access-token``). Were the default block read for an account's own variable left
    unset, that account would load with whichever client's token the block holds.

    Args:
        named_block: The Secret block the run names (None or empty: none).
        variable: The variable read when no block is named (None or empty: none).
        default_variable: The variable a run naming nothing reads (``HUBSPOT_ACCESS_TOKEN``).
        default_block: The block a run naming nothing reads after it (``hubspot-access-token``).

    Returns:
        ``(variable, block)``: the variable's name (None when only a block is read) and the
        block's name (None when only the variable is read), in the order they are read.
    """
    if named_block:
        return None, named_block
    return variable, (default_block if not variable or variable == default_variable else None)


class CredentialUnusable(Exception):
    """No credential that can be sent where one was looked for; the message says where, never a value."""


class CredentialMissing(CredentialUnusable):
    """No credential where one was looked for; the message says where to put one, never a value."""


class CredentialMalformed(CredentialUnusable):
    """A credential holding a character no credential holds; the message says where it was read and
    which character (its kind and position), never the credential or any part of it."""


_CREDENTIAL_EDGES = re.compile(rf"^[\s{INVISIBLE_CHARACTERS}]+|[\s{INVISIBLE_CHARACTERS}]+\Z")
"""What is trimmed from around a credential: spaces, line breaks and the characters one cannot
see (``schemas.contact.INVISIBLE_CHARACTERS``), which a token copied from a web page or a
password manager carries with it."""

_VISIBLE_ASCII = re.compile(r"[!-~]*")
"""What a credential is made of: HubSpot's tokens, Mailchimp's keys and OAuth2 tokens and client
secrets are all printable ASCII without spaces. Anything else in one was pasted with it, and sent
in an HTTP header it either fails to encode or is refused by ``requests`` in an error whose
message repeats the whole header, the token with it."""


def trimmed_credential(value: str) -> str:
    """A credential without the spaces and invisible characters around it."""
    return _CREDENTIAL_EDGES.sub("", value)


def character_kind(character: str) -> str:
    """A character that has no place in a credential, named by its kind. Its code point is shown
    only for a character no credential is made of (a control, format or space character), so the
    name never repeats a part of a credential."""
    category = unicodedata.category(character)
    code = f"U+{ord(character):04X}"
    if character in "\r\n":
        return f"a line break ({code})"
    if category == "Cc":
        return f"a control character ({code})"
    if category == "Cf" or character in INVISIBLE_CHARACTERS:
        return f"an invisible character ({code})"
    if category.startswith("Z"):
        return f"a space ({code})"
    return "a character outside visible ASCII (a letter or sign no token is made of)"


def credential_character_problem(value: str) -> str | None:
    """What in a (trimmed) credential no credential holds, as a message may say it: the first such
    character's kind and 1-based position, never the character's neighbours; None when every
    character is visible ASCII."""
    visible = _VISIBLE_ASCII.match(value).end()
    if visible == len(value):
        return None
    return f"{character_kind(value[visible])} at character {visible + 1}"


def usable_credential(value: str, what: str, origin: str) -> str:
    """A credential as it is sent: trimmed of spaces and invisible characters around it, and
    refused when it holds any other character than visible ASCII.

    Args:
        value: The credential as read.
        what: Its name for messages (``HubSpot access token``).
        origin: Where it was read, names only (``WS_TOK``, ``the Prefect Secret block 'x'``).

    Raises:
        CredentialMalformed: It holds a character outside visible ASCII (one line naming
            ``origin``, the character's kind and its position; never the credential).
    """
    trimmed = trimmed_credential(value)
    problem = credential_character_problem(trimmed)
    if problem:
        raise CredentialMalformed(
            f"the {what} in {origin} holds {problem}, and a {what} has only letters, digits and "
            "punctuation: something was copied with it; put it there again, copied alone"
        )
    return trimmed


def string_credential(environ: Mapping[str, str], variable: str | None, block: str | None, what: str) -> str:
    """A credential held as one string: the environment variable when it holds one, else the block.

    Args:
        environ: The environment to read.
        variable: The variable to read first; None reads only the block (a block named for one
            account must never be overridden by a variable set for another).
        block: The Prefect Secret block to read otherwise; None reads only the variable (an
            account's own variable must never be stood in for by a block holding another's
            credential: :func:`places_read`).
        what: The credential's name for messages (``HubSpot access token``).

    Returns:
        The credential, trimmed of the spaces and invisible characters around it
        (:func:`usable_credential`).

    Raises:
        CredentialMissing: No place read holds a non-empty string (one line naming each).
        CredentialMalformed: The place read holds one with a character outside visible ASCII
            (one line naming the place, never the value).
    """
    value = trimmed_credential(environ.get(variable, "")) if variable else ""
    if value:
        return usable_credential(value, what, variable)
    if block is None:
        raise CredentialMissing(f"no {what}: set {variable}")
    asked = f"set {variable} or create" if variable else "create"
    try:
        held = read_secret_block(block)
    except SecretUnavailable as error:
        raise CredentialMissing(f"no {what}: {asked} a Prefect Secret block named {shown_block_name(block)} ({error})") from None
    value = trimmed_credential(held) if isinstance(held, str) else ""
    if not value:
        raise CredentialMissing(f"the Prefect Secret block {shown_block_name(block)} holds no {what} (a string)")
    return usable_credential(value, what, f"the Prefect Secret block {shown_block_name(block)}")
