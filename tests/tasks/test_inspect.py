import pytest

from tasks.errors import InputError
from tasks.extract.tables import ReadOptions
from tasks.inspect import inspect_source
from tasks.transform.mapping_file import UserMapping


def test_a_mapping_naming_a_column_no_file_has_is_refused_as_a_plan_would(tmp_path):
    source = tmp_path / "crm.csv"
    source.write_text("Email,First Name\na@x.com,Ann\n", encoding="utf-8")
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[columns]\n"Frist Name" = "firstname"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"no file read has a column 'Frist Name': did you mean 'First Name'") as refused:
        inspect_source(str(source), ReadOptions(mapping=UserMapping.load(mapping)))
    assert (refused.value.uri, refused.value.line) == (str(mapping), 2)
    mapping.write_text('[columns]\n"First Name" = "firstname"\n', encoding="utf-8")
    [described] = inspect_source(str(source), ReadOptions(mapping=UserMapping.load(mapping)))
    assert described["rows"] == 1


def test_a_renamed_first_column_of_addresses_is_shown_as_the_email_column(tmp_path):
    source = tmp_path / "people.csv"
    source.write_text("Contact,First Name\na@x.com,Ann\nb@x.com,Bob\n", encoding="utf-8")
    [described] = inspect_source(str(source))
    assert described["email_column"] == "Contact"
    assert {"column": "Contact", "property": "email", "kind": "email"} in described["columns"]
