package proxy

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/edgecache/edgecache/bindings/go/edgecache"
)

// serveWatch streams a watch of a watched collection from its cache as the
// apiserver does, JSON lines {"type":...,"object":...}:
//
//   - resourceVersion: unset without sendInitialEvents is the legacy
//     "current state as ADDED, then changes"; "0" the same from any state
//     (with sendInitialEvents=false: only changes from now); N the changes
//     after N, waiting up to FreshTimeout for a future N; unset with
//     sendInitialEvents (or =false) a consistent read of the upstream's
//     current resourceVersion.
//   - sendInitialEvents=true: a streaming list: the state as ADDED, then a
//     BOOKMARK annotated "k8s.io/initial-events-end": "true", then changes.
//   - allowWatchBookmarks: BOOKMARK events at the cache's resourceVersion,
//     every bookmark interval and after each upstream bookmark.
//   - timeoutSeconds: the stream ends cleanly after it; unset or 0 is
//     30-60 minutes at random, as the apiserver's --min-request-timeout
//     default makes it (a watch never runs forever).
//   - Once the request has parsed, failures are in-stream: HTTP 200 and an
//     ERROR event holding the Status: 410 Expired for a resourceVersion
//     older than the window, 504 with the ResourceVersionTooLarge cause for
//     one the cache did not reach in time.
func (p *Proxy) serveWatch(w http.ResponseWriter, r *http.Request, rt *route, q url.Values) {
	c := rt.c
	sel, st := selector(rt, q)
	if st != nil {
		writeStatus(w, st)
		return
	}
	ctx := r.Context()
	timeout := defaultWatchTimeout()
	if v := q.Get("timeoutSeconds"); v != "" {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || secs < 0 {
			writeStatus(w, badRequest("invalid timeoutSeconds: "+strconv.Quote(v)))
			return
		}
		if secs > 0 { // 0 (however spelled) is the default, as on the apiserver
			timeout = time.Duration(secs) * time.Second
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	bookmarks := isTrue(q.Get("allowWatchBookmarks"))
	sieSet := q.Has("sendInitialEvents")
	sie := isTrue(q.Get("sendInitialEvents"))
	rvs := q.Get("resourceVersion")
	var startRV uint64
	if rvs != "" && rvs != "0" {
		n, err := strconv.ParseUint(rvs, 10, 64)
		if err != nil {
			writeStatus(w, badRequest("invalid resource version: "+strconv.Quote(rvs)))
			return
		}
		startRV = n
	}
	if rvs == "" && sieSet {
		rv, ok, offline := p.consistentRV(ctx, c)
		switch {
		case offline && sie: // the upstream is away: the cache's state is the best there is
			startRV = 0
		case offline: // sendInitialEvents=false: the changes from now on
			startRV = c.cache.ResourceVersion()
		case !ok:
			p.passthrough(w, r)
			return
		default:
			startRV = rv
		}
	}

	var watcher *edgecache.Watcher
	var err error
	switch {
	case sie:
		watcher, err = c.cache.WatchWithOptions(ctx, startRV, sel, edgecache.WatcherOptions{
			SendInitialEvents: true,
			Bookmarks:         true, // the initial-events-end bookmark; others are dropped below unless allowed
		})
	case (rvs == "" || rvs == "0") && !sieSet:
		// The legacy watch: the current state as ADDED, then changes.
		watcher, err = c.cache.WatchWithOptions(ctx, 0, sel, edgecache.WatcherOptions{Bookmarks: bookmarks})
	default:
		if rvs == "0" { // sendInitialEvents=false: changes from now
			startRV = c.cache.ResourceVersion()
		}
		fctx, cancel := context.WithTimeout(ctx, p.cfg.FreshTimeout)
		err = c.cache.WaitUntilFresh(fctx, startRV)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			// The fresh timeout, not the client's: a 504.
			err = &edgecache.TooLargeResourceVersionError{Requested: startRV, Current: c.cache.ResourceVersion(), RetryAfterSeconds: 1}
		}
		if err == nil || !errors.Is(err, edgecache.ErrTooLargeResourceVersion) {
			if err == nil {
				watcher, err = c.cache.WatchWithOptions(ctx, startRV, sel, edgecache.WatcherOptions{Bookmarks: bookmarks})
			}
		}
	}
	if err != nil && r.Context().Err() != nil {
		return // the client went away
	}
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		// timeoutSeconds ran out while waiting: an empty, clean stream.
		err = nil
	}
	if err != nil && !isInStream(err) {
		writeStatus(w, statusFor(err))
		return
	}

	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache, private")
	w.WriteHeader(http.StatusOK)
	out := newEventWriter(w, c)
	if err != nil {
		st := statusFor(err)
		var tl *edgecache.TooLargeResourceVersionError
		if errors.As(err, &tl) {
			st = tooLargeStatus(startRV, c.cache.ResourceVersion())
		}
		out.status(st)
		out.flush()
		return
	}
	if watcher == nil {
		out.flush()
		return
	}
	defer watcher.Stop()
	p.metrics.watchers.WithLabelValues(c.Path()).Inc()
	defer p.metrics.watchers.WithLabelValues(c.Path()).Dec()
	p.metrics.watchCacheHits.WithLabelValues(c.Path(), "watch").Inc()
	out.flush() // the client sees the stream open before the first event
	events := watcher.ResultChan()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok || ev.Type == edgecache.Error {
				// Ended by the cache (a relist after an upstream 410, a
				// client too slow to keep up, shutdown): the client
				// resumes from the last resourceVersion it got, as from
				// an apiserver that closed the watch.
				return
			}
			if ev.Type == edgecache.Bookmark {
				if !bookmarks && !ev.InitialEventsEnd {
					continue
				}
				p.metrics.bookmarksSent.WithLabelValues(c.Path()).Inc()
			}
			if !out.event(ev) {
				return
			}
			if len(events) == 0 {
				out.flush()
			}
		}
	}
}

