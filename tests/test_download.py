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

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import Asset, ObjectStoragePath
from conftest import TOKEN, set_connection

from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.emulator.app import SAMPLE_JPG, SAMPLE_MP4
from airflow_provider_vidgen.operators.download import (
    DownloadError,
    VideoDownloadOperator,
    collect_results,
    plan_downloads,
)

LUMA_OK = ["a red fox in snow", "a paper boat on a lake"]  # tests/dags/download_dags.py, without the [fail] one

# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def loopback_media(monkeypatch) -> None:
    """The lying test servers below listen on loopback, which downloads refuse unless a vendor connection
    names it: the default connection names it here, as a deployment with an internal media gateway would.
    (Tests that take ``emulator`` get the emulator's connection instead: its own loopback origin only.)"""
    set_connection(monkeypatch, "acedata_default", "acedata", "https://api.acedata.cloud", TOKEN,
                   private_media_hosts=["127.0.0.1"])  # fmt: skip


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
    files = manifest["files"]

    assert len(files) == 4  # the vendor's thumbnails are the posters: no frame extracted
    assert (manifest["generations"], manifest["downloaded"], manifest["failed"]) == (2, 2, 0)
    for result in results:
        task_id = result["task_id"]
        video, thumb = (e for e in files if e["task_id"] == task_id)
        assert video["kind"] == "video" and thumb["kind"] == "thumbnail"
        assert video["source_url"] == result["videos"][0]["url"]
        assert video["destination_uri"] == f"file://{destination}/acedata_{task_id}_0.mp4"
        assert thumb["destination_uri"] == f"file://{destination}/acedata_{task_id}_0_thumb.jpg"
        assert (video["vendor"], video["service"], video["existing"]) == ("acedata", "luma", False)
        # What PyAV measured in the downloaded file (emulator/sample.mp4: 1 s, 160x90 H.264, 12 fps).
        assert video["video"] == {
            "container": "mov,mp4,m4a,3gp,3g2,mj2",
            "codec": "h264",
            "width": 160,
            "height": 90,
            "duration": 1.0,
            "frames": 12,
            "fps": 12.0,
            "audio_codec": None,
        }
    for entry in files:
        data = Path(entry["destination_uri"].removeprefix("file://")).read_bytes()
        assert entry["bytes"] == len(data) and entry["sha256"] == sha256(data)
        assert data == (SAMPLE_MP4 if entry["kind"] == "video" else SAMPLE_JPG)
    assert json.loads((destination / "manifest.json").read_text()) == manifest
    assert manifest["gallery"] == f"file://{destination}/gallery.html" and (destination / "gallery.html").is_file()
    assert leftovers(destination) == []


def test_skips_files_already_complete_and_replaces_incomplete_ones(emulator, tmp_path):
    results = generate(emulator, ["a kite"])
    op = VideoDownloadOperator(task_id="dl", results=results, destination=str(tmp_path))  # plain path = file://
    first = op.execute(context())["files"]
    (target,) = tmp_path.glob("*.mp4")
    stamp = target.stat().st_mtime_ns

    second = op.execute(context())["files"]
    assert [(e["kind"], e["existing"]) for e in second] == [("video", True), ("poster", True)]
    assert second[0]["sha256"] == first[0]["sha256"] and second[0]["bytes"] == len(SAMPLE_MP4)
    assert target.stat().st_mtime_ns == stamp  # not rewritten

    target.write_bytes(SAMPLE_MP4[:100])  # an incomplete leftover of some earlier crash
    third = op.execute(context())["files"]
    assert [(e["kind"], e["existing"]) for e in third] == [("video", False), ("poster", False)]
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
        + [b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(SAMPLE_MP4), SAMPLE_MP4)] * 3
    )
    monkeypatch.setattr("airflow_provider_vidgen.hooks.files.time.sleep", lambda s: None)
    with raw_server(lambda conn: conn.sendall(next(answers))) as url:
        op = VideoDownloadOperator(task_id="dl", results=fake_result(f"{url}/v.mp4"), destination=str(tmp_path))
        entry, _poster = op.execute(context())["files"]
    assert entry["bytes"] == len(SAMPLE_MP4) and (tmp_path / "acedata_t-1_0.mp4").read_bytes() == SAMPLE_MP4


def test_http_error_status_fails_clearly(emulator, tmp_path):
    missing = fake_result(f"{emulator.url}/files/no-such-task.mp4")
    op = VideoDownloadOperator(task_id="dl", results=missing, destination=str(tmp_path))
    with pytest.raises(DownloadError, match="answered HTTP 404"):
        op.execute(context())
    assert list(tmp_path.iterdir()) == []


def test_a_failed_generation_fails_the_download_after_keeping_the_rest(emulator, tmp_path, caplog, capsys):
    results = generate(emulator, ["fine", "doomed [fail]"])
    ok_id, failed_id = results[0]["task_id"], results[1]["task_id"]
    assert results[1]["state"] == "failed"

    ctx = context()
    op = VideoDownloadOperator(task_id="dl", results=results, destination=str(tmp_path / "a"))
    with pytest.raises(AirflowFailException) as err:
        op.execute(ctx)
    message = str(err.value)
    # Counted in generations, each missing one named with its error, and what to do next.
    assert message.startswith("2 generation(s) asked for: 1 downloaded, 1 failed, 0 never ran; 2 must succeed")
    assert f"acedata hailuo task {failed_id}: failed (api_error: generation failed upstream" in message
    assert "clear the failed generation task(s) together with this task ('dl')" in message
    assert "min_success= or fail_on_failed=False" in message
    # The good video was downloaded, kept and listed before the task failed; the manifest reached XCom.
    manifest = ctx["ti"].xcom["return_value"]
    assert manifest == json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert {e["task_id"] for e in manifest["files"]} == {ok_id}
    assert (manifest["generations"], manifest["downloaded"], manifest["failed"], manifest["never_ran"]) == (2, 1, 1, 0)
    assert manifest["failures"] == [
        {
            "task_id": failed_id,
            "vendor": "acedata",
            "service": "hailuo",
            "state": "failed",
            "error": {"code": "api_error", "message": "generation failed upstream (emulated [fail])"},
            "prompt": "doomed [fail]",  # the vendor's record echoes the request
            "upstream": None,
        }
    ]
    log = caplog.text + capsys.readouterr().out  # task logs go to stdout
    assert f"No video to download from acedata hailuo task {failed_id}: failed" in log
    line = f"1 of 2 generations downloaded; 1 failed: {failed_id} (api_error: generation failed upstream (emulated"
    assert line in log

    # A second try finds the complete file (and its poster): nothing is downloaded twice.
    again = context()
    with pytest.raises(AirflowFailException):
        VideoDownloadOperator(task_id="dl", results=results, destination=str(tmp_path / "a")).execute(again)
    assert [entry["existing"] for entry in again["ti"].xcom["return_value"]["files"]] == [True, True]


@pytest.mark.parametrize(
    "policy, fails",
    [
        ({"fail_on_failed": False}, False),
        ({"min_success": 1}, False),
        ({"min_success": 0.5}, False),
        ({"min_success": 1.0}, True),
        ({"min_success": 2, "fail_on_failed": False}, True),  # min_success wins, as in the batch operators
    ],
)
def test_min_success_and_fail_on_failed_mean_what_they_mean_for_batches(emulator, tmp_path, policy, fails):
    results = generate(emulator, ["fine", "doomed [fail]"])
    op = VideoDownloadOperator(task_id="dl", results=results, destination=str(tmp_path), **policy)
    if fails:
        with pytest.raises(AirflowFailException, match="1 downloaded, 1 failed"):
            op.execute(context())
    else:
        manifest = op.execute(context())
        assert (manifest["downloaded"], manifest["failed"]) == (1, 1)


