"""bench/summary.py: every results file's figures in one Markdown table, each beside its goal and
its same-run baseline, with the verdict; an unreadable file is reported, not fatal."""

from __future__ import annotations

import json
from pathlib import Path

from bench.summary import main, summarize


def figure(name: str, value: float, unit: str, goal: float | None = None, baseline: tuple[str, float] | None = None,
           meets: bool | None = None) -> dict[str, object]:
    ratio = round(value / baseline[1], 3) if baseline else None
    return {"name": name, "value": value, "unit": unit, "goal": goal, "baseline_name": baseline and baseline[0],
            "baseline_value": baseline and baseline[1], "ratio": ratio, "meets_goal": meets}


def write(directory: Path, area: str, figures: list[dict[str, object]]) -> None:
    (directory / f"{area}.json").write_text(json.dumps({
        "area": area, "started_at": "2026-11-27T10:00:00+00:00", "machine": {"cpus": 2}, "figures": figures}))


def test_each_figure_beside_its_goal_and_baseline(tmp_path: Path) -> None:
    write(tmp_path, "gateway", [
        figure("bare aiohttp JSON handler", 8878, "req/s"),
        figure("cached read", 2067, "req/s", goal=0.5, baseline=("bare aiohttp JSON handler", 8878), meets=False),
        figure("cached read p99 | half load", 12.282, "ms", goal=10.0, meets=False),
    ])
    write(tmp_path, "storage", [figure("write path vs COPY", 90_000, "points/s", goal=0.3,
                                       baseline=("plain COPY", 200_000), meets=True)])
    (tmp_path / "broken.json").write_text("{not json")
    text = summarize(tmp_path)
    lines = text.splitlines()
    table = [line for line in lines if line.startswith("| ") and not line.startswith("| Area")]
    assert len(table) == 4
    assert ("| gateway | cached read | 2,067 req/s | ≥ 0.5x | bare aiohttp JSON handler: 8,878 req/s "
            "| 0.233x | **no** |") in table
    # A missed goal above the value is a ceiling; the `|` in a name does not split the cell.
    assert "| gateway | cached read p99 \\| half load | 12.282 ms | ≤ 10 ms | - | - | **no** |" in table
    assert "| storage | write path vs COPY | 90,000 points/s | ≥ 0.3x | plain COPY: 200,000 points/s | 0.45x | yes |" \
        in table
    assert "| gateway | bare aiohttp JSON handler | 8,878 req/s | - | - | - | - |" in table
    assert "Goals met: 1 of 3." in text
    assert "`broken.json`: unreadable" in text


def test_main_writes_summary_md(tmp_path: Path) -> None:
    write(tmp_path, "soak", [figure("gateway 5xx", 0, "responses", goal=0, meets=True)])
    assert main([str(tmp_path)]) == 0
    written = (tmp_path / "summary.md").read_text()
    assert "| soak | gateway 5xx | 0 responses | ≤ 0 responses | - | - | yes |" in written
    # A second run does not read its own summary as a result.
    assert main([str(tmp_path)]) == 0 and (tmp_path / "summary.md").read_text() == written
    assert main([str(tmp_path / "missing")]) == 1
