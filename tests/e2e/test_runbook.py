"""docs/RUNBOOK.md works as written: every local command in it runs against `make up`.

Which commands are local, by rule: in a fenced `bash` block (indented ones too, after joining
lines that end in a backslash), a line that starts with `sma ` or `curl `, or assigns one's
output to a variable (`JOB_ID=$(sma …)`, which later commands then use), and does not end in
`# cluster`. Everything else (`kubectl`, `psql`, `redis-cli`, `amtool`, `export`, `make`) is for
the cluster or the reader and is not run.

Each runs in bash (`set -o pipefail`) with the stack's environment, in document order (the
destructive ones, pausing jobs, revoking keys, a migration downgrade, are fine on a throwaway
stack), and must exit 0 (or the code the runbook documents, see `DOCUMENTED_EXIT_CODES`) with no
traceback; a `jq` that prints just `null` means the document names a field that does not exist;
curl runs with `--fail-with-body` (from a `.curlrc`), so an HTTP error fails the command.
To keep wall time bounded: profiles and load tests are shortened and the live dashboard prints
one snapshot (`SHORTER`); a command already run verbatim earlier is not run again; and each
`sma profile` gets a fresh read key of its own, so that its burst does not spend the per-key
rate limit the commands after it need (an operator would wait the 429s out).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.fixtures.tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs" / "RUNBOOK.md"
CLUSTER_MARKER = "# cluster"
LOCAL = re.compile(r"^(?:(?P<var>[A-Z][A-Z0-9_]*)=\$\()?(?:sma|curl) ")
# Commands the runbook documents as exiting 1 when something needs action.
DOCUMENTED_EXIT_CODES = {
    "sma db maintenance --operation check": {0, 1},
    "sma db maintenance --operation full": {0, 1},
}
# (pattern, replacement) applied to every local command, in this order.
SHORTER = [
    (re.compile(r"--duration \S+"), "--duration 2"),
    (re.compile(r"--requests \S+"), "--requests 3"),
    (re.compile(r"^(sma profile)(?!.*(--requests|--load-test))"), r"\1 --requests 3"),
    (re.compile(r"^(sma dashboard)(?!.*--once)"), r"\1 --once"),
    (re.compile(r"^(sma dashboard)(?!.*--interval)"), r"\1 --interval 1"),
]


@dataclass(frozen=True)
class Command:
    line: int  # in docs/RUNBOOK.md, for the failure message
    text: str
    var: str | None  # set from the command's output when it is `VAR=$(…)`


def local_commands(markdown: str) -> list[Command]:
    commands: list[Command] = []
    in_bash, pending, start = False, "", 0
    for number, raw in enumerate(markdown.splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith("```"):
            in_bash = not in_bash and stripped == "```bash"
            continue
        if not in_bash:
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        line, pending = pending + stripped, ""
        match = LOCAL.match(line)
        if match and not line.endswith(CLUSTER_MARKER):
            commands.append(Command(start, without_comment(line), match["var"]))
    return commands


def without_comment(line: str) -> str:
    """The line without its trailing `# comment` (a `#` outside quotes, after a blank)."""
    quote = ""
    for i, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and i and line[i - 1] in " \t":
            return line[:i].rstrip()
    return line


def shortened(text: str) -> str:
    for pattern, replacement in SHORTER:
        text = pattern.sub(replacement, text)
    return text


def allowed_codes(text: str) -> set[int]:
    return next((codes for prefix, codes in DOCUMENTED_EXIT_CODES.items() if text.startswith(prefix)), {0})


def test_the_extraction_rule() -> None:
    sample = "\n".join([
        "```bash", "sma health   # every service", "kubectl -n $NS get pods",
        "curl -s $URL/x \\", "    -H 'a: b' | jq .",
        "curl -s $PROM/api/v1/query   # cluster", "JOB_ID=$(sma jobs list --json | jq -r '.[0].id')",
        "psql $SMA_DATABASE_URL -c \"SELECT 1\"", "```", "", "sma not-in-a-block", "```python", "sma no", "```",
        "- a list item:", "  ```bash", "  sma profile --load-test --duration 60", "  ```",
    ])
    assert [(c.line, c.text, c.var) for c in local_commands(sample)] == [
        (2, "sma health", None),
        (4, "curl -s $URL/x -H 'a: b' | jq .", None),
        (7, "JOB_ID=$(sma jobs list --json | jq -r '.[0].id')", "JOB_ID"),
        (17, "sma profile --load-test --duration 60", None),
    ]
    assert shortened("sma profile --load-test --duration 60 --concurrent-users 50") == (
        "sma profile --load-test --duration 2 --concurrent-users 50")
    assert shortened("sma profile --json | jq .total") == "sma profile --requests 3 --json | jq .total"
    assert shortened("sma dashboard --console-only") == "sma dashboard --interval 1 --once --console-only"
    assert shortened("sma dashboard --once --interval 2") == "sma dashboard --once --interval 2"
    quoted = """curl -s $U | jq -r '"#\\(.a) # b"'"""
    assert without_comment(quoted + "   # note") == quoted
    assert allowed_codes("sma db maintenance --operation check --json") == {0, 1}
    assert allowed_codes("sma db maintenance --operation stats") == {0}


def shell_env(stack_env: dict[str, str], home: Path) -> dict[str, str]:
    (home / ".curlrc").write_text("fail-with-body\nshow-error\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMA_")}
    env.update(stack_env)
    # `sma` from this interpreter's environment; curl reads the .curlrc above.
    env.update({"PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}", "CURL_HOME": str(home),
                "COLUMNS": "160", "NO_COLOR": "1"})
    return env


async def bash(command: str, env: dict[str, str], timeout: float = 90) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        "bash", "-c", f"set -o pipefail\n{command}", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


async def read_key(env: dict[str, str], name: str) -> str:
    """A new read-only API key, created through the admin route with the stack's admin key."""
    async with aiohttp.ClientSession() as http, http.post(
        f"{env['SMA_GATEWAY_URL']}/api/keys", json={"name": name, "scopes": ["read"]},
        headers={"Authorization": f"Bearer {env['SMA_API_TOKEN']}"},
    ) as resp:
        assert resp.status == 201, await resp.text()
        return str((await resp.json())["token"])


