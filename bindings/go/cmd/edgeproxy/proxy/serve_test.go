package proxy

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Pages of a list come from the first page's snapshot, whatever is
// written in between.
func TestListPagingContinueIsOneSnapshot(t *testing.T) {
	f := newFakeAPI(t)
	for i := 0; i < 5; i++ {
		f.put("/api/v1/pods", "ns1", fmt.Sprintf("p%d", i), nil, "")
	}
	_, srv := testProxy(t, f, podsOnly)
	first := list(t, srv, "/api/v1/pods?limit=2")
	if len(first.Items) != 2 || first.Metadata.Continue == "" || first.Kind != "PodList" || first.APIVersion != "v1" {
		t.Fatalf("first page %+v", first)
	}
	f.put("/api/v1/pods", "ns1", "p9", nil, "")
	f.del("/api/v1/pods", "ns1", "p4")
	eventually(t, 5*time.Second, "the writes in the cache", func() bool {
		return len(list(t, srv, "/api/v1/pods").Items) == 5 && len(list(t, srv, "/api/v1/pods?resourceVersion=0").Items) == 5
	})
	all := names(t, first.Items)
	cont := first.Metadata.Continue
	for cont != "" {
		pg := list(t, srv, "/api/v1/pods?limit=2&continue="+url.QueryEscape(cont))
		if pg.Metadata.ResourceVersion != first.Metadata.ResourceVersion {
			t.Fatalf("page at %s, first at %s", pg.Metadata.ResourceVersion, first.Metadata.ResourceVersion)
		}
		all = append(all, names(t, pg.Items)...)
		cont = pg.Metadata.Continue
	}
	if strings.Join(all, ",") != "p0,p1,p2,p3,p4" {
		t.Fatalf("paged list %v", all)
	}
	// Items carry kind and apiVersion even though the upstream's list did not.
	var m objectMeta
	_ = json.Unmarshal(first.Items[0], &m)
	if m.Kind != "Pod" || m.APIVersion != "v1" {
		t.Fatalf("item %s", first.Items[0])
	}
}

// The 410 and 504 Status objects have the apiserver's shape, as the HTTP
// answer of a LIST and in-stream for a WATCH.
func TestStatusShapes410And504(t *testing.T) {
	f := newFakeAPI(t)
	f.put("/api/v1/pods", "ns1", "a", nil, "")
	_, srv := testProxy(t, f, func(c *Config) { podsOnly(c); c.Window = 2 })
	base := list(t, srv, "/api/v1/pods").Metadata.ResourceVersion
	for i := 0; i < 6; i++ {
		f.put("/api/v1/pods", "ns1", fmt.Sprintf("x%d", i), nil, "")
	}
	eventually(t, 5*time.Second, "the writes", func() bool { return len(list(t, srv, "/api/v1/pods").Items) == 7 })

	cw := openWatch(t, srv, "/api/v1/pods?watch=1&resourceVersion="+base)
	ev := cw.next(5 * time.Second)
	var raw map[string]interface{}
	_ = json.Unmarshal(ev.Object, &raw)
	msg, _ := raw["message"].(string)
	if ev.Type != "ERROR" || raw["kind"] != "Status" || raw["apiVersion"] != "v1" || raw["status"] != "Failure" ||
		raw["reason"] != "Expired" || raw["code"] != float64(410) || !strings.HasPrefix(msg, "too old resource version: "+base+" (") {
		t.Fatalf("watch 410: %s %s", ev.Type, ev.Object)
	}
	code, _, body := get(t, srv, "/api/v1/pods?resourceVersionMatch=Exact&limit=1&resourceVersion="+base)
	var st Status
	_ = json.Unmarshal(body, &st)
	if code != 410 || st.Reason != "Expired" || st.Code != 410 {
		t.Fatalf("list 410: %d %s", code, body)
	}
	code, _, body = get(t, srv, fmt.Sprintf("/api/v1/pods?resourceVersion=%d", f.rv+5))
	_ = json.Unmarshal(body, &raw)
	want := fmt.Sprintf(`"message":"Too large resource version: %d, current: %d"`, f.rv+5, f.rv)
	if code != 504 || !strings.Contains(string(body), want) || !strings.Contains(string(body),
		`"details":{"causes":[{"reason":"ResourceVersionTooLarge","message":"Too large resource version"}],"retryAfterSeconds":1}`) {
		t.Fatalf("list 504: %d %s", code, body)
	}
}

