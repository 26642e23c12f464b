"""The files the Videos view serves: only those that verify, whatever a manifest in XCom says.

A file is served when it lies under a folder of ``[vidgen] media_roots`` (resolved with its symlinks), its
size and sha256 are the manifest's, and its first bytes show a video or an image (``core.served``). The
deployment decides the folders; XCom decides nothing alone. The file is opened once: the handle that is
checked, hashed and sniffed is the one served, so swapping the file or a folder for a link after the checks
changes nothing. Every refusal is the same 404 to the reader (no size, no "exists"); the reason goes to the
API server's log.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import IO, Any

from airflow_provider_vidgen.core.served import (
    SNIFF_BYTES,
    Root,
    disposition,
    media_type,
    open_regular,
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
    """A verified file: its open handle (the caller closes it), its size, and the type and name it is
    served under."""

    handle: IO[bytes]
    size: int
    media_type: str
    disposition: str


def media_roots() -> list[Root]:
    """The folders of ``[vidgen] media_roots``, local ones resolved (symlinks included)."""
    from airflow.configuration import conf

    return resolve_roots(parse_roots(conf.get("vidgen", "media_roots", fallback="")))


def verified(ref: MediaRef) -> ServedFile | None:
    """The file ``ref`` names, open, when it verifies; None (and a log line saying why) otherwise."""
    roots = media_roots()
    if not within(ref.destination_uri, roots):
        return _refused(ref, "not under [vidgen] media_roots" if roots else "[vidgen] media_roots is not set")
    handle: IO[bytes] | None = None
    try:
        protocol, path = split_location(ref.destination_uri)
        handle, size, version = _open_local(path, roots) if protocol == "file" else _open_remote(ref.destination_uri)
        problem = _problem(ref, handle, size, version)
        if problem is None:
            handle.seek(0)
            kind = media_type(handle.read(SNIFF_BYTES))
            if kind is not None:
                served, handle = ServedFile(handle, size, kind, disposition(ref.name, kind)), None
                return served
            problem = "not a video or an image"
    except Exception as err:  # whatever the manifest names, the reader sees the same 404
        problem = f"cannot be read ({type(err).__name__})"
    finally:
        if handle is not None:
            handle.close()
    return _refused(ref, problem)


def _problem(ref: MediaRef, handle: IO[bytes], size: int, version: Any) -> str | None:
    if size != ref.bytes:
        return f"{size} bytes, the manifest says {ref.bytes}"
    if _sha256(handle, version) != ref.sha256:
        return "its sha256 is not the manifest's"
    return None


def _open_local(path: str, roots: list[Root]) -> tuple[IO[bytes], int, Any]:
    """The regular file at ``path``, still under ``roots`` as the kernel sees the open file."""
    handle, info, where = open_regular(path)
    if not within(f"file://{where}", roots):
        handle.close()
        raise PermissionError(where)
    # ctime too: a writer can set mtime back, not ctime
    return handle, info.st_size, (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _open_remote(uri: str) -> tuple[IO[bytes], int, Any]:
    from airflow.sdk import ObjectStoragePath

    path = ObjectStoragePath(uri)
    info = path.stat()
    return path.open("rb"), info.st_size, (uri, info.st_size, getattr(info, "st_mtime", None))


def _sha256(handle: IO[bytes], version: Any) -> str:
    """The open file's sha256, computed once per version of it (a player asks for many ranges of one file)."""
    with _HASHES_LOCK:
        if version in _HASHES:
            _HASHES.move_to_end(version)
            return _HASHES[version]
    digest = hashlib.sha256()
    handle.seek(0)
    while chunk := handle.read(HASH_CHUNK):
        digest.update(chunk)
    with _HASHES_LOCK:
        _HASHES[version] = digest.hexdigest()
        while len(_HASHES) > HASHES_KEPT:
            _HASHES.popitem(last=False)
    return digest.hexdigest()


def _refused(ref: MediaRef, reason: str) -> None:
    log.warning("Videos view: not serving %s of %s[%d] (%s): %s", ref.route, ref.task_id, ref.map_index,
                ref.destination_uri, reason)  # fmt: skip
    return None
