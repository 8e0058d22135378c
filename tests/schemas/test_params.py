"""The flow parameters' rules reach the JSON schema Prefect enforces when a deployment's run is
created: a blank location and a credential typed where a name belongs are refused there, before
Prefect stores the run's parameters; the models themselves refuse the same."""

from __future__ import annotations

import pytest
from prefect.utilities.callables import parameter_schema
from prefect.utilities.schema_tools import validate
from pydantic import ValidationError

from flows.migrate import migrate_contacts, plan_contacts
from flows.sync import sync_contacts
from schemas.params import DEFAULT_PORTAL_URL, MigrationParameters, PlanParameters

HUBSPOT_TOKEN = "pat-na1-0b3c5d7e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
MAILCHIMP_KEY = "0123456789abcdef0123456789abcdef-us6"
USABLE = {"sources": ["s3://exports/acme/audience_export.zip"], "output": "s3://outputs/run-1"}

NAME_FIELDS = {
    "token_secret_block": ("client-b-token", HUBSPOT_TOKEN),
    "token_env": ("CLIENT_B_HUBSPOT_TOKEN", HUBSPOT_TOKEN),
}
SOURCE_CREDENTIAL_FIELDS = {
    "mailchimp_secret_block": ("mailchimp-key", MAILCHIMP_KEY),
    "mailchimp_key_env": ("MAILCHIMP_KEY", HUBSPOT_TOKEN),
    "constant_contact_secret_block": ("constant-contact", HUBSPOT_TOKEN),
    "constant_contact_env_prefix": ("CC", HUBSPOT_TOKEN),
}


def schema_of(flow) -> dict:
    """The parameter schema a deployment of ``flow`` holds, as Prefect's server enforces it."""
    return parameter_schema(flow).model_dump_for_openapi()


def refusals(flow, params: dict) -> list[str]:
    """What Prefect's validation of a run's parameters says, as when the run is created."""
    return [error.message for error in validate({"params": params}, schema_of(flow), raise_on_error=False)]


@pytest.mark.parametrize("flow", [migrate_contacts, sync_contacts])
@pytest.mark.parametrize("field", sorted(NAME_FIELDS))
def test_a_token_typed_where_a_name_belongs_is_refused_at_the_run_creation(flow, field):
    name, token = NAME_FIELDS[field]

    assert refusals(flow, {**USABLE, field: name}) == []
    assert refusals(flow, {**USABLE, field: ""}) == []
    assert refusals(flow, {**USABLE, field: None}) == []
    assert len(refusals(flow, {**USABLE, field: token})) == 1


@pytest.mark.parametrize("field", sorted(SOURCE_CREDENTIAL_FIELDS))
def test_a_source_credential_typed_where_its_name_belongs_is_refused_at_the_run_creation(field):
    name, credential = SOURCE_CREDENTIAL_FIELDS[field]

    assert refusals(plan_contacts, {**USABLE, "source_credentials": {field: name}}) == []
    assert len(refusals(plan_contacts, {**USABLE, "source_credentials": {field: credential}})) == 1


def test_the_name_fields_carry_their_patterns():
    properties = schema_of(migrate_contacts)["definitions"]["MigrationParameters"]["properties"]

    block = {branch.get("type"): branch for branch in properties["token_secret_block"]["anyOf"]}
    variable = {branch.get("type"): branch for branch in properties["token_env"]["anyOf"]}
    assert block["string"]["pattern"].endswith("[a-z0-9-]*$")
    assert variable["string"]["pattern"] == "^([A-Za-z_][A-Za-z0-9_]*)?$"
    assert set(block) == set(variable) == {"string", "null"}


@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_a_blank_output_or_source_is_refused_at_the_run_creation(blank):
    assert refusals(plan_contacts, {**USABLE, "output": blank})
    assert refusals(plan_contacts, {**USABLE, "sources": [blank]})
    assert refusals(plan_contacts, {**USABLE, "sources": []})


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_output_or_source_is_refused_by_the_model(blank):
    with pytest.raises(ValidationError, match="blank: give a local path or a URL"):
        PlanParameters(sources=USABLE["sources"], output=blank)
    with pytest.raises(ValidationError, match="blank: give a local path or a URL"):
        PlanParameters(sources=[blank], output=USABLE["output"])


def test_locations_lose_their_surrounding_whitespace():
    params = PlanParameters(sources=[" s3://exports/a.csv\n"], output="  out ")

    assert (params.sources, params.output) == (["s3://exports/a.csv"], "out")


@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_portal_url_is_hubspots(blank):
    assert MigrationParameters(**USABLE, portal_url=blank).portal_url == DEFAULT_PORTAL_URL
    assert refusals(migrate_contacts, {**USABLE, "portal_url": blank}) == []


def test_a_portal_url_loses_its_surrounding_whitespace():
    assert MigrationParameters(**USABLE, portal_url=" http://127.0.0.1:8080 ").portal_url == "http://127.0.0.1:8080"
