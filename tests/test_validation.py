"""The bad-input catalogue: each case fails before any request, naming the field and what is allowed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import FIXTURES, load_fixture

from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.core.flows import check_task_ids
from airflow_provider_vidgen.core.settings import api_settings
from airflow_provider_vidgen.core.submission import prepare
from airflow_provider_vidgen.vendors.acedata import ACEDATA
from airflow_provider_vidgen.vendors.hidream import HIDREAM

LONG = "x" * 201
IMG_URL = "https://cdn.example.com/inputs/frame.png"
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
    # Per-model and per-action rules (issue 9), each checked against the vendor's SDK or docs.
    (ACEDATA, "kling", {"action": "text2video", "prompt": "x", "mode": "4k"}, "mode", "'std', 'pro' for model"),
    (
        ACEDATA,
        "kling",
        {"action": "text2video", "model": "kling-v3-turbo", "prompt": "x", "mode": "4k"},
        "mode",
        "'std', 'pro'",
    ),
    (ACEDATA, "kling", {"action": "extend", "model": "kling-v3", "video_id": "v"}, "model", "'kling-v1', 'kling-v1-6'"),
    (ACEDATA, "kling", {"action": "text2video", "prompt": "x", "duration": 7}, "duration", "5, 10 for model"),
    (ACEDATA, "kling", {"action": "text2video", "model": "kling-o1", "prompt": "x", "duration": 10}, "duration", "5"),
    (ACEDATA, "kling", {"action": "text2video", "model": "kling-v3", "prompt": "x", "duration": 16}, "duration", "15"),
    (
        ACEDATA,
        "kling",
        {"action": "text2video", "model": "kling-v2-6", "prompt": "x", "image_list": [{"image_url": "https://a/b"}]},
        "image_list",
        "not allowed for model",
    ),
    (
        ACEDATA,
        "kling",
        {"action": "image2video", "prompt": "x", "end_image_url": "https://a/e.png"},
        "start_image_url",
        "required for action image2video",
    ),
    (
        ACEDATA,
        "kling",
        {"action": "text2video", "prompt": "x", "end_image_url": "https://a/e.png"},
        "start_image_url",
        "required with end_image_url",
    ),
    (ACEDATA, "veo", {"action": "text2video", "prompt": "x", "resolution": "4k"}, "resolution", "'1080p', 'gif'"),
    (
        ACEDATA,
        "veo",
        {"action": "text2video", "model": "veo31-fast", "prompt": "x", "resolution": "4k"},
        "resolution",
        "for model",
    ),
    (ACEDATA, "veo-extend", {"video_id": "v"}, "model", "is required"),
    (ACEDATA, "veo-extend", {"video_id": "v", "model": "veo3"}, "model", "'veo31-fast', 'veo31'"),
    (ACEDATA, "veo-extend", {"video_id": "v", "model": "veo31", "resolution": "4k"}, "resolution", "'720p', '1080p'"),
    (
        ACEDATA,
        "seedance",
        {"model": "doubao-seedance-2-0-260128", "content": [{"type": "text", "text": "x"}], "frames": 29},
        "frames",
        "not allowed for model",
    ),
    (
        ACEDATA,
        "seedance",
        {"model": "doubao-seedance-1-0-pro-250528", "content": [{"type": "text", "text": "x"}], "frames": 30},
        "frames",
        "29..361 in steps of 4",
    ),
    (
        ACEDATA,
        "seedance",
        {
            "model": "doubao-seedance-1-0-pro-250528",
            "content": [{"type": "text", "text": "x"}],
            "frames": 29,
            "duration": 5,
        },
        "duration",
        "not allowed with frames",
    ),
    (
        ACEDATA,
        "seedance",
        {"model": "doubao-seedance-1-0-pro-250528", "content": [{"type": "text", "text": "x"}], "duration": -1},
        "duration",
        "between 2 and 12 for model",
    ),
    (
        ACEDATA,
        "seedance",
        {"model": "doubao-seedance-2-0-260128", "content": [{"type": "text", "text": "x"}], "priority": 10},
        "priority",
        "between 0 and 9",
    ),
    (ACEDATA, "minimax", {"model": "MiniMax-H3", "content": [{"type": "text", "text": "x"}]}, "duration", "required"),
    (
        ACEDATA,
        "minimax",
        {"model": "MiniMax-H3", "content": [{"type": "text", "text": "x"}], "duration": 4},
        "resolution",
        "required",
    ),
    (
        ACEDATA,
        "minimax",
        {"model": "MiniMax-H3", "content": [{"type": "text", "text": "x"}], "duration": 20, "resolution": "2K"},
        "duration",
        "between 4 and 15",
    ),
    (
        ACEDATA,
        "sora",
        {"model": "sora-2", "prompt": "x", "duration": 25},
        "duration",
        "10, 15 for version 1.0 and model sora-2",
    ),
    (ACEDATA, "sora", {"version": "2.0", "prompt": "x", "duration": 10}, "duration", "4, 8, 12 for version 2.0"),
    (ACEDATA, "sora", {"version": "2.0", "prompt": "x", "orientation": "portrait"}, "orientation", "not allowed"),
    (
        ACEDATA,
        "kling-motion",
        {
            "mode": "std",
            "image_url": "https://a/i.png",
            "video_url": "https://a/v.mp4",
            "character_orientation": "image",
            "keep_original_sound": "maybe",
        },
        "keep_original_sound",
        "'yes', 'no'",
    ),
    (ACEDATA, "veo-objects", {"video_id": "v", "action": "remove"}, "image_mask", "required for action remove"),
    (ACEDATA, "veo-reshoot", {"video_id": "v", "motion_type": "ORBIT"}, "motion_type", "'STATIONARY'"),
    (ACEDATA, "grok", {"prompt": "x", "duration": 3}, "duration", "between 6 and 30 for model"),
    (ACEDATA, "grok", {"model": "grok-imagine-video-1.5:official", "prompt": "x"}, "image_url", "required for model"),
    (ACEDATA, "kling-lip-sync", {"mode": "text2video", "video_id": "v", "text": "hi"}, "voice_id", "required for mode"),
    (ACEDATA, "dreamina", {"image_url": "https://a/p.jpg"}, "audio_url", "is required"),
    (ACEDATA, "digital-human", {"video_url": "https://a/v.mp4"}, "audio_url or text", "one of them is required"),
    (ACEDATA, "maestro", {"prompt": "x", "action": "remix"}, "ref_task_id", "required for action edit/extend/remix"),
    # Gemini (Docs gemini_videos), Flux video (Docs flux_generate_video), Midjourney video (Docs midjourney_videos).
    (ACEDATA, "gemini", {"model": "omni-flash"}, "prompt", "is required"),
    (ACEDATA, "gemini", {"prompt": "x", "model": "veo3"}, "model", "'omni-flash'"),
    (ACEDATA, "gemini", {"prompt": "x", "aspect_ratio": "1:1"}, "aspect_ratio", "'16:9', '9:16'"),
    (ACEDATA, "gemini", {"prompt": "x", "resolution": "4k"}, "resolution", "'720p', '1080p'"),
    (ACEDATA, "gemini", {"prompt": "x", "duration": 8}, "duration", "is not a field of acedata 'gemini'"),
    (ACEDATA, "gemini", {"prompt": "x", "image_urls": ["a.png"]}, "image_urls[0]", "http(s) URL"),
    (
        ACEDATA,
        "gemini",
        {"prompt": "x", "video_urls": ["https://a/v.mp4"]},
        "image_urls",
        "is required with video_urls",
    ),
    (
        ACEDATA,
        "gemini",
        {"prompt": "x", "image_urls": ["https://a/i.png"], "video_urls": ["https://a/v.mp4", "https://a/w.mp4"]},
        "video_urls",
        "at most 1",
    ),
    (ACEDATA, "flux", {"prompt": "x"}, "mode", "is required"),
    (ACEDATA, "flux", {"mode": "t2v"}, "prompt", "is required for mode"),
    (ACEDATA, "flux", {"mode": "i2v", "prompt": "x"}, "keyframes", "is required for mode i2v"),
    (ACEDATA, "flux", {"mode": "v2v", "prompt": "x"}, "start_video", "is required for mode v2v"),
    (ACEDATA, "flux", {"mode": "draft_enhance"}, "draft_task_id", "is required for mode draft_enhance"),
    (ACEDATA, "flux", {"mode": "t2v", "prompt": "x", "action": "edit"}, "action", "'generate'"),
    (ACEDATA, "flux", {"mode": "t2v", "prompt": "x", "model": "flux-4"}, "model", "'flux-3'"),
    (ACEDATA, "flux", {"mode": "t2v", "prompt": "x", "duration": 21}, "duration", "'auto', 5, 6"),
    (ACEDATA, "flux", {"mode": "t2v", "prompt": "x", "duration": "5"}, "duration", "'auto', 5, 6"),
    (ACEDATA, "flux", {"mode": "t2v", "prompt": "x", "duration": 4}, "duration", "'auto', 5, 6"),
    (ACEDATA, "flux", {"mode": "t2v", "prompt": "x", "resolution": "4k"}, "resolution", "'hd', 'fhd', 'qhd', 'uhd'"),
    (ACEDATA, "flux", {"mode": "t2v", "prompt": "x", "aspect_ratio": "5:4"}, "aspect_ratio", "'auto', '21:9'"),
    (ACEDATA, "flux", {"mode": "t2v", "prompt": "x", "safety_tolerance": 5}, "safety_tolerance", "between 0 and 4"),
    (ACEDATA, "flux", {"mode": "t2v", "prompt": "x", "version": "v2"}, "version", "'latest'"),
    (ACEDATA, "flux", {"mode": "t2v", "prompt": "x", "draft": "yes"}, "draft", "true or false"),
    (
        ACEDATA,
        "flux",
        {"mode": "t2v", "prompt": "x", "draft": True, "resolution": "fhd"},
        "resolution",
        "'hd' for draft True",
    ),
    (
        ACEDATA,
        "flux",
        {"mode": "v2v", "prompt": "x", "start_video": "https://a/v.mp4", "duration": 16},
        "duration",
        "for mode v2v",
    ),
    (ACEDATA, "flux", {"mode": "v2v", "prompt": "x", "start_video": "v.mp4"}, "start_video", "http(s) URL"),
    (ACEDATA, "flux", {"mode": "i2v", "prompt": "x", "keyframes": []}, "keyframes", "at least 1"),
    (
        ACEDATA,
        "flux",
        {"mode": "i2v", "prompt": "x", "keyframes": [f"https://a/{n}.png" for n in range(11)]},
        "keyframes",
        "at most 10",
    ),
    *(
        (ACEDATA, "flux", {"mode": "draft_enhance", "draft_task_id": "d", name: value}, name, "not allowed for mode")
        for name, value in (
            ("prompt", "x"),
            ("duration", 5),
            ("generate_audio", True),
            ("draft", False),
            ("keyframes", ["https://a/k.png"]),
            ("start_video", "https://a/v.mp4"),
        )
    ),
    (
        ACEDATA,
        "flux",
        {"mode": "draft_enhance", "draft_task_id": "d", "aspect_ratio": "16:9"},
        "aspect_ratio",
        "'auto' for mode draft_enhance",
    ),
    (ACEDATA, "midjourney", {"prompt": "x"}, "image_url", "is required for action generate"),
    (ACEDATA, "midjourney", {"action": "extend", "prompt": "x"}, "video_id", "is required for action extend"),
    (ACEDATA, "midjourney", {"action": "remix", "image_url": "https://a/i.png"}, "action", "'generate', 'extend'"),
    (ACEDATA, "midjourney", {"action": "extend", "video_id": "1", "video_index": 4}, "video_index", "between 0 and 3"),
    (ACEDATA, "midjourney", {"action": "extend", "video_id": "1", "video_index": "1"}, "video_index", "integer"),
    (ACEDATA, "midjourney", {"image_url": "https://a/i.png", "mode": "relax"}, "mode", "'fast', 'turbo'"),
    (ACEDATA, "midjourney", {"image_url": "https://a/i.png", "resolution": "1080p"}, "resolution", "'480p', '720p'"),
    (ACEDATA, "midjourney", {"image_url": B64}, "image_url", "base64"),
    (ACEDATA, "midjourney", {"image_url": "https://a/i.png", "loop": "yes"}, "loop", "true or false"),
    # The vendor's published sources (tests/oracle/sources.py): MCP servers, Docs, n8n nodes, CLI, Skills.
    (ACEDATA, "kickart", {"product_url": "https://a/p"}, "duration", "is required"),
    (ACEDATA, "kickart", {"duration": 20}, "duration", "15, 30, 45, 60"),
    (ACEDATA, "kickart", {"duration": 45, "type": "main"}, "duration", "15, 30 for type main"),
    (ACEDATA, "kickart-viral", {"ref_video": "https://a/v.mp4"}, "language", "is required"),
    (ACEDATA, "kickart-template", {"template_id": "1"}, "resource_list", "is required"),
    (ACEDATA, "kickart-template", {"template_id": "1", "resource_list": []}, "resource_list", "at least 1"),
    (
        ACEDATA,
        "minimax",
        {"model": "MiniMax-H3", "content": [{"type": "text", "text": "x"}], "duration": 4, "resolution": "768P"},
        "ratio",
        "required for text-to-video",
    ),
    (
        ACEDATA,
        "minimax",
        {
            "model": "MiniMax-H3",
            "content": [{"type": "text", "text": "x"}],
            "duration": 4,
            "resolution": "768P",
            "ratio": "adaptive",
        },
        "ratio",
        "not 'adaptive'",
    ),
    (
        ACEDATA,
        "minimax",
        {
            "model": "MiniMax-H3",
            "content": [{"type": "image_url", "image_url": {"url": IMG_URL}}],
            "duration": 4,
            "resolution": "768P",
        },
        "content",
        "exactly one non-empty text item",
    ),
    (
        ACEDATA,
        "minimax",
        {
            "model": "MiniMax-H3",
            "content": [{"type": "text", "text": "x"}, {"type": "video_url", "video_url": {"url": IMG_URL}}],
            "duration": 4,
            "resolution": "768P",
        },
        "content[1].role",
        "'reference_video' for video_url",
    ),
    (
        ACEDATA,
        "kling",
        {
            "action": "text2video",
            "prompt": "x",
            "model": "kling-v3-omni",
            "mode": "4k",
            "image_list": [{"image_url": IMG_URL}],
        },
        "image_list",
        "not allowed for mode 4k",
    ),
    (
        ACEDATA,
        "kling",
        {
            "action": "image2video",
            "prompt": "x",
            "model": "kling-v1-6",
            "start_image_url": IMG_URL,
            "end_image_url": IMG_URL,
        },
        "end_image_url",
        "and mode std",
    ),
    (
        ACEDATA,
        "kling",
        {
            "action": "text2video",
            "prompt": "x",
            "model": "kling-o1",
            "image_list": [{"image_url": IMG_URL, "type": "end_frame"}],
        },
        "image_list",
        "an end frame needs a first frame",
    ),
    (
        ACEDATA,
        "kling-talking-photo",
        {"image_url": IMG_URL, "audio_url": IMG_URL, "model": "kling-v3"},
        "model",
        "'kling-v2-6'",
    ),
    (ACEDATA, "maestro", {"prompt": "x", "quality": "lite", "duration": 60}, "duration", "5 and 30 for quality lite"),
    (ACEDATA, "maestro", {"prompt": "x", "quality": "standard", "langs": ["a", "b", "c"]}, "langs", "at most 2"),
    (ACEDATA, "maestro", {"prompt": "x", "duration": 600}, "duration", "between 5 and 300"),
    (
        ACEDATA,
        "happyhorse",
        {"action": "video_edit", "prompt": "x", "video_url": IMG_URL, "image_urls": [IMG_URL] * 6},
        "image_urls",
        "at most 5 item(s) for action video_edit",
    ),
    (
        ACEDATA,
        "happyhorse",
        {"action": "image_to_video", "image_url": IMG_URL, "model": "happyhorse-1.1-t2v"},
        "model",
        "for action image_to_video",
    ),
    (
        ACEDATA,
        "seedance",
        {"model": "doubao-seedance-2-5-260628", "content": [{"type": "text", "text": "x"}], "resolution": "4k"},
        "resolution",
        "'1080p' for model",
    ),
    (
        ACEDATA,
        "digital-human",
        {"video_url": IMG_URL, "image_url": IMG_URL, "audio_url": IMG_URL},
        "video_url or image_url",
        "exactly one",
    ),
    (ACEDATA, "digital-human", {"image_url": IMG_URL, "text": "hi"}, "voice_id", "required with text"),
    (ACEDATA, "hailuo", {"model": "minimax-i2v", "first_image_url": IMG_URL}, "prompt", "required for model"),
    (ACEDATA, "wan", {"model": "wan2.6-i2v", "action": "image2video", "image_url": IMG_URL}, "prompt", "required"),
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
    # HiDream v3 (API_CONTRACT.md 2.5, the v3 request pages): each module has its own fields.
    (HIDREAM, "v3-video_edit", {"prompt": "x"}, "module", "v3-txt2video, v3-img2video, v3-keyframe2video"),
    (HIDREAM, "v3-txt2video", {"negative_prompt": "blur"}, "prompt", "is required"),
    (HIDREAM, "v3-txt2video", {"prompt": " "}, "prompt", "must not be empty"),
    (HIDREAM, "v3-txt2video", {"prompt": "x", "resolution": "1024*1024"}, "resolution", "'960*960', '1280*720'"),
    (HIDREAM, "v3-txt2video", {"prompt": "x", "resolution": "keep"}, "resolution", "'720*1280'"),
    (HIDREAM, "v3-txt2video", {"prompt": "x", "version": "v1.0-standard"}, "version", "'v2'"),
    (HIDREAM, "v3-txt2video", {"prompt": "x", "negative_prompt": 3}, "negative_prompt", "must be a string"),
    (HIDREAM, "v3-txt2video", {"prompt": "x", "camera_move_vertical": -6}, "camera_move_vertical", "between -5"),
    (HIDREAM, "v3-txt2video", {"prompt": "x", "camera_move_depth": 1.5}, "camera_move_depth", "integer"),
    (HIDREAM, "v3-txt2video", {"prompt": "x", "motion_strength": 30.5}, "motion_strength", "between 0 and 30"),
    *(
        (HIDREAM, "v3-txt2video", {"prompt": "x", name: value}, name, "is not a field of hidream 'v3-txt2video'")
        for name, value in (
            ("aspect_ratio", "16:9"),
            ("resolution_ratio", 1024),
            ("duration", 5),
            ("images", [IMG_URL, IMG_URL]),
            ("image", IMG_URL),
            ("style", "anime"),
        )
    ),
    (HIDREAM, "v3-img2video", {"prompt": "waves"}, "image", "is required"),
    (HIDREAM, "v3-img2video", {"image": "lighthouse.jpg"}, "image", "http(s) URL or base64"),
    (HIDREAM, "v3-img2video", {"image": IMG_URL, "resolution": "1920*1080"}, "resolution", "'960*960'"),
    (HIDREAM, "v3-img2video", {"image": IMG_URL, "duration": 10}, "duration", "is not a field of hidream"),
    (HIDREAM, "v3-img2video", {"image": IMG_URL, "notify_url": "hooks/x"}, "notify_url", "http(s) URL"),
    (HIDREAM, "v3-keyframe2video", {"prompt": "x"}, "images", "is required"),
    (HIDREAM, "v3-keyframe2video", {"images": []}, "images", "at least 2"),
    (HIDREAM, "v3-keyframe2video", {"images": IMG_URL}, "images", "must be a list"),
    (HIDREAM, "v3-keyframe2video", {"images": [IMG_URL]}, "images", "at least 2"),
    (HIDREAM, "v3-keyframe2video", {"images": [IMG_URL] * 3}, "images", "at most 2"),
    (HIDREAM, "v3-keyframe2video", {"images": [IMG_URL, "last.png"]}, "images[1]", "http(s) URL or base64"),
    (HIDREAM, "v3-keyframe2video", {"images": [IMG_URL, B64], "duration": 7}, "duration", "5, 10"),
    (HIDREAM, "v3-keyframe2video", {"images": [IMG_URL, B64], "duration": "5"}, "duration", "integer"),
    (HIDREAM, "v3-keyframe2video", {"images": [IMG_URL, B64], "resolution": "960*960"}, "resolution", "'keep'"),
    (HIDREAM, "v3-keyframe2video", {"images": [IMG_URL, B64], "version": "v2"}, "version", "'v1.0-standard'"),
    *(
        (HIDREAM, "v3-keyframe2video", {"images": [IMG_URL, B64], name: value}, name, "is not a field of hidream")
        for name, value in (
            ("camera_move_horizontal", 1),
            ("motion_strength", 9.0),
            ("image", IMG_URL),
            ("aspect_ratio", "16:9"),
        )
    ),
    # v2 modules refuse the v3-only fields (the table's fields are per module).
    *(
        (HIDREAM, module, {**body, name: value}, name, f"is not a field of hidream {module!r}")
        for module, body in (("txt2video", {"prompt": "x"}), ("img2video", {"image": IMG_URL}))
        for name, value in (
            ("negative_prompt", "blur"),
            ("version", "v2"),
            ("resolution", "960*960"),
            ("duration", 5),
            ("images", [IMG_URL, IMG_URL]),
        )
    ),
]


@pytest.mark.parametrize(("vendor", "service", "body", "field", "words"), CATALOGUE)
def test_bad_input_names_field_and_allowed(vendor, service, body, field, words):
    with pytest.raises(InvalidInputError) as caught:
        prepare(vendor, service, body)
    assert caught.value.field == field
    assert words in str(caught.value)


def test_catalogue_is_big_enough():
    assert len(CATALOGUE) >= 25


REQUESTS = sorted(
    path.relative_to(FIXTURES / "acedata").as_posix()
    for path in (FIXTURES / "acedata").glob("*/*request*.json")
    if path.parent.name in ACEDATA.services and not path.name.startswith("tasks_")
)


@pytest.mark.parametrize("name", REQUESTS)
def test_documented_request_bodies_validate(name):
    service = name.split("/")[0]
    service = {"kling/motion_request.json": "kling-motion", "veo/extend_request.json": "veo-extend",
               "veo/upsample_request.json": "veo-upsample", "kickart/viral_videos_request.json": "kickart-viral",
               "kickart/template_videos_request.json": "kickart-template",
               "kickart/template_videos_request_objects.json": "kickart-template"}.get(name, service)  # fmt: skip
    submission = prepare(ACEDATA, service, load_fixture(f"acedata/{name}"))
    spec, request = submission.spec, submission.request
    assert request.path == spec.submit_path and request.json["async"] is True


@pytest.mark.parametrize(
    "name", ["txt2video_submit_request.json", "img2video_submit_request.json",
             "video_edit_submit_request_style.json", "video_edit_submit_request_prompt.json"],
)  # fmt: skip
def test_documented_hidream_bodies_validate(name):
    module = name.rsplit("_submit", 1)[0]
    request = prepare(HIDREAM, module, load_fixture(f"hidream/{name}")).request
    assert request.path == f"/api-pub/gw/v2/video/{module}/async"


@pytest.mark.parametrize(
    "name", ["v3_txt2video_submit_request.json", "v3_img2video_submit_request.json",
             "v3_keyframe2video_submit_request.json"],
)  # fmt: skip
def test_documented_hidream_v3_bodies_validate(name):
    module = name.removeprefix("v3_").rsplit("_submit", 1)[0]
    body = load_fixture(f"hidream/{name}")
    request = prepare(HIDREAM, f"v3-{module}", body).request
    assert (request.method, request.path, request.json) == ("POST", f"/api-pub/gw/v3/video/{module}/async", body)


# A valid request per HiDream v3 module: the least it needs, and every field it takes.
HIDREAM_V3_VALID = [
    ("v3-txt2video", {"prompt": "a clownfish"}),
    ("v3-txt2video", {"prompt": "a clownfish", "negative_prompt": "", "version": "v2", "resolution": "720*1280",
                      "camera_move_horizontal": -5, "camera_move_vertical": 5, "camera_move_depth": 0,
                      "motion_strength": 0, "request_id": "r-1", "notify_url": "https://hooks.example.com/h"}),
    ("v3-img2video", {"image": IMG_URL}),  # prompt is optional for img2video (2.2 note)
    ("v3-img2video", {"image": B64, "prompt": "waves", "negative_prompt": "people", "version": "v2",
                      "resolution": "1280*720", "motion_strength": 30.0}),
    ("v3-keyframe2video", {"images": [IMG_URL, B64]}),
    ("v3-keyframe2video", {"images": [IMG_URL, IMG_URL], "prompt": "the sun sets", "negative_prompt": "rain",
                           "version": "v1.0-standard", "resolution": "keep", "duration": 10, "request_id": "r-2",
                           "notify_url": "https://hooks.example.com/h"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("service", "body"), HIDREAM_V3_VALID, ids=[f"{s}-{i}" for i, (s, _) in enumerate(HIDREAM_V3_VALID)]
)
def test_hidream_v3_requests_validate(service, body):
    submission = prepare(HIDREAM, service, body)
    spec, request = submission.spec, submission.request
    assert request.path == spec.submit_path and request.json == body


def test_every_hidream_v3_module_has_a_valid_request():
    assert {service for service, _ in HIDREAM_V3_VALID} == {name for name in HIDREAM.services if name.startswith("v3-")}


# Valid current-model requests (vendor SDK 2026.10 and Docs guides) that must pass unchanged.
IMG, VID = "https://cdn.example.com/a.png", "https://cdn.example.com/a.mp4"
TEXT = [{"type": "text", "text": "a kite over the dunes"}]
VALID = [
    ("kling", {"action": "text2video", "model": "kling-v3", "multi_shot": True, "shot_type": "customize",
               "multi_prompt": [{"index": 1, "prompt": "wide shot", "duration": "3"}], "duration": 6}),
    ("kling", {"action": "text2video", "model": "kling-v3-omni", "prompt": "x", "mode": "4k",
               "element_list": [{"element_id": 1}], "voice_list": [{"voice_id": "v1"}]}),
    ("kling", {"action": "image2video", "model": "kling-v3-omni", "prompt": "x", "start_image_url": IMG,
               "image_list": [{"image_url": IMG}], "generate_audio": True}),
    ("kling", {"action": "extend", "model": "kling-v2-5-turbo", "video_id": "123"}),
    ("kling", {"action": "text2video", "model": "kling-v2-6", "mode": "pro", "prompt": "x", "generate_audio": True}),
    ("kling-motion", {"mode": "pro", "image_url": IMG, "video_url": VID, "character_orientation": "video",
                      "keep_original_sound": "yes"}),
    ("seedance", {"model": "doubao-seedance-2-5-260628", "content": TEXT, "omni_reference_task_type": "edit",
                  "output_format": "mov", "priority": 0, "tools": [{"type": "web_search"}], "duration": 30,
                  "safety_identifier": "user-1"}),
    ("seedance", {"model": "doubao-seedance-2-0-260128", "content": TEXT, "omni_reference_task_type": "extend",
                  "output_format": "mp4", "priority": 5, "duration": -1}),
    # Exactly what the SDK's Seedance.generate sends by default (ratio, audio, last frame, expiry, priority).
    ("seedance", {"model": "doubao-seedance-1-0-pro-250528", "content": TEXT, "ratio": "16:9", "generate_audio": False,
                  "return_last_frame": False, "execution_expires_after": 172800, "priority": 0, "frames": 121}),
    ("wan", {"model": "wan3.0-video", "prompt": "x", "media": [{"type": "image", "url": IMG}]}),
    ("veo-extend", {"video_id": "v", "model": "veo31-fast", "prompt": "zoom out", "aspect_ratio": "9:16",
                    "resolution": "720p"}),
    ("veo", {"action": "text2video", "model": "veo31", "prompt": "x", "resolution": "4k"}),
    ("veo", {"action": "text2video", "model": "veo2", "prompt": "x", "aspect_ratio": "4:3"}),
    ("hailuo", {"action": "generate", "model": "minimax-i2v", "first_image_url": IMG, "prompt": "waves"}),
    ("sora", {"version": "2.0", "prompt": "cat running on the river", "duration": 8, "size": "1280x720"}),
    ("sora", {"version": "2.0", "prompt": "x", "model": "sora-2", "seconds": 8, "size": "1280x720"}),
    ("sora", {"model": "sora-2", "prompt": "x", "size": "large", "duration": 15, "orientation": "landscape",
              "image_urls": [IMG, "https://cdn.example.com/b.png"]}),
    ("sora", {"model": "sora-2-pro", "prompt": "x", "duration": 25}),
    ("minimax", {"model": "MiniMax-H3", "content": TEXT, "resolution": "2K", "duration": 15, "ratio": "16:9"}),
    ("gemini", {"prompt": "x"}),
    ("gemini", {"prompt": "x", "resolution": "1080p", "aspect_ratio": "9:16", "image_urls": [IMG, IMG]}),
    # Exactly what the SDK's Flux.videos sends by default, for a plain t2v and for a draft_enhance.
    ("flux", {"mode": "t2v", "prompt": "x", "action": "generate", "aspect_ratio": "auto", "resolution": "hd",
              "version": "latest", "safety_tolerance": 2, "model": "flux-3"}),
    ("flux", {"mode": "draft_enhance", "draft_task_id": "d", "action": "generate", "aspect_ratio": "auto",
              "resolution": "hd", "version": "latest", "safety_tolerance": 2, "model": "flux-3"}),
    ("flux", {"mode": "t2v", "prompt": "x", "duration": 20, "resolution": "uhd", "safety_tolerance": 0}),
    ("flux", {"mode": "i2v", "prompt": "x", "keyframes": [IMG] * 10, "duration": "auto"}),
    ("flux", {"mode": "i2v", "prompt": "x", "keyframes": IMG}),  # the SDK also types keyframes as one string
    ("flux", {"mode": "v2v", "prompt": "x", "start_video": VID, "duration": "auto"}),
    ("kickart", {"duration": 30, "mode": "pro", "aspect_ratio": "16:9", "language": "en"}),  # no product: the CLI
    ("kickart", {"duration": 15, "type": "main", "user_images": [IMG], "user_videos": [VID], "watermark": True}),
    ("kickart-template", {"template_id": "1", "resource_list": [{"type": "image", "url": IMG}]}),
    ("maestro", {"prompt": "x", "quality": "pro", "action": "extend", "ref_task_id": "t", "duration": 300}),
    ("maestro", {"prompt": "x", "scenario": "drama", "duration": 40}),  # the guide's example: no quality given
    ("minimax", {"model": "MiniMax-H3", "content": [*TEXT, {"type": "image_url", "image_url": {"url": IMG},
                 "role": "first_frame"}], "resolution": "768P", "duration": 4}),  # frames: ratio may be omitted
    ("midjourney", {"image_url": IMG}),
    ("midjourney", {"action": "extend", "video_id": "1751816807896311", "video_index": 3, "mode": "turbo"}),
]  # fmt: skip


@pytest.mark.parametrize(("service", "body"), VALID, ids=[f"{s}-{i}" for i, (s, _) in enumerate(VALID)])
def test_current_vendor_requests_validate(service, body):
    submission = prepare(ACEDATA, service, body)
    spec, request = submission.spec, submission.request
    assert request.path == spec.submit_path


@pytest.mark.parametrize("bad", [[], "", [""], [1], None, {}])
def test_task_ids_must_be_non_empty_strings(bad):
    with pytest.raises(InvalidInputError, match="task_ids"):
        check_task_ids(bad)


def test_connection_extras_are_checked():
    with pytest.raises(InvalidInputError, match=r"extra\.batch_size"):
        api_settings(ACEDATA, None, {"batch_size": 0})
    assert api_settings(ACEDATA, "", {}).base_url == "https://api.acedata.cloud"
    assert api_settings(HIDREAM, "localhost:8765", {"batch_size": "20"}).batch_size == 20


def test_readme_lists_every_acedata_service():
    readme = (Path(__file__).parent.parent / "docs" / "operators.md").read_text()  # moved from README.md
    sentence = re.search(r"`service` is one of (.+?)\. `body`", readme, re.S)
    assert sentence, "docs/operators.md lost its AceDataVideoOperator service list"
    assert re.findall(r"`([a-z0-9-]+)`", sentence.group(1)) == list(ACEDATA.services)


def test_readme_lists_every_hidream_module():
    readme = (Path(__file__).parent.parent / "docs" / "operators.md").read_text()  # moved from README.md
    rules = re.search(r"Each module has its own rules:\n(.+?)\n\n", readme, re.S)
    assert rules, "docs/operators.md lost its HiDreamVideoOperator module list"
    assert re.findall(r"^  - `([a-z0-9_-]+)`", rules.group(1), re.M) == list(HIDREAM.services)
