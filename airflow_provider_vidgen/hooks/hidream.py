"""Hook for the HiDream ("pixeling" v2) video API."""

from __future__ import annotations

from typing import Any

from airflow_provider_vidgen.core.vendors import HIDREAM
from airflow_provider_vidgen.hooks.base import VideoApiHook


class HiDreamHook(VideoApiHook):
    """Talks to ``https://www.hidreamai.com`` (connection host overrides it); password = token.

    The optional extra ``user_id`` is sent as the ``API-User-ID`` header.

    :param hidream_conn_id: Airflow connection of type ``hidream``.
    """

    vendor = HIDREAM
    conn_name_attr = HIDREAM.conn_id_param
    default_conn_name = HIDREAM.default_conn_id
    conn_type = HIDREAM.conn_type
    hook_name = HIDREAM.label

    def __init__(self, hidream_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(conn_id=hidream_conn_id, **kwargs)
        self.hidream_conn_id = hidream_conn_id
