"""Generation operators for any registered vendor, named by ``vendor=``: what a new vendor runs through
before (or instead of) having typed operators of its own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_vidgen.core.vendor import get_vendor
from airflow_provider_vidgen.operators.base import BaseVideoOperator
from airflow_provider_vidgen.operators.batch import BaseBatchVideoOperator, raw_bodies


class VideoGenerationOperator(BaseVideoOperator):
    """Generate a video with any registered vendor's service.

    :param vendor: the vendor's registered name, e.g. ``acedata`` or ``hidream``.
    :param service: the vendor's service (e.g. ``hailuo``, or HiDream's ``txt2video`` module).
    :param body: the request fields as the service documents them.
    :param conn_id: the vendor's connection (default: ``<connection type>_default``).

    Returns (XCom) the normalized result, as every generation operator does.
    """

    template_fields: Sequence[str] = ("service", "body", "conn_id")
    template_fields_renderers = {"body": "json"}
    conn_id: str = ""  # this operator's own parameter (the vendor-named ones spell it e.g. acedata_conn_id)

    def __init__(
        self,
        *,
        vendor: str,
        service: str,
        body: dict[str, Any] | None = None,
        conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.vendor = get_vendor(vendor)  # type: ignore[misc]
        self.service = service
        self.body = body or {}
        self.conn_id = conn_id or self.vendor.default_conn_id

    def request_body(self) -> dict[str, Any]:
        return dict(self.body)


class BatchVideoGenerationOperator(BaseBatchVideoOperator):
    """Generate a batch of videos with any registered vendor's service, in one task.

    :param vendor: the vendor's registered name, e.g. ``acedata`` or ``hidream``.
    :param service: the vendor's service.
    :param bodies: one request body per video.
    :param conn_id: the vendor's connection (default: ``<connection type>_default``); its extra
        ``max_requests_per_second`` paces the submissions.

    Returns (XCom) one normalized result per body, in input order, each with ``index`` and ``prompt``.
    """

    items_param = "bodies"
    template_fields: Sequence[str] = ("service", "bodies", "conn_id")
    template_fields_renderers = {"bodies": "json"}
    conn_id: str = ""

    def __init__(
        self, *, vendor: str, service: str, bodies: list[dict[str, Any]], conn_id: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.vendor = get_vendor(vendor)  # type: ignore[misc]
        self.service = service
        self.bodies = bodies
        self.conn_id = conn_id or self.vendor.default_conn_id

    def item_lists(self) -> dict[str, Any]:
        return {"bodies": self.bodies}

    def item_bodies(self) -> list[dict[str, Any]]:
        return raw_bodies(self.bodies, self.max_items, {})