def test_the_policy_is_checked_when_the_dag_is_parsed_and_fail_on_missing_is_gone(tmp_path):
    with pytest.raises(InvalidInputError, match=r"min_success: a float is a share .* task 'dl', checked when the DAG"):
        VideoDownloadOperator(task_id="dl", results=[], destination=str(tmp_path), min_success=1.5)
    with pytest.raises(TypeError, match=r"fail_on_missing= is now fail_on_failed= \(True by default\) or min_success="):
        VideoDownloadOperator(task_id="dl", results=[], destination=str(tmp_path), fail_on_missing=True)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"destination": None}, "invalid input: destination: must be a folder URI"),
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
    manifest = VideoDownloadOperator(task_id="dl", results=results, destination=destination).execute(context())
    entry, poster = manifest["files"]
    assert entry["destination_uri"].startswith("memory://") and entry["video"]["codec"] == "h264"  # probed there
    stored = ObjectStoragePath(entry["destination_uri"])
    assert stored.read_bytes() == SAMPLE_MP4 and entry["sha256"] == sha256(SAMPLE_MP4)
    assert ObjectStoragePath(poster["destination_uri"]).read_bytes()[:3] == b"\xff\xd8\xff"  # a JPEG
    names = sorted(p.name for p in destination.iterdir())  # no temporary file left
    assert names == sorted([stored.name, f"{stored.stem}_poster.jpg", "gallery.html", "manifest.json"])


def test_outlet_events_carry_a_summary(emulator, tmp_path):
    from airflow.sdk.execution_time.context import OutletEventAccessors

    results = generate(emulator, ["a comet"])
    asset = Asset("vidgen://videos/unit")
    events = OutletEventAccessors()
    op = VideoDownloadOperator(
        task_id="dl", results=results, destination=str(tmp_path), manifest_name="m.json", outlets=[asset]
    )
    op.execute(context(outlet_events=events))
    poster = next(tmp_path.glob("*_poster.jpg"))
    assert events[asset].extra == {
        "destination": f"file://{tmp_path}",
        "files": 2,
        "new_files": 2,
        "bytes": len(SAMPLE_MP4) + poster.stat().st_size,
        "failed": 0,
        "manifest": f"file://{tmp_path}/m.json",
        "gallery": f"file://{tmp_path}/gallery.html",
    }


# ------------------------------------------------------------------------------------------------
# under Airflow: templated destination, XCom shapes from real upstream tasks, asset event, link
# ------------------------------------------------------------------------------------------------


