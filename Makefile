# The README's two commands are `make run` and `make test`; everything else is for developers.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
PYTEST_ARGS ?=

.PHONY: help venv run test lint fmt graph clean bench

help:
	@echo "make run    migrate, load the demo data, start web + Celery worker + beat (Ctrl-C stops all)"
	@echo "make test   run the test suite (PYTEST_ARGS='-k name' to narrow it)"
	@echo "make lint   ruff check and ruff format --check"
	@echo "make fmt    ruff format and ruff check --fix"
	@echo "make graph  write the shipment lifecycle as Graphviz DOT (and PNG when graphviz is installed) to var/"
	@echo "make bench  every benchmark under bench/ on PostgreSQL, one table (BENCH_ARGS=--full for full sizes)"
	@echo "make clean  remove the virtual environment and caches (var/, with the local database, stays)"

# Rebuilt whenever pyproject.toml changes, so a pulled dependency change is installed on the next command.
$(VENV)/.installed: pyproject.toml
	@set -e; \
	if [ ! -x $(PY) ]; then \
		py=""; \
		for candidate in python3.11 python3; do \
			if command -v $$candidate >/dev/null 2>&1 && \
				$$candidate -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then \
				py=$$candidate; break; \
			fi; \
		done; \
		if [ -z "$$py" ]; then echo "Python 3.11 is required: neither python3.11 nor python3 is 3.11." >&2; exit 1; fi; \
		echo "Creating $(VENV) with $$py"; \
		$$py -m venv $(VENV); \
	fi
	$(PY) -m pip install --quiet --disable-pip-version-check uv
	$(VENV)/bin/uv pip install --python $(PY) -e ".[dev]"
	@touch $@

venv: $(VENV)/.installed

run: $(VENV)/.installed
	$(MANAGE) migrate --noinput
	$(MANAGE) seed_demo
	exec $(PY) scripts/run_platform.py

test: $(VENV)/.installed
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

graph: $(VENV)/.installed
	@mkdir -p var
	$(MANAGE) graph_transitions shipments.Shipment > var/lifecycle.dot
	@if command -v dot >/dev/null 2>&1; then dot -Tpng var/lifecycle.dot -o var/lifecycle.png && echo "var/lifecycle.png"; \
	else echo "var/lifecycle.dot (install graphviz for a PNG)"; fi

# DATABASE_URL names a PostgreSQL server; each benchmark makes and drops its own test_ database next to it.
BENCH_ARGS ?=
bench: $(VENV)/.installed
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/bench} $(PY) scripts/run_benchmarks.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
