# opscope: `make demo` runs the demo, `make test` runs every check CI runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
DATA ?= ../shared/data

.PHONY: setup demo serve test lint unit system-deps bench eval clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/opscope demo

serve: setup
	$(BIN)/opscope serve

# Debian packages the tests drive as real peers (Alertmanager, Prometheus, a headless browser,
# the PostgreSQL store and the NATS JetStream bus of the scale-out set-up). Installed when missing.
SYSTEM_TOOLS := prometheus-alertmanager:prometheus-alertmanager prometheus:prometheus \
  chromium:chromium pg_ctlcluster:postgresql nats-server:nats-server
system-deps:
	@missing=""; for pair in $(SYSTEM_TOOLS); do \
	  command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair##*:}"; done; \
	if [ -n "$$missing" ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  echo "installing Debian packages:$$missing"; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src

unit: setup
	$(BIN)/pytest

test: setup system-deps lint
	REQUIRE_SYSTEM_TOOLS=1 $(BIN)/pytest

bench: setup system-deps
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	$(BIN)/python bench/bench_ingest.py
	$(BIN)/python bench/bench_store.py
	$(BIN)/python bench/bench_metrics.py
	$(BIN)/python bench/bench_react.py
	$(BIN)/python bench/bench_scale.py

eval: setup
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	$(BIN)/opscope eval logs --data $(DATA)/loghub_2k --baseline drain3
	$(BIN)/opscope eval log-sessions --data $(DATA)/hdfs_sessions
	$(BIN)/opscope eval nab --data $(DATA)/nab --thin 3 --thin 6 --cut 1000 --fine 20
	$(BIN)/opscope eval synth-nab-score --seeds 1-20
	$(BIN)/opscope eval rca --data $(DATA)/rca
	$(BIN)/opscope eval correlation --rank
	$(BIN)/opscope eval correlation --replicas 3 --extended-rules
	$(BIN)/opscope eval correlation --live-faults 10 --live-metric-history 24
	$(BIN)/opscope eval similar

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
