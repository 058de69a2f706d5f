"""`sma`: the operator's command line. Each command group lives in `sma_cli.commands`."""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from sma_cli import __version__
from sma_cli.commands import dashboard, db, health, jobs, keys, profile
from sma_cli.console import fail


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sma", description="SMA operator command line")
    parser.add_argument("--version", action="version", version=f"sma {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in (health, db, keys, jobs, profile, dashboard):
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        code = args.fn(args)
    except ValidationError as exc:
        code = fail(f"invalid settings: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}", 2)
    except (OSError, ConnectionError) as exc:
        code = fail(f"cannot reach the database or service: {exc}")
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)
