package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAPI is a small apiserver stand-in for the tests: discovery, LIST
// (paginated) and WATCH (with bookmarks, ERROR events and injected
// failures) of a few collections, a config map with Table/JSON answers
// and headers, a pod log (followed or not), a legacy watch path and an
// upgrade endpoint. Every wait in it is bounded by its request's context.
type fakeAPI struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	rv        uint64
	cols      map[string]*fakeCol
	changed   chan struct{} // closed and replaced on every change
	cut       chan struct{} // closed and replaced to cut open watches
	watchFail []int         // HTTP codes for the next watch requests
	expire    int           // the next watches get an in-stream 410
	counts    map[string]int
	accepts   []string // Accept headers seen on namespaced lists and config maps
	logDone   chan struct{}
	auditID   int
	auth      string // the Authorization of the last config map GET
	hangProbe bool   // resourceVersion probes (limit=1 lists) wait for their request to end
}

type fakeCol struct {
	kind       string
	namespaced bool
	objs       map[string][]byte // by key
	events     []fakeEvent
}

type fakeEvent struct {
	typ string
	obj []byte
	rv  uint64
}

func newFakeAPI(t *testing.T) *fakeAPI { return newFakeAPIWith(t, false) }

// newFakeAPIWith serves over TLS (HTTP/2 allowed) when useTLS.
func newFakeAPIWith(t *testing.T, useTLS bool) *fakeAPI {
	f := &fakeAPI{
		t: t, rv: 100, changed: make(chan struct{}), cut: make(chan struct{}),
		counts: map[string]int{}, logDone: make(chan struct{}, 16),
		cols: map[string]*fakeCol{
			"/api/v1/pods":                      {kind: "Pod", namespaced: true, objs: map[string][]byte{}},
			"/api/v1/nodes":                     {kind: "Node", objs: map[string][]byte{}},
			"/apis/edge.example.com/v1/widgets": {kind: "Widget", namespaced: true, objs: map[string][]byte{}},
		},
	}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	if useTLS {
		f.srv.EnableHTTP2 = true
		f.srv.StartTLS()
	} else {
		f.srv.Start()
	}
	t.Cleanup(f.srv.Close)
	t.Cleanup(f.cutWatches)
	return f
}

func (f *fakeAPI) url() *url.URL { u, _ := url.Parse(f.srv.URL); return u }

func (f *fakeAPI) count(what string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[what]
}

func (f *fakeAPI) notify() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// put creates or updates an object; it returns its resourceVersion.
func (f *fakeAPI) put(col, ns, name string, labels map[string]string, extra string) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.cols[col]
	f.rv++
	md := map[string]interface{}{"name": name, "resourceVersion": strconv.FormatUint(f.rv, 10)}
	if ns != "" {
		md["namespace"] = ns
	}
	if labels != nil {
		md["labels"] = labels
	}
	mdj, _ := json.Marshal(md)
	av := "v1"
	if strings.HasPrefix(col, "/apis/") {
		av = strings.TrimPrefix(col[:strings.LastIndex(col, "/")], "/apis/")
	}
	obj := fmt.Sprintf(`{"kind":%q,"apiVersion":%q,"metadata":%s%s}`, c.kind, av, mdj, extra)
	key := objectKey(ns, name)
	typ := "ADDED"
	if _, ok := c.objs[key]; ok {
		typ = "MODIFIED"
	}
	c.objs[key] = []byte(obj)
	c.events = append(c.events, fakeEvent{typ: typ, obj: []byte(obj), rv: f.rv})
	f.notify()
	return f.rv
}

func (f *fakeAPI) del(col, ns, name string) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.cols[col]
	key := objectKey(ns, name)
	old := c.objs[key]
	delete(c.objs, key)
	f.rv++
	var m map[string]interface{}
	_ = json.Unmarshal(old, &m)
	m["metadata"].(map[string]interface{})["resourceVersion"] = strconv.FormatUint(f.rv, 10)
	obj, _ := json.Marshal(m)
	c.events = append(c.events, fakeEvent{typ: "DELETED", obj: obj, rv: f.rv})
	f.notify()
	return f.rv
}

// bookmark moves the resourceVersion on (another resource was written)
// and sends every open watch of col a BOOKMARK at it.
func (f *fakeAPI) bookmark(col string) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rv++
	c := f.cols[col]
	c.events = append(c.events, fakeEvent{typ: "BOOKMARK", obj: []byte(fmt.Sprintf(
		`{"kind":%q,"apiVersion":"v1","metadata":{"resourceVersion":"%d"}}`, c.kind, f.rv)), rv: f.rv})
	f.notify()
	return f.rv
}

