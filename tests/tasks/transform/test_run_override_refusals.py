"""A run's consent overrides held to every bundled profile before any file is read: an opt-out
of any profile stays one, named by the profiles that make it one; ``unrecognised`` is refused
saying why; a mapping's ``[consent]`` the run's ``--consent`` loosens is said in one line."""

from __future__ import annotations

import pytest

from schemas.manifest import load_manifest
from tasks.errors import InputError
from tasks.plan import check_run_overrides, consent_profiles, refused_run_override
from tasks.transform.consent import EVERY_PROFILE_HOLDS, OWN_STATUS_HINT, UNRECOGNISED_REFUSAL
from tasks.transform.mapping_file import UserMapping
from tasks.transform.profile import load_profile


@pytest.mark.parametrize(
    ("overrides", "status", "problem", "hinted"),
    [
        # A Constant Contact status, refused with no Constant Contact file read (the run's files are unknown yet).
        ({"bounced": "marketing"}, "bounced",
         "status 'bounced' is an opt-out in the activecampaign, constantcontact, generic, pipedrive profiles "
         f"({EVERY_PROFILE_HOLDS}) and cannot be mapped to marketing", True),
        # Mailchimp's only: the message names no format that does not make it an opt-out.
        ({"subscribed": "non_marketing", "Cleaned": "non_marketing"}, "Cleaned",
         f"status 'cleaned' is an opt-out in the mailchimp profile ({EVERY_PROFILE_HOLDS}) and cannot be mapped to non_marketing", True),
        ({"unrecognised": "opted_out"}, "unrecognised", UNRECOGNISED_REFUSAL, False),
        ({"name_disagrees": "marketing"}, "name_disagrees",
         "status 'name_disagrees' is evidence of an opt-out and cannot be mapped to marketing (use non_marketing or opted_out)", False),
        ({"implicit": "maybe"}, "implicit", "status 'implicit': unknown outcome 'maybe' (use marketing, non_marketing, opted_out)", False),
    ],
)  # fmt: skip
def test_an_override_no_run_may_make_is_refused_naming_the_status_and_why(overrides, status, problem, hinted):
    assert refused_run_override(overrides) == (status, problem)
    with pytest.raises(InputError) as refused:
        check_run_overrides(overrides)
    # A run may read a mapping file (an account of a manifest reads none): its refusal of an
    # opt-out re-mapped says how a value of the user's own file gets an outcome.
    assert str(refused.value) == f"--consent: {problem}" + (f"; {OWN_STATUS_HINT}" if hinted else "")


def test_another_formats_opt_out_is_refused_saying_why_and_how_to_name_a_value_of_ones_own_file():
    # Klaviyo's alone: refused for a run reading no Klaviyo file, as its files are not known yet.
    with pytest.raises(InputError) as refused:
        check_run_overrides({"suppressed": "non_marketing"})

    assert str(refused.value) == (
        "--consent: status 'suppressed' is an opt-out in the klaviyo profile (an override holds for every profile: "
        "which one reads a file is known only once it is read) and cannot be mapped to non_marketing; to give a value "
        "of your own file an outcome, read it as a status of your own with a mapping's [[status.rules]] and map that "
        "status under [consent]"
    )


def test_the_refusal_of_unrecognised_says_what_it_is_and_what_to_do():
    assert UNRECOGNISED_REFUSAL == (
        "'unrecognised' (a value no rule reads) cannot be re-mapped: read the value with a mapping file's [[status.rules]]"
    )


@pytest.mark.parametrize(
    "overrides",
    [{}, {"cleaned": "opted_out"}, {"subscribed": "non_marketing", "implicit": "non_marketing"}, {"name_disagrees": "opted_out"}],
)
def test_overrides_that_weaken_no_opt_out_pass(overrides):
    assert refused_run_override(overrides) is None
    check_run_overrides(overrides)


def test_the_plans_own_check_refuses_unrecognised_with_the_true_reason_not_as_a_status_no_row_has():
    with pytest.raises(InputError, match=r"^consent policy: 'unrecognised' \(a value no rule reads\) cannot be re-mapped"):
        consent_profiles([load_profile("generic")], {"unrecognised": "opted_out"})


