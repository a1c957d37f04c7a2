#!/usr/bin/env bash
# make e2e-up: the real apiserver (etcd + apiextensions-apiserver serving
# widgets.edge.example.com) and the edge proxy in front of it, both in the
# background on 127.0.0.1, for manual use and for other checks. Writes
# target/e2e/env (shell syntax):
#   UPSTREAM_KUBECONFIG  kubectl/Python-client config for the apiserver
#   PROXY_KUBECONFIG     the same through the proxy
#   PROXY_URL, PROXY_METRICS_URL, UPSTREAM_URL
#   RESOURCE             the watched collection's namespaced path
#   GROUP_VERSION, PLURAL, KIND, NAMESPACE
# `make e2e-down` stops both.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/target/e2e
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
mkdir -p "$out"
bash "$root/tests/e2e/down.sh" >/dev/null 2>&1 || true
rm -f "$out/env" "$out/upstream.env"

echo "== building e2e-apiserver and edgeproxy"
(cd "$root/tests/e2e" && go build -o "$out/e2e-apiserver" ./cmd/e2e-apiserver)
bash "$root/bindings/go/cmd/edgeproxy/run.sh" --build
cp "$root/bindings/go/cmd/edgeproxy/bin/edgeproxy" "$out/edgeproxy"

echo "== starting the apiserver"
nohup "$out/e2e-apiserver" --dir "$out/apiserver" --env "$out/upstream.env" --pidfile "$out/apiserver.pid" \
	>"$out/apiserver.out" 2>&1 &
for _ in $(seq 1 240); do
	[ -f "$out/upstream.env" ] && break
	kill -0 $! 2>/dev/null || break
	sleep 0.5
done
[ -f "$out/upstream.env" ] || { echo "the apiserver did not start:" >&2; tail -n 30 "$out/apiserver.out" >&2; exit 1; }
# shellcheck disable=SC1091
. "$out/upstream.env"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
proxy_url=http://127.0.0.1:$port
echo "== starting the proxy on $proxy_url for /apis/$GROUP_VERSION/$PLURAL"
nohup "$out/edgeproxy" --kubeconfig "$UPSTREAM_KUBECONFIG" --listen "127.0.0.1:$port" \
	--resources "/apis/$GROUP_VERSION/$PLURAL" >"$out/proxy.log" 2>&1 &
echo $! >"$out/proxy.pid"
for _ in $(seq 1 120); do
	curl -fsS "$proxy_url/readyz" >/dev/null 2>&1 && break
	kill -0 "$(cat "$out/proxy.pid")" 2>/dev/null || break
	sleep 0.5
done
curl -fsS "$proxy_url/readyz" >/dev/null || { echo "the proxy did not become ready:" >&2; tail -n 30 "$out/proxy.log" >&2; exit 1; }

cat >"$out/proxy.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: edgeproxy
  cluster:
    server: $proxy_url
contexts:
- name: edgeproxy
  context:
    cluster: edgeproxy
    namespace: ${NAMESPACE:-default}
current-context: edgeproxy
KC
{
	cat "$out/upstream.env"
	echo "PROXY_KUBECONFIG=$out/proxy.kubeconfig"
	echo "PROXY_URL=$proxy_url"
	echo "PROXY_METRICS_URL=$proxy_url/metrics"
	echo "E2E_PROXY_PID=$(cat "$out/proxy.pid")"
} >"$out/env"
echo "== ready: . $out/env; kubectl --kubeconfig \"\$PROXY_KUBECONFIG\" get $PLURAL"
cat "$out/env"
