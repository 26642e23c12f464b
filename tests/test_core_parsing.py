"""Every vendor fixture parses to the state, videos and error it shows (pure functions, no I/O)."""

from __future__ import annotations

import json

import pytest
from conftest import FIXTURES, load_fixture

from airflow_provider_vidgen.core.errors import AmbiguousSubmissionError, ApiError
from airflow_provider_vidgen.core.results import MODERATION_REJECTED, NOT_FOUND, TaskResult
from airflow_provider_vidgen.core.transport import ApiRequest, HttpResponse, TransportFailure
from airflow_provider_vidgen.vendors.acedata import ACEDATA
from airflow_provider_vidgen.vendors.hidream import HIDREAM

# fixture -> (service, expected state, expected error code or None).
ACEDATA_TASKS = {
    "hailuo/task_pending_no_response.json": ("hailuo", "pending", None),
    "hailuo/task_processing.json": ("hailuo", "running", None),
    "hailuo/task_succeeded.json": ("hailuo", "succeeded", None),
    "hailuo/task_failed_state.json": ("hailuo", "failed", "failed"),
    "hailuo/task_failed_structured_error.json": ("hailuo", "failed", "api_error"),
    "luma/task_pending_no_response.json": ("luma", "pending", None),
    "luma/task_processing.json": ("luma", "running", None),
    "luma/task_completed.json": ("luma", "succeeded", None),
    "luma/task_failed.json": ("luma", "failed", "api_error"),
    "kling/task_processing.json": ("kling", "running", None),
    "kling/task_succeed.json": ("kling", "succeeded", None),
    "kling/task_failed.json": ("kling", "failed", "api_error"),
    "sora/task_pending.json": ("sora", "pending", None),
    "sora/task_succeeded.json": ("sora", "succeeded", None),
    "sora/task_failed.json": ("sora", "failed", "failed"),
    "veo/task_running.json": ("veo", "running", None),
    "veo/task_succeeded.json": ("veo", "succeeded", None),
    "seedance/task_processing.json": ("seedance", "running", None),
    "seedance/task_flat_poll_processing.json": ("seedance", "running", None),
    "seedance/task_succeeded.json": ("seedance", "succeeded", None),
    "seedance/task_failed.json": ("seedance", "failed", "failed"),
    "seedance/task_expired.json": ("seedance", "failed", "failed"),
    "seedance/task_succeeded_data_object.json": ("seedance", "succeeded", None),
    "hailuo/task_succeeded_trimmed_record.json": ("hailuo", "succeeded", None),
    "kling/task_failed_trimmed_record_finished_in_response.json": ("kling", "failed", "error"),
    "kling/task_failed_empty_state.json": ("kling", "failed", "api_error"),
    "wan/task_processing.json": ("wan", "running", None),
    "wan/task_completed.json": ("wan", "succeeded", None),
    "happyhorse/task_pending.json": ("happyhorse", "pending", None),
    "happyhorse/task_succeeded.json": ("happyhorse", "succeeded", None),
    "happyhorse/task_error.json": ("happyhorse", "failed", "failed"),
    "minimax/task_running.json": ("minimax", "running", None),
    "minimax/task_succeeded.json": ("minimax", "succeeded", None),
    "minimax/task_failed.json": ("minimax", "failed", "generation_failed"),
    "digital-human/task_flat_poll_succeed.json": ("digital-human", "succeeded", None),
    "maestro/task_running.json": ("maestro", "running", None),
    "dreamina/generate_sync_response_done.json": ("dreamina", "succeeded", None),
    "hailuo/generate_sync_response_succeeded.json": ("hailuo", "succeeded", None),
    "hailuo/callback_payload_succeeded.json": ("hailuo", "succeeded", None),
    "luma/generate_sync_response_completed.json": ("luma", "succeeded", None),
    "luma/callback_payload_completed.json": ("luma", "succeeded", None),
    "kling/generate_sync_response_succeed.json": ("kling", "succeeded", None),
    "common/tasks_retrieve_unknown_id_response_200.json": ("hailuo", "failed", NOT_FOUND),
    "gemini/task_pending.json": ("gemini", "pending", None),
    "gemini/task_succeeded.json": ("gemini", "succeeded", None),
    "gemini/task_failed.json": ("gemini", "failed", "api_error"),
    "gemini/generate_sync_response_succeeded.json": ("gemini", "succeeded", None),
    # Flux and Midjourney write no state word: success, error, the video and finished_at tell.
    "flux/task_pending_no_response.json": ("flux", "pending", None),
    "flux/task_running.json": ("flux", "running", None),
    "flux/task_succeeded.json": ("flux", "succeeded", None),
    "flux/task_failed.json": ("flux", "failed", "service_unavailable"),
    "flux/generate_sync_response_succeeded.json": ("flux", "succeeded", None),
    "midjourney/task_running.json": ("midjourney", "running", None),
    "midjourney/task_succeeded.json": ("midjourney", "succeeded", None),
    "midjourney/task_failed.json": ("midjourney", "failed", "api_error"),
    "midjourney/generate_sync_response_succeeded.json": ("midjourney", "succeeded", None),
    "midjourney/callback_payload_succeeded.json": ("midjourney", "succeeded", None),
    # Maestro's finished record as Docs maestro_tasks.mdx shows it: a video per language in data.variants.
    "maestro/task_succeeded_variants.json": ("maestro", "succeeded", None),
    # Kickart (Docs openapi/kickart.json): data is one object, no state word, usage a plain number.
    "kickart/task_pending_no_response.json": ("kickart", "pending", None),
    "kickart/task_succeeded.json": ("kickart", "succeeded", None),
    "kickart/task_failed.json": ("kickart", "failed", "forbidden"),
    "kickart/generate_sync_response_succeeded.json": ("kickart", "succeeded", None),
    "kickart/generate_sync_response_viral_succeeded.json": ("kickart-viral", "succeeded", None),
    "kickart/generate_sync_response_template_succeeded.json": ("kickart-template", "succeeded", None),
}


