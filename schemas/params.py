"""Flow parameters as pydantic models, so the Prefect UI renders a form for a backfill.

Secrets are never parameters (Prefect stores parameters in its database): the HubSpot token
and the provider API sources' credentials come from the environment or Prefect Secret blocks
named here.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError

from tasks.events import DEFAULT_REJECTS_ALERT_FRACTION
from tasks.extract.api_settings import (
    CONSTANT_CONTACT_ENV_PREFIX,
    CONSTANT_CONTACT_SECRET_BLOCK,
    MAILCHIMP_KEY_ENV,
    MAILCHIMP_SECRET_BLOCK,
)
from tasks.import_files import MAX_BYTES_PER_FILE, MAX_ROWS_PER_FILE
from tasks.load.settings import TOKEN_ENV_VAR
from tasks.secrets import BLOCK_NAME, CREDENTIAL_SHAPES, block_name_problem

DEFAULT_PORTAL_URL = "https://api.hubapi.com"

# HubSpot's own per-file ceilings: 1,048,576 rows including the header, 512 MB.
HUBSPOT_MAX_DATA_ROWS = 1_048_575
HUBSPOT_MAX_FILE_BYTES = 512 * 1024 * 1024

VALUE_ERROR_PREFIX = "Value error, "
"""pydantic's prefix of a validator's own message, cut from the one-line errors: noise to a person."""

ENVIRONMENT_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

NOT_BLANK = r"\S"
"""A JSON-schema pattern: at least one character that is not whitespace."""

# Models naming where credentials are: a value typed where a name belongs may be the credential
# itself, and pydantic's error text would otherwise quote it.
NAMES_ONLY = ConfigDict(hide_input_in_errors=True)


def _unless_credential_shaped(name_pattern: str) -> str:
    """``name_pattern`` (anchored by ``^``) made to refuse, in a JSON schema, a value of any of
    :data:`~tasks.secrets.CREDENTIAL_SHAPES` as well: one negative lookahead per shape, so
    Prefect refuses a token typed where a name belongs when the flow run is created, before
    anything stores it. ECMA-262 and Python's ``re`` both read it; shapes anchored at the start
    stay anchored there, the others may start anywhere."""
    lookaheads = "".join(
        f"(?!{shape.pattern[1:]})" if shape.pattern.startswith("^") else f"(?!.*{shape.pattern})"
        for shape in CREDENTIAL_SHAPES.values()
    )
    return f"^{lookaheads}{name_pattern.removeprefix('^')}"


BLOCK_NAME_OR_BLANK = _unless_credential_shaped(BLOCK_NAME.pattern.replace("+", "*"))
"""The JSON-schema pattern of a field naming a Secret block: a block's name or blank (unset),
never a credential's shape. The shapes are matched case-sensitively there (JSON schema has no
flags), which is enough: a block's name is lowercase, and an uppercase value is refused by the
name's own pattern."""

ENVIRONMENT_VARIABLE_NAME_OR_BLANK = f"^({ENVIRONMENT_VARIABLE_NAME.pattern.removeprefix('^').removesuffix('$')})?$"
"""The JSON-schema pattern of a field naming an environment variable: a name a shell can set, or
blank (none)."""


def _string_or_null_matching(pattern: str) -> WithJsonSchema:
    """The JSON schema of an optional string field that must match ``pattern``: Prefect checks a
    deployment's parameters against it when a flow run is created, so a value outside it is
    refused before it is stored, where the field's own validator (run by the flow) would be too
    late."""
    return WithJsonSchema({"anyOf": [{"type": "string", "pattern": pattern}, {"type": "null"}]})


BLOCK_NAME_SCHEMA = _string_or_null_matching(BLOCK_NAME_OR_BLANK)
"""The JSON schema of a flow parameter's field naming a Secret block."""


def secret_block_name(instead: str) -> AfterValidator:
    """A field naming a Prefect Secret block: refuses a value that cannot be a block's name, in a
    message that never repeats it (it may be the credential itself: before a flow run is
    created, so it never reaches Prefect's database). A flow parameter's field carries
    :data:`BLOCK_NAME_SCHEMA` too, so that Prefect refuses most such values when a run is created.

    Args:
        instead: Where the credential goes instead, completing "put the ... or save it in a
            block and name the block".
    """

    def checked(name: str | None) -> str | None:
        # Empty is unset (a form's blank field): the default block is read.
        problem = block_name_problem(name) if name else None
        if problem:
            raise PydanticCustomError("secret_block_name", f"{problem}; put {instead} or save it in a block and name the block")
        return name

    return AfterValidator(checked)


