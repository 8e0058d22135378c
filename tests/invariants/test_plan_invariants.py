"""The plan's promises, over random mixes of Mailchimp status files (hypothesis).

Each example writes a few export folders (one CSV per status, rows in random order, the same
people in several files under case and whitespace variants, invalid rows, formula-like names)
and plans them through the plain functions. Whatever the mix, the order of the sources or the
run's consent overrides:

- the ledger balances, and counts every row written and every invalid row;
- an email with an opt-out signal anywhere is in an opt-out file and in no contacts file;
- each email's outcome is the most restrictive of its rows under the run's policy;
- an invalid row of an opt-out still opts out an address HubSpot can hold (``=cmd@example.org``,
  no contact's as it starts like a formula);
- planning the same inputs twice writes byte-identical files.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasks.errors import InputError
from tasks.load.plan import unneutralise
from tasks.transform.consent import SEVERITY, Outcome
from tasks.transform.profile import load_profile
from tasks.transform.rejected_opt_outs import UNMATCHED_FILE
from tests.plain_plan import plan
from tests.reliability.scale import fuzz_examples, long_run
from tests.written_files import column, formula_cells, tree, written_csvs

DEFAULT_POLICY = load_profile("mailchimp").consent
OPT_OUT_STATUSES = sorted(DEFAULT_POLICY.opt_out_statuses)
OTHER_STATUSES = ["subscribed", "nonsubscribed", "transactional", "sms_only"]
STATUSES = OTHER_STATUSES + OPT_OUT_STATUSES
PEOPLE = [f"person{n}@example.org" for n in range(8)]
FORMULA_LIKE_EMAIL = "=cmd@example.org"
"""Invalid as a contact's address, but one HubSpot holds: a rejected opt-out row of it opts it out."""
INVALID_EMAILS = ["", "   ", "not-an-email", FORMULA_LIKE_EMAIL, "a@@example.org", "no-domain@"]
NAMES = ["Ann", "", "=HYPERLINK(\"http://x\")", "+cmd", "-2+3", "@SUM(A1)", "-5", "+1 619 305 8111", "Zoë"]
HEADER = ["Email Address", "First Name", "LAST_CHANGED"]