def test_every_acedata_task_fixture_is_covered():
    on_disk = {
        str(path.relative_to(FIXTURES / "acedata"))
        for path in (FIXTURES / "acedata").glob("*/*.json")
        if path.name.startswith(("task_", "generate_sync_response", "callback_payload"))
    }
    assert on_disk - set(ACEDATA_TASKS) == set()


@pytest.mark.parametrize(("fixture", "expected"), ACEDATA_TASKS.items(), ids=list(ACEDATA_TASKS))
def test_acedata_fixture_state(fixture, expected):
    service, state, error_code = expected
    result = ACEDATA.interpret_record(ACEDATA.services[service], "tid", load_fixture(f"acedata/{fixture}"))
    assert result.state == state
    assert (result.error.code if result.error else None) == error_code
    if state == "succeeded":
        assert result.videos and all(video.url.startswith("https://") for video in result.videos)
    else:
        assert result.videos == ()


def test_luma_result_carries_size_thumbnail_and_video_id():
    result = ACEDATA.interpret_record(ACEDATA.services["luma"], "t", load_fixture("acedata/luma/task_completed.json"))
    (video,) = result.videos
    assert (video.width, video.height) == (1360, 752)
    assert video.thumbnail_url.endswith(".jpg")
    assert video.video_id == "14a8fd8e-d5b2-5be6-b353-f73fe203b5e8"


def test_midjourney_gives_four_videos_with_the_cover_as_thumbnail():
    record = load_fixture("acedata/midjourney/task_succeeded.json")
    result = ACEDATA.interpret_record(ACEDATA.services["midjourney"], "t", record)
    assert result.video_urls == record["response"]["video_urls"] and len(result.videos) == 4
    cover = record["response"]["image_url"]
    assert cover not in result.video_urls  # the cover is a thumbnail, never a video
    assert {(v.thumbnail_url, v.video_id, v.width, v.height) for v in result.videos} == {
        (cover, "1751816807896311", None, None)  # image_width/height are the cover's size, not the video's
    }
    assert result.progress == 1.0


