"""Ace Data Cloud (Hailuo, Luma, Kling, Sora, Veo, Seedance, Wan, MiniMax and more behind one token)."""

from airflow_provider_vidgen.vendors.acedata.vendor import ACEDATA, AceData

__all__ = ["ACEDATA", "AceData"]
