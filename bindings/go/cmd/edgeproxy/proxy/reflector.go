package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgecache/edgecache/bindings/go/edgecache"
)

// reflector keeps one collection's watch cache in step with the upstream,
// as client-go's Reflector keeps an informer's store:
//
//   - discovery once (kind, namespaced), then a paginated LIST at
//     resourceVersion "" (a consistent read) into WatchCache.Replace;
//   - a WATCH from the list's resourceVersion with allowWatchBookmarks,
//     each event into Add/Update/Delete and each upstream BOOKMARK into
//     WatchCache.Bookmark;
//   - a watch that ends or breaks resumes from the last resourceVersion
//     received, after a capped exponential backoff that only a stable
//     period resets (one good reconnect does not);
//   - only an upstream 410 Expired (HTTP or in-stream) makes it list
//     again. Nothing else touches the cache: while the upstream is away,
//     client watches stay open and get the cache's periodic bookmarks.
type reflector struct {
	c       *collection
	up      *upstream
	cfg     *Config
	metrics *metrics
	logf    func(string, ...interface{})

	synced   chan struct{} // closed after the first list
	syncOnce sync.Once
	// build makes the collection's watch cache with the extra fields
	// discovery found; run calls it once, before the first list.
	build func(extra []fieldSpec) error

	mu      sync.Mutex
	lastErr error
}

var errExpired = errors.New("the upstream expired the resourceVersion (410)")

// errIdle: the upstream watch brought nothing for UpstreamIdleTimeout.
var errIdle = errors.New("no event or bookmark")

func (r *reflector) run(ctx context.Context) {
	bo := newBackoff(r.cfg.BackoffInitial, r.cfg.BackoffMax, r.cfg.BackoffReset)
	for ctx.Err() == nil {
		extra, err := r.discover(ctx)
		if err == nil {
			err = r.build(extra)
			if err != nil { // a bad configuration: retrying cannot mend it
				r.setErr(err)
				r.logf("edgeproxy: %s: %v", r.c.Path(), err)
				return
			}
			break
		}
		r.fail(ctx, bo, "discovery", err)
	}
	if ctx.Err() != nil {
		return
	}
	var rv uint64
	listed := false
	for ctx.Err() == nil {
		if !listed {
			var err error
			if rv, err = r.list(ctx); err != nil {
				r.fail(ctx, bo, "list", err)
				continue
			}
			listed = true
			r.metrics.synced.WithLabelValues(r.c.Path()).Set(1)
			r.syncOnce.Do(func() { close(r.synced) })
		}
		start := time.Now()
		next, events, err := r.watch(ctx, rv)
		rv = next
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, errExpired):
			// Relists back off like failures (as client-go's reflector
			// waits between ListAndWatch rounds): an upstream that
			// expires every watch at once gets a full LIST at a growing
			// interval, not in a loop.
			d := bo.Failure()
			r.logf("edgeproxy: %s: watch from %d expired upstream; listing again in %v", r.c.Path(), rv, d.Round(time.Millisecond))
			r.metrics.relists.WithLabelValues(r.c.Path()).Inc()
			listed = false
			sleepCtx(ctx, d)
		case errors.Is(err, errIdle):
			// Not a failure: a quiet collection whose upstream sends no
			// bookmarks ends here every UpstreamIdleTimeout. Resume at
			// once; a link that is really down fails the next attempt,
			// which backs off.
			r.metrics.idleResumes.WithLabelValues(r.c.Path()).Inc()
			r.logf("edgeproxy: %s: watch: %v; resuming from %d", r.c.Path(), err, rv)
		case err != nil:
			r.fail(ctx, bo, "watch", err)
		case events == 0 && time.Since(start) < time.Second:
			// Ended at once with nothing in it: treat as a failure, so a
			// upstream that closes every watch is not hammered.
			r.fail(ctx, bo, "watch", errors.New("the watch ended at once"))
		default:
			r.setErr(nil) // a watch that ran its course: resume at once
		}
	}
}

// fail records err and sleeps the backoff's next delay (or until ctx ends).
func (r *reflector) fail(ctx context.Context, bo *backoff, what string, err error) {
	if ctx.Err() != nil {
		return
	}
	r.setErr(err)
	d := bo.Failure()
	r.metrics.upstreamFailures.WithLabelValues(r.c.Path(), what).Inc()
	r.logf("edgeproxy: %s: %s: %v; retrying in %v", r.c.Path(), what, err, d.Round(time.Millisecond))
	sleepCtx(ctx, d)
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func (r *reflector) setErr(err error) {
	r.mu.Lock()
	r.lastErr = err
	r.mu.Unlock()
}

// Synced reports whether the first list is in the cache.
func (r *reflector) Synced() bool {
	select {
	case <-r.synced:
		return true
	default:
		return false
	}
}

// list reads the whole collection, page by page (limit ListPageSize, one
// snapshot through continue tokens), and replaces the cache's state.
func (r *reflector) list(ctx context.Context) (uint64, error) {
	var objs []edgecache.Object
	var cont string
	var rv uint64
	for {
		q := url.Values{}
		if r.cfg.ListPageSize > 0 {
			q.Set("limit", strconv.Itoa(r.cfg.ListPageSize))
		}
		if cont != "" {
			q.Set("continue", cont)
		}
		page, err := r.listPage(ctx, q)
		if err != nil {
			return 0, err
		}
		for _, raw := range page.Items {
			obj, err := r.c.toObject(raw)
			if err != nil {
				return 0, fmt.Errorf("list: %w", err)
			}
			objs = append(objs, obj)
		}
		if rv, err = strconv.ParseUint(page.Metadata.ResourceVersion, 10, 64); err != nil {
			return 0, fmt.Errorf("list: bad resourceVersion %q", page.Metadata.ResourceVersion)
		}
		if cont = page.Metadata.Continue; cont == "" {
			break
		}
	}
	if err := r.c.cache.Replace(objs, rv); err != nil {
		return 0, fmt.Errorf("replace: %w", err)
	}
	r.metrics.resourceVersion.WithLabelValues(r.c.Path()).Set(float64(rv))
	r.metrics.lists.WithLabelValues(r.c.Path()).Inc()
	return rv, nil
}

type listBody struct {
	Metadata struct {
		ResourceVersion string `json:"resourceVersion"`
		Continue        string `json:"continue"`
	} `json:"metadata"`
	Items []json.RawMessage `json:"items"`
}

func (r *reflector) listPage(ctx context.Context, q url.Values) (*listBody, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.FetchTimeout)
	defer cancel()
	resp, err := r.up.get(ctx, "list", r.c.Path(), q)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, &upstreamStatusError{code: resp.StatusCode, body: body}
	}
	var page listBody
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	return &page, nil
}

