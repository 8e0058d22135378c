from pathlib import Path

import pytest
from pydantic import ValidationError

from schemas.manifest import (
    DEFAULT_TOKEN_ENV,
    RUNS_ON_WORKERS,
    AccountsParameters,
    load_manifest,
    manifest_line,
    relative_to_manifest,
    token_places,
)
from schemas.params import MigrationParameters
from tasks.errors import InputError

GOOD = """\
accounts:
  - name: acme
    sources: [s3://exports/acme/audience_export.zip]
    portal: {url: https://api.hubapi.com, token_env: ACME_HUBSPOT_TOKEN}
  - name: globex
    sources: [/data/globex.zip, /data/globex-old.zip]
    portal: {token_secret: globex-token}
  - name: initech
    sources: [/data/initech.zip]
"""


def write(tmp_path, text: str) -> str:
    path = tmp_path / "accounts.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_manifest_lists_accounts_with_where_their_tokens_are(tmp_path):
    manifest = load_manifest(write(tmp_path, GOOD))
    acme, globex, initech = manifest.accounts
    assert (acme.name, acme.portal.token_env, acme.sources) == ("acme", "ACME_HUBSPOT_TOKEN", ["s3://exports/acme/audience_export.zip"])
    assert (globex.portal.token_secret, globex.portal.token_env) == ("globex-token", None)
    assert (initech.portal.url, initech.portal.token_env) == ("https://api.hubapi.com", DEFAULT_TOKEN_ENV)


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (GOOD.replace("name: globex", "name: Globex Corp"), 5, "accounts.1.name"),
        (GOOD.replace("    sources: [/data/initech.zip]\n", ""), 8, "accounts.2.sources"),
        (GOOD.replace("token_env: ACME_HUBSPOT_TOKEN", "token_env: X, token_secret: y"), 4, "not both"),
        (GOOD.replace("name: initech", "name: acme"), 8, "accounts.2.name: account names must be unique (each is its output folder); repeated: acme"),
        (GOOD.replace("portal: {token_secret", "portl: {token_secret"), 7, "accounts.1: unknown key 'portl' (did you mean 'portal'?)"),
        ("accounts: [\n", 2, "not valid YAML"),
        # Beside the manifest a blank source was its folder: every other account's exports.
        (GOOD.replace("[/data/initech.zip]", '[""]'), 9, "accounts.2.sources.0: blank"),
        (GOOD.replace("[/data/initech.zip]", "['  ']"), 9, "accounts.2.sources.0: blank"),
        # Refused as a command refuses it, before it is kept among a run's parameters.
        (GOOD.replace("/data/globex-old.zip", "https://agency:SeCrEt123@files.example.com/g.zip"), 6,
         "https://***@files.example.com/g.zip: the URL carries a credential"),
        (GOOD.replace("/data/globex-old.zip", "ftp://files.example.com/g.zip"), 6, "unsupported location scheme 'ftp'"),
    ],
)
def test_a_bad_manifest_names_the_line_and_the_problem(tmp_path, text, line, fragment):
    uri = write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        load_manifest(uri)
    message = str(caught.value)
    assert message.startswith(f"{uri}:{line}: ")
    assert fragment in message
    assert "\n" not in message and "SeCrEt123" not in message


def test_a_missing_manifest_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read the manifest"):
        load_manifest(str(tmp_path / "nope.yaml"))


def test_an_account_names_where_its_api_sources_find_their_credentials(tmp_path):
    text = """\
accounts:
  - name: acme
    sources: [mailchimp://a1b2c3d4e5]
    source_credentials: {mailchimp_secret_block: acme-mailchimp}
  - name: globex
    sources: [constantcontact://contacts]
    source_credentials: {constant_contact_env_prefix: GLOBEX_CC}
    portal: {token_env: GLOBEX_TOKEN}
  - name: initech
    sources: [mailchimp://f6e5d4]
    portal: {token_env: INITECH_TOKEN}
"""
    acme, globex, initech = load_manifest(write(tmp_path, text)).accounts
    # A block named for an account is all it reads: no variable on the machine stands in for it.
    assert (acme.source_credentials.mailchimp_secret_block, acme.source_credentials.mailchimp_key_env) == ("acme-mailchimp", None)
    assert globex.source_credentials.constant_contact_env_prefix == "GLOBEX_CC"
    assert initech.source_credentials.mailchimp_key_env == "MAILCHIMP_API_KEY"
    both = text.replace("{mailchimp_secret_block: acme-mailchimp}", "{mailchimp_secret_block: a, mailchimp_key_env: B}")
    with pytest.raises(InputError, match=r":4: .*give mailchimp_key_env or mailchimp_secret_block, not both"):
        load_manifest(write(tmp_path, both))
    with pytest.raises(InputError, match=r":4: accounts\.0\.source_credentials: unknown key 'mailchimp_api_key' \(did you mean 'mailchimp_key_env'\?\)$"):
        load_manifest(write(tmp_path, text.replace("{mailchimp_secret_block: acme-mailchimp}", "{mailchimp_api_key: abc-us6}")))


