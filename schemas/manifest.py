"""The multi-account manifest: accounts, their sources and their HubSpot portals (YAML).

```yaml
accounts:
  - name: acme
    sources: [s3://exports/acme/audience_export.zip]
    portal: {url: https://api.hubapi.com, token_env: ACME_HUBSPOT_TOKEN, portal_id: 4417281, work_queue: portal-acme}
  - name: globex
    sources: [mailchimp://a1b2c3d4e5, constantcontact://contacts]
    source_credentials: {mailchimp_secret_block: globex-mailchimp, constant_contact_env_prefix: GLOBEX_CC}
```

A manifest names where tokens and keys are (environment variables or Prefect Secret blocks),
never the tokens themselves, so it can be committed and reviewed. A portal's ``work_queue``
(with ``account_deployment`` only) sends its account's flow run to the one worker serving that
queue, so one machine spends the portal's rate budget. A portal's ``portal_id`` is the HubSpot
portal the token must be for: an account whose token is another portal's stops before its load
sends anything.
Each portal takes one account: two accounts aimed at one portal (the same ``portal_id``, or the
same URL and token location) are refused, since each would plan its contacts alone and neither
would see the other's opt-outs (DESIGN.md: one row per email, the most restrictive outcome
wins); their sources belong under one account.
Accounts reading Constant Contact's API each name where their credentials are when more than one
does, and no two name one place: a ``constantcontact://`` source names no Constant Contact
account, so unnamed they would all read the ``CONSTANT_CONTACT_*`` variables of whatever shell
runs them, one Constant Contact account's contacts into every portal.
A relative source path is read beside the manifest (its folder, local or remote).
"""

from __future__ import annotations

import difflib
import posixpath
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple
from urllib.parse import urlsplit

import fsspec
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from schemas.params import (
    DEFAULT_PORTAL_URL,
    NAMES_ONLY,
    VALUE_ERROR_PREFIX,
    EnvironmentVariableName,
    Location,
    PortalId,
    SourceCredentials,
    secret_block_name,
)
from tasks.errors import InputError
from tasks.extract.api_settings import CONSTANT_CONTACT_ENV_PREFIX, CONSTANT_CONTACT_SCHEME, CONSTANT_CONTACT_SECRET_BLOCK, api_scheme
from tasks.extract.locations import check_location, portal_url_problem, redact
from tasks.secrets import places_read

DEFAULT_TOKEN_ENV = "HUBSPOT_ACCESS_TOKEN"
# Validation context key: whether the run sends accounts to a deployment's workers.
RUNS_ON_WORKERS = "runs_on_workers"
# Validation context key: the manifest's own location, which relative source paths are read from.
MANIFEST_URI = "manifest_uri"
ACCOUNT_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
# The schemes a portal URL may have, and the port each implies when the URL names none.
DEFAULT_PORTS = {"http": 80, "https": 443}


