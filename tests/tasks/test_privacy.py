import pytest

from tasks.privacy import mask_email, mask_emails_in


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("Email address jane.doe@example.com is invalid", "Email address j***@example.com is invalid"),
        # Internationalised domains, as written and percent-encoded in a request's path.
        ("Email address jane@bücher.de is invalid", "Email address j***@bücher.de is invalid"),
        ("user@例え.jp", "u***@例え.jp"),
        (
            "POST /communication-preferences/v4/statuses/ulla@m%C3%BCller.de/unsubscribe-all: HTTP 504",
            "POST /communication-preferences/v4/statuses/u***@m%C3%BCller.de/unsubscribe-all: HTTP 504",
        ),
        ("ivan@%D0%BF%D1%80.%D1%80%D1%84", "i***@%D0%BF%D1%80.%D1%80%D1%84"),
        ("GET /contacts?email=jane%40example.com&limit=1", "GET /contacts?email=j***@example.com&limit=1"),
        # Every character a local part may hold is masked, not only the common ones.
        ("john{secret}@example.com and a!bcdefgh@example.com", "j***@example.com and a***@example.com"),
        ("HTTP 504: Gateway timeout.", "HTTP 504: Gateway timeout."),
    ],
)
def test_every_address_in_free_text_keeps_only_its_first_character_and_domain(text, masked):
    assert mask_emails_in(text) == masked


def test_one_address_is_masked_to_its_first_character_and_domain():
    assert mask_email("jane.doe@example.com") == "j***@example.com"
    assert mask_email("not an address") == "***"