// watch reads one upstream watch from rv into the cache. It returns the
// resourceVersion it got to and how many events it saw; errExpired for a
// 410; nil when the stream ended cleanly.
func (r *reflector) watch(ctx context.Context, rv uint64) (uint64, int, error) {
	timeout := r.cfg.UpstreamWatchTimeout
	timeout += time.Duration(rand.Float64() * float64(timeout)) // client-go's spread
	q := url.Values{
		"watch":               {"1"},
		"allowWatchBookmarks": {"true"},
		"resourceVersion":     {strconv.FormatUint(rv, 10)},
		"timeoutSeconds":      {strconv.Itoa(int(timeout / time.Second))},
	}
	// The idle deadline: reset by every event, it ends a watch that went
	// silent (a dead link) so that run resumes it.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var idle atomic.Bool
	touch := func() {}
	if d := r.cfg.UpstreamIdleTimeout; d > 0 {
		t := time.AfterFunc(d, func() { idle.Store(true); cancel() })
		defer t.Stop()
		touch = func() { t.Reset(d) }
	}
	silent := func(err error) error {
		if idle.Load() && ctx.Err() == nil {
			return fmt.Errorf("%w for %v (%v)", errIdle, r.cfg.UpstreamIdleTimeout, err)
		}
		return err
	}
	resp, err := r.up.get(wctx, "watch", r.c.Path(), q)
	if err != nil {
		return rv, 0, silent(err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusGone:
		return rv, 0, errExpired
	default:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return rv, 0, &upstreamStatusError{code: resp.StatusCode, body: body}
	}
	r.metrics.upstreamWatches.WithLabelValues(r.c.Path()).Inc()
	dec := json.NewDecoder(resp.Body)
	n := 0
	for {
		var ev struct {
			Type   edgecache.EventType `json:"type"`
			Object json.RawMessage     `json:"object"`
		}
		if err := dec.Decode(&ev); err != nil {
			if errors.Is(err, io.EOF) && !idle.Load() {
				return rv, n, nil
			}
			return rv, n, silent(fmt.Errorf("watch stream: %w", err))
		}
		touch()
		n++
		switch ev.Type {
		case edgecache.Error:
			st := (&upstreamStatusError{body: ev.Object}).status()
			if st != nil && st.Code == http.StatusGone {
				return rv, n, errExpired
			}
			return rv, n, fmt.Errorf("watch: upstream ERROR event: %s", snippet(ev.Object))
		case edgecache.Bookmark:
			var m objectMeta
			if err := json.Unmarshal(ev.Object, &m); err != nil {
				return rv, n, fmt.Errorf("watch: bookmark: %w", err)
			}
			brv, err := strconv.ParseUint(m.Metadata.ResourceVersion, 10, 64)
			if err != nil {
				return rv, n, fmt.Errorf("watch: bookmark: bad resourceVersion %q", m.Metadata.ResourceVersion)
			}
			r.metrics.upstreamBookmarks.WithLabelValues(r.c.Path()).Inc()
			if brv > rv {
				if err := r.c.cache.Bookmark(brv); err != nil {
					return rv, n, fmt.Errorf("bookmark %d: %w", brv, err)
				}
				rv = brv
			}
		case edgecache.Added, edgecache.Modified, edgecache.Deleted:
			obj, err := r.c.toObject(ev.Object)
			if err != nil {
				return rv, n, fmt.Errorf("watch: %w", err)
			}
			if obj.ResourceVersion <= rv {
				continue // already seen (an upstream replaying across a resume)
			}
			switch ev.Type {
			case edgecache.Added:
				err = r.c.cache.Add(obj)
			case edgecache.Modified:
				err = r.c.cache.Update(obj)
			default:
				err = r.c.cache.Delete(obj)
			}
			if err != nil {
				return rv, n, fmt.Errorf("watch: %s %s at %d: %w", ev.Type, obj.Key, obj.ResourceVersion, err)
			}
			rv = obj.ResourceVersion
			r.metrics.upstreamEvents.WithLabelValues(r.c.Path()).Inc()
		default:
			return rv, n, fmt.Errorf("watch: unknown event type %q", ev.Type)
		}
		r.metrics.resourceVersion.WithLabelValues(r.c.Path()).Set(float64(rv))
	}
}
