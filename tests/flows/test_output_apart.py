"""An output folder inside a source folder is refused, local or on a bucket: the next run would
read the plan's own files (import files, ``lineage.csv``, ``rejects.csv``) as contacts."""

from __future__ import annotations

import pytest

from flows.migrate import check_output_apart
from tasks.errors import InputError


@pytest.mark.parametrize(
    ("sources", "output"),
    [
        (["s3://clients/crm/"], "s3://clients/crm"),
        (["s3://clients/crm"], "s3://clients/crm/out"),
        (["s3://clients/crm/", "mailchimp://a1b2"], "s3://clients/crm/runs/1/"),
        # One bucket, however its scheme is spelt.
        (["s3a://clients/crm/"], "s3://clients/crm/out"),
    ],
)
def test_an_output_in_a_source_folder_on_a_bucket_is_refused(sources, output):
    with pytest.raises(InputError) as error:
        check_output_apart(sources, output)

    assert str(error.value).startswith(f"{output}: the output folder is inside the source folder {sources[0].rstrip('/')}")


@pytest.mark.parametrize(
    ("sources", "output"),
    [
        (["s3://clients/crm/"], "s3://clients/crm-plan"),
        (["s3://clients/crm/export.zip"], "s3://clients/crm/out"),
        (["s3://clients/crm/"], "gs://clients/crm/out"),
        (["s3://clients/crm/"], "out"),
        (["mailchimp://a1b2"], "s3://clients/a1b2"),
    ],
)
def test_an_output_beside_a_source_is_fine(sources, output):
    check_output_apart(sources, output)


@pytest.mark.parametrize("source_prefix", ["", "file://"])
def test_a_local_output_in_a_local_source_folder_is_refused(tmp_path, source_prefix):
    (tmp_path / "exports").mkdir()

    with pytest.raises(InputError, match="the output folder is inside the source folder"):
        check_output_apart([f"{source_prefix}{tmp_path / 'exports'}"], str(tmp_path / "exports" / "out"))
