"""Consent outcomes: what a source status means for HubSpot, as data.

Every contact ends in exactly one outcome. When rows of one email disagree, the most
restrictive outcome wins (``opted_out`` > ``non_marketing`` > ``marketing``), and an opt-out
signal can never be re-mapped by a run's policy: it is the one promise Onramp never bends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

import polars as pl

from tasks.errors import InputError


class Outcome(StrEnum):
    """Where a contact ends up in HubSpot."""

    MARKETING = "marketing"
    NON_MARKETING = "non_marketing"
    OPTED_OUT = "opted_out"


SEVERITY: Mapping[Outcome, int] = {
    Outcome.MARKETING: 0,
    Outcome.NON_MARKETING: 1,
    Outcome.OPTED_OUT: 2,
}
"""How restrictive each outcome is; the highest of an email's rows wins."""

DEFAULT_OUTCOME = Outcome.NON_MARKETING
"""A status no policy names is imported, but never as a marketing contact."""

UNRECOGNISED_STATUS = "unrecognised"
"""The status of a row whose consent cell holds a value no rule reads (and that nothing reads as
an opt-out). No policy names it, so its outcome is ``DEFAULT_OUTCOME``; a run cannot re-map it
(``--consent``, an account's ``consent_overrides`` and a mapping's ``[consent]`` refuse it,
``UNRECOGNISED_REFUSAL``): the values behind it differ (``maybe``, ``Lapsed``, a misspelt
``unsubscribed``), so one outcome for all of them is wrong for some: marketing would market an
opt-out no rule knows, opted out (which an API client cannot undo in HubSpot) would opt out
contacts who never did. A mapping's ``[[status.rules]]`` reads each value instead."""

UNRECOGNISED_REFUSAL = (
    f"{UNRECOGNISED_STATUS!r} (a value no rule reads) cannot be re-mapped: "
    "read the value with a mapping file's [[status.rules]]"
)
"""Why an override of ``UNRECOGNISED_STATUS`` is refused."""

NAME_DISAGREES_STATUS = "name_disagrees"
"""The status of a row whose file (or sheet) name says an opt-out while its own consent cells
say something else (``bounces.csv`` whose row's Email Status is ``Active``, ``unsubscribes.csv``
whose Unsubscribed is ``FALSE``): the name may be a brand or a topic
(``Bounce_Trampoline_Parks.csv``), and an opt-out HubSpot is told cannot be undone by an API
client, so the row is neither opted out nor marketing; the report names such rows."""

OPT_OUT_FLAG_UNCONFIRMED_STATUS = "opt_out_flag_unconfirmed"
"""The status of a row whose opt-out or bounce flag is set in a column its file's profile does
not read itself, only the fallback profile does (``catalog.reading_fallback_opt_outs``: a
HubSpot export's ``Bounced``, a Salesforce ``Do Not Mail``): the column may merely share a
flag's name (a count of bounces, a postal preference), and an opt-out HubSpot is told cannot be
undone by an API client, so, like ``NAME_DISAGREES_STATUS``, the row is neither opted out nor
marketing unless the run confirms it (``--consent opt_out_flag_unconfirmed=opted_out``); the
report names such rows."""

DECLINED_STATUS = "declined"
"""The status of a row whose consent column explicitly says no (``Marketing Consent=no``,
``Subscribed=0``; a ``when_false`` rule). It is kept apart from a row with no consent at all (a
blank cell, no consent column), which a run may make marketing (``--consent
no_consent=marketing``: consent implied by how the list was collected): a refusal is never
marketing (``DECLINED_REFUSAL``), and it says nothing of an opt-out, so a run may leave it
non-marketing or make it opted out."""

DECLINED_REFUSAL = (
    f"status {DECLINED_STATUS!r} (a consent column saying no) cannot be mapped to marketing "
    f"(use {Outcome.NON_MARKETING.value} or {Outcome.OPTED_OUT.value})"
)
"""Why an override making ``DECLINED_STATUS`` marketing is refused."""

