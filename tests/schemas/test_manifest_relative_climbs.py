"""A manifest's relative source that climbs out of its folder (``../exports/mc3.zip``) is the file it
names: on S3 too, where ``s3://agency/manifests/../exports/mc3.zip`` is no key (an object store has
no folders to resolve ``..``; the audit's case, each account so listed failing for a missing file).
One climbing above the top of the manifest's bucket is refused on the manifest's line; a local one
is named resolved in every message."""

from __future__ import annotations

import boto3
import fsspec
import pytest

from schemas.manifest import load_manifest
from tasks.errors import InputError

MANIFEST_KEY = "manifests/accounts.yaml"


@pytest.fixture
def agency_bucket(aws_environment, s3_server):
    """The session's moto bucket, reached through ``AWS_*`` as a worker reaches it, and a client to fill it."""
    client = boto3.client("s3", endpoint_url=s3_server.endpoint, region_name="us-east-1")
    yield s3_server.bucket, client
    listed = client.list_objects_v2(Bucket=s3_server.bucket, Prefix="manifests/").get("Contents", [])
    for item in [*listed, {"Key": "exports/mc3.zip"}]:
        client.delete_object(Bucket=s3_server.bucket, Key=item["Key"])


def manifest_listing(*sources: str) -> str:
    return "accounts:\n  - name: acme\n    portal: {token_env: ACME_TOKEN}\n" f"    sources: [{', '.join(sources)}]\n"


def test_a_source_beside_the_manifest_s_folder_on_s3_is_its_key_with_dot_dot_resolved(agency_bucket):
    bucket, client = agency_bucket
    client.put_object(Bucket=bucket, Key="exports/mc3.zip", Body=b"an export")
    client.put_object(Bucket=bucket, Key=MANIFEST_KEY, Body=manifest_listing("../exports/mc3.zip", "./mc6.zip").encode())

    [acme] = load_manifest(f"s3://{bucket}/{MANIFEST_KEY}").accounts

    assert acme.sources == [f"s3://{bucket}/exports/mc3.zip", f"s3://{bucket}/manifests/mc6.zip"]
    with fsspec.open(acme.sources[0], "rb") as export:
        assert export.read() == b"an export"


def test_a_source_climbing_above_the_manifest_s_bucket_is_refused_on_its_line(agency_bucket):
    bucket, client = agency_bucket
    client.put_object(Bucket=bucket, Key=MANIFEST_KEY, Body=manifest_listing("../../other-bucket/mc3.zip").encode())
    uri = f"s3://{bucket}/{MANIFEST_KEY}"

    with pytest.raises(InputError) as refused:
        load_manifest(uri)

    assert str(refused.value) == (
        f"{uri}:4: accounts.0.sources: ../../other-bucket/mc3.zip climbs above the top of s3://{bucket}, "
        "the manifest's bucket: give its full URL"
    )


def test_a_local_source_climbing_out_of_the_manifest_s_folder_is_left_for_the_system_to_follow(tmp_path):
    agency = tmp_path / "agency"
    agency.mkdir()
    manifest = agency / "accounts.yaml"
    manifest.write_text(manifest_listing("../exports/./mc3.zip"), encoding="utf-8")

    [acme] = load_manifest(str(manifest)).accounts

    # The system follows ".." from the manifest's real folder (a linked folder's too).
    assert acme.sources == [str(agency / ".." / "exports" / "mc3.zip")]