// Single objects: GET by name (namespaced and cluster-scoped), 404 as the
// apiserver's NotFound, and a watch of one object.
func TestGetOneObject(t *testing.T) {
	f := newFakeAPI(t)
	f.put("/api/v1/pods", "ns1", "a", nil, `,"spec":{"nodeName":"n1"}`)
	f.put("/api/v1/nodes", "", "n1", nil, "")
	f.put("/apis/edge.example.com/v1/widgets", "ns1", "w", nil, `,"spec":{"color":"red"}`)
	_, srv := testProxy(t, f, nil)
	for path, name := range map[string]string{
		"/api/v1/namespaces/ns1/pods/a": "a", "/api/v1/nodes/n1": "n1", "/apis/edge.example.com/v1/namespaces/ns1/widgets/w": "w",
	} {
		code, h, body := get(t, srv, path)
		var m objectMeta
		_ = json.Unmarshal(body, &m)
		if code != 200 || h.Get("Content-Type") != "application/json" || m.Metadata.Name != name {
			t.Fatalf("%s: %d %s", path, code, body)
		}
	}
	code, _, body := get(t, srv, "/apis/edge.example.com/v1/namespaces/ns1/widgets/nope")
	var st Status
	_ = json.Unmarshal(body, &st)
	if code != 404 || st.Reason != "NotFound" || st.Message != `widgets.edge.example.com "nope" not found` || st.Details.Name != "nope" {
		t.Fatalf("404: %d %s", code, body)
	}
	l := list(t, srv, "/apis/edge.example.com/v1/widgets")
	if l.Kind != "WidgetList" || l.APIVersion != "edge.example.com/v1" || len(l.Items) != 1 {
		t.Fatalf("widgets %+v", l)
	}
	cw := openWatch(t, srv, "/api/v1/watch/namespaces/ns1/pods/a?resourceVersion="+l.Metadata.ResourceVersion)
	f.put("/api/v1/pods", "ns2", "a", nil, "")
	f.put("/api/v1/pods", "ns1", "b", nil, "")
	f.put("/api/v1/pods", "ns1", "a", nil, `,"spec":{"nodeName":"n2"}`)
	ev := cw.next(5 * time.Second)
	if ev.Type != "MODIFIED" || ev.meta().Metadata.Namespace != "ns1" || ev.meta().Metadata.Name != "a" {
		t.Fatalf("watch of one object: %s %s", ev.Type, ev.Object)
	}
}

// Concurrent identical GETs reach the upstream once; an answer of unknown
// length streams to the leading client and is then cached.
func TestTTLGetsDedupedAndChunkedAnswersCached(t *testing.T) {
	f := newFakeAPI(t)
	_, srv := testProxy(t, f, podsOnly)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, _, body := get(t, srv, "/api/v1/namespaces/ns1/configmaps/c?chunked=1"); code != 200 ||
				string(body) != `{"kind":"ConfigMap","apiVersion":"v1"}` {
				t.Errorf("chunked: %d %s", code, body)
			}
		}()
	}
	wg.Wait()
	if n := f.count("get /api/v1/namespaces/ns1/configmaps/c"); n != 1 {
		t.Fatalf("upstream GETs %d, want 1", n)
	}
}

