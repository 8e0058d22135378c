"""Which HubSpot portal each account of a manifest loads into, asked of HubSpot before any runs.

DESIGN.md's consent rule: the sources of accounts merged into one portal are merged, one row
per email, the most restrictive outcome winning. Two accounts of a manifest aimed at one portal
never merge (each plans its contacts alone), so one's opt-out would not stop the other's import
of the same address as marketing. The manifest refuses two it shows to be one portal
(:func:`schemas.manifest.first_shared_portal`); two tokens kept in different places are told
apart only by HubSpot, whose account-info API says which portal each is for. A run is refused
when two accounts turn out to be one portal, or when an account's ``portal_id`` is not the one
HubSpot names for its token, before any account plans or sends anything.
"""

from __future__ import annotations

import contextvars
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple

from schemas.manifest import AccountSpec, PortalSpec, manifest_line
from tasks.errors import InputError, LoadError
from tasks.load.client import HubSpotPortal, PortalDetails, resolve_token
from tasks.load.expected import ExpectedPortal, portal_refusal
from tasks.load.log import get_logger

# Accounts asked about at once: each question is one small GET to its own portal, so many
# accounts cost about one round trip, and an unreachable portal its retries once, not in turn.
ASKED_AT_ONCE = 8
# How a portal id is known, or why none is, as the refusal and the warning say it.
SAID_BY_HUBSPOT = "HubSpot says its token is for it"
HELD_TO_ITS_PORTAL_ID = "its portal_id, which its run holds its token to"
TOKEN_READ_WHERE_IT_RUNS = "its token is read where it runs"
HUBSPOT_WILL_NOT_SAY = "HubSpot will not say which portal its token is for"
NO_TOKEN_HERE = "no token where the manifest says it is"
NO_ANSWER = "no answer from HubSpot for its token"


@dataclass(frozen=True)
class AccountPortal:
    """The portal an account loads into, as far as it is known before the account runs.

    Attributes:
        account: The account's name.
        portal_id: The portal's id; None when nothing tells it.
        how_known: How the id is known (:data:`SAID_BY_HUBSPOT`, :data:`HELD_TO_ITS_PORTAL_ID`),
            or why it is not.
        disagreement: Why the run must not go on when HubSpot names another portal for the
            token than the manifest's ``portal_id`` (one line, the account named), else None.
    """

    account: str
    portal_id: int | None
    how_known: str
    disagreement: str | None = None


def what_is_known(account: str, expected: ExpectedPortal | None, details: PortalDetails | None, why_unanswered: str) -> AccountPortal:
    """An account's portal from HubSpot's answer for its token and the manifest's ``portal_id``.

    HubSpot's answer decides. Without one, the manifest's ``portal_id`` stands in: the account's
    own run stops before it sends anything unless its token is for that portal
    (:func:`tasks.load.expected.check_expected_portal`).

    Args:
        account: The account's name.
        expected: Its manifest ``portal_id`` and token location (``ExpectedPortal.of``), or None.
        details: What HubSpot said of its token; None when it was not asked or did not say.
        why_unanswered: Why there are no ``details``, for when nothing else tells the id.
    """
    if details is not None:
        refusal = portal_refusal(details, expected) if expected is not None else None
        return AccountPortal(account, details.portal_id, SAID_BY_HUBSPOT, f"account {account}: {refusal}" if refusal else None)
    if expected is not None:
        return AccountPortal(account, expected.portal_id, HELD_TO_ITS_PORTAL_ID)
    return AccountPortal(account, None, why_unanswered)


class RunRefusal(NamedTuple):
    """Why a run must not start, and the manifest entry to blame.

    Attributes:
        account: The account whose entry is to blame.
        key: The part of its entry (``("portal",)``, ``("portal", "portal_id")``), whose line the
            refusal names.
        reason: One line, the accounts named.
    """

    account: str
    key: tuple[str, ...]
    reason: str


