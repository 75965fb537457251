# lambda-wasm: `make demo` sets everything up and runs the seed's examples;
# `make test` runs every test. Both work on a fresh machine with rustup.

CARGO        ?= cargo
GUEST_TARGET := wasm32-wasip1
GUEST_DIR    := target/$(GUEST_TARGET)/guest
HOST         := target/release/lambda-wasm
RUST_GUESTS  := -p hello -p region -p increment -p command-echo -p test-guest
EVENTS       := guests/events

.PHONY: demo test setup tools host guests clean

## demo: build the host and the guests, then run the seed's three handlers locally
demo: setup host guests
	@echo "== hello (Rust guest)"
	$(HOST) invoke hello.handler --task-root $(GUEST_DIR) --event $(EVENTS)/hello.json
	@echo "== region (Rust guest)"
	$(HOST) invoke region.handler --task-root $(GUEST_DIR) --event $(EVENTS)/region.json --env AWS_REGION=eu-west-1
	@echo "== increment (Rust guest)"
	$(HOST) invoke increment.handler --task-root $(GUEST_DIR) --event $(EVENTS)/increment.json

## test: unit tests of every crate and the end-to-end tests of the built binary
test: setup guests tools
	$(CARGO) test --release --workspace

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

clean:
	$(CARGO) clean
