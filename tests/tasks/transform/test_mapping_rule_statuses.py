"""A mapping's ``[[status.rules]]`` may read a flag as the profiles' own rules do (``when_set``:
a yes-word or a date), and every status a rule gives is checked when the mapping is read: a
misspelt one, which would have made its rows non-marketing, is refused naming the closest status."""

from __future__ import annotations

import polars as pl
import pytest

from tasks.errors import InputError
from tasks.transform.catalog import UNRECOGNISED_STATUS, reading_profile
from tasks.transform.mapping_file import UserMapping

HEADERS = ["Email", "Left At"]


def status_of(mapping: UserMapping, cell: str | None) -> str:
    """The status a plain file's row with ``Left At`` holding ``cell`` gets under ``mapping``."""
    profile = reading_profile("generic").with_mapping(mapping)
    frame = pl.DataFrame([["a@x.com", cell]], schema=dict.fromkeys(HEADERS, pl.String), orient="row")
    return frame.select(profile.status_expr(HEADERS)).item()


@pytest.mark.parametrize(
    ("cell", "status"),
    [
        ("2024-03-01", "left"),
        ("3/4/2024 1:05 PM", "left"),
        ("yes", "left"),
        ("no", "no_consent"),
        ("0000-00-00", "no_consent"),
        (None, "no_consent"),
        # Neither set nor unset: never read as the flag on a guess.
        ("maybe", UNRECOGNISED_STATUS),
    ],
)
def test_a_mapping_rule_reads_a_flag_set_by_a_yes_word_or_a_date(tmp_path, cell, status):
    path = tmp_path / "m.toml"
    path.write_text('[[status.rules]]\ncolumns = ["Left At"]\nwhen_set = "left"\n[consent]\nleft = "opted_out"\n', encoding="utf-8")

    assert status_of(UserMapping.load(path), cell) == status


def test_a_misspelt_status_of_a_rule_is_refused_rather_than_read_as_non_marketing(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(
        "status:\n  rules:\n    - columns: [Left At]\n      when_set: unsubscibed\nconsent:\n  unsubscribed: opted_out\n",
        encoding="utf-8",
    )

    with pytest.raises(InputError) as refused:
        UserMapping.load(path)

    assert str(refused.value) == (
        f"{path}:4: status.rules[1].when_set: no outcome for the status 'unsubscibed' (did you mean 'unsubscribed'?): "
        "give it one under consent (marketing, non_marketing, opted_out)"
    )
    # Spelt as [consent] spells it, the rule opts its rows out.
    path.write_text(path.read_text(encoding="utf-8").replace("unsubscibed", "unsubscribed"), encoding="utf-8")
    mapping = UserMapping.load(path)
    assert reading_profile("generic").with_mapping(mapping).profile.consent.outcome_of(status_of(mapping, "2024-03-01")).value == "opted_out"
