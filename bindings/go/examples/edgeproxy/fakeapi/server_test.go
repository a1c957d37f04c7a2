package fakeapi

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

func newServer(t *testing.T, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	api := New(opts)
	ts := httptest.NewServer(api)
	t.Cleanup(func() {
		api.Close()
		ts.Close()
	})
	return api, ts
}

func getJSON(t *testing.T, url string, v interface{}) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("decode %s: %v", url, err)
	}
	return resp.StatusCode
}

// watchEvents reads n watch events from url, giving up after a few seconds.
func watchEvents(url string, n int) ([]WatchEvent, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var out []WatchEvent
	for len(out) < n && sc.Scan() {
		var ev WatchEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return out, fmt.Errorf("bad line %q: %v", sc.Text(), err)
		}
		out = append(out, ev)
	}
	if len(out) < n {
		return out, fmt.Errorf("watch %s: got %d events, want %d (%v)", url, len(out), n, sc.Err())
	}
	return out, nil
}

func readEvents(t *testing.T, url string, n int) []WatchEvent {
	t.Helper()
	evs, err := watchEvents(url, n)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func objectRV(t *testing.T, raw json.RawMessage) uint64 {
	t.Helper()
	var p Pod
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	rv, err := strconv.ParseUint(p.Metadata.ResourceVersion, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return rv
}

func TestListGetAndCounts(t *testing.T) {
	api, ts := newServer(t, Options{ListLatency: 20 * time.Millisecond})
	rv, err := api.Seed("default", 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.CreatePod("kube-system", "dns", map[string]string{"app": "dns"}); err != nil {
		t.Fatal(err)
	}

	var list PodList
	if code := getJSON(t, ts.URL+"/api/v1/namespaces/default/pods", &list); code != 200 {
		t.Fatalf("LIST: %d", code)
	}
	if len(list.Items) != 4 || list.Metadata.ResourceVersion != strconv.FormatUint(rv+1, 10) {
		t.Fatalf("LIST: %d items at rv %s", len(list.Items), list.Metadata.ResourceVersion)
	}
	if code := getJSON(t, ts.URL+"/api/v1/pods?labelSelector=app%3Dweb", &list); code != 200 || len(list.Items) != 2 {
		t.Fatalf("LIST app=web: %d, %d items", code, len(list.Items))
	}

	var p Pod
	if code := getJSON(t, ts.URL+"/api/v1/namespaces/default/pods/pod-0001", &p); code != 200 || p.Metadata.Labels["app"] != "db" {
		t.Fatalf("GET: %d %+v", code, p)
	}
	var st Status
	if code := getJSON(t, ts.URL+"/api/v1/namespaces/default/pods/nope", &st); code != 404 || st.Reason != "NotFound" {
		t.Fatalf("GET missing: %d %+v", code, st)
	}
	if got := api.Counts(); got != (Counts{Lists: 2, Gets: 2}) {
		t.Fatalf("counts: %+v", got)
	}
}

func TestWatchResumesAndExpires(t *testing.T) {
	api, ts := newServer(t, Options{History: 10})
	if _, err := api.Seed("default", 3); err != nil {
		t.Fatal(err)
	}
	// From 0: the current state as ADDED events.
	evs := readEvents(t, ts.URL+"/api/v1/pods?watch=1", 3)
	for i, ev := range evs {
		if ev.Type != Added || objectRV(t, ev.Object) != uint64(i+1) {
			t.Fatalf("state event %d: %s rv %d", i, ev.Type, objectRV(t, ev.Object))
		}
	}

	changes, err := api.Churn(6)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{Added, Modified, Deleted, Added, Modified, Deleted}
	for i, c := range changes {
		if c.Type != want[i] || c.ResourceVersion != uint64(4+i) {
			t.Fatalf("change %d: %+v", i, c)
		}
	}
	// Resume from rv 5: exactly the changes after it, in order.
	evs = readEvents(t, ts.URL+"/api/v1/namespaces/default/pods?watch=true&resourceVersion=5", 4)
	for i, ev := range evs {
		if ev.Type != want[i+2] || objectRV(t, ev.Object) != uint64(6+i) {
			t.Fatalf("resumed event %d: %s rv %d", i, ev.Type, objectRV(t, ev.Object))
		}
	}

	// A live event reaches an open watch.
	type result struct {
		evs []WatchEvent
		err error
	}
	done := make(chan result, 1)
	url := fmt.Sprintf("%s/api/v1/pods?watch=1&resourceVersion=%d", ts.URL, api.ResourceVersion())
	go func() {
		evs, err := watchEvents(url, 1)
		done <- result{evs, err}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for api.Counts().Watches < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	rv, err := api.CreatePod("default", "live", nil)
	if err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	if res.evs[0].Type != Added || objectRV(t, res.evs[0].Object) != rv {
		t.Fatalf("live event: %+v", res.evs[0])
	}

	// Two more changes push rv 1 and 2 out of the 10-change history, so a
	// watch from rv 1 (which needs rv 2 onwards) is too old.
	if _, err := api.Churn(2); err != nil {
		t.Fatal(err)
	}
	evs = readEvents(t, ts.URL+"/api/v1/pods?watch=1&resourceVersion=1", 1)
	var st Status
	if err := json.Unmarshal(evs[0].Object, &st); err != nil {
		t.Fatal(err)
	}
	if evs[0].Type != Error || st.Code != 410 || st.Reason != "Expired" || st.Message != "too old resource version: 1 (2)" {
		t.Fatalf("expired watch: %s %+v", evs[0].Type, st)
	}
	if got := len(api.ChangesSince(0)); got != 10 {
		t.Fatalf("history: %d changes", got)
	}
}

func TestCloseEndsWatches(t *testing.T) {
	api, ts := newServer(t, Options{})
	resp, err := http.Get(ts.URL + "/api/v1/pods?watch=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	api.Close()
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, resp.Body)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch still open after Close")
	}
}
