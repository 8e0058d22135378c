"""Reading Mailchimp audience exports: both layouts, messy headers and cells, lineage, bad files."""

from __future__ import annotations

from pathlib import Path

import fsspec
import polars as pl
import pytest

from benchmarks.generate_mailchimp import headers_for, write_export
from schemas.contact import top_level_domains
from schemas.lineage import EXTRA_FIELDS, SOURCE_FORMAT, SOURCE_ROW, SOURCE_STATUS, SOURCE_URI
from tasks.errors import InputError
from tasks.extract import mailchimp
from tasks.extract.mailchimp import FORMAT, read_export, read_export_file, status_from_filename
from tasks.extract.sources import StagedFile

LINEAGE_SCHEMA = {
    EXTRA_FIELDS: pl.String,
    SOURCE_URI: pl.String,
    SOURCE_ROW: pl.Int64,
    SOURCE_STATUS: pl.String,
    SOURCE_FORMAT: pl.String,
}


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("subscribed_email_audience_export_ab12cd34ef.csv", "subscribed"),
        ("nonsubscribed_email_audience_export_ab12cd34ef.csv", "nonsubscribed"),
        ("unsubscribed_email_audience_export_ab12cd34ef.csv", "unsubscribed"),
        ("cleaned_email_audience_export_ab12cd34ef.csv", "cleaned"),
        ("sms_only_audience_export_ab12cd34ef.csv", "sms_only"),
        ("members_export_ab/subscribed_members_export_ab.csv", "subscribed"),
        ("transactional_members_export_ab.csv", "transactional"),
        ("/x/e.zip!audience_export_ab/NONSUBSCRIBED_Email_Audience_Export_ab.csv", "nonsubscribed"),
        ("s3://b/x.zip!Unsubscribed_members_export_ab.csv", "unsubscribed"),
        ("members_export_ab.csv", None),
        ("subscribedish.csv", None),
        ("subscribed_x/notes.csv", None),
    ],
)
def test_status_comes_from_the_file_name(name, status):
    assert status_from_filename(name) == status


def _csv(folder: Path, name: str, text: str, *, bom: bool = False) -> StagedFile:
    path = folder / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return StagedFile(uri=f"/exports/{name}", path=path)


def _valid_emails(frame: pl.DataFrame, column: str) -> set[str]:
    emails = frame.get_column(column).drop_nulls().str.strip_chars().str.to_lowercase()
    return {email for email in emails if email.partition("@")[2].count(".") and email.rsplit(".", 1)[1] in top_level_domains()}


@pytest.mark.parametrize("layout", ["new", "old"])
def test_generated_export_reads_back_exactly(tmp_path, layout):
    path = tmp_path / "export.zip"
    truth = write_export(path, rows=120, seed=11, layout=layout)

    sources = read_export(str(path), tmp_path / "staging")

    assert [source.uri for source in sources] == sorted(
        f"{path}!{status.member}" for status in truth.statuses.values()
    )
    for source in sources:
        expected = truth.statuses[source.status]
        frame = source.frame.collect()
        assert source.format == FORMAT
        assert source.email_column == "Email Address"
        assert source.headers == list(dict.fromkeys(headers_for(source.status, layout)))
        disagreeing = [mailchimp.disagreeing_column(header) for header in source.duplicate_headers]
        assert frame.columns == [*source.headers, *disagreeing, *LINEAGE_SCHEMA]
        assert all(frame.schema[header] == pl.String for header in source.headers)
        assert {name: frame.schema[name] for name in LINEAGE_SCHEMA} == LINEAGE_SCHEMA
        assert frame.height == expected.rows
        assert frame.get_column(SOURCE_ROW).to_list() == list(range(2, expected.rows + 2))
        assert set(frame.get_column(SOURCE_URI)) == {source.uri}
        assert set(frame.get_column(SOURCE_STATUS)) == {source.status}
        assert _valid_emails(frame, "Email Address") == expected.emails