def _environment_variable_name(name: str | None) -> str | None:
    # Empty means "no variable: the block only"; anything else must be a name a shell can set.
    if name and not ENVIRONMENT_VARIABLE_NAME.match(name):
        raise PydanticCustomError(
            "environment_variable_name",
            "not the name of an environment variable (letters, digits and underscores): name the variable holding "
            "the credential, never the credential",
        )
    return name


EnvironmentVariableName = Annotated[
    str | None, AfterValidator(_environment_variable_name), _string_or_null_matching(ENVIRONMENT_VARIABLE_NAME_OR_BLANK)
]
"""A field naming an environment variable that holds a credential (never the credential)."""


def _not_blank(value: str) -> str:
    if not value:
        raise PydanticCustomError("blank", "blank: give a local path or a URL")
    return value


Location = Annotated[
    str,
    StringConstraints(strip_whitespace=True),
    AfterValidator(_not_blank),
    WithJsonSchema({"type": "string", "minLength": 1, "pattern": NOT_BLANK}),
]
"""A source or the output folder: a local path or a URL, its surrounding whitespace cut. Blank is
refused (by Prefect too, when a run is created): it would name the working folder of whatever
process runs the flow."""


def _blank_is_the_default_portal(url: object) -> object:
    # A form's cleared field means HubSpot's API, the only one there is (the token says which
    # portal); anything but a string is left to the type's own check.
    return (url.strip() or DEFAULT_PORTAL_URL) if isinstance(url, str) else url


PortalUrl = Annotated[str, BeforeValidator(_blank_is_the_default_portal)]
"""HubSpot's API base URL; blank means the default (``https://api.hubapi.com``)."""


def _no_boolean_portal_id(value: object) -> object:
    # Pydantic reads true as 1: a manifest's `portal_id: true` (a flag for "check it") became
    # portal 1, which the run's refusal then named though no one wrote it.
    if isinstance(value, bool):
        raise PydanticCustomError("portal_id", "a HubSpot portal id is a number (its Hub ID), not {value}", {"value": str(value).lower()})
    return value


PortalId = Annotated[int, Field(ge=1), BeforeValidator(_no_boolean_portal_id)]
"""A HubSpot portal id (Hub ID)."""


class SourceCredentials(BaseModel):
    """Where the provider API sources (``mailchimp://``, ``constantcontact://``) find their
    credentials: names of environment variables and Prefect Secret blocks, never a value.

    Per provider, a Secret block the run names is the only place its credential is read; without
    one, the environment variable when it holds a credential, else the default block. An empty
    environment name reads only the block.
    """

    model_config = NAMES_ONLY

    mailchimp_key_env: EnvironmentVariableName = Field(
        default=MAILCHIMP_KEY_ENV, description="Environment variable holding the Mailchimp API key."
    )
    mailchimp_secret_block: Annotated[str | None, secret_block_name(f"the key in {MAILCHIMP_KEY_ENV}"), BLOCK_NAME_SCHEMA] = Field(
        default=None,
        description=f"Prefect Secret block holding the Mailchimp API key: when given, the only place it is read "
        f"(the variable is ignored). Empty: the variable, else the block {MAILCHIMP_SECRET_BLOCK}.",
    )
    constant_contact_env_prefix: EnvironmentVariableName = Field(
        default=CONSTANT_CONTACT_ENV_PREFIX,
        description="Prefix of the Constant Contact variables: <prefix>_TOKEN (an access token), or "
        "<prefix>_REFRESH_TOKEN with <prefix>_CLIENT_ID (and <prefix>_CLIENT_SECRET for the authorization-code flow).",
    )
    constant_contact_secret_block: Annotated[
        str | None, secret_block_name(f"the token in {CONSTANT_CONTACT_ENV_PREFIX}_TOKEN"), BLOCK_NAME_SCHEMA
    ] = Field(
        default=None,
        description=f"Prefect Secret block holding the Constant Contact access token, or a JSON object with "
        f"access_token, refresh_token, client_id, client_secret: when given, the only place they are read "
        f"(the variables are ignored). Empty: the variables, else the block {CONSTANT_CONTACT_SECRET_BLOCK}.",
    )


