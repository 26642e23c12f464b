"""The Airflow plugin of the provider. Cheap to import: every process that loads plugins (workers load them
for every task) imports this module, so the FastAPI app is built only where it is asked for, in the API
server."""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/vidgen"
VIDEOS_ROUTE = "videos"  # the run page's tab: /dags/<dag>/runs/<run>/plugin/videos


class _LazyFastAPIApps:
    """``fastapi_apps``, importing the app only when the API server reads it."""

    def __get__(self, obj: Any, owner: Any) -> list[dict[str, Any]]:
        from airflow_provider_vidgen.plugins.app import app
        from airflow_provider_vidgen.plugins.confirmer import CONFIRMER

        CONFIRMER.ensure_started()  # the API server: confirms the claims other servers recorded too
        return [{"app": app, "url_prefix": URL_PREFIX, "name": "airflow-provider-vidgen"}]


class VidgenPlugin(AirflowPlugin):
    """Serves the vendor-callback receiver (``POST /vidgen/callbacks/...``) and a run's Videos view
    (``/vidgen/dags/<dag>/runs/<run>/videos``, a tab on the DAG run page) from the API server."""

    name = "airflow-provider-vidgen"
    fastapi_apps = _LazyFastAPIApps()  # type: ignore[assignment]
    # Path segments, not a query: Airflow 3.1 substitutes the ids unencoded, and a run id has "+" and ":".
    external_views = [
        {
            "name": "Videos",
            "href": f"{URL_PREFIX}/dags/{{DAG_ID}}/runs/{{RUN_ID}}/videos",
            "destination": "dag_run",
            "url_route": VIDEOS_ROUTE,
        }
    ]
