import pandera.errors
import polars as pl
import pytest

from schemas.contact import EMAIL_PATTERN, CanonicalContactSchema, is_opt_out_address, is_valid_email, top_level_domains


@pytest.mark.parametrize(
    "email",
    [
        "jane@example.com",
        "jane.doe+news@mail.example.co.uk",
        "o'brien@x.ie",
        "x@xn--bcher-kva.de",
        "a_b@sub-domain.io",
        "jane@bücher.de",
        "user@例え.jp",
        "user@email.삼성",
        "user@email.xn--3e0b707e",
        "ivan@пример.рф",
    ],
)
def test_valid_addresses_match(email):
    assert pl.select(pl.lit(email).str.contains(EMAIL_PATTERN)).item()
    assert pl.select(is_valid_email(pl.lit(email))).item()


@pytest.mark.parametrize("email", ["jane@gmail.con", "jane@x.example", "jane@x.test", "jane@x.local", "jane@yahoo.comm"])
def test_an_address_at_no_top_level_domain_has_the_form_but_is_not_valid(email):
    assert pl.select(pl.lit(email).str.contains(EMAIL_PATTERN)).item()
    assert not pl.select(is_valid_email(pl.lit(email))).item()


def test_the_top_level_domains_are_the_public_suffix_lists_in_both_spellings():
    from publicsuffixlist import PublicSuffixList

    icann = PublicSuffixList(only_icann=True)
    domains = top_level_domains()
    assert {"com", "uk", "삼성", "xn--3e0b707e", "рф", "xn--p1ai"} <= set(domains)
    assert all(icann.is_public(domain, accept_unknown=False) for domain in domains)
    assert not {"con", "example", "test", "local", "co.uk"} & set(domains)


@pytest.mark.parametrize(
    "email",
    [
        "jane.doe@",
        "no-at-sign",
        "@example.com",
        "jane@@x.com",
        "jane@x",
        "jane doe@x.com",
        "jane..doe@x.com",
        ".jane@x.com",
        "=cmd@x.com",
        "jane@-x.com",
        "josé@x.com",
        "jane@x\u3002com",
        "jane@ex\u200bample.com",
        "jane@ex\u00a0ample.com",
        "jane@x\uff0ecom",
    ],
)
def test_invalid_addresses_do_not_match(email):
    assert not pl.select(pl.lit(email).str.contains(EMAIL_PATTERN)).item()


def contacts(**overrides) -> pl.DataFrame:
    data = {"email": ["a@x.com"], "outcome": ["opted_out"], "opt_out_status": ["cleaned"], "onramp_provenance": ["mailchimp-export:cleaned"], "sources": ["f:2"], "rows_merged": [1]}
    return pl.DataFrame(data | overrides)


def test_a_well_formed_contact_passes():
    CanonicalContactSchema.validate(contacts())


@pytest.mark.parametrize(
    "overrides",
    [
        {"email": ["A@x.com"]},
        {"outcome": ["maybe"]},
        {"opt_out_status": [None]},
        {"outcome": ["marketing"]},
        {"onramp_provenance": [None]},
    ],
)
def test_contract_violations_are_caught(overrides):
    with pytest.raises(pandera.errors.SchemaError):
        CanonicalContactSchema.validate(contacts(**overrides))


def test_duplicate_emails_violate_the_contract():
    frame = pl.concat([contacts(), contacts()])
    with pytest.raises(pandera.errors.SchemaError):
        CanonicalContactSchema.validate(frame)


