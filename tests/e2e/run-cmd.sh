#!/usr/bin/env bash
# Runs one of tests/e2e's programs that put edgeproxy in front of the real
# apiserver: `run-cmd.sh demo` (make demo) or `run-cmd.sh bench-proxy`
# (make bench-proxy). Builds the library and edgeproxy when stale, builds
# ./cmd/NAME into target/e2e, and runs it with --edgeproxy and the other
# arguments, e.g. `bash tests/e2e/run-cmd.sh demo --clients 2000`.
# Needs Go >= 1.26; modules come from the Go module proxy (a cold build
# takes several minutes on two cores).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
name=${1:?usage: run-cmd.sh demo|bench-proxy [ARGS...]}
shift
case "$name" in demo | bench-proxy) ;; *) echo "run-cmd.sh: unknown program $name" >&2; exit 2 ;; esac
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
command -v go >/dev/null || { echo "go is missing: $name needs Go >= 1.26 (the k8s.io v0.37 modules need it)" >&2; exit 1; }
echo "== building edgeproxy and $name (a cold Go build cache takes several minutes)"
bash "$root/bindings/go/cmd/edgeproxy/run.sh" --build
mkdir -p "$root/target/e2e"
(cd "$root/tests/e2e" && go build -o "$root/target/e2e/$name" "./cmd/$name")
# Each concurrent client holds two descriptors (its end and the proxy's).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec "$root/target/e2e/$name" --edgeproxy "$root/bindings/go/cmd/edgeproxy/bin/edgeproxy" "$@"
