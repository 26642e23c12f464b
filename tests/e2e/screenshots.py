"""``make screenshots``: the Videos tab under a real ``airflow standalone``, photographed by headless Chromium
logged in as real users (a password from the auth manager, its JWT as the UI's ``_token`` cookie).

1. standalone runs ``vidgen_videos_tab`` (a batch of 20, a mapped generation with one failure, a download);
2. as ``admin``: the run page's Videos tab, a video playing, the failures;
3. standalone stops; an API server on the same metadata DB, with an auth manager that grants one user read
   access to another DAG only (as FAB's per-DAG roles do; ``tests/per_dag_auth.py``), shows that user's 403.

Writes ``docs/videos-tab.png``, ``docs/videos-playing.png``, ``docs/videos-failures.png`` and
``docs/videos-403.png``. Needs ``chromium`` on the PATH.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Api, Failed, free_ports, stop_group, wait_for
from run_e2e import REPO, TOKEN, airflow_env

from airflow_provider_vidgen.emulator import EmulatorServer

DAG_ID, OTHER = "vidgen_videos_tab", "vidgen_other"
DAG_FILE = Path(__file__).resolve().parent / "dags" / "vidgen_videos_tab.py"
DOCS = REPO / "docs"
READER = f"reader_of_{OTHER}"  # tests/per_dag_auth.py: may read vidgen_other only


class Browser:
    """Headless Chromium driven over the DevTools protocol (one page)."""

    def __init__(self, work: Path) -> None:
        from websockets.sync.client import connect

        (port,) = free_ports(1)
        self.process = subprocess.Popen(
            [
                shutil.which("chromium") or "chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
                f"--remote-debugging-port={port}", f"--user-data-dir={work / 'chromium'}",
                "--window-size=1440,1000", "--autoplay-policy=no-user-gesture-required", "about:blank",
            ],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        pages = wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/json", timeout=2).json(), deadline, "chromium")
        page = next(p for p in pages if p.get("type") == "page")
        self.socket = connect(page["webSocketDebuggerUrl"], max_size=None)
        self.next_id = 0
        self.call("Page.enable")
        self.call("Network.enable")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise Failed(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str) -> Any:
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def log_in(self, base: str, token: str) -> None:
        self.call("Network.clearBrowserCookies")
        self.call("Network.setCookie", name="_token", value=token, url=base)

    def open(self, url: str, ready: str, what: str) -> None:
        self.call("Page.navigate", url=url)
        wait_for(lambda: self.evaluate(ready), time.monotonic() + 60, what)

    def shoot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))
        print(f"wrote {path.relative_to(REPO)}", flush=True)

    def close(self) -> None:
        self.socket.close()
        stop_group(self.process)


IN_FRAME = "document.querySelector('iframe')?.contentDocument"


def photograph(base: str, home: Path, run_id: str, browser: Browser) -> None:
    browser.log_in(base, Api(base).token(home, time.monotonic() + 30, "admin"))
    tab = f"{base}/dags/{DAG_ID}/runs/{quote(run_id, safe='')}/plugin/videos"
    cards = f"({IN_FRAME}?.querySelectorAll('article.card').length || 0) >= 20"
    browser.open(tab, cards, "the Videos tab")
    time.sleep(1.5)  # posters paint after they load (a video's poster has no load event to wait on)
    browser.shoot(DOCS / "videos-tab.png")

    play = f"(() => {{ const v = {IN_FRAME}.querySelector('video'); v.muted = true; v.play(); return true }})()"
    browser.evaluate(play)
    playing = f"{IN_FRAME}.querySelector('video').currentTime > 0.8"
    wait_for(lambda: browser.evaluate(playing), time.monotonic() + 30, "a video to play")
    browser.evaluate(f"{IN_FRAME}.querySelector('video').pause()")
    browser.shoot(DOCS / "videos-playing.png")

    view = f"{base}/vidgen/dags/{DAG_ID}/runs/{quote(run_id, safe='')}/videos?state=failed"
    browser.open(view, "document.querySelectorAll('article.card').length === 1", "the failures")
    browser.shoot(DOCS / "videos-failures.png")


def run(work: Path) -> None:
    (work / "dags").mkdir(parents=True)
    shutil.copy(DAG_FILE, work / "dags" / DAG_FILE.name)
    api_port, log_port, trigger_port, second_port = free_ports(4)
    home = work / "airflow_home"
    with EmulatorServer(token=TOKEN, queued_seconds=2, running_seconds=3) as emulator:
        env = airflow_env(work, emulator.url, api_port, (log_port, trigger_port))
        env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] = f"admin:admin,{READER}:viewer"
        log = (work / "standalone.log").open("w")
        standalone = subprocess.Popen(
            ["airflow", "standalone"], env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        base = f"http://127.0.0.1:{api_port}"
        api = Api(base)
        browser = Browser(work)
        try:
            deadline = time.monotonic() + 600
            wait_for(lambda: api.client.get("/api/v2/monitor/health").status_code == 200, deadline, "the API")
            api.login(home, deadline)
            wait_for(lambda: api.client.get(f"/api/v2/dags/{DAG_ID}").status_code == 200, deadline, "the DAG")
            api.send("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": False})
            run_id = api.send("POST", f"/api/v2/dags/{DAG_ID}/dagRuns", {"logical_date": None})["dag_run_id"]
            finished = wait_for(
                lambda: (
                    api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}")["state"] in ("success", "failed")
                ),
                deadline,
                "the run",
            )
            print(f"run {run_id} finished: {finished}", flush=True)
            photograph(base, home, run_id, browser)
        finally:
            stop_group(standalone)
            log.close()

        # The same metadata DB, behind an auth manager with per-DAG read access.
        env = airflow_env(work, emulator.url, second_port, (log_port, trigger_port))
        env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] = f"admin:admin,{READER}:viewer"
        env["AIRFLOW__CORE__AUTH_MANAGER"] = "per_dag_auth.PerDagSimpleAuthManager"
        env["PYTHONPATH"] = f"{REPO / 'tests'}:{env['PYTHONPATH']}"
        with (work / "api-server.log").open("w") as log:
            server = subprocess.Popen(
                ["airflow", "api-server", "--port", str(second_port)], env=env, cwd=work, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{second_port}"
            deadline = time.monotonic() + 120
            wait_for(lambda: httpx.get(f"{base}/api/v2/monitor/health").status_code == 200, deadline, "the API")
            reader = Api(base).token(home, deadline, READER)
            browser.log_in(base, reader)
            view = f"{base}/vidgen/dags/{DAG_ID}/runs/{quote(run_id, safe='')}/videos"
            browser.open(view, "document.body && document.body.innerText.includes('403')", "the 403")
            status = httpx.get(view, cookies={"_token": reader}).status_code
            if status != 403:
                raise Failed(f"{READER} got {status}, not 403")
            browser.shoot(DOCS / "videos-403.png")
        finally:
            stop_group(server)
            browser.close()


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="vidgen-screenshots-"))
    print(f"Work folder: {work}", flush=True)
    try:
        run(work)
    except Failed as err:
        print(f"FAILED: {err} (logs in {work})", flush=True)
        return 1
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