@pytest.mark.parametrize(
    ("email", "valid"),
    [("a" * 64 + "@x.com", True), ("a" * 65 + "@x.com", False), ("a@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + "." + "e" * 58 + ".io", False)],
)
def test_rfc_5321_lengths_bound_an_address(email, valid):
    from schemas.contact import is_valid_email

    assert pl.select(is_valid_email(pl.lit(email))).item() is valid


@pytest.mark.parametrize(
    ("address", "canonical"),
    [
        ("jane@xn--bcher-kva.de", "jane@bücher.de"),
        ("jane@bücher.de", "jane@bücher.de"),
        ("jane@bu\u0308cher.de", "jane@bücher.de"),
        ("user@email.xn--3e0b707e", "user@email.한국"),
        ("jane@ex\uff0eample\u3002com", "jane@ex.ample.com"),
        # IDNA refuses the domain: left for the form check to judge.
        ("jane@a_b.xn--bcher-kva.de", "jane@a_b.xn--bcher-kva.de"),
    ],
)
def test_an_internationalised_domain_has_one_spelling(address, canonical):
    from schemas.contact import canonical_address

    assert canonical_address(address) == canonical


@pytest.mark.parametrize(
    ("address", "spelling"),
    [("jane@bücher.de", "jane@xn--bcher-kva.de"), ("user@例え.jp", "user@xn--r8jz45g.jp"), ("jane@example.com", None), ("jane@xn--bcher-kva.de", None), ("no-at-sign", None)],
)
def test_an_address_at_a_unicode_domain_has_an_ascii_spelling_for_its_opt_out(address, spelling):
    from schemas.contact import ascii_spelling

    assert ascii_spelling(address) == spelling


@pytest.fixture
def reread_top_level_domains():
    """The list is read once per process: a test that changes the environment reads it again,
    and leaves it to be read afresh after."""
    from schemas import contact

    yield contact.top_level_domains.cache_clear
    contact.top_level_domains.cache_clear()


def test_a_top_level_domain_newer_than_the_bundled_list_can_be_named(monkeypatch, reread_top_level_domains):
    from schemas.contact import EXTRA_TOP_LEVEL_DOMAINS_ENV

    newer = ("jane@example.newtld", "jane@example.другой", "jane@example.xn--c1abqtis")
    assert not any(pl.select(is_valid_email(pl.lit(email))).item() for email in newer)
    monkeypatch.setenv(EXTRA_TOP_LEVEL_DOMAINS_ENV, " NewTLD , .другой")
    reread_top_level_domains()
    for email in newer:
        assert pl.select(is_valid_email(pl.lit(email))).item(), email


def test_a_name_the_environment_adds_is_a_whole_last_label(monkeypatch, reread_top_level_domains):
    """Each name is matched as written, and only as the address's last label: one with a dot
    never is one, and one holding a pattern character matches only itself."""
    from schemas.contact import EXTRA_TOP_LEVEL_DOMAINS_ENV, ends_in_top_level_domain

    monkeypatch.setenv(EXTRA_TOP_LEVEL_DOMAINS_ENV, "example.newtld, a+b")
    reread_top_level_domains()
    ends = {
        address: pl.select(ends_in_top_level_domain(pl.lit(address))).item()
        for address in ("jane@mail.example.newtld", "jane@mail.a+b", "jane@mail.aab", "jane@mail.com", "jane@mail.com@x", "jane@localhost")
    }

    assert ends == {
        "jane@mail.example.newtld": False,
        "jane@mail.a+b": True,
        "jane@mail.aab": False,
        "jane@mail.com": True,
        "jane@mail.com@x": False,
        "jane@localhost": False,
    }


@pytest.mark.parametrize(
    ("email", "valid"),
    [("jane@doe@example.com", False), ("j\u00e9@example.com", False), ("\u00e9" * 32 + "@example.com", False), ("a.b@example.com", True)],
)
def test_the_local_part_is_measured_only_where_the_form_holds(email, valid):
    """An address with two "@" or a local part outside ASCII fails on its form, whatever its
    local part's length in bytes or characters."""
    assert pl.select(is_valid_email(pl.lit(email))).item() is valid


@pytest.mark.parametrize("email", ["+news@example.com", "-dash@example.com", "=eq@example.com"])
def test_an_address_starting_like_a_formula_is_no_contact_s_but_is_opted_out(email):
    assert not pl.select(is_valid_email(pl.lit(email))).item()
    assert pl.select(is_opt_out_address(pl.lit(email))).item()


@pytest.mark.parametrize("email", ["a@example.com", "+news@gmail.con", "+news@", ".news@example.com", "@news@example.com", "+né@example.com"])
def test_an_opt_out_address_is_held_to_the_rest_of_a_contact_s_rules(email):
    assert pl.select(is_opt_out_address(pl.lit(email))).item() is pl.select(is_valid_email(pl.lit(email))).item()
