// Package proxy is edgeproxy: a Kubernetes API proxy for edge nodes that
// answers from edgecache caches and keeps a stampede of identical requests
// away from a faraway apiserver.
//
// # What is served how
//
//   - Watched collections (Config.Resources) have one edgecache.WatchCache
//     each, fed by a reflector (reflector.go): LIST, single-object GET and
//     WATCH of the collection, all namespaces or one, are answered from it
//     in JSON with the apiserver's semantics (read.go, watch_serve.go).
//   - A request for a watched collection that asks for another
//     representation (Accept with "as=Table", "as=PartialObjectMetadata",
//     protobuf, YAML) is passed to the upstream: the cache holds JSON and
//     the proxy does not convert (correctness first). So does one that
//     comes before the collection's first list, and a consistent read
//     (resourceVersion "") the cache cannot prove fresh in
//     Config.ConsistentReadWait.
//   - Other GETs go through a TTL edgecache.Group (ttl.go) keyed by path,
//     query, Accept and impersonation headers, keeping the upstream's
//     status, Content-Type and headers; only 200s are cached. Streaming
//     GETs (watch, follow=true, /watch/ paths, or an answer of unknown
//     length too large to keep) stream through.
//   - Everything else (writes, exec/attach/port-forward upgrades) goes
//     through httputil.ReverseProxy (passthrough.go), streamed, with the
//     client's cancellation reaching the upstream.
//
// # Identity
//
// Like kubectl proxy, the proxy talks to the upstream with its own
// credentials (the kubeconfig's); a client's Authorization header is
// dropped, impersonation headers are passed on (and key the TTL cache).
// Every client of one proxy may read what its kubeconfig may read. A
// request that impersonates never reads a watch cache, which holds what
// the proxy's own identity may see: it goes to the upstream, which decides
// what the impersonated user may read.
package proxy

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgecache/edgecache/bindings/go/edgecache"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Proxy is the edge proxy, an http.Handler. Close it when done.
type Proxy struct {
	cfg            Config
	up             *upstream
	cols           []*collection
	metrics        *metrics
	group          *edgecache.Group // nil when TTL is 0
	writes         writeGens        // per resource type; part of every TTL key
	streams        *streamKeys
	pass           *httputil.ReverseProxy
	metricsHandler http.Handler

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var groupSeq atomic.Int64

// New builds the proxy and starts one reflector per watched collection.
func New(cfg Config) (*Proxy, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	m := newMetrics()
	split := &upgradeSplit{normal: cfg.Transport, upgrade: cfg.UpgradeTransport}
	rt := &countingTransport{next: split, metrics: m}
	up := &upstream{
		base:    cfg.Upstream,
		rt:      rt,
		metrics: m,
		client: &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
	}
	p := &Proxy{cfg: cfg, up: up, metrics: m, streams: &streamKeys{m: map[string]struct{}{}}}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.pass = newPassthrough(up, cfg.Logf)
	p.metricsHandler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})

	seen := map[string]bool{}
	for _, spec := range cfg.Resources {
		c, err := parseCollection(spec)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("edgeproxy: %w", err)
		}
		if seen[c.Path()] {
			p.Close()
			return nil, fmt.Errorf("edgeproxy: %s named twice", c.Path())
		}
		seen[c.Path()] = true
		if err := p.addCollection(c); err != nil {
			p.Close()
			return nil, err
		}
	}
	if cfg.TTL > 0 {
		g, err := edgecache.NewGroupWithOptions(fmt.Sprintf("edgeproxy-ttl-%d", groupSeq.Add(1)), cfg.TTLCacheBytes,
			edgecache.GetterFunc(p.fetchTTL), edgecache.GroupOptions{TTL: cfg.TTL})
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("edgeproxy: TTL group: %w", err)
		}
		p.group = g
		m.addGroup(g)
	}
	for _, c := range p.cols {
		p.wg.Add(1)
		go func(r *reflector) {
			defer p.wg.Done()
			r.run(p.ctx)
		}(c.refl)
	}
	return p, nil
}

// addCollection registers c; its reflector builds c's watch cache once
// discovery has told what to extract (buildCache).
func (p *Proxy) addCollection(c *collection) error {
	cfg := &p.cfg
	path := c.Path()
	c.probe = &rvProbe{timeout: cfg.ProbeTimeout, fetch: func(ctx context.Context) (uint64, error) {
		return p.up.currentRV(ctx, path)
	}}
	c.refl = &reflector{c: c, up: p.up, cfg: cfg, metrics: p.metrics, logf: cfg.Logf, synced: make(chan struct{}),
		build: func(extra []fieldSpec) error { return p.buildCache(c, extra) }}
	p.metrics.addWindow(c)
	p.metrics.initCollection(path)
	p.cols = append(p.cols, c)
	return nil
}

