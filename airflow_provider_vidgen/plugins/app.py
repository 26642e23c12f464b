"""The FastAPI app the plugin mounts on the API server at ``/vidgen``."""

from __future__ import annotations

from fastapi import FastAPI

from airflow_provider_vidgen import __version__
from airflow_provider_vidgen.plugins import callbacks, videos

app = FastAPI(title="airflow-provider-vidgen", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
app.include_router(callbacks.router)  # no Airflow auth: a vendor posts here; its ticket is the credential
app.include_router(videos.router)  # Airflow's auth: read access to the DAG's runs
app.add_exception_handler(videos.StarletteHTTPException, videos.browser_error)  # type: ignore[arg-type]
