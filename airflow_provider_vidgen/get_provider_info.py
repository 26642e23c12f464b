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
        "max_requests_per_second": {
            "label": "Max requests per second",
            "description": "Batch operators send their submissions no faster than this (per task).",
            "schema": {"type": ["number", "null"], "minimum": 0.1, "default": 10},
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
        # The service families of core.acedata.SERVICES in table order, then HiDream (tests/test_provider.py).
        "description": "Generate AI videos (Hailuo, Luma, Kling, Sora, Veo, Seedance, Wan, HappyHorse, MiniMax, "
        "Grok Imagine, Dreamina OmniHuman, Digital Human, Maestro, Gemini, Flux, Midjourney, HiDream) from Airflow "
        "DAGs, with deferrable batch polling.",
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


def connection_type_info(conn_type: str) -> dict[str, Any]:
    """The ``connection-types`` entry of ``conn_type`` (the one source of the connection form)."""
    return next(item for item in get_provider_info()["connection-types"] if item["connection-type"] == conn_type)


def ui_field_behaviour(conn_type: str) -> dict[str, Any]:
    """The form's standard fields in the shape of ``get_ui_field_behaviour()`` (Airflow < 3.2)."""
    behaviour = connection_type_info(conn_type)["ui-field-behaviour"]
    return {
        "hidden_fields": list(behaviour["hidden-fields"]),
        "relabeling": dict(behaviour["relabeling"]),
        "placeholders": dict(behaviour["placeholders"]),
    }


def connection_form_widgets(conn_type: str) -> dict[str, Any]:
    """The form's extra fields as WTForms fields, ``get_connection_form_widgets()`` (Airflow < 3.2).

    Airflow 3.1's API server mocks WTForms and reads label, description, default and type from them.
    """
    from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import IntegerField, StringField
    from wtforms.validators import Optional

    widgets: dict[str, Any] = {}
    for name, spec in connection_type_info(conn_type)["conn-fields"].items():
        field = IntegerField if "integer" in spec["schema"]["type"] else StringField
        widgets[name] = field(
            lazy_gettext(spec["label"]),
            validators=[Optional()],
            description=spec["description"],
            default=spec["schema"].get("default"),
            widget=BS3TextFieldWidget(),
        )
    return widgets
