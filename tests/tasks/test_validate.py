import polars as pl
import pytest

from schemas import lineage
from schemas.mailchimp import REJECT_REASONS, export_file_schema
from tasks.errors import InputError
from tasks.validate import split_rejects


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
    result = split_rejects(frame, export_file_schema("subscribed", "Email Address"), REJECT_REASONS, "f.csv")
    assert result.accepted["Email Address"].to_list() == [" Jane@Example.com ", "ok@x.org"]
    assert result.rejects.select(lineage.SOURCE_ROW, "reason", "NOTES").rows() == [
        (3, "no email address", "note 1"),
        (4, "no email address", "note 2"),
        (5, "invalid email address", "note 3"),
        (6, "invalid email address", "note 4"),
    ]
    assert result.rejects.columns[:5] == [*lineage.ALL, "reason"]


def test_a_clean_file_has_no_rejects():
    result = split_rejects(rows(["a@x.com"]), export_file_schema("subscribed", "Email Address"), REJECT_REASONS, "f.csv")
    assert result.accepted.height == 1
    assert result.rejects.height == 0


def test_a_file_missing_its_lineage_fails_as_a_whole_naming_the_file():
    with pytest.raises(InputError, match=r"^f\.csv: does not fit .*_source_row"):
        split_rejects(rows(["a@x.com"]).drop(lineage.SOURCE_ROW), export_file_schema("subscribed", "Email Address"), REJECT_REASONS, "f.csv")


def test_a_row_with_more_fields_than_the_header_is_rejected_with_its_values(tmp_path):
    from tasks.extract.mailchimp import read_export

    source = tmp_path / "subscribed_members_export_ab.csv"
    source.write_text("Email Address,First Name\na@x.com,Ann\nb@x.com,Bob,stray,fields\nc@x.com\n", encoding="utf-8")
    [raw] = read_export(str(source), tmp_path / "staging")
    result = split_rejects(raw.frame.collect(), export_file_schema(raw.status, raw.email_column), REJECT_REASONS, raw.uri)
    assert result.accepted["Email Address"].to_list() == ["a@x.com", "c@x.com"]
    assert result.rejects.select(lineage.SOURCE_ROW, "reason", "First Name", lineage.EXTRA_FIELDS).rows() == [
        (3, "the row has more fields than the header", "Bob", "stray,fields")
    ]
