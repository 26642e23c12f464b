"""Pieces both end-to-end runs use (``run_e2e.py`` and ``run_e2e_prod.py``): the report, free
loopback ports, process-group stops, the REST API client (JWT from ``/auth/token``), bounded waits
on observable conditions, and task logs read through the API server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx


class Failed(Exception):
    pass


class Report:
    def __init__(self) -> None:
        self.rows: list[tuple[bool, str, str]] = []

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.rows.append((bool(ok), name, detail))
        print(f"  [{'PASS' if ok else 'FAIL'}] {name}" + (f": {detail}" if detail else ""), flush=True)
        return bool(ok)

    @property
    def ok(self) -> bool:
        return bool(self.rows) and all(ok for ok, _, _ in self.rows)


# ------------------------------------------------------------------------------------------------
# processes
# ------------------------------------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def stop_group(process: subprocess.Popen, timeout: float = 25.0) -> None:
    """SIGTERM the process group ``process`` leads (started with ``start_new_session``), then SIGKILL."""
    if process.poll() is None or group_alive(process.pid):
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and group_alive(process.pid):
                try:
                    process.wait(timeout=0.2)
                except subprocess.TimeoutExpired:
                    pass
            if not group_alive(process.pid):
                break
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie leader still counts; look for any live member.
    return any(len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z" for _, fields in proc_stats())


def proc_stats() -> Iterator[tuple[int, list[str]]]:
    """(pid, the /proc/<pid>/stat fields after the command: state, ppid, pgrp, ...) of every process."""
    for proc in Path("/proc").iterdir() if Path("/proc").exists() else ():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        yield int(proc.name), stat.rsplit(")", 1)[-1].split()


# ------------------------------------------------------------------------------------------------
# REST API
# ------------------------------------------------------------------------------------------------


class Api:
    def __init__(self, base: str) -> None:
        self.base = base
        self.client = httpx.Client(base_url=base, timeout=30)

    def login(self, home: Path, deadline: float) -> None:
        """Send the first (admin) user's JWT with every request."""
        self.client.headers["authorization"] = f"Bearer {self.token(home, deadline)}"

    def token(self, home: Path, deadline: float, username: str | None = None) -> str:
        """A JWT from /auth/token with the password the API server generated for ``username`` (simple auth
        manager; None: the first user, the admin)."""
        passwords = home / "simple_auth_manager_passwords.json.generated"
        wait_for(lambda: passwords.exists() and json.loads(passwords.read_text() or "{}"), deadline, "passwords file")
        known = json.loads(passwords.read_text())
        username = username or next(iter(known))
        response = self.client.post("/auth/token", json={"username": username, "password": known[username]})
        if response.status_code not in (200, 201):
            raise Failed(f"/auth/token answered {response.status_code}: {response.text[:300]}")
        return response.json()["access_token"]

    def get(self, path: str, **params: Any) -> Any:
        for attempt in range(8):
            response = self.client.get(path, params=params)
            # Retry reads that fail for a moment. Airflow 3.3.2's /api/v2/assets/events answers 500
            # while a DAG run created by the event is queued without a start_date
            # (apache/airflow#71360, fixed upstream by #71379).
            if response.status_code < 500 or attempt == 7:
                break
            time.sleep(1.0)
        if response.status_code != 200:
            raise Failed(f"GET {path} answered {response.status_code}: {response.text[:300]}")
        return response.json()

    def send(self, method: str, path: str, body: Any) -> Any:
        response = self.client.request(method, path, json=body)
        if response.status_code not in (200, 201):
            raise Failed(f"{method} {path} answered {response.status_code}: {response.text[:300]}")
        return response.json()

    def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any] | None = None) -> None:
        """A run of ``dag_id`` now (the DAG is unpaused: new DAGs are paused in the e2e)."""
        body: dict[str, Any] = {"dag_run_id": run_id, "logical_date": None, **({"conf": conf} if conf else {})}
        self.send("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)
        self.send("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def run_end(self, dag_id: str, run_id: str, deadline: float) -> str:
        """The state the run ends in (``success`` or ``failed``), waited for until ``deadline``."""

        def ended() -> str | None:
            state = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]
            return state if state in ("success", "failed") else None

        return wait_for(ended, deadline, f"the {dag_id} run {run_id} to end")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=1000)["task_instances"]

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        return self.get(path, map_index=map_index, deserialize=True, stringify=False)["value"]


def percentile(values: list[float], share: float) -> float:
    """The value below which ``share`` of ``values`` lie (nearest rank); NaN when there are none."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def wait_for(predicate: Callable[[], Any], deadline: float, what: str, interval: float = 0.5) -> Any:
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (httpx.HTTPError, Failed, ValueError, OSError) as err:
            last_error = err
        time.sleep(interval)
    raise Failed(f"timed out waiting for {what}" + (f" (last error: {last_error})" if last_error else ""))


def error_lines(api: Api, dag_id: str, run_id: str, tis: Any) -> list[str]:
    """Error lines in the logs of successful task instances (every try, retries included)."""
    found = []
    for ti in tis:
        if ti["state"] != "success":
            continue
        for try_number in range(1, ti["try_number"] + 1):
            for line in task_log(api, dag_id, run_id, ti["task_id"], ti["map_index"], try_number).splitlines():
                if '"level": "error"' in line or '"level": "critical"' in line or "[error" in line:
                    found.append(f"{ti['task_id']}[{ti['map_index']}] try {try_number}: {line[:300]}")
    return found


def task_log(api: Api, dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int) -> str:
    path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
    response = api.client.get(path, params={"map_index": map_index, "full_content": True})
    if response.status_code != 200:
        return ""
    body = response.json()
    content = body.get("content")
    if isinstance(content, list):
        return "\n".join(json.dumps(line) if not isinstance(line, str) else line for line in content)
    return str(content)
