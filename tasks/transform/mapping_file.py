"""A user's mapping file (TOML or YAML): its overrides of a profile for one run, checked whole.

::

    profile = "salesforce"            # use this profile instead of detecting one
    email = "Work Email"              # the email column
    date_order = "day_first"          # numeric dates are 13/02/2024 (or "month_first": 02/13/2024)
    [columns]                         # source column → HubSpot property
    "Region" = "state"                # a default property
    "Favourite colour" = "acme_colour"  # anything else: a custom property in the source's group
    [[status.rules]]                  # more consent columns, read like the profile's own
    columns = ["Newsletter"]          # named exactly, and/or
    column_prefixes = ["Opt-in: "]    # every column whose header starts so
    when_true = "newsletter"          # or values, when_set, when_present (see catalog.StatusRule)
    [consent]                         # status → outcome; opt-out statuses cannot be re-mapped
    newsletter = "marketing"

Every mistake in the file is refused before any source is read, in one line naming the file's
line: its shape is checked as data (pydantic models that refuse unknown keys, their errors
reworded), then its content against the profiles (``tasks.transform.catalog``).
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import json
import re
import tomllib
from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, NoReturn, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from schemas.contact import EMAIL
from tasks.errors import InputError
from tasks.transform.catalog import (
    DATE_ORDERS,
    DAY_FIRST,
    FALLBACK_PROFILE,
    MONTH_FIRST,
    ONRAMP_COLUMNS,
    ReadingProfile,
    StatusRule,
    all_profiles,
    profile_names,
    reading_profile,
)
from tasks.transform.consent import OPT_OUT_FLAG_UNCONFIRMED_STATUS, OWN_STATUS_HINT, SEVERITY, Outcome, override_refusal
from tasks.transform.profile import MAX_PROPERTY_NAME_LENGTH, PROPERTY_NAME, property_slug


@dataclass(frozen=True)
class UserMapping:
    """A user's overrides for one run, from a TOML or YAML file (see the module docstring).

    Attributes:
        profile: The profile to use, instead of detecting one.
        email: The email column.
        columns: Source column → HubSpot property.
        rules: Extra status rules.
        consent: Status → outcome.
        date_order: The order every file's numeric dates write day and month in
            (``catalog.DATE_ORDERS``), instead of the order each file's values prove.
        origin: The file it was read from, to name the line of a later refusal (None when built
            in code).
    """

    profile: str | None = None
    email: str | None = None
    columns: Mapping[str, str] = dataclasses.field(default_factory=dict)
    rules: tuple[StatusRule, ...] = ()
    consent: Mapping[str, str] = dataclasses.field(default_factory=dict)
    date_order: str | None = None
    origin: MappingText | None = dataclasses.field(default=None, compare=False, repr=False)

    @classmethod
    def load(cls, path: str | Path) -> UserMapping:
        """Read and check a mapping file (``.toml``, ``.yaml`` or ``.yml``) before any source is read.

        Every mistake is refused, the first in the file: a file that is not TOML or YAML, an
        unknown key (``[colums]``), a value of the wrong type, a target that is no HubSpot
        property name or is a column Onramp writes itself, an unknown profile or outcome, a
        status no profile gives, an opt-out re-mapped.

        Raises:
            InputError: ``<file>:<line>: <what is wrong>``.
        """
        origin = MappingText.read(path)
        try:
            spec = _MappingSpec.model_validate(origin.data())
        except ValidationError as error:
            raise origin.first_error((tuple(e["loc"]), _validation_problem(e)) for e in error.errors()) from None
        problems = [problem for check in _MAPPING_CHECKS for problem in check(spec)]
        if problems:
            raise origin.first_error(problems)
        return cls(
            profile=spec.profile,
            email=spec.email,
            columns={column: target.strip() for column, target in spec.columns.items()},
            rules=tuple(StatusRule.from_data(rule.model_dump()) for rule in spec.status.rules),
            consent={status: outcome.value for status, outcome in spec.consent.items()},
            date_order=spec.date_order.lower() if spec.date_order else None,
            origin=origin,
        )

    def loosened_by(self, overrides: Mapping[str, str]) -> list[str]:
        """One warning line for each of a run's ``--consent`` overrides that makes a status less
        restrictive than this mapping's ``[consent]`` makes it.

        The run's ``--consent`` wins (it is applied after the mapping): it is the choice made for
        this run. A loosening may still be a mistake (a mapping kept strict on purpose), so it is
        said, naming both.

        Args:
            overrides: The run's status → outcome overrides, already checked (``check_run_overrides``).
        """
        mapped = {status.lower(): (status, Outcome(outcome)) for status, outcome in self.consent.items()}
        lines = []
        for status, value in overrides.items():
            if status.lower() not in mapped:
                continue
            written, mapped_outcome = mapped[status.lower()]
            chosen = Outcome(value)
            if SEVERITY[chosen] < SEVERITY[mapped_outcome]:
                where = f"{self.origin.path}:{self.origin.line_of(('consent', written))}" if self.origin else "the mapping"
                lines.append(
                    f"--consent {status}={chosen.value} makes {status!r} less restrictive than {where} does "
                    f'({written} = "{mapped_outcome.value}"): the run\'s --consent wins, its rows are {chosen.value}'
                )
        return lines

    def check_headers(self, headers: Iterable[str]) -> None:
        """Refuse a column the mapping names, or a status rule's column prefix, that no file of the run has.

        A mapping applies to every file of a run, and sources may mix formats, so a column may
        be missing from some files; one missing from every file can do nothing: it is a typo
        (``Frist Name``) or a mapping meant for other files, and running on would plan what
        the user did not mean.

        Args:
            headers: The headers of every file of the run (as written; compared like the
                profiles compare them, trimmed and case-insensitively).

        Raises:
            InputError: ``<mapping file>:<line>: no file read has a column ...``, with the
                headers closest to it.
        """
        present = {header.strip().lower(): header.strip() for header in headers}
        for loc, column in self._named_columns():
            if column.strip().lower() in present:
                continue
            close = difflib.get_close_matches(column.strip().lower(), present, n=3, cutoff=0.6)
            hint = f": did you mean {' or '.join(repr(present[key]) for key in close)}?" if close else ""
            self._refuse(loc, f"no file read has a column {column!r}{hint}")
        for number, rule in enumerate(self.rules):
            for position, prefix in enumerate(rule.column_prefixes):
                # Matched as the rule matches it, so what is refused here is what it would not read.
                if not StatusRule(column_prefixes=(prefix,)).headers_read(list(present.values())):
                    loc = ("status", "rules", number, "column_prefixes", position)
                    self._refuse(loc, f"no file read has a column starting {prefix!r}")

    def _refuse(self, loc: Loc, problem: str) -> NoReturn:
        """Raise ``problem`` at the mapping file's line for ``loc``.

        Raises:
            InputError: Always.
        """
        raise self.origin.error(loc, problem) if self.origin else InputError("mapping", problem)

    def _named_columns(self) -> Iterator[tuple[Loc, str]]:
        """Every source column the mapping names, with where the file names it."""
        if self.email:
            yield ("email",), self.email
        for column in self.columns:
            yield ("columns", column), column
        for number, rule in enumerate(self.rules):
            for position, column in enumerate(rule.columns):
                yield ("status", "rules", number, "columns", position), column


Loc = tuple[str | int, ...]
"""Where a value is in a mapping file: its keys and list positions from the top (``("columns", "Region")``)."""


class _Spec(BaseModel):
    """A table of a mapping file: an unknown key is refused, an empty YAML value is left out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _without_empty_values(cls, data: object) -> object:
        # YAML reads a key with nothing after it (``email:``) as null: the same as no key.
        return {key: value for key, value in data.items() if value is not None} if isinstance(data, dict) else data


