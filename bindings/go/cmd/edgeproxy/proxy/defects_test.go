package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// One test per defect of issue 12, named after it.

// 1. Streaming GETs that are not ?watch (logs -f, legacy /watch/ paths)
// stream through, and the upstream stream ends with the client.
func TestDefect01_StreamingGETsStreamAndEndWithTheClient(t *testing.T) {
	f := newFakeAPI(t)
	_, srv := testProxy(t, f, nil)
	for _, path := range []string{"/api/v1/namespaces/ns1/pods/p/log?follow=true", "/api/v1/watch/namespaces/ns1/configmaps"} {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if err != nil || resp.StatusCode != 200 || time.Since(start) > 5*time.Second {
			t.Fatalf("%s: first line %q err %v status %d after %v", path, line, err, resp.StatusCode, time.Since(start))
		}
		cancel()
		resp.Body.Close()
		select {
		case <-f.logDone:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the upstream stream outlived the client", path)
		}
	}
}

// 2. An upstream watch error (503, 429, refused) resumes the watch from
// the last resourceVersion: no relist, client watches stay open, no 410.
func TestDefect02_UpstreamWatchErrorsResumeWithoutRelist(t *testing.T) {
	f := newFakeAPI(t)
	f.put("/api/v1/pods", "ns1", "a", nil, "")
	p, srv := testProxy(t, f, podsOnly)
	l := list(t, srv, "/api/v1/pods")
	cw := openWatch(t, srv, "/api/v1/pods?watch=1&resourceVersion="+l.Metadata.ResourceVersion)
	// The proxy's own upstream watch must be open before the failures are
	// queued: one that arrived later took the first failure itself, and the
	// cut then ended nothing (a flake, 1 run in 20 under -race).
	eventually(t, 5*time.Second, "the upstream watch", func() bool { return f.count("watch /api/v1/pods") >= 1 })
	f.failWatches(503, 429, 500)
	f.cutWatches()
	eventually(t, 5*time.Second, "three failed watches and a resume", func() bool { return f.count("watch /api/v1/pods") >= 5 })
	f.put("/api/v1/pods", "ns1", "b", nil, "")
	if ev := cw.next(5 * time.Second); ev.Type != "ADDED" || ev.meta().Metadata.Name != "b" {
		t.Fatalf("got %s %s", ev.Type, ev.Object)
	}
	if n := f.count("list /api/v1/pods"); n != 1 {
		t.Fatalf("upstream lists: %d, want 1", n)
	}
	if c := counterValue(t, p, "edgeproxy_relists_total"); c != 0 {
		t.Fatalf("relists: %v", c)
	}
	// The old resourceVersion is still good.
	cw2 := openWatch(t, srv, "/api/v1/pods?watch=1&resourceVersion="+l.Metadata.ResourceVersion)
	if ev := cw2.next(5 * time.Second); ev.Type != "ADDED" || ev.meta().Metadata.Name != "b" {
		t.Fatalf("resume after upstream errors: %s %s", ev.Type, ev.Object)
	}
}

// 3. LIST and WATCH come from one cache: a client that lists, then watches
// from the list's resourceVersion, gets the changes, not a 410.
func TestDefect03_ListAndWatchAgree(t *testing.T) {
	f := newFakeAPI(t)
	f.put("/api/v1/pods", "ns1", "a", nil, "")
	_, srv := testProxy(t, f, nil)
	f.put("/api/v1/pods", "ns1", "b", nil, "")
	for i := 0; i < 3; i++ {
		l := list(t, srv, "/api/v1/pods")
		cw := openWatch(t, srv, "/api/v1/pods?watch=1&resourceVersion="+l.Metadata.ResourceVersion)
		name := fmt.Sprintf("c%d", i)
		f.put("/api/v1/pods", "ns1", name, nil, "")
		ev := cw.next(5 * time.Second)
		if ev.Type != "ADDED" || ev.meta().Metadata.Name != name {
			t.Fatalf("after LIST at %s: %s %s", l.Metadata.ResourceVersion, ev.Type, ev.Object)
		}
		cw.stop()
	}
}

