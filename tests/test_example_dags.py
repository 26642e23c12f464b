"""Every example DAG imports cleanly, the way the DAG processor loads it."""

from __future__ import annotations

import pytest
from conftest import REPO

EXAMPLES = REPO / "dags_examples"


@pytest.fixture(scope="module")
def bag(airflow_db):
    from airflow_compat import DagBag

    return DagBag(str(EXAMPLES))


def test_example_dags_import_without_errors(bag):
    assert bag.import_errors == {}
    assert {
        "vidgen_demo",
        "vidgen_content_pipeline",
        "vidgen_publish_videos",
        "vidgen_acedata_minimal",
        "vidgen_hidream_minimal",
    } <= set(bag.dag_ids)


def test_content_pipeline_shape(bag):
    from airflow_provider_vidgen.operators.download import VideoDownloadOperator

    pipeline, publish = bag.get_dag("vidgen_content_pipeline"), bag.get_dag("vidgen_publish_videos")
    download = pipeline.get_task("download")
    assert isinstance(download, VideoDownloadOperator)
    assert {"generate", "wait_wan"} <= download.upstream_task_ids  # via the XComArgs in `results`
    assert [outlet.uri for outlet in download.outlets] == ["vidgen://videos/daily"]
    assert download.destination.endswith("/{{ run_id }}/")  # every run has one; UI and REST runs have no ds
    assert download.trigger_rule == "all_done"  # failed generations reach it
    assert [asset.uri for asset in publish.timetable.asset_condition.objects] == ["vidgen://videos/daily"]
