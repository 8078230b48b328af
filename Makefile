# 众创助手 MakerDesk — the commands that matter are `make run`, `make test-fast` (the developer
# loop) and `make test` (everything, what CI runs); `make help` lists them all.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EVAL_SET ?= ../shared/eval/faq_dev.jsonl

.PHONY: run test test-fast lint format eval bench check clean help

# The venv is rebuilt only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "需要 Python 3.11 或更新版本 (Python >= 3.11 required)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

run: $(VENV)/.installed ## start the bot: the web chat on http://127.0.0.1:8080 with SQLite
	$(PY) -m bot run

test: $(VENV)/.installed ## everything, what CI runs
	$(PY) -m pytest

# A test on PostgreSQL copies a database of its own (some 0.6 s): the 150 of them would double
# the loop, so it runs on SQLite; make test runs both.
test-fast: $(VENV)/.installed ## the developer loop, < 60 s: all but the slow tests (processes, Chromium, full-size hypothesis) and PostgreSQL
	HYPOTHESIS_PROFILE=fast $(PY) -m pytest -m "not slow and not postgres" -n 2

lint: $(VENV)/.installed ## ruff (lint + format check), mypy, and the layers (import-linter)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check: $(VENV)/.installed ## validate the FAQ files
	$(PY) -m bot kb check

eval: $(VENV)/.installed ## accuracy on EVAL_SET (the shared dev set) and on our check sets: tuning, and held-out (figures only)
	$(PY) -m bench.eval --dev $(EVAL_SET)

bench: $(VENV)/.installed ## benchmarks, printed as tables (one alone: python -m bench.wecom --quick, …)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  make \1\t/'
