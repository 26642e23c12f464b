"""An auth manager for the Videos view tests: Airflow's simple auth manager, plus per-DAG read access as
the FAB auth manager grants it (the simple one lets every role read every DAG). A user named
``reader_of_<dag_id>`` may read that DAG only; ``run_reader_of_<dag_id>`` its runs but not their XComs."""

from __future__ import annotations

from typing import Any

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

PREFIX = "reader_of_"
RUNS_ONLY = "run_reader_of_"


class PerDagSimpleAuthManager(SimpleAuthManager):
    def is_authorized_dag(self, *, method: Any, user: Any, access_entity: Any = None, details: Any = None) -> bool:
        from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity

        name = user.get_name()
        if name.startswith(RUNS_ONLY):
            wanted = method == "GET" and details is not None and details.id == name[len(RUNS_ONLY) :]
            return wanted and access_entity != DagAccessEntity.XCOM
        if name.startswith(PREFIX):
            return method == "GET" and details is not None and details.id == name[len(PREFIX) :]
        return super().is_authorized_dag(method=method, user=user, access_entity=access_entity, details=details)
