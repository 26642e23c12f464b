"""The production topology for ``make e2e-prod`` and the HA benchmark, started from nothing on loopback.

PostgreSQL (metadata DB and Celery result backend) and Redis (Celery broker) from Debian packages
(installed with apt-get when missing; the script runs as root, PostgreSQL as the ``postgres`` user
on a private data dir and port), then Airflow with the CeleryExecutor: ``db migrate``, the API
server, scheduler, DAG processor, two triggerers and two Celery workers, each in its own process
group with its own log file. :meth:`ProdStack.stop_all` ends every process group it started.

An emulator of the vendor API runs in this process; :class:`PollRecorder` wraps its app and notes
when each vendor task id was last polled successfully, so pickup and recovery times are measured
from what the vendor saw.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from common import Failed, free_ports, group_alive, proc_stats, stop_group, wait_for

REPO = Path(__file__).resolve().parents[2]
TOKEN = "e2e-prod-token-7c2b9e"
PG_USER = "postgres"


def ensure_packages() -> tuple[Path, str]:
    """The PostgreSQL bin dir and redis-server, installed from Debian packages when missing."""

    def found() -> tuple[Path, str] | None:
        postgres = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
        redis = shutil.which("redis-server") or (
            "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
        )
        if postgres and redis:
            return Path(postgres[-1]).parent, redis
        return None

    have = found()
    if have:
        return have
    if os.geteuid() != 0:
        raise Failed("PostgreSQL or Redis is missing and this is not root: apt-get install postgresql redis-server")
    print("Installing postgresql and redis-server (apt-get) ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "postgresql", "redis-server"]):
        subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL, timeout=900)
    have = found()
    if not have:
        raise Failed("apt-get installed postgresql and redis-server, but their binaries are not where expected")
    return have


class PollRecorder:
    """ASGI middleware: the monotonic time of every successful poll, per vendor task id."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.polled: dict[str, list[float]] = {}

    def last_poll(self, task_id: str) -> float | None:
        times = self.polled.get(task_id)
        return times[-1] if times else None

    def first_poll_after(self, task_id: str, moment: float) -> float | None:
        return next((t for t in self.polled.get(task_id, ()) if t >= moment), None)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].endswith("/tasks"):
            await self.app(scope, receive, send)
            return
        messages, more = [], True
        while more:
            message = await receive()
            messages.append(message)
            more = message.get("type") == "http.request" and message.get("more_body", False)
        status: dict[str, int] = {}

        async def replay() -> Any:
            return messages.pop(0) if messages else await receive()

        async def watch(message: Any) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        body = b"".join(m.get("body", b"") for m in messages)
        await self.app(scope, replay, watch)
        if status.get("code") != 200:
            return
        try:
            data = json.loads(body)
        except ValueError:
            return
        ids = data.get("ids") or ([data["id"]] if data.get("id") else [])
        now = time.monotonic()
        for task_id in ids:
            self.polled.setdefault(task_id, []).append(now)