def test_midjourney_running_record_with_a_cover_is_still_running():
    record = load_fixture("acedata/midjourney/task_running.json")
    result = ACEDATA.interpret_record(ACEDATA.services["midjourney"], "t", record)
    assert (result.state, result.progress) == ("running", 0.45)
    record["response"].update(image_url="https://storage.example.com/upload_1.png", video_urls=[])
    assert ACEDATA.interpret_record(ACEDATA.services["midjourney"], "t", record).state == "running"
    record["finished_at"] = record["started_at"] + 60  # finished with only the cover: no video
    result = ACEDATA.interpret_record(ACEDATA.services["midjourney"], "t", record)
    assert (result.state, result.error.code, result.videos) == ("failed", "no_video", ())


def test_flux_reads_a_record_without_state_word():
    spec = ACEDATA.services["flux"]
    done = load_fixture("acedata/flux/task_succeeded.json")
    (video,) = ACEDATA.interpret_record(spec, "t", done).videos
    assert (video.width, video.height, video.video_id) == (1280, 704, done["id"])
    running = load_fixture("acedata/flux/task_running.json")
    assert "finished_at" not in running and ACEDATA.interpret_record(spec, "t", running).state == "running"
    # A structured error is final even before finished_at; a bare string error mid-run is not.
    failed = load_fixture("acedata/flux/task_failed.json")
    del failed["finished_at"], failed["elapsed"]
    assert ACEDATA.interpret_record(spec, "t", failed).error.code == "service_unavailable"
    failed["response"]["error"] = "temporary"
    assert ACEDATA.interpret_record(spec, "t", failed).state == "running"
    # Finished with success but no video: failed, never succeeded.
    done["response"]["data"][0]["video_url"] = None
    assert ACEDATA.interpret_record(spec, "t", done).error.code == "no_video"


def test_kickart_reads_one_data_object_and_a_plain_number_usage():
    """The spec's 200 bodies, inside a task record and as a blocking answer: the video, and usage kept as
    the number the vendor reports (clean_usage takes objects only)."""
    for name, fixture, usage in (
        ("kickart", "task_succeeded.json", 0.21),
        ("kickart-viral", "generate_sync_response_viral_succeeded.json", 1.75),
        ("kickart-template", "generate_sync_response_template_succeeded.json", 0.36),
    ):
        body = load_fixture(f"acedata/kickart/{fixture}")
        result = ACEDATA.interpret_record(ACEDATA.services[name], "t", body)
        assert result.video_urls == ["https://cdn.acedata.cloud/kickart/example.mp4"]
        assert result.usage == {"usage": usage} and TaskResult.from_dict(result.to_dict()) == result
    ack = load_fixture("acedata/kickart/generate_sync_response_viral_succeeded.json")
    assert ACEDATA.parse_submit(ack) == "7621886649043206198"  # a numeric string id, taken as it is
    pending = load_fixture("acedata/kickart/task_pending_no_response.json")
    spec = ACEDATA.services["kickart"]
    assert ACEDATA.interpret_record(spec, "t", pending).state == "pending"
    pending["response"] = {"success": True, "task_id": pending["id"]}  # running: no data yet
    assert ACEDATA.interpret_record(spec, "t", pending).state == "running"
    assert ACEDATA.retrieve_request(ACEDATA.services["kickart-viral"], "x").path == "/kickart/tasks"
    assert ACEDATA.retrieve_request(spec, "x").json == load_fixture("acedata/kickart/tasks_retrieve_request.json") | {
        "id": "x"
    }


def test_maestro_variants_are_its_videos():
    record = load_fixture("acedata/maestro/task_succeeded_variants.json")
    result = ACEDATA.interpret_record(ACEDATA.services["maestro"], "t", record)
    assert result.video_urls == [variant["output_url"] for variant in record["response"]["data"]["variants"]]
    assert result.progress == 1.0 and not ACEDATA.services["maestro"].batch_retrieve


def test_result_json_round_trip():
    result = ACEDATA.interpret_record(ACEDATA.services["luma"], "t", load_fixture("acedata/luma/task_completed.json"))
    data = json.loads(json.dumps(result.to_dict()))
    # The record echoes its request, so the prompt comes with it (for the gallery of sensor-collected videos).
    assert set(data) == {"task_id", "service", "vendor", "state", "progress", "videos", "error", "prompt"}
    assert data["prompt"] == load_fixture("acedata/luma/task_completed.json")["request"]["prompt"]
    assert TaskResult.from_dict(data) == result


