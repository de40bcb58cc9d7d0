# Sandkit: `make run` and `make test` are all a newcomer needs.
SHELL := /bin/bash
ROOT := $(abspath .)
# Builds live outside the clone so fresh clones on the same machine (CI) reuse them.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/sandkit/target
GUEST_TARGET_DIR ?= $(HOME)/.cache/sandkit/guests
GUEST_NATIVE_TARGET_DIR ?= $(HOME)/.cache/sandkit/guests-native
WASM_OUT := $(GUEST_TARGET_DIR)/wasm32-wasip2/release
BUILD := $(ROOT)/build
# The shipped binary: the `dist` profile (LTO, one codegen unit, no debug info). Tests build their
# own with `release` (incremental), which `cargo test --release` makes beside it.
BIN := $(CARGO_TARGET_DIR)/dist/sandkit
COLLECTORS := cpu mem disk diskio net system
# Bundled collectors `make run` does not start: they need a target (prom: a Prometheus exporter).
EXTRA_COLLECTORS := prom
TEST_GUESTS := ticker panicker spin membomb recurse flood sleeper escape wrongworld noop poison badinput slowload badrecords recwriter
PIPELINES := nginx nginx_error json grok
INPUTS := webhook
# Every bundled plugin a page is generated for (docs/plugins/): the Rust ones above and the
# Python, JavaScript and C examples (guests/python, guests/js, guests/c).
DOC_PLUGINS := $(COLLECTORS) $(EXTRA_COLLECTORS) $(PIPELINES) $(INPUTS) \
  csvmetrics logfmt procs csvmetrics_js logfmt_js procs_js ccsvmetrics clogfmt cprocs
# Python guests: a venv with componentize-py (which builds them) and pytest (the SDK's tests),
# pinned; `sandkit plugin build` builds every project under guests/python and guests/python-testing.
PY_VENV ?= $(HOME)/.cache/sandkit/py
export SANDKIT_PY_VENV := $(PY_VENV)
PY := $(PY_VENV)/bin/python
COMPONENTIZE_PY := $(PY_VENV)/bin/componentize-py
COMPONENTIZE_PY_VERSION := 0.25.1
PYTEST_VERSION := 8.3.4
# The official OpenTelemetry Python SDK, its OTLP/HTTP exporter and the generated protobuf
# modules of opentelemetry-proto: the OTLP tests export to the agent with them and decode what
# the agent's OTLP output sends with them.
OTEL_PY_VERSION := 1.29.0
PROTOBUF_PY_VERSION := 5.29.3
PY_PINS := componentize-py==$(COMPONENTIZE_PY_VERSION) pytest==$(PYTEST_VERSION) \
  opentelemetry-sdk==$(OTEL_PY_VERSION) opentelemetry-exporter-otlp-proto-http==$(OTEL_PY_VERSION) \
  opentelemetry-proto==$(OTEL_PY_VERSION) protobuf==$(PROTOBUF_PY_VERSION)
# JavaScript guests: the npm tree of sdk/js/toolchain (componentize-js, rolldown), pinned by its
# package-lock.json and installed with `npm ci` outside the clone; node runs the SDK's tests.
JS_TOOLCHAIN ?= $(HOME)/.cache/sandkit/js
JS_LOCK := sdk/js/toolchain/package-lock.json
JS_TESTS = $$(find sdk/js/test guests/js guests/js-testing -name '*.test.js' -not -path '*/node_modules/*' -not -path '*/.sandkit/*' | sort)

.PHONY: docs doc-stage docs-check all deps pydeps jsdeps guests pyguests jsguests cdeps cguests host build run test test-deps lint fmt bench bench-deps idle clean-build

all: build

## deps: install what is missing (the wasm32-wasip2 target; Debian's librocksdb-dev, which the
## state store links through ROCKSDB_LIB_DIR in .cargo/config.toml, and libclang-dev for its bindgen;
## protobuf-compiler, whose protoc the etcd client's build needs)
deps:
	@command -v cargo >/dev/null || { echo "cargo not found: install Rust with rustup first"; exit 1; }
	@rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
	@dpkg -s librocksdb-dev libclang-dev protobuf-compiler >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq librocksdb-dev libclang-dev protobuf-compiler; }

