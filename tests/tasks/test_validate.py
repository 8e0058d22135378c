import pandera.errors
import pandera.polars as pa
import polars as pl
import pytest

from schemas import lineage
from schemas.mailchimp import REJECT_REASONS, ROW_RULES, export_file_schema
from tasks.errors import InputError
from tasks.validate import BLANK_ROW_REASON, split_rejects


def split(frame, status="subscribed", email_column="Email Address", uri="f.csv"):
    """Validate and collect both sides, as the plan's sinks do."""
    result = split_rejects(frame, export_file_schema(status, email_column), ROW_RULES, REJECT_REASONS, uri)
    return result.accepted.collect(), result.rejects.collect()


def rows(emails: list[str | None]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "Email Address": emails,
            "NOTES": [f"note {i}" for i in range(len(emails))],
            lineage.EXTRA_FIELDS: [None] * len(emails),
            lineage.SOURCE_URI: ["f.csv"] * len(emails),
            lineage.SOURCE_ROW: pl.Series(range(2, 2 + len(emails)), dtype=pl.Int64),
            lineage.SOURCE_STATUS: ["subscribed"] * len(emails),
            lineage.SOURCE_FORMAT: ["mailchimp-export"] * len(emails),
        },
        schema_overrides={"Email Address": pl.String, lineage.EXTRA_FIELDS: pl.String},
    )


def test_rows_without_a_usable_email_go_to_the_rejects_with_lineage_reason_and_values():
    frame = rows([" Jane@Example.com ", None, "   ", "jane.doe@", "no-at-sign", "ok@x.org"])
    accepted, rejects = split(frame)
    assert accepted["Email Address"].to_list() == [" Jane@Example.com ", "ok@x.org"]
    assert rejects.select(lineage.SOURCE_ROW, lineage.REJECT_REASON, "NOTES").rows() == [
        (3, "no email address", "note 1"),
        (4, "no email address", "note 2"),
        (5, "invalid email address", "note 3"),
        (6, "invalid email address", "note 4"),
    ]
    assert rejects.columns[:5] == [*lineage.ALL, lineage.REJECT_REASON]


def test_an_address_whose_domain_ends_in_no_top_level_domain_is_rejected_for_that_alone():
    frame = rows(["jane@gmail.con", "jane@x.example", "Jane@Bücher.DE", "jane@email.삼성", "jane@gmail.com", "jane@gmail"])
    accepted, rejects = split(frame)
    assert accepted["Email Address"].to_list() == ["Jane@Bücher.DE", "jane@email.삼성", "jane@gmail.com"]
    assert rejects.select(lineage.SOURCE_ROW, lineage.REJECT_REASON).rows() == [
        (2, REJECT_REASONS["email_domain_known"]),
        (3, REJECT_REASONS["email_domain_known"]),
        (7, "invalid email address"),
    ]


def test_a_row_with_no_value_in_any_cell_is_rejected_as_a_blank_row():
    frame = rows(["a@x.com", None, "  ", None]).with_columns(
        NOTES=pl.Series(["note", None, " ", "kept"]),
        **{lineage.EXTRA_FIELDS: pl.Series([None, None, None, None], dtype=pl.String)},
    )
    accepted, rejects = split(frame)
    assert accepted["Email Address"].to_list() == ["a@x.com"]
    assert rejects.select(lineage.SOURCE_ROW, lineage.REJECT_REASON).rows() == [
        (3, BLANK_ROW_REASON),
        (4, BLANK_ROW_REASON),
        (5, "no email address"),
    ]


def test_a_clean_file_has_no_rejects():
    accepted, rejects = split(rows(["a@x.com"]))
    assert accepted.height == 1
    assert rejects.height == 0


def test_a_file_missing_its_lineage_fails_as_a_whole_naming_the_file():
    with pytest.raises(InputError, match=r"^f\.csv: does not fit .*_source_row"):
        split(rows(["a@x.com"]).drop(lineage.SOURCE_ROW))


def test_a_row_with_more_fields_than_the_header_is_rejected_with_its_values(tmp_path):
    from tasks.extract.mailchimp import read_export

    source = tmp_path / "subscribed_members_export_ab.csv"
    source.write_text("Email Address,First Name\na@x.com,Ann\nb@x.com,Bob,stray,fields\nc@x.com\n", encoding="utf-8")
    [raw] = read_export(str(source), tmp_path / "staging")
    accepted, rejects = split(raw.frame, raw.status, raw.email_column, raw.uri)
    assert accepted["Email Address"].to_list() == ["a@x.com", "c@x.com"]
    assert rejects.select(lineage.SOURCE_ROW, lineage.REJECT_REASON, "First Name", lineage.EXTRA_FIELDS).rows() == [
        (3, "the row has more fields than the header", "Bob", "stray,fields")
    ]


def test_a_row_failing_two_checks_gets_both_reasons_in_check_name_order():
    frame = rows(["no-at-sign"]).with_columns(pl.lit("stray").alias(lineage.EXTRA_FIELDS))
    _, rejects = split(frame)
    assert rejects[lineage.REJECT_REASON].to_list() == ["invalid email address; the row has more fields than the header"]


def test_the_reasons_are_the_pandera_checks_verdicts():
    """The row rules and the pandera schema they build agree on every row."""
    frame = rows([" Jane@Example.com ", None, "   ", "jane.doe@", "=cmd@x.com", "ok@x.org"])
    schema = export_file_schema("subscribed", "Email Address")
    with pytest.raises(pandera.errors.SchemaErrors) as failed:
        schema.validate(frame, lazy=True)
    failing = set(failed.value.failure_cases.get_column("index").to_list())
    _, rejects = split(frame)
    assert {row - 2 for row in rejects[lineage.SOURCE_ROW]} == failing


def test_a_schema_check_that_is_no_row_rule_is_refused():
    schema = export_file_schema("subscribed", "Email Address")
    schema.columns[lineage.SOURCE_ROW].checks.append(pa.Check.ge(2))
    with pytest.raises(ValueError, match="not a row rule"):
        split_rejects(rows(["a@x.com"]), schema, ROW_RULES, REJECT_REASONS, "f.csv")


def test_several_addresses_in_one_row_are_rejected_for_that_alone():
    accepted, rejects = split(rows(["a@x.com, b@y.com", "a@x.com"]))
    assert accepted["Email Address"].to_list() == ["a@x.com"]
    assert rejects.select(lineage.SOURCE_ROW, lineage.REJECT_REASON).rows() == [(2, REJECT_REASONS["email_single"])]