class PortalSpec(BaseModel):
    """The HubSpot portal an account is migrated into."""

    model_config = ConfigDict(extra="forbid", **NAMES_ONLY)

    url: str = Field(default=DEFAULT_PORTAL_URL, description="HubSpot API base URL.")
    token_env: EnvironmentVariableName = Field(
        default=None,
        description="Environment variable holding the token: the only place it is read (unset, the account fails alone); "
        "with neither this nor token_secret: HUBSPOT_ACCESS_TOKEN, then the Secret block hubspot-access-token.",
    )
    token_secret: Annotated[str | None, secret_block_name("the token in the environment variable token_env names")] = Field(
        default=None, description="Prefect Secret block holding the token: the only place it is read."
    )
    work_queue: str | None = Field(
        default=None,
        min_length=1,
        description="With account_deployment: the work queue of the deployment's pool whose worker loads this "
        "portal's account, so that one machine spends the portal's rate budget.",
    )
    portal_id: PortalId | None = Field(
        default=None,
        description="The HubSpot portal id (Hub ID) the token must be for: the account's load stops before it sends "
        "anything when the token is another portal's.",
    )

    @model_validator(mode="after")
    def _one_token_source(self) -> PortalSpec:
        if self.token_env and self.token_secret:
            raise ValueError("give token_env or token_secret, not both")
        if not self.token_secret and not self.token_env:
            self.token_env = DEFAULT_TOKEN_ENV
        return self

    @field_validator("url")
    @classmethod
    def _an_api_base_url(cls, url: str) -> str:
        problem = portal_url_problem(url)
        if problem:
            raise ValueError(problem)
        return url

    @field_validator("work_queue")
    @classmethod
    def _queue_of_a_deployment(cls, work_queue: str | None, info: ValidationInfo) -> str | None:
        # The run's parameters are in the context when known (AccountsParameters.read_manifest);
        # a manifest read on its own may yet run through a deployment.
        runs_on_workers = (info.context or {}).get(RUNS_ON_WORKERS)
        if work_queue is not None and runs_on_workers is False:
            raise ValueError("a work queue needs account_deployment (--deployment): without it the accounts run in this process")
        return work_queue

    def address(self) -> str:
        """The portal's URL as a server tells it apart: scheme and host in lower case, no default
        port, no trailing slash (``HTTP://Api.HubAPI.com:443/`` is ``https://api.hubapi.com``)."""
        parts = urlsplit(self.url)
        scheme = parts.scheme.lower()
        host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname or ""
        port = "" if parts.port in (None, DEFAULT_PORTS.get(scheme)) else f":{parts.port}"
        return f"{scheme}://{host}{port}{parts.path.rstrip('/')}"

    def token_location(self) -> str:
        """Where the token is, as the manifest names it (the token itself is read where the account runs)."""
        return f"token_env {self.token_env}" if self.token_env else f"token_secret {self.token_secret}"


class SourceCredentialsSpec(SourceCredentials):
    """Where an account's API sources find their credentials: per provider an environment
    variable (a prefix for Constant Contact) or a Prefect Secret block, not both.

    An account naming a block reads only that block, so a variable set for another account (or
    left on the machine) never stands in for it.
    """

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _one_place_per_provider(self) -> SourceCredentialsSpec:
        for env, block in (
            ("mailchimp_key_env", "mailchimp_secret_block"),
            ("constant_contact_env_prefix", "constant_contact_secret_block"),
        ):
            if getattr(self, block):
                if env in self.model_fields_set:
                    raise ValueError(f"give {env} or {block}, not both")
                setattr(self, env, None)
        return self


class AccountSpec(BaseModel):
    """One account: its name (also its output folder), sources and portal."""

    model_config = ConfigDict(extra="forbid", **NAMES_ONLY)

    name: str = Field(pattern=ACCOUNT_NAME_PATTERN, description="Lowercase name; the account's output folder.")
    sources: list[Location] = Field(min_length=1, description="Export zips, folders, CSVs (paths or URLs) or provider APIs.")
    portal: PortalSpec = Field(default_factory=PortalSpec)
    source_credentials: SourceCredentialsSpec = Field(
        default_factory=SourceCredentialsSpec,
        description="Where the account's mailchimp:// and constantcontact:// sources find their credentials.",
    )
    consent_overrides: dict[str, str] = Field(default_factory=dict, description="Status → outcome for this account.")

    @field_validator("sources")
    @classmethod
    def _beside_the_manifest(cls, sources: list[str], info: ValidationInfo) -> list[str]:
        # Refused as a single command refuses them, before they become the accounts' run
        # parameters (kept in Prefect's database): a credential in a URL, an unknown scheme.
        # A blank one is refused by its type first: beside the manifest it would be the
        # manifest's own folder, every other account's exports in it.
        for source in sources:
            try:
                check_location(source)
            except InputError as refused:
                raise ValueError(str(refused)) from None
        # A relative path means the same files wherever the command is run from, as in any
        # file that names others: beside the manifest.
        manifest = (info.context or {}).get(MANIFEST_URI)
        return [relative_to_manifest(source, manifest) for source in sources] if manifest else sources


