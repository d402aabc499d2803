# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
# uv: on the PATH, else `python3 -m uv`, else a project-local venv holding it (`make install`
# creates it, so a system Python that refuses `pip install` (PEP 668) is never touched).
BOOTSTRAP := $(CURDIR)/.venv-bootstrap
UV := $(shell command -v uv 2>/dev/null || (python3 -m uv --version >/dev/null 2>&1 && echo "python3 -m uv") || echo "$(BOOTSTRAP)/bin/uv")
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
# A machine that sets PYTHONDONTWRITEBYTECODE (this one does) makes every Python process compile
# Dagster, pandas and the code location from source again: 5.3 s instead of 2.5 s of CPU for each
# `import alohub_assets.definitions`, paid by every test worker, run process and daemon. Caching
# bytecode (into gitignored __pycache__ folders) is Python's default, so the targets restore it.
unexport PYTHONDONTWRITEBYTECODE
# Parallel test workers (pytest-xdist). Many tests wait on the sandbox's rate windows or on
# Dagster's daemon, so there are more workers than cores; a module whose tests share a module
# fixture is kept on one worker (tests/conftest.py). `make test TEST_WORKERS=0` runs them one by one.
TEST_WORKERS ?= 4

.PHONY: install browser test lint lint-checks format demo dev dashboard sandbox report screenshot bench soak clean

install:  ## uv (into .venv-bootstrap if missing), then the locked dependencies into .venv
	@# Without pip in .venv-bootstrap when the system Python has one (pip --python installs uv
	@# into it): ensurepip alone costs 8 s. Otherwise the venv's own pip.
	@if ! command -v uv >/dev/null 2>&1 && ! python3 -m uv --version >/dev/null 2>&1 \
	    && [ ! -x "$(BOOTSTRAP)/bin/uv" ]; then \
	  echo "uv not found: installing it into $(BOOTSTRAP) (the system Python is left alone)"; \
	  { python3 -m venv --without-pip "$(BOOTSTRAP)" \
	    && python3 -m pip --python "$(BOOTSTRAP)/bin/python" install --quiet uv 2>/dev/null; } \
	  || { rm -rf "$(BOOTSTRAP)"; python3 -m venv "$(BOOTSTRAP)" \
	    && "$(BOOTSTRAP)/bin/python" -m pip install --quiet uv; } \
	  || { echo "python3 -m venv failed: install your OS's venv package (Debian/Ubuntu:" \
	    "apt-get install python3-venv) or uv itself"; exit 1; }; \
	fi
	$(UV) sync --frozen

browser:  ## Debian's chromium for the UI test; without it that test fails unless ALOHUB_SKIP_BROWSER=1
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ; } \
	  || echo "chromium could not be installed: the browser test will fail (ALOHUB_SKIP_BROWSER=1 skips it)"

lint: install lint-checks  ## ruff, the layer contracts (import-linter), and dg's check of the definitions

lint-checks:  # lint's checks, on the installed environment
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run lint-imports
	@# dg's two loads of the definitions side by side: each process spends seconds importing.
	@# Each on a Dagster home of its own, made for it: two processes creating the SQLite
	@# storage of one new home at once can stamp its schema twice, which breaks that instance
	@# for good (a fresh clone's `make demo` then failed on ./.dagster_home); and a lint check
	@# has no business writing the instance `make dev` and `make demo` use.
	@echo "dg check defs & dg list defs --json"; homes=$$(mktemp -d); \
	  mkdir "$$homes/list" "$$homes/check"; touch "$$homes/list/dagster.yaml" "$$homes/check/dagster.yaml"; \
	  DAGSTER_HOME="$$homes/list" $(UV) run dg list defs --json >/dev/null & listing=$$!; \
	  DAGSTER_HOME="$$homes/check" $(UV) run dg check defs; checked=$$?; wait $$listing; \
	  listed=$$?; rm -rf "$$homes"; [ $$checked -eq 0 ] && [ $$listed -eq 0 ]

format: install  ## ruff fixes and formats the code in place
	$(UV) run ruff check --fix .
	$(UV) run ruff format .