## pydeps: the Python toolchain of Python guests, in a venv outside the clone
## (reinstalled only when the pins above change: the venv keeps them in .sandkit-pins)
pydeps:
	@[ "$$(cat $(PY_VENV)/.sandkit-pins 2>/dev/null)" = "$(PY_PINS)" ] && [ -x $(COMPONENTIZE_PY) ] || { \
	  python3 -m venv $(PY_VENV) && \
	  $(PY_VENV)/bin/pip install -q --disable-pip-version-check $(PY_PINS) && \
	  echo "$(PY_PINS)" > $(PY_VENV)/.sandkit-pins; }

## pyguests: build the Python guests with `sandkit plugin build` (cached by content)
pyguests: host pydeps
	SANDKIT_BIN=$(BIN) SANDKIT_COMPONENTIZE_PY=$(COMPONENTIZE_PY) bash scripts/plugin-guests.sh python

## jsdeps: the JavaScript toolchain of JS/TS guests, in a directory outside the clone (again
## only when its lock differs from sdk/js/toolchain/package-lock.json)
jsdeps:
	@command -v node >/dev/null || { echo "node not found: install Node.js 20 or later (Debian: apt-get install nodejs npm)"; exit 1; }
	@cmp -s $(JS_LOCK) $(JS_TOOLCHAIN)/package-lock.json && [ -d $(JS_TOOLCHAIN)/node_modules/@bytecodealliance/componentize-js ] || { \
	  mkdir -p $(JS_TOOLCHAIN) && cp sdk/js/toolchain/package.json $(JS_LOCK) $(JS_TOOLCHAIN)/ && \
	  (cd $(JS_TOOLCHAIN) && npm ci --no-audit --no-fund --loglevel=error); }

## jsguests: build the JavaScript/TypeScript guests with `sandkit plugin build` (cached by content)
jsguests: host jsdeps
	SANDKIT_BIN=$(BIN) SANDKIT_JS_TOOLCHAIN=$(JS_TOOLCHAIN) bash scripts/plugin-guests.sh js

## cdeps: the C toolchain of C guests (Debian's clang 19 for wasm32-wasi, its linker, wasi-libc
## and the compiler runtime); `sandkit plugin build` makes the component itself
C_PACKAGES := clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32
cdeps:
	@dpkg -s $(C_PACKAGES) >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(C_PACKAGES); }

## cguests: build the C guests (guests/c, guests/c-testing) with `sandkit plugin build` (cached by content)
cguests: host cdeps
	SANDKIT_BIN=$(BIN) bash scripts/plugin-guests.sh c

## guests: build every guest component and copy them to build/wasm
guests: deps
	cd guests && CARGO_TARGET_DIR=$(GUEST_TARGET_DIR) cargo build --release --target wasm32-wasip2
	@mkdir -p $(BUILD)/wasm
	@for g in $(COLLECTORS) $(EXTRA_COLLECTORS) $(PIPELINES) $(INPUTS) $(TEST_GUESTS); do cp $(WASM_OUT)/$$g.wasm $(BUILD)/wasm/$$g.wasm; done
	@echo "guests: $$(ls $(BUILD)/wasm | wc -l) components in build/wasm"

## host: the agent as it ships (`dist` profile), which also builds every Python, JS and C guest
host: deps
	cargo build --profile dist --workspace --bins

build: guests host pyguests jsguests cguests

## run: build the host and the Rust guests and run the agent with the embedded default config and
## the six collectors (the Python, JS and C examples are built by `make build` and `make test`)
run: guests host
	@mkdir -p $(BUILD)/agent/plugins $(BUILD)/agent/conf.d
	@for c in $(COLLECTORS); do \
	  cp guests/collectors/$$c/conf.toml $(BUILD)/agent/conf.d/$$c.toml; \
	  cp $(BUILD)/wasm/$$c.wasm $(BUILD)/agent/plugins/.$$c.wasm.tmp && mv $(BUILD)/agent/plugins/.$$c.wasm.tmp $(BUILD)/agent/plugins/$$c.wasm; \
	done
	@echo "sandkit: collecting from $(BUILD)/agent/plugins (Ctrl-C to stop); points below, log on stderr"
	cd $(BUILD)/agent && exec $(BIN) run

## test-deps: real servers the integration tests start on loopback (Debian packages)
TEST_PACKAGES := influxdb logrotate nginx prometheus prometheus-node-exporter wrk etcd-server etcd-client victoria-metrics nats-server
test-deps:
	@dpkg -s $(TEST_PACKAGES) >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(TEST_PACKAGES); }

