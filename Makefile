# Two commands are the contract (see README.md):
#   make up     set up the virtualenv and run the node
#   make test   set up the virtualenv and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: up test soak lint setup softhsm etcd protos lock bench clean

$(STAMP): pyproject.toml requirements.lock
	@echo "==> creating $(VENV) and installing pinned dependencies (first run: a few minutes)"
	$(PYTHON) -c 'import sys; sys.exit("Python >= 3.11 is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --disable-pip-version-check -c requirements.lock -e '.[dev,ml]'
	@touch $@

setup: $(STAMP) softhsm

# SoftHSM2 (Debian's softhsm2), the PKCS#11 token the HSM keystore is tested against: installed when
# missing and apt-get can (as root); without it the HSM tests skip and say why.
softhsm:
	@command -v softhsm2-util >/dev/null || apt-get install -y softhsm2 >/dev/null 2>&1 \
		|| (apt-get update >/dev/null 2>&1 && apt-get install -y softhsm2 >/dev/null 2>&1) \
		|| echo "warning: softhsm2 is not installed (apt-get install softhsm2): the HSM keystore tests will skip"

# Checks the installation end to end (a few seconds), then runs the node until Ctrl-C.
# Pass flags with UP_ARGS, e.g. make up UP_ARGS='--data-dir /srv/aurigraph --replicas 5'.
up: setup
	$(VENV)/bin/aurigraph selfcheck
	$(VENV)/bin/aurigraph up $(UP_ARGS)

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

# Static and dependency checks (CI runs them before `make test`); each must pass with zero findings:
# ruff with the rules chosen in pyproject.toml, bandit on the shipped packages (deliberate findings
# are marked `# nosec BXXX  # why`), pip-audit on every pin in requirements.lock (needs PyPI's per-release JSON API: where that is
# unreachable it says so loudly and is skipped, because it cannot check anything there).
lint: setup
	@echo "==> ruff check . (rules: [tool.ruff.lint] in pyproject.toml)"
	$(VENV)/bin/ruff check .
	@echo "==> bandit -r aurigraph actors serve_apps models (config: [tool.bandit] in pyproject.toml)"
	$(VENV)/bin/bandit -q -r aurigraph actors serve_apps models -c pyproject.toml
	@echo "==> pip-audit -r requirements.lock (known vulnerabilities in the pinned dependencies)"
	@if $(PY) -c "import urllib.request as u; u.urlopen('https://pypi.org/pypi/pip/24.0/json', timeout=10)" 2>/dev/null; then \
		$(VENV)/bin/pip-audit -r requirements.lock --strict --no-deps --disable-pip --progress-spinner off; \
	else \
		echo "==> pip-audit NOT RUN: PyPI's per-release JSON API (its vulnerability source) is unreachable from this" \
		     "network; run 'make lint' where it is"; \
	fi

# The long seeded consensus soak (-m slow, about 12 minutes on 2 cores); CI runs it after `make test`.
soak: setup
	$(PY) -m pytest -m slow $(PYTEST_ARGS)

protos: setup
	$(PY) protos/generate.py

# etcd (Debian's etcd-server): the baseline of `aurigraph bench single`; installed when missing and
# apt-get can (as root), else the benchmark runs without it and says so.
etcd:
	@command -v etcd >/dev/null || apt-get install -y etcd-server >/dev/null 2>&1 \
		|| (apt-get update >/dev/null 2>&1 && apt-get install -y etcd-server >/dev/null 2>&1) \
		|| echo "warning: etcd-server is not installed (apt-get install etcd-server): bench single runs without its baseline"

bench: setup etcd
	$(VENV)/bin/aurigraph bench crypto
	$(VENV)/bin/aurigraph bench node
	$(VENV)/bin/aurigraph bench single

# Re-pin requirements.lock from a clean resolve of pyproject.toml's ranges.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --disable-pip-version-check -q -e '.[dev,ml]'
	.venv-lock/bin/pip freeze --exclude-editable | grep -v '^-e ' > requirements.lock
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
