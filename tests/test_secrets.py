"""The API token never leaks: not into trigger kwargs or events, XCom, rendered templates, the metadata DB,
logs, ``repr`` or exception text (httpx errors carry the request, whose headers hold the token)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import traceback
import uuid
from typing import Any

import httpx
import pytest
from airflow.sdk.log import redact
from airflow_compat import AIRFLOW_3_3_PLUS, serde
from conftest import TOKEN, set_connection
from dags import reliability_dags
from test_reliability import fast_polls, first_event, run_dag  # noqa: F401 (fast_polls is a fixture)

from airflow_provider_vidgen.core.errors import ApiError
from airflow_provider_vidgen.core.transport import RetryPolicy
from airflow_provider_vidgen.hooks.acedata import AceDataHook
from airflow_provider_vidgen.hooks.hidream import HiDreamHook
from airflow_provider_vidgen.triggers.video import VideoTaskTrigger

FAST = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02)
WRONG = "wrong-token-9f3b1d"


@pytest.fixture
def emu(emulator):
    yield emulator
    emulator.configure(extra_tokens=(), latency=0, drop_rate=0)


def assert_clean(*things: Any, secrets: tuple[str, ...] = (TOKEN,)) -> None:
    for thing in things:
        text = thing if isinstance(thing, str) else json.dumps(thing, default=repr) + repr(thing)
        for secret in secrets:
            assert secret not in text, f"secret found in {text[:300]}"
        assert "Bearer" not in text and "authorization" not in text.lower()


def exception_text(err: BaseException) -> str:
    """Everything an exception could show: message, repr, attributes, and its whole chain."""
    parts = ["".join(traceback.format_exception(err)), repr(err), repr(vars(err))]
    seen = err
    while seen is not None:
        assert not isinstance(seen, httpx.HTTPError), "an httpx error (with the request headers) is kept"
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


def fresh_token(emu, monkeypatch, conn_id: str, conn_type: str = "acedata") -> str:
    token = f"tok-{uuid.uuid4().hex}"
    emu.configure(extra_tokens=(token,))
    set_connection(monkeypatch, conn_id, conn_type, emu.url, token)
    return token


def test_token_is_registered_with_the_masker_when_the_connection_is_loaded(emu, monkeypatch):
    token = fresh_token(emu, monkeypatch, "fresh")
    assert token in redact(f"before {token}")
    hook = AceDataHook("fresh")
    assert token in redact(f"still {token}")  # nothing is loaded at construction
    assert hook.settings.base_url == emu.url
    assert redact(f"after {token}") == "after ***"


def test_async_loading_masks_too(emu, monkeypatch):
    token = fresh_token(emu, monkeypatch, "fresh_async", "hidream")
    asyncio.run(HiDreamHook("fresh_async").asettings())
    assert redact(token) == "***"


def test_trigger_loading_masks_and_kwargs_and_events_hold_no_token(emu, monkeypatch):
    token = fresh_token(emu, monkeypatch, "fresh_trigger")
    task_id = AceDataHook("fresh_trigger").submit("hailuo", {"prompt": "a fox"})
    trigger = VideoTaskTrigger("fresh_trigger", "hailuo", [task_id], poll_interval=0.05)
    classpath, kwargs = trigger.serialize()
    assert_clean(classpath, kwargs, serde.serialize(kwargs), repr(trigger), secrets=(token,))
    event = asyncio.run(first_event(trigger))
    assert event["status"] == "success"
    assert_clean(event, secrets=(token,))
    assert redact(token) == "***"  # the triggerer masks it as well


@pytest.mark.usefixtures("fast_polls")
def test_error_and_timeout_events_hold_no_token(emu, monkeypatch):
    task_id = AceDataHook().submit("hailuo", {"prompt": "a fox"})
    timeout = asyncio.run(first_event(VideoTaskTrigger("acedata_default", "hailuo", [task_id], end_time=0)))
    set_connection(monkeypatch, "wrong", "acedata", emu.url, WRONG)
    rejected = asyncio.run(first_event(VideoTaskTrigger("wrong", "hailuo", [task_id], poll_interval=0.05)))
    set_connection(monkeypatch, "closed", "acedata", "http://127.0.0.1:9", TOKEN)
    unreachable = asyncio.run(
        first_event(VideoTaskTrigger("closed", "hailuo", [task_id], poll_interval=0.05, max_poll_failures=1))
    )
    assert (timeout["status"], rejected["status"], unreachable["status"]) == ("timeout", "error", "error")
    assert "invalid_token" in rejected["message"] and "connect" in unreachable["message"]
    assert_clean(timeout, rejected, unreachable, secrets=(TOKEN, WRONG))


def test_exception_text_from_a_401_and_from_transport_errors_holds_no_token(emu, monkeypatch):
    set_connection(monkeypatch, "wrong", "acedata", emu.url, WRONG)
    with pytest.raises(ApiError) as rejected:
        AceDataHook("wrong", retry=FAST).submit("hailuo", {"prompt": "a fox"})
    assert rejected.value.status == 401
    set_connection(monkeypatch, "closed", "acedata", "http://127.0.0.1:9", TOKEN)
    with pytest.raises(ApiError) as refused:
        AceDataHook("closed", retry=FAST).submit("hailuo", {"prompt": "a fox"})
    assert refused.value.code == "connect"
    set_connection(monkeypatch, "impatient", "acedata", emu.url, TOKEN, request_timeout=0.05)
    emu.configure(latency=0.2)
    with pytest.raises(ApiError) as timed_out:
        AceDataHook("impatient", retry=FAST).retrieve("hailuo", "t-1")
    emu.configure(latency=0, drop_rate=1.0)
    with pytest.raises(ApiError) as dropped:
        AceDataHook(retry=FAST).submit("hailuo", {"prompt": "a fox"})
    for caught in (rejected, refused, timed_out, dropped):
        assert_clean(exception_text(caught.value), secrets=(TOKEN, WRONG))
    # The Test button's messages too.
    for conn_id in ("wrong", "closed"):
        ok, message = AceDataHook(conn_id).test_connection()
        assert not ok
        assert_clean(message, secrets=(TOKEN, WRONG))


def test_reprs_hold_no_token(emu):
    hook = AceDataHook()
    settings = hook.settings
    client = hook.get_conn()
    try:
        assert_clean(repr(hook), str(hook), repr(settings), str(settings), repr(client))
    finally:
        hook.close()


def test_no_token_in_the_metadata_db_logs_or_xcom_after_real_runs(airflow_db, emu, caplog, capfd):
    """Deferred, blocking, failed, timed-out and sensor tasks; then search every table of the DB."""
    emu.configure(queued_seconds=0.05, running_seconds=0.15)  # [slow] x3 still outlives the 0.3 s timeout
    _, _, xcoms = run_dag(reliability_dags.secrets_dag)
    logs = caplog.text + "".join(capfd.readouterr())
    assert ("a red fox" in logs or "deferred" in logs) and len(xcoms) >= 8  # the search below is not vacuous
    assert_clean(logs)
    assert_clean([[*key, value] for key, value in xcoms.items()])
    with sqlite3.connect(airflow_db / "airflow.db") as db:
        dump = "\n".join(db.iterdump())
        rendered = db.execute(
            "select rendered_fields from rendered_task_instance_fields where dag_id = ?", ("rel_secrets",)
        ).fetchall()
        if AIRFLOW_3_3_PLUS:
            stored = db.execute("select count(*) from task_state_store where dag_id = ?", ("rel_secrets",)).fetchone()
            assert stored[0] >= 4  # and the submissions remembered for reattaching
        triggers = " ".join(row[0] for row in db.execute("select kwargs from trigger"))
    assert any("a red fox" in row[0] for row in rendered)  # rendered templates are in there
    assert xcoms[("deferred", -1, "vendor_task_id")] in triggers  # so are the deferred tasks' trigger kwargs
    assert TOKEN not in dump and "Bearer" not in dump
