"""A vendor is two files and an entry point: a toy vendor defined only in tests/toy_vendor, installed as its own
distribution (``make install``), is found through its entry point with nothing registered anywhere, served by
the emulator, and runs a real DAG (dag.test()) through the generic operators, the sensor, the shared trigger
and the download, with nothing of it in the package. ``make e2e`` runs it under a real ``airflow standalone``,
resumed by its callbacks through the API server."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest
from conftest import REPO, TOKEN, set_connection
from dags import toy_dags
from test_reliability import run_dag

from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.core.vendor import ENTRY_POINT_GROUP, get_vendor
from airflow_provider_vidgen.emulator import EmulatorServer
from airflow_provider_vidgen.hooks.base import VideoApiHook, hook_class


@pytest.fixture
def toy_emulator(monkeypatch, tmp_path):
    """An emulator: it serves every vendor it finds, the toy one through its entry point."""
    with EmulatorServer(token=TOKEN, queued_seconds=0.1, running_seconds=0.2) as server:
        set_connection(monkeypatch, "toyvideo_default", "toyvideo", server.url, TOKEN)
        monkeypatch.setenv("AIRFLOW_VAR_VIDGEN_TOY_VIDEOS", str(tmp_path))
        yield server


def test_the_toy_vendor_is_two_files_and_an_entry_point():
    files = sorted(path.name for path in (REPO / "tests" / "toy_vendor" / "toyvendor").glob("*.py"))
    assert files == ["__init__.py", "emulated.py", "vendor.py"]
    (entry,) = [e for e in entry_points(group=ENTRY_POINT_GROUP) if e.name == "toy"]  # the installed distribution
    assert entry.value == "toyvendor.vendor:TOY" and entry.dist.name == "vidgen-toy-vendor"
    toy = get_vendor("toy")  # found through it: nothing in the package or the DAG registers it
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


def test_a_vendor_found_in_a_fresh_process_with_nothing_imported(tmp_path):
    """The triggerer and the API server import no DAG file: the vendor must be found there all the same."""
    import subprocess
    import sys

    code = (
        "from airflow_provider_vidgen.core.vendor import get_vendor, all_vendors;"
        "from airflow_provider_vidgen.hooks.base import hook_class;"
        "print(get_vendor('toy').label, sorted(v.name for v in all_vendors()), hook_class(get_vendor('toy')).conn_type)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.strip() == "Toy Video ['acedata', 'hidream', 'toy'] toyvideo"


def test_an_unknown_vendor_says_how_one_is_installed():
    with pytest.raises(
        InvalidInputError, match=r"declares an entry point in the group 'airflow_provider_vidgen\.vendors'"
    ):
        get_vendor("nonesuch")


def test_provider_info_tolerates_a_vendor_without_typed_operators_or_a_hook_class(monkeypatch):
    from airflow_provider_vidgen import get_provider_info as info
    from airflow_provider_vidgen.core.vendor import get_vendor as vendor_named

    monkeypatch.setattr(info, "_vendors", lambda: [vendor_named("acedata"), vendor_named("toy")])
    provided = info.get_provider_info()
    assert [entry["python-modules"] for entry in provided["hooks"]] == [["airflow_provider_vidgen.hooks.acedata"]]
    assert ["airflow_provider_vidgen.operators.toy"] not in [entry["python-modules"] for entry in provided["operators"]]
    assert [c["connection-type"] for c in provided["connection-types"]] == ["acedata", "toyvideo"]