def test_old_layout_has_geo_no_tags_and_coalesces_its_duplicate_header(tmp_path):
    path = tmp_path / "old.zip"
    write_export(path, rows=80, seed=5, layout="old")

    sources = {source.status: source for source in read_export(str(path), tmp_path / "staging")}

    assert set(sources) == {"subscribed", "unsubscribed", "cleaned", "nonsubscribed"}
    assert all("!members_export_" in source.uri for source in sources.values())
    unsubscribed = sources["unsubscribed"]
    assert {"LATITUDE", "LONGITUDE"} <= set(unsubscribed.headers)
    assert "TAGS" not in unsubscribed.headers
    assert unsubscribed.duplicate_headers == ["UNSUB_REASON"]
    assert unsubscribed.headers.count("UNSUB_REASON") == 1
    # The generator leaves the first UNSUB_REASON blank: the coalesced column must hold the second.
    assert unsubscribed.frame.collect().get_column("UNSUB_REASON").null_count() == 0
    others = [source for status, source in sources.items() if status != "unsubscribed"]
    assert all(source.duplicate_headers == [] for source in others)


def test_bom_case_and_spaces_in_headers(tmp_path):
    staged = _csv(
        tmp_path,
        "subscribed_members_export_ab.csv",
        " EMAIL ADDRESS ,first name,  Last Name\nJane@Example.com,Zoë,李\n",
        bom=True,
    )

    source = read_export_file(staged)

    assert source.headers == ["EMAIL ADDRESS", "first name", "Last Name"]
    assert source.email_column == "EMAIL ADDRESS"
    rows = source.frame.select(source.headers).collect().rows()
    assert rows == [("Jane@Example.com", "Zoë", "李")]


def test_duplicate_headers_take_the_first_non_empty_value(tmp_path):
    staged = _csv(
        tmp_path,
        "unsubscribed_members_export_ab.csv",
        "Email Address,UNSUB_REASON,UNSUB_CAMPAIGN_ID,unsub_reason,UNSUB_CAMPAIGN_ID\n"
        "a@x.com,,c1,second,c2\n"
        'b@x.com,first,"",second,c3\n'
        "c@x.com,,,,\n",
    )

    source = read_export_file(staged)

    assert source.headers == ["Email Address", "UNSUB_REASON", "UNSUB_CAMPAIGN_ID"]
    assert source.duplicate_headers == ["UNSUB_REASON", "UNSUB_CAMPAIGN_ID"]
    assert source.frame.select("UNSUB_REASON", "UNSUB_CAMPAIGN_ID").collect().rows() == [
        ("second", "c1"),
        ("first", "c3"),
        (None, None),
    ]


def test_quoted_newlines_keep_the_spreadsheet_row_number(tmp_path):
    staged = _csv(
        tmp_path,
        "subscribed_email_audience_export_ab.csv",
        "Email Address,NOTES,Address,TAGS\r\n"
        'a@x.com,"line one\nline two, with ""quotes""\r\nline three",1 Main St,\r\n'
        'b@x.com,,"Apt 4\n1 Main St, Bar Harbor, ME  04609  US","""Member"",""2025 waiver"""\r\n'
        "c@x.com,=HYPERLINK(\"x\"),,\r\n",
    )

    frame = read_export_file(staged).frame.collect()

    assert frame.get_column(SOURCE_ROW).to_list() == [2, 3, 4]
    assert frame.get_column("Email Address").to_list() == ["a@x.com", "b@x.com", "c@x.com"]
    assert frame.get_column("NOTES").to_list() == [
        'line one\nline two, with "quotes"\r\nline three', None, '=HYPERLINK("x")',
    ]  # fmt: skip
    assert frame.get_column("Address")[1] == "Apt 4\n1 Main St, Bar Harbor, ME  04609  US"
    assert frame.get_column("TAGS")[1] == '"Member","2025 waiver"'


def test_empty_cells_are_null_and_values_untouched(tmp_path):
    staged = _csv(
        tmp_path,
        "cleaned_email_audience_export_ab.csv",
        'Email Address,First Name,Phone Number\n  Jane@X.com ,"",+1 619 305 8111\n,,\n',
    )

    frame = read_export_file(staged).frame.collect()

    assert frame.select("Email Address", "First Name", "Phone Number").rows() == [
        ("  Jane@X.com ", None, "+1 619 305 8111"),
        (None, None, None),
    ]
    assert frame.get_column(SOURCE_ROW).to_list() == [2, 3]


