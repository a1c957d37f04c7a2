package proxy

import (
	"github.com/edgecache/edgecache/bindings/go/edgecache"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the proxy's Prometheus metrics, in a registry of its own
// (so that several proxies can live in one process, as in tests).
type metrics struct {
	reg *prometheus.Registry

	requests          *prometheus.CounterVec // by how they were served
	watchCacheHits    *prometheus.CounterVec // by resource and verb
	upstreamRequests  *prometheus.CounterVec // by verb
	upstreamFailures  *prometheus.CounterVec // by resource and step
	upstreamWatches   *prometheus.CounterVec // watches opened upstream
	upstreamEvents    *prometheus.CounterVec
	upstreamBookmarks *prometheus.CounterVec
	relists           *prometheus.CounterVec
	idleResumes       *prometheus.CounterVec
	lists             *prometheus.CounterVec
	bookmarksSent     *prometheus.CounterVec
	consistentFalls   *prometheus.CounterVec
	offlineReads      *prometheus.CounterVec
	watchers          *prometheus.GaugeVec
	resourceVersion   *prometheus.GaugeVec
	synced            *prometheus.GaugeVec
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "edgeproxy", Name: name, Help: help}, labels)
		m.reg.MustRegister(v)
		return v
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "edgeproxy", Name: name, Help: help}, labels)
		m.reg.MustRegister(v)
		return v
	}
	m.requests = counter("requests_total", "Client requests by how they were served: watchcache, ttl, passthrough.", "served")
	m.watchCacheHits = counter("watch_cache_hits_total", "Requests answered from a watch cache, by resource and verb (list, get, watch).", "resource", "verb")
	m.upstreamRequests = counter("upstream_requests_total", "Requests sent to the upstream, by verb (list, watch, get, discovery, create, update, patch, delete).", "verb")
	m.upstreamFailures = counter("upstream_failures_total", "Failed upstream discovery, list or watch attempts of a reflector.", "resource", "step")
	m.upstreamWatches = counter("upstream_watches_total", "Upstream watches opened by a reflector (the first and every resume).", "resource")
	m.upstreamEvents = counter("upstream_events_total", "Events received from the upstream watch.", "resource")
	m.upstreamBookmarks = counter("upstream_bookmarks_total", "Bookmarks received from the upstream watch.", "resource")
	m.idleResumes = counter("upstream_idle_resumes_total", "Upstream watches ended because nothing (no event, no bookmark) came for --upstream-idle-timeout, then resumed.", "resource")
	m.relists = counter("relists_total", "Lists after an upstream 410 Expired (the first list is not counted).", "resource")
	m.lists = counter("upstream_lists_total", "Complete upstream lists (each replaces the watch cache).", "resource")
	m.bookmarksSent = counter("bookmarks_sent_total", "BOOKMARK events sent to client watches.", "resource")
	m.consistentFalls = counter("consistent_read_fallbacks_total", "Consistent reads passed to the upstream because the cache did not reach the upstream's resourceVersion in time.", "resource")
	m.offlineReads = counter("offline_reads_total", "Consistent reads served from the cache as it was because the upstream could not be asked for its resourceVersion (unreachable or failing).", "resource")
	m.watchers = gauge("watchers", "Client watches open on a watch cache.", "resource")
	m.resourceVersion = gauge("resource_version", "The newest resourceVersion a watch cache has seen.", "resource")
	m.synced = gauge("synced", "1 once the collection's first list is in its watch cache.", "resource")
	return m
}

// addWindow registers the window gauges of a collection, read from its
// watch cache (0 until discovery has built it).
func (m *metrics) addWindow(c *collection) {
	labels := prometheus.Labels{"resource": c.Path()}
	stats := func() edgecache.WindowStats {
		if !c.refl.Synced() { // c.cache is set before the first list
			return edgecache.WindowStats{}
		}
		return c.cache.WindowStats()
	}
	for _, g := range []struct {
		name, help string
		value      func(edgecache.WindowStats) uint64
	}{
		{"window_events", "Events in the watch cache's window.",
			func(s edgecache.WindowStats) uint64 { return s.Events }},
		{"window_bytes", "Bytes of the events in the watch cache's window: key + object + previous object of each.",
			func(s edgecache.WindowStats) uint64 { return s.Bytes }},
		{"window_capacity", "The watch cache window's current size in events (it adapts between min(100, --window) and --window).",
			func(s edgecache.WindowStats) uint64 { return s.Capacity }},
		{"objects", "Objects in the watch cache's current state.",
			func(s edgecache.WindowStats) uint64 { return s.Items }},
	} {
		value := g.value
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "edgeproxy", Name: g.name, ConstLabels: labels, Help: g.help,
		}, func() float64 { return float64(value(stats())) }))
	}
}

// addGroup registers the TTL group's statistics.
func (m *metrics) addGroup(g *edgecache.Group) {
	for _, s := range []struct {
		name, help string
		pick       func() int64
		gauge      bool
	}{
		{"ttl_gets_total", "GETs asked of the TTL cache.", func() int64 { return g.Stats().Gets }, false},
		{"ttl_hits_total", "TTL cache hits.", func() int64 { return g.Stats().CacheHits }, false},
		{"ttl_loads_total", "TTL cache misses (each joined or started an upstream load).", func() int64 { return g.Stats().Loads }, false},
		{"ttl_loads_deduped_total", "Upstream loads of the TTL cache after deduplication.", func() int64 { return g.Stats().LoadsDeduped }, false},
		{"ttl_load_errors_total", "TTL cache loads that failed (non-200 answers included; they are not cached).", func() int64 { return g.Stats().LocalLoadErrs }, false},
		{"ttl_cache_bytes", "Bytes in the TTL cache.", func() int64 { return g.CacheStats(edgecache.MainCache).Bytes }, true},
		{"ttl_cache_items", "Entries in the TTL cache.", func() int64 { return g.CacheStats(edgecache.MainCache).Items }, true},
	} {
		pick := s.pick
		if s.gauge {
			m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "edgeproxy", Name: s.name, Help: s.help},
				func() float64 { return float64(pick()) }))
		} else {
			m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "edgeproxy", Name: s.name, Help: s.help},
				func() float64 { return float64(pick()) }))
		}
	}
}

// initCollection exports a collection's series at zero from the start.
func (m *metrics) initCollection(path string) {
	for _, v := range []*prometheus.CounterVec{m.upstreamWatches, m.upstreamEvents, m.upstreamBookmarks,
		m.relists, m.idleResumes, m.lists, m.bookmarksSent, m.consistentFalls, m.offlineReads} {
		v.WithLabelValues(path)
	}
	for _, verb := range []string{"list", "get", "watch"} {
		m.watchCacheHits.WithLabelValues(path, verb)
	}
	m.watchers.WithLabelValues(path).Set(0)
	m.synced.WithLabelValues(path).Set(0)
	m.resourceVersion.WithLabelValues(path).Set(0)
}
