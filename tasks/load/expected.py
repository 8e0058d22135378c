"""The portal a run was told to load into, checked against the one its token is for.

An agency holding many clients' tokens (one environment variable or Secret block per account
in a manifest, or several variables in one shell) can point a run at another client's token:
the token works, and the load would write one client's contacts into another's portal. A run
given the portal id it must load into (``--portal-id``, a manifest account's
``portal.portal_id``) stops before it sends or reads anything when HubSpot's account-info API
says the token is for another portal, or will not say which (the check cannot be made).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from tasks.errors import LoadError
from tasks.load.client import HubSpotPortal, PortalDetails, token_places
from tasks.secrets import trimmed_credential

# Where a run's expected portal id comes from, as the person who gave it would look for it.
_GIVEN_BY = "the run's portal id (--portal-id, or portal_id in the manifest)"


@dataclass(frozen=True)
class ExpectedPortal:
    """The portal a run must load into, and where its token was read (named in a refusal).

    Attributes:
        portal_id: The HubSpot portal id (Hub ID) the run was given.
        token_location: Where the token was read, never the token: an environment variable's
            name, or ``Prefect Secret block '<name>'``.
    """

    portal_id: int
    token_location: str

    @classmethod
    def of(
        cls,
        portal_id: int | None,
        token_env: str | None,
        token_secret_block: str | None,
        environ: Mapping[str, str] = os.environ,
    ) -> ExpectedPortal | None:
        """The expectation of a run's parameters, its token located as ``resolve_token`` finds it
        (the Secret block when one is named, else the variable when it holds a token, else the
        default block where ``token_places`` reads it: after ``HUBSPOT_ACCESS_TOKEN`` only).

        Args:
            portal_id: The portal id the run was given; None when it was given none.
            token_env: The environment variable the token is read from when no block is named
                (None: none).
            token_secret_block: The Secret block the token is read from alone (None: the
                variable, then for ``HUBSPOT_ACCESS_TOKEN`` the default block).
            environ: The environment the token is read from.

        Returns:
            The expectation, or None when no portal id was given (nothing is checked).
        """
        if portal_id is None:
            return None
        variable, block = token_places(token_secret_block, token_env)
        if variable and trimmed_credential(environ.get(variable, "")):
            return cls(portal_id, variable)
        return cls(portal_id, f"Prefect Secret block {block!r}" if block else variable)


def portal_refusal(details: PortalDetails | None, expected: ExpectedPortal) -> str | None:
    """Why a run expecting a portal must not go on with a token for ``details``.

    Args:
        details: Which portal the token is for, as HubSpot says (None: HubSpot would not say).
        expected: The portal the run must load into.

    Returns:
        One line saying why, never the token; None when the token is for the expected portal.
    """
    if details is None:
        return (
            f"HubSpot will not say which portal the token ({expected.token_location}) is for (403 from its "
            f"account-info API: the app lacks the oauth scope), so it cannot be checked against portal "
            f"{expected.portal_id}: give the token's app the oauth scope, or drop {_GIVEN_BY}: nothing was sent"
        )
    if details.portal_id != expected.portal_id:
        return (
            f"the token ({expected.token_location}) is for {details}, not portal {expected.portal_id} as "
            f"{_GIVEN_BY} says: nothing was sent"
        )
    return None


def check_expected_portal(portal: HubSpotPortal, expected: ExpectedPortal | None) -> None:
    """Stop unless ``portal``'s token is for the expected portal; call it before anything is sent.

    Asks HubSpot which portal the token is for (``portal.details``, once per connection) only
    when a portal is expected.

    Args:
        portal: Where the run loads.
        expected: The portal it must load into; None checks nothing.

    Raises:
        LoadError: The token is for another portal, or HubSpot will not say which.
    """
    if expected is None:
        return
    refusal = portal_refusal(portal.details, expected)
    if refusal is not None:
        raise LoadError(refusal)
