"""The refusals weigh the plain opt-out flags a profile reads beside its own columns: a HubSpot
export with an ``Unsubscribed`` column is refused as a plain file (the generic profile does not
read ``Marketing contact status``) and read with ``--profile hubspot``, its flag unconfirmed."""

from __future__ import annotations

import pytest

from schemas.lineage import SOURCE_STATUS
from tasks.errors import InputError
from tasks.extract.tables import ReadOptions, read_source
from tasks.transform.consent import OPT_OUT_FLAG_UNCONFIRMED_STATUS
from tests.tasks.extract.test_tables import outcomes, write_csv

HUBSPOT_MIN = (
    ["Email", "First Name", "Marketing contact status", "Unsubscribed"],
    [["ann@x.com", "Ann", "Marketing contact", "yes"], ["bob@x.com", "Bob", "Marketing contact", "no"]],
)


def test_a_hubspot_export_with_a_plain_flag_is_refused_as_a_plain_file_naming_hubspot_only(tmp_path):
    path = write_csv(tmp_path / "hubspot_min.csv", *HUBSPOT_MIN)
    with pytest.raises(InputError) as refused:
        read_source(str(path), tmp_path / "staging")
    # The hubspot profile reads Unsubscribed beside its own columns: nothing is left to a mapping.
    assert str(refused.value) == (
        f"{path}:1: the generic profile does not read its consent columns (Marketing contact status), so their "
        "opt-outs would be lost: the hubspot profile reads them (--profile hubspot), or name them in a mapping's "
        "[[status.rules]]"
    )


def test_the_profile_the_refusal_names_reads_the_file_with_the_flag_unconfirmed(tmp_path):
    path = write_csv(tmp_path / "hubspot_min.csv", *HUBSPOT_MIN)
    [read] = read_source(str(path), tmp_path / "staging", ReadOptions(profile="hubspot"))
    assert (read.profile.name, read.raw.format) == ("hubspot", "hubspot-export+generic")
    statuses = read.raw.frame.select("Email", SOURCE_STATUS).collect().rows()
    assert statuses == [("ann@x.com", OPT_OUT_FLAG_UNCONFIRMED_STATUS), ("bob@x.com", "marketing_contact")]
    assert outcomes(read) == {"ann@x.com": "non_marketing", "bob@x.com": "marketing"}


def test_a_run_confirming_the_flag_opts_the_row_out(tmp_path):
    path = write_csv(tmp_path / "hubspot_min.csv", *HUBSPOT_MIN)
    options = ReadOptions(profile="hubspot", consent_overrides={OPT_OUT_FLAG_UNCONFIRMED_STATUS: "opted_out"})
    [read] = read_source(str(path), tmp_path / "staging", options)
    assert outcomes(read) == {"ann@x.com": "opted_out", "bob@x.com": "marketing"}
