"""Which locations a SOURCE or an output folder may name, and never a credential in them.

A location is a local path or a URL of a scheme Onramp supports. A URL that carries a
credential (``s3://KEY:SECRET@bucket/x.zip``, ``https://user:pass@host/x.zip``, a presigned
``?X-Amz-Signature=...``) is refused before anything reads it, and the refusal shows the URL
with the credential cut out: the URI of a source ends up in logs, the report and the lineage,
so a credential in it would be copied everywhere. Credentials come from the environment
(``AWS_*``, ...) or the file system's own configuration.

An API's base URL (a HubSpot portal's, given by ``--portal-url`` or a manifest) must be one the
HTTP clients can request (:func:`http_url_problem`): a URL they cannot parse would otherwise fail
deep inside a request, as a traceback or as retries of a connection that can never be made.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, parse_qsl, urlsplit

from tasks.errors import InputError
from tasks.extract.api_settings import (
    API_SCHEMES,
    CONSTANT_CONTACT_ENV_PREFIX,
    CONSTANT_CONTACT_SCHEME,
    MAILCHIMP_KEY_ENV,
    MAILCHIMP_SCHEME,
)

SUPPORTED_SCHEMES = ("file", "s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "http", "https", *API_SCHEMES)
"""URL schemes a SOURCE or ``--out`` may use, besides a plain local path (a provider API's
``mailchimp://`` or ``constantcontact://`` names a SOURCE only)."""

HTTP_SCHEMES = ("http", "https")
"""The schemes an API's base URL may have."""
NOT_A_URL = "it is not a URL"
PORTAL_URL_USAGE = "must be an http(s) URL such as https://api.hubapi.com"
"""What a portal's URL must be, before what is wrong with one that is not."""

CHAIN_SEPARATOR = "::"
"""fsspec chains file systems (``zip::s3://...``); every link is checked."""

_CREDENTIAL_PARAMETER = re.compile(
    r"(sig|signature|token|secret|password|passwd|pwd|credential|key|auth|session)", re.IGNORECASE
)
REDACTED = "***"
SHOWN_QUERY_ITEM = "since"
"""The one query item a location is named with: a provider API's time to read changes from."""

CREDENTIAL_HOME = {
    MAILCHIMP_SCHEME: f"give the API key in {MAILCHIMP_KEY_ENV} or a Prefect Secret block (--mailchimp-secret)",
    CONSTANT_CONTACT_SCHEME: f"give the token in {CONSTANT_CONTACT_ENV_PREFIX}_TOKEN (or {CONSTANT_CONTACT_ENV_PREFIX}_REFRESH_TOKEN "
    f"with {CONSTANT_CONTACT_ENV_PREFIX}_CLIENT_ID) or a Prefect Secret block (--constant-contact-secret)",
}
"""Where a provider API's credential goes instead of its URL, by scheme; any other location's
goes in the environment or the file system's configuration (:data:`STORAGE_CREDENTIAL_HOME`)."""
STORAGE_CREDENTIAL_HOME = "give it through the environment (AWS_* and the like) or the file system's configuration"


def redact(location: str) -> str:
    """``location`` with any user-info and query string replaced by ``***``, but for a provider
    API's ``since=`` (a time, never a credential, and what a sync's run asked for)."""
    links = []
    for link in location.split(CHAIN_SEPARATOR):
        parts = _split(link) if "://" in link else None
        if parts is None:
            links.append(_without_credential(link) if "://" in link else link)
            continue
        netloc = parts.netloc
        if "@" in netloc:
            netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
        items = [item for item in parts.query.split("&") if item]
        shown = [item for item in items if item.partition("=")[0] == SHOWN_QUERY_ITEM and parts.scheme in _api_schemes()]
        hidden = [REDACTED] if len(shown) < len(items) else []
        query = f"?{'&'.join(hidden + shown)}" if items else ""
        fragment = f"#{parts.fragment}" if parts.fragment else ""
        links.append(f"{parts.scheme}://{netloc}{parts.path}{query}{fragment}")
    return CHAIN_SEPARATOR.join(links)


def check_location(location: str) -> None:
    """Refuse a location of an unsupported scheme or carrying a credential.

    Raises:
        InputError: One line naming the location (its credential cut out) and the problem.
    """
    for link in location.split(CHAIN_SEPARATOR):
        scheme = _scheme(link)
        if scheme is None:
            continue
        if scheme not in SUPPORTED_SCHEMES + _api_schemes():
            raise InputError(
                redact(location),
                f"unsupported location scheme {scheme!r}: use a local path or one of "
                + ", ".join(f"{s}://" for s in SUPPORTED_SCHEMES),
            )
        parts = _split(link)
        if parts is None:
            raise InputError(redact(location), NOT_A_URL)
        credential_in_query = any(_CREDENTIAL_PARAMETER.search(name) for name, _ in parse_qsl(parts.query, keep_blank_values=True))
        if "@" in parts.netloc or credential_in_query:
            home = CREDENTIAL_HOME.get(scheme, STORAGE_CREDENTIAL_HOME)
            raise InputError(redact(location), f"the URL carries a credential: {home}, never in the URL")


def _api_schemes() -> tuple[str, ...]:
    """Provider APIs read as a SOURCE (``mailchimp://<list>``, ``constantcontact://contacts``)."""
    try:
        from tasks.extract.api_settings import API_SCHEMES
    except ImportError:
        return ()
    return tuple(API_SCHEMES)


def _scheme(link: str) -> str | None:
    """The URL scheme of one link, or None for a local path (``C:\\x`` included)."""
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):", link)
    if match is None or len(match.group(1)) == 1:
        return None
    if "://" not in link and not link.lower().startswith(("data:", "javascript:")):
        # "notes:2024.csv" is a local file name with a colon; only a scheme followed by "//"
        # (or a known non-hierarchical one) is a URL.
        return None
    return match.group(1).lower()


