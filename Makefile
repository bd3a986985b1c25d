# Every target sets itself up: a fresh clone needs only `make test` or `make demo`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
# `make demo` needs the project and its run-time dependencies only; `make test` adds the dev extra on top.
RUNTIME_STAMP := $(VENV)/.installed-runtime

.PHONY: install generate check-generated lint typecheck alerts test bench bench-smoke demo mutation outbox-soak clean redis-server

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

$(RUNTIME_STAMP): pyproject.toml
	@echo "make demo: installing finops-sdk with its runtime dependencies only (httpx, attrs, tenacity, aiohttp, jsonschema-rs, orjson, platformdirs) into $(VENV), not the dev tools"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $(RUNTIME_STAMP)

generate: $(STAMP)
	$(PY) codegen/generate.py --out generated/finops_api_client

check-generated: $(STAMP)
	@tmp=$$(mktemp -d) && \
	$(PY) codegen/generate.py --out $$tmp/finops_api_client >/dev/null && \
	if diff -r -x __pycache__ generated/finops_api_client $$tmp/finops_api_client; then \
		echo "generated/ matches openapi.yaml and codegen/"; rm -rf $$tmp; \
	else \
		echo "generated/ differs from what openapi.yaml and codegen/ produce: run 'make generate'"; rm -rf $$tmp; exit 1; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check resilience finops_cli tests codegen reference_backend benchmarks demo
	$(BIN)/ruff format --check resilience finops_cli tests codegen reference_backend benchmarks demo

typecheck: $(STAMP)
	$(BIN)/mypy --strict resilience finops_cli generated/finops_api_client reference_backend demo benchmarks codegen
	$(BIN)/mypy --strict --explicit-package-bases tests

# The fleet tests (tests/test_fleet*.py) start a real redis-server of their own: installed here
# when missing (CI runs as root on a clean Debian machine).
redis-server:
	@command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server; }

# The Prometheus alert rules (monitoring/prometheus/): checked, then unit-tested on fed series.
# promtool comes with Debian's prometheus package, installed when missing.
PROMTOOL ?= promtool
ALERTS := monitoring/prometheus
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
alerts:
	@command -v $(PROMTOOL) >/dev/null || { \
		echo "make alerts: installing Debian's prometheus package for promtool"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends prometheus; }
	$(PROMTOOL) check rules $(ALERTS)/finops-sdk.rules.yml
	cd $(ALERTS) && $(PROMTOOL) test rules finops-sdk.rules.test.yml

test: lint typecheck check-generated alerts redis-server
	$(BIN)/pytest

bench: $(STAMP) redis-server
	$(PY) -m benchmarks

bench-smoke: $(STAMP) redis-server
	$(PY) -m benchmarks --smoke

demo: $(RUNTIME_STAMP)
	$(PY) -m demo

# Mutation testing, not part of `make test` (benchmarks/MUTATION.md): mutmut over the breaker,
# retry, batch and redaction modules ([tool.mutmut] in pyproject.toml), each mutant run against
# its own module's tests, then the score of each module. From scratch every time: mutmut keeps
# earlier verdicts otherwise, even after the tests changed.
MUTATION_JOBS ?= 2
mutation: $(STAMP)
	rm -rf mutants
	$(BIN)/mutmut run --max-children $(MUTATION_JOBS)
	$(PY) -m benchmarks.mutation_report

# The outbox soak, not part of `make test`: jobs SIGKILLed at 1,000 seeded moments per client,
# then a fresh replay; prints kill moments, items, lost, stored twice (tests/outbox_crash.py).
OUTBOX_MOMENTS ?= 1000
outbox-soak: $(STAMP)
	$(PY) -m benchmarks.outbox_soak --moments $(OUTBOX_MOMENTS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache mutants
