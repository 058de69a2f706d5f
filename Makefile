# SMA developer entry points. `make run` and `make test` are the README's two commands.
PYTHON ?= python3
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PACKAGES := -e libs/common -e libs/platforms -e libs/devstack \
	-e services/scheduler -e services/collector -e services/api-gateway -e services/maintenance \
	-e simulator -e cli
PYPROJECTS := $(wildcard libs/*/pyproject.toml services/*/pyproject.toml simulator/pyproject.toml cli/pyproject.toml)

.PHONY: install run up down status test test-deploy dashboards lint typecheck clean bench bench-collector bench-scheduler bench-storage bench-budget bench-gateway bench-summary test-faults soak

$(VENV)/.installed: constraints.txt requirements-dev.txt $(PYPROJECTS)
	@echo "Installing SMA and its pinned dependencies into $(VENV) (about two minutes the first time)..."
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	@$(PY) -m pip install --disable-pip-version-check --progress-bar off -c constraints.txt \
		-r requirements-dev.txt $(PACKAGES) | grep --line-buffered -E '^(Collecting|Successfully installed)' \
		| cut -c1-100; test $${PIPESTATUS[0]} -eq 0
	@touch $@

install: $(VENV)/.installed ## create .venv and install every package (editable) under constraints.txt

run: install ## the whole platform on embedded servers, in the foreground (Ctrl-C stops it)
	$(PY) -m sma_devstack run

up: install ## the same in the background; returns when every service is ready
	$(PY) -m sma_devstack up

down: ## stop what `make up` started: no process, no port left behind
	@if [ -x $(PY) ]; then $(PY) -m sma_devstack down; else echo "nothing to stop (no .venv)"; fi

status: install
	$(PY) -m sma_devstack status

test: install ## the whole suite against real servers started on free ports
	$(PY) -m pytest $(PYTEST_ARGS)

test-faults: install ## the fault suite (tests/faults): SIGKILLed collectors, restarted servers, platform faults
	SMA_FAULTS=1 $(PY) -m pytest tests/faults -m faults $(PYTEST_ARGS)

test-deploy: install ## alert rule tests (promtool), dashboard queries against a real Prometheus, compose wiring
	$(PY) -m pytest tests/deploy $(PYTEST_ARGS)

dashboards: install ## regenerate deploy/grafana/dashboards/*.json after editing deploy/grafana/generate.py
	$(PY) deploy/grafana/generate.py

bench: bench-collector bench-scheduler bench-storage bench-gateway ## every benchmark; results under bench/results/, one table in bench/results/summary.md
	$(PY) bench/summary.py

bench-collector: install ## accounts per API call and per second of one collector (bench/results/collector.json)
	$(PY) bench/collector/run.py $(BENCH_ARGS)

bench-scheduler: install ## dispatch lag with 1M jobs and a 100k-job burst against a bare loop (bench/results/scheduler.json)
	$(PY) bench/scheduler/run.py $(BENCH_ARGS)

bench-storage: install ## 10M points: write path vs COPY, bytes per point hot and compacted, series read p99 (bench/results/storage.json)
	$(PY) bench/storage/run.py $(BENCH_ARGS)

bench-gateway: install ## cached metrics reads vs a bare aiohttp handler, with wrk (bench/results/gateway.json)
	@command -v wrk >/dev/null || bash .ci/install-tools
	$(PY) bench/gateway/run.py $(BENCH_ARGS)

bench-budget: install ## two collectors sharing one Twitch budget for BENCH_MINUTES (default 10)
	$(PY) bench/budget/run.py --minutes $(or $(BENCH_MINUTES),10) $(BENCH_ARGS)

lint: install
	$(VENV)/bin/ruff check .

typecheck: install
	$(VENV)/bin/mypy libs/common/src libs/platforms/src libs/devstack/src services/scheduler/src \
		services/collector/src services/api-gateway/src services/maintenance/src simulator/src cli/src

clean: down
	rm -rf $(VENV) .run .pytest_cache .mypy_cache .ruff_cache

bench-summary: install ## bench/results/*.json as one table: bench/results/summary.md (make bench ends with it)
	$(PY) bench/summary.py

soak: install ## the whole stack under load for SOAK_MINUTES (default 10): memory, errors, lag, completeness (bench/results/soak.json)
	$(PY) bench/soak/run.py --minutes $(or $(SOAK_MINUTES),10) $(SOAK_ARGS)
