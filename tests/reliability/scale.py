"""How hard the reliability tests try: a bounded sample in CI, more behind environment flags.

- ``ONRAMP_FUZZ_EXAMPLES``: hypothesis examples per invariant (CI: the tests' own defaults).
- ``ONRAMP_CRASH_KILLS``: SIGKILLs per crash test, each at a seeded random point (CI: 2).
- ``ONRAMP_CRASH_SEED``: the seed of the kill points (default 8; any seed replays its run).

``ONRAMP_FUZZ_EXAMPLES=2000 ONRAMP_CRASH_KILLS=8 pytest tests/invariants tests/reliability``
is the long run; ``python -m benchmarks.reliability`` runs it and writes the figures.
"""

from __future__ import annotations

import os


def fuzz_examples(default: int) -> int:
    return int(os.environ.get("ONRAMP_FUZZ_EXAMPLES", default))


def crash_kills(default: int = 2) -> int:
    return int(os.environ.get("ONRAMP_CRASH_KILLS", default))


def crash_seed(default: int = 8) -> int:
    return int(os.environ.get("ONRAMP_CRASH_SEED", default))


def long_run() -> bool:
    """Whether the long run was asked for: fresh random examples instead of CI's fixed ones."""
    return "ONRAMP_FUZZ_EXAMPLES" in os.environ
