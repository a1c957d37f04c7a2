package edgeproxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgecache/edgecache/bindings/go/edgecache"
	"github.com/edgecache/edgecache/bindings/go/examples/edgeproxy/fakeapi"
)

const pods = "/api/v1/pods"

// setup starts a fake apiserver with 20 pods in "default" and a proxy in
// front of it; both stop when the test ends.
func setup(t *testing.T, api fakeapi.Options, opts Options) (*fakeapi.Server, *Proxy, string) {
	t.Helper()
	fake := fakeapi.New(api)
	if _, err := fake.Seed("default", 20); err != nil {
		t.Fatal(err)
	}
	upstream := httptest.NewServer(fake)
	opts.Upstream = upstream.URL
	opts.Watched = []string{pods}
	opts.Logf = t.Logf
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(p)
	t.Cleanup(func() {
		front.Close() // waits for the client watches, which Close below would end anyway
		p.Close()
		fake.Close()
		upstream.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	return fake, p, front.URL
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// line is one decoded watch event, with the object's key and version.
type line struct {
	Type string
	Key  string
	RV   uint64
	Raw  json.RawMessage
}

// watch reads up to max events from a watch URL (which should carry a
// timeoutSeconds or be cut off by max) and returns them.
func watch(t *testing.T, url string, max int) []line {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("watch %s: %d %s", url, resp.StatusCode, body)
	}
	var out []line
	sc := bufio.NewScanner(resp.Body)
	for len(out) < max && sc.Scan() {
		var ev fakeapi.WatchEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("watch %s: bad line %q: %v", url, sc.Text(), err)
		}
		l := line{Type: ev.Type, Raw: ev.Object}
		if ev.Type != fakeapi.Error {
			var pod fakeapi.Pod
			if err := json.Unmarshal(ev.Object, &pod); err != nil {
				t.Fatal(err)
			}
			l.Key = pod.Metadata.Namespace + "/" + pod.Metadata.Name
			l.RV, _ = strconv.ParseUint(pod.Metadata.ResourceVersion, 10, 64)
		}
		out = append(out, l)
	}
	return out
}

func TestConcurrentListsMakeOneUpstreamRequest(t *testing.T) {
	fake, p, url := setup(t, fakeapi.Options{ListLatency: 100 * time.Millisecond}, Options{TTL: time.Minute})
	const n = 200
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	defer client.CloseIdleConnections()
	// Two spellings of one request: the cache key sorts the query.
	urls := []string{
		url + "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb&limit=500",
		url + "/api/v1/namespaces/default/pods?limit=500&labelSelector=app%3Dweb",
	}
	before := fake.Counts().Lists
	bodies := make([][]byte, n)
	codes := make([]int, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			resp, err := client.Get(urls[i%2])
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			codes[i] = resp.StatusCode
			bodies[i], errs[i] = io.ReadAll(resp.Body)
		}(i)
	}
	close(start)
	wg.Wait()
	for i := 0; i < n; i++ {
		if errs[i] != nil || codes[i] != http.StatusOK || !bytes.Equal(bodies[i], bodies[0]) {
			t.Fatalf("request %d: %v, status %d, %d bytes (first: %d)", i, errs[i], codes[i], len(bodies[i]), len(bodies[0]))
		}
	}
	var list fakeapi.PodList
	if err := json.Unmarshal(bodies[0], &list); err != nil || len(list.Items) != 10 {
		t.Fatalf("list: %v, %d items", err, len(list.Items))
	}
	if got := fake.Counts().Lists - before; got != 1 {
		t.Fatalf("%d identical LISTs made %d upstream LISTs, want 1", n, got)
	}
	if st := p.Stats(); st.Gets != n || st.LocalLoads != 1 {
		t.Fatalf("group stats: %+v", st)
	}
}

func TestGetIsCachedAndErrorsAreNot(t *testing.T) {
	fake, _, url := setup(t, fakeapi.Options{}, Options{TTL: time.Minute})
	for i := 0; i < 3; i++ {
		code, body := get(t, url+"/api/v1/namespaces/default/pods/pod-0003")
		var pod fakeapi.Pod
		if err := json.Unmarshal(body, &pod); code != http.StatusOK || err != nil || pod.Metadata.Name != "pod-0003" {
			t.Fatalf("GET: %d %s", code, body)
		}
	}
	if got := fake.Counts().Gets; got != 1 {
		t.Fatalf("3 GETs made %d upstream GETs, want 1", got)
	}
	for i := 0; i < 2; i++ {
		code, body := get(t, url+"/api/v1/namespaces/default/pods/missing")
		var st Status
		if err := json.Unmarshal(body, &st); code != http.StatusNotFound || err != nil || st.Reason != "NotFound" {
			t.Fatalf("GET missing: %d %s", code, body)
		}
	}
	if got := fake.Counts().Gets; got != 3 {
		t.Fatalf("two GETs of a missing pod: %d upstream GETs in all, want 3 (errors are not cached)", got)
	}
	// Other methods pass through: the fake answers them 405.
	resp, err := http.Post(url+"/api/v1/namespaces/default/pods", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d, want the upstream's 405", resp.StatusCode)
	}
}

