"""The connection form and the Test button, as the Airflow 3 UI sees them.

The API server app runs in-process (FastAPI TestClient on ``airflow.api_fastapi.app.create_app()``)
with ``[core] simple_auth_manager_all_admins = True`` (no login) and ``[core] test_connection =
Enabled``; the Test button calls ``POST /api/v2/connections/test``, which runs the hook's
``test_connection()`` inside the API server process.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from airflow_compat import AIRFLOW_3_2_PLUS
from conftest import TOKEN, set_connection

from airflow_provider_vidgen.hooks.acedata import AceDataHook
from airflow_provider_vidgen.hooks.hidream import HiDreamHook

VENDORS = [("acedata", AceDataHook, "Ace Data Cloud"), ("hidream", HiDreamHook, "HiDream")]


@pytest.fixture(scope="module")
def api(airflow_db) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
        patch.setenv("AIRFLOW__CORE__TEST_CONNECTION", "Enabled")
        patch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "vidgen-tests-" + "0" * 64)
        from airflow.api_fastapi.app import create_app

        with TestClient(create_app()) as client:
            # What the UI does with all_admins: a token without credentials (3.1 and 3.2 require it).
            token = client.get("/auth/token")
            assert token.status_code == 201, token.text
            client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            yield client


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_nothing_created(emulator) -> None:
    stats = emulator.stats()
    assert stats["counts"].get("submit", 0) == 0 and stats["tasks_created"] == 0, stats


# ------------------------------------------------------------------------------------------------
# the form: /ui/connections/hook_meta
# ------------------------------------------------------------------------------------------------


def test_hook_meta_declares_the_form(api):
    response = api.get("/ui/connections/hook_meta")
    assert response.status_code == 200, response.text
    meta = {item["connection_type"]: item for item in response.json()}

    for conn_type, hook, name in VENDORS:
        item = meta[conn_type]
        assert item["hook_name"] == name
        assert item["hook_class_name"] == f"{hook.__module__}.{hook.__name__}"
        fields = item["standard_fields"]
        assert fields["host"] == {"hidden": False, "title": "Base URL", "placeholder": fields["host"]["placeholder"]}
        assert fields["password"]["hidden"] is False and fields["password"]["title"] == "API token"
        for hidden in ("login", "port", "url_schema"):
            assert fields[hidden]["hidden"] is True
        extra = item["extra_fields"]
        assert extra["request_timeout"]["schema"]["title"] == "Request timeout (seconds)"
        assert extra["request_timeout"]["value"] == 30
        assert extra["batch_size"]["schema"]["title"] == "Batch size"
        if AIRFLOW_3_2_PLUS:  # declarative conn-fields; 3.1 builds the form from WTForms fields, without bounds
            assert extra["batch_size"]["schema"]["maximum"] == 100

    assert meta["acedata"]["standard_fields"]["host"]["placeholder"] == "https://api.acedata.cloud"
    assert meta["acedata"]["standard_fields"]["password"]["placeholder"] == "Ace Data Cloud API token"
    assert meta["hidream"]["standard_fields"]["host"]["placeholder"] == "https://www.hidreamai.com"
    assert meta["hidream"]["extra_fields"]["user_id"]["schema"]["title"] == "User ID"
    assert "user_id" not in meta["acedata"]["extra_fields"]


# ------------------------------------------------------------------------------------------------
# the Test button: hook.test_connection() directly, then through the API server
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("conn_type, hook_class, label", VENDORS, ids=[v[0] for v in VENDORS])
def test_test_connection_outcomes(emulator, monkeypatch, closed_port, conn_type, hook_class, label):
    set_connection(monkeypatch, "probe_ok", conn_type, emulator.url, TOKEN)
    set_connection(monkeypatch, "probe_bad", conn_type, emulator.url, "not-the-token")
    set_connection(monkeypatch, "probe_down", conn_type, f"http://127.0.0.1:{closed_port}", TOKEN)

    ok, message = hook_class("probe_ok").test_connection()
    assert ok is True and message == f"{label} accepted the API token at {emulator.url}"

    ok, message = hook_class("probe_bad").test_connection()
    code = "invalid_token" if conn_type == "acedata" else "1001"
    assert ok is False and message == f"{label} rejected the API token ({code})"

    ok, message = hook_class("probe_down").test_connection()
    assert ok is False
    assert message.startswith(f"{label} host http://127.0.0.1:{closed_port} is unreachable: ")
    assert "Connection refused" in message

    assert_nothing_created(emulator)
    counts = emulator.stats()["by_vendor"][conn_type]
    # One cheap read per test that reached the server (no retries), and the bad token was refused.
    assert (counts["retrieve"] + counts["retrieve_batch"], counts["rejected_auth"]) == (2, 1)


def test_test_connection_without_token_says_so(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_PROBE_EMPTY", json.dumps({"conn_type": "acedata", "host": "http://x"}))
    ok, message = AceDataHook("probe_empty").test_connection()
    assert ok is False and "has no API token" in message


@pytest.mark.parametrize("conn_type, hook_class, label", VENDORS, ids=[v[0] for v in VENDORS])
def test_test_button_through_the_api_server(api, emulator, closed_port, conn_type, hook_class, label):
    def press(host: str, token: str) -> dict[str, Any]:
        body = {"connection_id": f"ui_{conn_type}", "conn_type": conn_type, "host": host, "password": token}
        response = api.post("/api/v2/connections/test", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    assert press(emulator.url, TOKEN) == {
        "status": True,
        "message": f"{label} accepted the API token at {emulator.url}",
    }
    rejected = press(emulator.url, "wrong-token-123")
    assert rejected["status"] is False and f"{label} rejected the API token" in rejected["message"]
    down = press(f"http://127.0.0.1:{closed_port}", TOKEN)
    assert down["status"] is False and "is unreachable" in down["message"]
    assert_nothing_created(emulator)
