"""Which scope each HubSpot route needs, and the 403 a token whose app lacks it gets.

HubSpot's OpenAPI specs name, for each operation, every scope that would let a call through
(one list for all object types: ``/crm/v3/objects/{objectType}`` accepts any object's read scope),
so the granular scope of a call, the one HubSpot names in ``requiredGranularScopes``, is kept here
as data: a path pattern, the scope a read needs and the scope a write needs, ``{type}`` standing
for the path's object type. The portal refuses the scopes ``missing_scopes`` names, the batch
opt-out scopes without Marketing Hub Enterprise (``batch_comm_prefs_allowed=False``) and
``oauth`` when ``account_info_allowed`` is ``False``: all through :func:`refuse_missing_scope`.
"""

from __future__ import annotations

import re

from emulators.hubspot.errors import missing_scopes
from emulators.hubspot.faults import is_write
from emulators.hubspot.settings import EmulatorSettings

BATCH_READ_SCOPE = "communication_preferences.statuses.batch.read"
BATCH_WRITE_SCOPE = "communication_preferences.statuses.batch.write"
ACCOUNT_INFO_SCOPE = "oauth"

_OBJECT_READ, _OBJECT_WRITE = "crm.objects.{type}.read", "crm.objects.{type}.write"

# (path pattern, scope of a read, scope of a write); the first pattern that matches decides.
SCOPE_RULES: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(pattern), read, write)
    for pattern, read, write in (
        (r"^/crm/v3/imports(/|$)", "crm.import", "crm.import"),
        (r"^/crm/v3/objects/(?P<type>[^/]+)", _OBJECT_READ, _OBJECT_WRITE),
        (r"^/crm/v4/objects/(?P<type>[^/]+)", _OBJECT_READ, _OBJECT_WRITE),
        (r"^/crm/v4/associations/(?P<type>[^/]+)", _OBJECT_READ, _OBJECT_WRITE),
        (r"^/crm/v3/properties/(?P<type>[^/]+)", "crm.schemas.{type}.read", "crm.schemas.{type}.write"),
        (r"^/crm/v3/lists(/|$)", "crm.lists.read", "crm.lists.write"),
        (r"^/communication-preferences/v4/statuses/batch/(unsubscribe-all/)?read$", BATCH_READ_SCOPE, BATCH_READ_SCOPE),
        (r"^/communication-preferences/v4/statuses/batch/", BATCH_WRITE_SCOPE, BATCH_WRITE_SCOPE),
        (r"^/communication-preferences/", "communication_preferences.read", "communication_preferences.write"),
        (r"^/account-info/", ACCOUNT_INFO_SCOPE, ACCOUNT_INFO_SCOPE),
    )
)

# Object type ids in paths, named as scopes name them.
_OBJECT_TYPE_NAMES = {"0-1": "contacts", "0-2": "companies"}


def required_scope(method: str, path: str) -> str | None:
    """The granular scope a HubSpot request needs (``None`` for a path no rule covers).

    Args:
        method: the HTTP method.
        path: the request's path, without a trailing slash.

    Returns:
        The scope, e.g. ``crm.objects.contacts.write`` for a batch upsert of contacts.
    """
    for pattern, read, write in SCOPE_RULES:
        match = pattern.match(path)
        if match:
            object_type = match.groupdict().get("type") or ""
            scope = write if is_write(method, path) else read
            return scope.format(type=_OBJECT_TYPE_NAMES.get(object_type, object_type))
    return None


def refused_scopes(settings: EmulatorSettings) -> frozenset[str]:
    """The scopes the portal's token lacks under ``settings``."""
    refused = set(settings.missing_scopes)
    if not settings.batch_comm_prefs_allowed:
        refused |= {BATCH_READ_SCOPE, BATCH_WRITE_SCOPE}
    if not settings.account_info_allowed:
        refused.add(ACCOUNT_INFO_SCOPE)
    return frozenset(refused)


def refuse_missing_scope(settings: EmulatorSettings, method: str, path: str) -> None:
    """Raise HubSpot's 403 ``MISSING_SCOPES`` when the request needs a scope the token lacks.

    Raises:
        HubSpotError: 403 naming the scope in ``errors[0].context.requiredGranularScopes``.
    """
    refused = refused_scopes(settings)
    if not refused:
        return
    scope = required_scope(method, path)
    if scope in refused:
        raise missing_scopes(scope)
