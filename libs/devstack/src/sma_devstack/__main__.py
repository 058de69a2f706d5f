"""`python -m sma_devstack run|up|down|status`: what `make run`, `make up` and `make down` call."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sma_devstack.ports import port_is_free
from sma_devstack.process import kill_group_if_same, process_identity
from sma_devstack.seed import create_admin_key, create_demo_jobs
from sma_devstack.stack import DEFAULT_PORTS, Stack, StackPaths, service_port

console = Console(stderr=True)


def _paths() -> StackPaths:
    root = Path(os.environ.get("SMA_RUN_DIR", ".run")).resolve()
    root.mkdir(parents=True, exist_ok=True)
    # The supervisor's log shows the admin key, as `make run` prints it: keep it to the owner.
    (root / "logs").mkdir(mode=0o700, exist_ok=True)
    return StackPaths(root)


def _supervisor(paths: StackPaths) -> int | None:
    """The running supervisor's pid, if `stack.pid` names a process that is still that one."""
    try:
        recorded = json.loads(paths.pid_file.read_text())
        pid, identity = int(recorded["pid"]), recorded["identity"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid if identity is not None and process_identity(pid) == identity else None


def _record_supervisor(paths: StackPaths) -> None:
    pid = os.getpid()
    paths.pid_file.write_text(json.dumps({"pid": pid, "identity": process_identity(pid)}))


def _kill_children(paths: StackPaths) -> bool:
    """SIGKILL whatever the stack started and is still running (a killed supervisor leaves its
    children), never a process that merely reused a recorded pid."""
    killed = False
    try:
        children = json.loads(paths.children_file.read_text())
    except (OSError, ValueError):
        children = []
    for child in children:
        if isinstance(child, dict):
            killed = kill_group_if_same(int(child["pid"]), child.get("identity")) or killed
    paths.children_file.unlink(missing_ok=True)
    return killed


def _write_env(stack: Stack, token: str) -> None:
    env = {
        "SMA_GATEWAY_URL": stack.urls["gateway"],
        "SMA_API_TOKEN": token,
        "SMA_SCHEDULER_URL": stack.urls["scheduler"],
        "SMA_COLLECTOR_URL": stack.urls["collector"],
        "SMA_MAINTENANCE_URL": stack.urls["maintenance"],
        "SMA_SIMULATOR_URL": stack.urls["simulator"],
        "SMA_DATABASE_URL": stack.urls["database"],
        "SMA_REDIS_URL": stack.urls["redis"],
        "SMA_KAFKA_BOOTSTRAP_SERVERS": stack.urls["kafka"],
    }
    tmp = stack.paths.env_file.with_suffix(".tmp")
    tmp.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    tmp.chmod(0o600)  # it holds an admin key
    tmp.replace(stack.paths.env_file)


def _summary(stack: Stack, token: str, jobs: int, started: float) -> None:
    table = Table(title=f"SMA is running ({time.monotonic() - started:.1f}s to ready)", show_header=False)
    for name in ("gateway", "scheduler", "collector", "maintenance", "simulator"):
        table.add_row(name, stack.urls[name])
    table.add_row("postgres", stack.urls["database"])
    table.add_row("redis", stack.urls["redis"])
    table.add_row("kafka", stack.urls["kafka"])
    # On a terminal (`make run`) the key is shown; `make up` sends this to logs/stack.log, and a
    # secret never goes to a log: there it is named by where to read it.
    table.add_row("admin API key", token if console.is_terminal else f"SMA_API_TOKEN in {stack.paths.env_file}")
    table.add_row("demo jobs", f"{jobs} (1-minute interval)")
    table.add_row("environment", f"source {stack.paths.env_file}")
    console.print(table)


async def _run() -> int:
    started = time.monotonic()
    paths = _paths()
    stack = Stack(paths, console)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    _record_supervisor(paths)
    try:
        stack.check_ports()
        await stack.start_servers()
        await stack.start_services()
        token = await create_admin_key(stack.urls["database"])
        jobs = await create_demo_jobs(stack.urls["gateway"], token)
        _write_env(stack, token)
        _summary(stack, token, len(jobs), started)
        console.print("Ctrl-C (or `make down`) stops everything.")
        await stack.supervise(stopping)
        return 0
    except Exception as exc:
        console.print(f"[red]stack failed: {exc}")
        return 1
    finally:
        await stack.stop()
        paths.pid_file.unlink(missing_ok=True)


def cmd_run(_: argparse.Namespace) -> int:
    return asyncio.run(_run())


def cmd_up(args: argparse.Namespace) -> int:
    paths = _paths()
    if (pid := _supervisor(paths)) is not None:
        console.print(f"the stack is already running (pid {pid}); `make down` stops it")
        return 1
    paths.env_file.unlink(missing_ok=True)
    log_path = paths.logs / "stack.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "sma_devstack", "run"], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                env={**os.environ, "COLUMNS": "120"})
    deadline = time.monotonic() + args.timeout
    with console.status("starting the stack in the background"):
        while not paths.env_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace").splitlines()[-40:]
                console.print("[red]the stack did not come up:\n" + "\n".join(tail))
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)  # it stops what it started
                    try:
                        proc.wait(60)
                    except subprocess.TimeoutExpired:
                        os.killpg(proc.pid, signal.SIGKILL)
                _kill_children(paths)
                return 1
            time.sleep(0.2)
    console.print(f"[green]SMA is up[/green] (logs in {paths.logs}). Next: [bold]source {paths.env_file}[/bold]")
    console.print(paths.env_file.read_text().strip())
    return 0


def cmd_down(_: argparse.Namespace) -> int:
    paths = _paths()
    stopped = False
    if (pid := _supervisor(paths)) is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 90
        with console.status("stopping the stack"):
            while _supervisor(paths) is not None and time.monotonic() < deadline:
                time.sleep(0.2)
        stopped = True
    paths.pid_file.unlink(missing_ok=True)
    stopped = _kill_children(paths) or stopped
    paths.env_file.unlink(missing_ok=True)
    busy = [f"{n}:{service_port(n)}" for n in DEFAULT_PORTS if not port_is_free(service_port(n))]
    console.print("stack stopped" if stopped else "the stack was not running")
    if busy:
        console.print(f"[yellow]still listening (not started by this stack?): {', '.join(busy)}")
    return 0


def cmd_status(_: argparse.Namespace) -> int:
    paths = _paths()
    running = _supervisor(paths) is not None
    console.print("running" if running else "stopped")
    if running and paths.env_file.exists():
        console.print(paths.env_file.read_text().strip())
    return 0 if running else 3


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sma_devstack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the whole stack in the foreground").set_defaults(fn=cmd_run)
    up = sub.add_parser("up", help="run it in the background; return once every service is ready")
    up.add_argument("--timeout", type=float, default=240.0)
    up.set_defaults(fn=cmd_up)
    sub.add_parser("down", help="stop what `up` started").set_defaults(fn=cmd_down)
    sub.add_parser("status", help="is the stack running?").set_defaults(fn=cmd_status)
    args = parser.parse_args()
    sys.exit(args.fn(args))


if __name__ == "__main__":
    main()
