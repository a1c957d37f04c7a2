#!/usr/bin/env bash
# The real-apiserver end-to-end suite (`make test-e2e`, and so `make test`):
# gofmt, go vet and go test for the Go module in tests/e2e, which starts
# etcd (embedded) and k8s.io/apiextensions-apiserver on 127.0.0.1 inside the
# test process and talks to them with client-go and kubectl: directly
# (package apiserver) and through the edgeproxy program (package
# throughproxy, with client-go informers and pager, kubectl and the Python
# kubernetes client).
#
# Needs Go >= 1.26 (the k8s.io v0.37 modules need it), kubectl on PATH and
# Python >= 3.10. Builds bin/edgeproxy (bindings/go/cmd/edgeproxy/run.sh
# --build) and installs the kubernetes Python package into the project's
# .venv (created if missing). Modules come from the Go module proxy, checked
# against the committed go.sum, and the Python package from PyPI; nothing
# else leaves the machine.
#
# With empty Go caches (a fresh machine) it downloads 114 modules (52 MB,
# 340 MB unpacked) and compiles about 1,500 packages: several minutes on two
# cores (the steps print their times). A warm build cache makes it ~15 s.
#
# Environment:
#   E2E_TEST_TIMEOUT   go test -timeout (default 10m)
#   E2E_TEST_FLAGS     extra go test flags, e.g. "-run TestSmoke -v"
#   E2E_RACE=1         add -race (slower to build: about 2x)
set -euo pipefail
cd "$(dirname "$0")"

step() { printf '\n== tests/e2e: %s\n' "$*"; }
elapsed() { echo "   ($(($(date +%s) - $1)) s)"; }

# Don't let a go line or a dependency fetch another toolchain behind our back.
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

command -v go >/dev/null || { echo "go is missing: this suite needs Go >= 1.26 (the k8s.io v0.37 modules need it)" >&2; exit 1; }
go_minor=$(go env GOVERSION | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
if [ -z "$go_minor" ] || [ "$go_minor" -lt 26 ]; then
	echo "$(go env GOVERSION) is too old: tests/e2e needs Go >= 1.26" >&2
	exit 1
fi
command -v kubectl >/dev/null || { echo "kubectl is missing: the suite runs kubectl against the apiserver" >&2; exit 1; }

root=$(cd ../.. && pwd)
step "$(go version); $(kubectl version --client 2>/dev/null | head -n 1)"
echo "   GOMODCACHE=$(go env GOMODCACHE) GOCACHE=$(go env GOCACHE) GOPROXY=$(go env GOPROXY)"

t=$(date +%s)
step "fetch the modules the build needs (from the module proxy, checked against go.sum)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! go list -deps -test ./... >/dev/null 2>"$log"; then
	cat "$log" >&2
	exit 1
fi
echo "   $(grep -c '^go: downloading' "$log" || true) modules downloaded; $(go list -deps -test ./... | wc -l) packages"
elapsed "$t"

t=$(date +%s)
step "build edgeproxy (and libedgecache.a when stale)"
bash "$root/bindings/go/cmd/edgeproxy/run.sh" --build
export EDGEPROXY_BIN="$root/bindings/go/cmd/edgeproxy/bin/edgeproxy"
elapsed "$t"

step "the Python kubernetes client in .venv"
venv=${VENV:-$root/.venv}
if [ ! -x "$venv/bin/python" ]; then
	"${PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check 'kubernetes>=37,<38'
export E2E_PYTHON="$venv/bin/python"
echo "   $("$E2E_PYTHON" -c 'import kubernetes; print("kubernetes", kubernetes.__version__)')"

step "gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted (run gofmt -w tests/e2e)" >&2
	exit 1
fi

t=$(date +%s)
step "go vet ./... (also compiles everything: the slow step on a cold build cache)"
go vet ./...
elapsed "$t"

race=()
[ "${E2E_RACE:-0}" = 1 ] && race=(-race)
t=$(date +%s)
# shellcheck disable=SC2086 # E2E_TEST_FLAGS is split on purpose
step "go test ${race[*]} -p 1 -count=1 -timeout ${E2E_TEST_TIMEOUT:-10m} ${E2E_TEST_FLAGS:-} ./..."
go test "${race[@]}" -p 1 -count=1 -timeout "${E2E_TEST_TIMEOUT:-10m}" ${E2E_TEST_FLAGS:-} ./...
elapsed "$t"
