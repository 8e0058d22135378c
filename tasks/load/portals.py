"""Which HubSpot portal each account of a manifest loads into, asked of HubSpot before any runs.

DESIGN.md's consent rule: the sources of accounts merged into one portal are merged, one row
per email, the most restrictive outcome winning. Two accounts of a manifest aimed at one portal
never merge (each plans its contacts alone), so one's opt-out would not stop the other's import
of the same address as marketing. The manifest refuses two it shows to be one portal
(:func:`schemas.manifest.first_shared_portal`); two tokens kept in different places are told
apart only by HubSpot, whose account-info API says which portal each is for. A run is refused
when two accounts turn out to be one portal, or when an account's ``portal_id`` is not the one
HubSpot names for its token, before any account plans or sends anything.

An account a rerun skips counts too: the portal its finished run loaded into (its report.json's
``load.portal_id``) holds its contacts whether or not its token can be asked now, and another
account's import there would not merge with them. An account is kept apart in that portal and
in the one its token is for now (what a run of it would load into), when the two differ.

The question is cheap and optional: an account it cannot ask about is left to its own run, which
asks again with the load's full timeouts and retries. So it is asked with short timeouts and one
retry, on daemon threads the interrupted main thread does not wait for: a portal that accepts a
connection and never answers holds the run for seconds, and Ctrl-C or SIGTERM stops it at once.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import NamedTuple, TypeVar

from schemas.manifest import AccountSpec, PortalSpec, manifest_line
from tasks.errors import InputError, LoadError
from tasks.load.client import HubSpotPortal, PortalDetails, resolve_token
from tasks.load.expected import ExpectedPortal, portal_refusal
from tasks.load.log import get_logger
from tasks.load.ratelimit import DailyQuotaSpent
from tasks.load.retry import http_status
from tasks.stopping import stopped_when_interrupted

T = TypeVar("T")

# Accounts asked about at once: each question is one small GET to its own portal, so many
# accounts cost about one round trip, and an unreachable portal its retries once, not in turn.
ASKED_AT_ONCE = 8
# The question's (connect, read) timeouts and attempts: HubSpot answers it in well under a
# second; a portal that has not answered in a few seconds is left to the account's own run.
ASK_TIMEOUT_SECONDS = (3.05, 5.0)
ASK_ATTEMPTS = 2
# How a portal id is known, or why none is, as the refusal and the warning say it.
SAID_BY_HUBSPOT = "HubSpot says its token is for it"
HELD_TO_ITS_PORTAL_ID = "its portal_id, which its run holds its token to"
TOKEN_READ_WHERE_IT_RUNS = "its token is read where it runs"
HUBSPOT_WILL_NOT_SAY = "HubSpot will not say which portal its token is for"
NO_ANSWER = "no answer from HubSpot for its token"
DAILY_QUOTA_SPENT = "its portal's daily HubSpot API quota is spent: the account stops at its load unless the quota has reset by then"
LOADED_BY_ITS_FINISHED_RUN = "its finished run loaded into it, as its report.json says"


@dataclass(frozen=True)
class AccountPortal:
    """The portal an account loads into, as far as it is known before the account runs.

    Attributes:
        account: The account's name.
        portal_id: The portal's id; None when nothing tells it.
        how_known: How the id is known (:data:`SAID_BY_HUBSPOT`, :data:`HELD_TO_ITS_PORTAL_ID`),
            or why it is not (:data:`NO_ANSWER`, :func:`hubspot_answer_said`,
            :func:`quota_spent_said`, or where its token was looked for and why none was read).
        disagreement: Why the run must not go on when HubSpot names another portal for the
            token than the manifest's ``portal_id`` (one line, the account named), else None.
        loaded_into: The portal its last finished run loaded into (its report.json's
            ``load.portal_id``), else None.
    """

    account: str
    portal_id: int | None
    how_known: str
    disagreement: str | None = None
    loaded_into: int | None = None

    def kept_apart_in(self) -> list[tuple[int, str]]:
        """The portals no other account may load into, each with how it is known: the one a run
        of the account loads into, and the one its finished run loaded (its contacts are there)."""
        known = [(self.portal_id, self.how_known)] if self.portal_id is not None else []
        if self.loaded_into is not None and self.loaded_into != self.portal_id:
            known.append((self.loaded_into, LOADED_BY_ITS_FINISHED_RUN))
        return known


def what_is_known(
    account: str,
    expected: ExpectedPortal | None,
    details: PortalDetails | None,
    why_unanswered: str,
) -> AccountPortal:
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
        disagreement = f"account {account}: {refusal}" if refusal else None
        return AccountPortal(account, details.portal_id, SAID_BY_HUBSPOT, disagreement)
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
    then the first account one of whose portals (:meth:`AccountPortal.kept_apart_in`) an earlier
    account's is too (its ``portal``). An account none of whose portals is known is not compared.
    """
    contradicted = next((p for p in portals if p.disagreement), None)
    if contradicted is not None:
        return RunRefusal(contradicted.account, ("portal", "portal_id"), contradicted.disagreement)
    earlier: dict[int, tuple[str, str]] = {}
    for portal in portals:
        for portal_id, how_known in portal.kept_apart_in():
            first, first_known = earlier.setdefault(portal_id, (portal.account, how_known))
            if first != portal.account:
                return RunRefusal(
                    portal.account,
                    ("portal",),
                    f"accounts {first} and {portal.account} load into one HubSpot portal, {portal_id} "
                    f"({first}: {first_known}; {portal.account}: {how_known}): list their sources under "
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
    (:attr:`HubSpotPortal.details`: the portal's rate budget, headers), with short timeouts and
    one retry or one 429 wait (:data:`ASK_TIMEOUT_SECONDS`, :data:`ASK_ATTEMPTS`), its messages naming the
    account. No token here, a token HubSpot refuses, a portal whose daily quota is spent and one
    that does not answer in time are no error: the account's own run meets them and fails alone,
    with its plan's ledger.

    Args:
        account: The account.
        runs_elsewhere: Whether it runs where this process's variables are not read (:func:`token_read_here`).
    """
    portal = account.portal
    expected = ExpectedPortal.of(portal.portal_id, portal.token_env, portal.token_secret)
    if not token_read_here(portal, runs_elsewhere):
        return what_is_known(account.name, expected, None, TOKEN_READ_WHERE_IT_RUNS)
    try:
        token = resolve_token(portal.token_secret, portal.token_env)
    except LoadError as missing:
        # Why the portal is not known: where the token was looked for (HubSpot was asked nothing).
        return what_is_known(account.name, expected, None, str(missing))
    hubspot = HubSpotPortal(portal.url, token, timeout=ASK_TIMEOUT_SECONDS, attempts=ASK_ATTEMPTS, asked_for=f"account {account.name}")
    try:
        details = hubspot.details
    except DailyQuotaSpent as spent:
        # HubSpot answered: not "no answer", and the account's own load will meet the same 429.
        return what_is_known(account.name, expected, None, quota_spent_said(spent))
    except LoadError as unanswered:
        return what_is_known(account.name, expected, None, hubspot_answer_said(unanswered, portal.token_location()))
    finally:
        hubspot.session.close()
    return what_is_known(account.name, expected, details, HUBSPOT_WILL_NOT_SAY)


def hubspot_answer_said(error: LoadError, token_location: str) -> str:
    """Why an account's portal is not known when its question failed, as the warning says it:
    what HubSpot answered (a 401 refusing the token, named by where the manifest says it is), or
    :data:`NO_ANSWER` when it did not answer at all.

    Args:
        error: Why the question failed; an answer's error is its cause (``call_with_retries``).
        token_location: Where the manifest says the token is (``token_env ACME_TOKEN``): names only.
    """
    status = http_status(error.__cause__)
    if status is None:
        return NO_ANSWER
    if status == 401:
        return f"HubSpot refused its token, {token_location} (401): its run fails unless the token is replaced"
    return f"HubSpot answered {status} for its token, {token_location}"


def quota_spent_said(spent: DailyQuotaSpent) -> str:
    """Why an account's portal is not known when HubSpot answered its question 429 ``DAILY``, as
    the warning says it: the quota is spent, the account's load stops unless it resets, and when
    it does (:attr:`DailyQuotaSpent.resume_by`)."""
    return f"{DAILY_QUOTA_SPENT}: it resets by {spent.resume_by:%Y-%m-%d %H:%M} UTC"


def on_a_daemon_thread(work: Callable[[], T], room: threading.Semaphore | None = None, name: str = "onramp-portal-id") -> Future[T]:
    """Run ``work`` on a daemon thread named ``name`` once ``room`` (if any) lets it, in a copy of
    this context (the run's settings, its Prefect API and logger live in context variables): its
    future, whose ``result()`` an interruption of the main thread ends. Unlike an executor's
    thread, the process does not wait for it to exit: a request in flight is left to its timeout."""
    answer: Future[T] = Future()
    in_this_context = contextvars.copy_context()

    def run() -> None:
        with room or contextlib.nullcontext():
            try:
                answer.set_result(in_this_context.run(work))
            except BaseException as error:  # noqa: BLE001 - handed to the waiting thread, which raises it
                answer.set_exception(error)

    threading.Thread(target=run, name=name, daemon=True).start()
    return answer


def asked_at_once(accounts: Sequence[AccountSpec], runs_elsewhere: bool, loaded_into: Mapping[str, int]) -> list[AccountPortal]:
    """Every account's portal (:func:`ask_account_portal`), :data:`ASKED_AT_ONCE` at a time, with
    the portal its last finished run loaded into (``loaded_into``, by account name).

    Raises:
        KeyboardInterrupt: Ctrl-C (or Prefect's SIGTERM) while waiting: the questions' waits
            end (``tasks.stopping``) and no new one starts.
    """
    room = threading.Semaphore(ASKED_AT_ONCE)
    # Entered before the first question starts: a Ctrl-C that lands as soon as one is asked must
    # still tell it to stop.
    with stopped_when_interrupted():
        questions = [
            on_a_daemon_thread(
                lambda account=account: replace(
                    ask_account_portal(account, runs_elsewhere), loaded_into=loaded_into.get(account.name)
                ),
                room,
            )
            for account in accounts
        ]
        return [question.result() for question in questions]


def check_one_portal_each(
    manifest: str, accounts: Sequence[AccountSpec], runs_elsewhere: bool, loaded_into: Mapping[str, int] | None = None
) -> None:
    """Refuse a run whose accounts HubSpot shows to share a portal, or to be another portal than
    their ``portal_id``; warn of the accounts whose portal cannot be known before they run.

    Args:
        manifest: The manifest's location, named in the refusal with the line to blame.
        accounts: Every account of the manifest, in its order, finished ones too: a portal they
            loaded keeps their contacts, which another account's import would not merge with.
        runs_elsewhere: Whether the accounts run on a deployment's workers or a Dask cluster
            of their own (:func:`token_read_here`).
        loaded_into: The portal each account's last finished run loaded into, by account name,
            as its report records it (accounts with none left out).

    Raises:
        InputError: One line naming the manifest's line of the second account's ``portal``,
            both accounts and the portal id, or that of the ``portal_id`` HubSpot contradicts
            and its account; never a token.
    """
    portals = asked_at_once(accounts, runs_elsewhere, loaded_into or {})
    refusal = run_refusal(portals)
    if refusal:
        entry = next(index for index, account in enumerate(accounts) if account.name == refusal.account)
        raise InputError(manifest, refusal.reason, line=manifest_line(manifest, ("accounts", entry, *refusal.key)))
    unknown = [p for p in portals if p.portal_id is None]
    if unknown and len(portals) > 1:
        get_logger().warning(
            "which portal these accounts load into is not known before they run, so they are not compared with the "
            "others': %s; give each its portal_id in the manifest",
            "; ".join(unknown_portal(p) for p in unknown),
        )


def unknown_portal(portal: AccountPortal) -> str:
    """An account whose token's portal is not known, as the warning names it: why, and the portal
    its finished run loaded into, which is compared all the same."""
    loaded = f"; portal {portal.loaded_into}, which its finished run loaded into, is compared" if portal.loaded_into is not None else ""
    return f"{portal.account} ({portal.how_known}{loaded})"