def test_pipeline_under_dag_test(airflow_db, emulator, tmp_path, capsys):
    """A run with no logical date (as the UI and REST API create) downloads everything and drops nothing.

    Upstream: a mapped operator with one failed map index (its result only in XCom "failure"), an
    operator that times out (only its vendor task id in XCom), and a sensor that returns a failure.
    """
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from dags import download_dags

    from airflow_provider_vidgen.links import VIDEO_URL_XCOM, VideoLink

    dag = download_dags.pipeline_dag
    dag_run = dag.test(logical_date=None, run_conf={"root": f"file://{tmp_path}/videos"})
    log = capsys.readouterr().out
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
    assert dag_run.logical_date is None
    assert states[("download", -1)] == "success", states
    assert (states[("generate", 2)], states[("too_slow", -1)]) == ("failed", "failed"), states
    # The leaf (the download) succeeded (fail_on_failed=False); the failures are in its manifest.
    assert dag_run.state == DagRunState.SUCCESS, states

    # The destination was rendered per run: {{ params.root }}/{{ run_id }}/
    folder = tmp_path / "videos" / dag_run.run_id
    manifest = xcoms[("download", -1, "return_value")]
    generated = [xcoms[("generate", i, "return_value")] for i in (0, 1)]
    waited = xcoms[("wait", -1, "return_value")]
    ok_ids = [r["task_id"] for r in generated] + [r["task_id"] for r in waited if r["state"] == "succeeded"]
    files = manifest["files"]
    assert sorted({e["task_id"] for e in files}) == sorted(ok_ids) and len(ok_ids) == 3
    # Luma: a video and a thumbnail each; Hailuo: a video and an extracted poster frame.
    assert sorted(e["kind"] for e in files) == ["poster"] + ["thumbnail"] * 2 + ["video"] * 3
    for entry in files:
        path = Path(entry["destination_uri"].removeprefix("file://"))
        assert path.parent == folder
        assert entry["sha256"] == sha256(path.read_bytes()) and entry["bytes"] == path.stat().st_size
    assert {e["prompt"] for e in files if e["kind"] == "video" and e["service"] == "luma"} == set(LUMA_OK)
    assert json.loads((folder / "manifest.json").read_text()) == manifest

    # Every failure is listed with its vendor task id and error; nothing was dropped.
    failed_luma = xcoms[("generate", 2, "failure")]
    slow_id = xcoms[("too_slow", -1, "vendor_task_id")]
    failed_wait = next(r for r in waited if r["state"] == "failed")
    by_id = {f["task_id"]: f for f in manifest["failures"]}
    assert set(by_id) == {failed_luma["task_id"], slow_id, failed_wait["task_id"]}
    assert by_id[failed_luma["task_id"]] == {
        "task_id": failed_luma["task_id"],
        "vendor": "acedata",
        "service": "luma",
        "state": "failed",
        "error": {"code": "api_error", "message": "generation failed upstream (emulated [fail])"},
        "prompt": "this one fails [fail]",
        "upstream": "generate[2]",
    }
    assert by_id[slow_id]["error"]["code"] == "no_result" and by_id[slow_id]["upstream"] == "too_slow"
    assert f"VideoTaskSensor(task_ids=[{slow_id!r}]" in by_id[slow_id]["error"]["message"]
    assert by_id[failed_wait["task_id"]]["error"]["code"] == "api_error"
    assert (manifest["generations"], manifest["downloaded"], manifest["failed"]) == (6, 3, 3)
    assert f"3 of 6 generations downloaded; 3 failed: {failed_wait['task_id']} (api_error: " in log
    # Mapped results are pulled in one request each: no "[error] XCom not found ... offset=N" line.
    assert "XCom not found" not in log

    # The gallery lists the videos (local files) and the failures.
    html = (folder / "gallery.html").read_text()
    for entry in files:
        if entry["kind"] == "video":
            assert f'<source src="{entry["name"]}"' in html
    for task_id in by_id:
        assert f"<code>{task_id}</code>" in html
    assert "http://" not in html and "https://" not in html  # nothing points at the vendor (or the emulator)

    # The asset event was recorded, with the summary as its extra.
    assert event_extras == [
        {
            "destination": f"file://{folder}",
            "files": 6,
            "new_files": 6,
            "bytes": manifest["bytes"],
            "failed": 3,
            "manifest": f"file://{folder}/manifest.json",
            "gallery": f"file://{folder}/gallery.html",
        }
    ]

    # The Video extra link: declared on the operator, its URL in XCom, and rendered by the worker.
    generate_op = dag.get_task("generate")
    assert any(isinstance(link, VideoLink) for link in generate_op.operator_extra_links)
    assert xcoms[("generate", 0, VIDEO_URL_XCOM)] == generated[0]["videos"][0]["url"]
    assert xcoms[("generate", 0, "_link_VideoLink")] == generated[0]["videos"][0]["url"]
    assert xcoms[("wait", -1, "_link_VideoLink")] == waited[0]["videos"][0]["url"]


