"""A provider API source reads, as its export does, every merge or custom
field sharing a consent label (the export repeats the header and reads every copy), and the
columns of a member Mailchimp gives no status (null or empty) as those of a status opting out
nothing, never marketing. Over HTTP against the emulators."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulators.mailchimp import serve_in_background as mailchimp
from schemas.lineage import SOURCE_STATUS
from tasks.extract.tables import ReadOptions, read_source
from tasks.transform.consent import OPT_OUT_FLAG_UNCONFIRMED_STATUS
from tasks.transform.mapping_file import UserMapping
from tests.tasks.extract.test_mailchimp_api_consent_columns import SOURCE, STATUS_RULES, audience_export, read_api
from tests.tasks.extract.test_tables import outcomes

FLAG = {"merge_id": 7, "tag": "NOEMAIL", "name": "Do Not Email", "type": "text"}
SECOND_FLAG = {"merge_id": 8, "tag": "NOEMAIL2", "name": "do not email", "type": "text"}
"""A second merge field labelled as ``FLAG`` (case aside): the export repeats the header."""
OWN_LABEL = {"merge_id": 9, "tag": "NOEMAIL3", "name": "Do Not Email (2)", "type": "text"}
"""A merge field whose own label is what a copy of ``FLAG``'s would be staged under."""


@pytest.fixture
def shared_label(monkeypatch):
    """An audience of subscribed members whose merge fields include ``FLAG``, ``SECOND_FLAG``
    and ``OWN_LABEL``, every cell empty."""
    with mailchimp(members=12, extra_merge_fields=(FLAG, SECOND_FLAG, OWN_LABEL)) as server:
        for member in server.emulator.audience.members:
            member["status"] = "subscribed"
        monkeypatch.setenv("MAILCHIMP_API_KEY", server.settings.api_key)
        monkeypatch.setenv("MAILCHIMP_BASE_URL", server.api_url)
        yield server


def export_with_repeated_flag(path: Path, members: list[dict]) -> Path:
    """The members as an audience export: ``Do Not Email`` twice (``FLAG``, ``SECOND_FLAG``)
    beside ``OWN_LABEL``'s column, as Mailchimp writes merge fields sharing a label."""
    headers = ["Email Address", "Do Not Email", "Do Not Email", "Do Not Email (2)", "LEID"]
    return audience_export(
        path, members, headers,
        lambda member, fields: [member["email_address"], fields["NOEMAIL"], fields["NOEMAIL2"], fields["NOEMAIL3"], str(member["web_id"])],
    )


@pytest.mark.parametrize("overrides", [{}, {OPT_OUT_FLAG_UNCONFIRMED_STATUS: "opted_out"}], ids=["unconfirmed", "confirmed"])
def test_every_merge_field_sharing_a_flag_label_is_read_as_the_export_reads_the_repeated_header(shared_label, tmp_path, overrides):
    members = shared_label.emulator.audience.members
    cells = [("", "yes", ""), ("yes", "", ""), ("no", "true", ""), ("", "", "yes"), ("", "", "")]
    for member, (first, second, own) in zip(members, cells, strict=False):
        member["merge_fields"].update(NOEMAIL=first, NOEMAIL2=second, NOEMAIL3=own)
    emails = [member["email_address"] for member in members[: len(cells)]]
    options = ReadOptions(consent_overrides=overrides)
    [from_export] = read_source(str(export_with_repeated_flag(tmp_path / "export.zip", members)), tmp_path / "export", options)

    from_api = read_api(tmp_path, options)

    flagged = "opted_out" if overrides else "non_marketing"
    # Only the second copy set: read, as the export reads every copy of its repeated header.
    # A field labelled "Do Not Email (2)" is no copy, but, its bracketed aside left out, it names the
    # flag (catalog.consent_header_key): both sources read it as one, never marketing on a yes.
    assert [outcomes(from_api)[email] for email in emails] == [flagged, flagged, flagged, flagged, "marketing"]
    assert {email: outcomes(from_api)[email] for email in emails} == {email: outcomes(from_export)[email] for email in emails}
    statuses = dict(from_api.raw.frame.select(from_api.raw.email_column, SOURCE_STATUS).collect().iter_rows())
    assert {statuses[email] for email in emails[:3]} == {OPT_OUT_FLAG_UNCONFIRMED_STATUS}
    assert {"Do Not Email", "do not email (3)", "Do Not Email (2)"} <= set(from_api.raw.headers)


