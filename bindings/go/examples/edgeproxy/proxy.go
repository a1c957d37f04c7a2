// Package edgeproxy is an example edge proxy built on edgecache: a reverse
// proxy in front of a kube-apiserver-like upstream that keeps a stampede of
// identical requests from reaching it.
//
//   - GET and LIST answers are cached in an edgecache.Group keyed by path and
//     query, for a short TTL. However many identical requests arrive at
//     once, the upstream sees one.
//   - Watches (?watch=1 or ?watch=true) of a collection named in
//     Options.Watched are served from an edgecache.WatchCache. The proxy
//     lists and watches that collection upstream itself, once, and feeds
//     the cache; each client watch resumes from its resourceVersion out of
//     the cache's window, and one older than the window gets an ERROR event
//     holding a 410 Expired Status, as from the apiserver.
//   - Everything else (other methods, watches of other collections) is
//     passed through unchanged.
//
// Two deliberate departures from the apiserver: a LIST or GET may be up to
// TTL old even without a resourceVersion (that is the point of the cache),
// and every client shares the cached answers while the upstream sees the
// proxy's own credentials. Put it where all its clients may read the same
// objects, as a node-local agent would.
package edgeproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgecache/edgecache/bindings/go/edgecache"
)

// Options configures a Proxy. Only Upstream is required.
type Options struct {
	// Upstream is the base URL of the apiserver, e.g. "http://127.0.0.1:6443".
	Upstream string
	// Client makes the upstream requests (default: a client with its own
	// transport and no overall timeout, since watches are long).
	Client *http.Client
	// CacheBytes bounds the GET/LIST cache (default 64 MiB).
	CacheBytes int64
	// TTL is how long a cached GET/LIST answer is served (default 1 s).
	TTL time.Duration
	// FetchTimeout bounds one upstream GET/LIST (default 30 s).
	FetchTimeout time.Duration
	// Watched lists the collections whose watches are served from a watch
	// cache, as cluster-wide paths like "/api/v1/pods"; a watch of
	// "/api/v1/namespaces/NS/pods" is served from the same cache.
	Watched []string
	// Watch configures each watch cache (default: edgecache's defaults and
	// an index on metadata.namespace).
	Watch edgecache.WatchOptions
	// GroupName names the GET/LIST cache's group (default "edgeproxy-N").
	GroupName string
	// Logf reports upstream watch failures (default: discard).
	Logf func(format string, args ...interface{})
}

// Proxy is the edge proxy; it is an http.Handler. Close it when done.
type Proxy struct {
	upstream *url.URL
	client   *http.Client
	opts     Options
	group    *edgecache.Group
	feeds    map[string]*feed // by collection path
	pass     *httputil.ReverseProxy

	ctx    context.Context // ends on Close; upstream requests run under it
	cancel context.CancelFunc
	wg     sync.WaitGroup // the feeds
}

var groupSeq atomic.Int64

// New starts a proxy for opts.Upstream: it registers its cache group and
// starts one upstream list-and-watch per watched collection.
func New(opts Options) (*Proxy, error) {
	u, err := url.Parse(opts.Upstream)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("edgeproxy: bad upstream URL %q", opts.Upstream)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if opts.Client == nil {
		opts.Client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second}}
	}
	if opts.CacheBytes == 0 {
		opts.CacheBytes = 64 << 20
	}
	if opts.TTL == 0 {
		opts.TTL = time.Second
	}
	if opts.FetchTimeout == 0 {
		opts.FetchTimeout = 30 * time.Second
	}
	if opts.Watch.Indexes == nil {
		opts.Watch.Indexes = []string{"field:metadata.namespace"}
	}
	if opts.GroupName == "" {
		opts.GroupName = fmt.Sprintf("edgeproxy-%d", groupSeq.Add(1))
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...interface{}) {}
	}
	p := &Proxy{upstream: u, client: opts.Client, opts: opts, feeds: map[string]*feed{}}
	p.pass = httputil.NewSingleHostReverseProxy(u)
	p.pass.Transport = opts.Client.Transport
	p.pass.FlushInterval = -1 // pass watch streams through as they come
	p.ctx, p.cancel = context.WithCancel(context.Background())

	p.group, err = edgecache.NewGroupWithOptions(opts.GroupName, opts.CacheBytes,
		edgecache.GetterFunc(p.fetch), edgecache.GroupOptions{TTL: opts.TTL})
	if err != nil {
		p.cancel()
		return nil, fmt.Errorf("edgeproxy: %w", err)
	}
	for _, path := range opts.Watched {
		wc, err := edgecache.NewWatchCache(opts.Watch)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("edgeproxy: watch cache for %s: %w", path, err)
		}
		f := &feed{p: p, path: path, cache: wc, synced: make(chan struct{})}
		p.feeds[path] = f
		p.wg.Add(1)
		go f.run()
	}
	return p, nil
}

