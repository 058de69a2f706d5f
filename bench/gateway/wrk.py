"""wrk as the load tool: one run, its Lua script composed for the run (pacing and cache-busting
only when asked, so an unpaced run has no per-request Lua), the summary parsed from a JSON line."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from dataclasses import dataclass

_DONE = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""
# Each wrk thread seeds its own generator (Lua's default seed is the same in every thread).
_SEED = r"""
math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0) % 1000003)
"""
# A different `from` microsecond per request: every request names a new cache entry.
_VARY = _SEED + r"""
function request()
  local path = wrk.path:gsub("%.000000", function() return string.format(".%06d", math.random(1, 999999)) end, 1)
  return wrk.format(nil, path)
end
"""


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int

    def as_json(self) -> dict[str, float | int]:
        return {"rps": round(self.rps, 1), "p50_ms": self.p50_ms, "p99_ms": self.p99_ms,
                "requests": self.requests, "errors": self.errors}


def wrk_binary() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is not installed: run `bash .ci/install-tools` (Debian package wrk)")
    return path


# A pause after each answer, drawn anew each time (uniform, mean PACE ms): with one fixed pause
# every connection would keep the place it had at the start, and the requests would come as one
# burst per cycle, whose queue, not the server, would set the latency. wrk counts whole
# milliseconds, so the draw is rounded: the mean stays PACE, a fraction of a millisecond included.
_PACE = _SEED + r"""
function delay() return math.floor(math.random() * 2 * PACE + 0.5) end
"""


async def run_wrk(url: str, *, seconds: float, connections: int, threads: int = 2,
                  headers: dict[str, str] | None = None, pace_ms: float = 0.0, vary: bool = False) -> WrkResult:
    pace = _PACE.replace("PACE", f"{pace_ms:.3f}") if pace_ms > 0 else ""
    script = _DONE + (_VARY if vary else "") + pace
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    args = [wrk_binary(), f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s",
            "-s", handle.name]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    proc = await asyncio.create_subprocess_exec(*args, url, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    os.unlink(handle.name)
    text = out.decode(errors="replace")
    line = next((ln for ln in text.splitlines() if ln.startswith("WRK_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{text}")
    data = json.loads(line.removeprefix("WRK_JSON "))
    return WrkResult(
        rps=data["requests"] / (data["duration_us"] / 1e6),
        p50_ms=round(data["p50_us"] / 1000, 3), p99_ms=round(data["p99_us"] / 1000, 3),
        requests=data["requests"], errors=data["non_2xx"] + data["socket_errors"],
    )