class Manifest(BaseModel):
    """Every account of a multi-account migration."""

    model_config = ConfigDict(extra="forbid", **NAMES_ONLY)

    accounts: list[AccountSpec] = Field(min_length=1)

    def first_repeated_name(self) -> int | None:
        """The index of the first account named as an earlier one (names are output folders)."""
        names = [account.name for account in self.accounts]
        return next((index for index, name in enumerate(names) if name in names[:index]), None)

    def work_queues(self) -> set[str]:
        """The work queues the accounts' portals name."""
        return {a.portal.work_queue for a in self.accounts if a.portal.work_queue}


def relative_to_manifest(source: str, manifest: str) -> str:
    """A source as the manifest at ``manifest`` means it: a relative path is read from the
    manifest's folder (local or remote); a URL or an absolute path is kept as it is. On a local
    disk ``..`` is left for the system to follow from the manifest's real folder (a manifest
    reached through a linked folder names the files beside its real one); in an object store,
    which has no folders to follow it (``s3://b/manifests/../x.zip`` is no key), ``..`` and ``.``
    are resolved in the key.

    Args:
        source: A source as the manifest lists it.
        manifest: The manifest's path or fsspec URL.

    Raises:
        ValueError: The path climbs above the top of the manifest's bucket (or host).
    """
    if "://" in source or posixpath.isabs(source) or source.startswith("~"):
        return source
    if "://" not in manifest:
        return str(Path(manifest).expanduser().absolute().parent / source)
    scheme, _, rest = manifest.partition("://")
    bucket, _, key = rest.partition("/")
    within = posixpath.normpath(posixpath.join(posixpath.dirname(key), source))
    if within == ".." or within.startswith("../"):
        raise ValueError(f"{source} climbs above the top of {scheme}://{bucket}, the manifest's bucket: give its full URL")
    return f"{scheme}://{bucket}/{'' if within == '.' else within}"


class SharedPortal(NamedTuple):
    """Two accounts of a manifest aimed at one portal: their places in it, and what they share."""

    first: int
    second: int
    portal: str


def first_shared_portal(accounts: list[AccountSpec]) -> SharedPortal | None:
    """The first account aimed at a portal an earlier account is aimed at, or None.

    One portal is the same ``portal_id``, or, unless both give ids (which then differ), the same
    URL (:meth:`PortalSpec.address`) with the same token location (the defaults count: no
    ``token_env`` is HUBSPOT_ACCESS_TOKEN). Ids given on both decide: two accounts of one URL and
    token location may run on workers of their own (work queues), each holding its own token.
    Two accounts with different token locations and no ids may yet be one portal; no manifest tells.
    """
    for later, account in enumerate(accounts):
        for earlier in range(later):
            shared = _one_portal(accounts[earlier].portal, account.portal)
            if shared is not None:
                return SharedPortal(earlier, later, shared)
    return None


def _one_portal(first: PortalSpec, second: PortalSpec) -> str | None:
    """What shows two accounts' portals to be one (as a message names it), or None."""
    if first.portal_id is not None and second.portal_id is not None:
        return f"portal_id {first.portal_id}" if first.portal_id == second.portal_id else None
    where = f"{first.address()}, {first.token_location()}"
    return where if where == f"{second.address()}, {second.token_location()}" else None


def first_repeated_key(node: yaml.Node | None, walked: set[int] | None = None) -> yaml.ScalarNode | None:
    """The first key (in document order) given twice in one mapping anywhere under ``node``, or None.

    YAML loaders keep the last of two equal keys without a word: a second ``portal:`` would drop
    the first one's ``token_env`` and fall back to the default token, another client's maybe.
    """
    walked = set() if walked is None else walked
    if node is None or id(node) in walked:
        return None
    walked.add(id(node))  # an alias is the node it names: walked once
    if isinstance(node, yaml.SequenceNode):
        return next(filter(None, (first_repeated_key(item, walked) for item in node.value)), None)
    if not isinstance(node, yaml.MappingNode):
        return None
    keys: set[str] = set()
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode):
            if key.value in keys:
                return key
            keys.add(key.value)
        repeated = first_repeated_key(value, walked)
        if repeated is not None:
            return repeated
    return None


