"""The Videos view of a DAG run: Airflow's own API server app (``create_app()``, with the plugin mounted
as the API server mounts it) served over real HTTP on loopback, real Airflow JWTs, on a run made with
``dag.test()`` against the emulator: a batch of three, a mapped generation with one failure, a download."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from html import escape as html_escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from conftest import TOKEN, reset_emulator, set_connection
from dags import hostile_dags, videos_view_dags
from per_dag_auth import PREFIX, RUNS_ONLY

from airflow_provider_vidgen.core.videos import XComRow, parse_range, run_videos
from airflow_provider_vidgen.emulator.server import ThreadedServer

AUTH_MANAGER = "per_dag_auth.PerDagSimpleAuthManager"


@pytest.fixture(scope="module")
def api_server(airflow_db):
    """Airflow's API server app, with our plugin, on loopback; the per-DAG auth manager for the module."""
    from airflow.api_fastapi import app as api_app

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW__CORE__AUTH_MANAGER", AUTH_MANAGER)
        patch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "videos-view-tests-" + "k" * 64)
        api_app.purge_cached_app()
        try:
            with ThreadedServer(api_app.create_app("core")).start() as server:
                yield server
        finally:
            api_app.purge_cached_app()


def token(username: str, role: str = "viewer") -> str:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=username, role=role))


