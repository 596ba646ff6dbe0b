# The two commands of the README. Each sets up what it needs in .venv (Python 3.11+ only).
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
WEEK ?= 2023-W19
OUT ?= out/$(WEEK)

.PHONY: digest test lint browser bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# Builds a real issue offline from the shipped feeds.yaml (partner snapshots + recaps).
digest: $(BIN)/.installed
	$(BIN)/digest --config feeds.yaml build --offline --week $(WEEK) --out $(OUT)

# Lint, format check, types, then every test (browser tests included).
test: $(BIN)/.installed browser
	$(BIN)/ruff check digest tests bench
	$(BIN)/ruff format --check digest tests bench
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check --fix digest tests bench
	$(BIN)/ruff format digest tests bench

# Headless Chromium from Debian for the tests that look at pages like a person.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: sudo apt-get install chromium" >&2; exit 1; fi; }

bench: $(BIN)/.installed
	$(BIN)/python bench/bench_build.py

clean:
	rm -rf $(VENV) out *.egg-info .mypy_cache .ruff_cache .pytest_cache
