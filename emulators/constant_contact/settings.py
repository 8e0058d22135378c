"""The emulated Constant Contact account's settings: its tokens, its contacts and its limits."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

PERMISSIONS = ("explicit", "implicit", "not_set", "pending_confirmation", "temp_hold", "unsubscribed")
"""``email_address.permission_to_send`` values."""

STATUS_FILTERS = ("all", "active", "deleted", "not_set", "pending_confirmation", "temp_hold", "unsubscribed")
"""``GET /contacts?status=`` values."""

INCLUDES = ("custom_fields", "list_memberships", "phone_numbers", "street_addresses", "taggings", "notes")
"""Sub-resources ``include=`` may add to each contact."""

MIN_LIMIT = 1
MAX_LIMIT = 500
DEFAULT_LIMIT = 50


@dataclass
class ConstantContactSettings:
    """How the emulated account behaves.

    Attributes:
        token: The OAuth2 access token clients must send as ``Authorization: Bearer``.
        contacts: How many contacts the account is seeded with.
        seed: Seed of the generated contacts.
        permission_shares: Share of each ``permission_to_send`` among them.
        deleted_share: Share of seeded contacts that are deleted.
        requests_per_second: Requests allowed in any one throttle window (429 ``throttled`` beyond).
        throttle_window_seconds: The window of ``requests_per_second`` (1 s, as Constant
            Contact's; tests widen it so that "too many at once" does not depend on speed).
        daily_quota: Requests allowed in the day (429 ``quota_exceeded`` beyond).
        client_id: The application's client id (its API key), for the token endpoint.
        client_secret: Its client secret (HTTP Basic on the token endpoint), or None for a
            public client (PKCE flow: ``client_id`` in the form).
        refresh_token: The refresh token the account was authorised with.
        rotate_refresh_tokens: Each refresh issues a new refresh token and voids the old one
            (Constant Contact's default); False for long-lived refresh tokens.
        access_token_lifetime_seconds: How long an access token lasts (24 h, as Constant Contact's).
        access_token_lifetime_requests: How many requests an access token admits, or None for
            no limit: tests make a token expire mid-read without waiting for a clock.
        token_failures: How many token requests, from the first, the token endpoint answers
            ``token_failure_status`` (an authorization server briefly down), before answering
            as usual: tests check that a transient failure of a refresh is retried.
        token_failure_status: The status of those answers (503 Service Unavailable).
        removals: Contacts gone from every listing mid-read (a purge: a deleted contact stays
            listed under ``status=all``): each ``(start, index, count)`` takes ``count``
            contacts from position ``index`` just after the contacts page starting at ``start``
            is served, once; they apply in turn, each at the next serving of its page.
    """

    token: str = "emulator-access-token"
    contacts: int = 1200
    seed: int = 11
    permission_shares: dict[str, float] = field(
        default_factory=lambda: {
            "explicit": 0.45, "implicit": 0.2, "not_set": 0.1, "pending_confirmation": 0.07,
            "temp_hold": 0.03, "unsubscribed": 0.15,
        }
    )  # fmt: skip
    deleted_share: float = 0.03
    requests_per_second: int = 4
    throttle_window_seconds: float = 1.0
    daily_quota: int = 10_000
    client_id: str = "emulator-client-id"
    client_secret: str | None = "emulator-client-secret"
    # Random per account: a refresh token rotated by one emulator means nothing to another.
    refresh_token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    rotate_refresh_tokens: bool = True
    access_token_lifetime_seconds: float = 86_400.0
    access_token_lifetime_requests: int | None = None
    token_failures: int = 0
    token_failure_status: int = 503
    removals: list[tuple[int, int, int]] = field(default_factory=list)
