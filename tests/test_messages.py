"""Errors and logs a person can act on: each names the connection, the URL, the vendor task id and the
next step, never the token; retries are logged; mistakes in a DAG file are import errors."""

from __future__ import annotations

import asyncio
import logging
import socket
import textwrap
from types import SimpleNamespace

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow_compat import DagBag
from conftest import TOKEN, set_connection
from dags import generation_dags
from test_poller import until
from test_reliability import (
    fast_polls,  # noqa: F401  (fixture)
    run_dag,
)

from airflow_provider_vidgen.core.errors import ApiError, InvalidInputError
from airflow_provider_vidgen.core.settings import api_settings, next_step
from airflow_provider_vidgen.core.transport import RetryPolicy
from airflow_provider_vidgen.hooks.acedata import AceDataHook
from airflow_provider_vidgen.operators.acedata import (
    AceDataVideoOperator,
    HailuoBatchVideoOperator,
    HailuoVideoOperator,
)
from airflow_provider_vidgen.operators.hidream import HiDreamVideoOperator
from airflow_provider_vidgen.triggers.video import VideoTaskTrigger, format_duration, next_event
from airflow_provider_vidgen.vendors.acedata.vendor import ACEDATA

FAST = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02)
WRONG = "wrong-token-0b9d"
TOP_UP_STEP = "top it up in the Ace Data Cloud console, then clear this task"


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_no_secret(text: str) -> None:
    assert TOKEN not in text and WRONG not in text and "Bearer" not in text


def test_a_wrong_token_names_the_connection_the_url_and_what_to_do(emulator, monkeypatch):
    set_connection(monkeypatch, "acedata_wrong", "acedata", emulator.url, WRONG)
    with pytest.raises(ApiError) as caught:
        AceDataHook("acedata_wrong", retry=FAST).submit("hailuo", {"prompt": "a fox"})
    text = str(caught.value)
    assert "HTTP 401" in text and "invalid_token" in text
    assert f"connection 'acedata_wrong', POST {emulator.url}/hailuo/videos" in text
    assert "Next step: check the API token of connection 'acedata_wrong' (Admin -> Connections)" in text
    assert caught.value.__cause__ is None and caught.value.__suppress_context__  # no chain of internal frames
    assert_no_secret(text)


def test_an_unreachable_host_names_the_url_and_the_retries_are_logged(emulator, monkeypatch, closed_port, caplog):
    host = f"http://127.0.0.1:{closed_port}"
    set_connection(monkeypatch, "acedata_closed", "acedata", host, TOKEN)
    with caplog.at_level(logging.WARNING), pytest.raises(ApiError) as caught:
        AceDataHook("acedata_closed", retry=FAST).submit("hailuo", {"prompt": "a fox"})
    text = str(caught.value)
    assert f"connection 'acedata_closed', POST {host}/hailuo/videos" in text
    assert f"Next step: check that {host} is reachable from this machine" in text
    retries = [r for r in caplog.records if "next attempt in" in r.getMessage()]
    assert [r.levelno for r in retries] == [logging.WARNING] * 2  # attempts 1 and 2 of 3
    assert "POST /hailuo/videos: attempt 1 of 3 failed (Ace Data Cloud connect" in retries[0].getMessage()
    assert "attempt 2 of 3 failed" in retries[1].getMessage()
    assert_no_secret(text + caplog.text)


def test_a_host_without_a_scheme_says_https_was_assumed(emulator, monkeypatch):
    plain = emulator.url.removeprefix("http://")  # the emulator speaks plain HTTP
    set_connection(monkeypatch, "acedata_noscheme", "acedata", plain, TOKEN)
    with pytest.raises(ApiError) as caught:
        AceDataHook("acedata_noscheme", retry=FAST).retrieve("hailuo", "t-1")
    text = str(caught.value)
    assert f"GET https://{plain}" in text or f"POST https://{plain}/hailuo/tasks" in text
    assert f"has no scheme, so https://{plain} was assumed" in text
    assert f"set the host to http://{plain}" in text
    assert "vendor task id(s) t-1" in text