_Key = Annotated[str, StringConstraints(pattern=r"\S")]
"""A key naming a column or a status: kept as written (headers are trimmed when compared)."""

_Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
"""A value naming a profile, a column or a status, trimmed."""


class _StatusRuleSpec(_Spec):
    """A ``[[status.rules]]`` table (see ``StatusRule``)."""

    columns: list[_Name] = Field(default_factory=list, min_length=1)
    column_prefixes: list[_Key] = Field(default_factory=list, min_length=1)
    values: dict[str, _Name] = Field(default_factory=dict)
    when_true: _Name | None = None
    when_set: _Name | None = None
    when_present: _Name | None = None

    @model_validator(mode="after")
    def _reads_a_status(self) -> _StatusRuleSpec:
        if not (self.columns or self.column_prefixes):
            raise PydanticCustomError(
                "reads_no_column", "a status rule needs columns or column_prefixes: this one reads no column"
            )
        if not (self.values or self.when_true or self.when_set or self.when_present):
            raise PydanticCustomError(
                "reads_nothing", "a status rule needs values, when_true, when_set or when_present: this one reads nothing"
            )
        return self


class _StatusSpec(_Spec):
    """The ``[status]`` table."""

    rules: list[_StatusRuleSpec] = Field(default_factory=list)


class _MappingSpec(_Spec):
    """A mapping file's top level (the module docstring shows one)."""

    profile: _Name | None = None
    email: _Name | None = None
    date_order: _Name | None = None
    columns: dict[_Key, str] = Field(default_factory=dict)
    status: _StatusSpec = Field(default_factory=_StatusSpec)
    consent: dict[_Key, Outcome] = Field(default_factory=dict)


