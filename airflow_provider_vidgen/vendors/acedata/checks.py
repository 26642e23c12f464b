"""Checks of Ace Data request bodies that the generic rules (``Requires``/``OneOf``/``Forbids``/``Allows``)
cannot say: item counts per condition, and the structure of MiniMax's ``content`` and Kling's Omni lists.

Each is data in a row of ``services.py``, with the vendor sources it follows named there. Like the
generic rules, a rule here has ``check(body, defaults)`` and names the ``fields`` it reads (so a field
still templated at parse time leaves it for the run).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.core.schema import Condition, FieldSpec, applies, check_url, when_text


@dataclass(frozen=True)
class MaxItems:
    """When ``when`` matches, the list ``field`` (if given) takes at most ``maximum`` items."""

    field: str
    when: Condition
    maximum: int

    def check(self, body: Mapping[str, Any], defaults: Mapping[str, Any]) -> None:
        value = body.get(self.field)
        if not isinstance(value, list | tuple) or not applies(self.when, body, defaults):
            return
        if len(value) > self.maximum:
            raise InvalidInputError(
                self.field, f"takes at most {self.maximum} item(s){when_text(self.when)}, got {len(value)}"
            )


# ------------------------------------------------------------------------------------------------
# MiniMax H3: the V2 ``content`` list (Docs en/guides/minimax/minimax_videos.mdx, MCP minimax/core/types.py)
# ------------------------------------------------------------------------------------------------

MINIMAX_ROLES = {
    "image_url": (None, "first_frame", "last_frame", "reference_image"),
    "video_url": ("reference_video",),
    "audio_url": ("reference_audio",),
}
MINIMAX_LIMITS = {"first_frame": 1, "last_frame": 1, "reference_image": 9, "reference_video": 3, "reference_audio": 3}
MINIMAX_TEXT_LIMIT = 7000
MINIMAX_REFERENCE_LIMIT = 12


def minimax_roles(content: Any) -> list[str | None]:
    """The role of every media item (a lone image without a role is the first frame, as the guide says)."""
    items = [item for item in content if isinstance(item, Mapping)] if isinstance(content, list | tuple) else []
    media = [item for item in items if item.get("type") in MINIMAX_ROLES]
    roles = [item.get("role") for item in media]
    if len(media) == 1 and media[0].get("type") == "image_url" and roles[0] is None:
        return ["first_frame"]
    return roles


@dataclass(frozen=True)
class MinimaxContent(FieldSpec):
    """``content``: exactly one non-empty text (at most 7,000 characters), media items with the role their
    type takes, at most 1 first and 1 last frame, 9 reference images, 3 reference videos and 3 reference
    audios (12 references in all), and frames never together with references."""

    def check(self, value: Any) -> None:
        super().check(value)
        texts = []
        for index, item in enumerate(value):
            name, kind = f"{self.name}[{index}]", item.get("type")
            if kind == "text":
                texts.append((name, item.get("text")))
            elif kind in MINIMAX_ROLES:
                media = item.get(kind)
                if not isinstance(media, Mapping) or not isinstance(media.get("url"), str) or not media["url"]:
                    raise InvalidInputError(f"{name}.{kind}.url", "is required")
                if item.get("role") not in MINIMAX_ROLES[kind]:
                    allowed = ", ".join(repr(role) for role in MINIMAX_ROLES[kind])
                    raise InvalidInputError(f"{name}.role", f"must be one of {allowed} for {kind}")
            else:
                raise InvalidInputError(f"{name}.type", "must be one of 'text', 'image_url', 'video_url', 'audio_url'")
        if len(texts) != 1 or not isinstance(texts[0][1], str) or not texts[0][1].strip():
            raise InvalidInputError(self.name, f"needs exactly one non-empty text item, got {len(texts)}")
        if len(texts[0][1]) > MINIMAX_TEXT_LIMIT:
            raise InvalidInputError(texts[0][0], f"must be at most {MINIMAX_TEXT_LIMIT} characters")
        self._check_roles(minimax_roles(value))

    def _check_roles(self, roles: list[str | None]) -> None:
        for role, limit in MINIMAX_LIMITS.items():
            if roles.count(role) > limit:
                raise InvalidInputError(self.name, f"takes at most {limit} {role} item(s), got {roles.count(role)}")
        references = [role for role in roles if role and role.startswith("reference_")]
        if len(references) > MINIMAX_REFERENCE_LIMIT:
            raise InvalidInputError(self.name, f"takes at most {MINIMAX_REFERENCE_LIMIT} references in all")
        if references and any(role in ("first_frame", "last_frame") for role in roles):
            raise InvalidInputError(self.name, "first/last frames and reference media cannot be combined")


@dataclass(frozen=True)
class MinimaxRatio:
    """Text-to-video (a ``content`` with no media) needs a fixed ``ratio``: given, and not ``adaptive``."""

    fields: tuple[str, ...] = ("ratio", "content")

    def check(self, body: Mapping[str, Any], defaults: Mapping[str, Any]) -> None:
        content = body.get("content")
        if not isinstance(content, list | tuple) or minimax_roles(content):
            return
        ratio = body.get("ratio")
        if ratio in (None, ""):
            raise InvalidInputError("ratio", "is required for text-to-video (a content with no media)")
        if ratio == "adaptive":
            raise InvalidInputError("ratio", "must be a fixed ratio for text-to-video, not 'adaptive'")


# ------------------------------------------------------------------------------------------------
# Kling Omni references (SDK kling._build_generate_body, MCP kling/tools/video_tools.py)
# ------------------------------------------------------------------------------------------------

KLING_IMAGE_TYPES = (None, "first_frame", "end_frame")
KLING_VIDEO_ITEM = {"refer_type": (None, "base", "feature"), "keep_original_sound": (None, "yes", "no")}


@dataclass(frozen=True)
class KlingFrames:
    """At most one first and one end frame (``start_image_url``/``end_image_url`` or typed ``image_list``
    items), an end frame only with a first one, a ``base`` reference video (the default) never with frames,
    and at most 7 images in all (4 beside a reference video), the frames included."""

    fields: tuple[str, ...] = ("start_image_url", "end_image_url", "image_list", "video_list")

    def check(self, body: Mapping[str, Any], defaults: Mapping[str, Any]) -> None:
        images = [item for item in body.get("image_list") or () if isinstance(item, Mapping)]
        videos = [item for item in body.get("video_list") or () if isinstance(item, Mapping)]
        self._check_items(images, videos)
        types = [image.get("type") for image in images]
        first = bool(body.get("start_image_url")) + types.count("first_frame")
        end = bool(body.get("end_image_url")) + types.count("end_frame")
        if first > 1 or end > 1:
            raise InvalidInputError("image_list", "takes at most one first frame and one end frame in all")
        if end and not first:
            raise InvalidInputError("image_list", "an end frame needs a first frame")
        if videos and (videos[0].get("refer_type") or "base") == "base" and (first or end):
            raise InvalidInputError("video_list", "a base reference video cannot be combined with first or end frames")
        limit = 4 if videos else 7
        count = len(images) + bool(body.get("start_image_url")) + bool(body.get("end_image_url"))
        if count > limit:
            with_video = " beside a reference video" if videos else ""
            raise InvalidInputError("image_list", f"takes at most {limit} images{with_video}, frames included")

    @staticmethod
    def _check_items(images: list[Mapping[str, Any]], videos: list[Mapping[str, Any]]) -> None:
        for index, image in enumerate(images):
            check_url(f"image_list[{index}].image_url", image.get("image_url"))
            if image.get("type") not in KLING_IMAGE_TYPES:
                raise InvalidInputError(f"image_list[{index}].type", "must be 'first_frame' or 'end_frame'")
        for index, video in enumerate(videos):
            check_url(f"video_list[{index}].video_url", video.get("video_url"))
            for key, allowed in KLING_VIDEO_ITEM.items():
                if video.get(key) not in allowed:
                    names = ", ".join(repr(value) for value in allowed if value)
                    raise InvalidInputError(f"video_list[{index}].{key}", f"must be one of {names}")
