"""Packaging: Airflow discovers the provider, its connection types and the trigger; imports stay cheap."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

from airflow_compat import provider_hooks

from airflow_provider_vidgen.get_provider_info import get_provider_info


def test_provider_is_listed_by_airflow():
    out = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "list", "-o", "json"], check=True, capture_output=True, text=True
    ).stdout
    packages = {item["package_name"] for item in json.loads(out[out.index("[") :])}
    assert "airflow-provider-vidgen" in packages


def test_connection_types_and_form_metadata():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no deprecated registry API in the suite's own code
        hooks = provider_hooks()
    assert hooks["acedata"].hook_class_name == "airflow_provider_vidgen.hooks.acedata.AceDataHook"
    assert hooks["hidream"].hook_class_name == "airflow_provider_vidgen.hooks.hidream.HiDreamHook"
    info = {item["connection-type"]: item for item in get_provider_info()["connection-types"]}
    assert info["acedata"]["ui-field-behaviour"]["relabeling"]["password"] == "API token"
    assert set(info["acedata"]["conn-fields"]) == {
        "request_timeout",
        "batch_size",
        "max_requests_per_second",
        "max_polls_per_second",
        "max_in_flight",
        "submit_rates",
        "shared_pace",
        "callback_base_url",
    }
    assert set(info["hidream"]["conn-fields"]) == {
        "user_id",
        "request_timeout",
        "batch_size",
        "max_requests_per_second",
        "max_polls_per_second",
        "max_in_flight",
        "submit_rates",
        "shared_pace",
        "callback_base_url",
    }


def test_public_modules_do_not_import_http_clients_or_emulator():
    code = (
        "import sys, airflow.sdk\n"
        "before = set(sys.modules)\n"
        "import airflow_provider_vidgen.operators.acedata, airflow_provider_vidgen.operators.hidream\n"
        "import airflow_provider_vidgen.sensors.video\n"
        "new = set(sys.modules) - before\n"
        "print(sorted(m for m in new if m.startswith(('airflow_provider_vidgen.emulator', "
        "'airflow_provider_vidgen.hooks', 'airflow_provider_vidgen.triggers', 'starlette', 'uvicorn', "
        "'airflow.triggers'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_provider_description_names_every_service_family_of_the_table():
    """The provider info's service list equals the table: each family once, in table order, then HiDream."""
    import re

    from airflow_provider_vidgen.vendors.acedata import ACEDATA
    from airflow_provider_vidgen.vendors.hidream import HIDREAM

    families = list(dict.fromkeys(spec.poll_path.split("/")[1] for spec in ACEDATA.services.values()))
    families += list(dict.fromkeys(spec.vendor for spec in HIDREAM.services.values()))
    listed = re.search(r"\(([^)]*)\)", get_provider_info()["description"])
    assert listed, "the provider description lost its service list"
    labels = [label.strip() for label in listed.group(1).split(",")]
    assert len(labels) == len(families), (labels, families)
    for label, family in zip(labels, families, strict=True):
        assert label.lower().replace(" ", "").startswith(family.replace("-", "")), (label, family)