// 4. allowWatchBookmarks: a quiet selective watcher gets BOOKMARKs (from
// the upstream's and periodically), shaped as the apiserver's.
func TestDefect04_BookmarksReachQuietWatchers(t *testing.T) {
	f := newFakeAPI(t)
	_, srv := testProxy(t, f, nil)
	l := list(t, srv, "/api/v1/pods")
	cw := openWatch(t, srv, "/api/v1/pods?watch=1&allowWatchBookmarks=true&labelSelector=app%3Dnone&resourceVersion="+l.Metadata.ResourceVersion)
	f.put("/api/v1/pods", "ns1", "other", map[string]string{"app": "web"}, "")
	rv := f.bookmark("/api/v1/pods")
	ev := cw.nextOf("BOOKMARK", 5*time.Second)
	var obj map[string]interface{}
	_ = json.Unmarshal(ev.Object, &obj)
	md := obj["metadata"].(map[string]interface{})
	if obj["kind"] != "Pod" || obj["apiVersion"] != "v1" || md["resourceVersion"] != fmt.Sprint(rv) || len(md) != 1 {
		t.Fatalf("bookmark %s, want Pod v1 at %d", ev.Object, rv)
	}
	// Without allowWatchBookmarks: none.
	cw2 := openWatch(t, srv, "/api/v1/pods?watch=1&labelSelector=app%3Dnone&resourceVersion="+fmt.Sprint(rv))
	f.bookmark("/api/v1/pods")
	cw2.quiet(300 * time.Millisecond)
}

// 5. Accept is passed on and keys the TTL cache; a Table request for a
// watched collection goes to the upstream.
func TestDefect05_AcceptPassedOnAndKeyed(t *testing.T) {
	f := newFakeAPI(t)
	_, srv := testProxy(t, f, nil)
	table := "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
	_, _, tb := get(t, srv, "/api/v1/namespaces/ns1/configmaps/x", "Accept", table)
	_, _, jb := get(t, srv, "/api/v1/namespaces/ns1/configmaps/x", "Accept", "application/json")
	_, _, tb2 := get(t, srv, "/api/v1/namespaces/ns1/configmaps/x", "Accept", table)
	if !strings.Contains(string(tb), `"Table"`) || !strings.Contains(string(jb), `"ConfigMap"`) || string(tb2) != string(tb) {
		t.Fatalf("table %s json %s table again %s", tb, jb, tb2)
	}
	if n := f.count("get /api/v1/namespaces/ns1/configmaps/x"); n != 2 {
		t.Fatalf("upstream GETs %d, want 2 (one per Accept)", n)
	}
	code, _, body := get(t, srv, "/api/v1/namespaces/ns1/pods", "Accept", table)
	if code != 200 || !strings.Contains(string(body), `"Table"`) {
		t.Fatalf("Table list of a watched collection: %d %s", code, body)
	}
	f.mu.Lock()
	last := f.accepts[len(f.accepts)-1]
	f.mu.Unlock()
	if last != table {
		t.Fatalf("upstream saw Accept %q", last)
	}
}

// 6. Cached answers keep the upstream's Content-Type and headers.
func TestDefect06_UpstreamHeadersKept(t *testing.T) {
	f := newFakeAPI(t)
	_, srv := testProxy(t, f, nil)
	for i := 0; i < 2; i++ {
		code, h, body := get(t, srv, "/api/v1/namespaces/ns1/pods/p/log")
		if code != 200 || h.Get("Content-Type") != "text/plain" || string(body) != "hello\n" {
			t.Fatalf("log: %d %q %q", code, h.Get("Content-Type"), body)
		}
		code, h, _ = get(t, srv, "/api/v1/namespaces/ns1/configmaps/x")
		if code != 200 || h.Get("Warning") != `299 - "a warning"` || h.Get("Audit-Id") != "audit-1" {
			t.Fatalf("config map: %d %v", code, h)
		}
	}
	if f.count("log") != 1 {
		t.Fatalf("upstream log GETs: %d, want 1 (cached)", f.count("log"))
	}
	// A non-200 keeps its code and is not cached.
	for i := 0; i < 2; i++ {
		if code, _, _ := get(t, srv, "/api/v1/namespaces/ns1/configmaps/missing"); code != 404 {
			t.Fatalf("missing: %d", code)
		}
	}
	if n := f.count("get /api/v1/namespaces/ns1/configmaps/missing"); n != 2 {
		t.Fatalf("404 answers were cached: %d upstream GETs", n)
	}
}

