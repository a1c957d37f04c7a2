# edgecache task runner. CI runs `make test` (through .ci/run) verbatim.
# `make help` lists the targets; README.md and CONTRIBUTING.md name the same.

CARGO ?= cargo
# Loom explores every interleaving up to this many preemptions.
LOOM_MAX_PREEMPTIONS ?= 3
export LOOM_MAX_PREEMPTIONS

PREFIX ?= /usr/local
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)

.PHONY: help demo demo-rust test build lib lint fmt fmt-check clippy test-rust test-c test-install test-python test-go test-edgeproxy \
	test-e2e e2e-up e2e-down loom sanitize bench bench-rust bench-c bench-python bench-go bench-proxy doc header header-check install clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  make %-13s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

demo: lib ## Build everything, then the edge-proxy demo: edgeproxy in front of a real apiserver; informer, 1,000 LISTs, resume, 410, offline
	bash tests/e2e/run-cmd.sh demo

demo-rust: ## The Rust stampede example (1,000 threads, one load)
	$(CARGO) run --release -p edgecache --example stampede

test: lint header-check test-rust test-c test-install test-python test-go test-edgeproxy test-e2e loom sanitize ## Every suite: lint, header, Rust, C, Python, Go, the proxy, the real-apiserver suite, loom, ASan
	@echo "make test: all suites passed"

build: ## Build the workspace
	$(CARGO) build --workspace --all-targets

lib: ## Build the C library: target/release/libedgecache.{a,so}
	$(CARGO) build --release -p edgecache-capi

lint: fmt-check clippy doc ## rustfmt check, clippy with warnings as errors, rustdoc

fmt: ## Format the code
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Both library crates are named `edgecache` (the C library must be
# libedgecache), so their docs go to separate directories.
doc:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc -p edgecache --no-deps
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc -p edgecache-capi --no-deps --target-dir target/doc-capi

test-rust: ## Rust unit, integration, property, stress and doc tests
	$(CARGO) test --workspace

test-c: ## The C programs in tests/c, plain, under ASan+UBSan and under valgrind
	@command -v valgrind >/dev/null || { echo "valgrind missing: apt-get install -y valgrind"; exit 1; }
	bash tests/c/run.sh

test-python: ## Build the wheel into .venv, then pytest and mypy stubtest
	bash tests/python/run.sh

test-go: lib ## Go binding: gofmt, go vet, go test -race, and a GC-in-every-call build (installs Go if missing)
	bash bindings/go/run.sh

test-edgeproxy: lib ## The edge proxy program (bindings/go/cmd/edgeproxy): gofmt, go vet, go test -race
	bash bindings/go/cmd/edgeproxy/run.sh

test-e2e: lib ## The real-apiserver suite (tests/e2e): etcd + apiextensions-apiserver in-process; client-go, kubectl and the Python client through edgeproxy
	bash tests/e2e/run.sh

e2e-up: lib ## Start the real apiserver (CRD widgets) and the proxy in the background; writes target/e2e/env
	bash tests/e2e/up.sh

e2e-down: ## Stop what e2e-up started
	bash tests/e2e/down.sh

loom: ## Model-check Flight, the watch cache's hand-offs and the shard lock with loom
	RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom $(CARGO) test --release -p edgecache --test 'loom_*'
	RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom $(CARGO) test --release -p edgecache --lib -- biased::model

sanitize: ## Concurrency and stress tests under AddressSanitizer (nightly)
	RUSTFLAGS="-Zsanitizer=address --cfg edgecache_sanitize" RUSTDOCFLAGS="-Zsanitizer=address" CARGO_TARGET_DIR=target/asan \
	  $(CARGO) +nightly test -p edgecache --target x86_64-unknown-linux-gnu \
	  --test flight --test cache --test group --test stress --test watch --test watch_stress --test watch_protocol_stress

test-install: ## make install into target/install, then build and run a program through pkg-config
	$(MAKE) --no-print-directory install PREFIX=$(CURDIR)/target/install
	PKG_CONFIG_PATH=$(CURDIR)/target/install/lib/pkgconfig sh -c 'gcc -std=c11 -Wall -Wextra -Wpedantic -Werror \
	  tests/install/smoke.c $$(pkg-config --cflags --libs edgecache) -o target/install/smoke'
	LD_LIBRARY_PATH=$(CURDIR)/target/install/lib target/install/smoke

# The benchmarks (docs/benchmarks.md). Each suite prints its ratio tables and
# also writes them to target/bench/<suite>.txt; `make bench` runs the suites
# one after another, going on past a failed one, then prints every table
# (bench/tables.sh) and fails if a suite did. bench-proxy builds and starts
# an apiserver, so it is not part of `make bench`: run it on its own.
BENCH_SUITES := rust c python go

bench: ## bench-rust, bench-c, bench-python, bench-go in turn, then all their ratio tables (not bench-proxy)
	@rm -f $(BENCH_SUITES:%=target/bench/%.txt)
	@failed=; for s in $(BENCH_SUITES); do \
	  echo "== make bench-$$s"; \
	  $(MAKE) --no-print-directory bench-$$s || failed="$$failed bench-$$s"; \
	done; \
	bash bench/tables.sh $(BENCH_SUITES) || true; \
	if [ -n "$$failed" ]; then echo "make bench: failed:$$failed"; exit 1; fi; \
	echo "make bench: every suite ran (the proxy's is separate: make bench-proxy)"

bench-rust: ## Criterion: Cache, Group, Flight next to quick_cache, moka, hashlink, lru; the watch cache
	CARGO='$(CARGO)' bash bench/rust.sh

bench-c: ## Cache get-hit through the C ABI next to the same call from Rust
	bash bench/c/bench.sh

bench-python: ## The Python module next to functools.lru_cache, cachetools and cachebox
	bash tests/python/run.sh --bench

bench-go: lib ## The Go binding next to groupcache and golang-lru, and the GC cost of a 1 GiB cache
	bash bench/go/bench.sh

bench-proxy: lib ## edgeproxy next to the real apiserver it fronts (LIST, fan-out); builds an apiserver, so not in make bench
	bash tests/e2e/run-cmd.sh bench-proxy

install: lib ## Install the library, header and edgecache.pc under PREFIX (default /usr/local)
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 644 target/release/libedgecache.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 target/release/libedgecache.so $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/edgecache.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' crates/edgecache-capi/edgecache.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/edgecache.pc

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