def test_retrieve_batch_routes_items_and_reports_missing_ids():
    body = load_fixture("acedata/hailuo/tasks_retrieve_batch_response.json")
    ids = [item["id"] for item in body["items"]] + ["never-submitted"]
    results = ACEDATA.parse_batch(ACEDATA.services["hailuo"], ids, body)
    assert [results[i].state for i in ids] == ["succeeded", "pending", "failed"]
    assert results["never-submitted"].error.code == NOT_FOUND


def test_minimax_batch_uses_total_not_count():
    body = load_fixture("acedata/minimax/tasks_retrieve_batch_response.json")
    task_id = body["items"][0]["id"]
    assert ACEDATA.parse_batch(ACEDATA.services["minimax"], [task_id], body)[task_id].state == "pending"


def test_empty_batch_answer():
    body = load_fixture("acedata/common/tasks_retrieve_batch_empty_response.json")
    assert ACEDATA.parse_batch(ACEDATA.services["sora"], ["a"], body)["a"].error.code == NOT_FOUND


@pytest.mark.parametrize("name", ["async_ack_response.json", "async_ack_response_with_trace.json"])
def test_submission_ack(name):
    body = load_fixture(f"acedata/common/{name}")
    assert ACEDATA.parse_submit(body) == body["task_id"]


ERRORS = sorted(p.name for p in (FIXTURES / "acedata/common").glob("error_*.json"))


@pytest.mark.parametrize("name", ERRORS)
def test_acedata_error_envelopes(name):
    status = int(name.split("_")[1])
    body = load_fixture(f"acedata/common/{name}")
    request = ApiRequest("POST", "/hailuo/videos", "submit", json={})
    with pytest.raises(ApiError) as caught:
        ACEDATA.decode(HttpResponse(status, json.dumps(body).encode()), request)
    err = caught.value
    assert err.status == status and err.code == body["error"]["code"]
    assert body["error"]["message"] in str(err) and body["trace_id"] in str(err)
    assert err.retryable == (status in (429, 500, 504))
    # The platform's own envelope proves it refused the request: nothing was created.
    assert err.nothing_created


def test_unknown_id_404_is_a_not_found_result():
    body = load_fixture("acedata/common/tasks_retrieve_unknown_id_response_404.json")
    request = ApiRequest("POST", "/seedance/tasks", "retrieve", json={})
    decoded = ACEDATA.decode(HttpResponse(404, json.dumps(body).encode()), request, allow_not_found=True)
    assert ACEDATA.interpret_record(ACEDATA.services["seedance"], "x", decoded).error.code == NOT_FOUND


def test_non_json_and_transport_failures():
    request = ApiRequest("POST", "/hailuo/tasks", "retrieve_batch", json={})
    with pytest.raises(ApiError) as caught:
        ACEDATA.decode(HttpResponse(502, b"<html>bad gateway</html>"), request)
    assert caught.value.retryable and not caught.value.nothing_created
    with pytest.raises(ApiError) as caught:
        ACEDATA.decode(HttpResponse(200, b"<html>"), request)
    assert caught.value.code == "non_json" and caught.value.retryable
    submit = ApiRequest("POST", "/hailuo/videos", "submit", json={})
    with pytest.raises(AmbiguousSubmissionError):
        ACEDATA.decode(TransportFailure("timeout_after_send", "ReadTimeout"), submit)
    with pytest.raises(ApiError) as caught:
        ACEDATA.decode(TransportFailure("connect", "refused"), submit)
    assert caught.value.nothing_created and caught.value.retryable


HIDREAM_SINGLE = {
    "result_single_no_subtasks_yet.json": ("pending", None),
    "result_single_waiting.json": ("pending", None),
    "result_single_processing.json": ("running", None),
    "result_single_done.json": ("succeeded", None),
    "result_single_failed.json": ("failed", "failed"),
    "result_single_rejected.json": ("failed", MODERATION_REJECTED),
}