class ProdStack:
    """PostgreSQL, Redis and the Airflow components, each a process group this object stops."""

    TRIGGERERS = ("triggerer-1", "triggerer-2")
    WORKERS = ("worker-1", "worker-2")

    def __init__(
        self, work: Path, emulator_url: str, *, worker_concurrency: int = 8, pool_slots: int = 2048, probe: bool = False
    ) -> None:
        self.work = work
        self.probe = probe  # API server 1 loads tests/e2e/probe/flood_probe.py (counts lookups and SQL)
        self.emulator_url = emulator_url
        self.worker_concurrency = worker_concurrency
        self.pool_slots = pool_slots
        self.procs: dict[str, subprocess.Popen] = {}
        self.all_procs: list[subprocess.Popen] = []
        self.triggerer_jobs: dict[str, int] = {}  # process name -> its TriggererJob id
        names = ("pg", "redis", "api", "api-2", "probe", *(f"log-{n}" for n in (*self.TRIGGERERS, *self.WORKERS)))
        self.ports = dict(zip(names, free_ports(len(names)), strict=True))
        self.db: Any = None

    # ---------------------------------------------------------------- processes

    def spawn(self, name: str, argv: list[str], *, env: dict[str, str] | None = None, user: str | None = None) -> None:
        (self.work / "logs").mkdir(exist_ok=True)
        log = (self.work / "logs" / f"{name}.log").open("a")
        process = subprocess.Popen(
            argv,
            env=env or self.env(),
            cwd=self.work,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, stopped as a whole
            user=user,
            group=user,
        )
        log.close()
        self.procs[name] = process
        self.all_procs.append(process)

    def log_text(self, name: str) -> str:
        path = self.work / "logs" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def alive(self) -> None:
        for name, process in self.procs.items():
            if process.poll() is not None:
                raise Failed(f"{name} exited with {process.returncode}; see {self.work / 'logs' / (name + '.log')}")

    def kill9(self, name: str) -> None:
        """SIGKILL the process group of ``name`` and every descendant (a task process in a group of its own too)."""
        process = self.procs.pop(name)
        victims = descendants(process.pid)
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        process.wait(timeout=10)

    def stop_all(self) -> list[str]:
        """Stop every process group started (Airflow first, the databases last); the names left running."""
        order = [p for p in self.all_procs if p not in (self.procs.get("pg"), self.procs.get("redis"))]
        order += [p for p in (self.procs.get("redis"), self.procs.get("pg")) if p is not None]
        if self.db is not None:
            try:
                self.db.close()
            except Exception:
                pass
        for process in order:
            stop_group(process, timeout=15)
        return [str(process.args[:3]) for process in self.all_procs if group_alive(process.pid)]

    # ---------------------------------------------------------------- databases

    def start_databases(self, deadline: float) -> None:
        pg_bin, redis_server = ensure_packages()
        data = self.work / "pg"
        data.mkdir()
        owner = pwd.getpwnam(PG_USER)
        os.chown(data, owner.pw_uid, owner.pw_gid)
        os.chmod(self.work, 0o755)  # the postgres user must reach its data dir
        subprocess.run(
            [str(pg_bin / "initdb"), "-D", str(data), "-U", PG_USER, "-A", "trust", "-E", "UTF8", "--no-sync"],
            check=True,
            user=PG_USER,
            group=PG_USER,
            cwd=data,
            stdout=subprocess.DEVNULL,
            timeout=300,
        )
        port = self.ports["pg"]
        self.spawn(
            "pg",
            [
                str(pg_bin / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={data}",
                "-c",
                "max_connections=300",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ],
            env={"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"},
            user=PG_USER,
        )
        redis_dir = self.work / "redis"
        redis_dir.mkdir()
        self.spawn(
            "redis",
            [
                redis_server,
                "--port",
                str(self.ports["redis"]),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(redis_dir),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            env={"PATH": os.environ.get("PATH", "")},
        )
        import psycopg2

        def connect() -> Any:
            self.alive()
            try:
                return psycopg2.connect(host="127.0.0.1", port=port, user=PG_USER, dbname="postgres")
            except psycopg2.OperationalError as err:  # not up yet
                raise Failed(str(err).strip()) from None

        admin = wait_for(connect, deadline, "PostgreSQL to accept connections", interval=0.2)
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute("CREATE DATABASE airflow")
        admin.close()
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.ports["redis"])
        wait_for(lambda: self.alive() or client.ping(), deadline, "Redis to answer PING", interval=0.2)
        client.close()

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """A read on the metadata DB (autocommit, so every read sees the latest commits)."""
        import psycopg2

        if self.db is None or self.db.closed:
            self.db = psycopg2.connect(host="127.0.0.1", port=self.ports["pg"], user=PG_USER, dbname="airflow")
            self.db.autocommit = True
        with self.db.cursor() as cursor:
            cursor.execute(sql, tuple(params))
            return cursor.fetchall()

    # ---------------------------------------------------------------- Airflow

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['api']}"

    @property
    def api2_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['api-2']}"

    @property
    def probe_url(self) -> str:
        """The flood probe's counts in API server 1 (``probe=True``): ``GET <probe_url>/counts``."""
        return f"http://127.0.0.1:{self.ports['probe']}"

    @property
    def home(self) -> Path:
        return self.work / "airflow_home"

    def env(self, name: str | None = None) -> dict[str, str]:
        bin_dir = Path(sys.executable).parent
        db = f"postgresql+psycopg2://{PG_USER}@127.0.0.1:{self.ports['pg']}/airflow"
        env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "VIDGEN"))}
        env.update(
            {
                "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
                "PYTHONUNBUFFERED": "1",
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.work / "dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CORE__PARALLELISM": "64",
                "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "2000",
                "AIRFLOW__CORE__DEFAULT_POOL_TASK_SLOT_COUNT": str(self.pool_slots),
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db,
                "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{self.ports['redis']}/0",
                "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://{PG_USER}@127.0.0.1:{self.ports['pg']}/airflow",
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
                "AIRFLOW__CELERY__SYNC_PARALLELISM": "2",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.ports["api"]),
                "AIRFLOW__API__BASE_URL": self.api_url,
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__SECRET_KEY": self.secrets["api"],
                "AIRFLOW__API_AUTH__JWT_SECRET": self.secrets["jwt"],
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                # As in make e2e: notice a finished task process quickly (Airflow 3.3.2 deferral race).
                "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
                # A task whose worker was killed -9 is failed (and retried) after this long without a heartbeat.
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
                # A scheduler killed -9 leaves tasks it had queued but not sent to Celery; its successor
                # resets them at the next orphan check (default every 300 s).
                "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "15",
                "AIRFLOW_CONN_ACEDATA_DEFAULT": json.dumps(
                    {"conn_type": "acedata", "host": self.emulator_url, "password": TOKEN}
                ),
                # Callbacks to one API server or the other (the callbacks phase); the emulator's limit is
                # the pace of every request, confirmations of callbacks included.
                **{
                    f"AIRFLOW_CONN_ACEDATA_CALLBACKS_{number}": json.dumps(
                        {
                            "conn_type": "acedata",
                            "host": self.emulator_url,
                            "password": TOKEN,
                            "extra": {"callback_base_url": url, "max_polls_per_second": 20},
                        }
                    )
                    for number, url in ((1, self.api_url), (2, self.api2_url))
                },
                "AIRFLOW_VAR_VIDGEN_PROMPTS": json.dumps(["e2e-prod: a paper boat", "e2e-prod: a red fox"]),
                "AIRFLOW_VAR_VIDGEN_VIDEO_ROOT": f"file://{self.work / 'videos'}",
                "AIRFLOW__VIDGEN__MEDIA_ROOTS": str(self.work / "videos"),
                "VIDGEN_POLL_INTERVAL": "1",
            }
        )
        if name == "api-2":
            env["AIRFLOW__API__PORT"] = str(self.ports["api-2"])
        if name == "api" and self.probe:
            # The flood probe, in API server 1 only: a plugins folder of its own holding a copy of the probe.
            env["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(self.work / "probe-plugins")
            env["E2E_FLOOD_PROBE_PORT"] = str(self.ports["probe"])
        if name in self.TRIGGERERS:
            env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(self.ports[f"log-{name}"])
        if name in self.WORKERS:
            env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(self.ports[f"log-{name}"])
        return env

    secrets = {"api": os.urandom(16).hex(), "jwt": os.urandom(48).hex()}

    def start_airflow(self, deadline: float) -> None:
        (self.work / "logs").mkdir(exist_ok=True)
        migrate = subprocess.run(
            ["airflow", "db", "migrate"],
            env=self.env(),
            cwd=self.work,
            stdout=(self.work / "logs" / "db-migrate.log").open("w"),
            stderr=subprocess.STDOUT,
            timeout=max(deadline - time.monotonic(), 1),
        )
        if migrate.returncode:
            raise Failed(f"airflow db migrate failed; see {self.work / 'logs' / 'db-migrate.log'}")
        if self.probe:
            (self.work / "probe-plugins").mkdir(exist_ok=True)
            shutil.copy(Path(__file__).resolve().parent / "probe" / "flood_probe.py", self.work / "probe-plugins")
        self.spawn("api", ["airflow", "api-server"], env=self.env("api"))
        # A second API server: vendor callbacks may reach either (the receiver keeps nothing in memory).
        self.spawn("api-2", ["airflow", "api-server"], env=self.env("api-2"))
        self.spawn("scheduler", ["airflow", "scheduler"])
        self.spawn("dag-processor", ["airflow", "dag-processor"])
        for name in self.TRIGGERERS:
            self.start_triggerer(name, deadline)
        for name in self.WORKERS:
            self.start_worker(name, deadline)

    def start_triggerer(self, name: str, deadline: float) -> int:
        """Start a triggerer and wait for its TriggererJob row (so each job id is known to be this process's)."""
        known = {row[0] for row in self.query("SELECT id FROM job WHERE job_type = 'TriggererJob'")}
        self.spawn(name, ["airflow", "triggerer"], env=self.env(name))

        def new_job() -> int | None:
            self.alive()
            rows = self.query("SELECT id FROM job WHERE job_type = 'TriggererJob' AND state = 'running'")
            fresh = [row[0] for row in rows if row[0] not in known]
            return fresh[0] if fresh else None

        self.triggerer_jobs[name] = wait_for(new_job, deadline, f"{name}'s job row", interval=0.2)
        return self.triggerer_jobs[name]

    def start_worker(self, name: str, deadline: float) -> None:
        self.spawn(
            name,
            [
                "airflow",
                "celery",
                "worker",
                "--celery-hostname",
                f"{name}@e2e-prod",
                "--without-mingle",
                "--without-gossip",
                "--concurrency",
                str(self.worker_concurrency),
            ],
            env=self.env(name),
        )
        wait_for(
            lambda: self.alive() or " ready." in self.log_text(name), deadline, f"{name} to be ready", interval=0.3
        )

    def worker_running(self, pid: int) -> str | None:
        """The worker whose process tree holds ``pid`` (a task process), if any."""
        for name in self.WORKERS:
            process = self.procs.get(name)
            if process is not None and (pid == process.pid or pid in descendants(process.pid)):
                return name
        return None


def descendants(root: int) -> list[int]:
    """Every live descendant of ``root``, from /proc."""
    children: dict[int, list[int]] = {}
    for pid, fields in proc_stats():
        children.setdefault(int(fields[1]), []).append(pid)
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), ()):
            found.append(child)
            stack.append(child)
    return found
