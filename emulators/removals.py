"""Records deleted mid-read, as the provider emulators' ``removals`` setting asks: the fault
behind a paged read that must not skip records when the collection shrinks under it."""

from __future__ import annotations

from typing import TypeVar

Record = TypeVar("Record")
Removal = tuple[int, int, int]
"""``(offset of the page after which it happens, index of the first record removed, count)``."""


def remove_due(removals: list[Removal], served_from: int, records: list[Record]) -> list[Record]:
    """Apply the removal due once the page starting at ``served_from`` was served.

    Args:
        removals: The pending removals; the one applied is taken out (each happens once).
        served_from: The offset of the page just served.
        records: The collection, edited in place.

    Returns:
        The records removed (none when no removal is due).
    """
    due = next((removal for removal in removals if removal[0] == served_from), None)
    if due is None:
        return []
    removals.remove(due)
    _, index, count = due
    removed = records[index : index + count]
    del records[index : index + count]
    return removed
