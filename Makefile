# Two commands are the contract (see README.md):
#   make up     set up the virtualenv and run the node
#   make test   set up the virtualenv and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: up test setup protos lock bench clean

$(STAMP): pyproject.toml requirements.lock
	@echo "==> creating $(VENV) and installing pinned dependencies (first run: a few minutes)"
	$(PYTHON) -c 'import sys; sys.exit("Python >= 3.11 is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --disable-pip-version-check -c requirements.lock -e '.[dev,ml]'
	@touch $@

setup: $(STAMP)

# Until the Ray runtime lands (issue 5: `aurigraph up`), "running the node" means proving this
# installation works end to end: keys, signatures, codec, validation, block building and replay.
up: setup
	$(VENV)/bin/aurigraph selfcheck
	@echo "The distributed node (aurigraph up) is not built yet; see README.md, Status."

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

protos: setup
	$(PY) protos/generate.py

bench: setup
	$(VENV)/bin/aurigraph bench crypto

# Re-pin requirements.lock from a clean resolve of pyproject.toml's ranges.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --disable-pip-version-check -q -e '.[dev,ml]'
	.venv-lock/bin/pip freeze --exclude-editable | grep -v '^-e ' > requirements.lock
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
