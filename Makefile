# Two commands for a fresh machine: `make app` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8501

.PHONY: app test setup browser bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# constraints.txt: the exact versions the tests passed with (torch 2.14.1: the newest served here)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

app: $(STAMP)
	$(VENV)/bin/streamlit run streamlit_app.py --server.address $(HOST) --server.port $(PORT)

# Debian's chromium for the browser test (Playwright's own browser download cannot work offline).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || echo "chromium could not be installed: the browser test will skip"

# The linters first (seconds): ruff (with bandit's rules and the banned APIs) and the layers' contracts.
test: $(STAMP) browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/bench_sweep.py --quick
	$(PY) benchmarks/bench_native.py
	$(PY) benchmarks/bench_fit.py

clean:
	rm -rf $(VENV) .pytest_cache