test: install browser  ## lint (ruff, import contracts, dg) and every test (real HTTP to the sandbox, real files under tmp dirs)
	@# lint's checks run beside the rest, their output kept for after pytest's own: about 15 s
	@# of imports and parsing that would otherwise come first. Either failing fails `make test`.
	@# Meanwhile the bytecode of what the test processes import is written, once, before they
	@# start (tests/warm_bytecode.py): on a fresh clone each of them would compile it again. A
	@# no-op when it is there already. Dagster comes first in it, before lint's dg checks load it.
	@lint_log=$$(mktemp); \
	  $(MAKE) --no-print-directory lint-checks >"$$lint_log" 2>&1 & lint=$$!; \
	  $(UV) run python -m tests.warm_bytecode; \
	  $(UV) run pytest -n $(TEST_WORKERS) --dist loadgroup; tests=$$?; \
	  wait $$lint; linted=$$?; echo "--- make lint-checks (run beside the tests)"; cat "$$lint_log"; \
	  rm -f "$$lint_log"; [ $$linted -eq 0 ] || echo "make lint-checks FAILED (above)"; \
	  [ $$tests -eq 0 ] && [ $$linted -eq 0 ]

demo: install  ## sandbox on a free port -> last 7 complete days and their recording URLs -> ./data, KPIs printed
	$(UV) run python -m alohub_dev.demo

dev: install  ## Dagster UI with a persistent DAGSTER_HOME and the dashboard; the sandbox when ALOHUB_API_KEY is unset
	$(UV) run python -m alohub_dev.dev

dashboard: install  ## the floor's dashboard on ALOHUB_DATA_DIR (http://127.0.0.1:8501; ALOHUB_DASHBOARD_PORT / _HOST)
	$(UV) run --no-sync python -m alohub_dashboard.serve

report: install  ## the report notebook, executed on ./data (after make demo), as data/call_center_report.html
	ALOHUB_DATA_DIR=$${ALOHUB_DATA_DIR:-$(CURDIR)/data} $(UV) run jupyter nbconvert --to html --execute \
	  notebooks/call_center_report.ipynb --output-dir $${ALOHUB_DATA_DIR:-$(CURDIR)/data}

screenshot: install browser  ## refresh docs/images/asset-graph.png and dashboard-{vi,en}.png from the browser tests
	ALOHUB_SCREENSHOT_TO=$(CURDIR)/docs/images/asset-graph.png $(UV) run pytest -q tests/test_ui.py
	ALOHUB_SCREENSHOT_DIR=$(CURDIR)/docs/images $(UV) run pytest -q tests/test_dashboard_browser.py

bench: install  ## every benchmark, each file from one run (about half an hour; dlt comes with the bench group)
	$(UV) sync --frozen --group bench
	$(UV) run --no-sync python -m bench.run         # -> docs/benchmarks.md (rate limits, ingestion, transform, mart, CLI, intraday)
	$(UV) run --no-sync python -m bench.kpi_year    # -> docs/benchmarks-kpi-year.md (a year of every KPI table)
	$(UV) run --no-sync python -m bench.scale_out   # -> docs/benchmarks-scale-out.md (4-run backfill old vs new mart, local vs S3)
	$(UV) run --no-sync python -m bench.dashboard   # -> docs/benchmarks-dashboard.md (Today and Trends first render on a year of data)
	$(UV) run --no-sync python -m bench.forecast    # -> docs/benchmarks-forecast.md (backtest vs seasonal naive and Holt-Winters; forecast + plan time)

soak: install  ## the reliability suite at 25 partition runs per fault kind -> docs/reliability.md
	ALOHUB_SOAK_RUNS=25 ALOHUB_RELIABILITY_REPORT=$(CURDIR)/docs/reliability.md $(UV) run pytest -q \
	  -p no:logging tests/test_faults.py tests/test_bad_rows.py tests/test_crash_safety.py \
	  tests/test_secrets_and_pii.py

sandbox: install  ## the AloHub sandbox alone on port 8765
	$(UV) run alohub-sandbox --port 8765

clean:  ## removes the demo data and ./.dagster_home, i.e. the whole local run history
	rm -rf .dagster_home data/raw data/warehouse data/alohub.duckdb* data/*.html