NEVER_MARKETING_STATUSES = frozenset(
    {NAME_DISAGREES_STATUS, OPT_OUT_FLAG_UNCONFIRMED_STATUS, "opted_out_of_a_subscription"}
)
"""Statuses that are evidence of an opt-out, though not a final one (a file's name; a flag read
beside a profile that does not read it; HubSpot's opt-out of one subscription): a run may make
them opted out or leave them non-marketing, never marketing."""


@dataclass(frozen=True)
class ConsentPolicy:
    """Status → outcome for one source format.

    Attributes:
        format: The source format the statuses belong to.
        outcomes: Lowercase status → outcome.
        opt_out_statuses: Statuses that signal an opt-out; they always map to ``opted_out``.
    """

    format: str
    outcomes: Mapping[str, Outcome]
    opt_out_statuses: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_mapping(cls, format: str, mapping: Mapping[str, str]) -> ConsentPolicy:
        """Build the default policy of a format from its profile's ``[consent]`` table."""
        outcomes = {status.lower(): _parse_outcome(format, status, value) for status, value in mapping.items()}
        opt_outs = frozenset(s for s, o in outcomes.items() if o is Outcome.OPTED_OUT)
        return cls(format=format, outcomes=outcomes, opt_out_statuses=opt_outs)

    def outcome_of(self, status: str | None) -> Outcome:
        """The outcome of a row with this source status; of a row with none (a Mailchimp
        member the API gives no status) the default, as ``status_outcome_expr`` gives it."""
        return DEFAULT_OUTCOME if status is None else self.outcomes.get(status.lower(), DEFAULT_OUTCOME)

    def with_overrides(self, overrides: Mapping[str, str]) -> ConsentPolicy:
        """A copy with a run's overrides applied.

        Raises:
            InputError: An override names an unknown outcome, or is one no run may make
                (``override_refusal``): it re-maps an opt-out status or ``unrecognised``, or
                maps ``DECLINED_STATUS`` or a ``NEVER_MARKETING_STATUSES`` status to marketing.
        """
        outcomes = dict(self.outcomes)
        for status, value in overrides.items():
            status = status.lower()
            outcome = _parse_outcome(self.format, status, value)
            refusal = override_refusal(status, outcome, applied_to=self)
            if refusal:
                raise InputError("consent policy", refusal)
            outcomes[status] = outcome
        return ConsentPolicy(self.format, outcomes, self.opt_out_statuses)

    def weakens_opt_out(self, status: str, outcome: Outcome) -> bool:
        """Whether giving ``status`` this outcome would weaken one of this policy's opt-outs."""
        return status.lower() in self.opt_out_statuses and outcome is not Outcome.OPTED_OUT

    def status_outcome_expr(self, status: pl.Expr) -> pl.Expr:
        """A polars expression giving the outcome (as a string) of each row's status."""
        return (
            status.str.to_lowercase()
            .replace_strict({s: o.value for s, o in self.outcomes.items()}, default=DEFAULT_OUTCOME.value)
            .cast(pl.String)
        )


EVERY_PROFILE_HOLDS = "an override holds for every profile: which one reads a file is known only once it is read"
"""Why an override is held to the opt-outs of profiles a run may not read: said in the refusal,
or an opt-out of a format the user never gave (Klaviyo's ``suppressed``) reads as a mistake."""

OWN_STATUS_HINT = (
    "to give a value of your own file an outcome, read it as a status of your own with a mapping's "
    "[[status.rules]] and map that status under [consent]"
)
"""How to do what an override refused for another profile's opt-out most often meant: a value of
the user's own file (read as the profile reading it says, so a mapping's rule can never weaken
an opt-out its profile reads)."""


