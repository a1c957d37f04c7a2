package proxy

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgecache/edgecache/bindings/go/edgecache"
)

// The TTL group caches other GETs. An entry is the upstream's whole
// answer: status, headers (Content-Type, Warning, Audit-Id, ...) and body.
//
// A load is led by one client's request. An answer of known size is read
// whole and shared. An answer of unknown length (chunked: a large list, a
// log) streams to the leading client as it comes, while a copy is kept up
// to maxEntry bytes: if it ends within that, it is cached and shared like
// any other; if not, it is not cached, the others waiting for it send their
// own request through, and its key is remembered as streaming so that the
// next request for it goes straight through. Only 200s are cached; other
// answers reach every waiter of the load but are not kept.

// ttlKey is everything that changes the answer: path, query (sorted),
// Accept, the impersonation headers, and the write generation of the
// path's resource type (writes.gen), so that a write passed through makes
// every cached answer about that type unreachable.
func (p *Proxy) ttlKey(r *http.Request) string {
	var b strings.Builder
	b.WriteString(r.URL.Path)
	if q := r.URL.Query().Encode(); q != "" {
		b.WriteByte('?')
		b.WriteString(q)
	}
	b.WriteByte(0)
	b.WriteString(strings.Join(r.Header.Values("Accept"), ","))
	b.WriteByte(0)
	var imp []string
	for name, vals := range r.Header {
		if strings.HasPrefix(name, "Impersonate-") {
			for _, v := range vals {
				imp = append(imp, name+": "+v)
			}
		}
	}
	sort.Strings(imp)
	b.WriteString(strings.Join(imp, "\x01"))
	b.WriteByte(0)
	b.WriteString(strconv.FormatUint(p.writes.gen(resourceType(r.URL.Path)), 10))
	return b.String()
}

// writeGens counts the writes passed through per resource type. A write
// moves its type's generation before it is sent and again once it is
// answered: an answer cached before the write, or loaded while it ran,
// carries an older generation in its key and is never served again. So a
// client that writes through the proxy reads its write back, as from the
// apiserver; writes that bypass the proxy are seen once the TTL ends.
type writeGens struct {
	mu sync.Mutex
	m  map[string]uint64
}

func (g *writeGens) gen(typ string) uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.m[typ]
}

func (g *writeGens) bump(typ string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[string]uint64{}
	}
	g.m[typ]++
}

// resourceType is the group/version/resource a request path is about:
// "v1/configmaps" for /api/v1/namespaces/ns/configmaps/x,
// "apps/v1/deployments" for /apis/apps/v1/deployments, "v1/namespaces" for
// /api/v1/namespaces/ns. Any other path is its own type (discovery,
// /version, /openapi/...): its first two segments.
func resourceType(path string) string {
	seg := strings.Split(strings.Trim(path, "/"), "/")
	var gv string
	switch {
	case len(seg) >= 3 && seg[0] == "api":
		gv, seg = seg[1], seg[2:]
	case len(seg) >= 4 && seg[0] == "apis":
		gv, seg = seg[1]+"/"+seg[2], seg[3:]
	default:
		if len(seg) > 2 {
			seg = seg[:2]
		}
		return "/" + strings.Join(seg, "/")
	}
	// namespaces/NS/RES/...: RES; namespaces or namespaces/NS alone: namespaces.
	if seg[0] == "namespaces" && len(seg) >= 3 {
		return gv + "/" + seg[2]
	}
	return gv + "/" + seg[0]
}

// fromKey rebuilds the upstream request of a key.
func (p *Proxy) requestFromKey(ctx context.Context, key string) (*http.Request, error) {
	parts := strings.SplitN(key, "\x00", 4) // path?query, Accept, impersonation, generation
	path, rawQuery, _ := strings.Cut(parts[0], "?")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.up.urlFor(path, rawQuery), nil)
	if err != nil {
		return nil, err
	}
	if parts[1] != "" {
		req.Header.Set("Accept", parts[1])
	}
	if parts[2] != "" {
		for _, line := range strings.Split(parts[2], "\x01") {
			name, val, _ := strings.Cut(line, ": ")
			req.Header.Add(name, val)
		}
	}
	// Identity: a compressed answer would come back of unknown length.
	req.Header.Set("Accept-Encoding", "identity")
	return req, nil
}

type leaderKey struct{}

// leader is the request that runs a load; wrote is set once the answer
// has been streamed to it.
type leader struct {
	w     http.ResponseWriter
	wrote atomic.Bool
}

var errStreamed = errors.New("the upstream answer is a stream; it is not cached")

// answerError is a non-200 upstream answer: every waiter gets it, nothing
// is cached.
type answerError struct{ entry []byte }

func (e *answerError) Error() string {
	return "upstream answered " + itoa(int(binary.BigEndian.Uint16(e.entry)))
}

func (p *Proxy) maxEntry() int64 {
	n := p.cfg.TTLCacheBytes / 8
	if n > 8<<20 {
		n = 8 << 20
	}
	return n
}

