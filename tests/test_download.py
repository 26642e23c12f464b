"""VideoDownloadOperator against the emulator over real HTTP (and a few deliberately broken servers)."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pendulum
import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import Asset, ObjectStoragePath

from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.emulator.app import SAMPLE_JPG, SAMPLE_MP4
from airflow_provider_vidgen.operators.download import (
    DownloadError,
    VideoDownloadOperator,
    collect_results,
    plan_downloads,
)

# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------


class FakeTI:
    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def context(**extra: Any) -> dict[str, Any]:
    return {"ti": FakeTI(), **extra}


def generate(emulator, prompts: list[str], service: str = "hailuo") -> list[dict[str, Any]]:
    """Real results: submit through the hook, wait until every task is terminal (luma has thumbnails)."""
    from airflow_provider_vidgen.hooks.acedata import AceDataHook

    hook = AceDataHook()
    try:
        body = {"hailuo": {"action": "generate", "model": "minimax-t2v"}, "luma": {"action": "generate"}}[service]
        ids = [hook.submit(service, {**body, "prompt": p}) for p in prompts]
        deadline = time.monotonic() + 20
        while True:
            results = hook.retrieve_many(service, ids)
            if all(result.terminal for result in results.values()):
                return [results[task_id].to_dict() for task_id in ids]
            assert time.monotonic() < deadline, results
            time.sleep(0.1)
    finally:
        hook.close()


def downloads(emulator) -> int:
    return emulator.stats()["counts"].get("download", 0)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".part"))


def fake_result(url: str, task_id: str = "t-1", **extra: Any) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "service": "hailuo",
        "vendor": "acedata",
        "state": "succeeded",
        "progress": 1.0,
        "videos": [{"url": url, **extra}],
        "error": None,
    }


@contextmanager
def raw_server(respond) -> Iterator[str]:
    """A tiny HTTP/1.1 server whose answer is written by ``respond(conn)``: for lying servers."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                conn.settimeout(5)
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    request += chunk
                try:
                    respond(conn)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


# ------------------------------------------------------------------------------------------------
# pure input handling
# ------------------------------------------------------------------------------------------------


def test_collect_results_accepts_every_upstream_shape():
    one = fake_result("http://x/files/a.mp4", "a")
    two = fake_result("http://x/files/b.mp4", "b")

    class LazySequence:  # what a mapped upstream's .output renders to (iterable, not a list)
        def __iter__(self):
            return iter([one, [two], None])

    assert [r.task_id for r in collect_results(one)] == ["a"]
    assert [r.task_id for r in collect_results([one, two])] == ["a", "b"]
    assert [r.task_id for r in collect_results([LazySequence(), [one]])] == ["a", "b", "a"]
    assert [r.task_id for r in collect_results(repr([one, two]))] == ["a", "b"]  # a Jinja xcom_pull string
    assert collect_results(None) == [] and collect_results([None]) == []


@pytest.mark.parametrize(
    "bad, fragment",
    [
        ("hello", "results: expected generation results"),
        (42, "results: expected generation results"),
        ([{"task_id": "x"}], "results: not a generation result (missing vendor, service, state)"),
        ([{**fake_result("u"), "videos": "u"}], "results: task t-1: 'videos' must be a list"),
        ("[1, 2", "results: could not parse"),
    ],
)
def test_collect_results_rejects_what_is_not_a_result(bad, fragment):
    with pytest.raises(InvalidInputError) as err:
        collect_results(bad)
    assert err.value.field == "results" and fragment in str(err.value)


def test_plan_names_files_by_vendor_task_id_and_index():
    result = collect_results(
        {
            **fake_result("https://cdn.example.com/v/abc.MP4?sig=1", "7f3/..weird id"),
            "videos": [
                {"url": "https://cdn.example.com/v/abc.mp4", "thumbnail_url": "https://cdn.example.com/t.png"},
                {"url": "https://cdn.example.com/v/noext"},
            ],
        }
    )
    failed = collect_results({**fake_result("u", "bad"), "state": "failed", "videos": []})
    planned, missing = plan_downloads(result + failed + result, include_thumbnails=True)
    assert [p.name for p in planned] == [
        "acedata_7f3-weird-id_0.mp4",
        "acedata_7f3-weird-id_0_thumb.png",
        "acedata_7f3-weird-id_1.mp4",
    ]
    assert [m.task_id for m in missing] == ["bad"]
    planned, _ = plan_downloads(result, include_thumbnails=False)
    assert [p.kind for p in planned] == ["video", "video"]


