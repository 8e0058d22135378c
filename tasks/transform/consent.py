"""Consent outcomes: what a source status means for HubSpot, as data.

Every contact ends in exactly one outcome. When rows of one email disagree, the most
restrictive outcome wins (``opted_out`` > ``non_marketing`` > ``marketing``), and an opt-out
signal can never be re-mapped by a run's policy: it is the one promise Onramp never bends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

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
(``--consent`` and a mapping's ``[consent]`` refuse a status no profile gives): a mapping's
``[[status.rules]]`` reads the value instead."""

NAME_DISAGREES_STATUS = "name_disagrees"
"""The status of a row whose file (or sheet) name says an opt-out while its own consent cells
say something else (``bounces.csv`` whose row's Email Status is ``Active``, ``unsubscribes.csv``
whose Unsubscribed is ``FALSE``): the name may be a brand or a topic
(``Bounce_Trampoline_Parks.csv``), and an opt-out HubSpot is told cannot be undone by an API
client, so the row is neither opted out nor marketing; the report names such rows."""

NEVER_MARKETING_STATUSES = frozenset({NAME_DISAGREES_STATUS, "opted_out_of_a_subscription"})
"""Statuses that are evidence of an opt-out, though not a final one (a file's name; HubSpot's
opt-out of one subscription): a run may make them opted out or leave them non-marketing, never
marketing."""


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

    def outcome_of(self, status: str) -> Outcome:
        """The outcome of a row with this source status."""
        return self.outcomes.get(status.lower(), DEFAULT_OUTCOME)

    def with_overrides(self, overrides: Mapping[str, str]) -> ConsentPolicy:
        """A copy with a run's overrides applied.

        Raises:
            InputError: An override names an unknown outcome, tries to re-map an opt-out status,
                or maps a ``NEVER_MARKETING_STATUSES`` status to marketing.
        """
        outcomes = dict(self.outcomes)
        for status, value in overrides.items():
            status = status.lower()
            outcome = _parse_outcome(self.format, status, value)
            if status in self.opt_out_statuses and outcome is not Outcome.OPTED_OUT:
                raise InputError(
                    "consent policy",
                    f"{self.format} status {status!r} is an opt-out and cannot be mapped to {outcome.value}",
                )
            if status in NEVER_MARKETING_STATUSES and outcome is Outcome.MARKETING:
                raise InputError(
                    "consent policy",
                    f"{self.format} status {status!r} is evidence of an opt-out and cannot be mapped to marketing "
                    f"(use {Outcome.NON_MARKETING.value} or {Outcome.OPTED_OUT.value})",
                )
            outcomes[status] = outcome
        return ConsentPolicy(self.format, outcomes, self.opt_out_statuses)

    def status_outcome_expr(self, status: pl.Expr) -> pl.Expr:
        """A polars expression giving the outcome (as a string) of each row's status."""
        return (
            status.str.to_lowercase()
            .replace_strict({s: o.value for s, o in self.outcomes.items()}, default=DEFAULT_OUTCOME.value)
            .cast(pl.String)
        )


def _parse_outcome(format: str, status: str, value: str) -> Outcome:
    try:
        return Outcome(value)
    except ValueError:
        allowed = ", ".join(o.value for o in Outcome)
        raise InputError("consent policy", f"{format} status {status!r}: unknown outcome {value!r} (use {allowed})") from None


def severity_expr(outcome: pl.Expr) -> pl.Expr:
    """The severity (0..2) of an outcome column, for taking the most restrictive one."""
    return outcome.replace_strict({o.value: s for o, s in SEVERITY.items()}, return_dtype=pl.Int8)


def outcome_from_severity_expr(severity: pl.Expr) -> pl.Expr:
    """The inverse of :func:`severity_expr`."""
    return severity.replace_strict({s: o.value for o, s in SEVERITY.items()}, return_dtype=pl.String)
