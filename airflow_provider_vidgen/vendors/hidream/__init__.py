"""HiDream ("pixeling" v2 and v3 video modules)."""

from airflow_provider_vidgen.vendors.hidream.vendor import HIDREAM, HiDream

__all__ = ["HIDREAM", "HiDream"]
