"""A token or key typed where the name of its Secret block belongs is refused before any flow run
exists, in one line that never repeats it; a run refused before it wrote anything leaves no
empty --out folder behind."""

from __future__ import annotations

import pytest
from prefect.client.orchestration import get_client

import flows.cli
from flows.cli import SAMPLE_EXPORT, main
from tests.flows.test_cli import assert_one_line_error, run

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
MAILCHIMP_KEY = "0123456789abcdef0123456789abcdef-us6"
CONSTANT_CONTACT_TOKEN = "eyJraWQiOiJhYmMiLCJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl"
LOOKS_LIKE_A_TOKEN = "that looks like a token, not the name of a Prefect Secret block"


@pytest.fixture
def no_flow_runs(monkeypatch, prefect_api_url):
    """Fails the test if the command gets as far as running a flow (on the session's Prefect
    server, so the command starts no temporary one of its own)."""

    def engine(flow, params):
        raise AssertionError(f"{flow.name} was started")

    monkeypatch.setattr(flows.cli, "_in_engine", engine)


@pytest.mark.parametrize(
    ("arguments", "credential", "line"),
    [
        (["migrate", str(SAMPLE_EXPORT), "--token-secret", TOKEN], TOKEN,
         f"--token-secret: {LOOKS_LIKE_A_TOKEN}; put the token in HUBSPOT_ACCESS_TOKEN or save it in a block and name the block"),
        (["sync", str(SAMPLE_EXPORT), "--token-secret", TOKEN], TOKEN,
         f"--token-secret: {LOOKS_LIKE_A_TOKEN}; put the token in HUBSPOT_ACCESS_TOKEN or save it in a block and name the block"),
        (["plan", "mailchimp://a1b2c3d4e5", "--mailchimp-secret", MAILCHIMP_KEY], MAILCHIMP_KEY,
         f"--mailchimp-secret: {LOOKS_LIKE_A_TOKEN}; put the key in MAILCHIMP_API_KEY or save it in a block and name the block"),
        (["plan", "constantcontact://contacts", "--constant-contact-secret", CONSTANT_CONTACT_TOKEN], CONSTANT_CONTACT_TOKEN,
         f"--constant-contact-secret: {LOOKS_LIKE_A_TOKEN}; put the token in CONSTANT_CONTACT_TOKEN or save it in a block "
         "and name the block"),
    ],
    ids=["migrate", "sync", "plan mailchimp", "plan constantcontact"],
)
def test_a_credential_given_as_a_block_name_is_refused_unrepeated(tmp_path, capsys, no_flow_runs, arguments, credential, line):
    out = tmp_path / "out"

    status = main([*arguments, "--out", str(out)])

    printed = capsys.readouterr()
    assert status == 2
    assert printed.err == f"onramp: error: {line}\n"
    assert credential not in printed.out + printed.err
    assert not out.exists()


def test_inspect_refuses_a_key_given_as_a_block_name(capsys):
    status = main(["inspect", "mailchimp://a1b2c3d4e5", "--mailchimp-secret", MAILCHIMP_KEY])

    printed = capsys.readouterr()
    assert status == 2
    assert printed.err.startswith(f"onramp: error: --mailchimp-secret: {LOOKS_LIKE_A_TOKEN}; ")
    assert MAILCHIMP_KEY not in printed.out + printed.err


def test_a_manifest_naming_a_token_as_its_block_is_refused_before_any_account_runs(tmp_path, capsys, no_flow_runs):
    manifest = tmp_path / "accounts.yaml"
    manifest.write_text(f"accounts:\n  - name: acme\n    sources: [a.zip]\n    portal: {{token_secret: {TOKEN}}}\n", encoding="utf-8")

    status = main(["migrate-accounts", str(manifest), "--out", str(tmp_path / "out")])

    printed = capsys.readouterr()
    assert status == 2
    assert printed.err.startswith(f"onramp: error: {manifest}:4: accounts.0.portal.token_secret: {LOOKS_LIKE_A_TOKEN}; ")
    assert TOKEN not in printed.out + printed.err


def test_a_block_name_prefect_would_not_take_is_refused_unrepeated(tmp_path, capsys, no_flow_runs):
    status = main(["migrate", str(SAMPLE_EXPORT), "--out", str(tmp_path / "out"), "--token-secret", "My_Token"])

    printed = capsys.readouterr()
    assert status == 2
    assert printed.err.startswith(
        "onramp: error: --token-secret: not the name of a Prefect Secret block (block names are lowercase letters, digits and dashes)"
    )
    assert "My_Token" not in printed.err


@pytest.mark.parametrize(
    ("flag", "value", "problem"),
    [
        ("--max-rows-per-file", "0", "Input should be greater than or equal to 1"),
        ("--max-bytes-per-file", "1000", "Input should be greater than or equal to 1024"),
        ("--max-bytes-per-file", "600000000", "Input should be less than or equal to 536870912"),
    ],
)
def test_a_parameter_out_of_range_is_named_by_its_flag(tmp_path, capsys, no_flow_runs, flag, value, problem):
    status = main(["plan", str(SAMPLE_EXPORT), "--out", str(tmp_path / "out"), flag, value])

    assert status == 2
    assert capsys.readouterr().err == f"onramp: error: {flag}: {problem}\n"


def test_the_import_file_limits_reach_the_run_only_when_given():
    given = flows.cli._plan_parameters(
        flows.cli._parser().parse_args(["plan", "x.zip", "--out", "o", "--max-bytes-per-file", "20000000"])
    )
    defaults = flows.cli._plan_parameters(flows.cli._parser().parse_args(["plan", "x.zip", "--out", "o"]))

    assert given["max_bytes_per_file"] == 20_000_000
    assert "max_rows_per_file" not in given
    assert "max_bytes_per_file" not in defaults


def _flow_runs() -> list:
    with get_client(sync_client=True) as client:
        return client.read_flow_runs()


def test_nothing_of_a_refused_token_reaches_prefect(tmp_path, prefect_api_url):
    before = {run.id for run in _flow_runs()}

    result = run(
        ["migrate", str(SAMPLE_EXPORT), "--out", str(tmp_path / "out"), "--portal-url", "http://127.0.0.1:9", "--token-secret", TOKEN],
        env={"PREFECT_API_URL": prefect_api_url},
    )

    assert_one_line_error(result, 2, f"--token-secret: {LOOKS_LIKE_A_TOKEN}")
    assert TOKEN not in result.stdout + result.stderr
    assert {run.id for run in _flow_runs()} == before


def test_a_run_refused_for_want_of_a_token_leaves_no_out_folder(tmp_path, hubspot, prefect_api_url):
    out = tmp_path / "runs" / "first"

    result = run(["migrate", str(SAMPLE_EXPORT), "--out", str(out), "--portal-url", hubspot.url], env={"PREFECT_API_URL": prefect_api_url})

    assert_one_line_error(result, 2, "no HubSpot access token")
    assert not (tmp_path / "runs").exists()


def test_an_out_folder_the_user_made_is_kept_even_empty(tmp_path, hubspot, prefect_api_url):
    out = tmp_path / "mine"
    out.mkdir()

    result = run(["migrate", str(SAMPLE_EXPORT), "--out", str(out), "--portal-url", hubspot.url], env={"PREFECT_API_URL": prefect_api_url})

    assert result.returncode == 2
    assert out.is_dir()
