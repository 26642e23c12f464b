"""Test setup: a throw-away AIRFLOW_HOME with a migrated SQLite DB, and a real emulator on loopback.

Environment is set before Airflow is imported anywhere, so every test (and every dag.test() run)
uses this home and never a developer's own ~/airflow.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"  # a copy of ../shared/fixtures, so the suite runs anywhere
TOKEN = "test-token-5ec2e7"

_home = Path(tempfile.mkdtemp(prefix="vidgen-airflow-home-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "tests" / "dags"),  # dag.test() needs the file in here
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    }
)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Migrate the SQLite metadata DB once per session (needed by dag.test())."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)
    return _home


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[object]:
    from airflow_provider_vidgen.emulator import EmulatorServer

    with EmulatorServer(token=TOKEN, queued_seconds=0.2, running_seconds=0.3) as server:
        yield server


@pytest.fixture
def emulator(emulator_server, monkeypatch) -> Iterator[object]:
    """The session emulator, reset, with both default connections pointing at it."""
    reset_emulator(emulator_server)
    for conn_id, conn_type in (("acedata_default", "acedata"), ("hidream_default", "hidream")):
        set_connection(monkeypatch, conn_id, conn_type, emulator_server.url, TOKEN)
    yield emulator_server


def reset_emulator(emulator_server: object) -> None:
    emulator_server.reset()
    emulator_server.configure(
        queued_seconds=0.2, running_seconds=0.3, rate_limit=0, fail_429_rate=0, fail_500_rate=0,
        fail_502_rate=0, drop_rate=0, ambiguous_submit_rate=0, latency=0, unknown_404=False, refuse_search=False,
        callback_loss_rate=0, callback_duplicates=0, callback_delay=0, hidream_notify_shape="sub_task_results",
        balance_submissions=None, enforce_limits=False, submit_latency=0,
    )  # fmt: skip


# The emulator answers as fast as it can and the suite's tests share one token: a fast pace unless a test
# sets its own (tests/test_pace.py and the batch tests measure pacing on purpose).
# Tests run at full speed: no pace of their own on the token, nor the published per-service submit rates
# (tests/test_limits.py checks those, and the in-flight limit that stays on here).
TEST_PACE = {
    "max_requests_per_second": 1000,
    "max_polls_per_second": 1000,
    "submit_rates": {"sora": 0, "veo": 0, "kling": 0, "midjourney": 0, "flux": 0},
}


def set_connection(monkeypatch, conn_id: str, conn_type: str, host: str, token: str, **extra: object) -> None:
    extra = {**TEST_PACE, **extra}
    value = json.dumps({"conn_type": conn_type, "host": host, "password": token, "extra": extra})
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", value)


def load_fixture(relative: str) -> object:
    return json.loads((FIXTURES / relative).read_text())


@pytest.fixture
async def pollers_closed() -> Any:
    """After an async test, wait for the shared pollers of its event loop to close their HTTP clients.

    The last trigger leaving cancels its poller, which then closes its client; in the triggerer the loop
    lives on, but a test's loop closes right after the test, which would leave the sockets open (a
    ResourceWarning, reported later under whichever test the garbage collector happens to run in).
    """
    yield
    me = asyncio.current_task()
    pollers = [task for task in asyncio.all_tasks() if task is not me and task.get_name().startswith("vidgen-poller-")]
    await asyncio.gather(*pollers, return_exceptions=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if inspect.iscoroutinefunction(getattr(item, "function", None)):
            item.fixturenames.append("pollers_closed")  # type: ignore[attr-defined]