_KEY = "[key]"
"""The last part of a validation error's location when a key, not its value, is wrong."""

_VALIDATION_PROBLEMS = {
    "extra_forbidden": "unknown key {key}{place}{hint}",
    "string_type": "{where} must be text, not {got}",
    "dict_type": "{where} must be a table, not {got}",
    "model_type": "{where} must be a table, not {got}",
    "list_type": "{where} must be a list, not {got}",
    "too_short": "{where} is empty: name at least one column",
    "string_too_short": "{where} is empty",
    "string_pattern_mismatch": "{where} is empty",
    "enum": "{where}: unknown outcome {value} (use " + ", ".join(outcome.value for outcome in Outcome) + ")",
}
"""Validation error type → the problem, in the mapping file's own words (the keys and values
as written), not the validator's."""

_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "true/false"),
    ((int, float), "a number"),
    (str, "text"),
    (list, "a list"),
    (dict, "a table"),
    ((datetime.date, datetime.time), "a date or time"),
)
"""What a value read from TOML or YAML is, as the error calls it (bool before int: a bool is one)."""


def _validation_problem(error: Mapping) -> str:
    """A validation error of a mapping file, in one line without the validator's wording."""
    loc = tuple(error["loc"])
    is_key = loc[-1:] == (_KEY,)
    if is_key:
        loc = loc[:-1]
        where = f"the key {_shown(error['input'])} in {_dotted(loc[:-1])}"
    else:
        where = _dotted(loc)
    template = _VALIDATION_PROBLEMS.get(error["type"])
    if template is None:
        # A check of the spec's own (PydanticCustomError) says it in the mapping file's words.
        return f"{where}: {error['msg']}" if loc else error["msg"]
    keys = _keys_at(loc[:-1])
    close = difflib.get_close_matches(str(loc[-1]), keys, n=1) if loc else []
    problem = template.format(
        where=where,
        key=repr(loc[-1]) if loc else "",
        place=f" in {_dotted(loc[:-1])}" if loc[:-1] else "",
        got=_what_is(error["input"]),
        value=_shown(error["input"]),
        hint=f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(keys)})",
    )
    # YAML reads an unquoted 2024 or yes as a number or true, never as the header "2024".
    return f"{problem}: put it in quotes" if is_key and error["type"] == "string_type" else problem


def _keys_at(loc: Loc) -> list[str]:
    """The keys a mapping file may use in the table at ``loc`` (the top, ``status`` or a rule)."""
    spec: type[_Spec] = _MappingSpec
    for part in loc:
        field = spec.model_fields.get(part) if isinstance(part, str) else None
        if field is not None:
            spec = next((t for t in (field.annotation, *get_args(field.annotation)) if t in _SPECS), spec)
    return list(spec.model_fields)


def _dotted(loc: Loc) -> str:
    """``("status", "rules", 0, "when_true")`` → ``status.rules[1].when_true``; ``("columns", "First Name")`` → ``columns."First Name"``."""
    if not loc:
        return "the mapping file"
    dotted = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            dotted += f"[{part + 1}]"
        else:
            name = part if isinstance(part, str) and _BARE_KEY.fullmatch(part) else _shown(part)
            dotted += f".{name}" if dotted else name
    return dotted


