package proxy

import (
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Config configures a Proxy. Upstream, Transport and Resources are
// needed; every zero duration or size takes the default named beside it.
type Config struct {
	// Upstream is the apiserver's base URL (a kubeconfig's cluster server).
	Upstream *url.URL
	// Transport carries the proxy's upstream credentials (TLS, tokens):
	// rest.TransportFor of the kubeconfig's rest.Config.
	Transport http.RoundTripper
	// UpgradeTransport carries protocol upgrades (exec, attach,
	// port-forward over WebSocket or SPDY); it must speak HTTP/1.1 (nil:
	// Transport).
	UpgradeTransport http.RoundTripper

	// Resources are the collections served from watch caches: collection
	// paths ("/api/v1/pods") or GROUP/VERSION/RESOURCE.
	Resources []string
	// Window is the most events each watch cache keeps (default 102400).
	Window int
	// MaxWindowBytes bounds the bytes of each window's events (0: unbounded).
	MaxWindowBytes int64
	// BookmarkInterval is how often a client watch that allows bookmarks
	// gets one from the cache (default 60s; negative: only after upstream
	// bookmarks).
	BookmarkInterval time.Duration
	// FreshTimeout bounds a wait for a resourceVersion the cache has not
	// seen yet, before a 504 (default 3s, as the apiserver).
	FreshTimeout time.Duration
	// ConsistentReadWait is how long a consistent read (resourceVersion
	// "") waits for the cache to reach the upstream's current
	// resourceVersion before it is passed to the upstream (default 1s).
	ConsistentReadWait time.Duration

	// TTL is how long other GETs are cached (0: not cached, passed through).
	TTL time.Duration
	// TTLCacheBytes bounds the TTL cache (default 64 MiB).
	TTLCacheBytes int64

	// FetchTimeout bounds one upstream list page or probe, and the wait
	// for a cached GET's answer to begin (default 60s).
	FetchTimeout time.Duration
	// ProbeTimeout bounds the resourceVersion probe of a consistent read
	// (default 2 s): when the link is down the read is served from the
	// cache after at most this long, not after a dial's 30 s.
	ProbeTimeout time.Duration
	// ListPageSize is the limit of the reflector's paginated list
	// (default 500; negative: one unpaginated list).
	ListPageSize int
	// UpstreamWatchTimeout is the timeoutSeconds of the reflector's
	// upstream watch, spread up to twice as long (default 5m, as client-go).
	UpstreamWatchTimeout time.Duration
	// UpstreamIdleTimeout ends the reflector's upstream watch when nothing
	// (no event, no bookmark) arrived for that long, and resumes it from
	// the last resourceVersion at once (not counted as a failure): a link
	// that died silently (a NAT or a middlebox dropped it) is noticed in
	// this time, not in the minutes TCP keepalive takes. An apiserver
	// serving from its watch cache sends a watch that allows bookmarks one
	// about every minute; a resource it serves without one (its events,
	// by default) is quiet for longer and is resumed every
	// UpstreamIdleTimeout, which costs a watch request. Default 3m;
	// negative: none.
	UpstreamIdleTimeout time.Duration
	// BackoffInitial, BackoffMax and BackoffReset shape the reflector's
	// retry delays (defaults 500ms, 30s, 2m): the delay doubles per
	// failure up to BackoffMax and returns to BackoffInitial only after
	// BackoffReset without a failure.
	BackoffInitial, BackoffMax, BackoffReset time.Duration

	// Logf logs reflector trouble (default: discard).
	Logf func(format string, args ...interface{})
}

func (c *Config) defaults() error {
	if c.Upstream == nil || c.Upstream.Host == "" {
		return fmt.Errorf("edgeproxy: no upstream URL")
	}
	if c.Transport == nil {
		c.Transport = http.DefaultTransport
	}
	if c.Window == 0 {
		c.Window = 102400
	}
	if c.FreshTimeout == 0 {
		c.FreshTimeout = 3 * time.Second
	}
	if c.ConsistentReadWait == 0 {
		c.ConsistentReadWait = time.Second
	}
	if c.TTLCacheBytes == 0 {
		c.TTLCacheBytes = 64 << 20
	}
	if c.ProbeTimeout == 0 {
		c.ProbeTimeout = 2 * time.Second
	}
	if c.UpstreamIdleTimeout == 0 {
		c.UpstreamIdleTimeout = 3 * time.Minute
	}
	if c.FetchTimeout == 0 {
		c.FetchTimeout = 60 * time.Second
	}
	if c.ListPageSize == 0 {
		c.ListPageSize = 500
	}
	if c.UpstreamWatchTimeout == 0 {
		c.UpstreamWatchTimeout = 5 * time.Minute
	}
	if c.BackoffInitial == 0 {
		c.BackoffInitial = 500 * time.Millisecond
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = 30 * time.Second
	}
	if c.BackoffReset == 0 {
		c.BackoffReset = 2 * time.Minute
	}
	if c.Logf == nil {
		c.Logf = func(string, ...interface{}) {}
	}
	switch {
	case c.Window < 0, c.MaxWindowBytes < 0, c.FreshTimeout < 0, c.ConsistentReadWait < 0, c.TTL < 0,
		c.TTLCacheBytes < 0, c.FetchTimeout < 0, c.ProbeTimeout < 0, c.UpstreamWatchTimeout < 0,
		c.BackoffInitial < 0, c.BackoffMax < c.BackoffInitial, c.BackoffReset < 0:
		return fmt.Errorf("edgeproxy: a negative size or duration, or backoff max below its initial delay")
	}
	if len(c.Resources) == 0 {
		return fmt.Errorf("edgeproxy: no resources to watch")
	}
	return nil
}
