#!/usr/bin/env bash
# The Go binding's checks, run by `make test-go` (and so `make test`):
# gofmt, go vet, go test -race, and the edgecache_gccheck build that runs a
# garbage collection inside every library call (a missing runtime.KeepAlive
# then frees a handle in use), then the consistent-hash cross-check.
# `run.sh --ensure-go` only installs Go.
#
# Needs target/release/libedgecache.a (`make lib`). Installs Debian's Go
# (1.19) when `go` is missing and we are root, as on CI.
set -euo pipefail
cd "$(dirname "$0")"

ensure_go() {
	command -v go >/dev/null && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "go is missing: install it (apt-get install -y golang-go) or run as root" >&2
		exit 1
	fi
	echo "go is missing: installing Debian's golang-go"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q golang-go >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q golang-go >/dev/null; }
	command -v go >/dev/null || { echo "installing golang-go did not give a go command" >&2; exit 1; }
}

# Debian's groupcache sources (GOPATH layout under /usr/share/gocode), for
# the consistent-hash cross-check and the benchmarks.
GOCODE=/usr/share/gocode
ensure_groupcache() {
	[ -d "$GOCODE/src/github.com/golang/groupcache" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "groupcache sources are missing: apt-get install -y golang-github-golang-groupcache-dev" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q golang-github-golang-groupcache-dev >/dev/null ||
		{ apt-get update -q >/dev/null && apt-get install -y -q golang-github-golang-groupcache-dev >/dev/null; }
}

ensure_go
[ "${1:-}" = --ensure-go ] && exit 0
[ -f ../../target/release/libedgecache.a ] || { echo "target/release/libedgecache.a is missing: run 'make lib'" >&2; exit 1; }

# Go's build cache does not hash the .a named in #cgo LDFLAGS: key the
# build on its contents, so a rebuilt library is always linked.
CGO_CPPFLAGS="-DEDGECACHE_LIB_HASH=$(sha1sum ../../target/release/libedgecache.a | cut -c1-16)"
export CGO_CPPFLAGS

go version

# Also the Go benchmarks, which build in GOPATH mode outside this module.
unformatted=$(gofmt -l . ../../bench/go)
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted (run gofmt -w bindings/go bench/go)" >&2
	exit 1
fi
go vet ./...
go test -race -count=1 -timeout 5m ./...
go test -count=1 -timeout 5m -tags edgecache_gccheck ./edgecache/

# The Rust ring must place keys exactly where Go groupcache's does.
ensure_groupcache
out=../../target/crosscheck
mkdir -p "$out"
cargo run -q --release -p edgecache --example ring_placement >"$out/ring_rust.txt"
(cd crosscheck && GO111MODULE=off GOPATH="$GOCODE" go run . >"../$out/ring_go.txt")
if ! cmp -s "$out/ring_rust.txt" "$out/ring_go.txt"; then
	echo "consistent hashing differs from Go groupcache:" >&2
	diff "$out/ring_rust.txt" "$out/ring_go.txt" | head -20 >&2
	exit 1
fi
echo "consistent hash: $(wc -l <"$out/ring_go.txt") keys placed as Go groupcache places them"