@pytest.mark.parametrize(("fixture", "expected"), HIDREAM_SINGLE.items(), ids=list(HIDREAM_SINGLE))
def test_hidream_fixture_state(fixture, expected):
    state, error_code = expected
    body = load_fixture(f"hidream/{fixture}")
    request = ApiRequest("GET", "/x", "retrieve")
    record = HIDREAM.decode(HttpResponse(200, json.dumps(body).encode()), request)
    result = HIDREAM.interpret_record(HIDREAM.services["txt2video"], record["task_id"], record)
    assert result.state == state
    assert (result.error.code if result.error else None) == error_code
    if state == "succeeded":
        (video,) = result.videos
        assert video.url.endswith(".mp4") and video.watermarked_url.endswith("_wm.mp4")
    if error_code == MODERATION_REJECTED:
        assert "rejected" in result.error.message and record["task_id"] in result.error.message


def test_hidream_progress():
    record = load_fixture("hidream/result_single_processing.json")["result"]
    assert HIDREAM.interpret_record(HIDREAM.services["img2video"], "t", record).progress == 0.42


def test_hidream_batch_is_a_list():
    body = load_fixture("hidream/result_batch_response_mixed.json")
    ids = [item["task_id"] for item in body["result"]] + ["unknown"]
    results = HIDREAM.parse_batch(HIDREAM.services["txt2video"], ids, body["result"])
    assert [results[i].state for i in ids] == ["succeeded", "failed", "running", "failed"]
    assert results["unknown"].error.code == NOT_FOUND


def test_hidream_notify_payload_parses_like_a_result():
    body = load_fixture("hidream/notify_callback_payload.json")
    record = {"task_id": body["main_task_id"], "sub_task_results": body["sub_task_results"]}
    assert HIDREAM.interpret_record(HIDREAM.services["txt2video"], "t", record).state == "succeeded"


@pytest.mark.parametrize("name", ["submit_error_response.json", "error_business_code_PLACEHOLDER.json"])
def test_hidream_business_errors_carry_message(name):
    body = load_fixture(f"hidream/{name}")
    with pytest.raises(ApiError) as caught:
        HIDREAM.decode(HttpResponse(200, json.dumps(body).encode()), ApiRequest("POST", "/x", "submit"))
    assert caught.value.code == str(body["code"]) and body["message"] in str(caught.value)
    assert not caught.value.retryable


def test_hidream_submit_answer():
    body = load_fixture("hidream/submit_response.json")
    result = HIDREAM.decode(HttpResponse(200, json.dumps(body).encode()), ApiRequest("POST", "/x", "submit"))
    assert HIDREAM.parse_submit(result) == body["result"]["task_id"]


# HiDream v3: the same envelope and statuses as v2 (the v3 txt2video result page), read for every v3 module.
HIDREAM_V3 = [name for name in HIDREAM.services if name.startswith("v3-")]
HIDREAM_V3_SINGLE = {
    "v3_result_single_processing.json": ("running", None),
    "v3_result_single_done.json": ("succeeded", None),
    "v3_result_single_failed.json": ("failed", "failed"),
}


def test_the_v3_modules_are_in_the_table_without_a_batch_endpoint():
    assert HIDREAM_V3 == ["v3-txt2video", "v3-img2video", "v3-keyframe2video"]
    for name in HIDREAM_V3:
        spec = HIDREAM.services[name]
        module = name.removeprefix("v3-")
        assert spec.submit_path == f"/api-pub/gw/v3/video/{module}/async"
        assert spec.poll_path == f"/api-pub/gw/v3/video/{module}/async/results"
        assert not spec.batch_retrieve
        with pytest.raises(ValueError, match="no batch-results endpoint"):
            HIDREAM.batch_request(spec, ["t"])
    assert all(HIDREAM.services[name].batch_retrieve for name in ("txt2video", "img2video", "video_edit"))


@pytest.mark.parametrize("service", HIDREAM_V3)
@pytest.mark.parametrize(("fixture", "expected"), HIDREAM_V3_SINGLE.items(), ids=list(HIDREAM_V3_SINGLE))
def test_hidream_v3_fixture_state(fixture, expected, service):
    state, error_code = expected
    body = load_fixture(f"hidream/{fixture}")
    spec = HIDREAM.services[service]
    request = HIDREAM.retrieve_request(spec, body["result"]["task_id"])
    assert (request.method, request.path, request.kind) == ("GET", spec.poll_path, "retrieve")
    record = HIDREAM.decode(HttpResponse(200, json.dumps(body).encode()), request)
    result = HIDREAM.interpret_record(spec, record["task_id"], record)
    assert (result.state, result.service, result.vendor) == (state, service, "hidream")
    assert (result.error.code if result.error else None) == error_code
    if state == "succeeded":
        (video,) = result.videos
        assert video.url.endswith(".mp4") and video.watermarked_url.endswith("_wm.mp4") and result.progress == 1.0
    elif state == "running":
        assert result.progress == 0.63 and result.videos == ()