async def test_load_test_against_the_stack(module_stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = shell_env(module_stack[0], tmp_path)
    env["SMA_API_TOKEN"] = await read_key(env, "load-test")
    code, out, err = await bash("sma profile --load-test --duration 3 --concurrent-users 10 --json", env)
    assert code == 0, err
    report = json.loads(out)
    total = report["total"]
    assert report["mode"] == "load_test" and report["passed"] and report["skipped"] == []
    assert report["elapsed_seconds"] >= 3 and report["requests_per_second"] > 0
    assert total["requests"] > 0 and total["errors"] == 0 and set(total["statuses"]) <= {"200", "429"}
    assert 0 < total["p50_ms"] <= total["p95_ms"] <= total["p99_ms"] < 5000
    assert len(report["endpoints"]) == 11  # the demo accounts and jobs give every id route


async def test_console_dashboard_against_the_stack(module_stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = shell_env(module_stack[0], tmp_path)
    code, out, err = await bash("sma dashboard --console-only --once --interval 1", env)
    assert code == 0, err
    assert out.count(" up ") == 4 and "down" not in out, out
    for label in ("gateway requests", "gateway latency p99", "cache hit ratio", "dispatch lag p99",
                  "consumer lag", "points written", "rate-limited platforms", "maintenance leader"):
        assert label in out, label
    code, out, err = await bash("sma dashboard --once --json --interval 1", env)
    assert code == 0, err
    view = json.loads(out)
    figures = view["figures"]
    assert all(s["up"] and s["version"] for s in view["services"].values())
    assert figures["consumer_lag_messages"] >= 0 and figures["points_written_per_second"] >= 0
    assert figures["maintenance_leader"] is True and figures["last_tick_age_seconds"] < 10
    assert isinstance(figures["held_platforms"], list) and isinstance(figures["rate_limited_platforms"], list)


# About 80 commands, each a fresh process: 50 s on an idle 2-core machine, 90 s on a loaded one.
@pytest.mark.timeout(240)
async def test_every_local_runbook_command_runs_against_the_stack(  # type: ignore[no-untyped-def]
    module_stack, tmp_path: Path
) -> None:
    require_tool("curl")
    require_tool("jq")
    commands = local_commands(RUNBOOK.read_text())
    texts = [c.text for c in commands]
    # The rule must keep finding the runbook's tools, not silently nothing.
    assert len(commands) >= 50
    for expected in ("sma health", "sma profile --load-test", "sma dashboard --console-only", "sma db downgrade -1",
                     "sma db maintenance --operation cleanup --days 90", "sma jobs pause --platform twitch"):
        assert any(t.startswith(expected) for t in texts), expected

    env = shell_env(module_stack[0], tmp_path)
    failures: list[str] = []
    done: set[str] = set()
    for command in commands:
        text = shortened(command.text)
        if text in done and not command.var:
            continue
        done.add(text)
        if text.startswith("sma profile"):
            profile_env = {**env, "SMA_API_TOKEN": await read_key(env, f"profile-{command.line}")}
            code, out, err = await bash(text, profile_env)
        elif command.var:
            code, out, err = await bash(f"{text}\nprintf %s \"${command.var}\"", env)
            value = out.strip()
            if code == 0 and value in ("", "null"):
                failures.append(f"line {command.line}: {command.var} came out empty: {text}")
            env[command.var] = value
        else:
            code, out, err = await bash(text, env)
        if code not in allowed_codes(text):
            failures.append(f"line {command.line}: exit {code}: {text}\n{err[-800:] or out[-800:]}")
        elif "Traceback" in out + err:
            failures.append(f"line {command.line}: traceback: {text}\n{err[-800:]}")
        elif "| jq" in text and out.strip() == "null":
            failures.append(f"line {command.line}: jq found nothing (null): {text}")
    assert not failures, "\n\n".join(failures)