# ------------------------------------------------------------------------------------------------
# downloads over real HTTP
# ------------------------------------------------------------------------------------------------


def test_downloads_videos_and_thumbnails_with_manifest(emulator, tmp_path):
    results = generate(emulator, ["a red fox", "a paper boat"], service="luma")
    destination = tmp_path / "out"
    op = VideoDownloadOperator(
        task_id="dl",
        results=results,
        destination=f"file://{destination}/",
        include_thumbnails=True,
        manifest_name="manifest.json",
    )
    manifest = op.execute(context())

    assert len(manifest) == 4
    for result in results:
        task_id = result["task_id"]
        video, thumb = (e for e in manifest if e["task_id"] == task_id)
        assert video["kind"] == "video" and thumb["kind"] == "thumbnail"
        assert video["source_url"] == result["videos"][0]["url"]
        assert video["destination_uri"] == f"file://{destination}/acedata_{task_id}_0.mp4"
        assert thumb["destination_uri"] == f"file://{destination}/acedata_{task_id}_0_thumb.jpg"
        assert (video["vendor"], video["service"], video["existing"]) == ("acedata", "luma", False)
    for entry in manifest:
        data = Path(entry["destination_uri"].removeprefix("file://")).read_bytes()
        assert entry["bytes"] == len(data) and entry["sha256"] == sha256(data)
        assert data == (SAMPLE_MP4 if entry["kind"] == "video" else SAMPLE_JPG)
    assert json.loads((destination / "manifest.json").read_text()) == manifest
    assert leftovers(destination) == []


def test_skips_files_already_complete_and_replaces_incomplete_ones(emulator, tmp_path):
    results = generate(emulator, ["a kite"])
    op = VideoDownloadOperator(task_id="dl", results=results, destination=str(tmp_path))  # plain path = file://
    first = op.execute(context())
    (target,) = tmp_path.glob("*.mp4")
    stamp = target.stat().st_mtime_ns

    second = op.execute(context())
    assert [e["existing"] for e in second] == [True]
    assert second[0]["sha256"] == first[0]["sha256"] and second[0]["bytes"] == len(SAMPLE_MP4)
    assert target.stat().st_mtime_ns == stamp  # not rewritten

    target.write_bytes(SAMPLE_MP4[:100])  # an incomplete leftover of some earlier crash
    third = op.execute(context())
    assert [e["existing"] for e in third] == [False]
    assert target.read_bytes() == SAMPLE_MP4


def test_max_bytes_aborts_before_writing(emulator, tmp_path):
    results = generate(emulator, ["a balloon"])
    op = VideoDownloadOperator(task_id="dl", results=results, destination=str(tmp_path), max_bytes=1000)
    with pytest.raises(DownloadError, match=r"is 3214 bytes, more than max_bytes=1000; nothing was written"):
        op.execute(context())
    assert list(tmp_path.iterdir()) == []


def test_max_bytes_bounds_a_stream_without_content_length(tmp_path):
    def respond(conn):  # chunked, no Content-Length: only the running count can stop it
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: video/mp4\r\n\r\n")
        for _ in range(50):
            conn.sendall(b"400\r\n" + b"x" * 0x400 + b"\r\n")
        conn.sendall(b"0\r\n\r\n")

    with raw_server(respond) as url:
        op = VideoDownloadOperator(
            task_id="dl", results=fake_result(f"{url}/v.mp4"), destination=str(tmp_path), max_bytes=10_000
        )
        with pytest.raises(DownloadError, match="exceeded max_bytes=10000 while downloading"):
            op.execute(context())
    assert list(tmp_path.iterdir()) == []  # the partial file is gone


