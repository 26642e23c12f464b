"""Provider metadata read by Airflow's ProvidersManager, derived from the vendor objects (no hook is
imported to build the connection form)."""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_vidgen import __version__

# The service families of each vendor's table, as people name them (tests/test_provider.py holds the
# description to the tables: each family once, in table order).
FAMILY_LABELS = {
    "hailuo": "Hailuo", "luma": "Luma", "kling": "Kling", "sora": "Sora", "veo": "Veo", "seedance": "Seedance",
    "wan": "Wan", "happyhorse": "HappyHorse", "minimax": "MiniMax", "grok": "Grok Imagine",
    "dreamina": "Dreamina OmniHuman", "digital-human": "Digital Human", "maestro": "Maestro", "gemini": "Gemini",
    "flux": "Flux", "midjourney": "Midjourney", "kickart": "Kickart", "hidream": "HiDream",
}  # fmt: skip


def _vendors() -> list[Any]:
    from airflow_provider_vidgen.core.vendor import BUILT_IN, get_vendor

    return [get_vendor(name) for name in BUILT_IN]


def _exists(module: str) -> bool:
    from importlib.util import find_spec

    return find_spec(module) is not None


def service_families(vendor: Any) -> list[str]:
    """A vendor's service families in table order (a family is the tasks endpoint services share)."""
    if len({spec.poll_path.split("/")[1] for spec in vendor.services.values()}) <= 1:
        return [vendor.name]  # one API family (HiDream): the vendor's own name
    return list(dict.fromkeys(spec.poll_path.split("/")[1] for spec in vendor.services.values()))


def connection_type(vendor: Any) -> dict[str, Any]:
    """A vendor's connection form: the password is the API token, the host an optional base URL."""
    from airflow_provider_vidgen.core.settings import CALLBACK_FIELD, COMMON_CONNECTION_FIELDS

    callbacks = (CALLBACK_FIELD,) if vendor.callback_field else ()
    fields = {
        field.name: {"label": field.label, "description": field.description, "schema": dict(field.schema)}
        for field in (*vendor.connection_fields, *COMMON_CONNECTION_FIELDS, *callbacks)
    }
    example_extra = json.dumps({name: spec["schema"].get("default", "") for name, spec in fields.items()})
    return {
        "connection-type": vendor.conn_type,
        "hook-class-name": vendor.hook_class_name,
        "hook-name": vendor.label,
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "port", "login"],
            "relabeling": {"host": "Base URL", "password": "API token"},
            "placeholders": {
                "host": vendor.default_host,
                "password": f"{vendor.label} API token",
                "extra": example_extra,
            },
        },
        "conn-fields": fields,
    }


def get_provider_info() -> dict[str, Any]:
    vendors = _vendors()
    families = [FAMILY_LABELS.get(family, family) for vendor in vendors for family in service_families(vendor)]
    labels = [vendor.label for vendor in vendors]
    acedata = labels[0]
    return {
        "package-name": "airflow-provider-vidgen",
        "name": f"Video generation ({', '.join(labels)})",
        "description": f"Generate AI videos ({', '.join(families)}) from Airflow DAGs, with deferrable batch polling.",
        "versions": [__version__],
        "integrations": [
            {"integration-name": vendor.label, "external-doc-url": vendor.docs_url or vendor.default_host}
            for vendor in vendors
        ],
        "operators": [
            {"integration-name": vendor.label, "python-modules": [module]}
            for vendor in vendors
            if _exists(module := f"airflow_provider_vidgen.operators.{vendor.name}")  # typed operators: optional
        ]
        + [{"integration-name": acedata, "python-modules": ["airflow_provider_vidgen.operators.generic"]}],
        "sensors": [{"integration-name": acedata, "python-modules": ["airflow_provider_vidgen.sensors.video"]}],
        "hooks": [
            {"integration-name": vendor.label, "python-modules": [vendor.hook_class.partition(":")[0]]}
            for vendor in vendors
            if vendor.hook_class  # else a hook class is derived from the vendor
        ],
        "triggers": [{"integration-name": acedata, "python-modules": ["airflow_provider_vidgen.triggers.video"]}],
        "connection-types": [connection_type(vendor) for vendor in vendors],
        "extra-links": [
            "airflow_provider_vidgen.links.VideoLink",
            "airflow_provider_vidgen.links.TaskVideosLink",
            "airflow_provider_vidgen.links.RunVideosLink",
        ],
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