QUEUED = """\
accounts:
  - name: acme
    sources: [/data/acme.zip]
    portal: {url: "http://portal-a", token_env: ACME_TOKEN, work_queue: portal-a}
  - name: globex
    sources: [/data/globex.zip]
    portal: {url: "http://portal-a/", token_env: GLOBEX_TOKEN, work_queue: portal-a}
  - name: initech
    sources: [/data/initech.zip]
    portal: {url: "http://portal-a", token_env: INITECH_TOKEN, work_queue: portal-b}
"""


def test_a_portal_names_the_work_queue_its_accounts_runs_go_to(tmp_path):
    manifest = load_manifest(write(tmp_path, QUEUED), context={RUNS_ON_WORKERS: True})
    assert [a.portal.work_queue for a in manifest.accounts] == ["portal-a", "portal-a", "portal-b"]
    assert manifest.work_queues() == {"portal-a", "portal-b"}
    assert load_manifest(write(tmp_path, GOOD)).work_queues() == set()


def test_a_work_queue_without_a_deployment_is_refused_at_its_line(tmp_path):
    uri = write(tmp_path, QUEUED)
    params = AccountsParameters(manifest=uri, output=str(tmp_path / "out"))
    with pytest.raises(InputError, match=r":4: accounts\.0\.portal\.work_queue: .*a work queue needs account_deployment \(--deployment\)"):
        params.read_manifest()
    with_deployment = params.model_copy(update={"account_deployment": "onramp-migrate/backfill"})
    assert with_deployment.read_manifest().work_queues() == {"portal-a", "portal-b"}


def test_a_portal_names_the_portal_id_its_token_must_be_for(tmp_path):
    text = QUEUED.replace("ACME_TOKEN, work_queue: portal-a}", "ACME_TOKEN, portal_id: 111}")
    text = text.replace("GLOBEX_TOKEN, work_queue: portal-a}", "GLOBEX_TOKEN, portal_id: 333}").replace("work_queue: portal-b}", "portal_id: 222}")
    acme, globex, initech = load_manifest(write(tmp_path, text)).accounts
    assert [a.portal.portal_id for a in (acme, globex, initech)] == [111, 333, 222]
    assert load_manifest(write(tmp_path, GOOD)).accounts[0].portal.portal_id is None


@pytest.mark.parametrize("flag", ["true", "false"])
def test_a_portal_id_given_as_true_or_false_is_refused_not_read_as_portal_1(tmp_path, flag):
    text = QUEUED.replace("ACME_TOKEN, work_queue: portal-a}", f"ACME_TOKEN, portal_id: {flag}}}")

    with pytest.raises(InputError, match=rf":4: accounts\.0\.portal\.portal_id: a HubSpot portal id is a number \(its Hub ID\), not {flag}$"):
        load_manifest(write(tmp_path, text))


def test_a_run_given_true_as_its_portal_id_is_refused():
    with pytest.raises(ValidationError, match="a HubSpot portal id is a number"):
        MigrationParameters(sources=["export.zip"], output="out", portal_id=True)


def two_accounts(brand_b_portal: str, brand_a_portal: str) -> str:
    """brand-b, then brand-a, each with its ``portal:`` line (none when empty)."""
    return "".join(
        f"  - name: {name}\n    sources: [/data/{name}.zip]\n" + (f"    portal: {portal}\n" if portal else "")
        for name, portal in (("brand-b", brand_b_portal), ("brand-a", brand_a_portal))
    )


