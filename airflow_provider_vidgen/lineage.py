"""OpenLineage: the datasets a task read and wrote, for the OpenLineage provider's listener.

Generation operators report the media URLs their requests named (reference images, a video to extend) as
inputs and the vendor's video URLs as outputs; the download operator reports the vendor's URLs as inputs
and the files it wrote as outputs (``namespace``/``name`` from their ``ObjectStoragePath``, as Airflow's
own file-transfer operator does). A URL's query string is dropped: vendors sign media URLs there. The
OpenLineage provider stays optional: it is imported only when its listener asks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

Named = tuple[str, str]  # (namespace, name)


def url_dataset(url: Any) -> Named | None:
    """An http(s) URL as an OpenLineage dataset: namespace ``scheme://host[:port]``, name its path."""
    if not isinstance(url, str):
        return None
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    host = parts.netloc.rsplit("@", 1)[-1]  # never a user:password@ part
    return f"{parts.scheme}://{host}", parts.path or "/"


def urls_in(value: Any, depth: int = 0) -> list[str]:
    """Every http(s) URL in a request body (at any depth: Seedance's ``content[].image_url.url``)."""
    if isinstance(value, str):
        return [value] if url_dataset(value) else []
    if depth > 5:
        return []
    if isinstance(value, Mapping):
        return [url for item in value.values() for url in urls_in(item, depth + 1)]
    if isinstance(value, list | tuple):
        return [url for item in value for url in urls_in(item, depth + 1)]
    return []


def video_urls(results: Iterable[Mapping[str, Any]]) -> list[str]:
    return [video["url"] for result in results for video in result.get("videos") or [] if video.get("url")]


def storage_dataset(uri: str) -> Named:
    from airflow.sdk import ObjectStoragePath

    path = ObjectStoragePath(uri)
    return str(path.namespace), str(path.key)


def operator_lineage(inputs: Iterable[Named | None], outputs: Iterable[Named | None]) -> Any:
    """The ``OperatorLineage`` for the listener (each dataset once, in order)."""
    from airflow.providers.common.compat.openlineage.facet import Dataset
    from airflow.providers.openlineage.extractors import OperatorLineage

    def datasets(named: Iterable[Named | None]) -> list[Any]:
        unique = dict.fromkeys(item for item in named if item is not None)
        return [Dataset(namespace=namespace, name=name) for namespace, name in unique]

    return OperatorLineage(inputs=datasets(inputs), outputs=datasets(outputs))
