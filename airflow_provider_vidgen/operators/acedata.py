"""Ace Data Cloud generation operators: one generic, plus typed ones with named parameters; each also as a batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_vidgen.operators.base import BaseVideoOperator
from airflow_provider_vidgen.operators.batch import BaseBatchVideoOperator, raw_bodies
from airflow_provider_vidgen.vendors.acedata import ACEDATA

HAILUO, LUMA = ACEDATA.services["hailuo"], ACEDATA.services["luma"]


class AceDataVideoOperator(BaseVideoOperator):
    """Generate a video with any Ace Data Cloud service.

    :param service: the Ace Data service, e.g. ``hailuo``, ``kling`` or ``veo``: every one is in the
        service list of docs/operators.md, and an unknown name fails listing the known ones.
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
        if self.body and not isinstance(self.body, Mapping):
            return self.body  # type: ignore[return-value]  # from upstream XCom (parse time): checked when run
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
    sent_defaults = ("action",)
    template_fields: Sequence[str] = (*service_fields, "callback_url", "acedata_conn_id")

    def __init__(
        self,
        *,
        prompt: str,
        model: str = HAILUO.defaults["model"],
        first_image_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(service=HAILUO.name, **kwargs)
        self.prompt = prompt
        self.model = model
        self.first_image_url = first_image_url


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
        action: str = LUMA.defaults["action"],
        aspect_ratio: str | None = None,
        loop: bool | None = None,
        enhancement: bool | None = None,
        start_image_url: str | None = None,
        end_image_url: str | None = None,
        video_id: str | None = None,
        video_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(service=LUMA.name, **kwargs)
        self.prompt = prompt
        self.action = action
        self.aspect_ratio = aspect_ratio
        self.loop = loop
        self.enhancement = enhancement
        self.start_image_url = start_image_url
        self.end_image_url = end_image_url
        self.video_id = video_id
        self.video_url = video_url


class _AceDataBatch(BaseBatchVideoOperator):
    """What every Ace Data batch takes besides its items: the callback URL and the connection.

    :param callback_url: https URL the platform POSTs each final result to (optional, sent with every item).
    :param acedata_conn_id: connection of type ``acedata``; its extra ``max_requests_per_second`` paces the
        submissions.
    """

    vendor = ACEDATA

    def __init__(
        self, *, callback_url: str | None = None, acedata_conn_id: str = ACEDATA.default_conn_id, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.callback_url = callback_url
        self.acedata_conn_id = acedata_conn_id

    def fixed_fields(self) -> dict[str, Any]:
        fields = super().fixed_fields()
        if self.callback_url:
            fields["callback_url"] = self.callback_url
        return fields


class AceDataBatchVideoOperator(_AceDataBatch):
    """Generate a batch of videos with one Ace Data Cloud service, in one task.

    :param service: the Ace Data service, e.g. ``hailuo``, ``kling`` or ``veo`` (docs/operators.md lists them).
    :param bodies: one request body per video, as the service documents them (``async`` is added for you).
    :param callback_url: https URL the platform POSTs each final result to (optional, sent with every item).
    :param acedata_conn_id: connection of type ``acedata``; its extra ``max_requests_per_second`` paces the
        submissions.

    Returns (XCom) one normalized result per body, in input order (see :class:`AceDataVideoOperator`),
    each with ``index`` and ``prompt``.
    """

    items_param = "bodies"
    template_fields: Sequence[str] = ("service", "bodies", "callback_url", "acedata_conn_id")
    template_fields_renderers = {"bodies": "json"}

    def __init__(self, *, service: str, bodies: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service = service
        self.bodies = bodies

    def item_lists(self) -> dict[str, Any]:
        return {"bodies": self.bodies}

    def item_bodies(self) -> list[dict[str, Any]]:
        return raw_bodies(self.bodies, self.max_items, self.fixed_fields())


class _NamedFieldsBatchOperator(_AceDataBatch):
    """A typed batch: per-item lists (``item_fields``) and shared named parameters (``shared_fields``)."""

    refused_parameters = TYPED_BATCH_REFUSES

    def __init__(self, *, service: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service = service


class HailuoBatchVideoOperator(_NamedFieldsBatchOperator):
    """A batch of Hailuo (MiniMax) videos in one task: one per prompt.

    :param prompts: what to generate, one video per prompt.
    :param model: ``minimax-t2v`` (default), ``minimax-i2v`` or ``minimax-i2v-director`` (for every item).
    :param first_image_urls: the first frame of each item for the i2v models (one http(s) URL per prompt).
    """

    shared_fields = ("model",)
    sent_defaults = ("action",)
    item_fields = {"prompts": "prompt", "first_image_urls": "first_image_url"}
    template_fields: Sequence[str] = ("prompts", "model", "first_image_urls", "callback_url", "acedata_conn_id")

    def __init__(
        self,
        *,
        prompts: list[str],
        model: str = HAILUO.defaults["model"],
        first_image_urls: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(service=HAILUO.name, **kwargs)
        self.prompts = prompts
        self.model = model
        self.first_image_urls = first_image_urls


class LumaBatchVideoOperator(_NamedFieldsBatchOperator):
    """A batch of Luma Dream Machine videos in one task: one per prompt.

    :param prompts: what to generate, one video per prompt.
    :param aspect_ratio: e.g. ``16:9`` (for every item).
    :param loop: make the videos loop seamlessly.
    :param enhancement: let Luma enhance the prompts.
    :param start_image_urls: the first frame of each item (one http(s) URL per prompt, optional).
    """

    shared_fields = ("aspect_ratio", "loop", "enhancement")
    sent_defaults = ("action",)
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
        super().__init__(service=LUMA.name, **kwargs)
        self.prompts = prompts
        self.aspect_ratio = aspect_ratio
        self.loop = loop
        self.enhancement = enhancement
        self.start_image_urls = start_image_urls
