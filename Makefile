# cmdesk quick start: `make run` serves the demo on http://127.0.0.1:8000, `make test` runs the whole suite.
# Only Python 3.11 is needed; everything else is installed into .venv from the pinned requirements.lock.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
SCALE ?= county
export DEBUG ?= 1

.PHONY: run test test-postgres lint format demo demo-city migrate messages bench clean

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

migrate: $(STAMP)
	$(BIN)/cmdesk migrate --no-input -v 0

demo: migrate
	$(BIN)/cmdesk demo --scale $(SCALE) --if-empty

demo-city: migrate
	$(BIN)/cmdesk demo --scale city --reset

run: demo
	@echo "cmdesk: http://$(HOST):$(PORT)/  (logins above; password cmdesk-demo)"
	$(BIN)/cmdesk runserver $(HOST):$(PORT)

test: $(STAMP)
	$(BIN)/cmdesk makemigrations --check --dry-run -v 0
	$(BIN)/ruff check .
	CMDESK_DEV_SECRET=1 $(BIN)/pytest

# The database-facing tests against PostgreSQL (127.0.0.1:5432, database `test`; Django creates test_test).
test-postgres: $(STAMP)
	DATABASE_URL=$${PG_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} CMDESK_DEV_SECRET=1 $(BIN)/pytest -m "not browser and not spark and not libreoffice"

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

messages: $(STAMP)
	cd cmdesk && ../$(BIN)/cmdesk makemessages -l zh_Hans --no-obsolete && ../$(BIN)/cmdesk compilemessages -l zh_Hans

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_demo.py

clean:
	rm -rf $(VENV) var .pytest_cache