// buildCache makes c's watch cache, declaring the fields it extracts: the
// built-in ones (fieldsFor) and extra, a custom resource's selectable
// fields. Called once, by c's reflector, before its first list: requests
// reach the cache only after that list (Synced), so they see c.cache and
// c.fields set.
func (p *Proxy) buildCache(c *collection, extra []fieldSpec) error {
	fields := append(fieldsFor(c), extra...)
	wc, err := edgecache.NewWatchCache(p.watchOptions(c, fields))
	if err != nil {
		return fmt.Errorf("edgeproxy: watch cache for %s: %w", c.Path(), err)
	}
	c.fields, c.cache = fields, wc
	return nil
}

// watchOptions are the options of c's watch cache when it extracts fields.
func (p *Proxy) watchOptions(c *collection, fields []fieldSpec) edgecache.WatchOptions {
	cfg := &p.cfg
	indexes := []string{"field:metadata.namespace"}
	if c.Group == "" && c.Resource == "pods" {
		indexes = append(indexes, "field:spec.nodeName")
	}
	capacity := 100
	if cfg.Window < capacity {
		capacity = cfg.Window
	}
	return edgecache.WatchOptions{
		Capacity:         capacity,
		MaxCapacity:      cfg.Window,
		MaxBytes:         cfg.MaxWindowBytes,
		Indexes:          indexes,
		Fields:           fieldNames(fields),
		FreshTimeout:     cfg.FreshTimeout,
		BookmarkInterval: cfg.BookmarkInterval,
	}
}

// Close stops the reflectors, ends every client watch and frees the caches.
func (p *Proxy) Close() {
	p.cancel()
	p.wg.Wait()
	for _, c := range p.cols {
		if c.cache != nil { // nil: its reflector never got past discovery
			c.cache.Close()
		}
	}
	if p.group != nil {
		p.group.Close()
	}
}

// WaitSynced blocks until every watched collection has been listed once.
func (p *Proxy) WaitSynced(ctx context.Context) error {
	for _, c := range p.cols {
		select {
		case <-c.refl.synced:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Synced reports whether every watched collection has been listed once.
func (p *Proxy) Synced() bool {
	for _, c := range p.cols {
		if !c.refl.Synced() {
			return false
		}
	}
	return true
}

// ServeHTTP routes a request: the proxy's own endpoints, then watched
// collections, other GETs, and everything else (see the package doc).
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/metrics":
		p.metricsHandler.ServeHTTP(w, r)
		return
	case "/healthz", "/livez":
		p.serveHealthz(w, r)
		return
	case "/readyz":
		p.serveReadyz(w, r)
		return
	}
	r.Header.Del("Authorization") // the upstream sees the proxy's identity
	if r.Method != http.MethodGet || isUpgrade(r) {
		if isWrite(r) {
			typ := resourceType(r.URL.Path)
			p.writes.bump(typ)
			defer p.writes.bump(typ)
		}
		p.passthrough(w, r)
		return
	}
	q := r.URL.Query()
	if rt := matchRoute(p.cols, r.URL.Path); rt != nil {
		if !acceptsJSON(r.Header) || !rt.c.refl.Synced() || impersonates(r.Header) || unknownCustomField(rt.c, q) {
			p.passthrough(w, r)
			return
		}
		p.metrics.requests.WithLabelValues("watchcache").Inc()
		switch {
		case rt.legacyWatch || isTrue(q.Get("watch")):
			p.serveWatch(w, r, rt, q)
		case rt.name != "":
			p.serveGet(w, r, rt, q)
		default:
			p.serveList(w, r, rt, q)
		}
		return
	}
	if p.group == nil || streamingRequest(r) {
		p.passthrough(w, r)
		return
	}
	p.serveTTL(w, r)
}

// unknownCustomField: a field selector on a custom resource names a field
// the proxy does not extract. The apiserver is asked instead of answering
// 400 here: the definition may have gained selectable fields since the
// proxy read it, or the proxy may not have been allowed to read it.
func unknownCustomField(c *collection, q url.Values) bool {
	return c.Group != "" && unsupportedField(c, q.Get("fieldSelector")) != ""
}

// impersonates: the request carries Impersonate-* headers (the server
// canonicalizes header names, so the prefix is exact).
func impersonates(h http.Header) bool {
	for name := range h {
		if strings.HasPrefix(name, "Impersonate-") {
			return true
		}
	}
	return false
}

// isWrite: a request that changes state (not a HEAD, OPTIONS or upgrade).
func isWrite(r *http.Request) bool {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return !isUpgrade(r)
	}
	return false
}

// withTimeout is ctx bounded by d (no bound for d <= 0).
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
