"""Accounts of one manifest reading Constant Contact's API each name where their credentials are,
and no two name one place: unnamed, every account read the shell's ``CONSTANT_CONTACT_*``
variables, so two of them read one Constant Contact account, its contacts migrated into both
portals without a word (the audit's case). Refused in one line naming the manifest's line, before
the engine starts."""

from __future__ import annotations

import pytest

from flows.cli import main
from schemas.manifest import first_constant_contact_reader_not_its_own, load_manifest
from tests.flows.test_cli_accounts import manifest_of


def account_lines(name: str, source: str, credentials: str | None = None) -> list[str]:
    return [f"  - name: {name}", f"    sources: [{source}]", f"    portal: {{token_env: {name.upper()}_TOKEN}}",
            *([f"    source_credentials: {credentials}"] if credentials else [])]


@pytest.mark.parametrize(
    ("lines", "line", "problem"),
    [
        ([*account_lines("acme", "constantcontact://contacts"), *account_lines("globex", "constantcontact://contacts")], 3,
         "accounts.0.source_credentials: account acme reads Constant Contact's API, as other accounts of the manifest do, and "
         "names no place for its credentials: it would read the variables CONSTANT_CONTACT_* else the Secret block "
         "constant-contact-credentials, whichever client's they hold; give each such account its own "
         "constant_contact_env_prefix or constant_contact_secret_block"),
        ([*account_lines("acme", "constantcontact://contacts", "{constant_contact_env_prefix: ACME_CC}"),
          *account_lines("globex", "constantcontact://contacts")], 7, "accounts.1.source_credentials: account globex reads"),
        ([*account_lines("acme", "constantcontact://contacts", "{constant_contact_secret_block: acme-cc}"),
          *account_lines("globex", "constantcontact://contacts", "{constant_contact_secret_block: acme-cc}")], 9,
         "accounts.1.source_credentials: accounts acme and globex read Constant Contact's API with the credentials in one place "
         "(the Secret block acme-cc): one Constant Contact account's contacts would go into both portals; give each its own"),
        # An empty prefix reads the default block alone, which the default prefix falls back to.
        ([*account_lines("acme", "constantcontact://contacts", '{constant_contact_env_prefix: ""}'),
          *account_lines("globex", "constantcontact://contacts", "{constant_contact_env_prefix: CONSTANT_CONTACT}")], 9,
         "accounts.1.source_credentials: accounts acme and globex read Constant Contact's API with the credentials in one place "
         "(the Secret block constant-contact-credentials)"),
    ],
    ids=["neither-names", "the-second-names-none", "one-block", "one-default-block"],
)
def test_accounts_reading_constant_contact_through_one_place_exit_2_naming_the_line_before_the_engine_starts(
    tmp_path, capsys, monkeypatch, lines, line, problem
):
    monkeypatch.setattr("flows.cli._in_engine", lambda *args: pytest.fail("the engine started"))
    manifest = manifest_of(tmp_path, *lines)

    status = main(["migrate-accounts", str(manifest), "--out", str(tmp_path / "out")])

    assert status == 2
    error = capsys.readouterr().err
    assert error.startswith(f"onramp: error: {manifest}:{line}: {problem}") and error.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_accounts_naming_their_own_places_or_one_reader_alone_are_not_refused(tmp_path):
    own = manifest_of(tmp_path, *account_lines("acme", "constantcontact://contacts", "{constant_contact_env_prefix: ACME_CC}"),
                      *account_lines("globex", "constantcontact://contacts", "{constant_contact_secret_block: globex-cc}"),
                      *account_lines("initech", "mailchimp://a1b2c3"), *account_lines("hooli", "hooli.zip"))
    assert first_constant_contact_reader_not_its_own(load_manifest(str(own)).accounts) is None
    alone = manifest_of(tmp_path, *account_lines("acme", "constantcontact://contacts"), *account_lines("globex", "globex.zip"))
    assert first_constant_contact_reader_not_its_own(load_manifest(str(alone)).accounts) is None