# CI runs a bounded, fixed sample; ONRAMP_FUZZ_EXAMPLES=N runs N fresh examples per invariant
# (tests/reliability/scale.py; `python -m benchmarks.reliability` runs them and keeps the figures).
EXAMPLES = settings(
    max_examples=fuzz_examples(25),
    deadline=None,
    derandomize=not long_run(),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@dataclass(frozen=True)
class Row:
    """One generated export row: ``person`` indexes PEOPLE, None for an invalid row."""

    status: str
    person: int | None
    email: str
    name: str
    changed: str


@st.composite
def rows(draw) -> Row:
    status = draw(st.sampled_from(STATUSES))
    name = draw(st.sampled_from(NAMES))
    changed = draw(st.sampled_from(["", "2024-01-02 03:04:05", "2025-06-07 08:09:10"]))
    if draw(st.integers(0, 5)) == 0:
        return Row(status, None, draw(st.sampled_from(INVALID_EMAILS)), name, changed)
    person = draw(st.integers(0, len(PEOPLE) - 1))
    email = PEOPLE[person]
    # HubSpot compares emails trimmed and lowercased, so must the plan.
    email = draw(st.sampled_from([email, email.upper(), email.title(), f"  {email} ", f"\t{email.upper()}"]))
    return Row(status, person, email, name, changed)


overrides = st.dictionaries(st.sampled_from(OTHER_STATUSES), st.sampled_from([o.value for o in Outcome]), max_size=2)

MIXES = {
    "all_rows": st.lists(rows(), min_size=1, max_size=30),
    "split": st.integers(1, 3),
    "policy_overrides": overrides,
    "order": st.randoms(use_true_random=False),
}
"""One example's inputs: the rows, how many sources they are split over, the run's consent
overrides, and a random source to shuffle the order of the sources with."""


@dataclass(frozen=True)
class Inputs:
    """The sources written for one example, and what they hold."""

    sources: list[str]
    rows: list[Row]


def write_sources(folder: Path, all_rows: list[Row], split: int) -> Inputs:
    """Write the rows as export folders: ``split`` sources, one CSV per status in each."""
    files: dict[tuple[int, str], list[Row]] = defaultdict(list)
    for number, row in enumerate(all_rows):
        files[(number % split, row.status)].append(row)
    for (source, status), members in files.items():
        path = folder / f"source{source}" / f"{status}_email_audience_export_ab12.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            writer.writerows([row.email, row.name, row.changed] for row in members)
    return Inputs(sorted(str(p) for p in folder.iterdir()), all_rows)


def expected_outcomes(inputs: Inputs, policy_overrides: dict[str, str]) -> dict[str, str]:
    """The most restrictive outcome of each valid person's rows under the run's policy, and the
    opt-out of the formula-like address when an invalid row of an opt-out names it."""
    policy = DEFAULT_POLICY.with_overrides(policy_overrides)
    worst: dict[str, Outcome] = {}
    for row in inputs.rows:
        if row.person is None:
            if row.email == FORMULA_LIKE_EMAIL and policy.outcome_of(row.status) == Outcome.OPTED_OUT:
                worst[FORMULA_LIKE_EMAIL] = Outcome.OPTED_OUT
            continue
        outcome = policy.outcome_of(row.status)
        email = PEOPLE[row.person]
        if email not in worst or SEVERITY[outcome] > SEVERITY[worst[email]]:
            worst[email] = outcome
    return {email: outcome.value for email, outcome in worst.items()}


def planned_outcomes(output: Path) -> dict[str, list[str]]:
    """Email → the outcome of every file it was written to (contacts or opt-out), each address as
    the load reads it (without the apostrophe a formula-like cell is written with)."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in written_csvs(output / "hubspot"):
        if path.name.startswith("opt-out-"):
            header = "email" if path.name == Path(UNMATCHED_FILE).name else "Email"
            emails, outcome = map(unneutralise, column(path, header)), Outcome.OPTED_OUT.value
        else:
            emails = column(path, "email")
            marketing = path.name.startswith("contacts-marketing-")
            outcome = Outcome.MARKETING.value if marketing else Outcome.NON_MARKETING.value
        for email in emails:
            found[email].append(outcome)
    return found


@pytest.fixture
def workdir():
    """A fresh folder per hypothesis example (tmp_path is shared by every example)."""
    folder = Path(tempfile.mkdtemp(prefix="onramp-invariants-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.timeout(120)
@EXAMPLES
@given(**MIXES)
def test_ledger_consent_and_outcomes_hold_for_any_mix(workdir, all_rows, split, policy_overrides, order):
    case = Path(tempfile.mkdtemp(dir=workdir))
    inputs = write_sources(case / "in", all_rows, split)
    sources = list(inputs.sources)
    order.shuffle(sources)

    report = plan(sources, case / "out", policy_overrides)

    # The ledger balances, and it counts what was written, not what the plan chose to read.
    invalid = sum(row.person is None for row in all_rows)
    assert report["rows_read"] == len(all_rows)
    assert report["rows_rejected"] == invalid
    assert report["rows_read"] == report["rows_rejected"] + report["duplicates_merged"] + sum(report["contacts"].values())
    assert len(column(case / "out" / "rejects.csv", "reason")) == invalid

    expected = expected_outcomes(inputs, policy_overrides)
    planned = planned_outcomes(case / "out")
    # Every valid email is in exactly one file, with the most restrictive outcome of its rows.
    assert planned == {email: [outcome] for email, outcome in expected.items()}
    # An opt-out signal anywhere is final, whatever the overrides.
    signalled = {PEOPLE[r.person] for r in all_rows if r.person is not None and r.status in OPT_OUT_STATUSES}
    assert all(planned[email] == [Outcome.OPTED_OUT.value] for email in signalled)
    assert formula_cells(case / "out") == []


@pytest.mark.timeout(120)
@EXAMPLES
@given(**{name: MIXES[name] for name in ("all_rows", "split", "policy_overrides")})
def test_planning_the_same_inputs_twice_writes_identical_bytes(workdir, all_rows, split, policy_overrides):
    case = Path(tempfile.mkdtemp(dir=workdir))
    inputs = write_sources(case / "in", all_rows, split)

    plan(inputs.sources, case / "first", policy_overrides)
    plan(inputs.sources, case / "second", policy_overrides)

    assert tree(case / "first") == tree(case / "second")


@pytest.mark.timeout(120)
@EXAMPLES
@given(**MIXES)
def test_outcomes_do_not_depend_on_the_order_of_the_sources(workdir, all_rows, split, policy_overrides, order):
    case = Path(tempfile.mkdtemp(dir=workdir))
    inputs = write_sources(case / "in", all_rows, split)
    shuffled = list(inputs.sources)
    order.shuffle(shuffled)

    plan(inputs.sources, case / "given", policy_overrides)
    plan(shuffled, case / "shuffled", policy_overrides)

    assert planned_outcomes(case / "given") == planned_outcomes(case / "shuffled")


@settings(max_examples=fuzz_examples(20), deadline=None, derandomize=not long_run())
@given(
    status=st.sampled_from(OPT_OUT_STATUSES),
    spelling=st.sampled_from([str.lower, str.upper, str.title]),
    outcome=st.sampled_from([Outcome.MARKETING.value, Outcome.NON_MARKETING.value]),
)
def test_no_override_turns_an_opt_out_into_a_subscription(status, spelling, outcome):
    with pytest.raises(InputError, match="opt-out"):
        DEFAULT_POLICY.with_overrides({spelling(status): outcome})
