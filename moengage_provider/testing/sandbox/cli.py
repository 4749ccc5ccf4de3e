"""``python -m moengage_provider.testing.sandbox``: run a sandbox until Ctrl-C or SIGTERM.

What it prints is in :mod:`.banner`: the last line at start-up is always ``MoEngage sandbox
listening on URL`` (``LISTENING``), which :mod:`.spawn` waits for. The API key is never printed.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from moengage_provider.testing.sandbox.banner import STOPPED, startup_lines
from moengage_provider.testing.sandbox.config import load_config
from moengage_provider.testing.sandbox.options import is_loopback
from moengage_provider.testing.sandbox.ratelimits import parse_cli_rate_limit
from moengage_provider.testing.sandbox.server import MoEngageSandbox

#: Flags with a value, by the constructor keyword they set.
VALUE_FLAGS = (
    "five_minute_limit",
    "five_minute_seconds",
    "hourly_limit",
    "daily_limit",
    "hour_seconds",
    "day_seconds",
    "record_file",
)


def build_arg_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m moengage_provider.testing.sandbox",
        description="A local MoEngage Business Events API for tests and demos.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (0 picks a free one; default 8080)")
    parser.add_argument("--workspace-id", help="workspace ID (Basic-auth user name); or in the config file")
    parser.add_argument(
        "--api-key",
        help="API key (Basic-auth password); prefer the MOENGAGE_SANDBOX_API_KEY environment variable",
    )
    parser.add_argument("--config", help="JSON (or YAML) file: events, permissive, limits")
    parser.add_argument("--strict", action="store_true", help="reject triggers of undeclared events")
    parser.add_argument(
        "--five-minute-limit", type=int, help="triggers per five-minute window (default 10; see docs)"
    )
    parser.add_argument("--five-minute-seconds", type=float, help="length of the 'five minutes' window")
    parser.add_argument("--hourly-limit", type=int, help="triggers per hourly window (default 50)")
    parser.add_argument("--daily-limit", type=int, help="triggers per daily window (default 200)")
    parser.add_argument("--hour-seconds", type=float, help="length of the 'hour' window in seconds")
    parser.add_argument("--day-seconds", type=float, help="length of the 'day' window in seconds")
    parser.add_argument(
        "--rate-limit",
        action="append",
        metavar="WINDOW=LIMIT[/SECONDS]",
        help="any rate-limit window by name, e.g. five_minutes=3/2 (repeatable; see docs/sandbox.md)",
    )
    parser.add_argument(
        "--retry-after", action="store_true", help="add a Retry-After header to legacy 429 answers"
    )
    parser.add_argument(
        "--no-rate-limit-headers",
        action="store_true",
        help="leave out the x-ratelimit-limit/-remaining/-reset headers (on by default)",
    )
    parser.add_argument("--record-file", help="append every accepted trigger to this file as JSON lines")
    parser.add_argument("--allow-remote", action="store_true", help="allow binding to a non-loopback address")
    parser.add_argument("--quiet", action="store_true", help="do not log one line per request")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_arg_parser()
    args = parser.parse_args(argv)
    api_key = args.api_key or os.environ.get("MOENGAGE_SANDBOX_API_KEY")
    if not api_key:
        parser.error("give the API key with --api-key or the MOENGAGE_SANDBOX_API_KEY environment variable")
    kwargs = _sandbox_options(parser, args)
    workspace_id = args.workspace_id or kwargs.pop("workspace_id", None)
    kwargs.pop("workspace_id", None)
    if not workspace_id:
        parser.error("give the workspace ID with --workspace-id (or 'workspace_id' in the config file)")
    if not args.allow_remote and not is_loopback(args.host):
        parser.error(f"refusing to bind to non-loopback host {args.host!r} without --allow-remote")

    if not args.quiet:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    try:
        sandbox = MoEngageSandbox(
            workspace_id, api_key, host=args.host, port=args.port, allow_remote=args.allow_remote, **kwargs
        )
        sandbox.start()
    except (OSError, ValueError, TypeError) as exc:
        print(f"error: cannot start the MoEngage sandbox: {exc}", file=sys.stderr)
        return 1
    lines = startup_lines(
        sandbox.url,
        sandbox.host,
        sandbox.port,
        workspace_id,
        permissive=sandbox.permissive,
        events_declared=len(sandbox.events()),
    )
    _serve_until_a_signal(sandbox, lines)
    print(STOPPED, flush=True)
    return 0


def _sandbox_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, Any]:
    """The constructor's keyword arguments: the config file's, then the flags given (flags win)."""
    kwargs: dict[str, Any] = {}
    if args.config:
        try:
            kwargs.update(load_config(args.config))
        except (OSError, ValueError) as exc:
            parser.error(str(exc))
    if args.strict:
        kwargs["permissive"] = False
    for option in VALUE_FLAGS:
        value = getattr(args, option)
        if value is not None:
            kwargs[option] = value
    if args.retry_after:
        kwargs["retry_after"] = True
    if args.no_rate_limit_headers:
        kwargs["rate_limit_headers"] = False
    try:
        flags = dict(parse_cli_rate_limit(text) for text in args.rate_limit or [])
    except ValueError as exc:
        parser.error(str(exc))
    if flags:
        kwargs["rate_limits"] = {**kwargs.get("rate_limits", {}), **flags}
    return kwargs


def _serve_until_a_signal(sandbox: MoEngageSandbox, startup: list[str]) -> None:
    """Print the start-up lines once Ctrl-C and SIGTERM stop it cleanly (whoever reads the
    "listening" line may signal at once), then serve until one comes."""
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        print("\n".join(startup), flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        sandbox.stop()