// Reads through the watch cache: RV 0 LIST with selectors on a namespaced
// path; limit with RV 0 ignored as the apiserver does.
func TestListRVZeroIgnoresLimit(t *testing.T) {
	f := newFakeAPI(t)
	for i := 0; i < 3; i++ {
		f.put("/api/v1/pods", "ns1", fmt.Sprintf("p%d", i), nil, "")
	}
	_, srv := testProxy(t, f, podsOnly)
	if l := list(t, srv, "/api/v1/namespaces/ns1/pods?resourceVersion=0&limit=1"); len(l.Items) != 3 || l.Metadata.Continue != "" {
		t.Fatalf("RV 0 with limit: %d items, continue %q", len(l.Items), l.Metadata.Continue)
	}
}

// sendInitialEvents=false with resourceVersion "": changes from the
// upstream's current resourceVersion, no initial state.
func TestWatchSendInitialEventsFalseStartsNow(t *testing.T) {
	f := newFakeAPI(t)
	f.put("/api/v1/pods", "ns1", "a", nil, "")
	_, srv := testProxy(t, f, podsOnly)
	cw := openWatch(t, srv, "/api/v1/pods?watch=1&sendInitialEvents=false")
	f.put("/api/v1/pods", "ns1", "b", nil, "")
	if ev := cw.next(5 * time.Second); ev.Type != "ADDED" || ev.meta().Metadata.Name != "b" {
		t.Fatalf("got %s %s", ev.Type, ev.Object)
	}
	// The legacy watch (no sendInitialEvents, no resourceVersion) starts
	// with the state.
	cw2 := openWatch(t, srv, "/api/v1/pods?watch=1")
	seen := map[string]bool{}
	for i := 0; i < 2; i++ {
		ev := cw2.next(5 * time.Second)
		seen[ev.meta().Metadata.Name] = ev.Type == "ADDED"
	}
	if !seen["a"] || !seen["b"] {
		t.Fatalf("legacy watch state: %v", seen)
	}
}

