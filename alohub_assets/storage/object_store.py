"""S3-compatible object storage for ``ALOHUB_DATA_DIR=s3://bucket/prefix``. No Dagster import.

Through pyarrow's S3 filesystem, which installs from the package registry and needs no DuckDB
extension (``httpfs`` cannot be installed offline); DuckDB reads ``s3://`` paths through the same
filesystem, registered as an fsspec filesystem on the connection. Endpoint and credentials come
from the standard variables ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``; they are never part of a repr, a log or an error.

Object stores have no rename. An upload of a whole object is atomic (a reader sees the old object
or the new one), so single-file partitions are uploaded whole after they are complete; partitions
of several objects are made visible by a manifest written last (see ``storage/landing.py``). A
file of up to 10 MB (pyarrow's part size) is one PUT; a larger one a multipart upload, which is
atomic the same way (the object appears when the upload completes).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow.fs as pafs

S3_SCHEME = "s3://"


@dataclass(frozen=True)
class S3Location:
    """``s3://bucket/prefix``: the data folder's place in a bucket."""

    bucket: str
    prefix: str

    def key(self, relative: str) -> str:
        """The filesystem path ``bucket/prefix/relative``."""
        return "/".join(part for part in (self.bucket, self.prefix, relative.strip("/")) if part)

    def uri(self, relative: str = "") -> str:
        return S3_SCHEME + self.key(relative)


def parse_s3_uri(text: str) -> S3Location | None:
    """The location named by an ``s3://`` URI, or None for anything else (a local folder)."""
    if not str(text).startswith(S3_SCHEME):
        return None
    parts = urlsplit(str(text))
    if not parts.netloc:
        raise ValueError(f"{text!r}: an S3 data folder is s3://bucket or s3://bucket/prefix")
    return S3Location(parts.netloc, parts.path.strip("/"))


def s3_filesystem_from_env() -> pafs.S3FileSystem:
    """pyarrow's S3 filesystem configured from the standard AWS variables."""
    endpoint = os.getenv("AWS_ENDPOINT_URL") or ""
    options: dict = {"region": os.getenv("AWS_REGION") or os.getenv("AWS_DEFAULT_REGION") or None}
    if endpoint:
        parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        options["endpoint_override"] = parts.netloc + parts.path.rstrip("/")
        options["scheme"] = parts.scheme
    key, secret = os.getenv("AWS_ACCESS_KEY_ID"), os.getenv("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        options["access_key"] = key
        options["secret_key"] = secret
        if os.getenv("AWS_SESSION_TOKEN"):
            options["session_token"] = os.environ["AWS_SESSION_TOKEN"]
    # Delayed open: an upload of up to pyarrow's part size (10 MB) is one PUT, not a multipart
    # upload's three requests (start, part, complete); a missing bucket or a refused write is
    # then raised when the stream closes, which put_file and put_bytes wait for.
    options["allow_delayed_open"] = True
    return pafs.S3FileSystem(**{k: v for k, v in options.items() if v is not None})


class ObjectStore:
    """Whole objects under one ``s3://bucket/prefix``, addressed by paths relative to it."""

    def __init__(self, location: S3Location, filesystem: pafs.FileSystem | None = None):
        self.location = location
        self.filesystem = filesystem or s3_filesystem_from_env()

    def __repr__(self) -> str:  # no endpoint, no credentials
        return f"ObjectStore({self.location.uri()!r})"

    def uri(self, relative: str = "") -> str:
        return self.location.uri(relative)

    def put_file(self, local: Path, relative: str) -> None:
        """Uploads a complete local file as one object: readers see the old or the new one."""
        with open(local, "rb") as source:
            with self.filesystem.open_output_stream(self.location.key(relative)) as sink:
                while chunk := source.read(8 << 20):
                    sink.write(chunk)

    def put_bytes(self, data: bytes, relative: str) -> None:
        with self.filesystem.open_output_stream(self.location.key(relative)) as sink:
            sink.write(data)

    def get_file(self, relative: str, local: Path) -> bool:
        """Downloads an object to ``local`` (replaced whole); False, and no local file, when the
        object does not exist."""
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.with_name(f".{local.name}.{uuid.uuid4().hex[:8]}.download")
        try:
            with self.filesystem.open_input_stream(self.location.key(relative)) as source:
                with open(tmp, "wb") as sink:
                    while chunk := source.read(8 << 20):
                        sink.write(chunk)
        except FileNotFoundError:
            tmp.unlink(missing_ok=True)
            local.unlink(missing_ok=True)
            return False
        os.replace(tmp, local)
        return True

    def get_bytes(self, relative: str) -> bytes | None:
        try:
            with self.filesystem.open_input_stream(self.location.key(relative)) as source:
                return source.read()
        except FileNotFoundError:
            return None

    def modified_time(self, relative: str) -> float | None:
        info = self.filesystem.get_file_info(self.location.key(relative))
        if info.type != pafs.FileType.File:
            return None
        return info.mtime.timestamp() if info.mtime else None

    def list_files(self, relative_dir: str) -> list[str]:
        """Every object under ``relative_dir``, as paths relative to the data folder."""
        base = self.location.key("")
        selector = pafs.FileSelector(
            self.location.key(relative_dir), recursive=True, allow_not_found=True
        )
        return sorted(
            info.path[len(base) :].lstrip("/")
            for info in self.filesystem.get_file_info(selector)
            if info.type == pafs.FileType.File
        )

    def delete(self, relatives: list[str]) -> None:
        for relative in relatives:
            try:
                self.filesystem.delete_file(self.location.key(relative))
            except FileNotFoundError:
                pass

    def fsspec(self):
        """The same filesystem as fsspec sees it, answering to ``s3://`` (for DuckDB)."""
        from fsspec.implementations.arrow import ArrowFSWrapper

        class S3ArrowFileSystem(ArrowFSWrapper):
            protocol = ("s3", "s3a")

        return S3ArrowFileSystem(self.filesystem)
