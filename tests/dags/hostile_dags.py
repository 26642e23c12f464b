"""A run whose XComs are hostile, for the Videos view's tests (``tests/test_videos_view.py``, and ``make e2e``
under a real ``airflow standalone``, which copies this file): a real generation downloaded under the media
root (``params.root``), then plain tasks returning forged manifests and results.

Self-contained (Airflow and the provider only), so that the e2e's DAG folder can hold it as it is.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_vidgen.operators.acedata import LumaVideoOperator
from airflow_provider_vidgen.operators.download import VideoDownloadOperator

POLL = 0.2

# A DAG author (or anyone who may edit XCom through the REST API) writing XComs that look like the provider's,
# to make the Videos view serve files outside the downloads, serve HTML, or print markup. The files these tasks
# make stand for what such a person finds or plants on the API server's disk.
SECRET = "internal secret: never served"
PAGE = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
TAG = '<img src=x onerror="alert(1)">'


def _entry(name: str, path: Any, data: bytes, task_id: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "source_url": None, "destination_uri": f"file://{path}", "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), "vendor": "acedata", "service": "luma",
            "task_id": task_id, "kind": "video", "index": 0, "existing": False, "prompt": None, **extra}  # fmt: skip


with DAG(
    "videos_view_hostile",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"root": "file:///tmp/vidgen-videos-view"},
) as hostile_dag:
    generate = LumaVideoOperator(task_id="generate", prompt="a fox", deferrable=True, poll_interval=POLL)
    fetch = VideoDownloadOperator(
        task_id="fetch", results=generate.output, destination="{{ params.root }}/{{ run_id }}/"
    )

    @task(task_id="download")
    def forged_manifest(params: Any = None) -> dict[str, Any]:
        """Entries naming a secret outside the downloads (its true size and sha256), an HTML page inside them,
        a link inside them to the secret, a video of the wrong size, and a device."""
        root = Path(params["root"].removeprefix("file://"))
        secret, page, link = root.parent / "secret.txt", root / "page.html", root / "link.mp4"
        secret.write_text(SECRET)
        page.write_bytes(PAGE)
        link.unlink(missing_ok=True)
        link.symlink_to(secret)
        video = next(root.rglob("*.mp4"))
        return {"destination": f"file://{root}", "run_id": None, "generations": 1, "failures": [], "files": [
            _entry("secret.mp4", secret, SECRET.encode(), "forged-1"),
            _entry("page.html", page, PAGE, "forged-2"),
            _entry("link.mp4", link, SECRET.encode(), "forged-3"),
            {**_entry("wrong.mp4", video, video.read_bytes(), "forged-4"), "bytes": 7},
            {**_entry("zero.mp4", "/dev/zero", b"", "forged-5"), "bytes": 1000},
        ]}  # fmt: skip

    @task(task_id="tagged")
    def tagged_manifest(params: Any = None) -> dict[str, Any]:
        """A manifest whose probe ``width`` is markup (the view once printed it raw)."""
        video = next(Path(params["root"].removeprefix("file://")).rglob("*.mp4"))
        probe = {"container": "mp4", "codec": "h264", "width": TAG, "height": 1, "duration": 1, "frames": 1}
        return {"destination": params["root"], "run_id": None, "generations": 1, "failures": [],
                "files": [_entry(video.name, video, video.read_bytes(), "forged-6", video=probe)]}  # fmt: skip

    @task(task_id="forged_generation")
    def forged_generation(ti: Any = None) -> dict[str, Any]:
        """A result with markup in every string and a script URL."""
        ti.xcom_push(key="vendor_task_id", value="forged-gen")
        return {"task_id": "forged-gen", "vendor": TAG, "service": TAG, "state": "failed", "prompt": TAG,
                "error": {"code": TAG, "message": TAG}, "videos": [{"url": "javascript:alert(1)"}]}  # fmt: skip

    @task(task_id="stored_zero")
    def stored_zero(ti: Any = None) -> dict[str, Any]:
        """A stored-result manifest naming a device that never ends (read without bound, it hangs the page)."""
        ti.xcom_push(key="vendor_task_id", value="forged-zero")
        return {"vidgen_stored": "file:///dev/zero", "bytes": 100, "sha256": "0" * 64, "summary": {}}

    fetch >> [forged_manifest(), tagged_manifest(), forged_generation(), stored_zero()]
