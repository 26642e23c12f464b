"""Ace Data Cloud: the service table, request builders and response interpretation (pure functions).

Every service is ``POST /<service>/videos`` (or a sibling endpoint) plus ``POST /<service>/tasks``
with ``retrieve`` / ``retrieve_batch``. The services differ in field names, in the shape of their
response and in their status words (API_CONTRACT.md §1.5 and Part 3); all of that is data below
and in :func:`interpret_record`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_vidgen.core.errors import ApiError
from airflow_provider_vidgen.core.results import (
    NO_VIDEO,
    NOT_FOUND,
    TaskError,
    TaskResult,
    Video,
    clean_usage,
    request_prompt,
)
from airflow_provider_vidgen.core.schema import GIVEN, Allows, Forbids, OneOf, Requires, ServiceSpec
from airflow_provider_vidgen.core.schema import FieldSpec as F
from airflow_provider_vidgen.core.transport import (
    RETRYABLE_STATUSES,
    ApiRequest,
    HttpResponse,
    Outcome,
    json_body,
    parse_retry_after,
)

VENDOR = "acedata"
LABEL = "Ace Data Cloud"
DEFAULT_HOST = "https://api.acedata.cloud"

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
FLUX_IMAGE_MODELS = (
    "flux-dev", "flux-pro", "flux-kontext-pro", "flux-kontext-max", "flux-2-flex", "flux-2-pro", "flux-2-max",
    "flux-2-klein",
)  # fmt: skip


def _service(name: str, fields: tuple[F, ...], **kwargs: Any) -> ServiceSpec:
    return ServiceSpec(
        vendor=VENDOR,
        name=name,
        submit_path=kwargs.pop("submit_path", f"/{name}/videos"),
        poll_path=kwargs.pop("poll_path", f"/{name}/tasks"),
        fields=(*fields, *COMMON_FIELDS),
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
                # Spec and SDK make prompt optional; text-to-video without text is our own refusal.
                Requires(("prompt",), when={"model": ("minimax-t2v",)}),
                Requires(("first_image_url",), when={"model": HAILUO_I2V}),
                Forbids(("first_image_url",), when={"model": ("minimax-t2v",)}),
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
            response_shape="flat",
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
            response_shape="flat",
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
            response_shape="flat",
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
            response_shape="flat",
        ),
        _service(
            "kling-talking-photo",
            (
                F("image_url", "url", required=True),
                F("audio_url", "url", required=True),
                F("model", choices=KLING_MODELS),
                F("mode", choices=("std", "pro")),
                F("duration", "int", choices=(5, 10)),
                F("prompt"),
            ),
            defaults={"model": "kling-v2-1-master", "mode": "pro"},
            submit_path="/kling/talking-photo",
            poll_path="/kling/tasks",
            response_shape="flat",
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
        ),
        _service(
            "veo-upsample",
            (F("video_id", required=True), F("action", required=True, choices=("1080p", "4k", "gif"))),
            submit_path="/veo/upsample",
            poll_path="/veo/tasks",
        ),
        _service(
            "veo-reshoot",
            (
                F("video_id", required=True),  # not an extend result (Docs veo_reshoot.mdx)
                F("motion_type", required=True, choices=VEO_MOTION_TYPES),
            ),
            submit_path="/veo/reshoot",
            poll_path="/veo/tasks",
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
                F("tools", "list", item_type="object"),
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
            ),
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
            ),
            response_shape="flat",
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
            ),
        ),
        _service(
            "minimax",
            (
                # MiniMax-H3 only: Docs minimax_videos.mdx ("fixed as MiniMax-H3"), SDK and MCP Literal.
                F("model", required=True, choices=("MiniMax-H3",)),
                F("content", "list", required=True, min_items=1, item_type="object"),
                F("duration", "int", required=True, minimum=4, maximum=15),
                F("resolution", required=True, choices=("768P", "2K")),
                F("ratio", choices=("adaptive", "21:9", "16:9", "4:3", "1:1", "3:4", "9:16")),
            ),
            response_shape="task",
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
            response_shape="data_object",  # response.data is one object with status "done"
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
                # The SDK requires video_url; the spec also takes a portrait image_url instead.
                OneOf(("video_url", "image_url")),
                OneOf(("audio_url", "text")),
            ),
            response_shape="flat",
        ),
        _service(
            "maestro",
            (
                F("prompt", required=True),
                F("action", choices=("generate", "remix", "edit", "extend")),
                F("ref_task_id"),
                F("file_urls", "list", item_type="url"),
                F("langs", "list", item_type="str"),
                F("aspect", choices=("9:16", "16:9", "1:1")),
                F("duration", "int", minimum=1, maximum=600),
                # The MCP says lite/standard/pro, the spec draft/standard/premium, the SDK has no quality.
                F("quality", choices=("lite", "draft", "standard", "pro", "premium")),
                F("scenario", choices=("auto", "narrated", "captions", "avatar", "drama")),
                F("style", choices=MAESTRO_STYLES),
                F("voice", choices=MAESTRO_VOICES),
            ),
            defaults={"action": "generate"},
            rules=(Requires(("ref_task_id",), when={"action": ("remix", "edit", "extend")}),),
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
            response_shape="flat",  # no state word: success, progress and four video_urls
        ),
    )
}


def get_service(name: str) -> ServiceSpec:
    try:
        return SERVICES[name]
    except KeyError:
        raise _unknown_service(name) from None


def _unknown_service(name: str) -> Exception:
    from airflow_provider_vidgen.core.errors import InvalidInputError

    return InvalidInputError("service", f"unknown {LABEL} service {name!r}; allowed: {', '.join(SERVICES)}")


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


def auth_headers(token: str, extras: Mapping[str, Any]) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", "accept": "application/json"}


def submit_request(spec: ServiceSpec, body: Mapping[str, Any]) -> ApiRequest:
    """The submission is always asynchronous on the API side (``async: true``)."""
    return ApiRequest("POST", spec.submit_path, "submit", json={**body, "async": True})


def retrieve_request(spec: ServiceSpec, task_id: str) -> ApiRequest:
    return ApiRequest("POST", spec.poll_path, "retrieve", json={"action": "retrieve", "id": task_id})


def batch_request(spec: ServiceSpec, task_ids: Iterable[str]) -> ApiRequest:
    return ApiRequest(
        "POST", spec.poll_path, "retrieve_batch", json={"action": "retrieve_batch", "ids": list(task_ids)}
    )


def search_request(
    spec: ServiceSpec, created_min: int, created_max: int, *, offset: int = 0, limit: int = 100
) -> ApiRequest:
    """``retrieve_batch`` by creation time (Unix seconds, inclusive): the tasks submitted in a window,
    newest first, one page (``offset``/``limit``)."""
    body = {
        "action": "retrieve_batch",
        "created_at_min": created_min,
        "created_at_max": created_max,
        "offset": offset,
        "limit": limit,
    }
    return ApiRequest("POST", spec.poll_path, "retrieve_batch", json=body)


def parse_search(body: Any) -> list[dict[str, Any]]:
    """The task records of a ``retrieve_batch`` answer (MiniMax's bare task objects included)."""
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ApiError(LABEL, f"retrieve_batch answer has no items list: {str(body)[:200]}", code="bad_answer")
    return [item for item in items if isinstance(item, dict)]


def probe_request() -> ApiRequest:
    """A cheap authenticated call that creates nothing: retrieve a task id that cannot exist."""
    return ApiRequest(
        "POST",
        "/hailuo/tasks",
        "probe",
        json={"action": "retrieve", "id": "00000000-0000-0000-0000-000000000000"},
    )


# --------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------


def decode(outcome: Outcome, request: ApiRequest, *, allow_not_found: bool = False) -> Any:
    """Return the JSON body of a successful answer, or raise ApiError for every failure form."""
    body = json_body(LABEL, outcome, request)
    if outcome.status < 400:
        if body is None:
            raise ApiError(LABEL, "answer is not JSON", status=outcome.status, code="non_json", retryable=True)
        return body
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    if allow_not_found and outcome.status == 404 and code == NOT_FOUND:
        return {}
    message = error.get("message") if isinstance(error, dict) else error
    # A 5xx with the platform's own error envelope was answered by the platform, which
    # rejected the request; a bare 502/503 from a proxy may have lost an accepted one.
    enveloped = isinstance(error, dict) and bool(code)
    return _raise_http(outcome, code, message, enveloped, body)


def _raise_http(outcome: HttpResponse, code: Any, message: Any, enveloped: bool, body: Any) -> Any:
    status = outcome.status
    retryable = status in RETRYABLE_STATUSES
    nothing_created = status == 429 or (status >= 500 and enveloped) or status in (400, 401, 403, 404, 413)
    raise ApiError(
        LABEL,
        str(message or _reason(status)),
        status=status,
        code=str(code) if code else None,
        retryable=retryable,
        nothing_created=nothing_created,
        retry_after=parse_retry_after(outcome.headers),
        trace_id=body.get("trace_id") if isinstance(body, dict) else None,
    )


def _reason(status: int) -> str:
    return {429: "rate limited", 502: "bad gateway", 503: "unavailable", 504: "gateway timeout"}.get(
        status, "request failed"
    )


def parse_submit(body: Any) -> str:
    """The task id of an accepted submission: top level, then ``data.task_id``, then ``id``."""
    if isinstance(body, dict):
        data = body.get("data")
        for candidate in (body.get("task_id"), data.get("task_id") if isinstance(data, dict) else None):
            if isinstance(candidate, str) and candidate:
                return candidate
        if body.get("success") is False:
            error = body.get("error") or {}
            raise ApiError(LABEL, str(error.get("message") or error), code=error.get("code"))
        if isinstance(body.get("id"), str):
            return body["id"]
    raise ApiError(LABEL, f"submission answer has no task_id: {str(body)[:200]}", code="no_task_id")


def parse_batch(spec: ServiceSpec, task_ids: Iterable[str], body: Any) -> dict[str, TaskResult]:
    """Map every asked-for id to its result; an id the API does not return is reported not found."""
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ApiError(LABEL, f"retrieve_batch answer has no items list: {str(body)[:200]}", code="bad_answer")
    by_id: dict[str, dict[str, Any]] = {}
    for item in items:
        if isinstance(item, dict) and (key := _record_id(item)):
            # MiniMax lists bare task objects in batches but wraps a single one as {"task": ...}.
            by_id[key] = {"task": item} if spec.response_shape == "task" and "task" not in item else item
    return {task_id: interpret_record(spec, task_id, by_id.get(task_id, {})) for task_id in task_ids}


def _record_id(record: dict[str, Any]) -> str | None:
    task = record.get("task")
    for candidate in (
        record.get("id"),
        record.get("task_id"),
        task.get("id") if isinstance(task, dict) else None,
    ):
        if isinstance(candidate, str):
            return candidate
    return None


# State words (API_CONTRACT.md §1.4.3 and §1.5); matched case-insensitively.
# ``expired``: Seedance (ByteDance ModelArk) ends a task that waited past execution_expires_after.
FAILURE_WORDS = frozenset({"failed", "failure", "error", "cancelled", "canceled", "rejected", "dead", "expired"})
SUCCESS_WORDS = frozenset({"succeeded", "succeed", "success", "completed", "complete", "finished", "done"})
QUEUED_WORDS = frozenset({"queued", "pending", "waiting", "submitted", "created"})


def interpret_record(spec: ServiceSpec, task_id: str, record: Any) -> TaskResult:
    """Derive the normalized result of one task record, whatever its shape.

    Shapes: the detailed record (``{id, request, response?, finished_at?}``), a flat poll body
    (the response itself), MiniMax's ``{task: {...}}``, and ``{}`` for an unknown id.
    """

    def result(state: str, videos: tuple[Video, ...] = (), error: TaskError | None = None) -> TaskResult:
        return TaskResult(task_id, spec.name, VENDOR, state, progress, videos, error, usage, prompt)  # type: ignore[arg-type]

    progress = usage = prompt = None
    if not isinstance(record, dict) or not record:
        return result(
            "failed",
            error=TaskError(NOT_FOUND, f"{LABEL} does not know task {task_id} (service {spec.name})"),
        )
    if isinstance(record.get("task"), dict):  # MiniMax H3 envelope
        response: Any = record["task"]
        finished = False
    elif _is_envelope(record):
        response = record.get("response")
        finished = record.get("finished_at") is not None
        prompt = request_prompt(record.get("request"))
    else:  # flat poll: the record is the response body itself
        response = record
        finished = False

    words = _state_words(response, depth=6)
    if isinstance(record.get("status"), str) and record["status"].strip():  # maestro / digital-human
        words.append(record["status"].strip().lower())
    progress = _progress(response)
    usage = _usage(response)
    videos = tuple(_videos(response))
    error = _error(response)

    if any(word in FAILURE_WORDS for word in words):
        return result("failed", videos, error or TaskError("failed", f"{spec.name} reported the task as failed"))
    if any(word in SUCCESS_WORDS for word in words):
        if videos:
            return result("succeeded", videos)
        return result("failed", error=TaskError(NO_VIDEO, "the task finished without a video URL"))
    if words:
        return result("pending" if all(word in QUEUED_WORDS for word in words) else "running")
    if not isinstance(response, dict):
        return result("pending")
    # No state word at all (API_CONTRACT.md §1.4.3 step 5): Flux and Midjourney never send one.
    success = response.get("success")
    if success is False and isinstance(response.get("error"), dict) and response["error"].get("code"):
        return result("failed", error=error)  # final even without finished_at (hailuo)
    if finished or response.get("finished_at") is not None:
        if success is False:
            return result("failed", error=error or TaskError("failed", "the task failed"))
        if videos:
            return result("succeeded", videos)
        return result("failed", error=TaskError(NO_VIDEO, "the task finished without a video URL"))
    if videos:
        return result("succeeded", videos)
    return result("running")


def _is_envelope(record: dict[str, Any]) -> bool:
    """A task record (``{id, request?, response?, finished_at?, ...}``) rather than a flat poll body.

    A ``response`` key alone is enough: a record trimmed of ``request``/``_id``/``api_id``/
    ``created_at`` still nests the result there, and reading it as flat loses the video.
    """
    if "response" in record and (record["response"] is None or isinstance(record["response"], dict)):
        return True
    return any(key in record for key in ENVELOPE_KEYS) or set(record) <= {"id", "status"}


ENVELOPE_KEYS = ("request", "_id", "api_id", "created_at")


def _state_words(node: Any, depth: int) -> list[str]:
    """Every non-empty string under a ``state``/``status`` key, searched ``depth`` levels deep.

    An empty word (``"state": ""``) says nothing, so it must not hide the other signals.
    """
    if depth < 0:
        return []
    words: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("state", "status") and isinstance(value, str):
                if value.strip():
                    words.append(value.strip().lower())
            elif isinstance(value, dict | list):
                words.extend(_state_words(value, depth - 1))
    elif isinstance(node, list):
        for value in node:
            words.extend(_state_words(value, depth - 1))
    return words


def _items(response: Any) -> list[dict[str, Any]]:
    """The objects that may carry a video: ``data[]`` items, a ``data{}`` object, or the body itself."""
    if not isinstance(response, dict):
        return []
    data = response.get("data")
    if isinstance(data, list):
        return [item for item in data if isinstance(item, dict)]
    if isinstance(data, dict):
        return [data]
    return [response]


def _http(value: Any) -> str | None:
    return value if isinstance(value, str) and value.startswith(("http://", "https://")) else None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def _videos(response: Any) -> Iterable[Video]:
    for item in _items(response):
        content = item.get("content") if isinstance(item.get("content"), dict) else {}
        url = _http(item.get("video_url")) or _http(content.get("video_url")) or _http(content.get("url"))
        if not url:
            yield from _video_list(item)
            continue
        video_id = item.get("video_id") or item.get("id")
        yield Video(
            url=url,
            thumbnail_url=_http(item.get("thumbnail_url")),
            width=_int(item.get("video_width") or item.get("width")),
            height=_int(item.get("video_height") or item.get("height")),
            video_id=str(video_id) if video_id is not None else None,
        )


def _video_list(item: dict[str, Any]) -> Iterable[Video]:
    """Midjourney's ``video_urls``: a flat list of URL strings, four videos of one ``video_id``.

    Its ``image_url`` is the cover (a thumbnail, never a video) and ``image_width``/``image_height``
    are the cover's size, so the videos get the cover as thumbnail and no size. Extending one of them
    takes the shared ``video_id`` and its position in the list (``video_index``).
    """
    urls = item.get("video_urls")
    if not isinstance(urls, list):
        return
    cover = _http(item.get("image_url"))
    video_id = item.get("video_id")
    for url in filter(None, map(_http, urls)):
        yield Video(url=url, thumbnail_url=cover, video_id=str(video_id) if video_id is not None else None)


def _error(response: Any) -> TaskError | None:
    if not isinstance(response, dict):
        return None
    error = response.get("error")
    if isinstance(error, dict) and (error.get("code") or error.get("message")):
        return TaskError(str(error.get("code") or "error"), str(error.get("message") or error.get("code")))
    if isinstance(error, str) and error:
        return TaskError("error", error)
    return None


def _usage(response: Any) -> dict[str, float] | None:
    """What the task cost as the API reports it: ``usage`` of the task (MiniMax) or of its items (Seedance)."""
    totals: dict[str, float] = {}
    items = _items(response)
    nodes = items if any(item is response for item in items) else [response, *items]
    for node in nodes if isinstance(response, dict) else []:
        for key, number in (clean_usage(node.get("usage")) or {}).items():
            totals[key] = totals.get(key, 0) + number
    return totals or None


def _progress(response: Any) -> float | None:
    for item in [response, *_items(response)] if isinstance(response, dict) else []:
        for key in ("progress", "percent"):
            value = item.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return round(value / 100 if value > 1 else float(value), 4)
    return None