// Close stops the upstream watches, ends every client watch and frees the
// caches. Requests still running get errors.
func (p *Proxy) Close() {
	p.cancel()
	p.wg.Wait()
	for _, f := range p.feeds {
		f.cache.Close()
	}
	p.group.Close()
}

// Stats returns the counters of the GET/LIST cache.
func (p *Proxy) Stats() edgecache.Stats { return p.group.Stats() }

// WaitSynced blocks until every watched collection has been listed once.
func (p *Proxy) WaitSynced(ctx context.Context) error {
	for _, f := range p.feeds {
		select {
		case <-f.synced:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// WaitUntilFresh blocks until the watch cache of the collection at path
// has seen resourceVersion rv (edgecache.ErrTooLargeResourceVersion if it
// does not in time).
func (p *Proxy) WaitUntilFresh(ctx context.Context, path string, rv uint64) error {
	f, _ := p.feedFor(path)
	if f == nil {
		return fmt.Errorf("edgeproxy: %s is not watched", path)
	}
	return f.cache.WaitUntilFresh(ctx, rv)
}

// ServeHTTP serves cached GETs and LISTs, watches of watched collections
// from their watch cache, and passes everything else to the upstream.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		p.pass.ServeHTTP(w, r)
		return
	}
	if watch, _ := strconv.ParseBool(r.URL.Query().Get("watch")); watch {
		if f, namespace := p.feedFor(r.URL.Path); f != nil {
			p.serveWatch(w, r, f, namespace)
		} else {
			p.pass.ServeHTTP(w, r)
		}
		return
	}
	p.serveCached(w, r)
}

// cacheKey is the path and the query with its parameters sorted, so that
// the same request spelled two ways shares one entry.
func cacheKey(u *url.URL) string {
	if q := u.Query().Encode(); q != "" {
		return u.Path + "?" + q
	}
	return u.Path
}

func (p *Proxy) serveCached(w http.ResponseWriter, r *http.Request) {
	var body edgecache.ByteView
	err := p.group.Get(r.Context(), cacheKey(r.URL), edgecache.ByteViewSink(&body))
	var ue *upstreamError
	switch {
	case err == nil:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(body.Len()))
		w.WriteHeader(http.StatusOK)
		_, _ = body.WriteTo(w)
	case errors.As(err, &ue):
		// Not cached: the next request asks the upstream again.
		if ue.contentType != "" {
			w.Header().Set("Content-Type", ue.contentType)
		}
		w.WriteHeader(ue.code)
		_, _ = w.Write(ue.body)
	case r.Context().Err() != nil:
		// The client went away; nobody reads an answer.
	default:
		writeStatus(w, failure(http.StatusServiceUnavailable, "ServiceUnavailable", err.Error()))
	}
}

// upstreamError is an upstream answer other than 200 OK, or a failure to
// get one; every request sharing the load gets it, and it is not cached.
type upstreamError struct {
	code        int
	contentType string
	body        []byte
}

func (e *upstreamError) Error() string {
	return fmt.Sprintf("upstream answered %d: %s", e.code, e.body)
}

// fetch is the group's getter: one upstream GET for a cache key. It runs
// under the proxy's context, not the leading client's, so that the client
// that happened to start the load cannot fail it for the others by going
// away.
func (p *Proxy) fetch(_ context.Context, key string, dest edgecache.Sink) error {
	ctx, cancel := context.WithTimeout(p.ctx, p.opts.FetchTimeout)
	defer cancel()
	resp, err := p.get(ctx, key)
	if err != nil {
		return badGateway(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return badGateway(err)
	}
	if resp.StatusCode != http.StatusOK {
		return &upstreamError{code: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: body}
	}
	return dest.SetBytes(body)
}

// get sends a GET for pathAndQuery to the upstream.
func (p *Proxy) get(ctx context.Context, pathAndQuery string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.upstream.String()+pathAndQuery, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	return p.client.Do(req)
}

func badGateway(err error) *upstreamError {
	st := failure(http.StatusBadGateway, "BadGateway", "upstream: "+err.Error())
	return &upstreamError{code: st.Code, contentType: "application/json", body: st.encode()}
}
