package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The backoff grows across failures separated by successes: only a
// stable period (Reset without a failure) brings it back.
func TestBackoffNotResetByOneSuccess(t *testing.T) {
	now := time.Unix(0, 0)
	b := newBackoff(100*time.Millisecond, time.Second, 10*time.Second)
	b.Jitter = 0
	b.now = func() time.Time { return now }
	var got []time.Duration
	for i := 0; i < 6; i++ {
		got = append(got, b.Failure())
		now = now.Add(time.Second) // a reconnect that "succeeded" for a second
	}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("delays %v, want %v ms", got, want)
		}
	}
	now = now.Add(10 * time.Second) // stable
	if d := b.Failure(); d != 100*time.Millisecond {
		t.Fatalf("after a stable period: %v", d)
	}
}

// The reflector's delays grow while the upstream watch keeps failing, even
// though each list or probe in between succeeds.
func TestReflectorBackoffGrowsAcrossReconnects(t *testing.T) {
	f := newFakeAPI(t)
	_, _ = testProxy(t, f, func(c *Config) {
		podsOnly(c)
		c.BackoffInitial, c.BackoffMax = 50*time.Millisecond, 400*time.Millisecond
	})
	eventually(t, 5*time.Second, "the first watch", func() bool { return f.count("watch /api/v1/pods") == 1 })
	f.failWatches(503, 503, 503, 503, 503)
	f.cutWatches()
	start := time.Now()
	eventually(t, 10*time.Second, "five failures and a resume", func() bool { return f.count("watch /api/v1/pods") >= 7 })
	// 50+100+200+400+400 (+ the cut, counted as a failure: 25..) ms at least,
	// less jitter: well over what a reset-per-success backoff would wait.
	if d := time.Since(start); d < 700*time.Millisecond {
		t.Fatalf("six failures retried within %v: the backoff was reset", d)
	}
}

// Only an upstream 410 makes the reflector list again; client watches then
// end (the cache restarts its window) and an old resourceVersion is 410.
func TestRelistOnlyOn410(t *testing.T) {
	f := newFakeAPI(t)
	f.put("/api/v1/pods", "ns1", "a", nil, "")
	p, srv := testProxy(t, f, podsOnly)
	old := list(t, srv, "/api/v1/pods").Metadata.ResourceVersion
	f.put("/api/v1/pods", "ns1", "b", nil, "")
	eventually(t, 5*time.Second, "b in the cache", func() bool { return len(list(t, srv, "/api/v1/pods").Items) == 2 })
	f.failWatches(500, 503)
	f.cutWatches()
	eventually(t, 5*time.Second, "failed watches", func() bool { return f.count("watch /api/v1/pods") >= 4 })
	if n := f.count("list /api/v1/pods"); n != 1 {
		t.Fatalf("lists after 5xx: %d", n)
	}
	f.expireNextWatch()
	f.cutWatches()
	eventually(t, 5*time.Second, "a relist", func() bool { return f.count("list /api/v1/pods") == 2 })
	// upstream_lists_total moves once the relist replaced the cache's
	// state; relists_total already when the relist began (a CI run saw
	// the old window answer between the two).
	eventually(t, 5*time.Second, "relist applied", func() bool { return counterValue(t, p, "edgeproxy_upstream_lists_total") == 2 })
	if n := counterValue(t, p, "edgeproxy_relists_total"); n != 1 {
		t.Fatalf("relists counted: %v", n)
	}
	cw := openWatch(t, srv, "/api/v1/pods?watch=1&resourceVersion="+old)
	ev := cw.next(5 * time.Second)
	var st Status
	_ = json.Unmarshal(ev.Object, &st)
	if ev.Type != "ERROR" || st.Code != 410 || st.Reason != "Expired" {
		t.Fatalf("old resourceVersion after the relist: %s %s", ev.Type, ev.Object)
	}
}

