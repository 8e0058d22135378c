"""Numbers the HubSpot load runs by, in one place.

Where a number comes from HubSpot's documentation it says so; the rest are choices, with the
reason next to them. Sources: ``../shared/reference/hubspot-api.md``.
"""

from __future__ import annotations

# --- where and who ---------------------------------------------------------------------------
DEFAULT_PORTAL_URL = "https://api.hubapi.com"
TOKEN_ENV_VAR = "HUBSPOT_ACCESS_TOKEN"
# Prefect block names allow only lowercase letters, digits and dashes, so the env var's name
# cannot be reused verbatim.
DEFAULT_SECRET_BLOCK = "hubspot-access-token"

CONTACT_OBJECT_TYPE = "contacts"
CONTACT_OBJECT_TYPE_ID = "0-1"

# --- HTTP --------------------------------------------------------------------------------------
# (connect, read). Reads get a long allowance because an import upload sends the whole file
# (up to 512 MB) in one request and HubSpot answers only once it has it all.
REQUEST_TIMEOUT_SECONDS = (10.0, 300.0)

# --- retries by cause ------------------------------------------------------------------------
# Transient failures (5xx, 423, timeouts, dropped connections): jittered exponential backoff.
# 6 attempts at 0.5 s doubling, capped at 30 s, is about a minute of patience in total: longer
# than HubSpot's 2-second write locks and a typical gateway blip, short enough that a portal that
# is really down ends the load with a clear message instead of hanging.
MAX_ATTEMPTS = 6
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
# "Locks will last for 2 seconds" (HubSpot error-handling docs): never retry a 423 sooner.
LOCKED_MIN_WAIT_SECONDS = 2.0
# 429 on the 10-second window: wait the window out. Each wait is a full window, so 10 of them
# in a row means something else is eating the budget and the load should stop and say so.
MAX_RATE_LIMIT_WAITS = 10
# Used when a 429 or a response does not say how long the window is (the documented value).
DEFAULT_RATE_WINDOW_SECONDS = 10.0
# The CRM search limit is per second (policy "SECONDLY"), not per 10 seconds.
SECONDLY_WINDOW_SECONDS = 1.0

# --- throttling before a 429 -----------------------------------------------------------------
# Stop sending when the window's remaining budget, as the last response reported it, is down to
# this many requests. A small reserve leaves room for requests already in flight on other
# threads and for the polls that follow a submit.
RATE_LIMIT_RESERVE = 2

# --- properties ------------------------------------------------------------------------------
# CRM batch endpoints take at most 100 inputs per request (HubSpot docs); properties/batch/create
# is assumed to follow the same rule, since it documents none of its own.
PROPERTY_BATCH_SIZE = 100

# --- opt-outs --------------------------------------------------------------------------------
# HubSpot documents no maximum for communication-preferences v4 batches. 100 is the limit of
# every CRM batch endpoint that does document one, so it is the largest size known to be
# accepted; it also bounds what a rejected batch costs (it is retried address by address).
OPT_OUT_BATCH_SIZE = 100
OPT_OUT_CHANNEL = "EMAIL"
COMM_PREFS_PATH = "/communication-preferences/v4/statuses"

# --- imports ---------------------------------------------------------------------------------
# HubSpot processes at most three imports at once per portal; a fourth waits as DEFERRED.
MAX_CONCURRENT_IMPORTS = 3
# The planner writes ISO dates (YYYY-MM-DD).
DEFAULT_DATE_FORMAT = "YEAR_MONTH_DAY"
# Three imports polled every 2 s cost 1.5 requests a second: nothing against the budget.
IMPORT_POLL_INTERVAL_SECONDS = 2.0
# A million-row import takes tens of minutes; a day's worth of queueing behind other imports
# is still worth waiting for rather than abandoning.
IMPORT_TIMEOUT_SECONDS = 6 * 3600.0
# A FAILED import is one HubSpot could not start processing; one more try covers a transient
# failure on HubSpot's side without looping on a file HubSpot will never accept.
IMPORT_FAILED_RETRIES = 1
IMPORT_TERMINAL_STATES = frozenset({"DONE", "FAILED", "CANCELED", "REVERTED"})
# /errors page size. The spec sets no maximum; 100 is the page cap of HubSpot's other CRM v3
# list endpoints, so a larger value could be silently cut (the paging cursor still covers it).
IMPORT_ERRORS_PAGE_SIZE = 100
