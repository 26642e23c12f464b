"""Ace Data Cloud's service table: one row per service (data only; the protocol is in ``vendor.py``).

Every service is ``POST /<service>/videos`` (or a sibling endpoint) plus ``POST /<service>/tasks``
with ``retrieve`` / ``retrieve_batch``. The services differ in field names, in the shape of their
answers and in their state words (API_CONTRACT.md §1.5 and Part 3): all of that is in the rows.

Every rule is checked against the vendor's published sources (its SDK, MCP servers, Docs specs and
guides, n8n nodes): ``tests/oracle/sources.py`` holds their cases, and where they disagree the decision
and its reason are declared there (``make vendor-drift`` prints them).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from airflow_provider_vidgen.core.limits import Limits
from airflow_provider_vidgen.core.schema import GIVEN, Allows, Forbids, OneOf, RecordWords, Requires, ServiceSpec, Shape
from airflow_provider_vidgen.core.schema import FieldSpec as F
from airflow_provider_vidgen.vendors.acedata.checks import KlingFrames, MaxItems, MinimaxContent, MinimaxRatio

VENDOR = "acedata"

# Fields every Ace Data generation endpoint accepts; ``async`` may only be true because this
# provider never uses the blocking mode (it would hold a worker for minutes).
COMMON_FIELDS = (F("callback_url", "url"), F("async", "bool", choices=(True,)))

RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "9:21")

HAILUO_I2V = ("minimax-i2v", "minimax-i2v-director")
KLING_MODELS = (
    "kling-v1", "kling-v1-6", "kling-v2-master", "kling-v2-1-master", "kling-v2-5-turbo",
    "kling-v2-6", "kling-v3", "kling-v3-omni", "kling-v3-turbo", "kling-o1",
)  # fmt: skip
SEEDANCE_MODELS = (
    "doubao-seedance-1-0-pro-250528", "doubao-seedance-1-0-pro-fast-251015",
    "doubao-seedance-1-5-pro-251215", "doubao-seedance-1-0-lite-t2v-250428",
    "doubao-seedance-1-0-lite-i2v-250428", "doubao-seedance-2-0-260128",
    "doubao-seedance-2-0-fast-260128", "doubao-seedance-2-0-mini-260615", "doubao-seedance-2-5-260628",
)  # fmt: skip
KLING_V3 = ("kling-v3", "kling-v3-omni", "kling-v3-turbo")
KLING_5_OR_10 = tuple(m for m in KLING_MODELS if m not in (*KLING_V3, "kling-o1"))
KLING_OMNI = ("kling-o1", "kling-v3-omni")  # the models that take image_list / video_list references
KLING_PRO_END_FRAME = ("kling-v1-6", "kling-v2-5-turbo", "kling-v2-6")  # an end frame in pro mode only
SEEDANCE_1_0 = (
    "doubao-seedance-1-0-pro-250528", "doubao-seedance-1-0-pro-fast-251015",
    "doubao-seedance-1-0-lite-t2v-250428", "doubao-seedance-1-0-lite-i2v-250428",
)  # fmt: skip
SEEDANCE_2_0 = ("doubao-seedance-2-0-260128", "doubao-seedance-2-0-fast-260128", "doubao-seedance-2-0-mini-260615")
# veo2/veo2-fast: in the Docs guide (en/guides/veo/veo_videos.mdx), not in the SDK's Literal; both accepted.
VEO_MODELS = ("veo2", "veo2-fast", "veo3", "veo3-fast", "veo31", "veo31-fast", "veo31-fast-ingredients")
VEO_MOTION_TYPES = (
    "STATIONARY", "STATIONARY_UP", "STATIONARY_DOWN", "STATIONARY_LEFT", "STATIONARY_RIGHT",
    "STATIONARY_DOLLY_IN_ZOOM_OUT", "STATIONARY_DOLLY_OUT_ZOOM_IN", "UP", "DOWN", "LEFT_TO_RIGHT",
    "RIGHT_TO_LEFT", "FORWARD", "BACKWARD", "DOLLY_IN_ZOOM_OUT", "DOLLY_OUT_ZOOM_IN",
)  # fmt: skip
GROK_MODELS = (
    "grok-imagine-video-1.5-fast:reverse", "grok-imagine-video:reverse", "grok-imagine-video:official",
    "grok-imagine-video-1.5:official", "grok-imagine-video",
)  # fmt: skip
MAESTRO_STYLES = (
    "auto", "cinematic", "glass", "luxury", "swiss", "modern", "editorial", "warm", "vibrant", "neon", "mono",
    "pastel", "bold", "industrial", "futuristic", "retro",
)  # fmt: skip
MAESTRO_VOICES = (
    "auto", "warm-female", "bright-female", "anchor-female", "clean-female", "calm-male", "deep-male",
    "documentary-male", "energetic-male", "storyteller-male",
)  # fmt: skip
WAN_MODELS = ("wan2.6-t2v", "wan2.6-i2v", "wan2.6-i2v-flash", "wan2.6-r2v", "wan3.0-video")
HAPPYHORSE_MODELS = (
    "happyhorse-1.0-t2v", "happyhorse-1.1-t2v", "happyhorse-1.0-i2v", "happyhorse-1.1-i2v",
    "happyhorse-1.0-r2v", "happyhorse-1.1-r2v", "happyhorse-1.0-video-edit",
)  # fmt: skip
KICKART_DURATIONS = (15, 30, 45, 60)
KICKART_LANGUAGES = ("zh", "en", "en-us", "pt-br", "ja", "es-mx", "id", "ms", "tl")
FLUX_IMAGE_MODELS = (
    "flux-dev", "flux-pro", "flux-kontext-pro", "flux-kontext-max", "flux-2-flex", "flux-2-pro", "flux-2-max",
    "flux-2-klein",
)  # fmt: skip


# The state words of the services that do not use the default ones (succeeded / processing / failed
# under "state"), as the fixtures and the docs show them.
KLING_WORDS = RecordWords(success="succeed")
VEO_WORDS = RecordWords(running="running")
NO_STATE_WORD = RecordWords(state_key=None)  # Flux, Midjourney, Kickart: success, error and the video only


# The vendor's published limits per token (Docs en/faq/concurrency.mdx, "Concurrency limits" and "Submit
# rate"): requests in flight per category, submissions per second per service. A sub-service (kling-motion,
# veo-extend) is its family's. The Docs list five video services; the other video services are assumed to
# be in the same category (the safe reading: one count of 5 for every video request on the token).
CONCURRENCY_DOC = "Docs en/faq/concurrency.mdx"
ASSUMED = "not listed in Docs en/faq/concurrency.mdx: the video category's figure, assumed"
VIDEO_IN_FLIGHT = 5
PUBLISHED_LIMITS = {
    "sora": Limits("video", VIDEO_IN_FLIGHT, 0.5, CONCURRENCY_DOC),
    "veo": Limits("video", VIDEO_IN_FLIGHT, 0.5, CONCURRENCY_DOC),
    "kling": Limits("video", VIDEO_IN_FLIGHT, 1.0, CONCURRENCY_DOC),
    "hailuo": Limits("video", VIDEO_IN_FLIGHT, None, CONCURRENCY_DOC),
    "luma": Limits("video", VIDEO_IN_FLIGHT, None, CONCURRENCY_DOC),
    "midjourney": Limits("midjourney", 5, 1.0, CONCURRENCY_DOC),
    "flux": Limits("image", 10, 5.0, CONCURRENCY_DOC),
}


def _limits(name: str) -> Limits:
    family = name.split("-")[0] if name.startswith(("kling-", "veo-")) else name
    limits = PUBLISHED_LIMITS.get(family, Limits("video", VIDEO_IN_FLIGHT, None, ASSUMED))
    return replace(limits, family=family)


def _service(name: str, fields: tuple[F, ...], **kwargs: Any) -> ServiceSpec:
    return ServiceSpec(
        vendor=VENDOR,
        name=name,
        submit_path=kwargs.pop("submit_path", f"/{name}/videos"),
        poll_path=kwargs.pop("poll_path", f"/{name}/tasks"),
        fields=(*fields, *COMMON_FIELDS),
        limits=kwargs.pop("limits", _limits(name)),
        **kwargs,
    )


SERVICES: dict[str, ServiceSpec] = {
    spec.name: spec
    for spec in (
        _service(
            "hailuo",
            (
                F("action", choices=("generate",)),
                F("model", choices=("minimax-t2v", *HAILUO_I2V)),
                F("prompt", non_empty=True),
                F("first_image_url", "url"),
            ),
            defaults={"action": "generate", "model": "minimax-t2v"},
            rules=(
                Requires(("prompt",), when={"model": ("minimax-t2v",)}),
                Requires(("first_image_url",), when={"model": HAILUO_I2V}),
                Forbids(("first_image_url",), when={"model": ("minimax-t2v",)}),
                # The MCP's image-to-video tool requires a prompt; the SDK makes it optional (declared).
                Requires(("prompt",), when={"model": HAILUO_I2V}),
            ),
        ),
        _service(
            "luma",
            (
                F("action", choices=("generate", "extend")),
                F("prompt"),
                F("aspect_ratio", choices=RATIOS),
                F("loop", "bool"),
                F("enhancement", "bool"),
                F("start_image_url", "url"),
                F("end_image_url", "url"),
                F("video_id"),
                F("video_url", "url"),
                F("timeout", "number", minimum=1, maximum=3600),
            ),
            defaults={"action": "generate"},
            rules=(
                OneOf(("video_id", "video_url"), when={"action": ("extend",)}),
                OneOf(("prompt", "start_image_url"), when={"action": ("generate",)}),
            ),
            shape=Shape.FLAT,
            words=RecordWords(success="completed"),
        ),
        _service(
            "kling",
            (
                F("action", required=True, choices=("text2video", "image2video", "extend")),
                F("model", choices=KLING_MODELS),
                F("mode", choices=("std", "pro", "4k")),
                F("prompt"),
                F("duration", "int", minimum=3, maximum=15),
                F("aspect_ratio", choices=("16:9", "9:16", "1:1")),
                F("cfg_scale", "number", minimum=0, maximum=1),
                F("negative_prompt", max_length=200),
                F("start_image_url", "url"),
                F("end_image_url", "url"),
                F("video_id"),
                F("camera_control", "object"),
                F("generate_audio", "bool"),
                F("image_list", "list", min_items=1, max_items=7, item_type="object"),
                F("video_list", "list", min_items=1, max_items=1, item_type="object"),
                F("timeout", "number", minimum=1, maximum=3600),
                # Storyboards and Omni elements/voices (SDK 2026.10 kling._build_generate_body).
                F("multi_shot", "bool"),
                F("shot_type"),
                F("multi_prompt", "list", min_items=1, item_type="object"),
                F("element_list", "list", min_items=1, item_type="object"),
                F("voice_list", "list", min_items=1, item_type="object"),
            ),
            defaults={"model": "kling-v1", "mode": "std"},
            rules=(
                OneOf(("prompt", "multi_prompt"), when={"action": ("text2video", "image2video")}),
                Requires(("start_image_url",), when={"action": ("image2video",)}),
                Requires(("start_image_url",), when={"end_image_url": GIVEN}),
                Requires(("video_id",), when={"action": ("extend",)}),
                # SDK code and tests (py and ts): extend only on these; the MCP lets every model but
                # kling-o1 through (declared: the SDK is followed).
                Allows("model", {"action": ("extend",)}, choices=("kling-v1", "kling-v1-6", "kling-v2-5-turbo")),
                Forbids(("image_list", "video_list"), when={"action": ("extend",)}),
                Allows(
                    "mode",
                    {"model": tuple(m for m in KLING_MODELS if m not in ("kling-v3", "kling-v3-omni"))},
                    choices=("std", "pro"),
                ),
                Allows("duration", {"model": KLING_5_OR_10}, choices=(5, 10)),
                Allows("duration", {"model": ("kling-o1",)}, choices=(5,)),
                Forbids(
                    ("image_list", "video_list"), when={"model": tuple(m for m in KLING_MODELS if m not in KLING_OMNI)}
                ),
                # SDK kling._build_generate_body and the MCP's _validate_video_request alike.
                Forbids(("image_list", "video_list"), when={"mode": ("4k",)}),
                Allows("generate_audio", {"video_list": GIVEN}, choices=(False,)),
                KlingFrames(),
                # End frames (spec end_image_url, Docs kling_videos "Model Capability Matrix").
                Forbids(("end_image_url",), when={"model": ("kling-v2-master", "kling-v2-1-master")}),
                Forbids(("end_image_url",), when={"model": KLING_PRO_END_FRAME, "mode": ("std",)}),
                Allows("duration", {"model": ("kling-v1",), "end_image_url": GIVEN}, choices=(5,)),
                Forbids(("negative_prompt", "camera_control", "cfg_scale"), when={"model": ("kling-o1",)}),
                Forbids(("negative_prompt", "camera_control", "cfg_scale"), when={"image_list": GIVEN}),
                Forbids(("negative_prompt", "camera_control", "cfg_scale"), when={"video_list": GIVEN}),
                Allows(
                    "generate_audio",
                    {"model": tuple(m for m in KLING_MODELS if m not in (*KLING_V3, "kling-v2-6"))},
                    choices=(False,),
                ),
                Allows("generate_audio", {"model": ("kling-v2-6",), "mode": ("std",)}, choices=(False,)),
                Allows("generate_audio", {"model": ("kling-v3-turbo",)}, choices=(True,)),  # audio is included
                Forbids(
                    (
                        "end_image_url",
                        "camera_control",
                        "cfg_scale",
                        "negative_prompt",
                        "element_list",
                        "voice_list",
                        "multi_prompt",
                    ),
                    when={"model": ("kling-v3-turbo",)},
                ),
                Allows("multi_shot", {"model": ("kling-v3-turbo",)}, choices=(False,)),
            ),
            shape=Shape.FLAT,
            words=KLING_WORDS,
        ),
        _service(
            "kling-motion",
            (
                F("mode", required=True, choices=("std", "pro")),
                F("image_url", "url", required=True),
                F("video_url", "url", required=True),
                F("character_orientation", required=True, choices=("image", "video")),
                F("model_name", choices=("kling-v2-6", "kling-v3")),
                F("keep_original_sound", "any", choices=("yes", "no", True, False)),
                F("watermark_info", "object"),
                F("prompt"),
            ),
            submit_path="/kling/motion",
            poll_path="/kling/tasks",
            shape=Shape.FLAT,
            words=KLING_WORDS,
        ),
        _service(
            "kling-lip-sync",
            (
                F("mode", required=True, choices=("audio2video", "text2video")),
                F("video_id"),
                F("video_url", "url"),
                F("audio_type", choices=("url", "file")),
                F("audio_url", "url"),
                F("audio_file"),  # base64 audio when audio_type is "file"
                F("text", max_length=120),
                F("voice_id"),
                F("voice_language", choices=("zh", "en")),
                F("voice_speed", "number", minimum=0.8, maximum=2.0),
            ),
            rules=(
                OneOf(("video_id", "video_url")),
                OneOf(("audio_url", "audio_file"), when={"mode": ("audio2video",)}),
                Requires(("text", "voice_id"), when={"mode": ("text2video",)}),
            ),
            submit_path="/kling/lip-sync",
            poll_path="/kling/tasks",
            shape=Shape.FLAT,
            words=KLING_WORDS,
        ),
        _service(
            "kling-talking-photo",
            (
                F("image_url", "url", required=True),
                F("audio_url", "url", required=True),
                # The spec's enum (SDK scripts/specs 1daf8204) and the MCP's TalkingPhotoModel: no v3 or o1.
                F("model", choices=KLING_MODELS[:6]),
                F("mode", choices=("std", "pro")),
                F("duration", "int", choices=(5, 10)),
                F("prompt"),
            ),
            defaults={"model": "kling-v2-1-master", "mode": "pro"},
            submit_path="/kling/talking-photo",
            poll_path="/kling/tasks",
            shape=Shape.FLAT,
            words=KLING_WORDS,
        ),
        _service(
            "sora",
            (
                F("model", choices=("sora-2", "sora-2-pro")),
                F("prompt", required=True),
                F("version", choices=("1.0", "2.0")),
                F("duration", "int", choices=(4, 8, 10, 12, 15, 25)),
                F("seconds", "int", choices=(4, 8, 12)),  # 2.0's name for duration in the guide's examples
                F("size", choices=("small", "large", "720x1280", "1280x720", "1024x1792", "1792x1024")),
                F("orientation", choices=("landscape", "portrait")),
                F("image_urls", "list", item_type="url", min_items=1),  # 1.0 takes several; 2.0 uses the first
                F("character_url", "url"),
                F("character_start", "number", minimum=0),
                F("character_end", "number", minimum=0),
            ),
            defaults={"version": "1.0"},
            rules=(
                # Docs en/guides/sora/sora_videos.mdx: 2.0's model defaults to sora-2; 1.0 names it.
                Requires(("model",), when={"version": ("1.0",)}),
                Allows("duration", {"version": ("1.0",)}, choices=(10, 15, 25)),
                Allows("duration", {"version": ("1.0",), "model": ("sora-2",)}, choices=(10, 15)),
                Allows("duration", {"version": ("2.0",)}, choices=(4, 8, 12)),
                Allows("size", {"version": ("1.0",)}, choices=("small", "large")),
                Allows("size", {"version": ("2.0",)}, choices=("720x1280", "1280x720", "1024x1792", "1792x1024")),
                Forbids(
                    ("orientation", "character_url", "character_start", "character_end"), when={"version": ("2.0",)}
                ),
                Forbids(("seconds",), when={"version": ("1.0",)}),
            ),
        ),
        _service(
            "veo",
            (
                F(
                    "action",
                    required=True,
                    choices=("text2video", "image2video", "ingredients2video", "get1080p"),
                ),
                F("model", choices=VEO_MODELS),
                F("prompt"),
                F("image_urls", "list", item_type="url", min_items=1, max_items=3),
                F("aspect_ratio", choices=("16:9", "9:16", "4:3", "3:4", "1:1")),  # SDK: first two; guide: all
                F("resolution", choices=("4k", "1080p", "gif")),
                F("translation", "bool"),
                F("video_id"),
            ),
            defaults={"model": "veo3-fast"},
            rules=(
                Requires(("prompt",), when={"action": ("text2video", "image2video", "ingredients2video")}),
                Requires(("image_urls",), when={"action": ("image2video", "ingredients2video")}),
                Requires(("video_id",), when={"action": ("get1080p",)}),
                # Guide: "the veo31 model supports 4k resolution, while other models do not".
                Allows("resolution", {"model": tuple(m for m in VEO_MODELS if m != "veo31")}, choices=("1080p", "gif")),
            ),
            words=VEO_WORDS,
        ),
        _service(
            "veo-extend",
            (
                F("video_id", required=True),
                # Guide en/guides/veo/veo_extend.mdx: "only supports veo31-fast and veo31".
                F("model", required=True, choices=("veo31-fast", "veo31")),
                F("prompt"),
                F("aspect_ratio", choices=("16:9", "9:16")),
                F("resolution", choices=("720p", "1080p")),
            ),
            submit_path="/veo/extend",
            poll_path="/veo/tasks",
            words=VEO_WORDS,
        ),
        _service(
            "veo-upsample",
            (F("video_id", required=True), F("action", required=True, choices=("1080p", "4k", "gif"))),
            submit_path="/veo/upsample",
            poll_path="/veo/tasks",
            words=VEO_WORDS,
        ),
        _service(
            "veo-reshoot",
            (
                F("video_id", required=True),  # not an extend result (Docs veo_reshoot.mdx)
                F("motion_type", required=True, choices=VEO_MOTION_TYPES),
            ),
            submit_path="/veo/reshoot",
            poll_path="/veo/tasks",
            words=VEO_WORDS,
        ),
        _service(
            "veo-objects",
            (
                F("video_id", required=True),
                F("action", required=True, choices=("insert", "remove")),
                F("prompt"),
                F("image_mask", "media"),  # an http(s) URL or base64 JPEG (Docs veo_objects.mdx)
            ),
            rules=(
                Requires(("prompt",), when={"action": ("insert",)}),
                Requires(("image_mask",), when={"action": ("remove",)}),
            ),
            submit_path="/veo/objects",
            poll_path="/veo/tasks",
            words=VEO_WORDS,
        ),
        _service(
            "seedance",
            (
                F("model", required=True, choices=SEEDANCE_MODELS),
                F("content", "list", required=True, min_items=1, item_type="object"),
                F("ratio", choices=("16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "adaptive")),
                F("resolution", choices=("480p", "720p", "1080p", "4k")),
                F("duration", "int", minimum=-1, maximum=30),
                F("frames", "int", choices=range(29, 362, 4)),  # 25 + 4n (spec; the MCP stops at 289)
                F("seed", "int", minimum=-1, maximum=4294967295),
                F("camerafixed", "bool"),
                F("watermark", "bool"),
                F("generate_audio", "bool"),
                F("return_last_frame", "bool"),
                F("execution_expires_after", "int", minimum=3600, maximum=259200),
                # 2.x options. The SDK sends priority 0 for every model, so none of these is model-gated.
                F("omni_reference_task_type", choices=("auto", "reference", "edit", "extend")),
                F("output_format", choices=("mp4", "mov")),
                F("tools", "list", item_type="object", max_items=1),  # the MCP: max_length=1
                F("priority", "int", minimum=0, maximum=9),
                F("safety_identifier", max_length=64),
            ),
            rules=(
                # The MCP's seedance tools: frames is 1.0-series only and excludes duration.
                Forbids(("frames",), when={"model": tuple(m for m in SEEDANCE_MODELS if m not in SEEDANCE_1_0)}),
                Forbids(("duration",), when={"frames": GIVEN}),
                Allows("duration", {"model": SEEDANCE_1_0}, minimum=2, maximum=12),
                Allows("duration", {"model": ("doubao-seedance-1-5-pro-251215",)}, choices=(-1, *range(4, 13))),
                Allows("duration", {"model": SEEDANCE_2_0}, choices=(-1, *range(4, 16))),
                Allows("duration", {"model": ("doubao-seedance-2-5-260628",)}, choices=(-1, *range(4, 31))),
                # The MCP: "'4k' is supported only by 'doubao-seedance-2-0-260128'; '2-5' maxes out at '1080p';
                # '2-0-fast' and '2-0-mini' max out at '720p'".
                Allows(
                    "resolution",
                    {"model": tuple(m for m in SEEDANCE_MODELS if m != "doubao-seedance-2-0-260128")},
                    choices=("480p", "720p", "1080p"),
                ),
                Allows(
                    "resolution",
                    {"model": ("doubao-seedance-2-0-fast-260128", "doubao-seedance-2-0-mini-260615")},
                    choices=("480p", "720p"),
                ),
            ),
            words=RecordWords(state_key="status"),
        ),
        _service(
            "wan",
            (
                F("model", required=True, choices=WAN_MODELS),
                F("action", choices=("text2video", "image2video")),
                F("prompt"),
                F("negative_prompt", max_length=500),
                F("image_url", "url"),
                F("audio_url", "url"),
                F("audio", "bool"),
                F("duration", "int", choices=(5, 10, 15)),
                F("resolution", choices=("480P", "720P", "1080P")),
                F("size"),
                F("shot_type", choices=("single", "multi")),
                F("prompt_extend", "bool"),
                F("reference_video_urls", "list", item_type="url"),
                F("ratio", choices=("adaptive", "16:9", "4:3", "1:1", "3:4", "9:16")),
                F("seed", "int", minimum=0),
                F("watermark", "bool"),
                F("media", "list", min_items=1, item_type="object"),  # SDK 2026.10 (wan3.0-video)
            ),
            defaults={"action": "text2video"},
            rules=(
                Requires(("prompt",), when={"action": ("text2video",)}),
                Requires(("image_url",), when={"action": ("image2video",)}),
                # The spec (SDK scripts/specs 6a4ecdbf: required action, model, prompt) and the MCP's i2v tool.
                Requires(("prompt",), when={"action": ("image2video",)}),
            ),
            shape=Shape.FLAT,
            words=RecordWords(success="completed"),
        ),
        _service(
            "happyhorse",
            (
                F("action", choices=("generate", "image_to_video", "reference_to_video", "video_edit")),
                F("model", choices=HAPPYHORSE_MODELS),
                F("prompt"),
                F("image_url", "url"),
                F("image_urls", "list", item_type="url", max_items=9),
                F("video_url", "url"),
                F("ratio", choices=("16:9", "9:16", "1:1", "4:3", "3:4")),
                F("resolution", choices=("720P", "1080P")),
                F("duration", "int", minimum=3, maximum=15),
                F("watermark", "bool"),
                F("seed", "int", minimum=0, maximum=2147483647),
                F("audio_setting", choices=("auto", "origin")),
            ),
            defaults={"action": "generate", "model": "happyhorse-1.1-t2v"},
            rules=(
                Requires(("prompt",), when={"action": ("generate", "reference_to_video", "video_edit")}),
                Requires(("image_url",), when={"action": ("image_to_video",)}),
                Requires(("image_urls",), when={"action": ("reference_to_video",)}),
                Requires(("video_url",), when={"action": ("video_edit",)}),
                # Each action has its own models (MCP happyhorse/core/types.py, HappyHorseN8N request.ts).
                Allows("model", {"action": ("generate",)}, choices=HAPPYHORSE_MODELS[0:2]),
                Allows("model", {"action": ("image_to_video",)}, choices=HAPPYHORSE_MODELS[2:4]),
                Allows("model", {"action": ("reference_to_video",)}, choices=HAPPYHORSE_MODELS[4:6]),
                Allows("model", {"action": ("video_edit",)}, choices=HAPPYHORSE_MODELS[6:]),
                # MCP MAX_EDIT_REFERENCE_IMAGES = 5; HappyHorseN8N imageUrls(..., 0, 5) for edit.
                MaxItems("image_urls", {"action": ("video_edit",)}, 5),
            ),
            words=RecordWords(running="pending", failure="error"),
        ),
        _service(
            "minimax",
            (
                # MiniMax-H3 only: Docs minimax_videos.mdx ("fixed as MiniMax-H3"), SDK and MCP Literal.
                F("model", required=True, choices=("MiniMax-H3",)),
                # Docs minimax_videos.mdx "content Item Parameters" and "Quantity Limits"; MCP MinimaxContent.
                MinimaxContent("content", "list", required=True, min_items=1, item_type="object"),
                F("duration", "int", required=True, minimum=4, maximum=15),
                F("resolution", required=True, choices=("768P", "2K")),
                F("ratio", choices=("adaptive", "21:9", "16:9", "4:3", "1:1", "3:4", "9:16")),
            ),
            # Docs: "Text-to-video: Required and cannot be adaptive"; MinimaxN8N rejects an adaptive one.
            rules=(MinimaxRatio(),),
            shape=Shape.TASK,
            words=RecordWords(running="running", state_key="status"),
            # Docs minimax_tasks.mdx: "delete" cancels a queued task; running ones cannot be cancelled.
            cancellable=True,
        ),
        _service(
            "grok",
            (
                F("model", choices=GROK_MODELS),
                F("prompt"),
                F("image_url", "url"),
                F("reference_image_urls", "list", min_items=1, item_type="url"),
                F("aspect_ratio", choices=("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3")),
                F("resolution", choices=("480p", "720p", "1080p")),
                F("duration", "int", minimum=1, maximum=30),
            ),
            defaults={"model": "grok-imagine-video-1.5-fast:reverse"},
            rules=(
                OneOf(("prompt", "image_url")),
                # The grok MCP: 6-30 s on 1.5-fast:reverse, 1-15 s on every other variant; 1.5:official is i2v only.
                Allows("duration", {"model": ("grok-imagine-video-1.5-fast:reverse",)}, minimum=6, maximum=30),
                Allows("duration", {"model": GROK_MODELS[1:]}, minimum=1, maximum=15),
                Requires(("image_url",), when={"model": ("grok-imagine-video-1.5:official",)}),
            ),
        ),
        _service(
            "dreamina",
            (
                F("image_url", "url", required=True),
                F("audio_url", "url", required=True),
                F("model", choices=("omnihuman-1.5",)),
                F("prompt"),
                F("mask_url", "list", item_type="url"),
            ),
            shape=Shape.DATA_OBJECT,  # response.data is one object with status "done"
            words=RecordWords(success="done", state_key="status"),
        ),
        _service(
            "digital-human",
            (
                F("video_url", "url"),
                F("image_url", "url"),
                F("audio_url", "url"),
                F("text"),
                F("voice_id"),
                F("engine", choices=("latentsync", "heygem")),
                F("resolution", choices=("720p", "540p")),
                F("speed", "number"),
                F("steps", "int"),
                F("guidance", "number"),
                F("seam_fix", "bool"),
            ),
            rules=(
                # The SDK requires video_url; the spec also takes a portrait image_url instead, and the
                # MCP (test_create_video_requires_exactly_one_face_source) exactly one of the two.
                OneOf(("video_url", "image_url"), exactly=True),
                OneOf(("audio_url", "text")),
                Requires(("voice_id",), when={"text": GIVEN}),  # MCP test_create_video_requires_voice_id_with_text
            ),
            shape=Shape.FLAT,
            words=KLING_WORDS,
        ),
        _service(
            "maestro",
            (
                F("prompt", required=True),
                F("action", choices=("generate", "remix", "edit", "extend")),
                F("ref_task_id"),
                F("file_urls", "list", item_type="url"),
                F("langs", "list", item_type="str", max_items=4),  # the MCP: max_length=4
                F("aspect", choices=("9:16", "16:9", "1:1")),
                # Docs maestro_videos.mdx and the MCP: 5-300 s (the older openapi/maestro.json: 1-600).
                F("duration", "int", minimum=5, maximum=300),
                # The guide and the MCP say lite/standard/pro, openapi/maestro.json draft/standard/premium.
                F("quality", choices=("lite", "draft", "standard", "pro", "premium")),
                # motion/slideshow: openapi/maestro.json only (the SDK's live-spec Literal and the MCP lack them).
                F("scenario", choices=("auto", "narrated", "captions", "avatar", "drama", "motion", "slideshow")),
                F("style", choices=MAESTRO_STYLES),
                F("voice", choices=MAESTRO_VOICES),
                F("task_id"),  # the MCP: an optional client-generated UUID
            ),
            defaults={"action": "generate"},
            rules=(
                Requires(("ref_task_id",), when={"action": ("remix", "edit", "extend")}),
                # The SKUs (Docs maestro_videos.mdx "Billing", MCP SKU_LIMITS), where quality is given: an
                # omitted one is the server's (the guide's own drama example names none) or the source task's.
                Allows("duration", {"quality": ("lite",)}, minimum=5, maximum=30),
                Allows("duration", {"quality": ("standard",)}, minimum=5, maximum=120),
                MaxItems("langs", {"quality": ("lite",)}, 1),
                MaxItems("langs", {"quality": ("standard",)}, 2),
                Allows("action", {"quality": ("lite",)}, choices=("generate", "edit")),
                Allows("action", {"quality": ("standard",)}, choices=("generate", "remix", "edit")),
                Allows("scenario", {"quality": ("lite",)}, choices=("auto", "narrated", "captions")),
                Allows("scenario", {"quality": ("standard",)}, choices=("auto", "narrated", "captions", "avatar")),
            ),
            words=RecordWords(running="producing"),
            # Docs maestro_tasks.mdx: retrieve_batch lists the history (limit, created_at_*), not ids; the
            # MCP has no batch poll ("The API only exposes single-task retrieval"). One retrieve per id.
            batch_retrieve=False,
        ),
        _service(
            "gemini",
            (
                F("prompt", required=True),
                F("model", choices=("omni-flash",)),
                F("aspect_ratio", choices=("16:9", "9:16")),
                F("resolution", choices=("720p", "1080p")),
                F("image_urls", "list", item_type="url"),
                F("video_urls", "list", item_type="url", max_items=1),  # video editing / video reference
            ),
            # Docs gemini_videos: the vendor answers 400 for a reference video without a reference image.
            rules=(Requires(("image_urls",), when={"video_urls": GIVEN}),),
            words=RecordWords(running="pending"),
        ),
        _service(
            "flux",
            (
                # Docs flux_generate_video also document edit and upscale, but those answer service_unavailable.
                F("action", choices=("generate",)),
                # Docs: flux-3 (the SDK's default); the SDK's Literal is Flux's image models, accepted as both allow.
                F("model", choices=("flux-3", *FLUX_IMAGE_MODELS)),
                F("mode", required=True, choices=("t2v", "i2v", "v2v", "draft_enhance")),
                F("prompt"),
                F("duration", "any", choices=("auto", *range(5, 21))),
                F("resolution", choices=("hd", "fhd", "qhd", "uhd")),
                F("aspect_ratio", choices=("auto", "21:9", "2:1", "16:9", "4:3", "1:1", "3:4", "9:16", "9:21")),
                F("draft", "bool"),
                F("generate_audio", "bool"),
                F("safety_tolerance", "int", minimum=0, maximum=4),
                F("version", choices=("latest",)),
                # 1-10 image URLs or [seconds, url] pairs; the SDK also types it as one string.
                F("keyframes", "any", min_items=1, max_items=10),
                F("start_video", "url"),
                F("draft_task_id"),
            ),
            rules=(
                Requires(("prompt",), when={"mode": ("t2v", "i2v", "v2v")}),
                Requires(("keyframes",), when={"mode": ("i2v",)}),  # the images i2v animates
                Requires(("start_video",), when={"mode": ("v2v",)}),  # the video v2v continues
                Requires(("draft_task_id",), when={"mode": ("draft_enhance",)}),
                # A draft is reproduced as it was: no new prompt, assets or generation settings. The SDK
                # always sends aspect_ratio "auto" and version "latest", so those two values stay allowed.
                Forbids(
                    ("prompt", "duration", "generate_audio", "draft", "keyframes", "start_video"),
                    when={"mode": ("draft_enhance",)},
                ),
                Allows("aspect_ratio", {"mode": ("draft_enhance",)}, choices=("auto",)),
                Allows("duration", {"mode": ("v2v",)}, choices=("auto", *range(5, 16))),
                Allows("resolution", {"draft": (True,)}, choices=("hd",)),  # drafts are hd only
            ),
            words=NO_STATE_WORD,
        ),
        _service(
            "midjourney",
            (
                F("action", choices=("generate", "extend")),
                F("prompt"),
                F("image_url", "url"),  # the first frame
                F("end_image_url", "url"),
                F("video_id"),
                F("video_index", "int", minimum=0, maximum=3),  # which of the four videos to extend
                F("mode", choices=("fast", "turbo")),
                F("resolution", choices=("480p", "720p")),
                F("loop", "bool"),
            ),
            defaults={"action": "generate"},
            rules=(
                # Midjourney video animates an image: every Docs example and the MCP's tool send image_url.
                Requires(("image_url",), when={"action": ("generate",)}),
                Requires(("video_id",), when={"action": ("extend",)}),
            ),
            shape=Shape.FLAT,  # no state word: success, progress and four video_urls
            words=NO_STATE_WORD,
        ),
        # Kickart e-commerce video (Docs openapi/kickart.json 6224d63: the three generation paths, no
        # /kickart/tasks). Tasks are read like every Ace Data family, POST /kickart/tasks with
        # {"action": "retrieve", "id"} and {"action": "retrieve_batch", "ids"}: Skills
        # skills/kickart-video/SKILL.md ("Task Queries") documents exactly that, and the SDK's tasks client
        # falls back to /<service>/tasks with that body for a service it has no endpoint for. The 200 body
        # is response.data as ONE object with no state word and usage as a plain number (0.21): success,
        # finished_at and data.video_url say it all, as for Flux.
        _service(
            "kickart",
            (
                F("mode", choices=("fast", "pro")),
                F("type", choices=("intro", "main")),
                F("template_id"),
                # A product source is optional: the spec requires none, the Skills doc's latest version calls
                # one "recommended" and the CLI's tests submit without one (one Skills version says required).
                F("product_url", "url"),
                F("product_id"),
                F("user_images", "list", item_type="url"),
                F("user_videos", "list", item_type="url"),
                F("duration", "int", required=True, choices=KICKART_DURATIONS),
                F("aspect_ratio", choices=("9:16", "16:9", "3:4", "4:3", "1:1")),
                F("language", choices=KICKART_LANGUAGES),
                F("purpose"),
                F("prompt"),
                F("nle_subtitle_enabled", "bool"),
                F("use_subtitle_erasure", "bool"),
                F("watermark", "bool"),
            ),
            # Skills SKILL.md (Gotchas): "The `main` type only supports `15` or `30`".
            rules=(Allows("duration", {"type": ("main",)}, choices=(15, 30)),),
            poll_path="/kickart/tasks",
            shape=Shape.DATA_OBJECT,
            words=NO_STATE_WORD,
        ),
        _service(
            "kickart-viral",
            (
                F("ref_video", "url", required=True),
                F("language", required=True, choices=KICKART_LANGUAGES),
                F("mode", choices=("pro", "advanced")),
                F("template_id"),
                F("product_url", "url"),
                F("product_id"),
                F("product_images", "list", item_type="url"),
                F("model_images", "list", item_type="url"),
                F("location_images", "list", item_type="url"),
                F("ai_product_analysis", "bool"),
                F("similarity", choices=("high", "medium")),
                F("nle_subtitle_enabled", "bool"),
                F("use_subtitle_erasure", "bool"),
                F("prompt"),
                F("watermark", "bool"),
            ),
            submit_path="/kickart/viral-videos",
            poll_path="/kickart/tasks",
            shape=Shape.DATA_OBJECT,
            words=NO_STATE_WORD,
        ),
        _service(
            "kickart-template",
            (
                F("template_id", required=True),
                # The spec types the items as strings (its example: one image URL); the CLI, the TypeScript
                # SDK and one Skills version send {"type", "url"} objects: both are accepted.
                F("resource_list", "list", required=True, min_items=1),
                F("resolution"),
                F("watermark", "bool"),
            ),
            submit_path="/kickart/template-videos",
            poll_path="/kickart/tasks",
            shape=Shape.DATA_OBJECT,
            words=NO_STATE_WORD,
        ),
    )
}
