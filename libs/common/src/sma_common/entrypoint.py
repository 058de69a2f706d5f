"""The body of every service's `__main__`: settings, logging, build, run, exit code."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import TypeVar

from pydantic import ValidationError

from sma_common.logging import configure_logging
from sma_common.service import Service
from sma_common.settings import LoggingSettings

S = TypeVar("S", bound=LoggingSettings)


def run_service(name: str, settings_cls: type[S], build: Callable[[S], Service]) -> None:
    """Load settings (exit 2 with a readable message when invalid), configure logging, build
    the service and run it; the process exits with the service's exit code."""
    try:
        settings = settings_cls()
    except ValidationError as exc:
        lines = [f"  SMA_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()]
        sys.stderr.write(f"{name}: invalid settings\n" + "\n".join(lines) + "\n")
        sys.exit(2)
    configure_logging(settings.log_level, settings.log_format, service=name)
    sys.exit(asyncio.run(build(settings).run()))
