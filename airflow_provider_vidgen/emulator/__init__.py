"""A local emulator of the Ace Data Cloud and HiDream video APIs over real HTTP.

Cheap to import: the Starlette app and the uvicorn server load only when used.

    from airflow_provider_vidgen.emulator import EmulatorServer

    with EmulatorServer(queued_seconds=0.2, running_seconds=0.3) as emu:
        ...  # point a connection's host at emu.url, password emu.token

Command line: ``python -m airflow_provider_vidgen.emulator --port 8765 --token T`` (``--help`` lists
every setting of :class:`EmulatorConfig`).

Prompt markers (in ``prompt`` or ``content[].text``): ``[fail]`` structured failure, ``[reject]``
moderation failure, ``[nourl]`` success word without a video URL, ``[slow]`` three times longer.

Control endpoints (no auth): ``GET /_emulator/stats``, ``POST /_emulator/reset``,
``GET|POST /_emulator/config``, ``GET /_emulator/health`` and a callback receiver at
``POST /_emulator/callbacks[/<anything>]`` (``GET /_emulator/callbacks`` lists what it got).
Media: ``GET|HEAD /files/<task_id>.mp4`` (also ``<task_id>_wm.mp4`` and ``<task_id>.jpg``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_vidgen.emulator.config import EmulatorConfig

if TYPE_CHECKING:
    from airflow_provider_vidgen.emulator.app import create_app
    from airflow_provider_vidgen.emulator.server import EmulatorServer

__all__ = ["EmulatorConfig", "EmulatorServer", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from airflow_provider_vidgen.emulator.app import create_app

        return create_app
    if name == "EmulatorServer":
        from airflow_provider_vidgen.emulator.server import EmulatorServer

        return EmulatorServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
