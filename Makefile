# The two commands of the README. Each sets up what it needs in .venv (Python 3.11+ only).
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
WEEK ?= 2023-W19
OUT ?= out/$(WEEK)

.PHONY: digest test lint browser bench clean messages screenshots

# The message catalogue (docs/messages.md): one .po per language, compiled to .mo files
# that git ignores. The keywords are how our code names a message; tests read this line.
LOCALE = digest/locale
LANGUAGES = fr en
MO = $(foreach lang,$(LANGUAGES),$(LOCALE)/$(lang)/LC_MESSAGES/digest.mo)
KEYWORDS = -k say:2 -k t -k N_ -k Nn_:1,2

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/pybabel compile --domain digest --directory $(LOCALE)
	touch $@

# An edited .po is compiled again by `make digest` and `make test`.
$(LOCALE)/%/LC_MESSAGES/digest.mo: $(LOCALE)/%/LC_MESSAGES/digest.po | $(BIN)/.installed
	$(BIN)/pybabel compile --domain digest --locale $* --input-file $< --output-file $@

# Extract every key from the code and templates into digest.pot, then add the new ones to
# each language's .po (empty: fill them in) and drop the ones no longer used. No fuzzy
# guesses (keys are not sentences), no line numbers and no wrapping: diffs stay small; a
# .pot whose only change would be its creation date is left as it is.
messages: $(BIN)/.installed
	$(BIN)/pybabel extract --mapping-file babel.cfg $(KEYWORDS) --no-wrap --sort-output \
	  --add-location file --project digest --copyright-holder "digest contributors" \
	  --output-file $(LOCALE)/digest.pot.new .
	@if diff -q -I '^"POT-Creation-Date: ' $(LOCALE)/digest.pot $(LOCALE)/digest.pot.new \
	  >/dev/null 2>&1; then rm $(LOCALE)/digest.pot.new; \
	  else mv $(LOCALE)/digest.pot.new $(LOCALE)/digest.pot; fi
	$(BIN)/pybabel update --domain digest --input-file $(LOCALE)/digest.pot \
	  --output-dir $(LOCALE) --no-fuzzy-matching --no-wrap --ignore-obsolete \
	  --ignore-pot-creation-date

# Builds a real issue offline from the shipped feeds.yaml (partner snapshots + recaps).
digest: $(BIN)/.installed $(MO)
	$(BIN)/digest --config feeds.yaml build --offline --week $(WEEK) --out $(OUT)

# axe-core, which the accessibility tests inject into headless Chromium: pinned in
# package-lock.json, installed into node_modules/ (git ignores it) by npm ci.
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; \
	  else echo "npm is missing: sudo apt-get install npm" >&2; exit 1; fi; }
	npm ci --no-audit --no-fund --silent
	touch $@

# Lint, format check, types, then every test (browser tests included).
test: $(BIN)/.installed $(MO) browser node_modules/.installed
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

# The screenshots of the email and the site that docs/ shows (docs/screenshots/).
screenshots: $(BIN)/.installed $(MO) browser
	$(BIN)/python scripts/screenshots.py

bench: $(BIN)/.installed
	$(BIN)/python bench/bench_build.py

clean:
	rm -rf $(VENV) node_modules out *.egg-info .mypy_cache .ruff_cache .pytest_cache