def override_refusal(
    status: str,
    outcome: Outcome,
    held_to: Mapping[str, ConsentPolicy] = MappingProxyType({}),
    *,
    every_profile: bool = False,
    hint: str = "",
    applied_to: ConsentPolicy | None = None,
) -> str | None:
    """Why no run may give ``status`` this outcome, or None: the rules every override (a run's
    ``--consent``, an account's ``consent_overrides``, a mapping's ``[consent]``) is held to.

    Args:
        status: The status, lowercase.
        outcome: The outcome the override gives it.
        held_to: Name to show (a profile's) → its policy: those whose opt-outs the override
            may not weaken (``ConsentPolicy.weakens_opt_out``) before a file's profile is
            known; the refusal names those it would weaken one of.
        every_profile: ``held_to`` is every bundled profile, not only those of the run (which
            are not known yet): the refusal says why (:data:`EVERY_PROFILE_HOLDS`).
        hint: What to do instead, added to the refusal of an opt-out of ``held_to`` re-mapped
            (:data:`OWN_STATUS_HINT` where a mapping file can be used).
        applied_to: The policy of the format a file is read as, which the override is being
            applied to (``ConsentPolicy.with_overrides``): the refusal of one of its opt-outs
            names the format.
    """
    if status == UNRECOGNISED_STATUS:
        return UNRECOGNISED_REFUSAL
    if applied_to is not None and applied_to.weakens_opt_out(status, outcome):
        return f"{applied_to.format} status {status!r} is an opt-out and cannot be mapped to {outcome.value}"
    opt_out_in = [name for name, policy in held_to.items() if policy.weakens_opt_out(status, outcome)]
    if opt_out_in:
        profiles = f"the {', '.join(opt_out_in)} profile{'s' if len(opt_out_in) > 1 else ''}"
        why = f" ({EVERY_PROFILE_HOLDS})" if every_profile else ""
        then = f"; {hint}" if hint else ""
        return f"status {status!r} is an opt-out in {profiles}{why} and cannot be mapped to {outcome.value}{then}"
    if status == DECLINED_STATUS and outcome is Outcome.MARKETING:
        return DECLINED_REFUSAL
    if status in NEVER_MARKETING_STATUSES and outcome is Outcome.MARKETING:
        return (
            f"status {status!r} is evidence of an opt-out and cannot be mapped to marketing "
            f"(use {Outcome.NON_MARKETING.value} or {Outcome.OPTED_OUT.value})"
        )
    return None


def first_refused_override(
    overrides: Mapping[str, str], policies: Mapping[str, ConsentPolicy], hint: str = ""
) -> tuple[str, str] | None:
    """The first override no run may make while any of ``policies`` could read a row, and why.

    A run's overrides apply to whatever its files turn out to be, so each is held to every
    policy it could meet: an opt-out in any one stays an opt-out, named by the policies that
    make it one, and the refusal says so (:data:`EVERY_PROFILE_HOLDS`).

    Args:
        overrides: Status → outcome, as given.
        policies: Name to show (a profile's) → its policy: every bundled profile's.
        hint: What to do instead, added to the refusal of an opt-out re-mapped (``override_refusal``).

    Returns:
        The override's status, as given, and why it is refused (an unknown outcome included);
        None when every override may be made.
    """
    for status, value in overrides.items():
        try:
            outcome = Outcome(value)
        except ValueError:
            return status, _unknown_outcome(status.lower(), value)
        refusal = override_refusal(status.lower(), outcome, policies, every_profile=True, hint=hint)
        if refusal:
            return status, refusal
    return None


def _parse_outcome(format: str, status: str, value: str) -> Outcome:
    try:
        return Outcome(value)
    except ValueError:
        raise InputError("consent policy", f"{format} {_unknown_outcome(status, value)}") from None


def _unknown_outcome(status: str, value: str) -> str:
    allowed = ", ".join(o.value for o in Outcome)
    return f"status {status!r}: unknown outcome {value!r} (use {allowed})"


def severity_expr(outcome: pl.Expr) -> pl.Expr:
    """The severity (0..2) of an outcome column, for taking the most restrictive one."""
    return outcome.replace_strict({o.value: s for o, s in SEVERITY.items()}, return_dtype=pl.Int8)


def outcome_from_severity_expr(severity: pl.Expr) -> pl.Expr:
    """The inverse of :func:`severity_expr`."""
    return severity.replace_strict({s: o.value for o, s in SEVERITY.items()}, return_dtype=pl.String)
