# make demo   set everything up, then serve a simulated district live (web app, accounts) until Ctrl-C
# make test   set everything up, then lint and run every test
# make lint   ruff, mypy (gateway, sim, tools; firmware against MicroPython stubs) and
#             the layout's import contracts (lint-imports)
# make bench  the benchmarks (ONLY=<group> for one group)

VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
NODE_OK := node_modules/.installed
STUBS   := build/typings/.installed
SYSTEM  := build/.system-packages

.PHONY: setup demo test lint bench firmware clean

setup: $(STAMP) $(NODE_OK) $(STUBS) $(SYSTEM)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

$(NODE_OK): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# MicroPython's own stubs live apart from the venv: they replace CPython's
# standard library stubs when mypy checks the firmware.
$(STUBS): $(STAMP)
	$(PY) -m pip install -q --no-user --target build/typings 'micropython-esp32-stubs==1.27.*'
	touch $@

$(SYSTEM):
	sh tools/install-system-packages.sh
	mkdir -p build && touch $@

demo: setup
	$(VENV)/bin/kvarter demo

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy gateway sim tools bench
	$(VENV)/bin/mypy --config-file mypy-firmware.ini -p firmware
	$(VENV)/bin/lint-imports

test: lint
	$(VENV)/bin/pytest -q -n auto --dist loadfile

firmware: setup
	$(VENV)/bin/kvarter node build

bench: setup
	$(PY) -m bench $(if $(ONLY),--only $(ONLY))

clean:
	rm -rf build var .pytest_cache .mypy_cache .ruff_cache .hypothesis
