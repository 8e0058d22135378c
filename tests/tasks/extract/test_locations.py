"""A credential in a location is refused with a pointer to where that credential goes instead."""

from __future__ import annotations

import pytest

from tasks.errors import InputError
from tasks.extract.locations import check_location, redact


@pytest.mark.parametrize(
    ("location", "shown", "home"),
    [
        ("mailchimp://a1b2c3d4e5?apikey=0123abcd-us6", "mailchimp://a1b2c3d4e5?***",
         "give the API key in MAILCHIMP_API_KEY or a Prefect Secret block (--mailchimp-secret)"),
        ("constantcontact://contacts?access_token=eyJx", "constantcontact://contacts?***",
         "give the token in CONSTANT_CONTACT_TOKEN (or CONSTANT_CONTACT_REFRESH_TOKEN with CONSTANT_CONTACT_CLIENT_ID) "
         "or a Prefect Secret block (--constant-contact-secret)"),
        ("s3://KEY:SECRET@bucket/x.zip", "s3://***@bucket/x.zip",
         "give it through the environment (AWS_* and the like) or the file system's configuration"),
    ],
)
def test_a_credential_in_a_url_is_sent_where_it_belongs(location, shown, home):
    with pytest.raises(InputError) as raised:
        check_location(location)
    assert str(raised.value) == f"{shown}: the URL carries a credential: {home}, never in the URL"


@pytest.mark.parametrize(
    ("location", "shown"),
    [
        # A provider API's since is a time a sync asked for: named as it is.
        ("mailchimp://a1b2c3d4e5?since=2024-01-01T00:00:00Z", "mailchimp://a1b2c3d4e5?since=2024-01-01T00:00:00Z"),
        ("constantcontact://contacts?count=5&since=2024-01-01", "constantcontact://contacts?***&since=2024-01-01"),
        # Anywhere else a query may hold a credential under any name.
        ("https://files.example.com/x.zip?since=abc&sig=def", "https://files.example.com/x.zip?***"),
    ],
)
def test_a_location_is_named_without_its_query_but_a_providers_since(location, shown):
    assert redact(location) == shown