// While the upstream is away, client watches stay open and get the
// cache's periodic bookmarks, never invented events; afterwards they get
// the real ones.
func TestUpstreamAwayWatchesStayOpenWithBookmarks(t *testing.T) {
	f := newFakeAPI(t)
	f.put("/api/v1/pods", "ns1", "a", nil, "")
	_, srv := testProxy(t, f, func(c *Config) { podsOnly(c); c.BookmarkInterval = 100 * time.Millisecond })
	rv := list(t, srv, "/api/v1/pods").Metadata.ResourceVersion
	cw := openWatch(t, srv, "/api/v1/pods?watch=1&allowWatchBookmarks=true&resourceVersion="+rv)
	f.failWatches(503, 503, 503, 503, 503, 503)
	f.cutWatches()
	cw.nextOf("BOOKMARK", 3*time.Second)
	cw.quiet(500*time.Millisecond, "BOOKMARK")
	eventually(t, 10*time.Second, "the upstream back", func() bool { return f.count("watch /api/v1/pods") >= 8 })
	f.put("/api/v1/pods", "ns1", "b", nil, "")
	if ev := cw.nextOf("ADDED", 5*time.Second); ev.meta().Metadata.Name != "b" {
		t.Fatalf("after the upstream came back: %s", ev.Object)
	}
}

// Upstream bookmarks pass to clients that allow them, and move the
// cache's resourceVersion (so a consistent read finds it fresh).
func TestUpstreamBookmarksPassThrough(t *testing.T) {
	f := newFakeAPI(t)
	p, srv := testProxy(t, f, podsOnly)
	cw := openWatch(t, srv, "/api/v1/pods?watch=1&allowWatchBookmarks=true&resourceVersion="+list(t, srv, "/api/v1/pods").Metadata.ResourceVersion)
	for i := 0; i < 3; i++ {
		rv := f.bookmark("/api/v1/pods")
		ev := cw.nextOf("BOOKMARK", 5*time.Second)
		if ev.meta().Metadata.ResourceVersion != fmt.Sprint(rv) {
			t.Fatalf("bookmark %s, want %d", ev.Object, rv)
		}
	}
	if got := list(t, srv, "/api/v1/pods").Metadata.ResourceVersion; got != fmt.Sprint(f.rv) {
		t.Fatalf("consistent list at %s, upstream at %d", got, f.rv)
	}
	if n := counterValue(t, p, "edgeproxy_upstream_bookmarks_total"); n != 3 {
		t.Fatalf("upstream bookmarks counted: %v", n)
	}
}