def _what_is(value: object) -> str:
    """``5`` → ``a number (5)``: what a wrong value is, and the value."""
    kind = next((name for types, name in _KINDS if isinstance(value, types)), "a value")
    return f"{kind} ({_shown(value)})"


def _shown(value: object) -> str:
    """A value as TOML or YAML would write it (strings in double quotes), cut to 40 characters."""
    shown = json.dumps(value, ensure_ascii=False, default=str)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _profile_problems(spec: _MappingSpec) -> Iterator[tuple[Loc, str]]:
    """The mapping's ``profile`` when Onramp has none by that name."""
    names = profile_names()
    if spec.profile is not None and spec.profile not in names:
        close = difflib.get_close_matches(spec.profile, names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        yield ("profile",), f"no profile {spec.profile!r} ({hint}profiles: {', '.join(names)})"


def _date_order_problems(spec: _MappingSpec) -> Iterator[tuple[Loc, str]]:
    """The mapping's ``date_order`` when it names no order Onramp reads dates in."""
    if spec.date_order is not None and spec.date_order.lower() not in DATE_ORDERS:
        close = difflib.get_close_matches(spec.date_order.lower(), DATE_ORDERS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        yield ("date_order",), f"no date order {spec.date_order!r}{hint}: use {DAY_FIRST!r} (13/02/2024) or {MONTH_FIRST!r} (02/13/2024)"


def _column_problems(spec: _MappingSpec) -> Iterator[tuple[Loc, str]]:
    """Each column mapped twice (names compare trimmed and case-insensitively, as headers do)
    or sent to a property it cannot go to."""
    seen: dict[str, str] = {}
    for column, target in spec.columns.items():
        key = column.strip().lower()
        if key in seen:
            yield ("columns", column), f"column {column!r} is mapped twice (also as {seen[key]!r})"
        seen[key] = column
        refused = _refused_target(target.strip())
        if refused:
            yield ("columns", column), f"column {column!r} cannot go to {target.strip()!r}: {refused}"


def _consent_problems(spec: _MappingSpec) -> Iterator[tuple[Loc, str]]:
    """Each ``[consent]`` entry no run may make (``consent.override_refusal``: re-mapping an
    opt-out, ``unrecognised``, opt-out evidence made marketing), or naming a status no row can have.

    The profile a file is read with is only known once its headers are, so without a named
    profile a status is checked against every profile: an opt-out in any one stays an opt-out.
    """
    profiles = _candidate_profiles(spec)
    every_profile = spec.profile not in profile_names()
    rules = [StatusRule.from_data(rule.model_dump()) for rule in spec.status.rules]
    known = {status.lower() for rule in rules for status in rule.statuses()}
    for profile in profiles:
        known |= _statuses_given(profile)
    policies = {profile.name: profile.profile.consent for profile in profiles}
    for status, outcome in spec.consent.items():
        # Held to every profile, the opt-out may be a format's this mapping never meets: say
        # why, and how to name a value of the user's own file.
        refusal = override_refusal(
            status.lower(), outcome, policies, every_profile=every_profile, hint=OWN_STATUS_HINT if every_profile else ""
        )
        if refusal:
            yield ("consent", status), refusal
        elif status.lower() not in known:
            listing = (
                f"(the {spec.profile} profile's statuses: {', '.join(sorted(known))})" if spec.profile in profile_names() else None
            )
            yield ("consent", status), no_such_status(status, known, listing)


ALL_STATUSES_LISTED = "(`onramp profiles` lists each profile's statuses)"
"""Where a person finds the statuses a status was looked for among, when they are every profile's."""


def no_such_status(status: str, known: set[str], listing: str | None = None) -> str:
    """Why a consent override of ``status`` is refused when no row can have it (a typo): the
    closest of ``known`` statuses, else ``listing`` (:data:`ALL_STATUSES_LISTED` by default)."""
    close = closest_status(status, known)
    hint = f": did you mean {close!r}?" if close else f" {listing or ALL_STATUSES_LISTED}"
    return f"no row can have the status {status!r}{hint}"


def closest_status(status: str, known: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The one of ``known`` (lowercase) statuses ``status`` is most likely a typo of, if any is
    at least ``cutoff`` alike (``difflib``'s ratio)."""
    close = difflib.get_close_matches(status.lower(), list(known), n=1, cutoff=cutoff)
    return close[0] if close else None


RULE_STATUS_TYPO_CUTOFF = 0.8
"""How alike a rule's status must be to a known one to be named as its likely typo
(``unsubscibed``: 0.96). A rule may give a status of the user's own (``optout``), which a
looser match would name as a misspelt other one (Zoho's ``email_opt_out``: 0.63)."""


def statuses_any_profile_gives() -> set[str]:
    """Every status (lowercase) some bundled profile can give a row, or names an outcome for."""
    return {status for profile in all_profiles() for status in _statuses_given(profile)}


def _rule_status_problems(spec: _MappingSpec) -> Iterator[tuple[Loc, str]]:
    """Each status a ``[[status.rules]]`` entry gives that nothing gives an outcome.

    Such a status would be read as ``non_marketing`` (``DEFAULT_OUTCOME``): a rule reading an
    opt-out column into a status of its own (``optout``), or into a misspelt one
    (``unsubscibed``), would lose every opt-out it reads. A status the named profile knows
    (without one: every profile) keeps the profile's outcome. A status no profile and no
    ``[consent]`` entry knows is named with the closest one that does: most likely, it is a typo.
    """
    profiles = _candidate_profiles(spec)
    mapped = {status.lower() for status in spec.consent}
    with_outcome = mapped | {status for profile in profiles for status in profile.profile.consent.outcomes}
    for number, rule in enumerate(spec.status.rules):
        given = [
            (("when_true",), rule.when_true),
            (("when_set",), rule.when_set),
            (("when_present",), rule.when_present),
            *((("values", cell), status) for cell, status in rule.values.items()),
        ]
        for place, status in given:
            if status is None or status.lower() in mapped:
                continue
            lacking = [profile.name for profile in profiles if status.lower() not in profile.profile.consent.outcomes]
            if not lacking:
                continue
            # Named when some profiles know the status: those are why it needs one anyway.
            where = f" in {', '.join(lacking)}" if len(lacking) < len(profiles) else ""
            close = None if where else closest_status(status, with_outcome, RULE_STATUS_TYPO_CUTOFF)
            typo = f" (did you mean {close!r}?)" if close else ""
            loc = ("status", "rules", number, *place)
            yield loc, (
                f"{_dotted(loc)}: no outcome for the status {status!r}{where}{typo}: give it one under consent "
                "(" + ", ".join(outcome.value for outcome in Outcome) + ")"
            )


def _candidate_profiles(spec: _MappingSpec) -> list[ReadingProfile]:
    """The profile the mapping names, else every profile (a file's is known only from its headers).

    An unknown name is ``_profile_problems``' to refuse: until it is fixed, every profile counts.
    """
    return [reading_profile(spec.profile)] if spec.profile in profile_names() else all_profiles()




def _statuses_given(profile: ReadingProfile) -> set[str]:
    """Every status (lowercase) a profile can give a row, or names an outcome for."""
    given = {status for rule in profile.rules for status in rule.statuses()}
    given |= {status for _, status in profile.file_statuses} | {profile.default_status}
    if profile.name != FALLBACK_PROFILE:
        # Every other profile's files borrow the fallback's opt-out flags
        # (``catalog.reading_fallback_opt_outs``), a Mailchimp export's merge fields too.
        given.add(OPT_OUT_FLAG_UNCONFIRMED_STATUS)
    return {status.lower() for status in given | set(profile.profile.consent.outcomes)}


_MAPPING_CHECKS = (_profile_problems, _date_order_problems, _column_problems, _consent_problems, _rule_status_problems)
"""What is checked once a mapping file has the right shape; the earliest problem in the file is refused."""

_SPECS = (_MappingSpec, _StatusSpec, _StatusRuleSpec)
"""Every table a mapping file may have."""


HUBSPOT_CONSENT_PROPERTIES = frozenset({
    "hs_email_optout", "hs_marketable_status", "hs_marketable_reason_id", "hs_marketable_reason_type",
    "hs_marketable_until_renewal", "hs_legal_basis", "hs_email_bad_address", "hs_email_hard_bounce_reason",
    "hs_email_hard_bounce_reason_enum", "hs_email_quarantined",
})
"""HubSpot's own consent and deliverability properties (and every ``hs_email_optout_<id>``, one
per subscription type): a column sent straight to one would set consent behind the outcomes,
where no opt-out rule could see it. Consent goes through ``[[status.rules]]`` and ``[consent]``."""
_SUBSCRIPTION_OPT_OUT_PREFIX = "hs_email_optout_"

HUBSPOT_SET_PROPERTIES = frozenset({"hs_object_id", "createdate", "lastmodifieddate"})
"""Contact properties HubSpot sets itself and an import cannot write. A column sent to one
failed only at load, after the plan and every import before it; ``hs_object_id`` is worse:
an import matches records by it, so another system's record IDs would update whichever
contacts of this portal happen to hold them."""


def _refused_target(target: str) -> str | None:
    """Why a mapping cannot send a source column to the property ``target``, or None."""
    if not target:
        return "no property named"
    if target == EMAIL:
        return 'the email column is named by email = "<column>", outside [columns]'
    if target in ONRAMP_COLUMNS or target.startswith("_"):
        return "Onramp sets that column itself"
    if target in HUBSPOT_CONSENT_PROPERTIES or target.startswith(_SUBSCRIPTION_OPT_OUT_PREFIX):
        return "that is HubSpot's consent: read a consent column with [[status.rules]] and [consent] instead"
    if target in HUBSPOT_SET_PROPERTIES:
        return "HubSpot sets that property itself (read-only): send the column to a property of your own"
    if len(target) > MAX_PROPERTY_NAME_LENGTH:
        return f"a HubSpot property name has at most {MAX_PROPERTY_NAME_LENGTH} characters"
    if not PROPERTY_NAME.fullmatch(target):
        suggestion = property_slug(target)
        usable = PROPERTY_NAME.fullmatch(suggestion) and _refused_target(suggestion) is None
        hint = f" (did you mean {suggestion!r}?)" if usable else ""
        return f"a HubSpot property name is lowercase letters, digits and underscores, starting with a letter{hint}"
    return None


@dataclass(frozen=True)
class MappingText:
    """A mapping file as read: its path, its text, and the line of each key in it.

    Attributes:
        path: The file, as the user named it.
        text: Its contents.
    """

    path: str
    text: str

    @classmethod
    def read(cls, path: str | Path) -> MappingText:
        """Read a mapping file's text.

        Raises:
            InputError: It cannot be read, or is not UTF-8 (naming the line of the first bad byte).
        """
        try:
            raw = Path(path).read_bytes()
        except OSError as error:
            raise InputError(str(path), f"cannot read the mapping file: {error.strerror or type(error).__name__}") from None
        try:
            return cls(str(path), raw.decode("utf-8"))
        except UnicodeDecodeError as error:
            line = raw[: error.start].count(b"\n") + 1
            raise InputError(str(path), f"not UTF-8 text (byte 0x{raw[error.start]:02x})", line=line) from None

    @property
    def is_yaml(self) -> bool:
        """Whether the file is YAML (by its suffix); anything else is read as TOML."""
        return Path(self.path).suffix.lower() in {".yaml", ".yml"}

    def data(self) -> object:
        """The file's contents as Python data (an empty YAML file is an empty table).

        Raises:
            InputError: Not valid TOML or YAML, naming the line the parser stopped at.
        """
        if self.is_yaml:
            try:
                data = yaml.safe_load(self.text)
            except yaml.YAMLError as error:
                mark = getattr(error, "problem_mark", None)
                line = mark.line + 1 if mark else None
                raise InputError(self.path, f"not valid YAML: {getattr(error, 'problem', None) or error}", line=line) from None
            return {} if data is None else data
        try:
            return tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as error:
            # tomllib (3.11) says where only in its message: "... (at line 1, column 9)".
            where = _TOML_ERROR_PLACE.search(str(error))
            problem = _TOML_ERROR_PLACE.sub("", str(error))
            line = int(where["line"]) if where and where["line"] else self.text.count("\n") + 1
            raise InputError(self.path, f"not valid TOML: {problem}", line=line) from None

    def first_error(self, problems: Iterable[tuple[Loc, str]]) -> InputError:
        """The refusal of the problem that comes first in the file."""
        loc, problem = min(problems, key=lambda found: self.line_of(found[0]))
        return self.error(loc, problem)

    def error(self, loc: Loc, problem: str) -> InputError:
        """A refusal naming this file and the line of ``loc``."""
        return InputError(self.path, problem, line=self.line_of(loc))

    def line_of(self, loc: Loc) -> int:
        """The line of the deepest key or list item of ``loc`` the file has (1 for the top)."""
        lines = self._key_lines
        return next((lines[loc[:depth]] for depth in range(len(loc), 0, -1) if loc[:depth] in lines), 1)

    @cached_property
    def _key_lines(self) -> dict[Loc, int]:
        # Found only when a refusal needs a line: a good file is never walked twice.
        return _yaml_key_lines(self.text) if self.is_yaml else _toml_key_lines(self.text)


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
"""A key TOML writes without quotes."""

_TOML_ERROR_PLACE = re.compile(r" \(at (?:line (?P<line>\d+), column \d+|end of document)\)$")

_TOML_KEY_PART = r"""(?:"(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)"""
_TOML_KEY = rf"{_TOML_KEY_PART}(?:\s*\.\s*{_TOML_KEY_PART})*"
_TOML_TABLE_LINE = re.compile(rf"\s*(?P<array>\[?)\[\s*(?P<key>{_TOML_KEY})\s*\]")
_TOML_KEY_LINE = re.compile(rf"\s*(?P<key>{_TOML_KEY})\s*=")


def _toml_key_lines(text: str) -> dict[Loc, int]:
    """The line of each table, array-of-tables entry and key of a (valid) TOML file.

    tomllib keeps no positions, so the lines are found again: a ``[table]`` or ``[[table]]``
    line sets where the keys below it go, and ``key =`` names one (a key inside an inline
    table or a multi-line array is found at its table's line).
    """
    lines: dict[Loc, int] = {}
    entries: dict[Loc, int] = {}
    table: Loc = ()
    for number, line in enumerate(text.splitlines(), start=1):
        heading = _TOML_TABLE_LINE.match(line)
        assignment = None if heading else _TOML_KEY_LINE.match(line)
        try:
            key = _toml_key_path((heading or assignment)["key"]) if heading or assignment else None
        except tomllib.TOMLDecodeError:
            # A line of a multi-line string that looks like a key: not one.
            key = None
        if key is None:
            continue
        if heading:
            table = key
            if heading["array"]:
                entries[table] = entries.get(table, -1) + 1
                table = (*table, entries[table])
            found = [table[:depth] for depth in range(1, len(table) + 1)]
        else:
            found = [(*table, *key[:depth]) for depth in range(1, len(key) + 1)]
        for loc in found:
            lines.setdefault(loc, number)
    return lines


def _toml_key_path(key: str) -> Loc:
    """``status.rules`` → ``("status", "rules")``; ``"First Name"`` → ``("First Name",)``."""
    table = tomllib.loads(f"{key} = 0")
    path: list[str] = []
    while isinstance(table, dict):
        name, table = next(iter(table.items()))
        path.append(name)
    return tuple(path)


def _yaml_key_lines(text: str) -> dict[Loc, int]:
    """The line of each key and list item of a (valid) YAML file, keys as YAML reads them."""
    lines: dict[Loc, int] = {}
    constructor = yaml.SafeLoader("")
    pending: list[tuple[Loc, yaml.Node | None]] = [((), yaml.compose(text))]
    visited: set[int] = set()
    while pending:
        loc, node = pending.pop()
        if id(node) in visited:
            # An alias names a node already walked (maybe its own parent): its lines are known.
            continue
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            children = [((*loc, constructor.construct_object(key)), key, value) for key, value in node.value]
        elif isinstance(node, yaml.SequenceNode):
            children = [((*loc, position), item, item) for position, item in enumerate(node.value)]
        else:
            continue
        for child, named_at, value in children:
            if isinstance(child[-1], Hashable):
                lines.setdefault(child, named_at.start_mark.line + 1)
                pending.append((child, value))
    return lines
