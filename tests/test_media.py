"""The pure core of the download's proof and report: the PyAV probe, the poster, the gallery, the accounting."""

from __future__ import annotations

import io

import pytest

from airflow_provider_vidgen.core.gallery import render_gallery
from airflow_provider_vidgen.core.manifest import FailureEntry, summary_line, unexplained_failures
from airflow_provider_vidgen.core.media import InvalidVideoError, extract_poster, probe_video
from airflow_provider_vidgen.core.results import TaskError
from airflow_provider_vidgen.emulator.app import SAMPLE_JPG, SAMPLE_MP4


def test_the_emulators_sample_is_a_real_video():
    info = probe_video(io.BytesIO(SAMPLE_MP4))
    assert (info.codec, info.width, info.height, info.duration, info.frames, info.fps) == (
        "h264",
        160,
        90,
        1.0,
        12,
        12.0,
    )
    assert info.container.startswith("mov,mp4")


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"<!doctype html><html><body>Access denied</body></html>", "an HTML page"),
        (b'{"error": {"code": "expired"}}', "JSON"),
        (b"", "an empty file"),
        (SAMPLE_JPG, "a still image (mjpeg), not a video"),
        (SAMPLE_MP4[:100], "no video stream"),
        (SAMPLE_MP4[:1607], "truncated: the file holds 1 of the 12 frames"),
        (SAMPLE_MP4[:3150], "truncated: the file holds 10 of the 12 frames"),
    ],
    ids=["html", "json", "empty", "jpeg", "header-cut", "truncated-early", "truncated-late"],
)
def test_the_probe_rejects_what_is_not_a_complete_video(data, reason):
    with pytest.raises(InvalidVideoError) as err:
        probe_video(io.BytesIO(data))
    assert reason in err.value.reason


def test_poster_is_a_jpeg_frame():
    jpeg = extract_poster(io.BytesIO(SAMPLE_MP4))
    assert jpeg[:3] == b"\xff\xd8\xff" and jpeg[-2:] == b"\xff\xd9"
    with pytest.raises(InvalidVideoError):
        extract_poster(io.BytesIO(b"<html></html>"))


def manifest() -> dict:
    video = {
        "name": "acedata_t 1_0.mp4",
        "kind": "video",
        "task_id": "t 1",
        "index": 0,
        "vendor": "acedata",
        "service": "hailuo",
        "bytes": 3214,
        "prompt": 'A <b>bold</b> "fox"',
        "video": {"codec": "h264", "width": 160, "height": 90, "duration": 1.0, "audio_codec": None},
    }
    poster = {**video, "name": "acedata_t 1_0_poster.jpg", "kind": "poster"}
    failure = {
        "task_id": "t-2",
        "vendor": "acedata",
        "service": "luma",
        "state": "failed",
        "error": {"code": "api_error", "message": "boom <script>"},
        "prompt": "doomed",
        "upstream": "generate",
    }
    return {"generations": 2, "downloaded": 1, "failed": 1, "run_id": "manual__x", "files": [video, poster],
            "failures": [failure]}  # fmt: skip


def test_gallery_shows_every_video_and_failure_with_local_links_only():
    html = render_gallery(manifest(), title="Videos of demo")
    assert html.startswith("<!doctype html>") and "<title>Videos of demo</title>" in html
    # The card: player with poster, the prompt (escaped), service, vendor task id, size, duration, resolution.
    assert '<video controls preload="metadata" poster="acedata_t%201_0_poster.jpg">' in html
    assert '<source src="acedata_t%201_0.mp4" type="video/mp4">' in html
    assert "A &lt;b&gt;bold&lt;/b&gt; &quot;fox&quot;" in html
    for text in ("acedata hailuo", "<code>t 1</code>", "3.1 KiB", "1.0 s", "160x90", "h264"):
        assert text in html
    # The failure, with its vendor task id and error; markup in vendor text is escaped.
    assert "Failures (1)" in html and "<code>t-2</code>" in html and "boom &lt;script&gt;" in html
    assert "1 of 2 generations downloaded; 1 failed" in html
    assert "<script" not in html and "http" not in html  # self-contained: no script, no external resource


def test_a_thumbnail_is_preferred_over_an_extracted_poster():
    data = manifest()
    thumb = {**data["files"][0], "name": "thumb.jpg", "kind": "thumbnail"}
    data["files"].append(thumb)
    assert 'poster="thumb.jpg"' in render_gallery(data)


def test_failed_task_instances_without_a_result_are_accounted_for():
    states = {0: "success", 1: "failed", 2: "failed", 3: "upstream_failed"}
    explained = {1}  # map index 1 left its result in XCom "failure"
    entries = unexplained_failures("generate", states, explained, {"ok-0", "f-1"}, ["ok-0", "f-1", "lost-2"])
    # One entry per generation: the instance that never ran, and the id submitted by the other failed one.
    assert [(e.task_id, e.state, e.upstream) for e in entries] == [
        (None, "upstream_failed", "generate[3]"),
        ("lost-2", "unknown", "generate"),
    ]
    assert "generate[3] never ran" in entries[0].error.message
    assert "Airflow task generate[2] submitted it" in entries[1].error.message
    assert "VideoTaskSensor(task_ids=['lost-2']" in entries[1].error.message
    assert unexplained_failures("generate", {0: "success", 1: "failed"}, {1}, set(), []) == []


def test_each_task_instance_that_failed_before_submitting_counts_as_one_generation():
    # The count: two mapped Hailuo instances failed before submitting, the Luma video downloaded.
    entries = unexplained_failures("hailuo", {0: "failed", 1: "failed"}, set(), {"luma-1"}, [])
    assert [(e.task_id, e.state, e.upstream) for e in entries] == [
        (None, "failed", "hailuo[0]"),
        (None, "failed", "hailuo[1]"),
    ]
    assert "Airflow task hailuo[0] failed without a generation result" in entries[0].error.message
    line = summary_line(3, 1, entries)
    assert line.startswith("1 of 3 generations downloaded; 2 failed: hailuo[0] (no_result: "), line
    # With a vendor task id left over, which instance failed without one is not known: both are named.
    entries = unexplained_failures("hailuo", {0: "failed", 1: "failed"}, set(), set(), ["lost-1"])
    assert [(e.task_id, e.upstream) for e in entries] == [("lost-1", "hailuo"), (None, "hailuo")]
    assert "Airflow task one of hailuo[0], hailuo[1] failed without" in entries[1].error.message


def test_summary_line():
    failure = FailureEntry("abc", "acedata", "hailuo", "failed", TaskError("api_error", "boom"))
    assert summary_line(3, 2, [failure]) == "2 of 3 generations downloaded; 1 failed: abc (api_error: boom)"
    assert summary_line(1, 1, []) == "1 of 1 generation downloaded; none failed"
    never = FailureEntry(None, None, None, "upstream_failed", TaskError("no_result", "never ran"), None, "gen[2]")
    assert summary_line(3, 1, [failure, never]) == (
        "1 of 3 generations downloaded; 1 failed: abc (api_error: boom); 1 never ran: gen[2] (no_result: never ran)"
    )


def test_values_from_outside_are_never_printed_raw():
    """A manifest's values come from vendors, probes and XCom: markup where a number belongs is dropped,
    markup in text is escaped."""
    tag = '<img src=x onerror="alert(1)">'
    data = manifest()
    data["files"][0]["video"] = {**data["files"][0]["video"], "width": tag, "duration": tag, "codec": tag}
    data["files"][0]["bytes"] = tag
    data["failures"][0]["error"]["code"] = tag
    html = render_gallery(data)
    assert tag not in html and 'onerror="' not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
