"""The archive bucket: whole-object writes checked by sha256, conditional writes for the lock, reads and listings."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from provisioning.config import Config
from provisioning.errors import TracklogError


class StoreError(TracklogError):
    """The S3 store refused or could not be reached; the message names the endpoint, bucket and key."""


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str
    sha256: str  # hex; from the store's SHA256 checksum, "" when the object was written without one
    metadata: dict[str, str] = field(default_factory=dict)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Store:
    """One bucket of an S3-compatible store, with credentials from the variables tracklog.yaml names."""

    def __init__(self, config: Config, client: Any = None) -> None:
        s3 = config.endpoints.s3
        self.url = s3.url
        self.bucket = s3.bucket
        if client is None:
            access_key, secret_key = config.endpoints.s3.credentials()
            client = boto3.client(
                "s3", endpoint_url=s3.url, region_name=s3.region, aws_access_key_id=access_key,
                aws_secret_access_key=secret_key,
                config=botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 5,
                                                                                       "mode": "standard"}),
            )
        self.client = client

    def _fail(self, operation: str, key: str, exc: Exception) -> StoreError:
        detail = exc.response["Error"].get("Message", "") if isinstance(exc, botocore.exceptions.ClientError) \
            else type(exc).__name__
        return StoreError(f"S3 at {self.url} failed {operation} s3://{self.bucket}/{key}: {detail or exc}")

    @staticmethod
    def _code(exc: botocore.exceptions.ClientError) -> str:
        return str(exc.response.get("Error", {}).get("Code", ""))

    def ensure_bucket(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except botocore.exceptions.ClientError as exc:
            if self._code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                raise self._fail("HeadBucket", "", exc) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise self._fail("HeadBucket", "", exc) from exc
        try:
            self.client.create_bucket(Bucket=self.bucket)
        except botocore.exceptions.ClientError as exc:
            if self._code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise self._fail("CreateBucket", "", exc) from exc

    def put(self, key: str, data: bytes, metadata: dict[str, str] | None = None,
            if_none_match: bool = False, if_match: str | None = None) -> str | None:
        """Write a whole object, checked against its sha256 by the store; the ETag, or None if a condition failed.

        S3 makes an object visible only once all of it is stored, so a crash never leaves half an object.
        """
        extra: dict[str, Any] = {}
        if if_none_match:
            extra["IfNoneMatch"] = "*"
        if if_match:
            extra["IfMatch"] = if_match
        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
        try:
            answer = self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ChecksumSHA256=checksum,
                                            Metadata=metadata or {}, **extra)
        except botocore.exceptions.ClientError as exc:
            if self._code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict") and extra:
                return None
            raise self._fail("PutObject", key, exc) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise self._fail("PutObject", key, exc) from exc
        return str(answer["ETag"])

    def get(self, key: str) -> tuple[bytes, str] | None:
        """The object's bytes and ETag, or None when it does not exist."""
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key)
            return answer["Body"].read(), str(answer["ETag"])
        except botocore.exceptions.ClientError as exc:
            if self._code(exc) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise self._fail("GetObject", key, exc) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise self._fail("GetObject", key, exc) from exc

    def head(self, key: str) -> ObjectInfo | None:
        try:
            answer = self.client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        except botocore.exceptions.ClientError as exc:
            if self._code(exc) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise self._fail("HeadObject", key, exc) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise self._fail("HeadObject", key, exc) from exc
        checksum = answer.get("ChecksumSHA256") or ""
        sha = base64.b64decode(checksum).hex() if checksum and "-" not in checksum else ""
        return ObjectInfo(int(answer["ContentLength"]), str(answer["ETag"]), sha, dict(answer.get("Metadata", {})))

    def delete(self, key: str, if_match: str | None = None) -> bool:
        """False when ``if_match`` no longer matches (someone else changed the object)."""
        extra = {"IfMatch": if_match} if if_match else {}
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key, **extra)
        except botocore.exceptions.ClientError as exc:
            if self._code(exc) in ("PreconditionFailed", "412") and if_match:
                return False
            if self._code(exc) in ("NoSuchKey", "404", "NotFound"):
                return True
            raise self._fail("DeleteObject", key, exc) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise self._fail("DeleteObject", key, exc) from exc
        return True

    def keys(self, prefix: str) -> Iterator[str]:
        """Every key under ``prefix``, in the store's (lexical) order."""
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield str(item["Key"])
        except botocore.exceptions.ClientError as exc:
            if self._code(exc) == "NoSuchBucket":
                return
            raise self._fail("ListObjectsV2", prefix, exc) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise self._fail("ListObjectsV2", prefix, exc) from exc
