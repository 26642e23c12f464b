"""Provider metadata read by Airflow's ProvidersManager (no hook is imported to build the UI form)."""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_vidgen import __version__


def _conn_fields(batch_default: int) -> dict[str, Any]:
    return {
        "request_timeout": {
            "label": "Request timeout (seconds)",
            "description": "Timeout of each HTTP request to the API.",
            "schema": {"type": ["number", "null"], "minimum": 1, "default": 30},
        },
        "batch_size": {
            "label": "Batch size",
            "description": "Task ids per status request (retrieve_batch) when polling many tasks.",
            "schema": {"type": ["integer", "null"], "minimum": 1, "maximum": 100, "default": batch_default},
        },
    }


def _connection_type(
    conn_type: str, hook: str, label: str, default_host: str, extra_fields: dict[str, Any]
) -> dict[str, Any]:
    """A connection form: the password is the API token, the host an optional base URL."""
    fields = {**extra_fields, **_conn_fields(50)}
    example_extra = json.dumps({name: spec["schema"].get("default", "") for name, spec in fields.items()})
    return {
        "connection-type": conn_type,
        "hook-class-name": f"airflow_provider_vidgen.hooks.{hook}",
        "hook-name": label,
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "port", "login"],
            "relabeling": {"host": "Base URL", "password": "API token"},
            "placeholders": {"host": default_host, "password": f"{label} API token", "extra": example_extra},
        },
        "conn-fields": fields,
    }


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-vidgen",
        "name": "Video generation (Ace Data Cloud, HiDream)",
        "description": "Generate AI videos (Hailuo, Luma, Kling, Sora, Veo, Seedance, Wan, HappyHorse, "
        "HiDream) from Airflow DAGs, with deferrable batch polling.",
        "versions": [__version__],
        "integrations": [
            {"integration-name": "Ace Data Cloud", "external-doc-url": "https://platform.acedata.cloud"},
            {"integration-name": "HiDream", "external-doc-url": "https://www.hidreamai.com"},
        ],
        "operators": [
            {
                "integration-name": "Ace Data Cloud",
                "python-modules": ["airflow_provider_vidgen.operators.acedata"],
            },
            {"integration-name": "HiDream", "python-modules": ["airflow_provider_vidgen.operators.hidream"]},
        ],
        "sensors": [
            {"integration-name": "Ace Data Cloud", "python-modules": ["airflow_provider_vidgen.sensors.video"]}
        ],
        "hooks": [
            {"integration-name": "Ace Data Cloud", "python-modules": ["airflow_provider_vidgen.hooks.acedata"]},
            {"integration-name": "HiDream", "python-modules": ["airflow_provider_vidgen.hooks.hidream"]},
        ],
        "triggers": [
            {"integration-name": "Ace Data Cloud", "python-modules": ["airflow_provider_vidgen.triggers.video"]}
        ],
        "connection-types": [
            _connection_type("acedata", "acedata.AceDataHook", "Ace Data Cloud", "https://api.acedata.cloud", {}),
            _connection_type(
                "hidream",
                "hidream.HiDreamHook",
                "HiDream",
                "https://www.hidreamai.com",
                {
                    "user_id": {
                        "label": "User ID",
                        "description": "Optional end-user id, sent as the API-User-ID header.",
                        "schema": {"type": ["string", "null"]},
                    }
                },
            ),
        ],
        "extra-links": ["airflow_provider_vidgen.links.VideoLink"],
    }