func (f *fakeAPI) cutWatches() {
	f.mu.Lock()
	close(f.cut)
	f.cut = make(chan struct{})
	f.mu.Unlock()
}

// goDown takes the stand-in apiserver away for good. The listener closes
// first, so a reflector reconnecting in between cannot open a watch that
// httptest's Close would then wait on forever (a CI run hung so); the open
// watches are cut and their connections closed.
func (f *fakeAPI) goDown() {
	_ = f.srv.Listener.Close()
	f.cutWatches()
	f.srv.CloseClientConnections()
	f.srv.Close()
}

func (f *fakeAPI) failWatches(codes ...int) {
	f.mu.Lock()
	f.watchFail = append(f.watchFail, codes...)
	f.mu.Unlock()
}

func (f *fakeAPI) expireNextWatch() {
	f.mu.Lock()
	f.expire++
	f.mu.Unlock()
}

func writeJSON(w http.ResponseWriter, code int, v string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(v)))
	w.WriteHeader(code)
	_, _ = io.WriteString(w, v)
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	p, q := r.URL.Path, r.URL.Query()
	switch {
	case p == "/api/v1":
		writeJSON(w, 200, `{"kind":"APIResourceList","groupVersion":"v1","resources":[`+
			`{"name":"pods","namespaced":true,"kind":"Pod"},{"name":"nodes","namespaced":false,"kind":"Node"},`+
			`{"name":"configmaps","namespaced":true,"kind":"ConfigMap"}]}`)
		return
	case p == "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.edge.example.com":
		f.mu.Lock()
		f.counts["get "+p]++
		f.mu.Unlock()
		writeJSON(w, 200, `{"kind":"CustomResourceDefinition","apiVersion":"apiextensions.k8s.io/v1",`+
			`"metadata":{"name":"widgets.edge.example.com"},"spec":{"group":"edge.example.com","versions":[`+
			`{"name":"v1beta1","selectableFields":[{"jsonPath":".spec.old"}]},`+
			`{"name":"v1","selectableFields":[{"jsonPath":".spec.color"},{"jsonPath":".spec.size"}]}]}}`)
		return
	case p == "/apis/edge.example.com/v1":
		writeJSON(w, 200, `{"kind":"APIResourceList","groupVersion":"edge.example.com/v1","resources":[{"name":"widgets","namespaced":true,"kind":"Widget"}]}`)
		return
	case strings.HasSuffix(p, "/log"):
		f.serveLog(w, r)
		return
	case strings.HasSuffix(p, "/exec"):
		f.serveUpgrade(w, r)
		return
	case strings.HasPrefix(p, "/api/v1/watch/"):
		f.serveLegacyWatch(w, r)
		return
	case strings.Contains(p, "/configmaps/") || strings.Contains(p, "/secrets/") || strings.Contains(p, "/namespaces/ns1/pods"):
		f.serveOther(w, r)
		return
	}
	f.mu.Lock()
	c := f.cols[p]
	f.mu.Unlock()
	if c == nil {
		writeJSON(w, 404, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`)
		return
	}
	if isTrue(q.Get("watch")) {
		f.serveWatch(w, r, p, c)
		return
	}
	f.serveList(w, r, p, c)
}

func (f *fakeAPI) serveList(w http.ResponseWriter, r *http.Request, p string, c *fakeCol) {
	q := r.URL.Query()
	f.mu.Lock()
	if q.Get("limit") == "1" && q.Get("continue") == "" && f.hangProbe {
		f.counts["probe "+p]++
		f.mu.Unlock()
		<-r.Context().Done() // a link that accepts and never answers
		return
	}
	defer f.mu.Unlock()
	if q.Get("limit") == "1" && q.Get("continue") == "" {
		f.counts["probe "+p]++
	} else if q.Get("continue") == "" {
		f.counts["list "+p]++
	} else {
		f.counts["continue "+p]++
	}
	keys := make([]string, 0, len(c.objs))
	for k := range c.objs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	start, _ := strconv.Atoi(q.Get("continue"))
	end := len(keys)
	if n, _ := strconv.Atoi(q.Get("limit")); n > 0 && start+n < end {
		end = start + n
	}
	var items []string
	for _, k := range keys[start:end] {
		// As the apiserver for built-in types: items without kind.
		var m map[string]json.RawMessage
		_ = json.Unmarshal(c.objs[k], &m)
		delete(m, "kind")
		delete(m, "apiVersion")
		b, _ := json.Marshal(m)
		items = append(items, string(b))
	}
	cont := ""
	if end < len(keys) {
		cont = strconv.Itoa(end)
	}
	writeJSON(w, 200, fmt.Sprintf(`{"kind":"%sList","apiVersion":"v1","metadata":{"resourceVersion":"%d","continue":%q},"items":[%s]}`,
		c.kind, f.rv, cont, strings.Join(items, ",")))
}

func (f *fakeAPI) serveWatch(w http.ResponseWriter, r *http.Request, p string, c *fakeCol) {
	from, _ := strconv.ParseUint(r.URL.Query().Get("resourceVersion"), 10, 64)
	f.mu.Lock()
	f.counts["watch "+p]++
	if len(f.watchFail) > 0 {
		code := f.watchFail[0]
		f.watchFail = f.watchFail[1:]
		f.mu.Unlock()
		writeJSON(w, code, fmt.Sprintf(`{"kind":"Status","apiVersion":"v1","status":"Failure","code":%d}`, code))
		return
	}
	expire := f.expire > 0
	if expire {
		f.expire--
	}
	// The cut that ends this watch is the one current when it was counted,
	// so a cutWatches after a test saw the count always ends it.
	cut := f.cut
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(200)
	fl := w.(http.Flusher)
	if expire {
		fmt.Fprintf(w, `{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version: %d (%d)","reason":"Expired","code":410}}`+"\n", from, from+1)
		fl.Flush()
		return
	}
	fl.Flush()
	idx := 0
	for {
		f.mu.Lock()
		var out []fakeEvent
		for ; idx < len(c.events); idx++ {
			if c.events[idx].rv > from {
				out = append(out, c.events[idx])
			}
		}
		changed := f.changed
		f.mu.Unlock()
		for _, ev := range out {
			fmt.Fprintf(w, `{"type":%q,"object":%s}`+"\n", ev.typ, ev.obj)
		}
		fl.Flush()
		select {
		case <-changed:
		case <-cut:
			return
		case <-r.Context().Done():
			return
		}
	}
}

// serveOther answers config maps and namespaced pod lists asked through
// (Table or JSON by Accept), with Warning and Audit-Id headers.
func (f *fakeAPI) serveOther(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.counts["get "+r.URL.Path]++
	f.accepts = append(f.accepts, r.Header.Get("Accept"))
	f.auth = r.Header.Get("Authorization")
	f.auditID++
	id := f.auditID
	f.mu.Unlock()
	w.Header().Set("Audit-Id", fmt.Sprintf("audit-%d", id))
	w.Header().Set("Warning", `299 - "a warning"`)
	if strings.Contains(r.Header.Get("Accept"), "as=Table") {
		writeJSON(w, 200, `{"kind":"Table","apiVersion":"meta.k8s.io/v1","rows":[]}`)
		return
	}
	if strings.HasSuffix(r.URL.Path, "/hang") {
		<-r.Context().Done()
		return
	}
	if strings.HasSuffix(r.URL.Path, "/missing") {
		writeJSON(w, 404, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`)
		return
	}
	if r.URL.Query().Get("chunked") == "1" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		_, _ = io.WriteString(w, `{"kind":"ConfigMap",`)
		w.(http.Flusher).Flush()
		_, _ = io.WriteString(w, `"apiVersion":"v1"}`)
		return
	}
	writeJSON(w, 200, `{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"x"}}`)
}

func (f *fakeAPI) serveLog(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.counts["log"]++
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain")
	if !isTrue(r.URL.Query().Get("follow")) {
		w.Header().Set("Content-Length", "6")
		_, _ = io.WriteString(w, "hello\n")
		return
	}
	defer func() { f.logDone <- struct{}{} }()
	w.WriteHeader(200)
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		fmt.Fprintf(w, "line %d\n", i)
		w.(http.Flusher).Flush()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		case <-time.After(30 * time.Second):
			return
		}
	}
}

func (f *fakeAPI) serveLegacyWatch(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(200)
	_, _ = io.WriteString(w, `{"type":"ADDED","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"a","resourceVersion":"5"}}}`+"\n")
	w.(http.Flusher).Flush()
	select {
	case <-r.Context().Done():
	case <-time.After(30 * time.Second):
	}
	f.logDone <- struct{}{}
}

// serveUpgrade switches to a raw echo protocol, as exec over WebSocket or
// SPDY would.
func (f *fakeAPI) serveUpgrade(w http.ResponseWriter, r *http.Request) {
	if !isUpgrade(r) {
		writeJSON(w, 400, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"BadRequest","code":400}`)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: " + r.Header.Get("Upgrade") + "\r\nConnection: Upgrade\r\n\r\n")
	_ = brw.Flush()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := brw.ReadString('\n')
	if err != nil {
		return
	}
	_, _ = conn.Write([]byte("echo: " + line))
}

// --- client helpers ---

// testProxy starts a proxy in front of f with short timings, and waits
// for it to sync.
func testProxy(t *testing.T, f *fakeAPI, mod func(*Config)) (*Proxy, *httptest.Server) {
	t.Helper()
	cfg := Config{
		Upstream:           f.url(),
		Resources:          []string{"/api/v1/pods", "/api/v1/nodes", "edge.example.com/v1/widgets"},
		TTL:                time.Minute,
		FreshTimeout:       300 * time.Millisecond,
		ConsistentReadWait: time.Second,
		BookmarkInterval:   -1,
		BackoffInitial:     20 * time.Millisecond,
		BackoffMax:         200 * time.Millisecond,
		BackoffReset:       time.Minute,
		Logf:               t.Logf,
	}
	if mod != nil {
		mod(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close(); p.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.WaitSynced(ctx); err != nil {
		t.Fatalf("proxy did not sync: %v", err)
	}
	return p, srv
}

func get(t *testing.T, srv *httptest.Server, path string, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, resp.Header, body
}

type listResp struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Metadata   struct {
		ResourceVersion string `json:"resourceVersion"`
		Continue        string `json:"continue"`
	} `json:"metadata"`
	Items []json.RawMessage `json:"items"`
}

func list(t *testing.T, srv *httptest.Server, path string) listResp {
	t.Helper()
	code, _, body := get(t, srv, path)
	if code != 200 {
		t.Fatalf("LIST %s: %d %s", path, code, body)
	}
	var l listResp
	if err := json.Unmarshal(body, &l); err != nil {
		t.Fatalf("LIST %s: %v in %s", path, err, body)
	}
	return l
}

func names(t *testing.T, items []json.RawMessage) []string {
	var out []string
	for _, it := range items {
		var m objectMeta
		if err := json.Unmarshal(it, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m.Metadata.Name)
	}
	return out
}

// watchEvent is one line of a watch stream.
type watchEvent struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

func (e watchEvent) meta() objectMeta {
	var m objectMeta
	_ = json.Unmarshal(e.Object, &m)
	return m
}

// clientWatch is an open watch through the proxy.
type clientWatch struct {
	t      *testing.T
	resp   *http.Response
	cancel context.CancelFunc
	events chan watchEvent
	closed chan struct{}
}

func openWatch(t *testing.T, srv *httptest.Server, path string) *clientWatch {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("WATCH %s: %v", path, err)
	}
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		cancel()
		t.Fatalf("WATCH %s: %d %s", path, resp.StatusCode, body)
	}
	cw := &clientWatch{t: t, resp: resp, cancel: cancel, events: make(chan watchEvent, 1024), closed: make(chan struct{})}
	go func() {
		defer close(cw.closed)
		defer close(cw.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var ev watchEvent
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Errorf("bad watch line %q: %v", sc.Text(), err)
				return
			}
			cw.events <- ev
		}
	}()
	t.Cleanup(cw.stop)
	return cw
}

func (cw *clientWatch) stop() { cw.cancel(); _ = cw.resp.Body.Close() }

// next returns the next event, failing the test after d.
func (cw *clientWatch) next(d time.Duration) watchEvent {
	cw.t.Helper()
	select {
	case ev, ok := <-cw.events:
		if !ok {
			cw.t.Fatalf("watch ended")
		}
		return ev
	case <-time.After(d):
		cw.t.Fatalf("no watch event in %v", d)
	}
	return watchEvent{}
}

// nextOf skips events of other types.
func (cw *clientWatch) nextOf(typ string, d time.Duration) watchEvent {
	cw.t.Helper()
	end := time.Now().Add(d)
	for {
		ev := cw.next(time.Until(end))
		if ev.Type == typ {
			return ev
		}
	}
}

// quiet asserts no event other than skip types arrives within d and the
// watch stays open.
func (cw *clientWatch) quiet(d time.Duration, skip ...string) {
	cw.t.Helper()
	end := time.After(d)
	for {
		select {
		case ev, ok := <-cw.events:
			if !ok {
				cw.t.Fatalf("watch ended")
			}
			keep := false
			for _, s := range skip {
				keep = keep || ev.Type == s
			}
			if !keep {
				cw.t.Fatalf("unexpected event %s %s", ev.Type, ev.Object)
			}
		case <-end:
			return
		}
	}
}

// eventually polls cond for up to d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func rvOf(t *testing.T, s string) uint64 {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("bad resourceVersion %q", s)
	}
	return n
}
