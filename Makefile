# Last.fm 360K lakehouse. `make build` and `make test` set everything up on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
# The server's Java code and its JUnit tests: compiled and tested by make setup when they change.
JVM_SOURCES := $(shell find src/lastfm_lakehouse/serving/jvm -name '*.java' | sort)
JVM_STAMP := $(VENV)/.jvm-tested-$(shell cat $(JVM_SOURCES) | cksum | cut -d' ' -f1)
DBT_DIRS := --project-dir dbt_project --profiles-dir profiles
USERS ?= 2000
SEED ?= 360
OUT ?= data/generated
SCALE ?= 1
# make test TEST_WORKERS=N: pytest workers (pytest-xdist); the default, one process, was the faster on
# 2 cores (docs/development.md)
TEST_WORKERS ?= 1
# Apache Superset lives in its own virtualenv: its pins never meet dbt's or pyspark's.
LAKEHOUSE_SUPERSET_VENV ?= .venv-superset
SUPERSET_REQUIREMENTS := src/lastfm_lakehouse/dashboards/superset-requirements.txt
SUPERSET_STAMP := $(LAKEHOUSE_SUPERSET_VENV)/.installed-$(shell cksum < $(SUPERSET_REQUIREMENTS) | cut -d' ' -f1)
SCREENSHOTS := src/lastfm_lakehouse/dashboards/screenshots

.PHONY: help help-all setup java blas superset chromium dashboards dashboards-stop dashboards-screenshots build test test-unit lint generate batch freshness docs vacuum clean clean-lakehouse serve stop status metastore metastore-stop directory directory-stop tls bench-serve bench

help:  ## the everyday targets (make help-all: every target)
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'
	@echo "  (make help-all lists the set-up and component targets too)"

help-all:  ##- every target, the set-up and component ones included
	@grep -E '^[a-z-]+:.*##-? ' $(MAKEFILE_LIST) | sed -E 's/##- /## /' | awk -F':.*## ' '{printf "  make %-22s %s\n", $$1, $$2}'

java:  ##- check for Java 17+ and javac (installs openjdk-17-jdk-headless with apt when root)
	@major=$$(java -version 2>&1 | sed -nE 's/.*version "(1\.)?([0-9]+).*/\2/p' | head -1); \
	if [ -n "$$major" ] && [ "$$major" -ge 17 ] && command -v javac >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Java 17+ with javac not found (java: $${major:-none}): installing openjdk-17-jdk-headless"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless; \
	elif [ -n "$$major" ] && [ "$$major" -ge 17 ]; then \
		echo "note: no javac (a JDK): the server will run without its catalog cache"; \
	else \
		echo "ERROR: Spark needs Java 17+ (found: $${major:-none}). Install a JDK/JRE 17+ (e.g."; \
		echo "  sudo apt-get install openjdk-17-jre-headless) or put one on PATH / JAVA_HOME."; \
		exit 1; \
	fi

blas:  ##- native BLAS for Spark ALS: Debian's libopenblas0 (apt when root; Spark falls back to Java BLAS)
	@if [ -e /usr/lib/x86_64-linux-gnu/libblas.so.3 ] || ldconfig -p 2>/dev/null | grep -q 'libblas\.so\.3 '; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "libblas.so.3 not found: installing libopenblas0 (native BLAS for Spark ALS)"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenblas0 >/dev/null \
			|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenblas0 >/dev/null; }; \
	else \
		echo "NOTE: no native BLAS (libblas.so.3): Spark ALS runs on Java BLAS, several times slower."; \
		echo "  sudo apt-get install libopenblas0   # see docs/performance.md"; \
	fi

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $@

setup: java blas $(STAMP)  ##- virtualenv with pinned dbt-core 1.11, dbt-spark, pyspark, delta-spark (+ its jars), sqlfluff, pytest
	@$(BIN)/lastfm-lakehouse jdbc-driver fetch \
		|| echo "WARNING: no standalone Hive JDBC driver for BI tools (make test needs it too; beeline does not)"
	@if [ "$${LAKEHOUSE_TABLE_FORMAT:-delta}" != parquet ]; then \
		$(BIN)/lastfm-lakehouse delta-jars fetch \
			|| echo "WARNING: builds on Delta (the default) stop until Delta's jars are there; LAKEHOUSE_TABLE_FORMAT=parquet builds without them"; \
	fi
	@$(MAKE) -s $(JVM_STAMP)