class PlanParameters(BaseModel):
    """What to read and where to write the plan."""

    model_config = NAMES_ONLY

    sources: list[Location] = Field(
        min_length=1,
        description="Exports: Mailchimp zips, Constant Contact or CRM CSV/XLSX files (x.xlsx#Sheet), folders, as local paths or URLs (s3://...).",
    )
    output: Location = Field(description="Folder (local path or URL) for report.json, rejects.csv and the import files.")
    consent_overrides: dict[str, str] = Field(
        default_factory=dict,
        description="Source status → outcome (marketing, non_marketing, opted_out) replacing the defaults. "
        "Opt-out statuses cannot be re-mapped.",
    )
    profile: str | None = Field(
        default=None,
        description="Read every file with this source profile (onramp profiles lists them); "
        "when empty, each file's profile is detected from its headers.",
    )
    mapping_file: str | None = Field(
        default=None,
        description="A mapping file (TOML or YAML) overriding column targets and consent meanings.",
    )
    source_credentials: SourceCredentials = Field(
        default_factory=SourceCredentials,
        description="Where mailchimp:// and constantcontact:// sources find their credentials (names only).",
    )
    max_rows_per_file: int = Field(
        default=MAX_ROWS_PER_FILE, ge=1, le=HUBSPOT_MAX_DATA_ROWS, description="Most contacts in one import file."
    )
    max_bytes_per_file: int = Field(
        default=MAX_BYTES_PER_FILE, ge=1024, le=HUBSPOT_MAX_FILE_BYTES, description="Largest import file, in bytes."
    )
    rejects_alert_fraction: float = Field(
        default=DEFAULT_REJECTS_ALERT_FRACTION,
        ge=0,
        le=1,
        description="Rejected rows over rows read above which the run emits the Prefect event "
        "onramp.rejects.threshold-exceeded (attach an automation to it).",
    )


class MigrationParameters(PlanParameters):
    """A plan, then its load into one HubSpot portal."""

    portal_url: PortalUrl = Field(default=DEFAULT_PORTAL_URL, description="HubSpot API base URL; blank: HubSpot's (the default).")
    token_env: EnvironmentVariableName = Field(
        default=TOKEN_ENV_VAR,
        description="Environment variable holding the HubSpot private-app token (read by the process running the flow), "
        "when no Secret block is named: the only place read, unless it is HUBSPOT_ACCESS_TOKEN, which is followed by "
        "the block hubspot-access-token; empty: read only the block hubspot-access-token.",
    )
    token_secret_block: Annotated[str | None, secret_block_name(f"the token in {TOKEN_ENV_VAR}"), BLOCK_NAME_SCHEMA] = Field(
        default=None,
        description="Name of a Prefect Secret block holding the token: when given, the only place the token is read "
        "(the environment variable is ignored). Empty: the environment variable (then, for HUBSPOT_ACCESS_TOKEN, "
        "the block hubspot-access-token).",
    )
    portal_id: PortalId | None = Field(
        default=None,
        description="The HubSpot portal id (Hub ID) the token must be for: the run stops before sending or reading "
        "anything when the token is another portal's, or when HubSpot will not say which (the app lacks the oauth "
        "scope). Empty: not checked.",
    )
    dry_run: bool = Field(
        default=False,
        description="Only read the portal and report what the load would create, update, opt out and leave "
        "alone, and how many marketing contacts it would add; write nothing.",
    )
    load_path: Literal["auto", "imports", "upsert"] = Field(
        default="auto",
        description="How contacts files are sent: auto (batch upsert for small files, the Imports API for "
        "large ones), imports or upsert.",
    )
    import_companies: bool = Field(
        default=False,
        description="Also create the contacts' companies, keyed by domain (the website's, else the email's unless "
        "a mail provider's), and associate each contact with its company.",
    )


class SyncParameters(MigrationParameters):
    """A recurring sync: each run sends only what changed in the sources since the last
    successful run (new opt-outs first), by batch upsert."""

    load_path: Literal["auto", "imports", "upsert"] = Field(
        default="upsert",
        description="How the changed contacts are sent: upsert (batch upsert, for deltas), imports, or auto (by file size).",
    )
