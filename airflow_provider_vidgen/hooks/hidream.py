"""Hook for the HiDream ("pixeling" v2 and v3) video API."""

from __future__ import annotations

from typing import Any

from airflow_provider_vidgen.hooks.base import VideoApiHook
from airflow_provider_vidgen.vendors.hidream import HIDREAM


class HiDreamHook(VideoApiHook, vendor=HIDREAM):
    """Talks to ``https://www.hidreamai.com`` (connection host overrides it); password = token.

    The optional extra ``user_id`` is sent as the ``API-User-ID`` header.

    :param hidream_conn_id: Airflow connection of type ``hidream``.
    """

    def __init__(self, hidream_conn_id: str = HIDREAM.default_conn_id, **kwargs: Any) -> None:
        super().__init__(hidream_conn_id, **kwargs)
