"""Hook for Ace Data Cloud (Hailuo, Luma, Kling, Sora, Veo, Seedance, Wan, HappyHorse, MiniMax, ...)."""

from __future__ import annotations

from typing import Any

from airflow_provider_vidgen.hooks.base import VideoApiHook
from airflow_provider_vidgen.vendors.acedata import ACEDATA


class AceDataHook(VideoApiHook, vendor=ACEDATA):
    """Talks to ``https://api.acedata.cloud`` (connection host overrides it); password = API token.

    :param acedata_conn_id: Airflow connection of type ``acedata``.
    """

    def __init__(self, acedata_conn_id: str = ACEDATA.default_conn_id, **kwargs: Any) -> None:
        super().__init__(acedata_conn_id, **kwargs)
