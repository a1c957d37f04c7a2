package edgeproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/edgecache/edgecache/bindings/go/edgecache"
)

// feedFor finds the feed serving a watch of path: the collection itself, or
// its namespaced form /PREFIX/namespaces/NS/RESOURCE (then namespace is NS).
func (p *Proxy) feedFor(path string) (f *feed, namespace string) {
	if f := p.feeds[path]; f != nil {
		return f, ""
	}
	i := strings.Index(path, "/namespaces/")
	if i < 0 {
		return nil, ""
	}
	ns, resource, ok := strings.Cut(path[i+len("/namespaces/"):], "/")
	if !ok || ns == "" || resource == "" || strings.Contains(resource, "/") {
		return nil, ""
	}
	if f := p.feeds[path[:i]+"/"+resource]; f != nil {
		return f, ns
	}
	return nil, ""
}

// serveWatch streams the events of f's watch cache after the request's
// resourceVersion as JSON lines, {"type":...,"object":...}, until the client
// goes away, timeoutSeconds passes, or the cache ends the watch (a relist,
// a client too slow to keep up): the client then resumes from the last
// resourceVersion it received.
func (p *Proxy) serveWatch(w http.ResponseWriter, r *http.Request, f *feed, namespace string) {
	q := r.URL.Query()
	var rv uint64
	if v := q.Get("resourceVersion"); v != "" {
		var err error
		if rv, err = strconv.ParseUint(v, 10, 64); err != nil {
			writeStatus(w, failure(http.StatusBadRequest, "BadRequest", fmt.Sprintf("invalid resourceVersion %q", v)))
			return
		}
	}
	sel, err := selector(q.Get("labelSelector"), q.Get("fieldSelector"))
	if err != nil {
		writeStatus(w, failure(http.StatusBadRequest, "BadRequest", err.Error()))
		return
	}
	if namespace != "" {
		sel.Fields["metadata.namespace"] = namespace
	}
	ctx := r.Context()
	if v := q.Get("timeoutSeconds"); v != "" {
		secs, err := strconv.Atoi(v)
		if err != nil || secs <= 0 {
			writeStatus(w, failure(http.StatusBadRequest, "BadRequest", fmt.Sprintf("invalid timeoutSeconds %q", v)))
			return
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(secs)*time.Second)
		defer cancel()
	}

	// Not listed yet: there is no state to start from. Wait a little.
	if !f.waitSynced(ctx, 3*time.Second) {
		if ctx.Err() == nil {
			writeStatus(w, tooLarge(rv, 0))
		}
		return
	}
	// A resourceVersion the cache has not reached: wait for it, as the
	// apiserver does (3 s), then 504 with a retry hint.
	if rv > 0 {
		if err := f.cache.WaitUntilFresh(ctx, rv); err != nil {
			if errors.Is(err, edgecache.ErrTooLargeResourceVersion) {
				writeStatus(w, tooLarge(rv, f.cache.ResourceVersion()))
			} else if ctx.Err() == nil {
				writeStatus(w, failure(http.StatusServiceUnavailable, "ServiceUnavailable", err.Error()))
			}
			return
		}
	}
	watcher, err := f.cache.Watch(ctx, rv, sel)
	if err != nil && !errors.Is(err, edgecache.ErrResourceExpired) {
		writeStatus(w, failure(http.StatusServiceUnavailable, "ServiceUnavailable", err.Error()))
		return
	}

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	out := &watchWriter{w: w}
	if err != nil { // expired: the apiserver answers 200 and then an ERROR event
		out.status(expired(rv, err))
		out.flush()
		return
	}
	defer watcher.Stop()
	out.flush() // the client sees the stream open before the first event
	events := watcher.ResultChan()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok || ev.Type == edgecache.Error {
				return // ended by the cache (relisted, fell behind, closed)
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

// watchWriter writes watch events as JSON lines.
type watchWriter struct {
	w   http.ResponseWriter
	buf []byte
}

// event writes one event; the object bytes are the upstream's JSON as is.
// It reports whether the write succeeded.
func (ww *watchWriter) event(ev edgecache.Event) bool {
	ww.buf = append(ww.buf[:0], `{"type":`...)
	ww.buf = strconv.AppendQuote(ww.buf, string(ev.Type))
	ww.buf = append(ww.buf, `,"object":`...)
	if len(ev.Object.Data) == 0 {
		ww.buf = append(ww.buf, "{}"...)
	} else {
		ww.buf = append(ww.buf, ev.Object.Data...)
	}
	ww.buf = append(ww.buf, "}\n"...)
	_, err := ww.w.Write(ww.buf)
	return err == nil
}

// status writes an ERROR event holding st.
func (ww *watchWriter) status(st Status) {
	ww.event(edgecache.Event{Type: edgecache.Error, Object: edgecache.Object{Data: st.encode()}})
}

func (ww *watchWriter) flush() {
	if f, ok := ww.w.(http.Flusher); ok {
		f.Flush()
	}
}

// selector turns equality selectors ("a=b,c=d"; "a==b" too) into a
// watch cache Selector. Inequality and set-based terms are not supported.
func selector(labels, fields string) (edgecache.Selector, error) {
	sel := edgecache.Selector{Labels: map[string]string{}, Fields: map[string]string{}}
	for _, part := range []struct {
		text string
		into map[string]string
	}{{labels, sel.Labels}, {fields, sel.Fields}} {
		if part.text == "" {
			continue
		}
		for _, term := range strings.Split(part.text, ",") {
			k, v, ok := strings.Cut(term, "=")
			k, v = strings.TrimSpace(k), strings.TrimSpace(strings.TrimPrefix(v, "="))
			if !ok || k == "" || strings.HasSuffix(k, "!") {
				return sel, fmt.Errorf("unsupported selector term %q: only key=value", term)
			}
			part.into[k] = v
		}
	}
	return sel, nil
}

// Status is the Kubernetes metav1.Status the proxy answers errors with.
type Status struct {
	Kind       string         `json:"kind"`
	APIVersion string         `json:"apiVersion"`
	Status     string         `json:"status"`
	Message    string         `json:"message"`
	Reason     string         `json:"reason"`
	Details    *StatusDetails `json:"details,omitempty"`
	Code       int            `json:"code"`
}

// StatusDetails carries the retry hint of a 504.
type StatusDetails struct {
	RetryAfterSeconds int `json:"retryAfterSeconds,omitempty"`
}

func failure(code int, reason, message string) Status {
	return Status{Kind: "Status", APIVersion: "v1", Status: "Failure", Message: message, Reason: reason, Code: code}
}

// expired is the 410 for a watch from rv, with the library's own wording
// ("too old resource version: RV (OLDEST)") when it has one.
func expired(rv uint64, err error) Status {
	msg := err.Error()
	if i := strings.Index(msg, "too old resource version"); i >= 0 {
		msg = msg[i:]
	} else {
		msg = fmt.Sprintf("too old resource version: %d", rv)
	}
	return failure(http.StatusGone, "Expired", msg)
}

func tooLarge(rv, current uint64) Status {
	st := failure(http.StatusGatewayTimeout, "Timeout",
		fmt.Sprintf("Too large resource version: %d, current: %d", rv, current))
	st.Details = &StatusDetails{RetryAfterSeconds: 1}
	return st
}

func (st Status) encode() []byte {
	b, err := json.Marshal(st)
	if err != nil {
		panic(err) // a Status always encodes
	}
	return b
}

func writeStatus(w http.ResponseWriter, st Status) {
	w.Header().Set("Content-Type", "application/json")
	if st.Details != nil && st.Details.RetryAfterSeconds > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(st.Details.RetryAfterSeconds))
	}
	w.WriteHeader(st.Code)
	_, _ = w.Write(st.encode())
}
