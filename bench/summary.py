"""One table of every benchmark's figures: bench/results/*.json → bench/results/summary.md.

Each figure sits beside its goal and its same-run baseline (docs/ARCHITECTURE.md, "Benchmarks"),
with whether it met the goal. The direction of a goal (a floor or a ceiling) is not stored in the
results; it is read back from the figure's own verdict (a met goal above the measure is a ceiling).
`make bench` runs this last; `python bench/summary.py [results dir]` runs it alone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
SUMMARY_NAME = "summary.md"
VERDICTS = {True: "yes", False: "**no**", None: "-"}


def number(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int) or value.is_integer():
        return f"{int(value):,}"
    return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.0f}"


def goal_text(fig: dict[str, Any]) -> str:
    """`≥ 0.5x` (a floor on the ratio to the baseline), `≤ 10 ms` (a ceiling on the value)..."""
    goal = fig.get("goal")
    if goal is None:
        return "-"
    on_ratio = bool(fig.get("baseline_value"))
    measured = fig.get("ratio") if on_ratio else fig.get("value")
    met = fig.get("meets_goal")
    # Undecidable when the measure equals the goal: a ratio goal is a floor (every baseline
    # comparison here is "at least this share of the baseline"), a zero goal a ceiling.
    sign = "≥ " if on_ratio else "≤ " if goal == 0 else ""
    if isinstance(measured, int | float) and met is not None and measured != goal:
        sign = "≤ " if (measured < goal) == met else "≥ "
    return f"{sign}{number(goal)}x" if on_ratio else f"{sign}{number(goal)} {fig.get('unit', '')}".rstrip()


def escape(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def rows(result: dict[str, Any], source: str) -> list[str]:
    area = escape(result.get("area") or source)
    out = []
    for fig in result.get("figures") or []:
        baseline = "-"
        if fig.get("baseline_name"):
            baseline = f"{escape(fig['baseline_name'])}: {number(fig.get('baseline_value'))} {fig.get('unit', '')}"
        ratio = number(fig.get("ratio")) + "x" if fig.get("ratio") is not None else "-"
        value = f"{number(fig.get('value'))} {escape(fig.get('unit', ''))}".strip()
        out.append(f"| {area} | {escape(fig.get('name', '?'))} | {value} | {goal_text(fig)} | {baseline.strip()} "
                   f"| {ratio} | {VERDICTS.get(fig.get('meets_goal'), '-')} |")
    return out


def summarize(results_dir: Path) -> str:
    """The Markdown summary of every `*.json` result in `results_dir` (unreadable files are listed)."""
    lines = ["# Benchmark summary", "",
             "Each figure beside its goal and its same-run baseline (`ratio` = value / baseline).", "",
             "| Area | Figure | Value | Goal | Baseline (same run) | Ratio | Met |",
             "|---|---|---|---|---|---|---|"]
    runs, problems = [], []
    met = missed = 0
    for path in sorted(results_dir.glob("*.json")):
        try:
            result = json.loads(path.read_text())
            if not isinstance(result, dict):
                raise ValueError("not an object")
        except (OSError, ValueError) as exc:
            problems.append(f"- `{path.name}`: unreadable ({exc})")
            continue
        lines += rows(result, path.stem)
        runs.append(f"- `{path.name}`: {result.get('area', path.stem)}, started {result.get('started_at', '?')}, "
                    f"machine {json.dumps(result.get('machine', {}), sort_keys=True)}")
        verdicts = [f.get("meets_goal") for f in result.get("figures") or []]
        met += verdicts.count(True)
        missed += verdicts.count(False)
    lines += ["", f"Goals met: {met} of {met + missed}.", "", "## Runs", "", *runs]
    if problems:
        lines += ["", "## Unreadable results", "", *problems]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    results_dir = Path(argv[0]) if argv else RESULTS
    if not results_dir.is_dir():
        print(f"no results directory at {results_dir}: run a benchmark first (make bench)", file=sys.stderr)
        return 1
    target = results_dir / SUMMARY_NAME
    target.write_text(summarize(results_dir))
    print(target.read_text(), end="")
    print(f"written to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
