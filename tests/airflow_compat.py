"""Test-only imports that moved between the Airflow lines the suite runs on (3.1, 3.2, 3.3)."""

from __future__ import annotations

from importlib.metadata import version

from packaging.version import Version

AIRFLOW_VERSION = Version(version("apache-airflow")).release
AIRFLOW_3_2_PLUS = AIRFLOW_VERSION >= (3, 2)
AIRFLOW_3_3_PLUS = AIRFLOW_VERSION >= (3, 3)  # task_state_store: reattach on retry

try:  # Airflow >= 3.2
    from airflow.sdk import serde
except ImportError:
    from airflow.serialization import serde  # type: ignore[no-redef]

try:  # Airflow >= 3.2
    from airflow.dag_processing.dagbag import DagBag
except ImportError:
    from airflow.models.dagbag import DagBag  # type: ignore[no-redef,attr-defined]


def provider_hooks() -> dict:
    """The hooks Airflow's providers registry knows, by connection type, without deprecated API:
    Airflow 3.3 moved them to the task SDK's runtime registry (``ProvidersManager.hooks`` warns)."""
    try:  # Airflow >= 3.3
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime as Manager
    except ImportError:
        from airflow.providers_manager import ProvidersManager as Manager  # type: ignore[no-redef]
    return dict(Manager().hooks)


__all__ = ["AIRFLOW_3_2_PLUS", "AIRFLOW_3_3_PLUS", "AIRFLOW_VERSION", "DagBag", "provider_hooks", "serde"]
