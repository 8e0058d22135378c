"""The command's --help states the defaults the code uses (written out there, so that --help
answers without importing what holds them)."""

from __future__ import annotations

import pytest

from emulators.hubspot.settings import DEFAULT_PORTAL_ID, EmulatorSettings
from flows.cli import main
from tasks.import_files import MAX_ROWS_PER_FILE


def help_of(capsys, *command: str) -> str:
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    return " ".join(capsys.readouterr().out.split())


def test_the_plan_help_names_its_default_file_size_and_every_kind_of_source(capsys):
    text = help_of(capsys, "plan")
    assert f"(default: {MAX_ROWS_PER_FILE:,})" in text
    assert "workbook" in text and "mailchimp://" in text and "constantcontact://" in text


def test_the_emulator_help_names_the_defaults_of_its_portal(capsys):
    text = help_of(capsys, "emulator")
    defaults = EmulatorSettings()
    assert f"(default: {DEFAULT_PORTAL_ID})" in text
    assert f"(default: {defaults.tier})" in text
    assert f"(default: {defaults.account_type})" in text
    assert f"default: {defaults.time_zone})" in text