def test_short_body_is_rejected_and_an_existing_file_is_left_intact(tmp_path):
    def respond(conn):  # announces 10000 bytes, sends 100, hangs up
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10000\r\nContent-Type: video/mp4\r\n\r\n" + b"y" * 100)

    (tmp_path / "acedata_t-1_0.mp4").write_bytes(b"previous complete video")
    with raw_server(respond) as url:
        op = VideoDownloadOperator(
            task_id="dl", results=fake_result(f"{url}/v.mp4"), destination=str(tmp_path), download_retries=0
        )
        with pytest.raises(DownloadError, match=r"GET .*/v.mp4 failed after 1 attempt\(s\): RemoteProtocolError"):
            op.execute(context())
    # Atomic: the target was never opened for writing, so the earlier file is untouched.
    assert (tmp_path / "acedata_t-1_0.mp4").read_bytes() == b"previous complete video"
    assert leftovers(tmp_path) == []


def test_transient_errors_are_retried(tmp_path, monkeypatch):
    answers = iter(
        [b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"]
        + [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"] * 3
    )
    monkeypatch.setattr("airflow_provider_vidgen.operators.download.time.sleep", lambda s: None)
    with raw_server(lambda conn: conn.sendall(next(answers))) as url:
        op = VideoDownloadOperator(task_id="dl", results=fake_result(f"{url}/v.mp4"), destination=str(tmp_path))
        (entry,) = op.execute(context())
    assert entry["bytes"] == 5 and (tmp_path / "acedata_t-1_0.mp4").read_bytes() == b"hello"


def test_http_error_status_fails_clearly(emulator, tmp_path):
    missing = fake_result(f"{emulator.url}/files/no-such-task.mp4")
    op = VideoDownloadOperator(task_id="dl", results=missing, destination=str(tmp_path))
    with pytest.raises(DownloadError, match="answered HTTP 404"):
        op.execute(context())
    assert list(tmp_path.iterdir()) == []


def test_failed_results_are_skipped_or_fail_the_task(emulator, tmp_path, caplog, capsys):
    results = generate(emulator, ["fine", "doomed [fail]"])
    failed_id = results[1]["task_id"]
    assert results[1]["state"] == "failed"

    op = VideoDownloadOperator(task_id="dl", results=results, destination=str(tmp_path / "a"))
    manifest = op.execute(context())
    assert [e["task_id"] for e in manifest] == [results[0]["task_id"]]
    log = caplog.text + capsys.readouterr().out  # task logs go to stdout
    assert f"No video to download from acedata hailuo task {failed_id}: failed" in log

    before = downloads(emulator)
    strict = VideoDownloadOperator(task_id="dl", results=results, destination=str(tmp_path / "b"), fail_on_missing=True)
    with pytest.raises(AirflowFailException, match=f"1 of 2 generation.*have no video.*task {failed_id}: failed"):
        strict.execute(context())
    assert downloads(emulator) == before  # failed before any download
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"destination": ""}, "invalid input: destination: must be a folder URI"),
        ({"destination": None}, "invalid input: destination: must be a folder URI"),
        ({"destination": "relative/folder"}, "invalid input: destination: must be an absolute path or a URI"),
        ({"results": "not results"}, "invalid input: results: expected generation results"),
        ({"results": [{"url": "x"}]}, "invalid input: results: not a generation result"),
        ({"max_bytes": 0}, "invalid input: max_bytes: must be a positive number of bytes"),
        ({"manifest_name": "a/b.json"}, "invalid input: manifest_name: must be a plain file name"),
    ],
)
def test_bad_input_fails_before_any_download(emulator, tmp_path, kwargs, fragment):
    results = generate(emulator, ["ok"])
    before = downloads(emulator)
    op = VideoDownloadOperator(**{"task_id": "dl", "results": results, "destination": str(tmp_path), **kwargs})
    with pytest.raises(AirflowFailException) as err:
        op.execute(context())
    assert fragment in str(err.value)
    assert downloads(emulator) == before
    assert list(tmp_path.iterdir()) == []


def test_any_object_storage_destination(emulator):
    """Not only local files: fsspec's in-memory filesystem stands in for s3:// or gs:// here."""
    from airflow.sdk.io.store import attach
    from fsspec.implementations.memory import MemoryFileSystem

    attach(protocol="memory", fs=MemoryFileSystem())  # what a provider's `filesystems` entry does for s3
    results = generate(emulator, ["a whale"])
    destination = ObjectStoragePath("memory://vidgen-test/videos/")
    (entry,) = VideoDownloadOperator(task_id="dl", results=results, destination=destination).execute(context())
    assert entry["destination_uri"].startswith("memory://")
    stored = ObjectStoragePath(entry["destination_uri"])
    assert stored.read_bytes() == SAMPLE_MP4 and entry["sha256"] == sha256(SAMPLE_MP4)
    assert [p.name for p in destination.iterdir()] == [stored.name]  # no temporary file left


