# Mirage: `make run` serves the demo study; `make test` runs the whole test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2

# bash: `make run` waits for whichever of its two processes ends first (wait -n).
SHELL := /bin/bash

.PHONY: run test bench bench-validity clean-demo

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch is pinned in requirements.txt and installed first, so nothing pulls in a CUDA build.
$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q "$$(grep -E '^torch==' requirements.txt)"
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements-test.txt $(VENV)/.installed
	$(BIN)/pip install -q -r requirements-test.txt
	touch $@

run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py demo --base-url http://$(HOST):$(PORT)
	@echo "Serving on http://$(HOST):$(PORT)/ with $(WORKERS) workers and a task worker (Ctrl-C stops both)."
	@# The task worker runs background tasks (a pool's quality report). Both run in the background and the
	@# shell waits for either: Ctrl-C or a TERM to make stops both, and if one of them dies the other is
	@# stopped too (a web app whose reports would stay queued forever is not left running).
	@$(BIN)/python manage.py db_worker --no-startup-delay & worker=$$!; \
	$(BIN)/gunicorn readerstudy.wsgi --bind $(HOST):$(PORT) --workers $(WORKERS) --threads 4 --access-logfile - \
	  --log-level warning --logger-class readerstudy.logging.GunicornLogger & web=$$!; \
	stopping=; trap 'stopping=1; kill -TERM $$web $$worker 2>/dev/null' INT TERM; \
	wait -n $$web $$worker; status=$$?; \
	if [ -n "$$stopping" ]; then :; elif kill -0 $$web 2>/dev/null && ! kill -0 $$worker 2>/dev/null; then echo "The task worker stopped: stopping the web app."; \
	elif kill -0 $$worker 2>/dev/null && ! kill -0 $$web 2>/dev/null; then echo "The web app stopped: stopping the task worker."; fi; \
	kill -TERM $$web $$worker 2>/dev/null; wait; exit $$status

test: $(VENV)/.installed-test
	. tests/services.sh && $(BIN)/python -m pytest -n auto $(PYTEST_ARGS)
	. tests/services.sh && if [ -n "$$MIRAGE_TEST_POSTGRES_URL" ]; then \
	  DATABASE_URL="$$MIRAGE_TEST_POSTGRES_URL" $(BIN)/python -m pytest -m "not browser" -n auto tests/readerstudy tests/integrity tests/security; \
	else echo "NOTICE: PostgreSQL is not available here: the PostgreSQL pass was skipped."; fi

bench: $(VENV)/.installed-test
	$(BIN)/python bench/pool_build.py
	$(BIN)/python bench/trial_latency.py
	$(BIN)/python bench/analysis.py
	$(BIN)/python bench/gan_train.py
	$(BIN)/python bench/quality.py
	. tests/services.sh && $(BIN)/python bench/load.py

# About an hour on 2 cores: 2,000 simulated studies per scenario and truth.
bench-validity: $(VENV)/.installed-test
	$(BIN)/python bench/validity.py

clean-demo:
	rm -rf var/
