// Command edgeproxy is a Kubernetes API proxy for edge nodes: it serves
// the collections it watches from edgecache watch caches (LIST, GET and
// WATCH with the apiserver's semantics), caches other GETs for a short
// TTL, and streams everything else to the upstream apiserver. See
// `edgeproxy --help` and the proxy package's documentation.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/edgecache/edgecache/bindings/go/cmd/edgeproxy/proxy"
)

const usage = `edgeproxy: a Kubernetes API proxy for edge nodes, built on edgecache.

Usage: edgeproxy --kubeconfig FILE --resources LIST [flags]

Clients (kubectl, client-go, the Python client) point at --listen as at an
apiserver (plain HTTP, like kubectl proxy). The proxy talks to the upstream
with the kubeconfig's credentials; clients' Authorization headers are
dropped, impersonation headers are passed on (a request that impersonates
is always answered by the upstream).

Served from a watch cache per --resources collection (one upstream LIST and
WATCH each, resumed from the last resourceVersion when the link breaks):
  LIST  limit/continue (one snapshot), resourceVersion ("" consistent, "0"
        any, N not older than N), resourceVersionMatch, labelSelector and
        fieldSelector in full Kubernetes syntax (fields: metadata.name,
        metadata.namespace, the core resources' own, a custom resource's
        selectableFields read from its definition)
  GET   one object, same resourceVersion rules
  WATCH ?watch=1 or /watch/ paths: sendInitialEvents, allowWatchBookmarks,
        timeoutSeconds (unset or 0: 30-60 minutes), 410 and 504 as in-stream
        ERROR Status
  Requests asking for Table (Accept "as=Table"), other transformations or
  protobuf are passed to the upstream: the cache serves JSON only.
Other GETs: cached for --ttl (200s only; Content-Type and headers kept; a
write through the proxy drops what is cached of its resource type).
Streams (watch, logs -f, exec/attach/port-forward upgrades) and writes:
passed through as streams.

Endpoints of its own: /metrics (Prometheus), /healthz, /readyz (ready once
every collection has synced).

Flags:
`

func main() {
	fs := flag.NewFlagSet("edgeproxy", flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	var (
		kubeconfig = fs.String("kubeconfig", "", "kubeconfig of the upstream apiserver (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)")
		listen     = fs.String("listen", "127.0.0.1:8001", "address to serve clients on (plain HTTP)")
		resources  = fs.String("resources", "", `comma-separated collections served from watch caches: collection paths or GROUP/VERSION/RESOURCE, core or CRD, e.g. "/api/v1/pods,/apis/edge.example.com/v1/widgets" or "v1/pods,apps/v1/deployments"`)
		window     = fs.Int("window", 102400, "most watch events each cache keeps for resuming clients")
		maxBytes   = fs.Int64("max-window-bytes", 0, "most bytes of watch events each cache keeps (key + object + previous object); 0 = unbounded")
		ttl        = fs.Duration("ttl", time.Second, "how long other GETs are cached; 0 = not cached")
		ttlBytes   = fs.Int64("ttl-cache-bytes", 64<<20, "size of the cache of other GETs")
		bookmark   = fs.Duration("bookmark-interval", time.Minute, "how often a client watch that allows bookmarks gets one from the cache")
		fresh      = fs.Duration("fresh-timeout", 3*time.Second, "how long a request for a resourceVersion the cache has not seen waits before a 504")
		consistent = fs.Duration("consistent-read-wait", time.Second, `how long a consistent read (resourceVersion "") waits for the cache to reach the upstream's resourceVersion before it is passed to the upstream`)
		idle       = fs.Duration("upstream-idle-timeout", 3*time.Minute, "end and resume an upstream watch that brought nothing (no event, no bookmark) for this long: a dead link is noticed in this time; 0 = never")
		probe      = fs.Duration("probe-timeout", 2*time.Second, `how long a consistent read waits for the upstream to tell its resourceVersion; past it (or on an error) the read is served from the cache`)
		verbose    = fs.Bool("v", false, "log upstream trouble and pass-through errors")
	)
	_ = fs.Parse(os.Args[1:])
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "edgeproxy: unexpected arguments %q\n", fs.Args())
		os.Exit(2)
	}
	if strings.TrimSpace(*resources) == "" {
		fmt.Fprintln(os.Stderr, "edgeproxy: --resources is required")
		fs.Usage()
		os.Exit(2)
	}
	base, rt, upgrade, err := proxy.FromKubeconfig(*kubeconfig)
	if err != nil {
		log.Fatalf("edgeproxy: %v", err)
	}
	logf := func(string, ...interface{}) {}
	if *verbose {
		logf = log.Printf
	}
	var list []string
	for _, r := range strings.Split(*resources, ",") {
		if r = strings.TrimSpace(r); r != "" {
			list = append(list, r)
		}
	}
	idleTimeout := *idle
	if idleTimeout == 0 {
		idleTimeout = -1 // the flag's 0 is "never"; Config's 0 is the default
	}
	p, err := proxy.New(proxy.Config{
		Upstream:            base,
		Transport:           rt,
		UpgradeTransport:    upgrade,
		Resources:           list,
		Window:              *window,
		MaxWindowBytes:      *maxBytes,
		TTL:                 *ttl,
		TTLCacheBytes:       *ttlBytes,
		BookmarkInterval:    *bookmark,
		FreshTimeout:        *fresh,
		ConsistentReadWait:  *consistent,
		ProbeTimeout:        *probe,
		UpstreamIdleTimeout: idleTimeout,
		Logf:                logf,
	})
	if err != nil {
		log.Fatalf("edgeproxy: %v", err)
	}
	srv := &http.Server{Addr: *listen, Handler: p, ReadHeaderTimeout: 30 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Printf("edgeproxy: serving %s on %s for %s", strings.Join(list, ","), *listen, base)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("edgeproxy: %v", err)
	}
	// Shutdown does not wait for hijacked or long-lived streams; Close
	// ends the client watches and the reflectors.
	p.Close()
}