// A write passed through makes the TTL cache's answers about its resource
// type unreachable: the writer reads its write back at once, not after the
// TTL (it read the old object for up to a TTL before). Other types keep
// theirs.
func TestWriteThroughTheProxyInvalidatesItsTypeInTheTTLCache(t *testing.T) {
	f := newFakeAPI(t)
	_, srv := testProxy(t, f, func(c *Config) { podsOnly(c); c.TTL = time.Minute })
	const cm, secret = "/api/v1/namespaces/ns1/configmaps/x", "/api/v1/namespaces/ns1/secrets/s"
	for i := 0; i < 2; i++ {
		get(t, srv, cm)
		get(t, srv, secret)
	}
	if f.count("get "+cm) != 1 || f.count("get "+secret) != 1 {
		t.Fatalf("before the write: %d and %d upstream GETs, want 1 each", f.count("get "+cm), f.count("get "+secret))
	}
	req, _ := http.NewRequest(http.MethodPatch, srv.URL+"/api/v1/namespaces/ns2/configmaps/y", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/merge-patch+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	get(t, srv, cm)
	get(t, srv, secret)
	if n := f.count("get " + cm); n != 2 {
		t.Errorf("config map GETs upstream after a config map write: %d, want 2", n)
	}
	if n := f.count("get " + secret); n != 1 {
		t.Errorf("secret GETs upstream after a config map write: %d, want 1", n)
	}
}

func TestResourceType(t *testing.T) {
	for path, want := range map[string]string{
		"/api/v1/namespaces/ns/configmaps/x":        "v1/configmaps",
		"/api/v1/configmaps":                        "v1/configmaps",
		"/api/v1/namespaces/ns/pods/p/log":          "v1/pods",
		"/api/v1/namespaces/ns":                     "v1/namespaces",
		"/api/v1/namespaces":                        "v1/namespaces",
		"/api/v1/nodes/n1/status":                   "v1/nodes",
		"/apis/apps/v1/namespaces/ns/deployments/d": "apps/v1/deployments",
		"/apis/edge.example.com/v1/widgets":         "edge.example.com/v1/widgets",
		"/apis/apps/v1":                             "/apis/apps",
		"/api/v1":                                   "/api/v1",
		"/version":                                  "/version",
		"/openapi/v3/apis/apps/v1":                  "/openapi/v3",
	} {
		if got := resourceType(path); got != want {
			t.Errorf("resourceType(%q) = %q, want %q", path, got, want)
		}
	}
}

// A request that impersonates is not served from a watch cache, which holds
// what the proxy's identity may read: the upstream decides for the
// impersonated user.
func TestImpersonatingReadsGoUpstream(t *testing.T) {
	f := newFakeAPI(t)
	f.put("/api/v1/pods", "ns1", "a", nil, "")
	_, srv := testProxy(t, f, podsOnly)
	lists := f.count("list /api/v1/pods")
	if code, _, _ := get(t, srv, "/api/v1/pods?resourceVersion=0"); code != 200 || f.count("list /api/v1/pods") != lists {
		t.Fatalf("a plain RV=0 LIST: %d, upstream lists %d -> %d", code, lists, f.count("list /api/v1/pods"))
	}
	if code, _, _ := get(t, srv, "/api/v1/pods?resourceVersion=0", "Impersonate-User", "alice"); code != 200 {
		t.Fatalf("impersonating LIST: %d", code)
	}
	if n := f.count("list /api/v1/pods"); n != lists+1 {
		t.Errorf("an impersonating LIST was served from the cache: upstream lists %d -> %d", lists, n)
	}
}

// A custom resource's selectable fields (its definition's
// selectableFields for the served version) work in field selectors, as on
// the apiserver; a selector on any other field goes to the apiserver.
func TestCustomResourceSelectableFields(t *testing.T) {
	f := newFakeAPI(t)
	const col = "/apis/edge.example.com/v1/widgets"
	f.put(col, "ns1", "r", nil, `,"spec":{"color":"red","size":1}`)
	f.put(col, "ns1", "b", nil, `,"spec":{"color":"blue","size":2}`)
	f.put(col, "ns2", "n", nil, `,"spec":{}`)
	_, srv := testProxy(t, f, nil)
	for sel, want := range map[string][]string{
		"spec.color=red": {"r"}, "spec.color!=red": {"b", "n"}, "spec.size=2": {"b"}, "spec.color=": {"n"},
	} {
		l := list(t, srv, col+"?fieldSelector="+url.QueryEscape(sel))
		if got := names(t, l.Items); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", sel, got, want)
		}
	}
	cw := openWatch(t, srv, col+"?watch=1&resourceVersion=0&fieldSelector="+url.QueryEscape("spec.color=blue"))
	if ev := cw.next(5 * time.Second); ev.Type != "ADDED" || ev.meta().Metadata.Name != "b" {
		t.Errorf("watch spec.color=blue: %s %s", ev.Type, ev.Object)
	}
	// Fields the proxy does not extract (another version's, unknown ones)
	// are the apiserver's to judge: such a request goes upstream.
	for _, sel := range []string{"spec.old=x", "spec.shape=round"} {
		before := f.count("list " + col)
		if code, _, body := get(t, srv, col+"?fieldSelector="+url.QueryEscape(sel)); code != 200 || f.count("list "+col) != before+1 {
			t.Errorf("%s: %d %s, upstream lists %d -> %d, want it passed upstream", sel, code, body, before, f.count("list "+col))
		}
	}
	if n := f.count("get /apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.edge.example.com"); n != 1 {
		t.Errorf("definition read %d times, want once", n)
	}
}

// A cached GET whose upstream never answers fails after FetchTimeout
// with 502 for the leader and every waiter, instead of hanging.
func TestTTLLoadIsBoundedByFetchTimeout(t *testing.T) {
	f := newFakeAPI(t)
	_, srv := testProxy(t, f, func(c *Config) { podsOnly(c); c.FetchTimeout = 300 * time.Millisecond })
	start := time.Now()
	var wg sync.WaitGroup
	codes := make(chan int, 5)
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _, _ := get(t, srv, "/api/v1/namespaces/ns1/configmaps/hang")
			codes <- code
		}()
	}
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != http.StatusBadGateway {
			t.Errorf("a GET of a hanging upstream: %d, want 502", code)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the GETs took %v", d)
	}
}