def test_hidream_v3_submit_answer():
    body = load_fixture("hidream/v3_submit_response.json")
    request = HIDREAM.submit_request(HIDREAM.services["v3-txt2video"], {"prompt": "x"})
    assert request.path == "/api-pub/gw/v3/video/txt2video/async"
    result = HIDREAM.decode(HttpResponse(200, json.dumps(body).encode()), request)
    assert HIDREAM.parse_submit(result) == body["result"]["task_id"]


def drive_flow(flow, answer):
    """Run a sans-IO flow, answering each request with ``answer(request)``; Sleeps pass at once."""
    from airflow_provider_vidgen.core.transport import Sleep

    sent, step = [], next(flow)
    while True:
        if isinstance(step, Sleep):
            outcome = None
        else:
            sent.append(step)
            outcome = answer(step)
        try:
            step = flow.send(outcome)
        except StopIteration as stop:
            return stop.value, sent


def test_a_batch_poll_of_a_service_without_batch_endpoint_retrieves_each_id_in_one_flow():
    from airflow_provider_vidgen.core.flows import batch_flow
    from airflow_provider_vidgen.core.transport import RetryPolicy

    spec = HIDREAM.services["v3-img2video"]
    answers = {
        "done": load_fixture("hidream/v3_result_single_done.json"),
        "running": load_fixture("hidream/v3_result_single_processing.json"),
        "gone": {"code": 0, "message": "Success", "request_id": "r", "result": None},
    }
    attempts: dict[str, int] = {}

    def answer(request):
        task_id = request.params["task_id"]
        attempts[task_id] = attempts.get(task_id, 0) + 1
        if task_id == "running" and attempts[task_id] == 1:  # one 503 first: that id's own retry covers it
            return HttpResponse(503, b'{"code": 503, "message": "busy"}')
        return HttpResponse(200, json.dumps(answers[task_id]).encode())

    ids = ["done", "running", "gone", "done"]
    results, sent = drive_flow(batch_flow(HIDREAM, spec, ids, RetryPolicy(3, base_delay=0)), answer)
    assert [(r.method, r.path, r.kind, r.params["task_id"]) for r in sent] == [
        ("GET", spec.poll_path, "retrieve", task_id) for task_id in ("done", "running", "running", "gone")
    ]  # each distinct id once (plus the one resend), never a batch path
    assert {task_id: result.state for task_id, result in results.items()} == {
        "done": "succeeded",
        "running": "running",
        "gone": "failed",
    }
    assert results["gone"].error.code == NOT_FOUND
    # A v2 module keeps its one batch request.
    _, sent = drive_flow(
        batch_flow(HIDREAM, HIDREAM.services["img2video"], ["a", "b"], RetryPolicy(1)),
        lambda request: HttpResponse(200, b'{"code": 0, "message": "Success", "result": []}'),
    )
    assert [(r.kind, r.path, r.json) for r in sent] == [
        ("retrieve_batch", "/api-pub/gw/v2/video/img2video/async/results/batch", {"task_id_list": ["a", "b"]})
    ]


def test_a_v3_id_that_keeps_failing_fails_the_whole_poll_like_a_failed_batch_request():
    from airflow_provider_vidgen.core.flows import batch_flow
    from airflow_provider_vidgen.core.transport import RetryPolicy

    done = json.dumps(load_fixture("hidream/v3_result_single_done.json")).encode()

    def answer(request):
        if request.params["task_id"] == "b":
            return HttpResponse(500, b'{"code": 500, "message": "down"}')
        return HttpResponse(200, done)

    with pytest.raises(ApiError) as caught:
        drive_flow(batch_flow(HIDREAM, HIDREAM.services["v3-txt2video"], ["a", "b", "c"], RetryPolicy(2)), answer)
    assert caught.value.status == 500 and caught.value.retryable