@pytest.mark.parametrize(
    ("brand_b", "brand_a", "portal", "line"),
    [
        ('{url: "http://portal-a", token_env: CLIENT_TOKEN, portal_id: 111}', '{url: "http://portal-a", token_env: CLIENT_TOKEN, portal_id: 111}',
         "portal_id 111", 7),
        # The same URL written otherwise, each account on a work queue of its own: still one portal.
        ('{url: "http://portal-a", token_env: CLIENT_TOKEN, work_queue: q1}', '{url: "HTTP://Portal-A:80/", token_env: CLIENT_TOKEN, work_queue: q2}',
         "http://portal-a, token_env CLIENT_TOKEN", 7),
        # One portal id through two token locations (or URLs): one portal whatever the token.
        ('{url: "http://portal-a", token_env: B_TOKEN, portal_id: 111}', '{url: "http://portal-b", token_env: A_TOKEN, portal_id: 111}', "portal_id 111", 7),
        ("{token_secret: client-token}", "{token_secret: client-token}", "https://api.hubapi.com, token_secret client-token", 7),
        # Neither names a URL nor a token: both take the defaults.
        ("", "", f"https://api.hubapi.com, token_env {DEFAULT_TOKEN_ENV}", 4),
        ("", f"{{token_env: {DEFAULT_TOKEN_ENV}}}", f"https://api.hubapi.com, token_env {DEFAULT_TOKEN_ENV}", 6),
    ],
)
def test_two_accounts_aimed_at_one_portal_are_refused_naming_both_and_the_line(tmp_path, brand_b, brand_a, portal, line):
    uri = write(tmp_path, "accounts:\n" + two_accounts(brand_b, brand_a))
    with pytest.raises(InputError) as caught:
        load_manifest(uri, context={RUNS_ON_WORKERS: True})
    assert str(caught.value) == (
        f"{uri}:{line}: accounts.1.portal: accounts brand-b and brand-a load into one portal ({portal}): list their sources under one "
        "account, so their contacts merge into one row per email (apart, an opt-out in one would not stop the other's import); "
        "two portals reached through one token location (on workers of their own) each give their portal_id"
    )


def test_accounts_on_other_portals_or_other_tokens_of_one_url_are_kept_apart(tmp_path):
    # Two tokens at one URL may be two portals (every real portal is at api.hubapi.com): the manifest cannot tell.
    other_token = two_accounts("{token_env: B_TOKEN}", "{token_env: A_TOKEN}")
    assert [a.name for a in load_manifest(write(tmp_path, "accounts:\n" + other_token)).accounts] == ["brand-b", "brand-a"]
    other_ids = two_accounts('{url: "http://portal-a", token_env: B_TOKEN, portal_id: 222}', '{url: "http://portal-a", token_env: A_TOKEN, portal_id: 111}')
    assert len(load_manifest(write(tmp_path, "accounts:\n" + other_ids)).accounts) == 2
    # One token location on workers of their own (each worker's HUBSPOT_ACCESS_TOKEN), told apart by their ids.
    own_workers = two_accounts("{work_queue: portal-b, portal_id: 222}", "{work_queue: portal-a, portal_id: 111}")
    assert len(load_manifest(write(tmp_path, "accounts:\n" + own_workers), context={RUNS_ON_WORKERS: True}).accounts) == 2


def test_a_portal_id_is_a_positive_number_refused_at_its_line(tmp_path):
    with pytest.raises(InputError, match=r":4: accounts\.0\.portal\.portal_id: Input should be greater than or equal to 1"):
        load_manifest(write(tmp_path, GOOD.replace("token_env: ACME_HUBSPOT_TOKEN}", "token_env: ACME_HUBSPOT_TOKEN, portal_id: 0}")))
    with pytest.raises(InputError, match=r":4: accounts\.0\.portal\.portal_id: Input should be a valid integer"):
        load_manifest(write(tmp_path, GOOD.replace("token_env: ACME_HUBSPOT_TOKEN}", "token_env: ACME_HUBSPOT_TOKEN, portal_id: acme}")))


