# edgecache task runner. CI runs `make test` (through .ci/run) verbatim.
# `make help` lists the targets; README.md and CONTRIBUTING.md name the same.

CARGO ?= cargo
# Loom explores every interleaving up to this many preemptions.
LOOM_MAX_PREEMPTIONS ?= 3
export LOOM_MAX_PREEMPTIONS

.PHONY: help demo test build lint fmt fmt-check clippy test-rust loom sanitize bench doc clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

demo: ## Build and run the stampede demo (1,000 threads, one load)
	$(CARGO) run --release -p edgecache --example stampede

test: lint test-rust loom sanitize ## Every suite: lint, Rust tests, loom model checks, AddressSanitizer
	@echo "make test: all suites passed"

build: ## Build the workspace
	$(CARGO) build --workspace --all-targets

lint: fmt-check clippy doc ## rustfmt check, clippy with warnings as errors, rustdoc

fmt: ## Format the code
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

doc:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps

test-rust: ## Rust unit, integration, property, stress and doc tests
	$(CARGO) test --workspace

loom: ## Model-check Flight and the watch cache's hand-offs with loom
	RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom $(CARGO) test --release -p edgecache --test 'loom_*'

sanitize: ## Concurrency and stress tests under AddressSanitizer (nightly)
	RUSTFLAGS="-Zsanitizer=address --cfg edgecache_sanitize" RUSTDOCFLAGS="-Zsanitizer=address" CARGO_TARGET_DIR=target/asan \
	  $(CARGO) +nightly test -p edgecache --target x86_64-unknown-linux-gnu \
	  --test flight --test cache --test group --test stress

bench: ## Criterion benchmarks next to the peers (see docs/benchmarks.md)
	$(CARGO) bench -p edgecache

clean: ## Remove build output
	$(CARGO) clean

CBINDGEN_VERSION := 0.29.4
CBINDGEN := $(CURDIR)/.tools/bin/cbindgen

$(CBINDGEN):
	$(CARGO) install --locked --root $(CURDIR)/.tools cbindgen --version $(CBINDGEN_VERSION)

header: $(CBINDGEN) ## Regenerate include/edgecache.h with the pinned cbindgen
	$(CBINDGEN) --quiet --config crates/edgecache-capi/cbindgen.toml --crate edgecache-capi --output include/edgecache.h

header-check: $(CBINDGEN) ## Fail if include/edgecache.h differs from what cbindgen generates
	$(CBINDGEN) --quiet --config crates/edgecache-capi/cbindgen.toml --crate edgecache-capi --output target/edgecache.h.check
	@diff -u include/edgecache.h target/edgecache.h.check || { echo "include/edgecache.h is stale: run 'make header'"; exit 1; }