@pytest.mark.parametrize(
    ("text", "email_column"),
    [
        ("Name,Email\nJane,jane@x.com\n", "Email"),
        ("E-mail,First Name,MEMBER_RATING\njane@x.com,Jane,2\nbad,Jo,1\njo@x.com,Jo,3\n", "E-mail"),
        ("Courriel,Prénom\n", "Courriel"),
    ],
)
def test_email_column_by_name_or_renamed_first_column(tmp_path, text, email_column):
    source = read_export_file(_csv(tmp_path, "subscribed_members_export_ab.csv", text))

    assert source.email_column == email_column


@pytest.mark.parametrize(
    ("name", "text", "problem", "line"),
    [
        ("audience.csv", "Email Address\na@x.com\n", "not a Mailchimp export file", None),
        ("subscribed_a.csv", "First Name,Last Name\nJane,Doe\n", "no email column", 1),
        ("subscribed_b.csv", "MEMBER_RATING,Name\na@x.com,Jane\n", "no email column", 1),
        ("subscribed_c.csv", "", "empty file", 1),
        (
            "subscribed_d.csv",
            'Email Address,NOTES\na@x.com,"ok\nstill ok"\nb@x.com,"never closed\nc@x.com,x\n',
            "unclosed double quote",
            4,
        ),
    ],
)  # fmt: skip
def test_files_that_are_not_usable_exports_raise_input_error(tmp_path, name, text, problem, line):
    staged = _csv(tmp_path, name, text)

    with pytest.raises(InputError) as raised:
        read_export_file(staged)

    assert raised.value.uri == staged.uri
    assert problem in raised.value.problem
    assert raised.value.line == line


def test_bytes_that_are_not_utf8_name_their_line(tmp_path):
    path = tmp_path / "subscribed_members_export_ab.csv"
    path.write_bytes(b"Email Address,First Name\na@x.com,Jane\nb@x.com,Fran\xe7oise\n")

    with pytest.raises(InputError) as raised:
        read_export_file(StagedFile(uri=str(path), path=path))

    assert raised.value.problem == "not UTF-8 text"
    assert raised.value.line == 3


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 5, 7])
def test_checks_cut_into_tiny_pieces_see_what_one_piece_sees(tmp_path, monkeypatch, chunk_bytes):
    """Pieces cut inside a character or a CRLF are checked as the whole file is."""
    monkeypatch.setattr(mailchimp, "CHECK_CHUNK_BYTES", chunk_bytes)
    path = tmp_path / "subscribed_members_export_ab.csv"
    fine = 'Email Address,NOTES\r\na@x.com,"Fran\u00e7oise \u2019\U0001f600\r""x"""\r\n'.encode()
    path.write_bytes(fine)
    assert read_export_file(StagedFile(uri=str(path), path=path)).headers == ["Email Address", "NOTES"]

    for tail, problem, line in [
        (b"b@x.com,\xe2\x80\r\n", "not UTF-8 text", 3),
        (b"b@x.com,x\rc@x.com,y\r\n", "bare carriage return", 3),
        (b"b@x.com,x\r", "bare carriage return", 3),
    ]:
        path.write_bytes(fine + tail)
        with pytest.raises(InputError) as raised:
            read_export_file(StagedFile(uri=str(path), path=path))
        assert problem in raised.value.problem
        assert raised.value.line == line


def test_s3_export_reads_like_a_local_one(s3_server, tmp_path):
    path = tmp_path / "export.zip"
    truth = write_export(path, rows=50, seed=2)
    url = f"s3://{s3_server.bucket}/read/export.zip"
    fsspec.filesystem("s3", **s3_server.storage_options).put(str(path), url)

    sources = read_export(url, tmp_path / "staging", s3_server.storage_options)

    assert {source.status: source.frame.collect().height for source in sources} == {
        status: expected.rows for status, expected in truth.statuses.items()
    }
    prefix = f"{url}!audience_export_{truth.hex_id}/"
    assert all(source.uri.startswith(prefix) for source in sources)


def test_a_repeated_email_header_keeps_every_address_of_a_row(tmp_path):
    staged = _csv(
        tmp_path,
        "subscribed_members_export_ab.csv",
        "Email Address,First Name,Email Address\n"
        "a@x.com,Ann,b@x.com\n"
        "c@x.com,Cy,c@x.com\n"
        ",Di,d@x.com\n"
        ",Ed,\n",
    )

    source = read_export_file(staged)

    assert source.frame.select("Email Address").collect().to_series().to_list() == [
        "a@x.com, b@x.com",
        "c@x.com",
        "d@x.com",
        None,
    ]