func TestWatchResumesWithTheMissedEvents(t *testing.T) {
	fake, p, url := setup(t, fakeapi.Options{}, Options{})
	rv0 := fake.ResourceVersion()
	if _, err := fake.Churn(6); err != nil {
		t.Fatal(err)
	}
	first := watch(t, fmt.Sprintf("%s%s?watch=1&resourceVersion=%d", url, pods, rv0), 3)
	if len(first) != 3 {
		t.Fatalf("first watch: %d events", len(first))
	}
	last := first[2].RV
	if _, err := fake.Churn(6); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.WaitUntilFresh(ctx, pods, fake.ResourceVersion()); err != nil {
		t.Fatal(err)
	}
	// The whole resumed stream, to its timeout: the missed events, in
	// order, each once, and nothing else.
	resumed := watch(t, fmt.Sprintf("%s%s?watch=true&resourceVersion=%d&timeoutSeconds=1", url, pods, last), 100)
	want := fake.ChangesSince(last)
	if len(resumed) != len(want) || len(want) != 9 {
		t.Fatalf("resumed from %d: %d events, want %d: %+v", last, len(resumed), len(want), resumed)
	}
	for i, c := range want {
		if got := resumed[i]; got.Type != c.Type || got.Key != c.Key || got.RV != c.ResourceVersion {
			t.Fatalf("resumed event %d: %s %s@%d, want %s %s@%d", i, got.Type, got.Key, got.RV, c.Type, c.Key, c.ResourceVersion)
		}
	}
	if n := fake.Counts().Watches; n != 1 {
		t.Fatalf("the upstream served %d watches, want 1 (the proxy's own)", n)
	}
}

func TestWatchSelectsByNamespaceAndLabel(t *testing.T) {
	fake, _, url := setup(t, fakeapi.Options{}, Options{})
	if _, err := fake.CreatePod("kube-system", "dns", map[string]string{"app": "web"}); err != nil {
		t.Fatal(err)
	}
	if _, err := fake.Churn(3); err != nil {
		t.Fatal(err)
	}
	got := watch(t, url+"/api/v1/namespaces/default/pods?watch=1&labelSelector=app%3Dweb&timeoutSeconds=1", 100)
	if len(got) != 10 {
		t.Fatalf("got %d events, want the 10 app=web pods of default: %+v", len(got), got)
	}
	for _, l := range got {
		if l.Type != fakeapi.Added || !strings.HasPrefix(l.Key, "default/pod-") {
			t.Fatalf("unexpected event %s %s", l.Type, l.Key)
		}
	}
}

func TestWatchFromTooOldVersionGets410(t *testing.T) {
	fake, p, url := setup(t, fakeapi.Options{}, Options{Watch: edgecache.WatchOptions{Capacity: 8, MaxCapacity: 8}})
	rv0 := fake.ResourceVersion()
	if _, err := fake.Churn(20); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.WaitUntilFresh(ctx, pods, fake.ResourceVersion()); err != nil {
		t.Fatal(err)
	}
	for _, rv := range []uint64{1, rv0} { // before the proxy's list; out of the 8-event window
		got := watch(t, fmt.Sprintf("%s%s?watch=1&resourceVersion=%d", url, pods, rv), 10)
		if len(got) != 1 || got[0].Type != fakeapi.Error {
			t.Fatalf("watch from %d: %+v", rv, got)
		}
		var st Status
		if err := json.Unmarshal(got[0].Raw, &st); err != nil {
			t.Fatal(err)
		}
		prefix := fmt.Sprintf("too old resource version: %d (", rv)
		if st.Kind != "Status" || st.Status != "Failure" || st.Reason != "Expired" || st.Code != 410 || !strings.HasPrefix(st.Message, prefix) {
			t.Fatalf("watch from %d: %+v", rv, st)
		}
	}
}

func TestWatchFromFutureVersionGets504(t *testing.T) {
	fake, _, url := setup(t, fakeapi.Options{}, Options{Watch: edgecache.WatchOptions{FreshTimeout: 100 * time.Millisecond}})
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(fmt.Sprintf("%s%s?watch=1&resourceVersion=%d", url, pods, fake.ResourceVersion()+10))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusGatewayTimeout || resp.Header.Get("Retry-After") != "1" || st.Code != 504 || st.Reason != "Timeout" {
		t.Fatalf("%d %+v", resp.StatusCode, st)
	}
}