## lint: formatting and clippy, as CI checks them
lint: deps
	cargo fmt --all --check
	cd guests && cargo fmt --all --check
	cd sdk/rust && cargo fmt --check
	cargo clippy --release --workspace --all-targets -- -D warnings
	cd guests && CARGO_TARGET_DIR=$(GUEST_TARGET_DIR) cargo clippy --release --target wasm32-wasip2 -- -D warnings
	bash scripts/c-bindings.sh --check

## docs: generate docs/plugins/ (a page per bundled plugin, from its describe and its default
## config) and docs/config.md (from the config types) with `sandkit doc`
docs: doc-stage
	$(BIN) doc plugins $(BUILD)/doc-plugins --out docs/plugins
	$(BIN) doc config > docs/config.md

## doc-stage: the components of the bundled plugins, in one directory for `sandkit doc plugins`
doc-stage: build
	@rm -rf $(BUILD)/doc-plugins && mkdir -p $(BUILD)/doc-plugins
	@for p in $(DOC_PLUGINS); do cp $(BUILD)/wasm/$$p.wasm $(BUILD)/doc-plugins/ || exit 1; done

## docs-check: the checked-in docs are what `make docs` makes of the code now
docs-check: doc-stage
	@rm -rf $(BUILD)/docs-now && mkdir -p $(BUILD)/docs-now
	$(BIN) doc plugins $(BUILD)/doc-plugins --out $(BUILD)/docs-now/plugins
	$(BIN) doc config > $(BUILD)/docs-now/config.md
	@diff -ru docs/plugins $(BUILD)/docs-now/plugins && diff -u docs/config.md $(BUILD)/docs-now/config.md \
	  || { echo "docs/plugins or docs/config.md is out of date with the code: run \`make docs\` and commit the result" >&2; exit 1; }

## test: everything needed, then the whole suite (host unit + integration tests, guest unit tests, lint)
test: build lint docs-check test-deps
	@# The shipped (dist) binary runs a collector and the nginx pipeline; the suite below runs
	@# the release build of the same code.
	$(BIN) plugin test $(BUILD)/wasm/mem.wasm -c guests/collectors/mem/conf.toml | grep -q '^mem'
	head -5 tests/data/pipelines/nginx-access.log | $(BIN) pipeline test $(BUILD)/wasm/nginx.wasm | grep -q '^< nginx,'
	@# The agent binary the integration tests run (target/release/sandkit): `cargo test` builds
	@# the binaries of a package only for that package's own tests, and the tests live in
	@# another package, so without this they would run whatever binary an earlier build left.
	cargo build --release --workspace --bins
	cargo test --release --workspace --no-fail-fast
	cd guests && CARGO_TARGET_DIR=$(GUEST_NATIVE_TARGET_DIR) cargo test --workspace
	cd sdk/rust && CARGO_TARGET_DIR=$(GUEST_NATIVE_TARGET_DIR) cargo test
	PYTHONPATH=$(ROOT)/sdk/python $(PY) -m pytest -q -p no:cacheprovider --import-mode=importlib sdk/python/tests guests/python guests/python-testing
	$(CC) -std=c17 -O1 -Wall -Wextra -Werror -I sdk/c sdk/c/tests/golden.c -o $(BUILD)/c-sdk-tests && $(BUILD)/c-sdk-tests testdata/records/golden.json
	SANDKIT_JS_TOOLCHAIN=$(JS_TOOLCHAIN) node --import ./sdk/js/tools/resolve-sdk.mjs --test $(JS_TESTS)
	$(JS_TOOLCHAIN)/node_modules/.bin/tsc -p sdk/js/tsconfig.check.json

## bench-deps: the baselines the benches measure beside the agent (collectd for the idle cost,
## rsyslog for the tail), influxd for HTTP writes, nats-server for the outputs side by side
BENCH_PACKAGES := collectd-core rsyslog influxdb nats-server
bench-deps:
	@dpkg -s $(BENCH_PACKAGES) >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BENCH_PACKAGES); }

## bench: criterion benches, the idle cost of `sandkit run` beside collectd, the 200 MB tail
## against rsyslog, and HTTP writes against influxd
bench: build bench-deps
	cargo bench -p sandkit-benches
	bash benches/link-order.sh --check
	bash benches/idle.sh
	bash benches/tail.sh
	bash benches/http.sh

fmt:
	cargo fmt --all
	cd guests && cargo fmt --all

clean-build:
	rm -rf $(BUILD)
