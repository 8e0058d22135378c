"""A connection to one HubSpot portal, and where its access token comes from."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from hubspot import HubSpot
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from tasks.errors import LoadError
from tasks.load import settings
from tasks.load.log import get_logger
from tasks.load.ratelimit import ImportLog, RateBudget, budget_key, portal_key
from tasks.load.retry import HttpError, Unreachable, call_with_retries, http_status
from tasks.secrets import CredentialUnusable, places_read, shown_block_name, string_credential, trimmed_credential

# HubSpot's account-info API: which portal a token is for (scope ``oauth``, which every token
# has). The SDK has no module for it.
ACCOUNT_INFO_PATH = "/account-info/v3/details"


def token_places(secret_block: str | None, env_var: str | None) -> tuple[str | None, str | None]:
    """Where a run's HubSpot token is read (:func:`tasks.secrets.places_read` with HubSpot's
    default variable and block): the variable and the Secret block, either None."""
    return places_read(secret_block, env_var, settings.TOKEN_ENV_VAR, settings.DEFAULT_SECRET_BLOCK)


def resolve_token(secret_block: str | None = None, env_var: str | None = settings.TOKEN_ENV_VAR) -> str:
    """Find the HubSpot access token where the run says it is, else where a run naming nothing finds it.

    A place the run names is the only place read (:func:`tasks.secrets.places_read`): the Secret
    block named, or a variable of its own (a manifest account's ``token_env``), whose being unset
    is an error naming it, never a fall back to the default block, which may hold another
    client's token. A run naming neither reads ``HUBSPOT_ACCESS_TOKEN``, then the default block.

    Args:
        secret_block: Name of the Prefect ``Secret`` block holding the token: when given, the
            only place it is read. None reads ``env_var``.
        env_var: The environment variable holding the token when no block is named (one per
            account in a multi-account run): a variable other than ``HUBSPOT_ACCESS_TOKEN`` is
            the only place read; ``HUBSPOT_ACCESS_TOKEN`` (the default) or None is followed by
            ``settings.DEFAULT_SECRET_BLOCK``.

    Returns:
        The token.

    Raises:
        LoadError: No token where it is read (the message names the variable and the block read),
            or one holding a character outside visible ASCII (the message names where it was
            read and the character's kind and position, never the token).
    """
    variable, block = token_places(secret_block, env_var)
    try:
        return string_credential(os.environ, variable, block, "HubSpot access token")
    except CredentialUnusable as error:
        raise LoadError(str(error)) from None


def token_read_from(secret_block: str | None, env_var: str | None, environ: Mapping[str, str] = os.environ) -> str:
    """Where :func:`resolve_token` reads the token, named for messages (never the token): the
    variable when it holds one, else the Secret block (``the Prefect Secret block 'name'``)."""
    variable, block = token_places(secret_block, env_var)
    if variable and (trimmed_credential(environ.get(variable, "")) or block is None):
        return variable
    return f"the Prefect Secret block {shown_block_name(block)}"


@dataclass(frozen=True)
class PortalDetails:
    """Which HubSpot account a token is for, as HubSpot's account-info API says.

    Attributes:
        portal_id: The account's id (HubSpot's "Hub ID"): the same whichever token asks.
        account_type: ``STANDARD``, ``SANDBOX``, ``DEVELOPER_TEST`` or ``APP_DEVELOPER``.
        time_zone: The account's time zone (e.g. ``US/Eastern``).
    """

    portal_id: int
    account_type: str
    time_zone: str

    def __str__(self) -> str:
        return f"HubSpot portal {self.portal_id} ({self.account_type})"


class HubSpotPortal:
    """One HubSpot portal as the load talks to it.

    Holds a hubspot-api-client ``HubSpot`` for the endpoints the SDK wraps and a
    ``requests.Session`` for those SDK 12.0.0 does not (communication preferences v4, account
    information), both sending through :func:`tasks.load.retry.call_with_retries` with the
    portal's shared :class:`~tasks.load.ratelimit.RateBudget`. The token lives only inside those
    two clients: ``repr`` shows the URL. Which portal the token is for is asked of HubSpot once
    (:attr:`details`). Safe to use from several threads at once.

    Args:
        portal_url: Base URL of the portal's API (``https://api.hubapi.com``, or an emulator).
        token: A private-app access token (or service key).
        budget: The rate budget; by default the one every thread and process of this machine
            shares for this portal and token (``RateBudget.for_portal``).
        timeout: Each request's (connect, read) timeouts in seconds; the load's by default.
        attempts: How many attempts a request that keeps failing transiently (a timeout, a 5xx)
            or answered 429 gets; None leaves the bounds to ``call_with_retries``
            (``settings.MAX_ATTEMPTS``, ``settings.MAX_RATE_LIMIT_WAITS``). A quick question whose
            answer is optional asks with short ``timeout`` and few attempts.
        asked_for: Whom the requests are for (``account acme``), named before each request in
            the messages of its retries and failures; None names none.
        token_location: Where the token was read (:func:`token_read_from`: names only), named
            when HubSpot refuses it (401), so the person knows which token to replace; None
            names none.

    Attributes:
        url: The base URL, without a trailing slash.
        identity: The portal and app as a hash of the URL and the token (never the token):
            what a load's saved state was bound to before :attr:`details`, and still is when
            HubSpot will not say which portal the token is for (``tasks.load.resume.claim_state``).
        sdk: The hubspot-api-client client.
        session: The ``requests`` session, authorised.
        budget: The rate budget.
        batch_opt_outs_allowed: Whether the batch ``unsubscribe-all`` endpoint is open to this
            token (it needs Marketing Hub Enterprise); ``None`` until the first try says.
        imports_log: The imports Onramp created in the portal over the last 24 hours
            (:class:`~tasks.load.ratelimit.ImportLog`).
        guard: Called before each request, to stop the load by raising: a run sets it to its
            output's hold (``tasks.load.lease.LeaseHold.check``), so a load whose output another
            run took over sends nothing more.
    """

    def __init__(
        self,
        portal_url: str,
        token: str,
        *,
        budget: RateBudget | None = None,
        timeout: tuple[float, float] = settings.REQUEST_TIMEOUT_SECONDS,
        attempts: int | None = None,
        asked_for: str | None = None,
        token_location: str | None = None,
    ) -> None:
        if not token:
            raise LoadError("no HubSpot access token given")
        self.url = portal_url.rstrip("/")
        self.timeout = timeout
        self.attempts = attempts
        self.asked_for = asked_for
        self.token_location = token_location
        # What saved state knows the portal by: its URL says little (a sandbox and production
        # are both api.hubapi.com), its token says which portal and app; hashed, never kept.
        self.identity = budget_key(self.url, token)
        self.budget = budget or RateBudget.for_portal(self.url, token)
        # The SDK's urllib3 retries are switched off (total=0): retries happen in one place,
        # call_with_retries, which knows a DAILY 429 from a TEN_SECONDLY one. ``host`` points
        # the generated API classes at the portal, ``base_url`` does the same for api_request.
        self.sdk = HubSpot(
            access_token=token,
            host=self.url,
            base_url=self.url,
            retry=Retry(total=0, raise_on_status=False),
        )
        self.session = requests.Session()
        # A kept-alive connection for every request the load can have out at once.
        keep_alive = HTTPAdapter(pool_maxsize=settings.HTTP_CONNECTIONS_PER_HOST)
        self.session.mount("https://", keep_alive)
        self.session.mount("http://", keep_alive)
        self.session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})
        self.batch_opt_outs_allowed: bool | None = None
        self._details: PortalDetails | None = None
        self._details_asked = False
        self._details_lock = threading.Lock()
        self._imports_log: ImportLog | None = None
        self._imports_log_lock = threading.Lock()
        self.guard: Callable[[], None] | None = None

    def __repr__(self) -> str:
        return f"HubSpotPortal(url={self.url!r})"

    def call(
        self,
        method: Callable[..., tuple[Any, int, Any]],
        *args: Any,
        what: str,
        landed: Callable[[], Any] | None = None,
        final: Callable[[BaseException], bool] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Call an SDK ``..._with_http_info`` method with retries, throttled by the budget.

        The ``_with_http_info`` variants return the response headers too, which is how the
        rate budget learns what is left.

        Args:
            method: e.g. ``portal.sdk.crm.imports.core_api.get_by_id_with_http_info``.
            *args: Its positional arguments.
            what: The request as ``METHOD /path`` for messages.
            landed: For a write that is not safe to repeat, what finds it applied after an
                answer was lost (``call_with_retries``).
            final: Which error answers are the caller's as they come: raised to it as an
                :class:`HttpError`, not retried (``call_with_retries``).
            **kwargs: Its keyword arguments.

        Returns:
            The deserialised response, or what ``landed`` found.

        Raises:
            HttpError: An answer ``final`` picked, or one ``call_with_retries`` raises.
        """
        what = self._named(what)

        def send() -> tuple[Any, Any]:
            data, _status, headers = method(*args, _request_timeout=self.timeout, **kwargs)
            return data, headers

        return self._sent(send, what, landed, final)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        landed: Callable[[], Any] | None = None,
    ) -> Any:
        """Send a JSON request through the session, with retries, throttled by the budget.

        Args:
            method: HTTP method.
            path: Path below the portal URL, already URL-quoted.
            params: Query parameters.
            json: JSON body.
            landed: For a write that is not safe to repeat, what finds it applied after an
                answer was lost (``call_with_retries``).

        Returns:
            The parsed JSON response, or ``None`` for an empty body; or what ``landed`` found.

        Raises:
            HttpError: A non-retryable error response (see ``call_with_retries``).
        """
        what = self._named(f"{method} {path}")

        def send() -> tuple[Any, Any]:
            response = self.session.request(
                method, self.url + path, params=params, json=json, timeout=self.timeout
            )
            if not response.ok:
                raise HttpError(response.status_code, response.content, response.headers, what)
            return (response.json() if response.content else None), response.headers

        return self._sent(send, what, landed)

    def _named(self, what: str) -> str:
        """The request as messages say it: after whom it is for, if the portal was given that."""
        return f"{self.asked_for}: {what}" if self.asked_for else what

    def _sent(
        self,
        send: Callable[[], tuple[Any, Any]],
        what: str,
        landed: Callable[[], Any] | None,
        final: Callable[[BaseException], bool] | None = None,
    ) -> Any:
        """``call_with_retries`` with the portal's own bound on attempts, if any, and a portal that
        never answered named by its URL (a wrong ``--portal-url`` or no network), which the
        request alone does not say; not sent when :attr:`guard` raises."""
        if self.guard is not None:
            self.guard()
        try:
            return call_with_retries(
                send, budget=self.budget, what=what, landed=landed, max_attempts=self.attempts, final=final
            )
        except Unreachable as error:
            raise LoadError(
                f"cannot reach {self.url}: {error.reason} ({error.what}, {error.attempts} attempts); "
                "check the portal URL and the network"
            ) from error
        except LoadError as error:
            if self.token_location is None or http_status(error.__cause__) != 401:
                raise
            raise LoadError(f"{error} (the token read from {self.token_location})") from error.__cause__

    @property
    def details(self) -> PortalDetails | None:
        """Which portal the token is for, asked of HubSpot on first use and kept.

        ``GET /account-info/v3/details``, sent like every other request (budget, retries). A
        403 (an app without the ``oauth`` scope) is not an error: the answer is ``None``, and
        one warning says that the load's state stays bound to the token.

        Raises:
            LoadError: The token was refused (401), the daily quota is spent, HubSpot kept
                failing, or it refused the request for another reason.
        """
        with self._details_lock:
            if not self._details_asked:
                self._details = self._ask_details()
                self._details_asked = True
                if self._details is not None:
                    self.budget.time_zone = self._details.time_zone
            return self._details

    @property
    def imports_log(self) -> ImportLog:
        """The imports Onramp created in this portal over the last 24 hours, kept where the
        rate budget is: by portal id when HubSpot says which portal the token is for (HubSpot
        counts a portal's imports whatever app makes them), else by URL and token."""
        with self._imports_log_lock:
            if self._imports_log is None:
                details = self.details
                key = portal_key(self.url, details.portal_id) if details else self.identity
                self._imports_log = ImportLog(key, self.budget.path.parent)
            return self._imports_log

    def _ask_details(self) -> PortalDetails | None:
        try:
            answer = self.request("GET", ACCOUNT_INFO_PATH)
        except HttpError as error:
            if error.status == 403:
                get_logger().warning(
                    "HubSpot will not say which portal this token is for (%s answered 403: the app lacks the "
                    "oauth scope): the load's state is bound to the token instead, so a new token for this "
                    "portal will need a new state folder",
                    error.what,
                )
                return None
            raise LoadError(f"could not tell which HubSpot portal the token is for: {error}") from error
        return PortalDetails(int(answer["portalId"]), str(answer["accountType"]), str(answer["timeZone"]))

    def describe(self) -> str:
        """The portal for a log line: its id and account type, or its URL when HubSpot will not say."""
        details = self.details
        return f"{details} at {self.url}" if details else f"HubSpot at {self.url}"

    def report_fields(self) -> dict[str, Any]:
        """The portal as a report says it: ``{"portal": url, "portal_id", "account_type"}``
        (the last two None when HubSpot will not say)."""
        details = self.details
        return {
            "portal": self.url,
            "portal_id": details.portal_id if details else None,
            "account_type": details.account_type if details else None,
        }
