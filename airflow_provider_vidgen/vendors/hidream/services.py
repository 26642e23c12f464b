"""HiDream's module table: one row per module, v2 and v3 (data only; the protocol is in ``vendor.py``).

The v3 modules (``v3-txt2video``, ``v3-img2video``, ``v3-keyframe2video``) answer like v2, but HiDream
documents no v3 batch-results endpoint, so their rows say ``batch_retrieve=False`` and they are polled
one id per request.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_vidgen.core.schema import FieldSpec as F
from airflow_provider_vidgen.core.schema import OneOf, ServiceSpec, Shape

VENDOR = "hidream"
BASE_PATH = "/api-pub/gw/v2/video"
V3_BASE_PATH = "/api-pub/gw/v3/video"

# Sub-task statuses (API_CONTRACT.md Part 2).
WAITING, DONE, PROCESSING, FAILED, REJECTED = 0, 1, 2, 3, 4

STYLES = (
    "barbie_doll", "ink_wash", "van_goph", "hayao_miyazaki", "cyber_punk",
    "cartoon", "anime", "vector_art", "abstract", "watercolor",
)  # fmt: skip

COMMON_FIELDS = (F("request_id"), F("notify_url", "url"))
CAMERA_FIELDS = (
    F("camera_move_horizontal", "int", minimum=-5, maximum=5),
    F("camera_move_vertical", "int", minimum=-5, maximum=5),
    F("camera_move_depth", "int", minimum=-5, maximum=5),
    F("motion_strength", "number", minimum=0, maximum=30),
)
MOTION_FIELDS = (
    F("aspect_ratio", choices=("16:9", "1:1", "9:16")),
    F("resolution_ratio", "int", choices=(1024, 2048, 4096)),
    *CAMERA_FIELDS,
)
# v3 txt2video / img2video: a model version and a "W*H" resolution instead of v2's aspect/resolution ratio.
V3_MOTION_FIELDS = (
    F("negative_prompt"),
    F("version", choices=("v2",)),
    F("resolution", choices=("960*960", "1280*720", "720*1280")),
    *CAMERA_FIELDS,
)
# v3 keyframe2video: the first and the last frame (URL or base64 each); no camera or motion knobs.
KEYFRAME_FIELDS = (
    F("images", "list", required=True, min_items=2, max_items=2, item_type="media"),
    F("prompt"),
    F("negative_prompt"),
    F("version", choices=("v1.0-standard",)),
    F("resolution", choices=("keep",)),
    F("duration", "int", choices=(5, 10)),
)


def _module(name: str, fields: tuple[F, ...], **kwargs: Any) -> ServiceSpec:
    return ServiceSpec(
        vendor=VENDOR,
        shape=Shape.SUBTASKS,
        name=name,
        submit_path=f"{BASE_PATH}/{name}/async",
        poll_path=f"{BASE_PATH}/{name}/async/results",
        fields=(*fields, *COMMON_FIELDS),
        **kwargs,
    )


def _v3_module(module: str, fields: tuple[F, ...], **kwargs: Any) -> ServiceSpec:
    """A v3 module, named ``v3-<module>`` so the v2 names stay as they are; results by single GET only."""
    return ServiceSpec(
        vendor=VENDOR,
        shape=Shape.SUBTASKS,
        name=f"v3-{module}",
        submit_path=f"{V3_BASE_PATH}/{module}/async",
        poll_path=f"{V3_BASE_PATH}/{module}/async/results",
        fields=(*fields, *COMMON_FIELDS),
        batch_retrieve=False,
        **kwargs,
    )


SERVICES: dict[str, ServiceSpec] = {
    spec.name: spec
    for spec in (
        _module("txt2video", (F("prompt", required=True), *MOTION_FIELDS)),
        _module("img2video", (F("image", "media", required=True), F("prompt"), *MOTION_FIELDS)),
        _module(
            "video_edit",
            (F("video_name", "media", required=True), F("prompt"), F("style", choices=STYLES)),
            rules=(OneOf(("prompt", "style"), exactly=True),),
        ),
        _v3_module("txt2video", (F("prompt", required=True), *V3_MOTION_FIELDS)),
        _v3_module("img2video", (F("image", "media", required=True), F("prompt"), *V3_MOTION_FIELDS)),
        _v3_module("keyframe2video", KEYFRAME_FIELDS),
    )
}
