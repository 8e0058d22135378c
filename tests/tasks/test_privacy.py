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
        # An address holding a URL's delimiters (an opt-out file may): nothing of its local
        # part but the first character is left, wherever the delimiter stands.
        ("Email address mary/j@example.newtld is invalid", "Email address m***@example.newtld is invalid"),
        ("mary&jo@example.com, tom=jerry@example.com, who?me@example.com", "m***@example.com, t***@example.com, w***@example.com"),
        ("=news@example.com and +news@example.com and -news@example.com", "=***@example.com and +***@example.com and -***@example.com"),
        ("a/b/c?d=e&f@example.com", "a***@example.com"),
        # In a request's path Onramp quotes them: the path stays readable, the address does not.
        (
            "POST /communication-preferences/v4/statuses/mary%2Fj@example.newtld/unsubscribe-all: HTTP 400",
            "POST /communication-preferences/v4/statuses/m***@example.newtld/unsubscribe-all: HTTP 400",
        ),
    ],
)
def test_every_address_in_free_text_keeps_only_its_first_character_and_domain(text, masked):
    assert mask_emails_in(text) == masked


def test_one_address_is_masked_to_its_first_character_and_domain():
    assert mask_email("jane.doe@example.com") == "j***@example.com"
    assert mask_email("not an address") == "***"



@pytest.mark.parametrize("local", ["mary/j", "a&b", "x=y", "why?not", "/lead", "=first", "o'neil", "a.b+c"])
def test_every_address_the_project_accepts_keeps_no_more_than_its_first_character(local):
    import re

    from schemas.contact import OPT_OUT_ADDRESS_PATTERN

    address = f"{local}@example.com"
    assert re.fullmatch(OPT_OUT_ADDRESS_PATTERN, address)
    for text in (address, f"refused: {address}.", f"[{address}]"):
        masked = mask_emails_in(text)
        assert local[1:] not in masked.replace("example.com", ""), masked
        assert f"{local[0]}***@example.com" in masked