// fetchTTL is the TTL group's getter. Config.FetchTimeout bounds the wait
// for the upstream's answer to begin: an upstream that never answers fails
// the load (502 to every waiter) instead of holding them for as long as the
// leading client waits. The body then takes as long as it takes (a large
// log or OpenAPI document over a slow link), bounded by the leader.
func (p *Proxy) fetchTTL(ctx context.Context, key string, dest edgecache.Sink) error {
	ld, _ := ctx.Value(leaderKey{}).(*leader)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := p.requestFromKey(ctx, key)
	if err != nil {
		return err
	}
	var headers *time.Timer
	if p.cfg.FetchTimeout > 0 {
		headers = time.AfterFunc(p.cfg.FetchTimeout, cancel)
	}
	resp, err := p.up.client.Do(req)
	if headers != nil && !headers.Stop() && err == nil {
		// The timer fired as the answer arrived: the body is cut anyway.
		resp.Body.Close()
		return fmt.Errorf("upstream answer began after %v: %w", p.cfg.FetchTimeout, context.DeadlineExceeded)
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	limit := p.maxEntry()
	var body bytes.Buffer
	if resp.ContentLength >= 0 && resp.ContentLength <= limit || ld == nil {
		if _, err := io.Copy(&body, io.LimitReader(resp.Body, limit+1)); err != nil {
			return err
		}
		if int64(body.Len()) > limit {
			p.streams.add(key)
			return errStreamed
		}
	} else {
		over, err := p.streamToLeader(ld, resp, &body, limit)
		if err != nil {
			if ctx.Err() != nil {
				// The leading client went away: the others load again.
				return ctx.Err()
			}
			return err
		}
		if over {
			p.streams.add(key)
			return errStreamed
		}
	}
	entry := encodeEntry(resp.StatusCode, resp.Header, body.Bytes())
	if resp.StatusCode != http.StatusOK {
		return &answerError{entry: entry}
	}
	return dest.SetBytes(entry)
}

// streamToLeader sends the answer to the leading client as it comes,
// keeping a copy in buf while it fits in limit; over says it did not.
func (p *Proxy) streamToLeader(ld *leader, resp *http.Response, buf *bytes.Buffer, limit int64) (over bool, err error) {
	ld.wrote.Store(true)
	copyHeader(ld.w.Header(), resp.Header)
	ld.w.WriteHeader(resp.StatusCode)
	fl, _ := ld.w.(http.Flusher)
	chunk := make([]byte, 32<<10)
	for {
		n, rerr := resp.Body.Read(chunk)
		if n > 0 {
			if _, werr := ld.w.Write(chunk[:n]); werr != nil {
				return false, werr
			}
			if fl != nil {
				fl.Flush()
			}
			if !over {
				if int64(buf.Len()+n) > limit {
					over = true
					buf.Reset()
				} else {
					buf.Write(chunk[:n])
				}
			}
		}
		if rerr == io.EOF {
			return over, nil
		}
		if rerr != nil {
			return false, rerr
		}
	}
}

func (p *Proxy) serveTTL(w http.ResponseWriter, r *http.Request) {
	key := p.ttlKey(r)
	if p.streams.has(key) {
		p.passthrough(w, r)
		return
	}
	p.metrics.requests.WithLabelValues("ttl").Inc()
	ld := &leader{w: w}
	ctx := context.WithValue(r.Context(), leaderKey{}, ld)
	var val []byte
	err := p.group.Get(ctx, key, edgecache.AllocatingByteSliceSink(&val))
	if ld.wrote.Load() {
		return // this request led the load and streamed the answer already
	}
	var ae *answerError
	switch {
	case err == nil:
		writeEntry(w, val)
	case errors.As(err, &ae):
		writeEntry(w, ae.entry)
	case errors.Is(err, errStreamed):
		p.passthrough(w, r)
	case r.Context().Err() != nil:
		// the client went away
	default:
		writeStatus(w, badGateway("upstream: "+err.Error()))
	}
}

// hopHeaders are not forwarded (RFC 9110 7.6.1) nor cached; Content-Length
// and Date are set anew.
var hopHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true, "Proxy-Authorization": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Content-Length": true, "Date": true,
}

func copyHeader(dst, src http.Header) {
	for name, vals := range src {
		if !hopHeaders[name] {
			dst[name] = append([]string(nil), vals...)
		}
	}
}

// encodeEntry packs an answer: 2 bytes status, 4 bytes header length, the
// headers as JSON, the body.
func encodeEntry(code int, h http.Header, body []byte) []byte {
	kept := http.Header{}
	copyHeader(kept, h)
	hj, _ := json.Marshal(kept)
	out := make([]byte, 6, 6+len(hj)+len(body))
	binary.BigEndian.PutUint16(out, uint16(code))
	binary.BigEndian.PutUint32(out[2:], uint32(len(hj)))
	out = append(out, hj...)
	return append(out, body...)
}

func writeEntry(w http.ResponseWriter, entry []byte) {
	code := int(binary.BigEndian.Uint16(entry))
	n := binary.BigEndian.Uint32(entry[2:])
	var h http.Header
	_ = json.Unmarshal(entry[6:6+n], &h)
	copyHeader(w.Header(), h)
	body := entry[6+n:]
	w.Header().Set("Content-Length", itoa(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// streamKeys remembers the keys whose answers were streams (bounded:
// forgotten all at once when full).
type streamKeys struct {
	mu sync.Mutex
	m  map[string]struct{}
}

func (s *streamKeys) add(k string) {
	s.mu.Lock()
	if len(s.m) >= 4096 {
		s.m = map[string]struct{}{}
	}
	s.m[k] = struct{}{}
	s.mu.Unlock()
}

func (s *streamKeys) has(k string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[k]
	return ok
}
