"""Chunks of a large run: each chunk is one batch task of a mapped operator (``batch_chunks``). A retry of
one chunk reattaches to that chunk's own submissions and submits only its missing items, never another
chunk's; the chunks' results merge back in prompt order; results too large for XCom go to object
storage, and the download and a summary read them as if they were in XCom."""

from __future__ import annotations

from pathlib import Path

import pytest
from dags import chunk_dags
from test_reliability import logs, needs_task_state_store, run_dag

from airflow_provider_vidgen import storage
from airflow_provider_vidgen.core.batch import batch_chunks
from airflow_provider_vidgen.core.errors import InvalidInputError


def test_chunks_keep_every_list_in_step_and_know_their_offset():
    chunks = batch_chunks(3, prompts=list("abcdefg"), first_image_urls=[f"https://x/{n}.png" for n in range(7)])
    assert [chunk["item_offset"] for chunk in chunks] == [0, 3, 6]
    assert [chunk["prompts"] for chunk in chunks] == [list("abc"), list("def"), ["g"]]
    assert chunks[2]["first_image_urls"] == ["https://x/6.png"]
    with pytest.raises(InvalidInputError, match="one length"):
        batch_chunks(3, prompts=["a"], first_image_urls=[])


@needs_task_state_store
@pytest.mark.parametrize("xcom_limit", [storage.XCOM_LIMIT, 300], ids=["in-xcom", "in-object-storage"])
def test_a_retried_chunk_submits_only_its_own_missing_items_and_results_merge_in_order(
    airflow_db, emulator, monkeypatch, tmp_path, caplog, capfd, xcom_limit
):
    monkeypatch.setattr(storage, "XCOM_LIMIT", xcom_limit)
    monkeypatch.setenv("AIRFLOW_VAR_VIDGEN_CHUNK_VIDEOS", str(tmp_path / "videos"))
    monkeypatch.setenv("AIRFLOW__VIDGEN__RESULTS_PATH", f"file://{tmp_path}/results")
    dag_run, states, xcoms = run_dag(chunk_dags.chunk_dag)
    text = logs(caplog, capfd)
    assert dag_run.state == "success", states
    assert "worker lost (simulated) in chunk 1" in text  # chunk 1's first try died ...
    assert emulator.stats()["tasks_created"] == len(chunk_dags.PROMPTS)  # ... and nothing was paid twice
    summary = xcoms[("summarize", -1, "return_value")]
    assert [item["index"] for item in summary] == list(range(7))
    assert [item["prompt"] for item in summary] == chunk_dags.PROMPTS
    assert {item["state"] for item in summary} == {"succeeded"}
    chunk_values = [xcoms[("gen", index, "return_value")] for index in range(3)]
    stored = [storage.is_stored(value) for value in chunk_values]
    assert stored == ([True] * 3 if xcom_limit == 300 else [False] * 3)
    manifest = xcoms[("download", -1, "return_value")]
    assert storage.is_stored(manifest) == (xcom_limit == 300)
    full = storage.load(manifest)
    assert full["downloaded"] == 7 and len({e["task_id"] for e in full["files"] if e["kind"] == "video"}) == 7
    assert all(Path(e["destination_uri"].removeprefix("file://")).is_file() for e in full["files"])
