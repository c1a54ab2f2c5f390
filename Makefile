# The two commands of the README, plus the steps they are made of.
# Everything installs into the checkout: .venv (Python), node_modules (npm), .tools/bin (geth, bsc).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test unit lint install lock tools images clean

demo: install  ## bring a devnet up, run one mint -> remittance -> redeem cycle, take it down
	$(BIN)/devnet demo

test: install  ## the whole test suite, on geth, anvil and bsc, in 2 xdist workers
	$(BIN)/pytest -n 2 --dist loadgroup

unit: install  ## the unit tier alone: pure rules, no node, services or Docker (seconds)
	$(BIN)/pytest -n 0 tests/unit

lint: install  ## ruff on everything, mypy (strict) on devnet and harness, the layers (import-linter)
	$(BIN)/ruff check devnet harness tests loadtests
	$(BIN)/mypy
	$(BIN)/lint-imports

install: $(VENV)/.installed tools

# Every Python package at the version requirements.lock pins; then this project, editable.
$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

lock: $(VENV)/.installed  ## pin every Python dependency again (after a change in pyproject.toml)
	$(BIN)/uv pip compile pyproject.toml --all-extras --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 --quiet -o requirements.lock --custom-compile-command "make lock"

tools: $(VENV)/.installed  ## npm ci (solc-js, OpenZeppelin, anvil); geth and bsc (devnet/node/bsc/module) from the Go module proxy
	$(BIN)/devnet tools install

images: install  ## the docker runtime's images (node, services), built without a registry; needs a Docker engine
	$(BIN)/devnet images build

clean:
	rm -rf $(VENV) node_modules .tools .devnet .tox
