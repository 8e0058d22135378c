"""A file or folder whose name holds ``[``, ``]``, ``*`` or ``?`` (a browser's ``contacts[1].csv``,
an output folder ``plan [test]``) is read by its name, never as a pattern: polars reads a path
as a glob unless told not to, so ``contacts[1].csv`` read ``contacts1.csv`` beside it, and an
output folder ``out [x]`` found none of its own staged files. Planned, then loaded into the
HubSpot emulator over HTTP."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tasks.load import load_plan
from tests.plain_plan import plan
from tests.tasks.extract.test_tables import planned, write_csv
from tests.tasks.load.reruns import POLL


def write_contacts(path: Path, *emails: str) -> str:
    """A CRM export of ``emails``, each at Acme, none unsubscribed."""
    return str(write_csv(path, ["Email", "First Name", "Company", "Unsubscribed"], [[e, "N", "Acme", ""] for e in emails]))


@pytest.mark.parametrize("name", ["contacts[1].csv", "contacts [2024].csv", "contacts*.csv", "contacts?.csv", "contacts[old.csv"])
def test_a_file_whose_name_looks_like_a_pattern_is_read_by_its_name(tmp_path, name):
    source = write_contacts(tmp_path / name, "ann@acme.io")
    write_contacts(tmp_path / "contacts1.csv", "decoy@other.io")
    out = tmp_path / "plan [1]"

    report = plan([source], out)

    assert (report["rows_read"], report["rows_rejected"]) == (1, 0)
    [contacts] = planned(out).values()
    assert set(contacts) == {"ann@acme.io"}


def test_a_plan_in_a_bracketed_folder_loads_its_contacts_opt_outs_and_companies(portal, client, tmp_path):
    out = tmp_path / "out [x]"
    source = write_contacts(tmp_path / "contacts.csv", "ann@acme.io", "ben@beta.io")
    unsubscribed = write_csv(tmp_path / "unsubscribed.csv", ["Email"], [["cy@gamma.io"]])
    plan([source, str(unsubscribed)], out)

    report = load_plan(portal, out, poll_interval=POLL, import_companies=True)

    assert (report["rows_failed"], report["opt_outs"]["unsubscribed"]) == (0, 1)
    emails = {c.properties["email"] for c in client.crm.contacts.basic_api.get_page(limit=100, properties=["email"]).results}
    assert {"ann@acme.io", "ben@beta.io"} <= emails
    assert report["companies"]["created"] == 2


def test_every_polars_read_of_a_path_in_onramp_passes_glob_false():
    # The behaviour above holds only where each read says so: polars' default globs.
    readers = {"scan_csv", "read_csv", "scan_parquet", "read_parquet", "scan_ipc", "read_ipc", "scan_ndjson", "read_ndjson"}
    root = Path(__file__).resolve().parents[3]
    unguarded = [
        f"{path.relative_to(root)}:{call.lineno}"
        for folder in ("tasks", "flows", "schemas")
        for path in sorted((root / folder).rglob("*.py"))
        for call in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr in readers
        and not any(k.arg == "glob" and isinstance(k.value, ast.Constant) and k.value.value is False for k in call.keywords)
    ]
    assert unguarded == []