def run_refusal(portals: Sequence[AccountPortal]) -> RunRefusal | None:
    """Why a run of these accounts must not start, or None when it may.

    An account whose ``portal_id`` HubSpot contradicts comes first (its ``portal_id`` to blame);
    then the first account whose portal an earlier account loads into (its ``portal``). Accounts
    whose portal is not known are not compared.
    """
    contradicted = next((p for p in portals if p.disagreement), None)
    if contradicted is not None:
        return RunRefusal(contradicted.account, ("portal", "portal_id"), contradicted.disagreement)
    earlier: dict[int, AccountPortal] = {}
    for portal in portals:
        if portal.portal_id is None:
            continue
        first = earlier.setdefault(portal.portal_id, portal)
        if first is not portal:
            return RunRefusal(
                portal.account,
                ("portal",),
                f"accounts {first.account} and {portal.account} load into one HubSpot portal, {portal.portal_id} "
                f"({first.account}: {first.how_known}; {portal.account}: {portal.how_known}): list their sources under "
                "one account, so their contacts merge into one row per email (apart, an opt-out in one would not stop "
                "the other's import): nothing was sent",
            )
    return None


def token_read_here(portal: PortalSpec, runs_elsewhere: bool) -> bool:
    """Whether this process reads the token the account's run will read.

    A Secret block is the same wherever the run is (one Prefect API); a variable is the
    environment's of the process that runs the account: this one, or one it started (threads,
    a local Dask cluster), but not a deployment's worker or a Dask cluster of its own
    (``runs_elsewhere``), whose variable of that name may hold another token or none.
    """
    return portal.token_secret is not None or not runs_elsewhere


def ask_account_portal(account: AccountSpec, runs_elsewhere: bool) -> AccountPortal:
    """Ask HubSpot which portal the account's token is for, when this process reads that token.

    The question goes through the client every request of a load goes through
    (:attr:`HubSpotPortal.details`: the portal's rate budget, retries). No token here, a token
    HubSpot refuses and a portal that does not answer are no error: the account's own run meets
    them and fails alone, with its plan's ledger.
    """
    portal = account.portal
    expected = ExpectedPortal.of(portal.portal_id, portal.token_env, portal.token_secret)
    if not token_read_here(portal, runs_elsewhere):
        return what_is_known(account.name, expected, None, TOKEN_READ_WHERE_IT_RUNS)
    try:
        token = resolve_token(portal.token_secret, portal.token_env)
    except LoadError:
        return what_is_known(account.name, expected, None, NO_TOKEN_HERE)
    hubspot = HubSpotPortal(portal.url, token)
    try:
        details = hubspot.details
    except LoadError:
        return what_is_known(account.name, expected, None, NO_ANSWER)
    finally:
        hubspot.session.close()
    return what_is_known(account.name, expected, details, HUBSPOT_WILL_NOT_SAY)


def check_one_portal_each(manifest: str, accounts: Sequence[AccountSpec], runs_elsewhere: bool) -> None:
    """Refuse a run whose accounts HubSpot shows to share a portal, or to be another portal than
    their ``portal_id``; warn of the accounts whose portal cannot be known before they run.

    Args:
        manifest: The manifest's location, named in the refusal with the line to blame.
        accounts: Every account of the manifest, in its order, finished ones too: a portal they
            loaded keeps their contacts, which another account's import would not merge with.
        runs_elsewhere: Whether the accounts run on a deployment's workers or a Dask cluster
            of their own (:func:`token_read_here`).

    Raises:
        InputError: One line naming the manifest's line of the second account's ``portal``,
            both accounts and the portal id, or that of the ``portal_id`` HubSpot contradicts
            and its account; never a token.
    """
    with ThreadPoolExecutor(max_workers=ASKED_AT_ONCE, thread_name_prefix="onramp-portal-id") as pool:
        # Each question in a copy of this context: the run's settings (its Prefect API, where
        # Secret blocks are read) and its logger live in context variables.
        asked = [pool.submit(contextvars.copy_context().run, ask_account_portal, account, runs_elsewhere) for account in accounts]
        portals = [question.result() for question in asked]
    refusal = run_refusal(portals)
    if refusal:
        entry = next(index for index, account in enumerate(accounts) if account.name == refusal.account)
        raise InputError(manifest, refusal.reason, line=manifest_line(manifest, ("accounts", entry, *refusal.key)))
    unknown = [p for p in portals if p.portal_id is None]
    if unknown and len(portals) > 1:
        get_logger().warning(
            "which portal these accounts load into is not known before they run, so they are not compared with the "
            "others': %s; give each its portal_id in the manifest",
            "; ".join(f"{p.account} ({p.how_known})" for p in unknown),
        )