NO_STATUS_CASES = [
    # (status, Do Not Email, Company (read by STATUS_RULES: left → opted out, stays → marketing), outcome)
    (None, "yes", "", "non_marketing"),
    ("", "yes", "", "non_marketing"),
    (None, "", "left", "opted_out"),
    ("", "", "left", "opted_out"),
    # A rule never makes a member with no status marketing, as it never lifts an unknown one.
    (None, "", "stays", "non_marketing"),
    (None, "maybe", "", "non_marketing"),
    (None, "", "", "non_marketing"),
    ("subscribed", "", "stays", "marketing"),
]


@pytest.mark.parametrize("overrides", [{}, {OPT_OUT_FLAG_UNCONFIRMED_STATUS: "opted_out"}], ids=["unconfirmed", "confirmed"])
def test_a_member_with_no_status_has_its_flag_and_mapping_columns_read(tmp_path, monkeypatch, overrides):
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(STATUS_RULES, encoding="utf-8")
    options = ReadOptions(mapping=UserMapping.load(mapping), consent_overrides=overrides)
    with mailchimp(members=len(NO_STATUS_CASES), extra_merge_fields=(FLAG,)) as server:
        members = server.emulator.audience.members
        for member, (status, flag, company, _) in zip(members, NO_STATUS_CASES, strict=True):
            member["status"] = status
            member["merge_fields"].update(NOEMAIL=flag, COMPANY=company)
        monkeypatch.setenv("MAILCHIMP_API_KEY", server.settings.api_key)
        monkeypatch.setenv("MAILCHIMP_BASE_URL", server.api_url)
        [read] = read_source(SOURCE, tmp_path / "staging", options)
        planned = outcomes(read)
        emails = [member["email_address"] for member in members]

    confirmed = ["opted_out" if overrides and flag == "yes" else outcome for _, flag, _, outcome in NO_STATUS_CASES]
    assert [planned[email] for email in emails] == confirmed
    statuses = dict(read.raw.frame.select(read.raw.email_column, SOURCE_STATUS).collect().iter_rows())
    assert [statuses[email] for email in emails[:4]] == [OPT_OUT_FLAG_UNCONFIRMED_STATUS] * 2 + ["gone"] * 2
    assert statuses[emails[4]] is None



def test_every_constant_contact_custom_field_sharing_a_flag_label_is_read(tmp_path, monkeypatch):
    from emulators.constant_contact import serve_in_background as constant_contact

    with constant_contact(contacts=30) as server:
        fields = server.emulator.account.custom_fields[:2]
        for field in fields:
            field["label"] = "Do Not Email"
        active = [c for c in server.emulator.account.contacts if c["email_address"]["permission_to_send"] == "explicit"][:2]
        for contact, field in zip(active, fields, strict=True):
            contact["custom_fields"] = [{"custom_field_id": field["custom_field_id"], "value": "yes"}]
        monkeypatch.setenv("CONSTANT_CONTACT_TOKEN", server.settings.token)
        monkeypatch.setenv("CONSTANT_CONTACT_BASE_URL", server.api_url)
        [read] = read_source("constantcontact://contacts", tmp_path)
        planned = outcomes(read)

    # The second field's flag alone keeps its contact from marketing, as the first's does.
    assert [planned[contact["email_address"]["address"]] for contact in active] == ["non_marketing", "non_marketing"]
    assert {"Do Not Email", "Do Not Email (2)"} <= set(read.raw.headers)