def load_manifest(uri: str, context: dict[str, Any] | None = None) -> Manifest:
    """Read and check a manifest from a path or fsspec URL.

    Args:
        uri: The manifest.
        context: What is known of the run it is for (``RUNS_ON_WORKERS``), checked against it.

    Raises:
        InputError: The file is missing, is not YAML, repeats a key, does not describe
            accounts, aims two accounts at one portal, has accounts reading Constant Contact's
            API that do not each name credentials of their own, or gives an account a consent override
            no run may make (one weakening an opt-out) or naming a status no profile gives; the
            message names the line of the offending entry.
    """
    text = _manifest_text(uri)
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise InputError(uri, f"not valid YAML: {getattr(error, 'problem', error)}", line=mark.line + 1 if mark else None) from None
    repeated = first_repeated_key(root)
    if repeated is not None:
        raise InputError(uri, f"key {repeated.value!r} given twice in one mapping (YAML would keep only the last): "
                              "give it once", line=repeated.start_mark.line + 1)
    try:
        manifest = Manifest.model_validate(data, context={**(context or {}), MANIFEST_URI: uri})
    except ValidationError as error:
        errors = error.errors()
        # An unknown key explains the "Field required" of the key it was meant to be: it goes first.
        first = next((item for item in errors if item["type"] == EXTRA_KEY), errors[0])
        raise InputError(uri, _problem(first), line=_line_of(root, first["loc"])) from None
    repeated_name = manifest.first_repeated_name()
    if repeated_name is not None:
        raise InputError(
            uri,
            f"accounts.{repeated_name}.name: account names must be unique (each is its output folder); repeated: "
            f"{manifest.accounts[repeated_name].name}",
            line=_line_of(root, ("accounts", repeated_name, "name")),
        )
    shared = first_shared_portal(manifest.accounts)
    if shared is not None:
        first_name, second_name = manifest.accounts[shared.first].name, manifest.accounts[shared.second].name
        raise InputError(
            uri,
            f"accounts.{shared.second}.portal: accounts {first_name} and {second_name} load into one portal ({shared.portal}): "
            "list their sources under one account, so their contacts merge into one row per email "
            "(apart, an opt-out in one would not stop the other's import); two portals reached through one token "
            "location (on workers of their own) each give their portal_id",
            line=_line_of(root, ("accounts", shared.second, "portal")),
        )
    unnamed = first_constant_contact_reader_not_its_own(manifest.accounts)
    if unnamed is not None:
        number, problem = unnamed
        named = "source_credentials" in manifest.accounts[number].model_fields_set
        raise InputError(uri, f"accounts.{number}.source_credentials: {problem}",
                         line=_line_of(root, ("accounts", number, "source_credentials" if named else "sources")))
    refused = first_refused_account_override(manifest.accounts)
    if refused is not None:
        number, status, problem = refused
        raise InputError(
            uri,
            f"accounts.{number}.consent_overrides.{status}: account {manifest.accounts[number].name}: {problem}",
            line=_line_of(root, ("accounts", number, "consent_overrides", status)),
        )
    return manifest


CONSTANT_CONTACT_PLACES = ("constant_contact_env_prefix", "constant_contact_secret_block")
"""The keys of ``source_credentials`` that name where an account's Constant Contact credentials are."""


def constant_contact_places(credentials: SourceCredentials) -> list[str]:
    """Where an account's Constant Contact credentials are read, in order, as a refusal names them."""
    prefix, block = places_read(
        credentials.constant_contact_secret_block, credentials.constant_contact_env_prefix,
        CONSTANT_CONTACT_ENV_PREFIX, CONSTANT_CONTACT_SECRET_BLOCK,
    )
    return ([f"the variables {prefix}_*"] if prefix else []) + ([f"the Secret block {block}"] if block else [])