@pytest.mark.usefixtures("fast_polls")
def test_a_failed_poll_names_the_connection_url_and_every_vendor_task_id(emulator, monkeypatch):
    set_connection(monkeypatch, "acedata_wrong", "acedata", emulator.url, WRONG)
    trigger = VideoTaskTrigger("acedata_wrong", "hailuo", ["t-1", "t-2"], poll_interval=0.05)
    event = asyncio.run(next_event(trigger))
    assert event["status"] == "error"
    message = event["message"]
    assert f"connection 'acedata_wrong', POST {emulator.url}/hailuo/tasks, vendor task id(s) t-1, t-2" in message
    assert "check the API token of connection 'acedata_wrong'" in message
    assert_no_secret(message)


def test_the_operator_ends_the_task_with_the_message_alone(emulator, monkeypatch):
    set_connection(monkeypatch, "acedata_wrong", "acedata", emulator.url, WRONG)
    operator = HailuoVideoOperator(task_id="gen", prompt="a fox", acedata_conn_id="acedata_wrong")
    with pytest.raises(AirflowFailException) as caught:  # a bad token is not retried
        operator.execute({"ti": SimpleNamespace(xcom_push=lambda key, value: None)})
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert "check the API token of connection 'acedata_wrong'" in str(caught.value)
    assert emulator.stats()["tasks_created"] == 0


# ------------------------------------------------------------------------------------------------
# Each error code's next step (issue 28: a used-up balance is not a bad token)
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "words"),
    [
        (403, "used_up", TOP_UP_STEP),
        (402, None, TOP_UP_STEP),
        (403, "forbidden", "may not use this service or operation: ask Ace Data Cloud to enable it"),
        (401, "token_mismatched", "does not belong to this service or account: check which token"),
        (400, "token_mismatched", "does not belong to this service or account"),
        (400, "disabled", "is disabled: enable it in the Ace Data Cloud console"),
        (401, "invalid_token", "check the API token of connection 'acedata_x'"),
        (401, "token_expired", "check the API token of connection 'acedata_x'"),
        (400, "no_token", "check the API token of connection 'acedata_x'"),
        (401, "authorization_missing", "check the API token of connection 'acedata_x'"),
        (429, "too_many_requests", "rate limiting this token"),
        (500, "api_error", "the vendor API is failing"),
        (400, "bad_request", "fix the request fields named above"),
    ],
)
def test_every_error_code_gets_its_own_next_step(status, code, words):
    settings = api_settings(ACEDATA, "https://api.acedata.cloud", {})
    step = next_step(ApiError("Ace Data Cloud", "m", status=status, code=code), ACEDATA, "acedata_x", settings)
    assert words in step
    if code not in ("invalid_token", "token_expired", "no_token", "authorization_missing"):
        assert "check the API token" not in step  # the wrong fix for a balance, a permission, a mismatch
    if words == TOP_UP_STEP:
        assert "connection 'acedata_x'" in step and "not billed" in step


# ------------------------------------------------------------------------------------------------
# Mistakes caught where the DAG is written
# ------------------------------------------------------------------------------------------------


def test_a_misspelt_parameter_is_named_with_the_closest_known_one():
    with pytest.raises(TypeError) as caught:
        HailuoVideoOperator(task_id="gen", promt="a fox")
    assert str(caught.value) == "HailuoVideoOperator got unknown parameter(s) 'promt' (did you mean 'prompt'?)"
    with pytest.raises(TypeError, match=r"'pol_interval' \(did you mean 'poll_interval'\?\)"):
        HiDreamVideoOperator(task_id="gen", prompt="x", pol_interval=5)
    with pytest.raises(TypeError, match=r"unknown parameter\(s\) 'zzz'$"):
        AceDataVideoOperator(task_id="gen", service="hailuo", body={"prompt": "x"}, zzz=1)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"model": "minimax-t3v"}, "model: must be one of 'minimax-t2v'"),
        ({"model": "minimax-i2v"}, "first_image_url: is required for model minimax-i2v"),
        ({"first_image_url": "not a url", "model": "minimax-i2v"}, "first_image_url: must be an http(s) URL"),
        ({"poll_interval": 0}, "poll_interval: must be a positive number of seconds"),
    ],
)
def test_literal_bad_input_fails_when_the_operator_is_declared(kwargs, words):
    with pytest.raises(InvalidInputError) as caught:
        HailuoVideoOperator(task_id="gen", prompt="a fox", **kwargs)
    assert words in str(caught.value)
    assert "HailuoVideoOperator task 'gen', checked when the DAG was parsed" in str(caught.value)


