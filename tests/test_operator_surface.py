"""One operator surface across vendors: typed operators take only their named fields, ``service`` is the
one name for what is called (HiDream's ``module`` an alias), one connection-id parameter per operator,
and every vendor fact (connection type, default connection id, hook, label, host) has one source."""

from __future__ import annotations

import inspect

import pytest
from conftest import TOKEN, set_connection
from dags import generation_dags
from test_reliability import run_dag

from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.core.vendor import BUILT_IN, all_vendors, get_vendor
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
from airflow_provider_vidgen.vendors.acedata import ACEDATA
from airflow_provider_vidgen.vendors.hidream import HIDREAM


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


FRAMES = ["https://cdn.example.com/dawn.png", "https://cdn.example.com/dusk.png"]


def test_hidream_v3_fields_are_named_parameters_and_v2_modules_refuse_them():
    v3 = HiDreamVideoOperator(
        task_id="v3", service="v3-txt2video", prompt="p", negative_prompt="blur", version="v2", resolution="1280*720"
    )
    assert v3.request_body() == {"prompt": "p", "negative_prompt": "blur", "version": "v2", "resolution": "1280*720"}
    keyframes = HiDreamVideoOperator(task_id="k", module="v3-keyframe2video", images=FRAMES, duration=10)
    assert keyframes.request_body() == {"images": FRAMES, "duration": 10}
    assert {"negative_prompt", "version", "resolution", "duration", "images"} <= set(
        HiDreamVideoOperator.template_fields
    )
    for service, fields, refused in (
        ("txt2video", {"prompt": "p", "negative_prompt": "blur"}, "negative_prompt"),
        ("img2video", {"image": FRAMES[0], "resolution": "960*960"}, "resolution"),
        ("txt2video", {"prompt": "p", "images": FRAMES}, "images"),
        ("v3-txt2video", {"prompt": "p", "duration": 5}, "duration"),
        ("v3-keyframe2video", {"images": FRAMES, "aspect_ratio": "16:9"}, "aspect_ratio"),
    ):
        with pytest.raises(InvalidInputError, match="checked when the DAG was parsed") as caught:
            HiDreamVideoOperator(task_id="bad", service=service, **fields)
        assert caught.value.field == refused and f"is not a field of hidream {service!r}" in str(caught.value)
    # Templated values wait for the run, as for v2.
    HiDreamVideoOperator(task_id="tpl", service="v3-keyframe2video", images="{{ params.frames }}")


def test_hidream_v3_operators_run_to_success(airflow_db, emulator):
    _, states, xcoms = run_dag(generation_dags.hidream_v3_dag)
    assert states == {("v3_txt2video", -1): "success", ("v3_keyframe2video", -1): "success"}
    for task_id, service in (("v3_txt2video", "v3-txt2video"), ("v3_keyframe2video", "v3-keyframe2video")):
        result = xcoms[(task_id, -1, "return_value")]
        assert (result["service"], result["vendor"], result["state"]) == (service, "hidream", "succeeded")
        assert result["videos"][0]["url"] == f"{emulator.url}/files/{result['task_id']}.mp4"
    counts = emulator.stats()["by_vendor"]["hidream"]
    assert counts["submit"] == 2 and counts["retrieve"] >= 2 and counts["retrieve_batch"] == 0


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
    assert set(info) == {get_vendor(name).conn_type for name in BUILT_IN}  # the package's own vendors
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


def test_each_vendor_is_one_class_keeping_the_vendor_contract():
    """A vendor is a Vendor subclass: every protocol method, with the base class's parameter names."""
    from airflow_provider_vidgen.core.vendor import Vendor

    protocol = [name for name, member in vars(Vendor).items() if callable(member) and not name.startswith("_")]
    for vendor in all_vendors():
        assert isinstance(vendor, Vendor)
        for name in protocol:
            expected = list(inspect.signature(getattr(Vendor, name)).parameters)
            assert list(inspect.signature(getattr(type(vendor), name)).parameters) == expected, (vendor.name, name)


def test_typed_operators_take_their_defaults_from_the_service_row():
    """A typed operator restates nothing of its row: its parameters' defaults are the row's, and the fields it
    always sends (Hailuo's ``action``) come from the row's defaults."""
    from airflow_provider_vidgen.operators import acedata as typed

    cases = {
        typed.HailuoVideoOperator: {"prompt": "p"},
        typed.LumaVideoOperator: {"prompt": "p"},
        typed.HailuoBatchVideoOperator: {"prompts": ["p"]},
        typed.LumaBatchVideoOperator: {"prompts": ["p"]},
    }
    for cls, required in cases.items():
        operator = cls(task_id="t", **required)
        spec = operator.vendor.services[operator.service_name()]
        for name, parameter in inspect.signature(cls.__init__).parameters.items():
            if name in spec.field_names and parameter.default not in (None, inspect.Parameter.empty):
                assert parameter.default == spec.defaults[name], (cls.__name__, name)
        body = operator.item_bodies()[0] if "Batch" in cls.__name__ else operator.request_body()
        for name in cls.sent_defaults:
            assert body[name] == spec.defaults[name], (cls.__name__, name)
