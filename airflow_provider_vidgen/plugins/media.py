"""The files the Videos view serves: only those that verify, whatever a manifest in XCom says.

A file is served when it lies under a folder of ``[vidgen] media_roots`` (resolved with its symlinks), its
size and sha256 are the manifest's, and its first bytes show a video or an image (``core.served``). The
deployment decides the folders; XCom decides nothing alone. Every refusal is the same 404 to the reader
(no size, no "exists"); the reason goes to the API server's log.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from airflow_provider_vidgen.core.served import (
    SNIFF_BYTES,
    Root,
    disposition,
    media_type,
    parse_roots,
    resolve_roots,
    split_location,
    within,
)
from airflow_provider_vidgen.core.videos import MediaRef

log = logging.getLogger(__name__)
HASH_CHUNK = 1024 * 1024
HASHES_KEPT = 1024
_HASHES: OrderedDict[tuple[Any, ...], str] = OrderedDict()
_HASHES_LOCK = threading.Lock()


@dataclass(frozen=True)
class ServedFile:
    """A verified file: how to open it, its size, and the type and name it is served under."""

    open: Callable[[], IO[bytes]]
    size: int
    media_type: str
    disposition: str


def media_roots() -> list[Root]:
    """The folders of ``[vidgen] media_roots``, local ones resolved (symlinks included)."""
    from airflow.configuration import conf

    return resolve_roots(parse_roots(conf.get("vidgen", "media_roots", fallback="")))


def verified(ref: MediaRef) -> ServedFile | None:
    """The file ``ref`` names, when it verifies; None (and a log line saying why) otherwise."""
    roots = media_roots()
    if not within(ref.destination_uri, roots):
        return _refused(ref, "not under [vidgen] media_roots" if roots else "[vidgen] media_roots is not set")
    protocol, path = split_location(ref.destination_uri)
    try:
        opener, size, version = _local(path) if protocol == "file" else _remote(ref.destination_uri)
    except OSError as err:
        return _refused(ref, f"cannot be read ({type(err).__name__})")
    if size != ref.bytes:
        return _refused(ref, f"{size} bytes, the manifest says {ref.bytes}")
    if _sha256(opener, ref.destination_uri, size, version) != ref.sha256:
        return _refused(ref, "its sha256 is not the manifest's")
    with opener() as handle:
        kind = media_type(handle.read(SNIFF_BYTES))
    if kind is None:
        return _refused(ref, "not a video or an image")
    return ServedFile(opener, size, kind, disposition(ref.name, kind))


def _local(path: str) -> tuple[Callable[[], IO[bytes]], int, Any]:
    real = os.path.realpath(path)  # the file itself is opened, never a link that might change
    info = os.stat(real)
    if not stat.S_ISREG(info.st_mode):
        raise IsADirectoryError(real)
    return (lambda: open(real, "rb")), info.st_size, (real, info.st_mtime_ns)


def _remote(uri: str) -> tuple[Callable[[], IO[bytes]], int, Any]:
    from airflow.sdk import ObjectStoragePath

    path = ObjectStoragePath(uri)
    info = path.stat()
    return (lambda: path.open("rb")), info.st_size, (uri, getattr(info, "st_mtime", None))


def _sha256(opener: Callable[[], IO[bytes]], uri: str, size: int, version: Any) -> str:
    """The file's sha256, computed once per version of it (a player asks for many ranges of one file)."""
    key = (uri, size, version)
    with _HASHES_LOCK:
        if key in _HASHES:
            _HASHES.move_to_end(key)
            return _HASHES[key]
    digest = hashlib.sha256()
    with opener() as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    with _HASHES_LOCK:
        _HASHES[key] = digest.hexdigest()
        while len(_HASHES) > HASHES_KEPT:
            _HASHES.popitem(last=False)
    return digest.hexdigest()


def _refused(ref: MediaRef, reason: str) -> None:
    log.warning("Videos view: not serving %s of %s[%d] (%s): %s", ref.route, ref.task_id, ref.map_index,
                ref.destination_uri, reason)  # fmt: skip
    return None