$(JVM_STAMP): $(JVM_SOURCES) | $(STAMP)
	@echo "the server's Java code: compiling it and running its JUnit tests (serving/jvm/src/test)"
	@$(BIN)/lastfm-lakehouse jvm-tests test > $(VENV)/jvm-tests.log 2>&1 \
		|| { tail -60 $(VENV)/jvm-tests.log; echo "the server's JVM unit tests failed: $(VENV)/jvm-tests.log"; exit 1; }
	@tail -1 $(VENV)/jvm-tests.log
	@rm -f $(VENV)/.jvm-tested-*; touch $@

build: setup  ## dbt build on the embedded lakehouse (generates data when data/raw/ is empty; UNIT_TESTS=1 adds dbt unit tests)
	$(BIN)/lastfm-lakehouse build --users $(USERS) --seed $(SEED) $(if $(UNIT_TESTS),--unit-tests) $(if $(DBT_ARGS),-- $(DBT_ARGS))

test: setup test-packages  ## the whole test suite (builds on generated data and the real excerpts, lint included)
	$(BIN)/pytest $(if $(filter-out 0 1,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder) $(PYTEST_ARGS)

# Installed before the tests start rather than by the first test that needs one: two workers must
# not run apt-get at once. A component that cannot be had (not root) is reported by the tests that
# need it, which skip or fail saying why.
test-packages:  ##- the Debian components the tests use: PostgreSQL, slapd, Chromium (apt when root)
	-@$(BIN)/python -c "from lastfm_lakehouse.serving import metastore; metastore.ensure_packages()"
	-@$(BIN)/python -c "from lastfm_lakehouse.serving import directory; directory.ensure_packages()"
	-@$(MAKE) -s chromium

test-unit: setup  ## the fast tier: pure Python, no JVM (metrics, top-N, kNN kernel, parsing, generator)
	$(BIN)/pytest -m "not spark" $(PYTEST_ARGS)

lint: setup  ## ruff + sqlfluff (dbt templater, sparksql dialect), zero violations
	$(BIN)/ruff check src tests models_py
	$(BIN)/ruff format --check src tests models_py
	$(BIN)/python -m lastfm_lakehouse.data.countries --check
	cd dbt_project && LAKEHOUSE_HOME=$${LINT_LAKEHOUSE_HOME:-$(CURDIR)/.lakehouse/lint} ../$(BIN)/sqlfluff lint models ../models_py tests analyses --processes 1

generate: setup  ##- synthetic raw files: make generate USERS=359347 SEED=360 OUT=data/generated
	$(BIN)/lastfm-lakehouse generate --users $(USERS) --seed $(SEED) --out $(OUT)

batch: setup  ##- one day of new data beside the generated files: make batch [DATE=YYYY-MM-DD] writes $(OUT)/batches/<day>/
	$(BIN)/lastfm-lakehouse generate --batch --out $(OUT) --seed $(SEED) $(if $(DATE),--batch-date $(DATE))

freshness: setup  ## dbt source freshness: how old the newest batch of plays is (vars batch_freshness_warn_hours, _error_hours)
	$(BIN)/dbt source freshness $(DBT_DIRS)

docs: setup  ## the documentation site (docs/site/) and dbt's catalogue (dbt docs generate, from the built lakehouse)
	$(BIN)/lastfm-lakehouse docs build
	$(BIN)/dbt docs generate $(DBT_DIRS)

vacuum: setup  ## Delta retention: remove files no version within var delta_retention_days (7) needs
	$(BIN)/dbt run-operation vacuum_lakehouse $(DBT_DIRS) $(if $(DBT_ARGS),$(DBT_ARGS))

clean-lakehouse:  ##- drop the warehouse and metastore (.lakehouse/ or $$LAKEHOUSE_HOME)
	rm -rf "$${LAKEHOUSE_HOME:-.lakehouse}"

clean: clean-lakehouse  ## remove the lakehouse (warehouse, metastore), dbt's target/ and the generated data
	rm -rf dbt_project/target dbt_project/logs data/generated

serve: setup  ## start the Thrift (JDBC/ODBC, :10000) + Spark Connect (:15002) server (idempotent)
	$(BIN)/lastfm-lakehouse serve

stop:  ## stop the server
	$(BIN)/lastfm-lakehouse stop

status:  ## is the server up, on which ports, where is its log
	$(BIN)/lastfm-lakehouse status

metastore: setup  ##- PostgreSQL metastore for server + builds at once (then export LAKEHOUSE_METASTORE_URL)
	$(BIN)/lastfm-lakehouse metastore up

metastore-stop:  ##- stop the PostgreSQL metastore
	$(BIN)/lastfm-lakehouse metastore down

directory: setup  ##- LDAP directory (Debian slapd) for the server's password checks (then LAKEHOUSE_SERVER_AUTH=ldap)
	$(BIN)/lastfm-lakehouse directory up

tls: setup  ##- TLS keystore for the Thrift port (keytool; then LAKEHOUSE_SERVER_TLS=on)
	$(BIN)/lastfm-lakehouse tls create

directory-stop:  ##- stop the LDAP directory
	$(BIN)/lastfm-lakehouse directory down

$(SUPERSET_STAMP): $(SUPERSET_REQUIREMENTS)
	@test -x $(LAKEHOUSE_SUPERSET_VENV)/bin/python || $(PYTHON) -m venv $(LAKEHOUSE_SUPERSET_VENV)
	@if [ ! -f /usr/include/ldap.h ] || [ ! -f /usr/include/sasl/sasl.h ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "python-ldap (Superset's directory login) builds on OpenLDAP's and SASL's headers: installing libldap-dev libsasl2-dev"; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libldap-dev libsasl2-dev >/dev/null \
				|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libldap-dev libsasl2-dev >/dev/null; }; \
		else \
			echo "ERROR: python-ldap (Superset's directory login) needs: sudo apt-get install libldap-dev libsasl2-dev"; \
			exit 1; \
		fi; \
	fi
	$(LAKEHOUSE_SUPERSET_VENV)/bin/python -m pip install -q --upgrade pip
	$(LAKEHOUSE_SUPERSET_VENV)/bin/python -m pip install -q -r $(SUPERSET_REQUIREMENTS)
	@rm -f $(LAKEHOUSE_SUPERSET_VENV)/.installed-*; touch $@

superset: $(SUPERSET_STAMP)  ##- Apache Superset 6.1 (pinned) in its own virtualenv, .venv-superset

chromium:  ##- headless Chromium + chromedriver for the dashboards' browser test (apt when root)
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Chromium or chromedriver not found: installing Debian's chromium and chromium-driver"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null \
			|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }; \
	else \
		echo "ERROR: no Chromium + chromedriver, and apt-get needs root:"; \
		echo "  sudo apt-get install chromium chromium-driver"; \
		exit 1; \
	fi

dashboards: setup superset serve  ## Superset on 127.0.0.1:8088 with the three dashboards, on the built lakehouse
	LAKEHOUSE_SUPERSET_VENV=$(abspath $(LAKEHOUSE_SUPERSET_VENV)) $(BIN)/lastfm-lakehouse dashboards up

dashboards-stop:  ## stop Superset (the server stays up: make stop)
	$(BIN)/lastfm-lakehouse dashboards down

dashboards-screenshots: dashboards chromium  ##- the dashboards pages' screenshots, from the running dashboards
	$(BIN)/lastfm-lakehouse screenshots --out $(SCREENSHOTS)

bench-serve: setup  ## 8 clients x 60 s of point lookups over Thrift against the built lakehouse (starts the server)
	$(BIN)/lastfm-lakehouse serve
	$(BIN)/lastfm-lakehouse bench-serve --clients $(or $(BENCH_CLIENTS),8) --seconds $(or $(BENCH_SECONDS),60) \
		$(if $(BENCH_LABEL),--label $(BENCH_LABEL)) $(if $(BENCH_DURING),--during "$(BENCH_DURING)") \
		$(if $(BENCH_SESSION_PER_QUERY),--session-per-query)
	$(BIN)/lastfm-lakehouse docs generate

bench: setup  ## full-size build + ALS head-to-head -> bench/results/<date>.json|.md (make bench SCALE=0.1)
	$(BIN)/lastfm-lakehouse bench --scale $(SCALE) $(BENCH_ARGS)
	$(BIN)/lastfm-lakehouse docs generate