def test_relative_sources_are_read_beside_the_manifest_wherever_it_is_run_from(tmp_path, monkeypatch):
    agency = tmp_path / "agency"
    agency.mkdir()
    monkeypatch.chdir(tmp_path)
    text = (
        "accounts:\n"
        "  - name: acme\n"
        "    sources: [exports/acme.zip, ../shared/globex.csv, /data/initech.zip, s3://bucket/x.zip, mailchimp://a1b2c3d4e5]\n"
    )
    [acme] = load_manifest(write(agency, text)).accounts
    assert acme.sources == [
        str(agency / "exports" / "acme.zip"),
        str(agency / ".." / "shared" / "globex.csv"),
        "/data/initech.zip",
        "s3://bucket/x.zip",
        "mailchimp://a1b2c3d4e5",
    ]


def test_a_manifest_reached_through_a_linked_folder_reads_the_files_beside_its_real_folder(tmp_path):
    (tmp_path / "real" / "manifests").mkdir(parents=True)
    (tmp_path / "real" / "exports").mkdir()
    (tmp_path / "real" / "exports" / "a.zip").write_bytes(b"")
    (tmp_path / "linked").symlink_to(tmp_path / "real" / "manifests")
    text = "accounts:\n  - name: acme\n    sources: [../exports/a.zip]\n"
    (tmp_path / "real" / "manifests" / "accounts.yaml").write_text(text)

    [acme] = load_manifest(str(tmp_path / "linked" / "accounts.yaml")).accounts

    assert Path(acme.sources[0]).resolve() == (tmp_path / "real" / "exports" / "a.zip").resolve()


def test_relative_sources_of_a_remote_manifest_are_read_from_its_folder():
    assert relative_to_manifest("exports/acme.zip", "s3://agency/manifests/accounts.yaml") == "s3://agency/manifests/exports/acme.zip"
    assert relative_to_manifest("s3://other/acme.zip", "s3://agency/manifests/accounts.yaml") == "s3://other/acme.zip"


@pytest.mark.parametrize(
    ("replaced", "by", "problem"),
    [
        ("    sources: [s3", "    source: [s3", "accounts.0: unknown key 'source' (did you mean 'sources'?)"),
        ("portal: {url", "portal: {ulr", "accounts.0.portal: unknown key 'ulr' (did you mean 'url'?)"),
        ("accounts:", "acounts:", "manifest: unknown key 'acounts' (did you mean 'accounts'?)"),
    ],
)
def test_a_misspelt_key_is_named_with_the_key_it_may_be(tmp_path, replaced, by, problem):
    # The misspelling also leaves a required key missing: the unknown key is what explains it.
    uri = write(tmp_path, GOOD.replace(replaced, by, 1))
    with pytest.raises(InputError) as caught:
        load_manifest(uri)
    assert str(caught.value).split(": ", 1)[1] == problem


TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
MAILCHIMP_KEY = "0123456789abcdef0123456789abcdef-us6"


@pytest.mark.parametrize(
    ("replaced", "by", "field"),
    [
        ("{url: https://api.hubapi.com, token_env: ACME_HUBSPOT_TOKEN}", f"{{token_secret: {TOKEN}}}", "accounts.0.portal.token_secret"),
        ("token_env: ACME_HUBSPOT_TOKEN}", f"token_env: {TOKEN}}}", "accounts.0.portal.token_env"),
        ("ACME_HUBSPOT_TOKEN}\n", f"ACME_HUBSPOT_TOKEN}}\n    source_credentials: {{mailchimp_secret_block: {MAILCHIMP_KEY}}}\n",
         "accounts.0.source_credentials.mailchimp_secret_block"),
    ],
)
def test_a_credential_where_its_name_belongs_is_refused_without_repeating_it(tmp_path, replaced, by, field):
    text = GOOD.replace(replaced, by, 1)
    assert text != GOOD
    with pytest.raises(InputError) as caught:
        load_manifest(write(tmp_path, text))
    message = str(caught.value)
    assert f": {field}: " in message
    assert TOKEN not in message and MAILCHIMP_KEY not in message
    assert "11111111" not in message and "0123456789abcdef" not in message


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        # A second portal would drop the first's token_env: the default token, another client's maybe.
        ('accounts:\n  - name: a\n    sources: [x.zip]\n    portal: {url: "http://127.0.0.1:18401", token_env: A_TOKEN}\n'
         '    portal: {url: "http://127.0.0.1:18402"}\n', 5, "portal"),
        ('accounts:\n  - name: a\n    sources: [x.zip]\n    portal: {token_env: A_TOKEN, token_env: B_TOKEN}\n', 4, "token_env"),
        ("accounts:\n  - name: a\n    sources: [x.zip]\naccounts:\n  - name: b\n    sources: [y.zip]\n", 4, "accounts"),
    ],
)
def test_a_key_given_twice_is_refused_at_its_second_line(tmp_path, text, line, key):
    uri = write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        load_manifest(uri)
    assert str(caught.value) == f"{uri}:{line}: key '{key}' given twice in one mapping (YAML would keep only the last): give it once"


