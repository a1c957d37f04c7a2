package proxy

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/edgecache/edgecache/bindings/go/edgecache"
)

// LIST and GET of watched collections, answered from the watch cache.

// selector is the request's selector: the label and field selector
// strings as given (full Kubernetes syntax; the cache parses them), ANDed
// with the namespace of a namespaced path and the name of an object path.
// A namespaced path and a contradictory metadata.namespace field selector
// therefore match nothing, as on the apiserver.
func selector(rt *route, q url.Values) (edgecache.Selector, *Status) {
	sel := edgecache.Selector{LabelSelector: q.Get("labelSelector"), FieldSelector: q.Get("fieldSelector")}
	if f := unsupportedField(rt.c, sel.FieldSelector); f != "" {
		return sel, badRequest("field label not supported: " + f)
	}
	if rt.namespace != "" || rt.name != "" {
		sel.Fields = map[string]string{}
		if rt.namespace != "" {
			sel.Fields["metadata.namespace"] = rt.namespace
		}
		if rt.name != "" {
			sel.Fields["metadata.name"] = rt.name
		}
	}
	return sel, nil
}

// rvRequest is how a read picks its state from the resourceVersion
// parameter.
type rvRequest struct {
	rv          uint64
	any         bool // "0": any state will do
	passthrough bool // a consistent read the cache could not prove fresh
}

// readRV resolves resourceVersion for a LIST or GET: "" is a consistent
// read (the upstream's current resourceVersion, which the cache must
// reach), "0" any state, N a state not older than N.
func (p *Proxy) readRV(ctx context.Context, c *collection, v string) (rvRequest, *Status) {
	switch v {
	case "":
		rv, ok, offline := p.consistentRV(ctx, c)
		if offline {
			// The upstream cannot say where it is: serve what the cache
			// has, as an edge agent must while the link is down.
			return rvRequest{any: true}, nil
		}
		return rvRequest{rv: rv, passthrough: !ok}, nil
	case "0":
		return rvRequest{any: true}, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return rvRequest{}, badRequest("invalid resource version: " + strconv.Quote(v))
	}
	return rvRequest{rv: n}, nil
}

// consistentRV asks the upstream for its current resourceVersion and waits
// (ConsistentReadWait) for the cache to reach it. ok is false when the
// cache did not get there in time: the read then goes to the upstream.
// (An apiserver's resourceVersion counts every resource, so a quiet
// collection may only reach it at the next upstream bookmark.) offline is
// true when the probe itself failed (the upstream is unreachable or
// answered with an error): the read is then served from the cache as it
// is, and counted in edgeproxy_offline_reads_total.
func (p *Proxy) consistentRV(ctx context.Context, c *collection) (rv uint64, ok, offline bool) {
	rv, err := c.probe.get(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return 0, false, false
		}
		p.metrics.offlineReads.WithLabelValues(c.Path()).Inc()
		return 0, false, true
	}
	wctx, cancel := withTimeout(ctx, p.cfg.ConsistentReadWait)
	defer cancel()
	if err := c.cache.WaitUntilFresh(wctx, rv); err != nil {
		if ctx.Err() == nil {
			p.metrics.consistentFalls.WithLabelValues(c.Path()).Inc()
		}
		return rv, false, false
	}
	return rv, true, false
}

