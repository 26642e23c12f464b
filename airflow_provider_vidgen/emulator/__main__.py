"""``python -m airflow_provider_vidgen.emulator``: serve the emulator until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
from collections.abc import Sequence

from airflow_provider_vidgen.emulator.config import DEFAULT_TOKEN, EmulatorConfig


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_vidgen.emulator",
        description="Local emulator of the Ace Data Cloud and HiDream video APIs. Prints its URL, "
        "then serves until interrupted. Prompt markers: [fail] [reject] [slow] [nourl].",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port; 0 picks a free one (default 8765)")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help=f"accepted bearer token (default {DEFAULT_TOKEN!r})")
    parser.add_argument(
        "--log-level",
        default="info",
        choices=("critical", "error", "warning", "info", "debug"),
        help="log level of the emulator's own log (default info)",
    )
    defaults = EmulatorConfig()
    for spec in dataclasses.fields(EmulatorConfig):
        if spec.name in ("token", "extra_tokens", "strict_fields"):
            continue
        default = getattr(defaults, spec.name)
        text = f"{spec.metadata['help']} (default {default})"
        if isinstance(default, bool):
            parser.add_argument(_flag(spec.name), action="store_true", default=default, help=text)
        elif spec.metadata.get("kind") is not None:
            parser.add_argument(_flag(spec.name), type=spec.metadata["kind"], default=default, help=text)
        elif isinstance(default, str) or default is None:
            parser.add_argument(_flag(spec.name), default=default, help=text)
        else:
            kind = int if isinstance(default, int) else float
            parser.add_argument(_flag(spec.name), type=kind, default=default, help=text)
    parser.add_argument(
        "--lenient", action="store_true", help="accept unknown request fields (same as strict_fields=false)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = {
        spec.name: getattr(args, spec.name)
        for spec in dataclasses.fields(EmulatorConfig)
        if spec.name not in ("extra_tokens",) and hasattr(args, spec.name)
    }
    if args.lenient:
        settings["strict_fields"] = False
    try:
        config = EmulatorConfig(**settings)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    import logging

    import uvicorn

    from airflow_provider_vidgen.emulator.app import create_app
    from airflow_provider_vidgen.emulator.server import bind_socket, url_for, uvicorn_config

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sock = bind_socket(args.host, args.port)
    port = sock.getsockname()[1]
    print(url_for(args.host, port), flush=True)
    server = uvicorn.Server(uvicorn_config(create_app(config), args.host, port, args.log_level))
    stopped: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        # uvicorn shuts down gracefully on these, then re-raises them to the handler it found: this one.
        signal.signal(sig, lambda number, frame: stopped.append(number))
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