def first_constant_contact_reader_not_its_own(accounts: list[AccountSpec]) -> tuple[int, str] | None:
    """When more than one account reads Constant Contact's API (``constantcontact://``), the first
    of them that names no place for its credentials, or names one an earlier one names, with why.

    Unnamed, an account reads the ``CONSTANT_CONTACT_*`` variables of whatever shell or worker
    runs it, else the default block: two such accounts read one Constant Contact account, and its
    contacts went into both portals without a word. A Constant Contact source names no account
    (``constantcontact://contacts`` is the whole of the token's), so only its credentials tell
    them apart.

    Returns:
        The account's place in the manifest and why it is refused; None when each reader names
        a place of its own (or only one account reads Constant Contact).
    """
    readers = [
        (number, account) for number, account in enumerate(accounts)
        if any(api_scheme(source) == CONSTANT_CONTACT_SCHEME for source in account.sources)
    ]
    if len(readers) < 2:
        return None
    earlier: dict[str, str] = {}
    for number, account in readers:
        places = constant_contact_places(account.source_credentials)
        if not account.source_credentials.model_fields_set & set(CONSTANT_CONTACT_PLACES):
            return number, (
                f"account {account.name} reads Constant Contact's API, as other accounts of the manifest do, and names no "
                f"place for its credentials: it would read {' else '.join(places)}, whichever client's they hold; give each "
                "such account its own constant_contact_env_prefix or constant_contact_secret_block"
            )
        shared = next((place for place in places if earlier.get(place, account.name) != account.name), None)
        if shared is not None:
            return number, (
                f"accounts {earlier[shared]} and {account.name} read Constant Contact's API with the credentials in one place "
                f"({shared}): one Constant Contact account's contacts would go into both portals; give each its own"
            )
        for place in places:
            earlier.setdefault(place, account.name)
    return None


def first_refused_account_override(accounts: list[AccountSpec]) -> tuple[int, str, str] | None:
    """The first account's consent override no run may make, or naming a status no bundled
    profile gives (a typo: an account reads no mapping file), found before any account starts
    (refused only when its account ran, the run failed after other accounts had migrated).

    Returns:
        The account's place in the manifest, the override's status and why it is refused
        (``tasks.plan.refused_run_override``); None when every override may be made.
    """
    # Imported here: the profiles' consent rules bring the planning modules, which reading a
    # manifest's shape does not need.
    from tasks.plan import refused_run_override
    from tasks.transform.mapping_file import no_such_status, statuses_any_profile_gives

    known = statuses_any_profile_gives()
    for number, account in enumerate(accounts):
        refused = refused_run_override(account.consent_overrides)
        if refused is not None:
            return number, *refused
        # An account reads no mapping file: a status no bundled profile gives is a typo.
        unknown = next((status for status in account.consent_overrides if status.lower() not in known), None)
        if unknown is not None:
            return number, unknown, no_such_status(unknown, known)
    return None


