#!/usr/bin/env bash
# edgeproxy's checks: build libedgecache.a when needed (cargo does nothing
# when it is up to date), then gofmt, go vet and go test -race for this
# module. `run.sh --build` only builds bin/edgeproxy.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../../../.. && pwd)
lib=$root/target/release/libedgecache.a

export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
command -v go >/dev/null || { echo "go is missing: edgeproxy needs Go >= 1.26 (client-go v0.37 needs it)" >&2; exit 1; }
go_minor=$(go env GOVERSION | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
if [ -z "$go_minor" ] || [ "$go_minor" -lt 26 ]; then
	echo "$(go env GOVERSION) is too old: edgeproxy needs Go >= 1.26 (client-go v0.37 needs it)" >&2
	exit 1
fi

if command -v cargo >/dev/null; then
	(cd "$root" && cargo build -q --release -p edgecache-capi)
elif [ ! -f "$lib" ]; then
	echo "$lib is missing and cargo is not installed" >&2
	exit 1
fi
# Go's build cache does not hash the .a named in #cgo LDFLAGS: key the
# build on its contents, so a rebuilt library is always linked.
CGO_CPPFLAGS="-DEDGECACHE_LIB_HASH=$(sha1sum "$lib" | cut -c1-16)"
export CGO_CPPFLAGS

if [ "${1:-}" = --build ]; then
	exec go build -o bin/edgeproxy .
fi
go version
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted (run gofmt -w bindings/go/cmd/edgeproxy)" >&2
	exit 1
fi
go vet ./...
go test -race -count=1 -timeout 5m ./...
