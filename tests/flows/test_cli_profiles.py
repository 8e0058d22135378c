"""``onramp profiles`` and ``onramp inspect`` through the command line (no flow runs, no Prefect server)."""

from __future__ import annotations

import json

from tests.flows.test_cli import assert_one_line_error, run


def test_profiles_lists_every_profile_with_its_consent_reading():
    result = run(["profiles"])
    assert result.returncode == 0, result.stderr
    for name in ("constantcontact", "salesforce", "pipedrive", "zoho", "brevo", "activecampaign", "klaviyo", "hubspot", "generic", "mailchimp"):
        assert name in result.stdout
    assert "unsubscribed→opted_out" in result.stdout


def test_inspect_shows_format_mapping_and_consent_before_anything_runs(tmp_path):
    source = tmp_path / "brevo.csv"
    source.write_bytes("EMAIL;NOM;PRENOM;EMAIL_BLACKLISTED\na@x.com;Dupont;Françoise;Non\nb@x.com;Martin;Zoë;Oui\n".encode("cp1252"))
    text = run(["inspect", str(source)])
    assert text.returncode == 0, text.stderr
    assert "brevo-export" in text.stdout and "cp1252" in text.stdout
    result = run(["inspect", str(source), "--json"])
    [entry] = json.loads(result.stdout)
    assert entry["profile"] == "brevo" and entry["delimiter"] == ";"
    assert {"column": "PRENOM", "property": "firstname", "kind": "default"} in entry["columns"]
    assert {c["status"]: (c["outcome"], c["rows"]) for c in entry["status_counts"]} == {
        "blacklisted": ("opted_out", 1),
        "not_blacklisted": ("non_marketing", 1),
    }
    assert not list(tmp_path.glob("**/*.parquet")) and not (tmp_path / "out").exists()


def test_inspect_with_a_mapping_file_and_an_unknown_profile(tmp_path):
    source = tmp_path / "people.csv"
    source.write_text("Email,Region,Newsletter\na@x.com,BE,yes\n", encoding="utf-8")
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[columns]\nRegion = "state"\n', encoding="utf-8")
    result = run(["inspect", str(source), "--mapping", str(mapping), "--json"])
    [entry] = json.loads(result.stdout)
    assert {"column": "Region", "property": "state", "kind": "default"} in entry["columns"]
    assert entry["status_counts"] == [{"status": "subscribed", "outcome": "marketing", "rows": 1}]
    assert_one_line_error(run(["inspect", str(source), "--profile", "nope"]), 2, "no profile 'nope'")
    # A column sent where Onramp writes its own: one line naming the file and line, no traceback.
    mapping.write_text('[columns]\nRegion = "state"\nNewsletter = "onramp_provenance"\n', encoding="utf-8")
    assert_one_line_error(run(["inspect", str(source), "--mapping", str(mapping)]), 2, "mapping.toml:3: column 'Newsletter' cannot go to")


def test_inspect_an_api_source_says_which_api_it_read_and_where_consent_comes_from(monkeypatch, prefect_api_url):
    from prefect.blocks.system import Secret

    from emulators.constant_contact import serve_in_background as constant_contact
    from emulators.mailchimp import serve_in_background as mailchimp
    from tasks.inspect import inspect_source

    with mailchimp(members=40) as chimp, constant_contact(contacts=12) as cc:
        # The key comes from the Secret block the command names, through the session's Prefect server.
        Secret(value=chimp.settings.api_key).save("inspect-mailchimp", overwrite=True)
        monkeypatch.delenv("MAILCHIMP_API_KEY", raising=False)
        env = {"MAILCHIMP_BASE_URL": chimp.api_url, "PREFECT_API_URL": prefect_api_url}
        source = f"mailchimp://{chimp.settings.list_id}"
        text = run(["inspect", source, "--mailchimp-secret", "inspect-mailchimp"], env=env)
        monkeypatch.setenv("CONSTANT_CONTACT_TOKEN", cc.settings.token)
        monkeypatch.setenv("CONSTANT_CONTACT_BASE_URL", cc.api_url)
        [entry] = inspect_source("constantcontact://contacts")
        truth = chimp.emulator.audience.truth()
    assert text.returncode == 0, text.stderr
    assert f"read from    Mailchimp Marketing API v3: GET /lists/{chimp.settings.list_id}/members (every status)" in text.stdout
    assert "consent from each member's status" in text.stdout
    assert f"subscribed                   → marketing      {truth['subscribed']} rows" in text.stdout
    for wrong in ("encoding", "workbook", "file name"):
        assert wrong not in text.stdout
    assert chimp.settings.api_key not in text.stdout + text.stderr
    assert entry["api"]["provider"] == "Constant Contact v3 API" and "encoding" not in entry
    assert "permission_to_send" in entry["api"]["consent"]
    counts = {c["status"]: c["rows"] for c in entry["status_counts"]}
    assert sum(counts.values()) == entry["rows"] == 12

