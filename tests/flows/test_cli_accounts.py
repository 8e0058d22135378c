"""``onramp migrate-accounts``: a manifest that cannot be used stops before any account runs."""

from __future__ import annotations

from tests.flows.test_cli import assert_one_line_error, run


def test_a_bad_manifest_exits_2_with_one_line_naming_its_line(tmp_path):
    manifest = tmp_path / "accounts.yaml"
    manifest.write_text(
        "accounts:\n"
        "  - name: acme\n"
        "    sources: [acme.zip]\n"
        "  - name: Not A Name\n"
        "    sources: [globex.zip]\n",
        encoding="utf-8",
    )

    result = run(["migrate-accounts", str(manifest), "--out", str(tmp_path / "out")])

    assert_one_line_error(result, 2, "accounts.yaml:4:", "accounts.1.name")
    assert not (tmp_path / "out").exists()
