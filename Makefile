# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Debian packages the tests drive for real: headless browser, registry, image client, reverse proxy.
TEST_DEBS := chromium docker-registry skopeo nginx postgresql wrk  # wrk: tests/test_bench_smoke.py
BENCH_DEBS := wrk postgresql

.PHONY: run test lint format migrate bench install debs

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

debs:
	./scripts/ensure-debs.sh $(TEST_DEBS)

run: $(STAMP)
	$(BIN)/repohub serve

migrate: $(STAMP)
	$(BIN)/repohub migrate

# Issue 14's gates: style, types (mypy --strict, cached in .mypy_cache), no function rated D or worse
# by radon, and the layer rules (scripts/check_layers.py).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	@out="$$($(BIN)/radon cc -s -n D src/)"; if [ -n "$$out" ]; then \
		echo "$$out"; echo "radon: functions rated D or worse (split them)"; exit 1; fi
	$(BIN)/python scripts/check_layers.py

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: $(STAMP) debs lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	./scripts/ensure-debs.sh $(BENCH_DEBS)
	$(BIN)/python -m bench $(BENCH_ARGS)
	$(BIN)/python -m bench.retention $(RETENTION_ARGS)
	$(BIN)/python -m bench.webhooks $(WEBHOOK_ARGS)
	$(BIN)/python -m bench.replica $(REPLICA_ARGS)
