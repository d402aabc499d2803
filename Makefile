# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: install test lint format demo dev sandbox clean

install:  ## uv (from PyPI with pip if missing), then the locked dependencies
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen

lint: install
	$(UV) run ruff check .
	$(UV) run ruff format --check .

format: install
	$(UV) run ruff check --fix .
	$(UV) run ruff format .

test: lint  ## ruff, then every test (real HTTP to the sandbox, real files under tmp dirs)
	$(UV) run pytest

demo: install  ## sandbox on a free port -> last 7 complete days -> ./data, KPI tables printed
	$(UV) run python -m alohub_assets.demo

dev: install  ## Dagster UI with a persistent DAGSTER_HOME; the sandbox when ALOHUB_API_KEY is unset
	$(UV) run python -m alohub_assets.dev

sandbox: install  ## the AloHub sandbox alone on port 8765
	$(UV) run alohub-sandbox --port 8765

clean:
	rm -rf .dagster_home data/raw data/warehouse data/alohub.duckdb* data/*.html