// defaultWatchTimeout is how long a watch without timeoutSeconds (or with
// 0) runs: 30-60 minutes, spread so that clients started together do not
// all come back together. A variable for the tests.
var defaultWatchTimeout = func() time.Duration {
	return 30*time.Minute + time.Duration(rand.Float64()*float64(30*time.Minute))
}

// isInStream: the errors the apiserver reports as an ERROR event of an
// open watch rather than as the HTTP answer.
func isInStream(err error) bool {
	return errors.Is(err, edgecache.ErrResourceExpired) || errors.Is(err, edgecache.ErrTooLargeResourceVersion)
}

// eventWriter writes watch events as JSON lines.
type eventWriter struct {
	w    http.ResponseWriter
	fl   http.Flusher
	c    *collection
	head string // {"kind":K,"apiVersion":AV,"metadata":{ for bookmarks
	buf  []byte
}

func newEventWriter(w http.ResponseWriter, c *collection) *eventWriter {
	fl, _ := w.(http.Flusher)
	head := `{"kind":` + strconv.Quote(c.Kind()) + `,"apiVersion":` + strconv.Quote(c.APIVersion()) + `,"metadata":{`
	return &eventWriter{w: w, fl: fl, c: c, head: head}
}

// event writes one event; objects are the cached bytes as they are. A
// BOOKMARK carries only kind, apiVersion and metadata.resourceVersion
// (plus the initial-events-end annotation that ends a streaming list).
func (ew *eventWriter) event(ev edgecache.Event) bool {
	b := append(ew.buf[:0], `{"type":`...)
	b = strconv.AppendQuote(b, string(ev.Type))
	b = append(b, `,"object":`...)
	switch {
	case ev.Type == edgecache.Bookmark:
		b = append(b, ew.head...)
		b = append(b, `"resourceVersion":"`...)
		b = strconv.AppendUint(b, ev.ResourceVersion, 10)
		b = append(b, '"')
		if ev.InitialEventsEnd {
			b = append(b, `,"annotations":{"k8s.io/initial-events-end":"true"}`...)
		}
		b = append(b, "}}"...)
	case len(ev.Object.Data) == 0:
		b = append(b, "{}"...)
	default:
		b = append(b, ev.Object.Data...)
	}
	b = append(b, "}\n"...)
	ew.buf = b
	_, err := ew.w.Write(b)
	return err == nil
}

// status writes an ERROR event holding st.
func (ew *eventWriter) status(st *Status) {
	b := append([]byte(`{"type":"ERROR","object":`), st.encode()...)
	b = append(b, "}\n"...)
	_, _ = ew.w.Write(b)
}

func (ew *eventWriter) flush() {
	if ew.fl != nil {
		ew.fl.Flush()
	}
}
