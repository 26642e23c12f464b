"""One operator surface across vendors: typed operators take only their named fields, ``service`` is the
one name for what is called (HiDream's ``module`` an alias), one connection-id parameter per operator,
and every vendor fact (connection type, default connection id, hook, label, host) has one source."""

from __future__ import annotations

import inspect

import pytest
from conftest import TOKEN, set_connection
from dags import generation_dags
from test_reliability import run_dag

from airflow_provider_vidgen.core.vendors import ACEDATA, HIDREAM, VENDORS
from airflow_provider_vidgen.get_provider_info import get_provider_info
from airflow_provider_vidgen.hooks.acedata import AceDataHook
from airflow_provider_vidgen.hooks.hidream import HiDreamHook
from airflow_provider_vidgen.operators.acedata import (
    AceDataBatchVideoOperator,
    AceDataVideoOperator,
    HailuoBatchVideoOperator,
    HailuoVideoOperator,
    LumaVideoOperator,
)
from airflow_provider_vidgen.operators.hidream import HiDreamBatchVideoOperator, HiDreamVideoOperator
from airflow_provider_vidgen.sensors.video import VideoTaskSensor


@pytest.mark.parametrize(
    ("make", "refused", "pointer"),
    [
        (lambda: HailuoVideoOperator(task_id="t", prompt="p", body={"prompt": "x"}), "body=", "AceDataVideoOperator"),
        (lambda: LumaVideoOperator(task_id="t", prompt="p", service="kling"), "service=", "AceDataVideoOperator"),
        (lambda: HailuoBatchVideoOperator(task_id="t", prompts=["p"], bodies=[{}]), "bodies=", "AceDataBatchVideo"),
    ],
)
def test_a_typed_operator_refuses_the_generic_parameters(make, refused, pointer):
    # A silently ignored body= would generate something other than what the DAG file says.
    with pytest.raises(TypeError, match=rf"does not take {refused}.*{pointer}"):
        make()


def test_the_generic_operators_still_take_a_raw_body():
    single = AceDataVideoOperator(task_id="t", service="hailuo", body={"action": "generate", "prompt": "p"})
    batch = AceDataBatchVideoOperator(task_id="b", service="hailuo", bodies=[{"action": "generate", "prompt": "p"}])
    assert single.request_body()["prompt"] == "p" and batch.item_bodies()[0]["prompt"] == "p"


def test_a_typo_is_not_answered_with_a_refused_parameter():
    with pytest.raises(TypeError) as caught:
        HailuoVideoOperator(task_id="t", prompt="p", bdy={})
    assert "'body'" not in str(caught.value)


@pytest.mark.parametrize("operator_class", [HiDreamVideoOperator, HiDreamBatchVideoOperator])
def test_hidream_calls_it_service_and_takes_module_as_an_alias(operator_class):
    items = {"prompts": ["p"]} if operator_class is HiDreamBatchVideoOperator else {"prompt": "p"}
    by_service = operator_class(task_id="a", service="txt2video", **items)
    by_module = operator_class(task_id="b", module="txt2video", **items)
    default = operator_class(task_id="c", **items)
    assert by_service.service == by_module.service == default.service == "txt2video"
    assert "service" in operator_class.template_fields and "module" not in operator_class.template_fields
    with pytest.raises(TypeError, match="service= or its alias module="):
        operator_class(task_id="d", service="txt2video", module="img2video", **items)


def test_the_alias_and_a_templated_connection_id_work_in_a_dag_run(airflow_db, emulator, monkeypatch):
    set_connection(monkeypatch, "acedata_nightly", "acedata", emulator.url, TOKEN)
    monkeypatch.delenv("AIRFLOW_CONN_ACEDATA_DEFAULT")  # only the rendered connection id can work
    _, states, xcoms = run_dag(generation_dags.surface_dag)
    assert states == {("by_module", -1): "success", ("templated_conn", -1): "success"}
    assert xcoms[("by_module", -1, "return_value")]["service"] == "txt2video"


@pytest.mark.parametrize(
    ("operator_class", "kwargs"),
    [
        (HailuoVideoOperator, {"prompt": "p"}),
        (AceDataBatchVideoOperator, {"service": "hailuo", "bodies": [{"prompt": "p"}]}),
        (HiDreamVideoOperator, {"prompt": "p"}),
        (HiDreamBatchVideoOperator, {"prompts": ["p"]}),
    ],
)
def test_one_connection_id_parameter_per_operator(operator_class, kwargs):
    vendor = operator_class.vendor
    default = operator_class(task_id="t", **kwargs)
    assert default.conn_id == getattr(default, vendor.conn_id_param) == vendor.default_conn_id
    chosen = operator_class(task_id="u", **{vendor.conn_id_param: "{{ conn }}"}, **kwargs)
    chosen.render_template_fields({"conn": "rendered_conn"})
    assert chosen.conn_id == "rendered_conn" and "conn_id" not in vars(chosen)  # read through, no second copy
    with pytest.raises(TypeError, match="unknown parameter"):
        operator_class(task_id="v", conn_id="x", **kwargs)


def test_every_vendor_fact_has_one_source():
    info = {item["connection-type"]: item for item in get_provider_info()["connection-types"]}
    assert set(info) == set(VENDORS)
    for vendor, hook in ((ACEDATA, AceDataHook), (HIDREAM, HiDreamHook)):
        entry = info[vendor.conn_type]
        assert entry["hook-class-name"] == vendor.hook_class_name == f"{hook.__module__}.{hook.__name__}"
        assert entry["hook-name"] == vendor.label == hook.hook_name
        assert entry["ui-field-behaviour"]["placeholders"]["host"] == vendor.default_host
        assert (hook.conn_type, hook.default_conn_name, hook.conn_name_attr) == (
            vendor.conn_type,
            vendor.default_conn_id,
            vendor.conn_id_param,
        )
        assert inspect.signature(hook.__init__).parameters[vendor.conn_id_param].default == vendor.default_conn_id
    sensor_default = inspect.signature(VideoTaskSensor.__init__).parameters["conn_id"].default
    assert sensor_default == ACEDATA.default_conn_id