def http_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be requested as an API's base URL, or None when it can.

    It must be ``http(s)://host[:port]/…`` with a port from 1 to 65535, and parse as both HTTP
    clients parse it: a portal is requested through requests (urllib3), a provider API through
    httpx, and a URL either cannot parse fails inside its first request. The answer names the
    port only when it is a number: a port of letters may be a password whose user forgot the ``@``.
    """
    import httpx
    import requests

    if url != url.strip():
        return "it has spaces around it"
    try:
        # Not _split: a port out of range or of letters is named below, not refused as no URL.
        parts = urlsplit(url)
    except ValueError:
        return NOT_A_URL
    if parts.scheme.lower() not in HTTP_SCHEMES:
        return "it has no http:// or https:// before the host"
    port = _port_text(parts.netloc)
    if port and not (port.isascii() and port.isdigit()):
        return "its port is not a number (1 to 65535)"
    if port and not 0 < int(port) < 65536:
        return f"its port {int(port)} is not one (1 to 65535)"
    if not parts.hostname:
        return "it names no host"
    try:
        requests.Request("GET", url).prepare()
        httpx.URL(url)
    except (requests.RequestException, httpx.InvalidURL, ValueError):
        return NOT_A_URL
    return None


def check_api_url(url: str, source: str, variable: str, example: str) -> str:
    """``url``, a provider API's endpoint that ``variable`` overrides (an emulator's), when it can
    be requested (:func:`http_url_problem`).

    Raises:
        InputError: One line naming ``source``, the variable, an ``example`` of a URL it takes and
            what is wrong: refused at once, rather than retried as a connection failing for minutes.
    """
    problem = http_url_problem(url)
    if problem:
        raise InputError(source, f"{variable} must be an http(s) URL such as {example}: {problem}")
    return url


def portal_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a HubSpot portal's API base URL, or None when it can: the one check
    of ``--portal-url`` and of a manifest's ``portal.url``.

    The URL is logged and written to reports, and the token travels in a header: user-info or a
    query (where a credential sits) is refused. The answer never repeats the URL.
    """
    problem = http_url_problem(url)
    if problem:
        return f"{PORTAL_URL_USAGE}: {problem}"
    parts = urlsplit(url)
    if "@" in parts.netloc or parts.query or parts.fragment:
        return ("the URL carries user-info or a query, where a credential would be copied into logs and reports: give "
                "the HubSpot API base URL alone (https://api.hubapi.com) and the token's place in token_env or token_secret")
    return None


def check_portal_url(url: str) -> None:
    """Refuse a ``--portal-url`` that :func:`portal_url_problem` refuses.

    Raises:
        InputError: One line naming the option and the problem (never the URL).
    """
    problem = portal_url_problem(url)
    if problem:
        raise InputError("--portal-url", problem)


def _split(link: str) -> SplitResult | None:
    """``link`` split into its parts, or None when it is no URL (an unclosed ``[`` of an IPv6
    host, a port out of range or of letters)."""
    try:
        parts = urlsplit(link)
        parts.port  # noqa: B018 - a port that is no number, or out of range, raises here
    except ValueError:
        return None
    return parts


def _port_text(netloc: str) -> str:
    """What a URL's authority gives as its port (after the host's last ``:``, an IPv6 host's
    ``[…]`` kept whole), or "" when it gives none."""
    host_and_port = netloc.rpartition("@")[2]
    _, colon, port = host_and_port.rpartition("]")[2].rpartition(":")
    return port if colon else ""


def _without_credential(link: str) -> str:
    """A URL that cannot be split, shown as :func:`redact` shows one that can: any user-info
    and query replaced by ``***``, and a port that is no number too (``user:secret`` with its
    ``@`` forgotten reads as a host and a port)."""
    scheme, _, rest = link.partition("://")
    rest, question, _ = rest.partition("?")
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = f"{REDACTED}@{authority.rsplit('@', 1)[1]}"
    port = _port_text(authority)
    if port and not port.isdigit():
        authority = f"{authority.removesuffix(port)}{REDACTED}"
    return f"{scheme}://{authority}{slash}{path}{'?' + REDACTED if question else ''}"
