#!/usr/bin/env bash
# make e2e-down: stops what make e2e-up started (the proxy, then the
# apiserver and its etcd). Safe to run when nothing is running.
set -uo pipefail
out=$(cd "$(dirname "$0")/../.." && pwd)/target/e2e
stop() { # pidfile name
	[ -f "$1" ] || return 0
	local pid
	pid=$(cat "$1")
	if kill "$pid" 2>/dev/null; then
		for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
		kill -9 "$pid" 2>/dev/null && echo "$2 did not stop in 15 s: killed"
	fi
	rm -f "$1"
	echo "stopped $2"
}
stop "$out/proxy.pid" edgeproxy
stop "$out/apiserver.pid" e2e-apiserver
rm -f "$out/env"
