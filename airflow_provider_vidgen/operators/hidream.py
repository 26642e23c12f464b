"""HiDream generation operators (v2 txt2video, img2video, video_edit; v3 modules), one video or a batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_vidgen.operators.base import BaseVideoOperator
from airflow_provider_vidgen.operators.batch import BaseBatchVideoOperator
from airflow_provider_vidgen.vendors.hidream import HIDREAM

DEFAULT_SERVICE = "txt2video"


def service_or_module(service: str | None, module: str | None) -> str:
    """``service`` is the one name across vendors; ``module`` (HiDream's own word) stays an alias."""
    if service is not None and module is not None and service != module:
        raise TypeError(f"give service= or its alias module=, not both (got {service!r} and {module!r})")
    return service or module or DEFAULT_SERVICE


class HiDreamVideoOperator(BaseVideoOperator):
    """Generate a video with HiDream.

    :param service: ``txt2video`` (default; needs ``prompt``), ``img2video`` (needs ``image``: URL or
        base64) or ``video_edit`` (needs ``video_name`` and exactly one of ``prompt`` / ``style``); HiDream's
        v3 API: ``v3-txt2video`` (needs ``prompt``), ``v3-img2video`` (needs ``image``) or
        ``v3-keyframe2video`` (needs ``images``).
    :param module: alias of ``service`` (HiDream calls its services modules).
    :param prompt: what to generate (txt2video), or how to change the video (video_edit).
    :param image: the first frame for img2video: an http(s) URL or base64 data.
    :param images: v3-keyframe2video: the first and the last frame, each an http(s) URL or base64 data.
    :param video_name: the video to edit (video_edit): an http(s) URL or a HiDream video name.
    :param negative_prompt: v3 only: what the video must not show.
    :param version: v3 only: the model version, ``v2`` (``v1.0-standard`` for v3-keyframe2video).
    :param aspect_ratio: v2 only: ``16:9`` (default), ``1:1`` or ``9:16``.
    :param resolution_ratio: v2 only: 1024, 2048 or 4096.
    :param resolution: v3 only: ``960*960``, ``1280*720`` or ``720*1280`` (``keep`` for v3-keyframe2video).
    :param duration: v3-keyframe2video only: 5 (HiDream's default) or 10 seconds.
    :param camera_move_horizontal: camera pan, -5..5 (no camera or motion fields for v3-keyframe2video).
    :param camera_move_vertical: camera tilt, -5..5.
    :param camera_move_depth: camera zoom, -5..5.
    :param motion_strength: 0..30 (HiDream's default is 9).
    :param style: for video_edit: barbie_doll, ink_wash, van_goph, hayao_miyazaki, cyber_punk,
        cartoon, anime, vector_art, abstract, watercolor.
    :param request_id: your own id for the request, echoed back by HiDream.
    :param notify_url: https URL HiDream calls when the task finishes.
    :param hidream_conn_id: connection of type ``hidream``.
    """

    vendor = HIDREAM
    # The fields of every module, v2 and v3: the service table refuses those a module does not take.
    service_fields = (
        "prompt", "image", "images", "video_name", "style", "negative_prompt", "version",
        "aspect_ratio", "resolution_ratio", "resolution", "duration",
        "camera_move_horizontal", "camera_move_vertical", "camera_move_depth",
        "motion_strength", "request_id", "notify_url",
    )  # fmt: skip
    template_fields: Sequence[str] = ("service", *service_fields, "hidream_conn_id")

    def __init__(
        self,
        *,
        service: str | None = None,
        module: str | None = None,
        prompt: str | None = None,
        image: str | None = None,
        images: list[str] | None = None,
        video_name: str | None = None,
        style: str | None = None,
        negative_prompt: str | None = None,
        version: str | None = None,
        aspect_ratio: str | None = None,
        resolution_ratio: int | None = None,
        resolution: str | None = None,
        duration: int | None = None,
        camera_move_horizontal: int | None = None,
        camera_move_vertical: int | None = None,
        camera_move_depth: int | None = None,
        motion_strength: float | None = None,
        request_id: str | None = None,
        notify_url: str | None = None,
        hidream_conn_id: str = HIDREAM.default_conn_id,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.service = service_or_module(service, module)
        self.prompt = prompt
        self.image = image
        self.images = images
        self.video_name = video_name
        self.style = style
        self.negative_prompt = negative_prompt
        self.version = version
        self.aspect_ratio = aspect_ratio
        self.resolution_ratio = resolution_ratio
        self.resolution = resolution
        self.duration = duration
        self.camera_move_horizontal = camera_move_horizontal
        self.camera_move_vertical = camera_move_vertical
        self.camera_move_depth = camera_move_depth
        self.motion_strength = motion_strength
        self.request_id = request_id
        self.notify_url = notify_url
        self.hidream_conn_id = hidream_conn_id


class HiDreamBatchVideoOperator(BaseBatchVideoOperator):
    """A batch of HiDream videos in one task: one per prompt (or per image for img2video).

    :param service: ``txt2video`` (default; needs ``prompts``) or ``img2video`` (needs ``images``).
    :param module: alias of ``service``.
    :param prompts: what to generate, one video per prompt.
    :param images: the first frame of each item for img2video (http(s) URL or base64; one per item).
    :param aspect_ratio: ``16:9``, ``1:1`` or ``9:16`` (for every item).
    :param resolution_ratio: 1024, 2048 or 4096.
    :param camera_move_horizontal: camera pan, -5..5.
    :param camera_move_vertical: camera tilt, -5..5.
    :param camera_move_depth: camera zoom, -5..5.
    :param motion_strength: 0..30.
    :param notify_url: https URL HiDream calls when each task finishes.
    :param hidream_conn_id: connection of type ``hidream``; its extra ``max_requests_per_second`` paces
        the submissions.
    """

    vendor = HIDREAM
    shared_fields = (
        "aspect_ratio", "resolution_ratio", "camera_move_horizontal", "camera_move_vertical",
        "camera_move_depth", "motion_strength", "notify_url",
    )  # fmt: skip
    item_fields = {"prompts": "prompt", "images": "image"}
    template_fields: Sequence[str] = ("service", "prompts", "images", *shared_fields, "hidream_conn_id")

    def __init__(
        self,
        *,
        service: str | None = None,
        module: str | None = None,
        prompts: list[str] | None = None,
        images: list[str] | None = None,
        aspect_ratio: str | None = None,
        resolution_ratio: int | None = None,
        camera_move_horizontal: int | None = None,
        camera_move_vertical: int | None = None,
        camera_move_depth: int | None = None,
        motion_strength: float | None = None,
        notify_url: str | None = None,
        hidream_conn_id: str = HIDREAM.default_conn_id,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.service = service_or_module(service, module)
        self.prompts = prompts
        self.images = images
        self.aspect_ratio = aspect_ratio
        self.resolution_ratio = resolution_ratio
        self.camera_move_horizontal = camera_move_horizontal
        self.camera_move_vertical = camera_move_vertical
        self.camera_move_depth = camera_move_depth
        self.motion_strength = motion_strength
        self.notify_url = notify_url
        self.hidream_conn_id = hidream_conn_id
