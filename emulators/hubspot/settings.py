"""Settings of one emulated HubSpot portal.

Every knob a test, benchmark or rehearsal may turn lives here, so the emulator's behaviour is
fully described by one small value.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from emulators.hubspot.search import MAX_BODY_CHARACTERS

# Ten-second burst per app (private app token), from HubSpot's usage guidelines.
BURST_LIMITS = {
    "free": 100,
    "starter": 100,
    "professional": 190,
    "enterprise": 190,
    "api-add-on": 250,
}

# Daily request quota shared by the whole account.
DAILY_LIMITS = {
    "free": 250_000,
    "starter": 250_000,
    "professional": 625_000,
    "enterprise": 1_000_000,
    "api-add-on": 1_625_000,
}

# HubSpot's per-file import limits: 1,048,576 rows or 512 MB, whichever comes first.
MAX_IMPORT_ROWS = 1_048_576
MAX_IMPORT_BYTES = 512 * 1024 * 1024
# A multiple checkboxes property holds at most 5,000 options
# (https://knowledge.hubspot.com/account/property-field-types-in-hubspot); held for every
# enumeration here.
MAX_PROPERTY_OPTIONS = 5_000

# The account types HubSpot's account-info API names.
ACCOUNT_TYPES = ("STANDARD", "SANDBOX", "DEVELOPER_TEST", "APP_DEVELOPER")
# Every emulated portal has this id unless told otherwise: the same after a restart, as a real
# portal's is.
DEFAULT_PORTAL_ID = 123456


@dataclass(frozen=True)
class EmulatorSettings:
    """How the emulated portal behaves.

    Attributes:
        tier: HubSpot subscription tier: one of ``free``, ``starter``, ``professional``,
            ``enterprise``, ``api-add-on``. Chooses the ten-second burst limit and the default
            daily quota.
        daily_limit: requests a day for the whole portal; ``None`` takes the tier's quota.
        ten_second_limit: requests per token in any ten seconds; ``None`` takes the tier's burst
            limit (benchmarks raise it so the emulator's speed, not HubSpot's limit, is measured).
        allowed_tokens: when set, only these bearer tokens are accepted (others get 401);
            when ``None`` any non-empty token is accepted.
        batch_comm_prefs_allowed: whether the portal may use the batch communication-preferences
            endpoints (Marketing Hub Enterprise only); ``False`` answers them 403 MISSING_SCOPES.
        import_start_delay: seconds an import stays ``STARTED`` before it starts processing.
        row_delay: seconds spent on each imported row, to make imports observable in flight.
        max_concurrent_imports: imports processing at once; the rest wait as ``DEFERRED``.
        max_import_rows: data rows allowed in one import file.
        max_import_bytes: bytes allowed in one import file.
        max_imports_per_day: imports the portal may create in any 24 hours; one more is
            answered 429 (``imports.py``: HubSpot's own answer is undocumented, this one is
            assumed). ``None``, the default, does not model the limit.
        max_property_options: options one enumeration property may hold; a create or update
            with more is answered 400 ``VALIDATION_ERROR`` (tests lower it to stay small).
        search_per_second: CRM search requests allowed per second.
        max_search_body_characters: characters a CRM search request's body may have; a longer
            one is answered 400 ``VALIDATION_ERROR``: HubSpot's 3,000 by default
            (``search.MAX_BODY_CHARACTERS``); ``None`` does not hold it.
        fault_seed: seed of the fault draws, so a failing run can be replayed.
        error_rate: fraction of HubSpot requests answered with one of ``error_statuses``.
        error_statuses: statuses injected by ``error_rate`` (drawn uniformly).
        drop_rate: fraction of HubSpot requests whose connection is dropped mid-response.
        latency: seconds added before answering each HubSpot request.
        daily_quota_at: when set, the daily quota is reached at this request (counted from when
            the setting took effect): it and every later request get 429 ``DAILY``.
        state_file: when set, the portal is loaded from this file at start and kept in it
            (see ``persistence.py``).
        portal_id: the portal's id (HubSpot's "Hub ID"), as the account-info API answers it for
            every token the emulator accepts; another id makes it another portal at the same URL.
        account_type: ``STANDARD``, ``SANDBOX``, ``DEVELOPER_TEST`` or ``APP_DEVELOPER``.
        time_zone: the portal's IANA time zone; the account-info answer's UTC offset follows it.
        account_info_allowed: whether tokens may read the account-info API; ``False`` answers
            it 403 ``MISSING_SCOPES``, as HubSpot answers a token without the ``oauth`` scope.
        missing_scopes: scopes the token's app was not granted (e.g. ``crm.import``): every
            request needing one is answered 403 ``MISSING_SCOPES`` (see ``scopes.py``).
        whole_batch_email_upserts: whether a batch upsert by email with an invalid input is
            answered 400 for the whole batch (nothing written), trace ids or not, as HubSpot
            may: its contacts guide says "Partial upserts are not supported when using email as
            the idProperty", and documents 207 for batch create only. ``False`` answers 207
            per input when every input carries an ``objectWriteTraceId``.
        refused_opt_outs: addresses whose ``unsubscribe-all`` is answered 400
            ``VALIDATION_ERROR`` (a batch naming one is refused whole, nothing written), to test
            an opt-out HubSpot does not take; any case, kept lowercased.
        whole_batch_status_reads: whether a batch status read (``.../batch/read``,
            ``.../batch/unsubscribe-all/read``) naming a malformed address is answered 400 for
            the whole batch, as HubSpot might (its spec documents 207 and errors, not which);
            ``False`` answers the others and lists the malformed ones in ``errors``.
    """

    tier: str = "professional"
    daily_limit: int | None = None
    ten_second_limit: int | None = None
    allowed_tokens: frozenset[str] | None = None
    batch_comm_prefs_allowed: bool = True
    import_start_delay: float = 0.0
    row_delay: float = 0.0
    max_concurrent_imports: int = 3
    max_import_rows: int = MAX_IMPORT_ROWS
    max_import_bytes: int = MAX_IMPORT_BYTES
    max_imports_per_day: int | None = None
    max_property_options: int = MAX_PROPERTY_OPTIONS
    search_per_second: int = 5
    max_search_body_characters: int | None = MAX_BODY_CHARACTERS
    fault_seed: int = 0
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503, 504, 423)
    drop_rate: float = 0.0
    latency: float = 0.0
    daily_quota_at: int | None = None
    state_file: str | None = None
    portal_id: int = DEFAULT_PORTAL_ID
    account_type: str = "STANDARD"
    time_zone: str = "US/Eastern"
    account_info_allowed: bool = True
    missing_scopes: tuple[str, ...] = ()
    whole_batch_email_upserts: bool = False
    refused_opt_outs: tuple[str, ...] = ()
    whole_batch_status_reads: bool = False

    def __post_init__(self) -> None:
        if self.tier not in BURST_LIMITS:
            raise ValueError(f"unknown tier {self.tier!r}; one of {sorted(BURST_LIMITS)}")
        if self.account_type not in ACCOUNT_TYPES:
            raise ValueError(f"unknown account type {self.account_type!r}; one of {list(ACCOUNT_TYPES)}")
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.time_zone!r}") from None
        if self.allowed_tokens is not None and not isinstance(self.allowed_tokens, frozenset):
            object.__setattr__(self, "allowed_tokens", frozenset(self.allowed_tokens))
        object.__setattr__(self, "error_statuses", tuple(self.error_statuses))
        # A list from JSON or the command line, kept sorted and unique so settings compare equal.
        scopes = (self.missing_scopes,) if isinstance(self.missing_scopes, str) else self.missing_scopes
        object.__setattr__(self, "missing_scopes", tuple(sorted(set(scopes))))
        refused = (self.refused_opt_outs,) if isinstance(self.refused_opt_outs, str) else self.refused_opt_outs
        # Checked here, so the faults route answers one 400 for a JSON null or a list of numbers.
        if not isinstance(refused, (list, tuple)) or not all(isinstance(email, str) for email in refused):
            raise ValueError(f"refused_opt_outs must be an address or a list of addresses, not {self.refused_opt_outs!r}")
        object.__setattr__(self, "refused_opt_outs", tuple(sorted({email.lower() for email in refused})))
        # A JSON string "false" would otherwise switch the fault on.
        if not isinstance(self.whole_batch_status_reads, bool):
            raise ValueError(f"whole_batch_status_reads must be true or false, not {self.whole_batch_status_reads!r}")
        if self.max_imports_per_day is not None and self.max_imports_per_day < 0:
            raise ValueError("max_imports_per_day must be 0 or more")
        if self.max_search_body_characters is not None and self.max_search_body_characters < 1:
            raise ValueError("max_search_body_characters must be 1 or more")
        if self.max_property_options < 1:
            raise ValueError("max_property_options must be 1 or more")
        for name in ("error_rate", "drop_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")

    @property
    def burst_limit(self) -> int:
        """Requests allowed per token in any ten-second window."""
        return self.ten_second_limit if self.ten_second_limit is not None else BURST_LIMITS[self.tier]

    @property
    def daily_quota(self) -> int:
        """Requests allowed per day for the portal."""
        return self.daily_limit if self.daily_limit is not None else DAILY_LIMITS[self.tier]