func (p *Proxy) serveList(w http.ResponseWriter, r *http.Request, rt *route, q url.Values) {
	c := rt.c
	sel, st := selector(rt, q)
	if st != nil {
		writeStatus(w, st)
		return
	}
	opts := edgecache.ListOptions{Selector: sel}
	if cont := q.Get("continue"); cont != "" {
		tok, ours := strings.CutPrefix(cont, cacheTokenPrefix)
		if !ours {
			// The upstream issued it (its first page was passed through):
			// only the upstream can continue it.
			p.passthrough(w, r)
			return
		}
		opts.Continue = tok
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			writeStatus(w, badRequest("invalid limit: "+strconv.Quote(v)))
			return
		}
		if n > 0 {
			opts.Limit = int(n)
		}
	}
	rvm := q.Get("resourceVersionMatch")
	switch rvm {
	case "", string(edgecache.ResourceVersionMatchNotOlderThan), string(edgecache.ResourceVersionMatchExact):
	default:
		writeStatus(w, badRequest("resourceVersionMatch: unsupported value "+strconv.Quote(rvm)))
		return
	}
	rvs := q.Get("resourceVersion")
	switch {
	case opts.Continue != "":
		if rvs != "" && rvs != "0" || rvm != "" {
			writeStatus(w, badRequest("specifying resourceVersion or resourceVersionMatch is not allowed when using continue"))
			return
		}
	case rvs == "" && rvm != "":
		writeStatus(w, badRequest("resourceVersionMatch is forbidden unless resourceVersion is provided"))
		return
	default:
		req, st := p.readRV(r.Context(), c, rvs)
		if st != nil {
			writeStatus(w, st)
			return
		}
		if req.passthrough {
			p.passthrough(w, r)
			return
		}
		opts.ResourceVersion = req.rv
		opts.ResourceVersionMatch = edgecache.ResourceVersionMatch(rvm)
		switch {
		case rvs == "":
			opts.ResourceVersionMatch = edgecache.ResourceVersionMatchNotOlderThan
		case rvm == "" && rvs != "0" && opts.Limit > 0:
			// The apiserver's rule for clients that set no match (client-go's
			// paged relists): a paged list at a resourceVersion is exact.
			opts.ResourceVersionMatch = edgecache.ResourceVersionMatchExact
		}
	}
	page, err := c.cache.ListPage(r.Context(), opts)
	if err != nil {
		if r.Context().Err() == nil {
			writeStatus(w, statusFor(err))
		}
		return
	}
	p.metrics.watchCacheHits.WithLabelValues(c.Path(), "list").Inc()
	writeList(w, c, page)
}

// cacheTokenPrefix marks the continue tokens this proxy's caches issue.
// The library's tokens are byte for byte the apiserver's, so without a
// mark a token from a page the upstream served (a passed-through first
// page) could not be told from one of ours; a token without it goes to
// the upstream. Tokens are opaque to clients, so the mark is invisible.
const cacheTokenPrefix = "ec."

// writeList writes a k8s List built from the cached objects' bytes.
func writeList(w http.ResponseWriter, c *collection, page *edgecache.ListPage) {
	head := `{"kind":` + strconv.Quote(c.Kind()+"List") + `,"apiVersion":` + strconv.Quote(c.APIVersion()) +
		`,"metadata":{"resourceVersion":"` + strconv.FormatUint(page.ResourceVersion, 10) + `"`
	if page.Continue != "" {
		head += `,"continue":` + strconv.Quote(cacheTokenPrefix+page.Continue)
	}
	head += `},"items":[`
	size := len(head) + 2
	for i, it := range page.Items {
		if i > 0 {
			size++
		}
		size += len(it.Data)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(size))
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	_, _ = bw.WriteString(head)
	for i, it := range page.Items {
		if i > 0 {
			_ = bw.WriteByte(',')
		}
		_, _ = bw.Write(it.Data)
	}
	_, _ = bw.WriteString("]}")
	_ = bw.Flush()
}

func (p *Proxy) serveGet(w http.ResponseWriter, r *http.Request, rt *route, q url.Values) {
	c := rt.c
	req, st := p.readRV(r.Context(), c, q.Get("resourceVersion"))
	if st != nil {
		writeStatus(w, st)
		return
	}
	if req.passthrough {
		p.passthrough(w, r)
		return
	}
	obj, err := c.cache.Get(r.Context(), objectKey(rt.namespace, rt.name), req.rv)
	if err != nil {
		if r.Context().Err() == nil {
			var tl *edgecache.TooLargeResourceVersionError
			if errors.As(err, &tl) && tl.Requested == 0 {
				tl.Requested = req.rv
			}
			writeStatus(w, statusFor(err))
		}
		return
	}
	p.metrics.watchCacheHits.WithLabelValues(c.Path(), "get").Inc()
	if obj == nil {
		writeStatus(w, notFound(c, rt.name))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(obj.Data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(obj.Data)
}

func itoa(n int) string { return strconv.Itoa(n) }
