"""Ace Data Cloud generation operators: one generic, plus typed ones with named parameters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_vidgen.core.vendors import ACEDATA
from airflow_provider_vidgen.operators.base import BaseVideoOperator


class AceDataVideoOperator(BaseVideoOperator):
    """Generate a video with any Ace Data Cloud service.

    :param service: the Ace Data service, e.g. ``hailuo``, ``kling`` or ``veo``: every one is in the
        README's table of services, and an unknown name fails listing the known ones.
    :param body: the request fields as the service documents them (``async`` is added for you).
    :param callback_url: https URL the platform POSTs the final result to (optional).
    :param acedata_conn_id: connection of type ``acedata``.

    Returns (XCom) the normalized result: ``task_id``, ``service``, ``vendor``, ``state``,
    ``progress``, ``videos`` (``url``, ``thumbnail_url``, ``width``, ``height``, ``video_id``), ``error``.
    """

    vendor = ACEDATA
    conn_id_attr = "acedata_conn_id"
    template_fields: Sequence[str] = ("service", "body", "callback_url", "acedata_conn_id")
    template_fields_renderers = {"body": "json"}

    def __init__(
        self,
        *,
        service: str,
        body: dict[str, Any] | None = None,
        callback_url: str | None = None,
        acedata_conn_id: str = "acedata_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(conn_id=acedata_conn_id, **kwargs)
        self.service = service
        self.body = body or {}
        self.callback_url = callback_url
        self.acedata_conn_id = acedata_conn_id

    def service_name(self) -> str:
        return self.service

    def request_body(self) -> dict[str, Any]:
        body = dict(self.body) if self.body else super().request_body()
        if self.callback_url:
            body["callback_url"] = self.callback_url
        return body


class _NamedFieldsOperator(AceDataVideoOperator):
    """A typed operator: its named parameters (``service_fields``) are the service's request fields."""


class HailuoVideoOperator(_NamedFieldsOperator):
    """Hailuo (MiniMax) text-to-video and image-to-video.

    :param prompt: what to generate.
    :param model: ``minimax-t2v`` (default), ``minimax-i2v`` or ``minimax-i2v-director``; the i2v
        models need ``first_image_url``.
    :param first_image_url: the first frame for the i2v models (an http(s) URL; base64 is not accepted).
    """

    service_fields = ("prompt", "model", "first_image_url")
    template_fields: Sequence[str] = (*service_fields, "callback_url", "acedata_conn_id")

    def __init__(
        self,
        *,
        prompt: str,
        model: str = "minimax-t2v",
        first_image_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(service="hailuo", **kwargs)
        self.prompt = prompt
        self.model = model
        self.first_image_url = first_image_url

    def request_body(self) -> dict[str, Any]:
        return {"action": "generate", **super().request_body()}


class LumaVideoOperator(_NamedFieldsOperator):
    """Luma Dream Machine: generate (from a prompt and/or start/end frames) or extend a video.

    :param prompt: what to generate (optional with start/end frames).
    :param action: ``generate`` (default) or ``extend`` (needs ``video_id`` or ``video_url``).
    :param aspect_ratio: e.g. ``16:9``, ``9:16``, ``1:1``, ``4:3``, ``3:4``, ``21:9``, ``9:21``.
    :param loop: make the video loop seamlessly.
    :param enhancement: let Luma enhance the prompt (the API's default is true).
    :param start_image_url: the first frame (http(s) URL).
    :param end_image_url: the last frame (http(s) URL).
    :param video_id: the Luma video to extend (``action="extend"``).
    :param video_url: or the URL of the video to extend.
    """

    service_fields = (
        "prompt", "action", "aspect_ratio", "loop", "enhancement",
        "start_image_url", "end_image_url", "video_id", "video_url",
    )  # fmt: skip
    template_fields: Sequence[str] = (*service_fields, "callback_url", "acedata_conn_id")

    def __init__(
        self,
        *,
        prompt: str | None = None,
        action: str = "generate",
        aspect_ratio: str | None = None,
        loop: bool | None = None,
        enhancement: bool | None = None,
        start_image_url: str | None = None,
        end_image_url: str | None = None,
        video_id: str | None = None,
        video_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(service="luma", **kwargs)
        self.prompt = prompt
        self.action = action
        self.aspect_ratio = aspect_ratio
        self.loop = loop
        self.enhancement = enhancement
        self.start_image_url = start_image_url
        self.end_image_url = end_image_url
        self.video_id = video_id
        self.video_url = video_url