def _manifest_text(uri: str) -> str:
    """The manifest's text.

    Raises:
        InputError: It cannot be read.
    """
    try:
        with fsspec.open(uri, "r", encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(uri, f"cannot read the manifest: {type(error).__name__}") from None


def manifest_line(uri: str, loc: tuple) -> int | None:
    """The 1-based line of a manifest's entry, for a refusal found after the manifest was read
    (``("accounts", 1, "portal")``: the second account's portal; the deepest part found).

    Args:
        uri: The manifest's path or fsspec URL.
        loc: Where in it, as a validation error's location.

    Returns:
        The line, or None when the manifest can no longer be read as YAML.
    """
    return manifest_lines(uri, [loc])[0]


def manifest_lines(uri: str, locs: Sequence[tuple]) -> list[int | None]:
    """The 1-based lines of several entries of a manifest (as :func:`manifest_line`), read once.

    Returns:
        One line per location, in their order; all None when the manifest can no longer be read
        as YAML.
    """
    try:
        root = yaml.compose(_manifest_text(uri))
    except (InputError, yaml.YAMLError):
        return [None] * len(locs)
    return [_line_of(root, loc) for loc in locs]


def token_places(uri: str, accounts: Sequence[AccountSpec]) -> dict[str, str]:
    """Where the manifest at ``uri`` names each account's token, as a refusal of the token names
    it: ``accounts.yaml:17``, the line of its ``token_env`` or ``token_secret`` (of its portal, or
    its entry, when the token's place is the default), by account name; the manifest alone when
    it can no longer be read.

    Args:
        uri: The manifest's path or fsspec URL.
        accounts: Its accounts, in its order.
    """
    lines = manifest_lines(
        uri, [("accounts", number, "portal", "token_secret" if account.portal.token_secret else "token_env")
              for number, account in enumerate(accounts)],
    )  # fmt: skip
    where = redact(uri)
    return {account.name: f"{where}:{line}" if line is not None else where for account, line in zip(accounts, lines, strict=True)}


EXTRA_KEY = "extra_forbidden"
"""pydantic's error type for a key the model does not know."""


def _problem(error: dict[str, Any]) -> str:
    """A validation error as the manifest's reader puts it: where, then what; an unknown key is
    named, with the key it may have been meant to be."""
    loc = error["loc"]
    if error["type"] != EXTRA_KEY:
        return f"{'.'.join(str(p) for p in loc) or 'manifest'}: {error['msg'].removeprefix(VALUE_ERROR_PREFIX)}"
    *parent, key = loc
    where = ".".join(str(p) for p in parent) or "manifest"
    close = difflib.get_close_matches(str(key), _keys_at(parent), n=1)
    return f"{where}: unknown key {str(key)!r}" + (f" (did you mean {close[0]!r}?)" if close else "")


def _keys_at(loc: list[Any]) -> list[str]:
    """The keys the manifest's model allows at a location (``["accounts", 1]``: an account's)."""
    model: type[BaseModel] = Manifest
    for key in loc:
        if isinstance(key, int):
            continue  # an item of a list: the list's field already named its model
        field = model.model_fields.get(str(key))
        nested = _model_in(field.annotation) if field else None
        if nested is None:
            return []
        model = nested
    return list(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model a field's annotation holds (``list[AccountSpec]``: AccountSpec), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next(filter(None, map(_model_in, typing.get_args(annotation))), None)


def _line_of(node: Any, loc: tuple) -> int | None:
    """The 1-based line of the YAML node at a validation error's location (the deepest found)."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def account_output(output: str, account: AccountSpec) -> str:
    """The account's output folder under the run's: ``DIR/<name>/``."""
    return f"{output.rstrip('/')}/{account.name}" if "://" in output else str(Path(output) / account.name)


class AccountsParameters(BaseModel):
    """Parameters of a multi-account migration run."""

    manifest: str = Field(description="The accounts manifest (YAML), as a path or URL.")
    output: str = Field(description="Folder (path or URL); each account writes to <output>/<name>/.")
    max_concurrent_accounts: int = Field(default=3, ge=1, le=64, description="Accounts migrated at once.")
    task_runner: Literal["threads", "dask"] = Field(
        default="threads",
        description="Where accounts run: threads of this process, or Dask worker processes (README: Scale-out).",
    )
    dask_address: str | None = Field(
        default=None,
        description="Scheduler of a running Dask cluster (tcp://host:8786); none starts a local cluster of processes.",
    )
    account_deployment: str | None = Field(
        default=None,
        pattern=r"^[^/]+/[^/]+$",
        description="Run each account as a flow run of this deployment (e.g. onramp-migrate/backfill) on the workers "
        "of its pool, on any machine; output and sources must be paths every worker reaches (README: Scale-out).",
    )
    child_start_timeout_seconds: float = Field(
        default=600,
        gt=0,
        description="With account_deployment: how long an account's flow run may wait for a worker to start it; "
        "past that its account fails and the run is cancelled. A run that has started may take as long as it needs.",
    )

    @model_validator(mode="after")
    def _one_place_to_run(self) -> AccountsParameters:
        if self.dask_address and self.task_runner != "dask":
            raise ValueError("dask_address needs task_runner 'dask'")
        if self.account_deployment and self.task_runner != "threads":
            raise ValueError("account_deployment runs the accounts on the deployment's workers: leave task_runner 'threads'")
        return self

    def read_manifest(self) -> Manifest:
        """The run's manifest, refusing a portal's work queue when no deployment's workers run the accounts.

        Raises:
            InputError: As :func:`load_manifest`.
        """
        return load_manifest(self.manifest, context={RUNS_ON_WORKERS: self.account_deployment is not None})
