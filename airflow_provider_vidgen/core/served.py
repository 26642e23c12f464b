"""What the Videos view may serve, pure: a file under a root the deployment configured, of a media type read
from its first bytes (never from its name or from XCom), under a file name that cannot break a header.

A download manifest comes from XCom, which DAG authors and XCom editors write; so no path, name or type in
it decides anything by itself. The file must lie under ``[vidgen] media_roots`` (resolved, symlinks
included, by the caller), match the manifest's size and sha256, and start like a video or an image.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from typing import IO
from urllib.parse import urlsplit

SNIFF_BYTES = 16
_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def media_type(head: bytes) -> str | None:
    """The type a file's first bytes show it to be, among the videos and images the provider downloads;
    None for anything else (HTML, SVG, text, JSON: never served)."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: WebM and Matroska
        return "video/webm"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(head) >= 12 and head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def parse_roots(value: str | None) -> list[str]:
    """``[vidgen] media_roots``: folders (paths or URIs), separated by commas or white space."""
    return [part for part in re.split(r"[,\s]+", value or "") if part]


def split_location(uri: str) -> tuple[str, str]:
    """``(protocol, path)`` of a URI or a plain path (``file`` for both ``file://`` URIs and plain paths).
    ValueError for a URI whose path is not all of it (a query, a fragment, a host of a file URI): what is
    checked must be what is opened."""
    parts = urlsplit(uri)
    if not parts.scheme or len(parts.scheme) == 1:  # a plain path (or a Windows drive letter)
        return "file", uri
    if parts.query or parts.fragment or "?" in uri or "#" in uri:
        raise ValueError(f"a stored file's URI has no query or fragment: {uri[:200]!r}")
    if parts.scheme in ("file", "local"):
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"a file URI names no host: {uri[:200]!r}")
        return "file", parts.path
    return parts.scheme, f"{parts.netloc}{parts.path}"


Root = tuple[str, str]  # (protocol, path), a local path resolved


def resolve_roots(texts: list[str]) -> list[Root]:
    """Folders (paths or URIs) as roots, local ones resolved with their symlinks (the only I/O here)."""
    roots = []
    for text in texts:
        protocol, path = split_location(text)
        roots.append((protocol, os.path.realpath(path) if protocol == "file" else path))
    return roots


def within(uri: str, roots: list[Root]) -> bool:
    """Whether ``uri`` lies under one of ``roots``: for a local file, where it leads (symlinks resolved).
    False for anything that is not a plain location (a malformed URI, a NUL byte)."""
    try:
        protocol, path = split_location(uri)
        if protocol == "file":
            path = os.path.realpath(path)
    except (ValueError, OSError):
        return False
    return any(protocol == root_protocol and is_under(path, root) for root_protocol, root in roots)


def open_regular(path: str) -> tuple[IO[bytes], os.stat_result, str]:
    """The regular file at ``path``, where it leads, opened without following a last link (never a device, a
    pipe or a folder): its handle (the caller closes it), its stat, and where the open file is as the kernel
    sees it (a folder swapped for a link after a check shows there). OSError otherwise."""
    real = os.path.realpath(path)
    descriptor = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    handle = os.fdopen(descriptor, "rb")
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{real} is not a regular file")
        opened = f"/proc/self/fd/{descriptor}"
        return handle, info, os.readlink(opened) if os.path.islink(opened) else real
    except BaseException:
        handle.close()
        raise


def is_under(path: str, root: str) -> bool:
    """Whether the normalized ``path`` lies under ``root`` (both already resolved; no ``..`` may remain)."""
    if ".." in path.split("/") or ".." in root.split("/"):
        return False
    path, root = posixpath.normpath(path), posixpath.normpath(root)
    return path == root or path.startswith(root.rstrip("/") + "/")


def disposition(name: str, kind: str) -> str:
    """``Content-Disposition`` for a served file: inline, under a name that holds no quote or control."""
    stem = _FILENAME_UNSAFE.sub("_", name).strip("._")[:120] or "media"
    extension = {"video/mp4": ".mp4", "video/quicktime": ".mov", "video/webm": ".webm", "image/jpeg": ".jpg",
                 "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp"}[kind]  # fmt: skip
    stem = stem if stem.lower().endswith(extension) else stem + extension
    return f'inline; filename="{stem}"'
