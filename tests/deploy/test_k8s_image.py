"""The one container image (Dockerfile, .dockerignore, deploy/docker/entrypoint.sh), checked
statically: Docker cannot run here, and checkov's Dockerfile checks run in
test_k8s_manifests.py. What a build would trip over first is checked here: COPY sources that
are missing or kept out of the build context, packages the build forgets, commands the
manifests use that the entrypoint does not know."""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import subprocess
from pathlib import Path

import yaml

from tests.fixtures.tools import ROOT

DOCKERFILE = ROOT / "Dockerfile"
ENTRYPOINT = ROOT / "deploy" / "docker" / "entrypoint.sh"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in _instructions():
        if instruction[0] == "FROM":
            stages.append([])
        stages[-1].append(instruction)
    return stages


def _ignored(path: str) -> bool:
    """Docker's .dockerignore rule: the last pattern matching the path or a parent decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        raw = raw.strip()
        if not raw or raw.startswith("#"):
            continue
        negate = raw.startswith("!")
        pattern = raw.lstrip("!").rstrip("/")
        if any(pattern == "**" or fnmatch.fnmatchcase(c, pattern) for c in candidates):
            ignored = not negate
    return ignored


def _copy_sources() -> list[str]:
    sources = []
    for word, args in _instructions():
        if word != "COPY":
            continue
        tokens = [t for t in shlex.split(args) if not t.startswith("--")]
        if "--from=" in args:
            continue
        sources += tokens[:-1]
    return sources


def test_every_copy_source_exists_and_is_in_the_build_context() -> None:
    sources = _copy_sources()
    assert "constraints.txt" in sources and "deploy/docker/entrypoint.sh" in sources
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such file"
        assert not _ignored(source), f"COPY {source}: excluded by .dockerignore"
        # And something inside a copied directory is really sent.
        if (ROOT / source).is_dir():
            assert (ROOT / source / "pyproject.toml").is_file() or any((ROOT / source).glob("*/pyproject.toml"))
            assert not _ignored(f"{source}/pyproject.toml")


def test_the_build_context_leaves_out_local_state() -> None:
    for path in (".venv/bin/python", ".venv-tools/bin/checkov", ".git/HEAD", ".run/stack.env", "tests/conftest.py",
                 "libs/common/src/sma_common/__pycache__/x.pyc", "libs/devstack/pyproject.toml"):
        assert _ignored(path), path


def test_the_build_installs_every_package_the_services_need_under_the_constraints() -> None:
    (build, _final) = _stages()
    run = " ".join(args for word, args in build if word == "RUN")
    assert "-c constraints.txt" in run
    packages = ["libs/common", "libs/platforms", "services/scheduler", "services/collector",
                "services/api-gateway", "services/maintenance", "simulator", "cli"]
    for package in packages:
        assert f"./{package} " in run + " ", f"{package} is not built into the image"
        assert (ROOT / package / "pyproject.toml").is_file()
    # Everything a built package depends on that is ours is built too.
    ours = set(re.findall(r'"(sma-[a-z-]+)"', " ".join((ROOT / p / "pyproject.toml").read_text() for p in packages)))
    names = {re.search(r'^name = "([^"]+)"', (ROOT / p / "pyproject.toml").read_text(), re.M).group(1)  # type: ignore[union-attr]
             for p in packages}
    assert ours <= names, f"dependencies not built into the image: {ours - names}"


def test_the_final_stage_is_slim_non_root_and_without_build_tools() -> None:
    (build, final) = _stages()
    base = final[0][1]
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", base), base
    assert build[0][1].startswith("python:3.11-slim"), "both stages on the same interpreter (the venv is copied)"
    text = " ".join(args for _, args in final).lower()
    for tool in ("apt-get install", "gcc", "build-essential", "pip install", "make "):
        assert tool not in text, f"final stage runs {tool!r}"
    users = [args for word, args in final if word == "USER"]
    assert users and re.fullmatch(r"\d+(:\d+)?", users[-1]) and not users[-1].startswith("0"), users
    build_run = " ".join(args for word, args in build if word == "RUN")
    assert "pip uninstall --yes pip" in build_run, "the copied venv carries no pip"
    assert any(word == "HEALTHCHECK" for word, _ in final)
    assert ("ENTRYPOINT", '["sma-entrypoint"]') in final


def test_docker_compose_builds_this_dockerfile() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    builds = {str(s.get("build")) for s in compose["services"].values() if "build" in s}
    assert builds == {"."}, builds  # the root Dockerfile


def test_the_entrypoint_runs_every_command_the_manifests_use(tmp_path: Path) -> None:
    # A stand-in `python` that prints what it was asked to run: this checks the dispatch only.
    fake = tmp_path / "python"
    fake.write_text('#!/bin/sh\necho "python $*"\n')
    fake.chmod(0o755)
    sma = tmp_path / "sma"
    sma.write_text('#!/bin/sh\necho "sma $*"\n')
    sma.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    expected = {
        ("gateway",): "python -m sma_gateway",
        ("scheduler",): "python -m sma_scheduler",
        ("collector",): "python -m sma_collector",
        ("maintenance",): "python -m sma_maintenance",
        ("simulator",): "python -m sma_simulator",
        ("sma", "db", "upgrade"): "sma db upgrade",
    }
    for args, output in expected.items():
        result = subprocess.run(["sh", str(ENTRYPOINT), *args], capture_output=True, text=True, env=env, timeout=10)
        assert result.returncode == 0 and result.stdout.strip() == output, (args, result.stdout, result.stderr)
    for module in ("sma_gateway", "sma_scheduler", "sma_collector", "sma_maintenance", "sma_simulator"):
        mains = [*ROOT.glob(f"*/*/src/{module}/__main__.py"), *ROOT.glob(f"*/src/{module}/__main__.py")]
        assert mains, f"the entrypoint runs {module}, which has no __main__"
