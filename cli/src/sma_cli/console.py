"""Console output for the CLI: rich tables for people, `--json` for scripts."""

from __future__ import annotations

import sys

import orjson
from rich.console import Console

out = Console()
err = Console(stderr=True)


def print_json(value: object) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")


def fail(message: str, code: int = 1) -> int:
    err.print(f"[red]error:[/red] {message}")
    return code