@pytest.fixture(scope="module")
def run(airflow_db, emulator_server, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """The run, its downloads under a folder that the deployment lets the view serve (``[vidgen] media_roots``)."""
    root = tmp_path_factory.mktemp("videos")
    reset_emulator(emulator_server)
    with pytest.MonkeyPatch.context() as patch:
        set_connection(patch, "acedata_default", "acedata", emulator_server.url, TOKEN)
        dag_run = videos_view_dags.videos_view_dag.test(logical_date=None, run_conf={"root": f"file://{root}"})
        # One generation fails on purpose, so the download and the run fail; the view still shows everything.
        assert dag_run.state == "failed"
        patch.setenv("AIRFLOW__VIDGEN__MEDIA_ROOTS", str(root))
        yield {"dag_id": dag_run.dag_id, "run_id": dag_run.run_id, "root": root}


def get(server: ThreadedServer, path: str, who: str | None = "admin", **kwargs: Any) -> httpx.Response:
    """GET ``path`` of the API server as ``who`` (a bearer token; None: no credentials)."""
    headers = {"Authorization": f"Bearer {token(who, 'admin' if who == 'admin' else 'viewer')}"} if who else {}
    headers.update(kwargs.pop("headers", {}))
    return httpx.get(f"{server.url}{path}", headers=headers, trust_env=False, timeout=30, **kwargs)


def view(server: ThreadedServer, run: dict[str, Any], suffix: str, who: str | None = "admin", **kwargs: Any):
    return get(server, f"/vidgen/dags/{run['dag_id']}/runs/{run['run_id']}/{suffix}", who, **kwargs)


def test_the_view_lists_every_generation_of_the_run_with_its_failures(api_server, run):
    page = view(api_server, run, "videos.json", params={"per_page": 500}).json()
    items = page["items"]
    assert page["counts"] == {"total": 5, "succeeded": 4, "failed": 1, "pending": 0}
    assert [item["prompt"] for item in items] == videos_view_dags.BATCH_PROMPTS + videos_view_dags.MAPPED_PROMPTS
    assert [(item["airflow_task_id"], item["map_index"]) for item in items] == [
        ("batch", -1), ("batch", -1), ("batch", -1), ("mapped", 0), ("mapped", 1),
    ]  # fmt: skip
    failed = items[4]
    assert failed["state"] == "failed" and failed["error"]["code"] and failed["video"] is None
    for item in items[:4]:  # the downloaded copy is played, with its poster, duration and resolution
        assert item["video"].startswith("media/download/-1/") and item["poster"].startswith("media/download/-1/")
        assert item["duration"] > 0 and item["width"] and item["height"] and item["vendor_task_id"]
        service = "hailuo" if item["airflow_task_id"] == "batch" else "luma"
        assert (item["vendor"], item["service"]) == ("acedata", service)

    html = view(api_server, run, "videos").text
    assert html.count('<article class="card"') == 5 and 'data-state="failed"' in html
    assert "emulated [fail]" in html and 'preload="none"' in html


def test_paging_the_state_filter_and_one_tasks_videos(api_server, run):
    first = view(api_server, run, "videos.json", params={"per_page": 2}).json()
    assert (first["page"], first["pages"], len(first["items"])) == (1, 3, 2)
    last = view(api_server, run, "videos.json", params={"per_page": 2, "page": 3}).json()
    assert len(last["items"]) == 1
    failed = view(api_server, run, "videos.json", params={"state": "failed"}).json()["items"]
    assert [item["prompt"] for item in failed] == ["this one fails [fail]"]
    batch = view(api_server, run, "videos.json", params={"task_id": "batch"}).json()["items"]
    assert [item["prompt"] for item in batch] == videos_view_dags.BATCH_PROMPTS
    assert view(api_server, run, "videos.json", params={"state": "nonsense"}).status_code == 422


def test_media_bytes_are_the_downloaded_files_and_a_player_can_seek(api_server, run):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(dag_id=run["dag_id"], run_id=run["run_id"], task_id="download", key="return_value")
            .one()
        )
        manifest = XComModel.deserialize_value(row)
    items = view(api_server, run, "videos.json").json()["items"]
    by_route = {f"media/download/-1/{n}": entry for n, entry in enumerate(manifest["files"])}
    for item in items[:4]:
        for route in (item["video"], item["poster"]):
            answer = view(api_server, run, route)
            assert answer.status_code == 200, answer.text
            assert hashlib.sha256(answer.content).hexdigest() == by_route[route]["sha256"]
    video = items[0]["video"]
    size = by_route[video]["bytes"]
    whole = view(api_server, run, video)
    assert whole.headers["accept-ranges"] == "bytes" and whole.headers["content-type"] == "video/mp4"
    part = view(api_server, run, video, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{size}"
    tail = view(api_server, run, video, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == whole.content[-10:]
    beyond = view(api_server, run, video, headers={"Range": f"bytes={size}-"})
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{size}"


def test_media_outside_the_runs_manifests_is_refused(api_server, run, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not a video")
    for route in (
        "media/download/-1/999",  # no such place in the manifest
        "media/batch/-1/0",  # a task that downloaded nothing
        f"media/download/-1/..%2F..%2F{secret}",  # a path is not a place
        "media/download/0/0",  # another map index
    ):
        answer = view(api_server, run, route)
        assert answer.status_code in (404, 422), (route, answer.status_code)
        assert b"not a video" not in answer.content


def test_access_is_airflows_own(api_server, run):
    assert view(api_server, run, "videos", who=None).status_code == 401
    assert view(api_server, run, "videos", who=None, headers={"Authorization": "Bearer forged"}).status_code == 403
    outsider = f"{PREFIX}videos_view_other"  # may read another DAG only
    for suffix in ("videos", "videos.json", "media/download/-1/0"):
        assert view(api_server, run, suffix, who=outsider).status_code == 403
    reader = f"{PREFIX}{run['dag_id']}"
    assert view(api_server, run, "videos", who=reader).status_code == 200
    assert view(api_server, run, "media/download/-1/0", who=reader).status_code == 200
    # The UI's iframe sends the session cookie, no bearer token.
    cookie = view(api_server, run, "videos.json", who=None, cookies={"_token": token(reader)})
    assert cookie.status_code == 200
    missing = get(api_server, f"/vidgen/dags/{run['dag_id']}/runs/no_such_run/videos")
    assert missing.status_code == 404


def test_the_plugin_puts_a_videos_tab_on_the_run_page(api_server):
    answer = get(api_server, "/api/v2/plugins")
    (plugin,) = [p for p in answer.json()["plugins"] if p["name"] == "airflow-provider-vidgen"]
    (tab,) = plugin["external_views"]
    assert (tab["name"], tab["destination"], tab["url_route"]) == ("Videos", "dag_run", "videos")
    assert tab["href"] == "/vidgen/dags/{DAG_ID}/runs/{RUN_ID}/videos"


# ------------------------------------------------------------------------------------------------
# The pure parts
# ------------------------------------------------------------------------------------------------


def test_a_generation_seen_by_an_operator_and_its_sensor_appears_once_in_its_final_state():
    def load(value: Any) -> list[dict[str, Any]]:
        return value if isinstance(value, list) else [value]

    pending = {"task_id": "t1", "vendor": "acedata", "service": "hailuo", "state": "pending", "prompt": "p"}
    done = {**pending, "state": "succeeded", "videos": [{"url": "javascript:alert(1)"}], "usage": {"credits": 2}}
    rows = [
        XComRow("submit", -1, "vendor_task_id", "t1"),
        XComRow("submit", -1, "return_value", pending),
        XComRow("wait", -1, "video_url", ""),
        XComRow("wait", -1, "return_value", [done]),
        XComRow("waiting", -1, "vendor_task_id", ["t2", None]),
    ]
    found = run_videos(rows, load)
    assert [(g.vendor_task_id, g.state, g.airflow_task_id) for g in found.generations] == [
        ("t1", "succeeded", "submit"), ("t2", "pending", "waiting"),
    ]  # fmt: skip
    assert found.generations[0].video_url is None  # only http(s) media URLs from a vendor reach the page
    assert found.usage() == {"credits": 2}


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("bytes=0-9", (0, 9)), ("bytes=5-", (5, 99)), ("bytes=-10", (90, 99)), ("bytes=90-500", (90, 99))],
)
def test_ranges(header, expected):
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=5-2", "bytes=0-1,5-6", "items=0-1", "bytes=-0", "bytes=x-"])
def test_unsatisfiable_ranges(header):
    with pytest.raises(ValueError):
        parse_range(header, 100)


# ------------------------------------------------------------------------------------------------
# XCom is not trusted: a DAG author's (or an XCom editor's) forged manifests and results
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile(airflow_db, emulator_server, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """``videos_view_hostile``: a real generation and its download under the media root, then the forged XComs."""
    root = tmp_path_factory.mktemp("hostile") / "videos"
    root.mkdir()
    reset_emulator(emulator_server)
    with pytest.MonkeyPatch.context() as patch:
        set_connection(patch, "acedata_default", "acedata", emulator_server.url, TOKEN)
        dag_run = hostile_dags.hostile_dag.test(logical_date=None, run_conf={"root": f"file://{root}"})
        patch.setenv("AIRFLOW__VIDGEN__MEDIA_ROOTS", str(root))
        yield {"dag_id": dag_run.dag_id, "run_id": dag_run.run_id, "root": root}


def test_a_forged_manifest_serves_nothing_and_says_nothing_of_the_files(api_server, hostile):
    answers = [view(api_server, hostile, f"media/download/-1/{n}") for n in range(5)]
    # a secret outside the root, an HTML page, a link out of the root, a wrong size, a device: all alike
    assert {(a.status_code, a.text) for a in answers} == {
        (404, '{"detail":"no such file in this run\'s download manifests"}')
    }
    for answer in answers:
        assert "secret" not in answer.text and "text/html" not in answer.headers["content-type"]
    secret_size = str(len(hostile_dags.SECRET))
    assert all(secret_size not in a.text and "bytes" not in a.text for a in answers)
    html = view(api_server, hostile, "media/download/-1/1", headers={"Accept": "text/html"})
    assert html.status_code == 404 and "<script>" not in html.text


def test_the_real_download_of_the_same_run_still_plays(api_server, hostile):
    items = view(api_server, hostile, "videos.json").json()["items"]
    (real,) = [item for item in items if item["airflow_task_id"] == "generate"]
    assert real["video"].startswith("media/fetch/-1/") and real["state"] == "succeeded"
    answer = view(api_server, hostile, real["video"])
    assert answer.status_code == 200 and answer.headers["content-type"] == "video/mp4"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["content-disposition"].startswith('inline; filename="acedata_')
    assert answer.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert answer.content.startswith(b"\x00\x00\x00") and answer.content[4:8] == b"ftyp"


def test_markup_from_xcom_appears_only_escaped(api_server, hostile):
    answer = view(api_server, hostile, "videos")
    page = answer.text
    assert hostile_dags.TAG not in page and 'onerror="' not in page
    assert html_escape(hostile_dags.TAG) in page  # the forged result's prompt, service, error: escaped
    assert "javascript:" not in page
    assert "script-src" not in answer.headers["content-security-policy"]  # default-src 'none': no script at all
    assert answer.headers["content-security-policy"].startswith("default-src 'none';")
    items = view(api_server, hostile, "videos.json").json()["items"]
    tagged = [item for item in items if item["width"] is not None and not isinstance(item["width"], int)]
    assert tagged == []  # a width that is not a number is never shown


def test_a_stored_result_is_read_only_where_the_provider_stores_it_and_only_its_size(api_server, hostile):
    items = view(api_server, hostile, "videos.json").json()["items"]
    zero = [item for item in items if item["vendor_task_id"] == "forged-zero"]
    assert [item["state"] for item in zero] == ["pending"]  # the page answered; /dev/zero was not read


def test_xcom_read_is_needed_as_well_as_run_read(api_server, run):
    runs_only = f"{RUNS_ONLY}{run['dag_id']}"  # may read the DAG's runs, not their XComs
    for suffix in ("videos", "videos.json", "media/download/-1/0"):
        assert view(api_server, run, suffix, who=runs_only).status_code == 403
    assert view(api_server, run, "videos.json", who=f"{PREFIX}{run['dag_id']}").status_code == 200


def test_nothing_is_served_where_the_deployment_named_no_folder(api_server, run, monkeypatch):
    monkeypatch.delenv("AIRFLOW__VIDGEN__MEDIA_ROOTS")
    items = view(api_server, run, "videos.json").json()["items"]
    assert all(item["video"] is None and item["poster"] is None for item in items)  # the vendor's URLs play
    assert items[0]["video_url"].startswith("http://127.0.0.1:")
    assert view(api_server, run, "media/download/-1/0").status_code == 404


def test_a_link_inside_a_root_that_leads_out_of_it_is_not_served(api_server, run, tmp_path):
    from airflow_provider_vidgen.core.served import resolve_roots, within

    outside = tmp_path / "outside.mp4"
    outside.write_bytes(b"x")
    link = run["root"] / "inside.mp4"
    link.symlink_to(outside)
    roots = resolve_roots([str(run["root"])])
    assert not within(f"file://{link}", roots) and within(f"file://{run['root']}/a.mp4", roots)
    assert not within(f"file://{run['root']}/../x.mp4", roots) and not within("s3://bucket/x.mp4", roots)


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\x00\x00\x00\x18ftypmp42", "video/mp4"), (b"\x00\x00\x00\x14ftypqt  ", "video/quicktime"),
        (b"\x1a\x45\xdf\xa3\x01", "video/webm"), (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n", "image/png"), (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"<!doctype html>", None), (b"<svg xmlns=", None), (b"<?xml version", None), (b"{}", None), (b"", None),
    ],
)  # fmt: skip
def test_media_types_come_from_the_first_bytes(head, kind):
    from airflow_provider_vidgen.core.served import media_type

    assert media_type(head) == kind


def test_extra_links_lead_to_the_view_a_batch_to_all_its_videos(api_server, run):
    """The worker renders extra links when a task ends (Airflow 3 keeps them as ``_link_<class>`` XComs)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        links = {
            (row.task_id, row.map_index): XComModel.deserialize_value(row)
            for row in session.query(XComModel).filter(
                XComModel.dag_id == run["dag_id"],
                XComModel.run_id == run["run_id"],
                XComModel.key.in_(["_link_TaskVideosLink", "_link_RunVideosLink"]),
            )
        }
    prefix = f"/vidgen/dags/videos_view/runs/{quote(run['run_id'], safe='')}/videos"
    assert links[("batch", -1)] == f"{prefix}?task_id=batch"
    assert links[("mapped", 0)] == f"{prefix}?task_id=mapped"
    assert links[("download", -1)] == prefix
    batch = get(api_server, links[("batch", -1)].replace("videos?", "videos.json?")).json()
    assert len(batch["items"]) == 3


def test_a_browser_without_access_gets_a_page_that_says_what_to_do(api_server, run):
    html = {"Accept": "text/html,application/xhtml+xml"}
    anonymous = view(api_server, run, "videos", who=None, headers=html)
    assert anonymous.status_code == 401 and "Log in to Airflow" in anonymous.text
    outsider = view(api_server, run, "videos", who=f"{PREFIX}videos_view_other", headers=html)
    assert outsider.status_code == 403 and "can read on DAG:&lt;dag_id&gt;" in outsider.text
    api_client = view(api_server, run, "videos.json", who=None)  # not a browser: FastAPI's JSON
    assert api_client.json() == {"detail": "Not authenticated"}


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("https://cdn.example/v.mp4", True), ("HTTP://cdn.example/v.mp4", True), ("javascript:alert(1)", False),
        ("data:text/html,<script>", False), ("//evil.example/x", False), ("file:///etc/passwd", False),
        ("http:\\\\evil.example", False), (["https://x"], False), (None, False),
    ],
)  # fmt: skip
def test_only_http_urls_from_xcom_reach_a_page_or_a_link(value, shown):
    from airflow_provider_vidgen.core.typed import web_url

    assert (web_url(value) is not None) is shown


# ------------------------------------------------------------------------------------------------
# What a security review found: the file checked is the file served; malformed values never break the page
# ------------------------------------------------------------------------------------------------


def served_ref(path: Path, data: bytes) -> Any:
    from airflow_provider_vidgen.core.videos import MediaRef

    return MediaRef("download", -1, 0, path.name, len(data), hashlib.sha256(data).hexdigest(), f"file://{path}")


def test_the_file_checked_is_the_file_served_even_if_it_is_swapped_for_a_link(tmp_path, monkeypatch):
    from airflow_provider_vidgen.plugins.media import verified

    root, outside = tmp_path / "videos", tmp_path / "secret.txt"
    root.mkdir()
    outside.write_text("secret")
    video = root / "v.mp4"
    data = b"\x00\x00\x00\x18ftypmp42" + b"v" * 100
    video.write_bytes(data)
    monkeypatch.setenv("AIRFLOW__VIDGEN__MEDIA_ROOTS", str(root))
    served = verified(served_ref(video, data))
    assert served is not None and served.media_type == "video/mp4"
    video.unlink()
    video.symlink_to(outside)  # swapped after the checks
    with served.handle:
        served.handle.seek(0)
        assert served.handle.read() == data
    assert verified(served_ref(video, data)) is None  # and asked again, it is refused


def test_stored_results_are_read_only_as_regular_files_of_their_recorded_size(tmp_path):
    from airflow_provider_vidgen.core.served import resolve_roots
    from airflow_provider_vidgen.storage import read_stored

    root = tmp_path / "results"
    (root / "d#").mkdir(parents=True)
    fifo = root / "pipe.json"
    os.mkfifo(fifo)
    good = root / "r.json"
    good.write_bytes(b"[]")
    roots = resolve_roots([str(root)])
    sha = hashlib.sha256(b"[]").hexdigest()
    for uri, size in (
        (f"file://{root}/d#/../../../../dev/zero", 2),  # a fragment that the check and the open read apart
        (f"file://{fifo}", 2),  # a pipe: reading it would block a server thread
        ("file:///dev/zero", 2),
        (f"file://{root}/missing.json", 2),
        (f"file://{good}", 3),  # not its recorded size
        (f"file://elsewhere{good}", 2),  # a host in a file URI
    ):
        with pytest.raises(ValueError):
            read_stored({"vidgen_stored": uri, "bytes": size, "sha256": sha}, roots)
    assert read_stored({"vidgen_stored": f"file://{good}", "bytes": 2, "sha256": sha}, roots) == b"[]"


@pytest.mark.parametrize(
    "bad",
    [
        {"progress": 10**400}, {"videos": [{"url": "https://x", "width": "<b>"}]},
        {"state": "<b>"}, {"task_id": ["x"]}, {"videos": "https://x"}, {"error": {"code": 1}},
    ],
)  # fmt: skip
def test_a_result_that_does_not_read_is_left_out_and_never_breaks_the_page(bad):
    good = {"task_id": "t1", "vendor": "acedata", "service": "hailuo", "state": "succeeded", "usage": {"c": 1e308}}
    rows = [
        XComRow("a", -1, "vendor_task_id", "t1"), XComRow("a", -1, "return_value", good),
        XComRow("b", -1, "vendor_task_id", "t2"), XComRow("b", -1, "return_value", {**good, "task_id": "t2"}),
        XComRow("c", -1, "vendor_task_id", "t3"), XComRow("c", -1, "return_value", {**good, "task_id": "t3", **bad}),
    ]  # fmt: skip
    found = run_videos(rows, lambda value: [value])
    shown = [(g.vendor_task_id, g.state) for g in found.generations]
    assert shown[:2] == [("t1", "succeeded"), ("t2", "succeeded")] and ("t3", "succeeded") not in shown[2:]
    assert found.usage() == {}  # 2e308 is no number JSON can carry


def test_usage_that_is_no_finite_number_is_dropped():
    from airflow_provider_vidgen.core.results import clean_usage

    assert clean_usage(
        {"credits": 10**400, "seconds": float("nan"), "tokens": 3, "deep": {"a": {"b": {"c": {"d": 1}}}}}
    ) == {"tokens": 3}


@pytest.mark.parametrize(
    "uri", ["file://[::1/x", "file:///tmp/a\x00b", "file:///tmp/x?y", "file:///tmp/x#y", "s3://b/../x"]
)
def test_what_is_not_a_plain_location_is_never_within_a_root(uri):
    from airflow_provider_vidgen.core.served import resolve_roots, within

    assert not within(uri, resolve_roots(["/tmp", "s3://b"]))


def test_the_browser_error_page_has_the_pages_headers(api_server, run):
    answer = view(api_server, run, "media/download/-1/999", headers={"Accept": "text/html"})
    assert answer.status_code == 404 and answer.headers["content-security-policy"].startswith("default-src 'none'")