def test_outlet_events_carry_a_summary(emulator, tmp_path):
    from airflow.sdk.execution_time.context import OutletEventAccessors

    results = generate(emulator, ["a comet"])
    asset = Asset("vidgen://videos/unit")
    events = OutletEventAccessors()
    op = VideoDownloadOperator(
        task_id="dl", results=results, destination=str(tmp_path), manifest_name="m.json", outlets=[asset]
    )
    op.execute(context(outlet_events=events))
    assert events[asset].extra == {
        "destination": f"file://{tmp_path}",
        "files": 1,
        "new_files": 1,
        "bytes": len(SAMPLE_MP4),
        "manifest": f"file://{tmp_path}/m.json",
    }


# ------------------------------------------------------------------------------------------------
# under Airflow: templated destination, XCom shapes from real upstream tasks, asset event, link
# ------------------------------------------------------------------------------------------------


def test_pipeline_under_dag_test(airflow_db, emulator, tmp_path):
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from dags import download_dags

    from airflow_provider_vidgen.links import VIDEO_URL_XCOM, VideoLink

    dag = download_dags.pipeline_dag
    dag_run = dag.test(
        logical_date=pendulum.datetime(2026, 3, 4, tz="UTC"), run_conf={"root": f"file://{tmp_path}/videos"}
    )
    with create_session() as session:
        states = {(ti.task_id, ti.map_index): ti.state for ti in dag_run.get_task_instances(session=session)}
        xcoms = {
            (x.task_id, x.map_index, x.key): XComModel.deserialize_value(x)
            for x in session.query(XComModel).filter(XComModel.run_id == dag_run.run_id, XComModel.dag_id == dag.dag_id)
        }
        events = (
            session.query(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.uri == download_dags.TEST_VIDEOS.uri, AssetEvent.source_run_id == dag_run.run_id)
            .all()
        )
        event_extras = [event.extra for event in events]
    assert dag_run.state == DagRunState.SUCCESS, states

    # The destination was rendered per run: {{ params.root }}/{{ ds }}/
    folder = tmp_path / "videos" / "2026-03-04"
    manifest = xcoms[("download", -1, "return_value")]
    generated = [xcoms[("generate", i, "return_value")] for i in (0, 1)]
    waited = xcoms[("wait", -1, "return_value")]
    ok_ids = [r["task_id"] for r in generated] + [r["task_id"] for r in waited if r["state"] == "succeeded"]
    assert sorted({e["task_id"] for e in manifest}) == sorted(ok_ids) and len(ok_ids) == 3
    # Luma: a video and a thumbnail each; Hailuo: a video; the failed generation is skipped.
    assert len(manifest) == 5
    for entry in manifest:
        path = Path(entry["destination_uri"].removeprefix("file://"))
        assert path.parent == folder
        assert entry["sha256"] == sha256(path.read_bytes()) and entry["bytes"] == path.stat().st_size
    assert json.loads((folder / "manifest.json").read_text()) == manifest

    # The asset event was recorded, with the summary as its extra.
    assert event_extras == [
        {
            "destination": f"file://{folder}",
            "files": 5,
            "new_files": 5,
            "bytes": 3 * len(SAMPLE_MP4) + 2 * len(SAMPLE_JPG),
            "manifest": f"file://{folder}/manifest.json",
        }
    ]

    # The Video extra link: declared on the operator, its URL in XCom, and rendered by the worker.
    generate_op = dag.get_task("generate")
    assert any(isinstance(link, VideoLink) for link in generate_op.operator_extra_links)
    assert xcoms[("generate", 0, VIDEO_URL_XCOM)] == generated[0]["videos"][0]["url"]
    assert xcoms[("generate", 0, "_link_VideoLink")] == generated[0]["videos"][0]["url"]
    assert xcoms[("wait", -1, "_link_VideoLink")] == waited[0]["videos"][0]["url"]
