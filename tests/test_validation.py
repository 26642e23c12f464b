"""The bad-input catalogue: each case fails before any request, naming the field and what is allowed."""

from __future__ import annotations

import pytest
from conftest import FIXTURES, load_fixture

from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.core.vendors import ACEDATA, HIDREAM, api_settings, check_task_ids, prepare_submission

LONG = "x" * 201
B64 = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"

# (vendor, service, body, field named in the error, words the message must contain)
CATALOGUE = [
    (ACEDATA, "hailuo", {"prompt": "boat", "model": "minimax-i2v"}, "first_image_url", "required for model"),
    (
        ACEDATA,
        "hailuo",
        {"prompt": "boat", "model": "minimax-i2v", "first_image_url": B64},
        "first_image_url",
        "base64",
    ),
    (ACEDATA, "hailuo", {"prompt": ""}, "prompt", "must not be empty"),
    (ACEDATA, "hailuo", {"prompt": "   "}, "prompt", "must not be empty"),
    (ACEDATA, "hailuo", {}, "prompt", "is required"),
    (ACEDATA, "hailuo", {"prompt": "boat", "model": "minimax-t3v"}, "model", "minimax-t2v"),
    (ACEDATA, "hailuo", {"prompt": 42}, "prompt", "must be a string"),
    (ACEDATA, "hailuo", {"prompt": "a", "callback_url": "ftp://hooks.example.com"}, "callback_url", "http(s) URL"),
    (ACEDATA, "hailuo", {"prompt": "a", "callback_url": "not a url"}, "callback_url", "http(s) URL"),
    (ACEDATA, "hailuo", {"prompt": "a", "async": False}, "async", "True"),
    (ACEDATA, "hailuo", {"prompt": "a", "seed": 1}, "seed", "allowed: action"),
    (ACEDATA, "luma", {"action": "extend", "prompt": "more"}, "video_id or video_url", "required for action extend"),
    (ACEDATA, "luma", {"action": "remix", "prompt": "x"}, "action", "'generate', 'extend'"),
    (ACEDATA, "luma", {"prompt": "x", "loop": "yes"}, "loop", "true or false"),
    (ACEDATA, "luma", {"prompt": "x", "aspect_ratio": "2:1"}, "aspect_ratio", "16:9"),
    (ACEDATA, "luma", {"prompt": "x", "start_image_url": "/tmp/a.png"}, "start_image_url", "http(s) URL"),
    (ACEDATA, "kling", {"prompt": "x"}, "action", "is required"),
    (ACEDATA, "kling", {"action": "image2video", "prompt": "x"}, "start_image_url", "required for action image2video"),
    (ACEDATA, "kling", {"action": "text2video", "prompt": "x", "cfg_scale": 1.5}, "cfg_scale", "between 0 and 1"),
    (ACEDATA, "kling", {"action": "text2video", "prompt": "x", "negative_prompt": LONG}, "negative_prompt", "200"),
    (ACEDATA, "kling", {"action": "text2video", "prompt": "x", "duration": "5"}, "duration", "integer"),
    (ACEDATA, "kling", {"action": "extend", "model": "kling-v1"}, "video_id", "required for action extend"),
    (ACEDATA, "sora", {"prompt": "x"}, "model", "is required"),
    (ACEDATA, "sora", {"model": "sora-2", "prompt": "x", "duration": 7}, "duration", "4, 8, 10"),
    (ACEDATA, "veo", {"action": "image2video", "prompt": "x"}, "image_urls", "required for action image2video"),
    (ACEDATA, "veo", {"action": "text2video", "prompt": "x", "image_urls": []}, "image_urls", "at least 1"),
    (ACEDATA, "seedance", {"model": "doubao-seedance-2-0-260128", "content": []}, "content", "at least 1"),
    (ACEDATA, "seedance", {"model": "doubao-seedance-2-0-260128", "content": ["x"]}, "content[0]", "object"),
    (ACEDATA, "wan", {"model": "wan2.6-t2v", "prompt": "x", "negative_prompt": "n" * 501}, "negative_prompt", "500"),
    (ACEDATA, "wan", {"model": "wan2.6-i2v", "action": "image2video", "prompt": "x"}, "image_url", "required"),
    (ACEDATA, "happyhorse", {"prompt": "x", "duration": 20}, "duration", "between 3 and 15"),
    (ACEDATA, "happyhorse", {"action": "video_edit", "prompt": "x"}, "video_url", "required for action video_edit"),
    (ACEDATA, "tiktok", {"prompt": "x"}, "service", "allowed: hailuo, luma"),
    (HIDREAM, "img2video", {"prompt": "waves"}, "image", "is required"),
    (
        HIDREAM,
        "video_edit",
        {"video_name": "https://a.example/v.mp4", "prompt": "x", "style": "anime"},
        "prompt or style",
        "exactly one",
    ),
    (HIDREAM, "video_edit", {"video_name": "https://a.example/v.mp4"}, "prompt or style", "one of them is required"),
    (HIDREAM, "video_edit", {"video_name": "https://a.example/v.mp4", "style": "pixar"}, "style", "ink_wash"),
    (HIDREAM, "txt2video", {"prompt": "x", "motion_strength": 31}, "motion_strength", "between 0 and 30"),
    (HIDREAM, "txt2video", {"prompt": "x", "motion_strength": -1}, "motion_strength", "between 0 and 30"),
    (HIDREAM, "txt2video", {"prompt": "x", "camera_move_depth": 6}, "camera_move_depth", "between -5 and 5"),
    (HIDREAM, "txt2video", {"prompt": "x", "resolution_ratio": 1000}, "resolution_ratio", "1024, 2048, 4096"),
    (HIDREAM, "txt2video", {"prompt": "x", "aspect_ratio": "4:3"}, "aspect_ratio", "16:9"),
    (HIDREAM, "txt2video", {"prompt": "x", "notify_url": "hooks.example.com/x"}, "notify_url", "http(s) URL"),
    (HIDREAM, "txt2audio", {"prompt": "x"}, "module", "txt2video, img2video, video_edit"),
]