@pytest.mark.parametrize(
    ("name", "overrides", "problem"),
    [
        # Without the up-front check (a test's, a benchmark's call), the run's own opt-outs stay locked.
        ("constantcontact", {"bounced": "marketing"}, "consent policy: constantcontact-export status 'bounced' is an opt-out and cannot be mapped to marketing"),
        ("generic", {"name_disagrees": "marketing"}, "consent policy: status 'name_disagrees' is evidence of an opt-out and cannot be mapped to marketing"),
        # Held to the run's profiles only (every bundled one was held before any file was read):
        # Klaviyo's opt-out is no status of a plain file's.
        ("generic", {"suppressed": "non_marketing"}, "--consent: no generic-csv row has the status 'suppressed'"),
    ],
)  # fmt: skip
def test_the_plan_holds_the_overrides_to_the_profiles_it_read_with(name, overrides, problem):
    with pytest.raises(InputError) as refused:
        consent_profiles([load_profile(name)], overrides)

    assert str(refused.value).startswith(problem)


MANIFEST = """\
accounts:
  - name: acme
    sources: [a.csv]
    portal: {url: "http://127.0.0.1:1", token_env: ACME_TOKEN}
  - name: globex
    sources: [b.csv]
    portal: {url: "http://127.0.0.1:2", token_env: GLOBEX_TOKEN}
    consent_overrides:
      subscribed: non_marketing
      unsubscribed: marketing
"""


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        (
            "unsubscribed: marketing",
            "accounts.1.consent_overrides.unsubscribed: account globex: status 'unsubscribed' is an opt-out in the "
            f"activecampaign, constantcontact, generic, klaviyo, mailchimp, pipedrive profiles ({EVERY_PROFILE_HOLDS}) "
            "and cannot be mapped to marketing",
        ),
        # A typo: an account reads no mapping file that could give the status.
        (
            "subscibed: marketing",
            "accounts.1.consent_overrides.subscibed: account globex: no row can have the status 'subscibed': "
            "did you mean 'subscribed'?",
        ),
    ],
)
def test_a_manifest_override_no_run_may_make_is_refused_whole_naming_the_account_line_and_status(tmp_path, override, problem):
    manifest = tmp_path / "accounts.yaml"
    manifest.write_text(MANIFEST.replace("unsubscribed: marketing", override), encoding="utf-8")

    with pytest.raises(InputError) as refused:
        load_manifest(str(manifest))

    assert str(refused.value) == f"{manifest}:10: {problem}"


def test_a_manifest_whose_overrides_weaken_no_opt_out_is_read(tmp_path):
    manifest = tmp_path / "accounts.yaml"
    manifest.write_text(MANIFEST.replace("unsubscribed: marketing", "cleaned: opted_out"), encoding="utf-8")

    assert load_manifest(str(manifest)).accounts[1].consent_overrides == {"subscribed": "non_marketing", "cleaned": "opted_out"}


@pytest.mark.parametrize(
    ("consent", "line", "problem"),
    [('unrecognised = "opted_out"', 3, UNRECOGNISED_REFUSAL),
     ('name_disagrees = "marketing"', 3, "status 'name_disagrees' is evidence of an opt-out and cannot be mapped to marketing")],
)  # fmt: skip
def test_a_mapping_file_is_held_to_the_same_rules(tmp_path, consent, line, problem):
    mapping = tmp_path / "m.toml"
    mapping.write_text(f'[consent]\nsubscribed = "non_marketing"\n{consent}\n', encoding="utf-8")

    with pytest.raises(InputError) as refused:
        UserMapping.load(mapping)

    assert str(refused.value).startswith(f"{mapping}:{line}: {problem}")


def test_the_runs_consent_loosening_a_mapping_is_one_line_naming_both(tmp_path):
    mapping = tmp_path / "strict.toml"
    mapping.write_text('[consent]\nname_disagrees = "opted_out"\nSubscribed = "opted_out"\nno_consent = "non_marketing"\n', encoding="utf-8")
    loaded = UserMapping.load(mapping)

    lines = loaded.loosened_by({"subscribed": "marketing", "name_disagrees": "opted_out", "no_consent": "opted_out", "implicit": "marketing"})

    assert lines == [
        f"--consent subscribed=marketing makes 'subscribed' less restrictive than {mapping}:3 does "
        "(Subscribed = \"opted_out\"): the run's --consent wins, its rows are marketing"
    ]
    assert loaded.loosened_by({"name_disagrees": "non_marketing"}) == [
        f"--consent name_disagrees=non_marketing makes 'name_disagrees' less restrictive than {mapping}:2 does "
        "(name_disagrees = \"opted_out\"): the run's --consent wins, its rows are non_marketing"
    ]
