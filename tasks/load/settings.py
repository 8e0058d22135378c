"""Numbers the HubSpot load runs by, in one place.

Where a number comes from HubSpot's documentation it says so; the rest are choices, with the
reason next to them. Sources: ``../shared/reference/hubspot-api.md``.
"""

from __future__ import annotations

from tasks import hubspot_limits

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
# Requests one load step keeps in flight at once (batch upserts, single-address opt-outs). The
# ceiling is held only with (requests a second) x (seconds an answer takes) of them out, and
# HubSpot answers a 100-contact batch upsert in a few hundred milliseconds to over a second.
# The fastest tier (API add-on, 250 per 10 s: 25 a second) at 1.6 s an answer is 40; at
# Professional 40 cover answers of 2.5 s (the budget's 15 a second then). More would only wait
# in the rate budget, which paces them all and counts each until a window after its answer, so
# none meets a 429; a waiting thread costs about 1 % of a core, woken to look at the budget.
REQUESTS_IN_FLIGHT = 40

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
# Waits of the rate window a 429 naming no limit at import creation gets before it is taken for
# the imports a day (tasks/load/imports.py): HubSpot's refusals name a policy or a category, a
# proxy's or gateway's 429 may have no body, and a short window is over after one or two waits.
UNNAMED_429_WAITS = 3

# --- throttling before a 429 (tasks/load/ratelimit.py) ---------------------------------------
# Requests of the 10-second window left unused: the budget's log is exact for what this machine
# sends, so one request of slack (0.5 % at Professional) is for anything HubSpot counts that the
# log cannot see.
RATE_LIMIT_RESERVE = 1
# The ten-second burst limit of free and Starter portals alike (HubSpot's usage guidelines); the
# paid tiers above Starter allow more.
FREE_AND_STARTER_BURST_LIMIT = 100
# Until a response tells the tier (X-HubSpot-RateLimit-Max), assume the smallest burst limit,
# which no tier's portal answers with a 429.
DEFAULT_BURST_LIMIT = FREE_AND_STARTER_BURST_LIMIT
# "5 requests per second per account" (CRM search docs); search answers carry no rate headers.
SEARCH_PER_SECOND = 5
# When the daily quota's remaining count (X-HubSpot-RateLimit-Daily-Remaining, minus what was
# sent since) reaches this, the load stops before HubSpot answers 429 DAILY.
DAILY_RESERVE = 0
# Answers come back out of order, so within this long of the last one a new answer may only
# lower the daily count (a late answer must not hand back what a later request spent); an older
# count is replaced by the next answer. A spent count stops the load until the quota resets
# (midnight in the portal's time zone, from account-info), except that a process that has had
# no answer since it was spent (a rerun) first asks once whether the quota is back.
DAILY_OBSERVATION_TTL_SECONDS = 600.0
# Grants are paced window/limit apart; one that comes late (a sleep that overshot on a busy
# machine) may be caught up on for this long, else each late grant would be throughput lost for
# good. Half a second is ~9 requests at Professional: a ripple, well inside the window's log.
RATE_PACE_SLACK_SECONDS = 0.5
# How often a request waiting for an in-flight one to be answered looks again.
RATE_POLL_SECONDS = 0.01
# Rate budgets are kept under $ONRAMP_STATE_DIR (else a per-user temp folder), one small file
# per portal and app, so that every process on the machine shares them.
STATE_DIR_ENV_VAR = "ONRAMP_STATE_DIR"

# --- properties ------------------------------------------------------------------------------
# CRM batch endpoints take at most 100 inputs per request (HubSpot docs); properties/batch/create
# is assumed to follow the same rule, since it documents none of its own.
PROPERTY_BATCH_SIZE = 100
# HubSpot's options a property (tasks.hubspot_limits, where the plan's report reads it too); the
# load makes options of at most this many values per property, the portal's existing options
# counted, and leaves the rest out (tasks/load/properties.py).
MAX_OPTIONS_PER_PROPERTY = hubspot_limits.MAX_OPTIONS_PER_PROPERTY

# --- lists -----------------------------------------------------------------------------------
# HubSpot documents no maximum for memberships/add (reference §5, "chunk the adds"); 1,000 ids
# is a small body (~15 KB) and a tenth of the requests of the read-backs that feed it.
LIST_MEMBERSHIP_BATCH_SIZE = 1000

