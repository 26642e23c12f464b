"""Run the emulator with uvicorn in a background thread (for tests, benchmarks and notebooks)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from airflow_provider_vidgen.emulator.config import EmulatorConfig
from airflow_provider_vidgen.emulator.state import EmulatorState

T = TypeVar("T")
S = TypeVar("S", bound="ThreadedServer")


def bind_socket(host: str, port: int) -> socket.socket:
    """A bound socket (port 0 picks a free one); uvicorn starts listening on it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def url_for(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def uvicorn_config(app: Any, host: str, port: int, log_level: str) -> Any:
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        log_config=None,  # never reconfigure the host process's logging
        access_log=False,
        lifespan="on",
        ws="none",
        timeout_graceful_shutdown=2,
        timeout_keep_alive=30,
        backlog=2048,
    )


class ThreadedServer:
    """Any ASGI app served by uvicorn from a daemon thread; ``start()`` returns once the port accepts
    connections. Also handy in tests for a callback receiver."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning") -> None:
        self.app = app
        self.host = host
        self.port = port
        self.log_level = log_level
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return url_for(self.host, self.port)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self: S, timeout: float = 10.0) -> S:
        if self.running:
            return self
        import uvicorn

        sock = bind_socket(self.host, self.port)
        self.port = sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn_config(self.app, self.host, self.port, self.log_level))
        self._error = None
        self._thread = threading.Thread(
            target=self._run, args=(self._server, sock), name=f"vidgen-emulator-{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not (self._server.started and self._accepts()):
            if not self._thread.is_alive():
                raise RuntimeError(f"the server did not start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the server did not accept connections on {self.url} within {timeout} s")
            time.sleep(0.01)
        return self

    def _run(self, server: Any, sock: socket.socket) -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # SystemExit from a failed startup, too
            self._error = exc
        finally:
            sock.close()

    def _accepts(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout)
        self._thread = None
        self._server = None

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()


class EmulatorServer(ThreadedServer):
    """Both vendors' APIs on ``http://127.0.0.1:<port>``, served from a background thread.

    ``with EmulatorServer(queued_seconds=0.2, running_seconds=0.3) as emu: ...`` starts it (port 0
    picks a free port; the call returns once the port accepts connections) and stops it on exit.
    Keyword arguments are :class:`EmulatorConfig` fields. ``url`` is the base URL of both vendors
    (Ace Data Cloud host and HiDream host), ``token`` the accepted bearer token.
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        **settings: Any,
    ) -> None:
        from airflow_provider_vidgen.emulator.app import create_app

        if config is None:
            config = EmulatorConfig(**settings)
        elif settings:
            config = config.updated(settings)
        app = create_app(config)
        super().__init__(app, host=host, port=port, log_level=log_level)
        self.state: EmulatorState = app.state.emulator

    @property
    def token(self) -> str:
        return self.state.config.token

    # ---------------------------------------------------------------- control (thread-safe)

    def _on_loop(self, function: Callable[[], T]) -> T:
        """Run ``function`` on the server's event loop (the state is only touched from there)."""
        loop = self.state.loop
        if not self.running or loop is None or loop.is_closed():
            return function()

        async def call() -> T:
            return function()

        return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout=10)

    def stats(self) -> dict[str, Any]:
        """``{"counts": {...}, "ids_polled": n, "tasks": n, "tasks_created": n, "by_vendor": {...}}``."""
        return self._on_loop(self.state.stats)

    def finish_times(self) -> dict[str, float]:
        """Vendor task id -> wall time (epoch s) it reached (or will reach) its final state."""
        return self._on_loop(lambda: {task_id: task.finished_at for task_id, task in self.state.tasks.items()})

    def delivered_callbacks(self) -> dict[str, float]:
        """Vendor task id -> wall time (epoch s) its final callback was answered with a 2xx."""
        return self._on_loop(lambda: dict(self.state.callbacks_delivered))

    def callback_answer_times(self) -> list[float]:
        """Seconds each callback POST took to be answered (or to fail: a timeout counts its whole wait)."""
        return self._on_loop(lambda: list(self.state.callback_answer_seconds))

    def reset(self) -> None:
        """Forget all tasks, counters, rate windows and received callbacks."""
        self._on_loop(self.state.reset)

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change faults, limits or timings at runtime; returns the settings now in force."""
        return self._on_loop(lambda: self.state.configure(settings))

    def hold_clock(self) -> None:
        """Stop the emulator's clock: tasks stay in their phase and rate windows stay open until :meth:`advance`."""
        self._on_loop(self.state.clock.hold)

    def advance(self, seconds: float) -> None:
        """Move the emulator's clock forward (held or not): tasks age and rate windows pass by ``seconds``."""
        self._on_loop(lambda: self.state.clock.advance(seconds))

    def release_clock(self) -> None:
        """Let the emulator's clock run with real time again (from where it stood); :meth:`reset` does this too."""
        self._on_loop(self.state.clock.release)

    def callbacks(self) -> list[dict[str, Any]]:
        """What the built-in receiver at ``<url>/_emulator/callbacks`` got: ``[{path, received_at, body}]``."""
        return self._on_loop(lambda: list(self.state.sink))

    @property
    def callback_url(self) -> str:
        """A callback / notify URL served by the emulator itself (see :meth:`callbacks`)."""
        return f"{self.url}/_emulator/callbacks"

    def __repr__(self) -> str:
        return f"EmulatorServer(url={self.url!r}, running={self.running})"