def test_a_missing_video_fails_the_run_and_each_generation_is_counted(airflow_db, emulator, tmp_path, capsys):
    """Four generations asked for: one downloaded, one failed at the vendor, one failed before submitting (a
    mapped task instance), one never ran. The download fails the run after keeping and listing the video."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from dags import download_dags

    dag = download_dags.missing_dag
    dag_run = dag.test(logical_date=None, run_conf={"root": f"file://{tmp_path}/videos"})
    log = capsys.readouterr().out
    with create_session() as session:
        states = {(ti.task_id, ti.map_index): ti.state for ti in dag_run.get_task_instances(session=session)}
        rows = session.query(XComModel).filter(XComModel.run_id == dag_run.run_id, XComModel.dag_id == dag.dag_id)
        xcoms = {(x.task_id, x.map_index, x.key): XComModel.deserialize_value(x) for x in rows}
    assert dag_run.state == DagRunState.FAILED and states[("download", -1)] == "failed", states
    assert [states[("hailuo", i)] for i in range(3)] == ["success", "failed", "failed"], states
    assert states[("never", -1)] == "upstream_failed", states
    assert emulator.stats()["tasks"] == 2  # nothing was sent for the misspelled model

    # The manifest reached XCom although the task failed, and lists the downloaded video.
    manifest = xcoms[("download", -1, "return_value")]
    folder = tmp_path / "videos" / dag_run.run_id
    assert json.loads((folder / "manifest.json").read_text()) == manifest
    assert (manifest["generations"], manifest["downloaded"], manifest["failed"], manifest["never_ran"]) == (4, 1, 2, 1)
    assert [e["task_id"] for e in manifest["files"] if e["kind"] == "video"] == [
        xcoms[("hailuo", 0, "return_value")]["task_id"]
    ]
    assert sorted(f["upstream"] for f in manifest["failures"]) == ["hailuo[1]", "hailuo[2]", "never"]
    assert "4 generation(s) asked for: 1 downloaded, 2 failed, 1 never ran; 4 must succeed" in log
    assert "Airflow task hailuo[2] failed without a generation result" in log
    assert "clear the generation task(s) hailuo[1], hailuo[2], never together with this task ('download')" in log
    assert "XCom not found" not in log


# ------------------------------------------------------------------------------------------------
# every video is probed: what is not a complete video fails its item and is never kept
# ------------------------------------------------------------------------------------------------

HTML_ERROR_PAGE = (
    b"<!DOCTYPE html><html><head><title>403 Forbidden</title></head><body>Request has expired</body></html>"
)


def serve(body: bytes, content_type: str = "video/mp4"):
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nContent-Type: {content_type}\r\n\r\n"
    return raw_server(lambda conn: conn.sendall(head.encode() + body))


@pytest.mark.parametrize(
    "body, reason",
    [
        (HTML_ERROR_PAGE, "not a video FFmpeg can read: an HTML page"),
        (SAMPLE_MP4[:3000], "truncated: the file holds 8 of the 12 frames the container declares"),
        (SAMPLE_MP4[:1000], "h264 video stream without any frame"),
    ],
    ids=["html-as-mp4", "truncated", "header-only"],
)
def test_a_file_that_is_not_a_complete_video_fails_its_item(emulator, tmp_path, capsys, body, reason, monkeypatch):
    good = generate(emulator, ["a good one"])
    set_connection(monkeypatch, "acedata_default", "acedata", emulator.url, TOKEN, private_media_hosts=["127.0.0.1"])
    with serve(body) as url:
        results = [*good, fake_result(f"{url}/v.mp4", "bad-1")]
        op = VideoDownloadOperator(task_id="dl", results=results, destination=str(tmp_path), fail_on_failed=False)
        manifest = op.execute(context())
    log = capsys.readouterr().out
    (failure,) = manifest["failures"]
    assert (failure["task_id"], failure["state"], failure["error"]["code"]) == (
        "bad-1",
        "invalid_video",
        "invalid_video",
    )
    assert reason in failure["error"]["message"] and "VideoTaskSensor(task_ids=['bad-1']" in failure["error"]["message"]
    assert (manifest["generations"], manifest["downloaded"], manifest["failed"]) == (2, 1, 1)
    assert {e["task_id"] for e in manifest["files"]} == {good[0]["task_id"]}
    assert not (tmp_path / "acedata_bad-1_0.mp4").exists() and leftovers(tmp_path) == []  # never kept
    assert "1 of 2 generations downloaded; 1 failed: bad-1 (invalid_video: " in log
    assert "bad-1" in (tmp_path / "gallery.html").read_text()

    with serve(body) as url:  # by default the good video is still saved, then the task fails
        results = [*good, fake_result(f"{url}/v.mp4", "bad-1")]
        strict = VideoDownloadOperator(task_id="dl", results=results, destination=str(tmp_path / "strict"))
        with pytest.raises(AirflowFailException, match=r"1 downloaded, 1 failed, .*task bad-1: invalid_video"):
            strict.execute(context())
    assert [p.name for p in (tmp_path / "strict").glob("*.mp4")] == [f"acedata_{good[0]['task_id']}_0.mp4"]
    assert json.loads((tmp_path / "strict" / "manifest.json").read_text())["failed"] == 1


def test_only_bad_videos_fail_the_task(tmp_path):
    with serve(HTML_ERROR_PAGE) as url:
        op = VideoDownloadOperator(task_id="dl", results=fake_result(f"{url}/v.mp4"), destination=str(tmp_path))
        with pytest.raises(AirflowFailException, match=r"1 generation\(s\) asked for: 0 downloaded, 1 failed"):
            op.execute(context())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gallery.html", "manifest.json"]


def test_an_existing_non_video_of_the_right_size_is_replaced(emulator, tmp_path):
    results = generate(emulator, ["a kite"])
    target = tmp_path / f"acedata_{results[0]['task_id']}_0.mp4"
    target.write_bytes(b"<html>" + b" " * (len(SAMPLE_MP4) - 6))  # same size as the real file
    (video, _poster) = VideoDownloadOperator(task_id="dl", results=results, destination=str(tmp_path)).execute(
        context()
    )["files"]
    assert video["existing"] is False and target.read_bytes() == SAMPLE_MP4


def test_posters_are_frames_of_the_video_unless_the_vendor_has_a_thumbnail(emulator, tmp_path):
    import av

    hailuo = generate(emulator, ["no thumbnail here"])  # the emulator's Hailuo gives no thumbnail_url
    luma = generate(emulator, ["with a thumbnail"], service="luma")
    assert "thumbnail_url" not in hailuo[0]["videos"][0] and luma[0]["videos"][0]["thumbnail_url"]
    op = VideoDownloadOperator(task_id="dl", results=hailuo + luma, destination=str(tmp_path), include_thumbnails=True)
    files = op.execute(context())["files"]
    kinds = {(e["service"], e["kind"]) for e in files}
    assert kinds == {("hailuo", "video"), ("hailuo", "poster"), ("luma", "video"), ("luma", "thumbnail")}
    poster = next(e for e in files if e["kind"] == "poster")
    assert poster["name"] == f"acedata_{hailuo[0]['task_id']}_0_poster.jpg" and poster["source_url"] is None
    with av.open(str(tmp_path / poster["name"])) as image:  # a real JPEG of the video's size
        frame = next(image.decode(video=0))
        assert (image.streams.video[0].codec_context.name, frame.width, frame.height) == ("mjpeg", 160, 90)
    off = VideoDownloadOperator(task_id="dl", results=hailuo, destination=str(tmp_path / "np"), posters=False)
    assert [e["kind"] for e in off.execute(context())["files"]] == ["video"]


def test_example_dags_template_on_what_every_run_has():
    """A run triggered from the UI or the REST API has no logical date: {{ ds }} & co. would fail it."""
    import re

    folder = Path(__file__).resolve().parent.parent / "dags_examples"
    names = "ds|ds_nodash|ts|ts_nodash|logical_date|execution_date"
    only_with_logical_date = re.compile(r"\{\{[^}]*\b(" + names + r")\b[^}]*\}\}")
    for path in folder.glob("*.py"):
        for line in path.read_text().splitlines():
            if "not {{ ds }}" in line:  # the comment saying why
                continue
            assert not only_with_logical_date.search(line), f"{path.name}: {line.strip()}"
