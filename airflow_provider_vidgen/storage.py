"""Keep XCom small: a result too large for it goes to object storage, and XCom holds a small manifest.

A batch of thousands of videos returns thousands of result dicts, and the download's manifest lists
every file: megabytes that do not belong in Airflow's metadata database. Above ``XCOM_LIMIT`` bytes such
a value is written as JSON to object storage (``results_path``: the task's parameter, else the
``[vidgen] results_path`` option, else ``$AIRFLOW_HOME/vidgen/results``; use shared storage, e.g.
``s3://bucket/vidgen``, when workers run on several machines), and XCom holds
``{"vidgen_stored": uri, "bytes": ..., "sha256": ..., "summary": {...}}``. Every reader of the provider
(the download operator, ``load``) follows the manifest transparently, as common-ai's batch operator does.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any

from airflow_provider_vidgen.core.served import Root, open_regular, resolve_roots, split_location, within

XCOM_LIMIT = 512 * 1024  # bytes of JSON kept in XCom at most (a tenth of a typical 5 MB column, well under 1 MB)
MAX_STORED_BYTES = 256 * 1024**2  # a stored result larger than this is not read (10,000 results are ~30 MB)
STORED = "vidgen_stored"


def results_root(value: Any = None) -> Any:
    """Where large results go: ``value``, the ``[vidgen] results_path`` option, or under AIRFLOW_HOME."""
    from airflow.providers.common.compat.sdk import conf
    from airflow.sdk import ObjectStoragePath

    text = value or conf.get("vidgen", "results_path", fallback=None)
    if not text:
        home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
        text = f"file://{os.path.abspath(home)}/vidgen/results"
    return text if isinstance(text, ObjectStoragePath) else ObjectStoragePath(str(text))


def keep_small(
    value: Any,
    context: Any,
    name: str,
    *,
    root: Any = None,
    summary: Mapping[str, Any] | None = None,
    written: tuple[str, bytes] | None = None,
) -> Any:
    """``value`` itself when its JSON fits XCom, else its manifest: the JSON written under ``root``, or the
    file the task already wrote (``written``: its URI and the bytes written there)."""
    data = json.dumps(value, default=str).encode()
    if len(data) <= XCOM_LIMIT:
        return value
    if written is not None:
        uri, data = written
        return {
            STORED: uri,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "summary": dict(summary or {}),
        }
    ti = context["ti"]
    where = results_root(root) / ti.dag_id / _safe(ti.run_id) / f"{ti.task_id}_{ti.map_index}_{name}.json"
    where.parent.mkdir(parents=True, exist_ok=True)
    partial = where.with_name(f".{where.name}.part")
    with partial.open("wb") as out:
        out.write(data)
    partial.rename(where)
    return {
        STORED: str(where),
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "summary": dict(summary or {}),
    }


def is_stored(value: Any) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get(STORED), str)


def stored_roots() -> list[Root]:
    """Where the provider stores results (``results_root()``), as a root that ``within`` checks against."""
    return resolve_roots([str(results_root())])


def read_stored(value: Mapping[str, Any], roots: list[Root] | None = None) -> bytes:
    """The bytes a stored-result manifest names: a regular file of exactly the size it records, and only when
    their sha256 is the one it records (so a manifest written by hand reads nothing its writer did not already
    know), and, with ``roots``, only under them. ValueError otherwise."""
    uri, size, sha256 = value[STORED], value.get("bytes"), value.get("sha256")
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_STORED_BYTES:
        raise ValueError(f"{uri}: a stored result records its size, at most {MAX_STORED_BYTES} bytes: {size!r:.40}")
    if not isinstance(sha256, str) or len(sha256) != 64:
        raise ValueError(f"{uri}: a stored result records its sha256")
    if roots is not None and not within(uri, roots):
        raise ValueError(f"{uri} is not where the provider stores results")
    try:
        data = _read_exactly(uri, size)
    except OSError as err:
        raise ValueError(f"{uri} cannot be read ({type(err).__name__}: {err})") from None
    if len(data) != size or hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError(f"{uri} changed since the task wrote it (its size or sha256 differs)")
    return data


def _read_exactly(uri: str, size: int) -> bytes:
    """At most ``size + 1`` bytes of ``uri``; a local one only when it is a regular file of ``size`` bytes (never
    a device, a pipe or a folder), opened where it leads."""
    from airflow.sdk import ObjectStoragePath

    protocol, path = split_location(uri)
    if protocol != "file":
        with ObjectStoragePath(uri).open("rb") as handle:
            return handle.read(size + 1)
    handle, info, _ = open_regular(path)
    with handle:
        if info.st_size != size:
            raise ValueError(f"{uri} is not a file of {size} bytes")
        return handle.read(size + 1)


def load(value: Any, roots: list[Root] | None = None) -> Any:
    """The value a task returned, read back from object storage when XCom holds its manifest (anything
    else is returned as it is, lists of manifests included, as a mapped task's results are)."""
    if is_stored(value):
        return json.loads(read_stored(value, roots))
    if isinstance(value, list | tuple) and any(is_stored(item) for item in value):
        return [load(item, roots) for item in value]
    return value


def load_all(value: Any, depth: int = 0) -> Any:
    """``value`` with every stored manifest in it (at any list depth) read back: what a downstream task
    gets from ``[chunked.output, other.output]``."""
    if is_stored(value):
        return load(value)
    if depth < 5 and isinstance(value, list | tuple):
        return [load_all(item, depth + 1) for item in value]
    return value


def load_results(value: Any, roots: list[Root] | None = None) -> list[dict[str, Any]]:
    """Every generation result in ``value`` (one task's, a mapped task's, chunks', stored or not), as one
    list; batch items in the order of their ``index`` (their place in the whole run). Stored values are read
    only under ``roots`` when given (the Videos view: ``stored_roots()``)."""
    flat: list[dict[str, Any]] = []

    def walk(item: Any, depth: int) -> None:
        item = load(item, roots)
        if isinstance(item, Mapping):
            flat.append(dict(item))
        elif depth < 5 and isinstance(item, list | tuple):
            for element in item:
                walk(element, depth + 1)
        elif depth < 5 and item is not None and hasattr(item, "__getitem__") and hasattr(item, "__len__"):
            walk(item[:], depth + 1)  # a mapped task's LazyXComSequence

    walk(value, 0)
    indexed = [item for item in flat if isinstance(item.get("index"), int)]
    if len(indexed) == len(flat):
        flat.sort(key=lambda item: item["index"])
    return flat


def _safe(text: str) -> str:
    return "".join(char if char.isalnum() or char in "-_.+" else "_" for char in text)
