# The two commands a newcomer needs: `make run` and `make test`. See the README.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test test-quick lint install migrate seed clean messages catalogues

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found); set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip check
	touch $(STAMP)

install: $(STAMP) catalogues

# The compiled catalogues (locale/*/LC_MESSAGES/django.mo) are built, not committed: with Babel, so
# no GNU gettext is needed to run or test. See docs/languages.md.
catalogues: $(STAMP)
	$(BIN)/python -m verify_site.catalogues

# Re-extract every marked string into the catalogues (needs GNU gettext's xgettext), then compile.
# New strings arrive with an empty msgstr; tests/test_translations.py fails until they are translated.
LANGS := en es pt_BR fr hi ru uk fil ar zh_Hans
messages: $(STAMP)
	@command -v xgettext >/dev/null 2>&1 || { echo "make messages needs GNU gettext (apt-get install gettext)"; exit 1; }
	DEBUG=true $(BIN)/python manage.py makemessages $(foreach l,$(LANGS),-l $(l)) --no-location --no-obsolete \
	  --ignore=.venv --ignore=var --ignore=staticfiles --ignore=tests --ignore=bench
	$(MAKE) catalogues

# Embedded default: SQLite, a file-system broker and a dev mailbox under var/; no server needed.
run: export DEBUG ?= true
run: export PORT := $(PORT)
run: export PUBLIC_BASE_URL ?= http://127.0.0.1:$(PORT)
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo ""
	@echo "  App:          http://127.0.0.1:$(PORT)/"
	@echo "  Console:      http://127.0.0.1:$(PORT)/console/   (representatives and reviewers)"
	@echo "  Operations:   http://127.0.0.1:$(PORT)/console/operations/   (admins)"
	@echo "  Admin:        http://127.0.0.1:$(PORT)/admin/   (logins above)"
	@echo "  API docs:     http://127.0.0.1:$(PORT)/api/docs/   (schema: /api/schema/)"
	@echo "  Dev mailbox:  http://127.0.0.1:$(PORT)/dev/mail/"
	@echo "  Ctrl-C stops the web server, the worker and beat."
	@echo ""
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile

# The whole suite. Uses PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set, or when they
# answer on their default loopback ports; tests that need them are skipped otherwise (never in CI).
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Everything but the slow fault and property tests (real workers killed, simulated months): for
# the edit-test loop. CI runs `make test`, which runs them all.
test-quick: install
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache
