"""Hook for Ace Data Cloud (Hailuo, Luma, Kling, Sora, Veo, Seedance, Wan, HappyHorse, MiniMax)."""

from __future__ import annotations

from typing import Any

from airflow_provider_vidgen.core.vendors import ACEDATA
from airflow_provider_vidgen.hooks.base import VideoApiHook


class AceDataHook(VideoApiHook):
    """Talks to ``https://api.acedata.cloud`` (connection host overrides it); password = API token.

    :param acedata_conn_id: Airflow connection of type ``acedata``.
    """

    vendor = ACEDATA
    conn_name_attr = ACEDATA.conn_id_param
    default_conn_name = ACEDATA.default_conn_id
    conn_type = ACEDATA.conn_type
    hook_name = ACEDATA.label

    def __init__(self, acedata_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(conn_id=acedata_conn_id, **kwargs)
        self.acedata_conn_id = acedata_conn_id