# --- companies -------------------------------------------------------------------------------
# Batch create and the v4 batch associate follow the CRM batch rule of 100 inputs a request.
COMPANY_BATCH_SIZE = 100
ASSOCIATION_BATCH_SIZE = 100
# Domains per search: HubSpot's IN filter takes a list of values, and a search request's body
# may have at most 3,000 characters ("Search the CRM": "If the body of your request exceeds 3,000
# characters, a 400 error will be returned"): a search holds at most 50 domains, fewer when long
# ones would take its body past the limit, less room for the paging cursor a next page adds.
# Search returns at most 200 a page.
COMPANY_SEARCH_VALUES = 50
SEARCH_BODY_MAX_CHARACTERS = 3_000
SEARCH_CURSOR_ROOM = 100
COMPANY_SEARCH_PAGE_SIZE = 200

# --- opt-outs --------------------------------------------------------------------------------
# HubSpot documents no maximum for communication-preferences v4 batches. 100 is the limit of
# every CRM batch endpoint that does document one, so it is the largest size known to be
# accepted; it also bounds what a rejected batch costs (it is retried address by address).
OPT_OUT_BATCH_SIZE = 100
OPT_OUT_CHANNEL = "EMAIL"
COMM_PREFS_PATH = "/communication-preferences/v4/statuses"
# Single-address unsubscribes and reads in flight at once (portals without the batch scopes):
# one request per address, so the same reasoning as REQUESTS_IN_FLIGHT.
OPT_OUT_THREADS = REQUESTS_IN_FLIGHT

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
# Imports a portal may create (KB-FILE, knowledge.hubspot.com/import-and-export/set-up-your-import-file):
# 500 a day on paid plans, 50 on free ones, over a rolling 24 hours, every app's and user's
# counted; free portals also 500,000 rows a day. HubSpot's answer past them is undocumented.
IMPORTS_PER_DAY = 500
IMPORTS_PER_DAY_FREE = 50
IMPORT_ROWS_PER_DAY_FREE = 500_000
IMPORTS_WINDOW_SECONDS = 24 * 3600.0
# The load warns once in a run whose imports bring Onramp's own count past these. A free portal's
# 40 of 50 leaves an hourly sync (2-3 imports a run with changes) a few runs to be looked at; a
# portal whose burst limit says it is paid above Starter is warned 10 short of its 500 instead.
# Onramp cannot tell a free portal from a Starter one (both allow 100 requests per 10 s), so both
# are warned at the free figures.
IMPORTS_WARN_FREE = 40
IMPORT_ROWS_WARN_FREE = 400_000
IMPORTS_WARN_PAID = 490
# /errors page size. The spec sets no maximum; 100 is the page cap of HubSpot's other CRM v3
# list endpoints, so a larger value could be silently cut (the paging cursor still covers it).
IMPORT_ERRORS_PAGE_SIZE = 100

# --- batch upsert (tasks/load/upsert.py) -----------------------------------------------------
# "Batch operations are limited to 100 records at a time" (HubSpot docs; 101 answers 400).
UPSERT_BATCH_SIZE = 100
# Batches in flight at once: the same reasoning as REQUESTS_IN_FLIGHT.
UPSERT_THREADS = REQUESTS_IN_FLIGHT
# Connections a portal's session keeps alive per host: one for every request the load can have
# out at once (MAX_CONCURRENT_IMPORTS contacts files, UPSERT_THREADS each). requests keeps 10 by
# default; past that each request opens a connection (a TLS handshake to HubSpot) only for
# urllib3 to drop it after ("Connection pool is full, discarding connection").
HTTP_CONNECTIONS_PER_HOST = MAX_CONCURRENT_IMPORTS * UPSERT_THREADS
# Files up to this many rows go through batch upsert, larger ones through the Imports API. At
# the Professional ceiling 50,000 rows is 500 requests (under half a minute, under 0.1 % of the
# daily quota); past that an import costs a handful of requests instead of thousands and leaves
# the 10-second budget to everything else.
UPSERT_MAX_ROWS = 50_000
