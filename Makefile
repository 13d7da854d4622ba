# Two commands on a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test install migrate demo serve lint format messages clean-var

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py seed_demo

# Installs, migrates, loads the demo organisation and serves http://127.0.0.1:8000 with the
# Celery worker and beat (embedded default: SQLite + filesystem broker under var/). DEBUG is
# off (the error pages users see; static files are served anyway): `DEBUG=1 make run` for
# Django's debug pages while developing.
run: demo
	$(BIN)/python manage.py serve

serve: install
	$(BIN)/python manage.py serve

# The whole suite, browser tests included (they need Debian's chromium at /usr/bin/chromium).
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Polish catalogues: the project's (core, tickets, templates) and one per app that keeps its
# own (cti, mail). Fill the new msgstr entries, then `make messages` again compiles them.
messages: install
	$(BIN)/python manage.py makemessages -l pl --ignore ".venv/*" --ignore "bench/*" \
		--ignore "tests/*" --ignore "tmp/*" --ignore "cti/*" --ignore "mail/*"
	for app in cti mail; do (cd $$app && ../$(BIN)/python ../manage.py makemessages -l pl); done
	$(BIN)/python manage.py compilemessages -l pl --ignore ".venv/*"

clean-var:
	rm -rf var/