// 7. WebSocket (and SPDY) upgrades pass through.
func TestDefect07_UpgradesPassThrough(t *testing.T) {
	f := newFakeAPI(t)
	_, srv := testProxy(t, f, nil)
	for _, proto := range []string{"websocket", "SPDY/3.1"} {
		u, _ := url.Parse(srv.URL)
		conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "GET /api/v1/namespaces/ns1/pods/p/exec?command=sh HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", proto)
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("%s: %v %v", proto, err, resp)
		}
		fmt.Fprintf(conn, "ping\n")
		line, err := br.ReadString('\n')
		if err != nil || line != "echo: ping\n" {
			t.Fatalf("%s: echo %q %v", proto, line, err)
		}
		conn.Close()
	}
}

// 8. A field selector on a field the cache does not extract is a 400
// "field label not supported" (core resources, whose fields are known), never
// an empty result. (For a custom resource the apiserver is asked:
// TestCustomResourceSelectableFields.)
func TestDefect08_UnextractedFieldSelectorIs400(t *testing.T) {
	f := newFakeAPI(t)
	f.put("/api/v1/pods", "ns1", "a", nil, `,"spec":{"nodeName":"n1"},"status":{"phase":"Running"}`)
	f.put("/api/v1/pods", "ns1", "b", nil, `,"spec":{"nodeName":"n2"},"status":{"phase":"Pending"}`)
	_, srv := testProxy(t, f, nil)
	for _, path := range []string{"/api/v1/pods?fieldSelector=spec.foo%3Dbar", "/api/v1/pods?watch=1&fieldSelector=spec.foo%3Dbar"} {
		code, _, body := get(t, srv, path)
		var st Status
		_ = json.Unmarshal(body, &st)
		if code != 400 || st.Kind != "Status" || st.Reason != "BadRequest" || !strings.HasPrefix(st.Message, "field label not supported: ") {
			t.Fatalf("%s: %d %s", path, code, body)
		}
	}
	l := list(t, srv, "/api/v1/pods?fieldSelector=status.phase%3DRunning")
	if got := names(t, l.Items); len(got) != 1 || got[0] != "a" {
		t.Fatalf("status.phase=Running: %v", got)
	}
	l = list(t, srv, "/api/v1/pods?fieldSelector=spec.nodeName%21%3Dn1")
	if got := names(t, l.Items); len(got) != 1 || got[0] != "b" {
		t.Fatalf("spec.nodeName!=n1: %v", got)
	}
}

// 9. sendInitialEvents=true is a streaming list: ADDED for the state,
// then a BOOKMARK annotated k8s.io/initial-events-end, then changes.
func TestDefect09_SendInitialEvents(t *testing.T) {
	f := newFakeAPI(t)
	f.put("/api/v1/pods", "ns1", "a", nil, "")
	f.put("/api/v1/pods", "ns2", "b", nil, "")
	_, srv := testProxy(t, f, nil)
	cw := openWatch(t, srv, "/api/v1/pods?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true")
	seen := map[string]bool{}
	for i := 0; i < 2; i++ {
		ev := cw.next(5 * time.Second)
		if ev.Type != "ADDED" {
			t.Fatalf("initial event %d: %s %s", i, ev.Type, ev.Object)
		}
		seen[ev.meta().Metadata.Name] = true
	}
	ev := cw.next(5 * time.Second)
	var bm struct {
		Kind     string `json:"kind"`
		Metadata struct {
			ResourceVersion string            `json:"resourceVersion"`
			Annotations     map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	_ = json.Unmarshal(ev.Object, &bm)
	if ev.Type != "BOOKMARK" || bm.Metadata.Annotations["k8s.io/initial-events-end"] != "true" || bm.Metadata.ResourceVersion == "" ||
		!seen["a"] || !seen["b"] {
		t.Fatalf("end of initial events: %s %s (seen %v)", ev.Type, ev.Object, seen)
	}
	f.put("/api/v1/pods", "ns1", "c", nil, "")
	if ev := cw.nextOf("ADDED", 5*time.Second); ev.meta().Metadata.Name != "c" {
		t.Fatalf("after the initial events: %s", ev.Object)
	}
}

// 10. A watch from a future resourceVersion gets a 504 with the
// ResourceVersionTooLarge cause after the fresh timeout, not the whole
// timeoutSeconds.
func TestDefect10_FutureResourceVersionIs504WithCause(t *testing.T) {
	f := newFakeAPI(t)
	_, srv := testProxy(t, f, nil)
	future := f.rv + 1000
	start := time.Now()
	cw := openWatch(t, srv, fmt.Sprintf("/api/v1/pods?watch=1&timeoutSeconds=60&resourceVersion=%d", future))
	ev := cw.next(5 * time.Second)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("504 after %v", d)
	}
	var st Status
	_ = json.Unmarshal(ev.Object, &st)
	if ev.Type != "ERROR" || st.Code != 504 || st.Reason != "Timeout" || st.Details == nil ||
		st.Details.RetryAfterSeconds != 1 || len(st.Details.Causes) != 1 || st.Details.Causes[0].Type != "ResourceVersionTooLarge" {
		t.Fatalf("got %s %s", ev.Type, ev.Object)
	}
	// A LIST too: HTTP 504 with the same Status.
	code, h, body := get(t, srv, fmt.Sprintf("/api/v1/pods?resourceVersion=%d", future))
	_ = json.Unmarshal(body, &st)
	if code != 504 || h.Get("Retry-After") != "1" || len(st.Details.Causes) != 1 || st.Details.Causes[0].Type != "ResourceVersionTooLarge" {
		t.Fatalf("list: %d %s", code, body)
	}
}

// 11. Set-based and existence label selectors work.
func TestDefect11_SetBasedAndExistenceLabelSelectors(t *testing.T) {
	f := newFakeAPI(t)
	f.put("/api/v1/pods", "ns1", "a", map[string]string{"env": "prod", "canary": "1"}, "")
	f.put("/api/v1/pods", "ns1", "b", map[string]string{"env": "qa"}, "")
	f.put("/api/v1/pods", "ns1", "c", map[string]string{"env": "dev"}, "")
	f.put("/api/v1/pods", "ns1", "d", nil, "")
	_, srv := testProxy(t, f, nil)
	for sel, want := range map[string]string{
		"env in (prod,qa)": "a,b", "env notin (prod,qa)": "c,d", "canary": "a", "!canary": "b,c,d", "env,!canary": "b,c",
	} {
		l := list(t, srv, "/api/v1/pods?labelSelector="+url.QueryEscape(sel))
		if got := strings.Join(names(t, l.Items), ","); got != want {
			t.Errorf("%q: %s, want %s", sel, got, want)
		}
	}
}

// 12. timeoutSeconds=0 is accepted and means what the apiserver makes of
// it, the default timeout (30-60 minutes; here shortened), not 400 and not
// forever; a namespaced path ANDs with a contradictory namespace field
// selector; a repeated label key keeps every term.
func TestDefect12_TimeoutZeroNamespaceAndRepeatedKeys(t *testing.T) {
	f := newFakeAPI(t)
	f.put("/api/v1/pods", "ns1", "a", map[string]string{"app": "x"}, "")
	f.put("/api/v1/pods", "ns2", "b", map[string]string{"app": "y"}, "")
	_, srv := testProxy(t, f, nil)
	saved := defaultWatchTimeout
	defaultWatchTimeout = func() time.Duration { return 300 * time.Millisecond }
	t.Cleanup(func() { defaultWatchTimeout = saved })
	cw := openWatch(t, srv, "/api/v1/namespaces/ns1/pods?watch=1&timeoutSeconds=0")
	if ev := cw.next(5 * time.Second); ev.Type != "ADDED" || ev.meta().Metadata.Name != "a" {
		t.Fatalf("timeoutSeconds=0: %s %s", ev.Type, ev.Object)
	}
	select {
	case <-cw.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("timeoutSeconds=0: the watch did not end at the default timeout")
	}
	l := list(t, srv, "/api/v1/namespaces/ns1/pods?fieldSelector=metadata.namespace%3Dns2")
	if len(l.Items) != 0 {
		t.Fatalf("ns1 path with namespace=ns2: %v", names(t, l.Items))
	}
	l = list(t, srv, "/api/v1/pods?labelSelector="+url.QueryEscape("app=x,app=y"))
	if len(l.Items) != 0 {
		t.Fatalf("app=x,app=y: %v", names(t, l.Items))
	}
	l = list(t, srv, "/api/v1/pods?labelSelector="+url.QueryEscape("app!=x,app!=z"))
	if got := names(t, l.Items); len(got) != 1 || got[0] != "b" {
		t.Fatalf("app!=x,app!=z: %v", got)
	}
}

// counterValue sums a metric's samples from /metrics.
func counterValue(t *testing.T, p *Proxy, name string) float64 {
	t.Helper()
	mfs, err := p.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}

var _ = io.EOF

func podsOnly(c *Config) { c.Resources = []string{"/api/v1/pods"} }