// Concurrent consistent reads share upstream probes, but never one that
// started before they arrived.
func TestConsistentReadProbesAreShared(t *testing.T) {
	var calls atomic.Int64
	release := make(chan struct{})
	pr := &rvProbe{timeout: 5 * time.Second, fetch: func(ctx context.Context) (uint64, error) {
		n := calls.Add(1)
		<-release
		return uint64(n), nil
	}}
	first := make(chan uint64, 1)
	go func() { rv, _ := pr.get(context.Background()); first <- rv }()
	eventually(t, 5*time.Second, "the first probe", func() bool { return calls.Load() == 1 })
	var wg sync.WaitGroup
	got := make([]uint64, 100)
	for i := range got {
		wg.Add(1)
		go func(i int) { defer wg.Done(); got[i], _ = pr.get(context.Background()) }(i)
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if <-first != 1 || calls.Load() != 2 {
		t.Fatalf("calls %d", calls.Load())
	}
	for _, rv := range got {
		if rv != 2 {
			t.Fatalf("a reader that arrived during probe 1 got %d", rv)
		}
	}
}

// A consistent read the cache cannot prove fresh (the upstream moved on
// for another resource, no bookmark came) goes to the upstream.
func TestConsistentReadFallsBackToUpstream(t *testing.T) {
	f := newFakeAPI(t)
	f.put("/api/v1/pods", "ns1", "a", nil, "")
	p, srv := testProxy(t, f, func(c *Config) { podsOnly(c); c.ConsistentReadWait = 100 * time.Millisecond })
	f.mu.Lock()
	f.rv += 10 // another resource was written
	f.mu.Unlock()
	l := list(t, srv, "/api/v1/pods")
	if l.Metadata.ResourceVersion != fmt.Sprint(f.rv) || len(l.Items) != 1 || f.count("list /api/v1/pods") != 2 {
		t.Fatalf("list %+v, upstream lists %d", l.Metadata, f.count("list /api/v1/pods"))
	}
	if counterValue(t, p, "edgeproxy_consistent_read_fallbacks_total") != 1 {
		t.Fatal("fallback not counted")
	}
	// resourceVersion=0 is served from the cache.
	if l := list(t, srv, "/api/v1/pods?resourceVersion=0"); len(l.Items) != 1 || f.count("list /api/v1/pods") != 2 {
		t.Fatal("RV 0 went upstream")
	}
}

func TestReadyzAndMetrics(t *testing.T) {
	f := newFakeAPI(t)
	_, srv := testProxy(t, f, nil)
	if code, _, body := get(t, srv, "/readyz"); code != 200 {
		t.Fatalf("readyz %d %s", code, body)
	}
	list(t, srv, "/api/v1/pods?resourceVersion=0")
	_, _, body := get(t, srv, "/metrics")
	for _, want := range []string{
		`edgeproxy_upstream_requests_total{verb="list"}`, `edgeproxy_upstream_requests_total{verb="watch"}`,
		`edgeproxy_watch_cache_hits_total{resource="/api/v1/pods",verb="list"} 1`, "edgeproxy_window_events",
		"edgeproxy_window_bytes", "edgeproxy_relists_total", "edgeproxy_watchers", "edgeproxy_ttl_hits_total",
		"edgeproxy_ttl_loads_total", `edgeproxy_synced{resource="/api/v1/pods"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// Before its first list, a collection is not ready and its requests go to
// the upstream.
func TestNotReadyBeforeFirstList(t *testing.T) {
	f := newFakeAPI(t)
	p, err := New(Config{Upstream: f.url(), Resources: []string{"/api/v1/configmaps"}, BackoffInitial: time.Second, BackoffMax: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Synced() {
		t.Fatal("synced without a list")
	}
}

// With the upstream gone, a consistent read (resourceVersion "", what
// kubectl get sends) is served from the cache, not failed: found by
// kubectl through the proxy with the real apiserver stopped.
func TestConsistentReadWhileTheUpstreamIsDownIsServedFromTheCache(t *testing.T) {
	f := newFakeAPI(t)
	f.put("/api/v1/pods", "ns1", "a", nil, "")
	f.put("/api/v1/pods", "ns1", "b", nil, "")
	p, srv := testProxy(t, f, podsOnly)
	f.goDown()
	for _, path := range []string{"/api/v1/pods", "/api/v1/pods?limit=500", "/api/v1/namespaces/ns1/pods"} {
		if l := list(t, srv, path); len(l.Items) != 2 {
			t.Fatalf("%s offline: %d items", path, len(l.Items))
		}
	}
	if n := counterValue(t, p, "edgeproxy_offline_reads_total"); n != 3 {
		t.Fatalf("offline reads counted: %v", n)
	}
	// An informer's streaming list (resourceVersion "") too.
	cw := openWatch(t, srv, "/api/v1/pods?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true")
	cw.nextOf("ADDED", 5*time.Second)
	cw.nextOf("ADDED", 5*time.Second)
	if ev := cw.nextOf("BOOKMARK", 5*time.Second); !strings.Contains(string(ev.Object), "k8s.io/initial-events-end") {
		t.Fatalf("end of initial events: %s", ev.Object)
	}
}

// A link that accepts and never answers: a consistent read is served from
// the cache after the probe's timeout (it waited a minute before).
func TestConsistentReadWithAHangingUpstreamIsServedAfterTheProbeTimeout(t *testing.T) {
	f := newFakeAPI(t)
	f.put("/api/v1/pods", "ns1", "a", nil, "")
	p, srv := testProxy(t, f, func(c *Config) { podsOnly(c); c.ProbeTimeout = 200 * time.Millisecond })
	f.mu.Lock()
	f.hangProbe = true
	f.mu.Unlock()
	start := time.Now()
	if l := list(t, srv, "/api/v1/pods"); len(l.Items) != 1 {
		t.Fatalf("%d items", len(l.Items))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("served after %v", d)
	}
	if n := counterValue(t, p, "edgeproxy_offline_reads_total"); n != 1 {
		t.Fatalf("offline reads counted: %v", n)
	}
}

// Offline, a watch with sendInitialEvents=false and no resourceVersion
// starts now: no state replayed as ADDED.
func TestOfflineWatchWithoutInitialEventsStartsNow(t *testing.T) {
	f := newFakeAPI(t)
	f.put("/api/v1/pods", "ns1", "a", nil, "")
	_, srv := testProxy(t, f, podsOnly)
	f.goDown()
	cw := openWatch(t, srv, "/api/v1/pods?watch=1&sendInitialEvents=false")
	cw.quiet(300*time.Millisecond, "BOOKMARK")
}

// Continue tokens this proxy issues carry its mark and come back to its
// cache; a token it did not issue (from a page the upstream served) goes
// to the upstream, which alone can continue it.
func TestForeignContinueTokensGoUpstream(t *testing.T) {
	f := newFakeAPI(t)
	for _, n := range []string{"a", "b", "c"} {
		f.put("/api/v1/pods", "ns1", n, nil, "")
	}
	_, srv := testProxy(t, f, podsOnly)
	first := list(t, srv, "/api/v1/pods?limit=2&resourceVersion="+fmt.Sprint(f.rv))
	if !strings.HasPrefix(first.Metadata.Continue, cacheTokenPrefix) {
		t.Fatalf("token %q lacks the proxy's mark", first.Metadata.Continue)
	}
	before := f.count("continue /api/v1/pods")
	if l := list(t, srv, "/api/v1/pods?limit=2&continue="+url.QueryEscape(first.Metadata.Continue)); len(l.Items) != 1 {
		t.Fatalf("second page: %d items", len(l.Items))
	}
	if f.count("continue /api/v1/pods") != before {
		t.Fatal("our own token went upstream")
	}
	code, _, _ := get(t, srv, "/api/v1/pods?limit=2&continue=2")
	if code != 200 || f.count("continue /api/v1/pods") != before+1 {
		t.Fatalf("a foreign token: %d, upstream continues %d", code, f.count("continue /api/v1/pods"))
	}
}

// A paged list at a resourceVersion with no resourceVersionMatch is Exact,
// as the apiserver serves it (client-go's paged relists rely on it): the
// proxy passes Exact, the library's own default being NotOlderThan.
func TestPagedListAtAnRVWithoutAMatchIsExact(t *testing.T) {
	f := newFakeAPI(t)
	f.put("/api/v1/pods", "ns1", "a", nil, "")
	_, srv := testProxy(t, f, podsOnly)
	at := list(t, srv, "/api/v1/pods").Metadata.ResourceVersion
	f.put("/api/v1/pods", "ns1", "b", nil, "")
	eventually(t, 5*time.Second, "the write in the cache", func() bool {
		return len(list(t, srv, "/api/v1/pods?resourceVersion=0").Items) == 2
	})
	if l := list(t, srv, "/api/v1/pods?limit=10&resourceVersion="+at); len(l.Items) != 1 || l.Metadata.ResourceVersion != at {
		t.Fatalf("paged list at %s: %d items at %s", at, len(l.Items), l.Metadata.ResourceVersion)
	}
	if l := list(t, srv, "/api/v1/pods?resourceVersion="+at); len(l.Items) != 2 {
		t.Fatalf("unpaged list at %s: %d items (NotOlderThan)", at, len(l.Items))
	}
}

// An upstream that expires every watch at once gets full LISTs at a
// growing interval (the reflector's backoff, 20 ms doubling to 200 ms
// here), not one after another in a loop.
func TestRelistsBackOff(t *testing.T) {
	f := newFakeAPI(t)
	f.put("/api/v1/pods", "ns1", "a", nil, "")
	_, _ = testProxy(t, f, podsOnly)
	f.mu.Lock()
	f.expire = 1 << 20
	f.mu.Unlock()
	f.cutWatches()
	start := f.count("list /api/v1/pods")
	time.Sleep(time.Second)
	// 20+40+80+160+200+200+... ms: about 7 relists in a second, at most 10
	// with jitter; without the backoff, hundreds.
	if n := f.count("list /api/v1/pods") - start; n < 1 || n > 10 {
		t.Fatalf("%d relists in a second, want 1-10", n)
	}
}

// The window gauges are the watch cache's own numbers: events in the
// window, their bytes, objects in the state; a relist empties the window.
func TestWindowGaugesAreTheCachesNumbers(t *testing.T) {
	f := newFakeAPI(t)
	f.put("/api/v1/pods", "ns1", "a", nil, "")
	f.put("/api/v1/pods", "ns1", "b", nil, "")
	p, srv := testProxy(t, f, podsOnly)
	f.put("/api/v1/pods", "ns1", "c", nil, "")
	f.del("/api/v1/pods", "ns1", "a")
	eventually(t, 5*time.Second, "two events in the window", func() bool {
		return counterValue(t, p, "edgeproxy_window_events") == 2
	})
	if n := counterValue(t, p, "edgeproxy_objects"); n != 2 {
		t.Errorf("objects %v, want 2", n)
	}
	// ADDED c (key + object) and DELETED a (key + its last state).
	l := list(t, srv, "/api/v1/pods?resourceVersion=0")
	var c json.RawMessage
	for _, it := range l.Items {
		c = it
	}
	if b := counterValue(t, p, "edgeproxy_window_bytes"); b < float64(2*len("ns1/a")+len(c)) || b > float64(2*len("ns1/a")+3*len(c)) {
		t.Errorf("window bytes %v for two events of about %d bytes", b, len(c))
	}
	f.expireNextWatch()
	f.cutWatches()
	eventually(t, 5*time.Second, "the relist", func() bool { return counterValue(t, p, "edgeproxy_upstream_lists_total") == 2 })
	if n := counterValue(t, p, "edgeproxy_window_events"); n != 0 {
		t.Errorf("window events after a relist: %v, want 0", n)
	}
}

// An upstream watch that brings nothing for UpstreamIdleTimeout (a link
// that died without a FIN) is ended and resumed from the last
// resourceVersion: no relist, and the next event still arrives.
func TestSilentUpstreamWatchIsResumed(t *testing.T) {
	f := newFakeAPI(t)
	f.put("/api/v1/pods", "ns1", "a", nil, "")
	p, srv := testProxy(t, f, func(c *Config) { podsOnly(c); c.UpstreamIdleTimeout = 200 * time.Millisecond })
	watches := f.count("watch /api/v1/pods")
	eventually(t, 5*time.Second, "the silent watch resumed", func() bool { return f.count("watch /api/v1/pods") >= watches+2 })
	if n := f.count("list /api/v1/pods"); n != 1 {
		t.Fatalf("upstream lists %d, want 1", n)
	}
	if n := counterValue(t, p, "edgeproxy_relists_total"); n != 0 {
		t.Fatalf("relists %v", n)
	}
	// Counted as idle resumes, not as failures.
	if n := counterValue(t, p, "edgeproxy_upstream_idle_resumes_total"); n < 1 {
		t.Errorf("idle resumes %v", n)
	}
	if n := counterValue(t, p, "edgeproxy_upstream_failures_total"); n != 0 {
		t.Errorf("upstream failures %v, want 0", n)
	}
	f.put("/api/v1/pods", "ns1", "b", nil, "")
	eventually(t, 5*time.Second, "b in the cache", func() bool { return len(list(t, srv, "/api/v1/pods?resourceVersion=0").Items) == 2 })
}
