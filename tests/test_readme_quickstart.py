"""The README's quickstart runs as written.

The blocks marked ``<!-- quickstart:shell -->`` and ``<!-- quickstart:dag <file> -->`` are taken from
README.md and run in document order by ``bash -euo pipefail`` in a temporary folder (the ``$PWD`` of the
blocks), with the running interpreter's bin directory first on PATH. The only deviations: the
``make install && source .venv/bin/activate`` line is skipped (this venv is installed), the emulator's
port 8765 becomes a free port, and the DAG block is written to the file its marker names. Background
jobs (the emulator) are killed when the script exits, whatever happens.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from conftest import REPO

README = REPO / "README.md"
BLOCK = re.compile(r"^<!-- quickstart:(shell|dag)(?: (\S+))? -->\n```[a-z]*\n(.*?)^```$", re.M | re.S)
INSTALL = "make install && source .venv/bin/activate"
README_PORT = "8765"
DAGS_TEST = re.compile(r"^airflow dags test (\S+)", re.M)
# The mistake the README names, and where the test makes it in the quickstart's DAG.
MISTAKE = ("minimax-t2v-turbo", 'model="minimax-t2v-turbo"')
PARTIAL = ('.partial(task_id="hailuo", ', '.partial(task_id="hailuo", model="minimax-t2v-turbo", ')

# Prepended to the blocks: kill every background job on exit, and record the exit code of
# `airflow dags test` (the command itself runs unchanged).
PRELUDE = """\
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
airflow() {
  if [[ "${1-}" == dags && "${2-}" == test ]]; then
    echo "$AIRFLOW_HOME" > "$QUICKSTART_STATE/airflow_home"
    local rc=0
    command airflow "$@" || rc=$?
    echo "$rc" > "$QUICKSTART_STATE/dags_test_rc"
    return "$rc"
  fi
  command airflow "$@"
}
"""


def quickstart_blocks(readme: str) -> list[tuple[str, str | None, str]]:
    """``(kind, file, body)`` of every marked block, in document order."""
    return [(kind, target, body) for kind, target, body in BLOCK.findall(readme)]


def quickstart_script(blocks: list[tuple[str, str | None, str]], port: int) -> str:
    parts = [PRELUDE]
    for kind, target, body in blocks:
        if kind == "shell":
            lines = [line for line in body.splitlines() if line.strip() != INSTALL]
            parts.append("\n".join(lines).replace(README_PORT, str(port)))
        else:
            parts.append(f"cat > \"{target}\" <<'QUICKSTART_DAG_EOF'\n{body}QUICKSTART_DAG_EOF")
    parts.append('echo "$AIRFLOW_HOME" > "$QUICKSTART_STATE/airflow_home"')
    return "\n".join(parts) + "\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def is_listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_the_readme_marks_a_runnable_quickstart():
    readme = README.read_text()
    blocks = quickstart_blocks(readme)
    kinds = [kind for kind, _, _ in blocks]
    assert kinds.count("dag") == 1 and "shell" in kinds, kinds
    shell = "\n".join(body for kind, _, body in blocks if kind == "shell")
    assert shell.splitlines()[0] == INSTALL  # a fresh clone starts with the install
    assert f"--port {README_PORT}" in shell and f"127.0.0.1:{README_PORT}" in shell
    assert len(DAGS_TEST.findall(shell)) == 1
    (target,) = [target for kind, target, _ in blocks if kind == "dag"]
    assert target and f"Save this as `{target}`" in readme  # the file the reader is told to write


def run_quickstart(tmp_path: Path, blocks: list[tuple[str, str | None, str]]) -> tuple[subprocess.Popen, str, Path]:
    """Run ``blocks`` as the module docstring says; the process (ended), its output and the state folder."""
    port = free_port()
    work, state = tmp_path / "clone", tmp_path / "state"
    work.mkdir()
    state.mkdir()
    script = tmp_path / "quickstart.sh"
    script.write_text(quickstart_script(blocks, port))
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "VIDGEN"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["QUICKSTART_STATE"] = str(state)
    process = subprocess.Popen(
        ["bash", "-euo", "pipefail", str(script)],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=150)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    for _ in range(50):  # the emulator was stopped (by the README's kill or the exit trap)
        if not is_listening(port):
            break
        time.sleep(0.1)
    assert not is_listening(port), "the emulator started by the quickstart is still running"
    return process, output, state


def error_lines(output: str) -> list[str]:
    """Lines that look like errors: log lines at error level, and tracebacks."""
    return [line for line in output.splitlines() if "[error" in line or "ERROR" in line or "Traceback" in line]


def test_the_quickstart_runs_as_written(tmp_path):
    readme = README.read_text()
    blocks = quickstart_blocks(readme)
    (dag_id,) = DAGS_TEST.findall("\n".join(body for kind, _, body in blocks if kind == "shell"))
    started = time.monotonic()
    process, output, state = run_quickstart(tmp_path, blocks)
    elapsed = time.monotonic() - started
    work = tmp_path / "clone"
    tail = output[-6000:]

    assert process.returncode == 0, f"the quickstart failed (exit {process.returncode}):\n{tail}"
    assert (state / "dags_test_rc").read_text().strip() == "0", tail
    assert error_lines(output) == [], tail  # nothing that is not an error looks like one

    home = Path((state / "airflow_home").read_text().strip())
    with sqlite3.connect(home / "airflow.db") as db:
        runs = db.execute("SELECT run_id, state FROM dag_run WHERE dag_id = ?", (dag_id,)).fetchall()
        values = db.execute("SELECT value FROM xcom WHERE dag_id = ? AND key = 'return_value'", (dag_id,)).fetchall()
    assert len(runs) == 1 and runs[0][1] == "success", (runs, tail)
    (run_id, _) = runs[0]

    manifests = [value for (raw,) in values if isinstance(value := json.loads(raw), dict) and "gallery" in value]
    assert len(manifests) == 1, "one download task returned a manifest"
    manifest = manifests[0]
    gallery = Path(urlsplit(manifest["gallery"]).path)
    folder = gallery.parent
    assert folder.is_relative_to(work), f"the videos went outside the quickstart's folder: {folder}"
    assert run_id in folder.name, "the download folder is templated on {{ run_id }}"
    assert gallery.is_file() and gallery.name == "gallery.html"
    videos = sorted(path.name for path in folder.glob("*.mp4"))
    listed = sorted(entry["name"] for entry in manifest["files"] if entry["kind"] == "video")
    assert videos == listed and len(videos) == manifest["generations"] >= 3, (videos, manifest)
    assert manifest["downloaded"] == manifest["generations"] and manifest["failures"] == []
    assert all(name in gallery.read_text() for name in videos)
    assert elapsed < 120, f"the quickstart took {elapsed:.0f} s"


def test_a_misspelt_model_in_the_quickstart_fails_before_anything_is_sent(tmp_path):
    """The mistake the README warns about, made in the README's own DAG: ``airflow dags test`` exits non-zero,
    the error names the model and the allowed values, and no run (so no request) exists."""
    readme = README.read_text()
    assert MISTAKE[0] in readme and f"`{MISTAKE[1]}`" in readme  # the README shows this very mistake
    blocks = [(kind, target, body.replace(*PARTIAL) if kind == "dag" else body) for kind, target, body in
              quickstart_blocks(readme)]  # fmt: skip
    assert blocks != quickstart_blocks(readme)
    process, output, state = run_quickstart(tmp_path, blocks)
    assert process.returncode != 0 and (state / "dags_test_rc").read_text().strip() == "1", output[-3000:]
    assert "model: must be one of 'minimax-t2v', 'minimax-i2v', 'minimax-i2v-director'; got 'minimax-t2v-turbo'" in (
        output
    ), output[-3000:]
    home = Path((state / "airflow_home").read_text().strip())
    with sqlite3.connect(home / "airflow.db") as db:
        assert db.execute("SELECT count(*) FROM dag_run").fetchone() == (0,)
