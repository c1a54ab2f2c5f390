# The two commands of the README, plus the steps they are made of.
# Everything installs into the checkout: .venv (Python), node_modules (npm), .tools/bin (geth).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint install tools images clean

demo: install  ## bring a devnet up, run one mint -> remittance -> redeem cycle, take it down
	$(BIN)/devnet demo

test: install  ## the whole test suite, on geth and anvil, in 2 xdist workers
	$(BIN)/pytest -n 2 --dist loadgroup

lint: install  ## ruff on everything, mypy (strict) on devnet and harness, the layers (import-linter)
	$(BIN)/ruff check devnet harness tests loadtests
	$(BIN)/mypy
	$(BIN)/lint-imports

install: $(VENV)/.installed tools

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,lint,load,docker]'
	touch $@

tools: $(VENV)/.installed  ## npm ci (solc-js, OpenZeppelin, anvil) and geth from the Go module proxy
	$(BIN)/devnet tools install

images: install  ## the docker runtime's images (node, services), built without a registry; needs a Docker engine
	$(BIN)/devnet images build

clean:
	rm -rf $(VENV) node_modules .tools .devnet .tox
