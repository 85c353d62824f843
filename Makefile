# Two commands are the contract (see README.md):
#   make up     set up the virtualenv and run the node
#   make test   set up the virtualenv and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: up test soak setup protos lock bench clean

$(STAMP): pyproject.toml requirements.lock
	@echo "==> creating $(VENV) and installing pinned dependencies (first run: a few minutes)"
	$(PYTHON) -c 'import sys; sys.exit("Python >= 3.11 is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --disable-pip-version-check -c requirements.lock -e '.[dev,ml]'
	@touch $@

setup: $(STAMP)

# Checks the installation end to end (a few seconds), then runs the node until Ctrl-C.
# Pass flags with UP_ARGS, e.g. make up UP_ARGS='--data-dir /srv/aurigraph --replicas 5'.
up: setup
	$(VENV)/bin/aurigraph selfcheck
	$(VENV)/bin/aurigraph up $(UP_ARGS)

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

# The long seeded consensus soak (-m slow, about 12 minutes on 2 cores); CI runs it after `make test`.
soak: setup
	$(PY) -m pytest -m slow $(PYTEST_ARGS)

protos: setup
	$(PY) protos/generate.py

bench: setup
	$(VENV)/bin/aurigraph bench crypto
	$(VENV)/bin/aurigraph bench node

# Re-pin requirements.lock from a clean resolve of pyproject.toml's ranges.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --disable-pip-version-check -q -e '.[dev,ml]'
	.venv-lock/bin/pip freeze --exclude-editable | grep -v '^-e ' > requirements.lock
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
