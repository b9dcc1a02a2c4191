# Two commands: `make run` (set up and serve) and `make test` (everything CI checks).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres

.PHONY: run install test lint test-sqlite test-postgres tools postgres bench bench-dashboard bench-load bench-ratios bench-fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/alertdrill db upgrade
	$(BIN)/alertdrill scenarios publish scenarios/
	$(BIN)/alertdrill demo setup
	@echo ""
	@echo "  alertdrill is at http://$(HOST):$(PORT)"
	@echo "  demo logins (password: demo): nurse, educator, manager, admin"
	@echo ""
	$(BIN)/uvicorn app.asgi:app --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy app simulator

# Debian's Chromium for the Playwright browser tests (no browser download) and the
# compose client that checks docker-compose.yml (`docker compose config`; no engine needed).
tools:
	@{ command -v /usr/bin/chromium >/dev/null 2>&1 && { docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1; }; } || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium docker-compose >/dev/null; }

# PostgreSQL already runs on the project's machines; start Debian's if it does not.
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || { \
	  command -v pg_ctlcluster >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }; \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -1) main start; \
	  for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done; \
	  su postgres -c "psql -qc \"ALTER USER postgres PASSWORD NULL\"" >/dev/null 2>&1 || true; }

test-sqlite: install tools
	TEST_DATABASE=sqlite $(BIN)/pytest -q -p no:cacheprovider

# Everything that touches the database, again on PostgreSQL in a fresh database.
test-postgres: install postgres
	TEST_DATABASE=postgres TEST_POSTGRES_URL=$(PG_URL) $(BIN)/pytest -q -p no:cacheprovider \
	  --ignore=tests/unit --ignore=tests/e2e

test: lint test-sqlite test-postgres

# Benchmarks print ratios against baselines measured in the same run (docs/performance.md).
bench: install
	$(BIN)/python bench/bench_simulator.py

bench-dashboard: install postgres
	$(BIN)/python bench/bench_dashboard.py

bench-load: install postgres
	$(BIN)/python bench/bench_load.py --db sqlite --trainees 200 --decisions 25
	$(BIN)/python bench/bench_load.py --db postgres --trainees 200 --decisions 25
	$(BIN)/python bench/bench_load.py --db postgres --trainees 100 --decisions 20 --faults all

bench-ratios: install postgres
	$(BIN)/python bench/bench_ratios.py --db postgres --scaling
	$(BIN)/python bench/bench_ratios.py --db sqlite --scaling

bench-fuzz: install
	$(BIN)/python bench/bench_fuzz.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache
