"""Adding a vendor is two files and a registry line: a toy vendor defined only in tests/toyvendor is
served by the emulator and runs a real DAG (dag.test()) through the generic operators, the sensor, the
shared trigger and the download, with nothing of it in the package."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO, TOKEN, set_connection
from dags import toy_dags
from test_reliability import run_dag

from airflow_provider_vidgen.core.vendor import get_vendor
from airflow_provider_vidgen.emulator import EmulatorServer
from airflow_provider_vidgen.hooks.base import VideoApiHook, hook_class


@pytest.fixture
def toy_emulator(monkeypatch, tmp_path):
    """An emulator made after the toy vendor was registered (the DAG module registers it)."""
    with EmulatorServer(token=TOKEN, queued_seconds=0.1, running_seconds=0.2) as server:
        set_connection(monkeypatch, "toyvideo_default", "toyvideo", server.url, TOKEN)
        monkeypatch.setenv("AIRFLOW_VAR_VIDGEN_TOY_VIDEOS", str(tmp_path))
        yield server


def test_the_toy_vendor_is_two_files():
    files = sorted(path.name for path in (REPO / "tests" / "toyvendor").glob("*.py"))
    assert files == ["emulated.py", "vendor.py"]
    toy = get_vendor("toy")  # registered by the DAG module (tests/dags/toy_dags.py)
    assert toy.conn_type == "toyvideo" and toy.default_conn_id == "toyvideo_default"
    hook = hook_class(toy)
    assert issubclass(hook, VideoApiHook) and hook.conn_type == "toyvideo" and hook.hook_name == "Toy Video"


def test_a_dag_on_the_toy_vendor_runs_through_the_generic_operators(airflow_db, toy_emulator, tmp_path):
    dag_run, states, xcoms = run_dag(toy_dags.toy_dag)
    assert dag_run.state == "success", states
    stats = toy_emulator.stats()
    assert stats["by_vendor"]["toy"]["submit"] == 4 and stats["counts"]["retrieve_batch"] > 0
    manifest = xcoms[("download", -1, "return_value")]
    assert manifest["downloaded"] == 4 and manifest["failed"] == 0
    videos = [
        Path(entry["destination_uri"].removeprefix("file://"))
        for entry in manifest["files"]
        if entry["kind"] == "video"
    ]
    assert len(videos) == 4 and all(path.is_file() and path.parent.parent == tmp_path for path in videos)
    batch = xcoms[("batch", -1, "return_value")]
    assert [item["prompt"] for item in batch] == ["a toy fox", "a toy heron"]
    assert all(item["vendor"] == "toy" and item["state"] == "succeeded" for item in batch)