@pytest.mark.parametrize(("vendor", "service", "body", "field", "words"), CATALOGUE)
def test_bad_input_names_field_and_allowed(vendor, service, body, field, words):
    with pytest.raises(InvalidInputError) as caught:
        prepare_submission(vendor, service, body)
    assert caught.value.field == field
    assert words in str(caught.value)


def test_catalogue_is_big_enough():
    assert len(CATALOGUE) >= 25


REQUESTS = sorted(
    path.relative_to(FIXTURES / "acedata").as_posix()
    for path in (FIXTURES / "acedata").glob("*/*request*.json")
    if path.parent.name in ACEDATA.services
)


@pytest.mark.parametrize("name", REQUESTS)
def test_documented_request_bodies_validate(name):
    service = name.split("/")[0]
    service = {"kling/motion_request.json": "kling-motion", "veo/extend_request.json": "veo-extend",
               "veo/upsample_request.json": "veo-upsample"}.get(name, service)  # fmt: skip
    spec, request = prepare_submission(ACEDATA, service, load_fixture(f"acedata/{name}"))
    assert request.path == spec.submit_path and request.json["async"] is True


@pytest.mark.parametrize(
    "name", ["txt2video_submit_request.json", "img2video_submit_request.json",
             "video_edit_submit_request_style.json", "video_edit_submit_request_prompt.json"],
)  # fmt: skip
def test_documented_hidream_bodies_validate(name):
    module = name.rsplit("_submit", 1)[0]
    _spec, request = prepare_submission(HIDREAM, module, load_fixture(f"hidream/{name}"))
    assert request.path == f"/api-pub/gw/v2/video/{module}/async"


@pytest.mark.parametrize("bad", [[], "", [""], [1], None, {}])
def test_task_ids_must_be_non_empty_strings(bad):
    with pytest.raises(InvalidInputError, match="task_ids"):
        check_task_ids(bad)


def test_connection_extras_are_checked():
    with pytest.raises(InvalidInputError, match=r"extra\.batch_size"):
        api_settings(ACEDATA, None, {"batch_size": 0})
    assert api_settings(ACEDATA, "", {}).base_url == "https://api.acedata.cloud"
    assert api_settings(HIDREAM, "localhost:8765", {"batch_size": "20"}).batch_size == 20
