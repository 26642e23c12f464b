"""Ace Data Cloud generation operators: one generic, plus typed ones with named parameters; each also as a batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_vidgen.core.batch import check_items
from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.core.vendors import ACEDATA, is_literal
from airflow_provider_vidgen.operators.base import BaseVideoOperator
from airflow_provider_vidgen.operators.batch import BaseBatchVideoOperator


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
    template_fields: Sequence[str] = ("service", "body", "callback_url", "acedata_conn_id")
    template_fields_renderers = {"body": "json"}

    def __init__(
        self,
        *,
        service: str,
        body: dict[str, Any] | None = None,
        callback_url: str | None = None,
        acedata_conn_id: str = ACEDATA.default_conn_id,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.service = service
        self.body = body or {}
        self.callback_url = callback_url
        self.acedata_conn_id = acedata_conn_id

    def request_body(self) -> dict[str, Any]:
        body = dict(self.body) if self.body else super().request_body()
        if self.callback_url:
            body["callback_url"] = self.callback_url
        return body


# Why a typed operator refuses the generic operator's parameters (a silently ignored body would
# generate something other than what the DAG says).
TYPED_REFUSES = {
    "body": "its request fields are its named parameters; for a raw request body use "
    "AceDataVideoOperator(service=..., body=...)",
    "service": "it always calls its own service; for another one use AceDataVideoOperator(service=...)",
}
TYPED_BATCH_REFUSES = {
    "bodies": "its per-item lists and shared fields are its named parameters; for raw request bodies use "
    "AceDataBatchVideoOperator(service=..., bodies=[...])",
    "service": "it always calls its own service; for another one use AceDataBatchVideoOperator(service=...)",
}


class _NamedFieldsOperator(AceDataVideoOperator):
    """A typed operator: its named parameters (``service_fields``) are the service's request fields."""

    refused_parameters = TYPED_REFUSES


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


class AceDataBatchVideoOperator(BaseBatchVideoOperator):
    """Generate a batch of videos with one Ace Data Cloud service, in one task.

    :param service: the Ace Data service, e.g. ``hailuo``, ``kling`` or ``veo`` (the README's table).
    :param bodies: one request body per video, as the service documents them (``async`` is added for you).
    :param callback_url: https URL the platform POSTs each final result to (optional, sent with every item).
    :param acedata_conn_id: connection of type ``acedata``; its extra ``max_requests_per_second`` paces the
        submissions.

    Returns (XCom) one normalized result per body, in input order (see :class:`AceDataVideoOperator`),
    each with ``index`` and ``prompt``.
    """

    vendor = ACEDATA
    items_param = "bodies"
    template_fields: Sequence[str] = ("service", "bodies", "callback_url", "acedata_conn_id")
    template_fields_renderers = {"bodies": "json"}

    def __init__(
        self,
        *,
        service: str,
        bodies: list[dict[str, Any]],
        callback_url: str | None = None,
        acedata_conn_id: str = ACEDATA.default_conn_id,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.service = service
        self.bodies = bodies
        self.callback_url = callback_url
        self.acedata_conn_id = acedata_conn_id

    def _literal_lists(self) -> bool:
        return is_literal(self.bodies)

    def fixed_fields(self) -> dict[str, Any]:
        return {"callback_url": self.callback_url} if self.callback_url else {}

    def item_bodies(self) -> list[dict[str, Any]]:
        bodies = check_items(self.bodies, "bodies", self.max_items)
        for index, body in enumerate(bodies):
            if not isinstance(body, dict):
                raise InvalidInputError(f"bodies[{index}]", f"must be a dict of request fields, got {body!r}")
        return [{**body, **self.fixed_fields()} for body in bodies]  # type: ignore[dict-item]


class _NamedFieldsBatchOperator(AceDataBatchVideoOperator):
    """A typed batch: per-item lists (``item_fields``) and shared named parameters (``service_fields``)."""

    refused_parameters = TYPED_BATCH_REFUSES

    def __init__(self, *, service: str, **kwargs: Any) -> None:
        super().__init__(service=service, bodies=[], **kwargs)

    # Per-item lists, as the base batch reads them (not the generic ``bodies``).
    _literal_lists = BaseBatchVideoOperator._literal_lists
    item_bodies = BaseBatchVideoOperator.item_bodies

    def fixed_fields(self) -> dict[str, Any]:
        return {**BaseBatchVideoOperator.fixed_fields(self), **super().fixed_fields()}


class HailuoBatchVideoOperator(_NamedFieldsBatchOperator):
    """A batch of Hailuo (MiniMax) videos in one task: one per prompt.

    :param prompts: what to generate, one video per prompt.
    :param model: ``minimax-t2v`` (default), ``minimax-i2v`` or ``minimax-i2v-director`` (for every item).
    :param first_image_urls: the first frame of each item for the i2v models (one http(s) URL per prompt).
    """

    service_fields = ("model",)
    item_fields = {"prompts": "prompt", "first_image_urls": "first_image_url"}
    template_fields: Sequence[str] = ("prompts", "model", "first_image_urls", "callback_url", "acedata_conn_id")

    def __init__(
        self,
        *,
        prompts: list[str],
        model: str = "minimax-t2v",
        first_image_urls: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(service="hailuo", **kwargs)
        self.prompts = prompts
        self.model = model
        self.first_image_urls = first_image_urls

    def fixed_fields(self) -> dict[str, Any]:
        return {"action": "generate", **super().fixed_fields()}


class LumaBatchVideoOperator(_NamedFieldsBatchOperator):
    """A batch of Luma Dream Machine videos in one task: one per prompt.

    :param prompts: what to generate, one video per prompt.
    :param aspect_ratio: e.g. ``16:9`` (for every item).
    :param loop: make the videos loop seamlessly.
    :param enhancement: let Luma enhance the prompts.
    :param start_image_urls: the first frame of each item (one http(s) URL per prompt, optional).
    """

    service_fields = ("aspect_ratio", "loop", "enhancement")
    item_fields = {"prompts": "prompt", "start_image_urls": "start_image_url"}
    template_fields: Sequence[str] = (
        "prompts", "aspect_ratio", "loop", "enhancement", "start_image_urls", "callback_url", "acedata_conn_id",
    )  # fmt: skip

    def __init__(
        self,
        *,
        prompts: list[str],
        aspect_ratio: str | None = None,
        loop: bool | None = None,
        enhancement: bool | None = None,
        start_image_urls: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(service="luma", **kwargs)
        self.prompts = prompts
        self.aspect_ratio = aspect_ratio
        self.loop = loop
        self.enhancement = enhancement
        self.start_image_urls = start_image_urls

    def fixed_fields(self) -> dict[str, Any]:
        return {"action": "generate", **super().fixed_fields()}