def test_one_mapping_used_twice_through_an_alias_repeats_no_key(tmp_path):
    text = ("accounts:\n  - name: a\n    sources: [x.zip]\n    source_credentials: &shared {mailchimp_key_env: MC_KEY}\n"
            "  - name: b\n    sources: [y.zip]\n    portal: {token_env: B_TOKEN}\n    source_credentials: *shared\n")
    a, b = load_manifest(write(tmp_path, text)).accounts
    assert a.source_credentials.mailchimp_key_env == b.source_credentials.mailchimp_key_env == "MC_KEY"


@pytest.mark.parametrize(
    "url",
    ["https://user:hunter2@api.hubapi.com", "https://api.hubapi.com/?hapikey=hunter2", "https://api.hubapi.com#hunter2",
     "http://hunter2@127.0.0.1:18401"],
)
def test_a_portal_url_carrying_a_credential_is_refused_at_its_line_without_repeating_it(tmp_path, url):
    uri = write(tmp_path, GOOD.replace("url: https://api.hubapi.com,", f'url: "{url}",'))
    with pytest.raises(InputError) as caught:
        load_manifest(uri)
    assert str(caught.value) == (
        f"{uri}:4: accounts.0.portal.url: the URL carries user-info or a query, where a credential would be copied into "
        "logs and reports: give the HubSpot API base URL alone (https://api.hubapi.com) and the token's place in token_env or token_secret"
    )
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("url", ["ftp://api.hubapi.com", "api.hubapi.com", "https://"])
def test_a_portal_url_that_is_no_http_url_is_refused(tmp_path, url):
    with pytest.raises(InputError, match=r":4: accounts\.0\.portal\.url: must be an http\(s\) URL such as https://api\.hubapi\.com: "):
        load_manifest(write(tmp_path, GOOD.replace("url: https://api.hubapi.com,", f'url: "{url}",')))


def test_the_line_of_an_entry_is_found_after_the_manifest_was_read_and_none_once_it_cannot_be(tmp_path):
    path = tmp_path / "accounts.yaml"
    path.write_text(
        "accounts:\n"
        "  - name: acme\n    sources: [a.zip]\n"
        "  - name: globex\n    sources: [g.zip]\n    portal:\n      url: https://api.hubapi.com\n      portal_id: 12\n",
        encoding="utf-8",
    )

    assert manifest_line(str(path), ("accounts", 1)) == 4
    assert manifest_line(str(path), ("accounts", 1, "portal", "portal_id")) == 8
    # An account without a portal key: its entry's line, the deepest part found.
    assert manifest_line(str(path), ("accounts", 0, "portal")) == 2
    assert manifest_line(str(tmp_path / "gone.yaml"), ("accounts", 1)) is None
    path.write_text("accounts: [", encoding="utf-8")
    assert manifest_line(str(path), ("accounts", 1)) is None


def test_where_each_account_s_token_is_named_is_one_line_of_the_manifest_read_once(tmp_path):
    path = tmp_path / "accounts.yaml"
    path.write_text(
        "accounts:\n"
        "  - name: acme\n    sources: [a.zip]\n    portal:\n      url: https://api.hubapi.com\n      token_env: ACME_TOKEN\n"
        "  - name: globex\n    sources: [g.zip]\n    portal: {token_secret: globex-token}\n"
        "  - name: initech\n    sources: [i.zip]\n",
        encoding="utf-8",
    )
    accounts = load_manifest(str(path)).accounts

    # The token_env's line, the portal's (a flow mapping), the entry's (the default token).
    assert token_places(str(path), accounts) == {"acme": f"{path}:6", "globex": f"{path}:9", "initech": f"{path}:10"}
    path.unlink()
    assert token_places(str(path), accounts) == dict.fromkeys(("acme", "globex", "initech"), str(path))