def test_templated_values_wait_for_the_run():
    HailuoVideoOperator(task_id="a", prompt="{{ params.prompt }}", model="{{ params.model }}")
    HailuoVideoOperator(task_id="b", prompt="x", model="{{ params.model }}")  # the rule reads a template: later
    AceDataVideoOperator(task_id="c", service="{{ params.service }}", body={"anything": 1})
    HailuoVideoOperator.partial(task_id="d", model="minimax-t2v").expand(prompt=["x", "y"])


def test_a_literal_bad_model_is_a_dag_import_error(airflow_db, tmp_path):
    (tmp_path / "bad_model_dag.py").write_text(
        textwrap.dedent(
            """
            import pendulum
            from airflow.sdk import DAG
            from airflow_provider_vidgen.operators.acedata import HailuoVideoOperator

            with DAG("bad_model", schedule=None, start_date=pendulum.datetime(2026, 1, 1)):
                HailuoVideoOperator(task_id="gen", prompt="a fox", model="minimax-t3v")
            """
        )
    )
    bag = DagBag(str(tmp_path))
    (error,) = bag.import_errors.values()
    assert "model: must be one of 'minimax-t2v'" in error and "got 'minimax-t3v'" in error
    assert "checked when the DAG was parsed" in error and "bad_model" not in bag.dags


@pytest.mark.parametrize(
    ("declare", "where"),
    [
        (lambda: HailuoVideoOperator.partial(task_id="gen", model="minimax-t3v").expand(prompt=["a"]), "prompt[0]"),
        (lambda: HailuoVideoOperator.partial(task_id="gen").expand(prompt=["a"], model=["minimax-t2v", "minimax-t3v"]),
         "prompt[0], model[1]"),
        (lambda: HailuoVideoOperator.partial(task_id="gen").expand_kwargs([{"prompt": "a", "model": "minimax-t3v"}]),
         ".expand_kwargs() item [0]"),
        (lambda: HailuoBatchVideoOperator.partial(task_id="gen", model="minimax-t3v").expand(prompts=[["a"], ["b"]]),
         "prompts[0]"),
    ],
)  # fmt: skip
def test_mapped_literal_bad_input_fails_as_the_constructor_does(declare, where):
    with pytest.raises(InvalidInputError) as caught:
        declare()
    text = str(caught.value)
    assert "model: must be one of 'minimax-t2v', 'minimax-i2v', 'minimax-i2v-director'; got 'minimax-t3v'" in text
    assert "task 'gen', " in text and where in text and "checked when the DAG was parsed" in text


def test_mapped_parameter_names_are_checked_as_the_constructor_does():
    with pytest.raises(TypeError, match=r"unknown parameter\(s\) 'promt' \(did you mean 'prompt'\?\)"):
        HailuoVideoOperator.partial(task_id="gen", promt="x")
    with pytest.raises(TypeError, match="HailuoVideoOperator does not take body="):
        HailuoVideoOperator.partial(task_id="gen").expand(body=[{"prompt": "x"}])


def test_mapped_values_from_upstream_wait_for_the_run():
    from airflow.sdk import DAG

    with DAG("upstream_values", schedule=None):
        given = HailuoVideoOperator(task_id="given", prompt="x")
        HailuoVideoOperator.partial(task_id="a", model="minimax-t2v").expand(prompt=given.output)
        HailuoBatchVideoOperator.partial(task_id="b", min_success=1).expand(
            prompts=given.output, item_offset=given.output
        )
        HailuoVideoOperator.partial(task_id="c").expand_kwargs(given.output)
        AceDataVideoOperator.partial(task_id="d", service="hailuo").expand(body=given.output)
        # ... but what the DAG file fixes beside them is still checked.
        with pytest.raises(InvalidInputError, match=r"model: must be one of .*values from upstream"):
            HailuoVideoOperator.partial(task_id="e", model="minimax-t3v").expand(prompt=given.output)


def test_a_mapped_literal_bad_model_is_a_dag_import_error(airflow_db, tmp_path):
    (tmp_path / "bad_mapped_dag.py").write_text(
        textwrap.dedent(
            """
            import pendulum
            from airflow.sdk import DAG
            from airflow_provider_vidgen.operators.acedata import HailuoVideoOperator

            with DAG("bad_mapped", schedule=None, start_date=pendulum.datetime(2026, 1, 1)):
                HailuoVideoOperator.partial(task_id="gen", model="minimax-t2v-turbo").expand(prompt=["a", "b"])
            """
        )
    )
    bag = DagBag(str(tmp_path))
    (error,) = bag.import_errors.values()
    assert "model: must be one of 'minimax-t2v'" in error and "got 'minimax-t2v-turbo'" in error
    assert "checked when the DAG was parsed" in error and "bad_mapped" not in bag.dags


# ------------------------------------------------------------------------------------------------
# Quiet waits show progress; successful runs log no errors
# ------------------------------------------------------------------------------------------------


async def test_a_long_wait_logs_a_heartbeat_with_state_and_times(emulator, caplog):
    emulator.hold_clock()  # the task stays running until the test moves the emulator's clock on
    hook = AceDataHook()
    try:
        task_id = hook.submit("hailuo", {"prompt": "a slow fox"})
    finally:
        hook.close()
    emulator.advance(0.25)  # queued for 0.2 s: running now
    caplog.set_level(logging.INFO, logger="airflow_provider_vidgen")
    trigger = VideoTaskTrigger("acedata_default", "hailuo", [task_id], poll_interval=0.05, heartbeat_interval=0.1)
    waiting = asyncio.create_task(next_event(trigger))

    def heartbeats() -> list[str]:
        return [r.getMessage() for r in caplog.records if "still running" in r.getMessage()]

    await until(lambda: len(heartbeats()) >= 2)
    emulator.advance(1.0)
    event = await waiting
    assert event["status"] == "success"
    line = heartbeats()[0]
    assert line.startswith(f"acedata hailuo task {task_id}: running")
    assert "; still running (waiting " in line and ", next poll in 0s)" in line


def test_durations_read_like_a_clock():
    assert [format_duration(s) for s in (0.4, 45, 372, 3780)] == ["0s", "45s", "6m12s", "1h03m"]


def test_a_sensor_over_a_mapped_output_logs_no_error(airflow_db, emulator, caplog, capsys):
    dag_run, _, _ = run_dag(generation_dags.mapped_sensor_dag)
    text = caplog.text + capsys.readouterr().out
    assert dag_run.state == "success", text[-2000:]
    assert "3/3 task(s) finished" in text
    assert "[error" not in text and "XCom not found" not in text


def test_a_rule_on_a_templated_field_waits_while_literal_rules_still_apply():
    # kling's per-model duration rule reads `duration` and `model`: a templated model defers it ...
    AceDataVideoOperator(
        task_id="a", service="kling", body={"action": "text2video", "prompt": "x", "model": "{{ m }}", "duration": 7}
    )
    # ... and with both literal it is checked now.
    with pytest.raises(InvalidInputError, match="checked when the DAG was parsed"):
        AceDataVideoOperator(
            task_id="b",
            service="kling",
            body={"action": "text2video", "prompt": "x", "model": "kling-v1", "duration": 7},
        )


def test_the_emulator_help_describes_every_flag():
    import dataclasses

    from airflow_provider_vidgen.emulator.__main__ import build_parser
    from airflow_provider_vidgen.emulator.config import EmulatorConfig

    parser = build_parser()
    undescribed = [a.option_strings for a in parser._actions if a.option_strings and not (a.help or "").strip(" ()")]
    assert undescribed == []
    text = parser.format_help()
    for spec in dataclasses.fields(EmulatorConfig):
        assert spec.metadata.get("help"), spec.name  # every setting says what it does
    assert "seconds a new task stays queued (default 1.0)" in " ".join(text.split())


def test_the_demo_reports_error_lines_outside_the_task_meant_to_fail():
    from airflow_provider_vidgen.demo import unexpected_errors

    log = "\n".join(
        [
            "[info     ] [DAG TEST] starting task_id=hailuo map_index=0",
            "[info     ] Submitted ...",
            "[info     ] [DAG TEST] starting task_id=hailuo_doomed map_index=-1",
            "[error    ] Task failed with exception",
            "[info     ] [DAG TEST] starting task_id=summarize map_index=-1",
            "[error    ] XCom not found key=return_value",
        ]
    )
    assert unexpected_errors(log, ("hailuo_doomed",)) == ["summarize: [error    ] XCom not found key=return_value"]
    assert unexpected_errors(log, ("hailuo_doomed", "summarize")) == []
