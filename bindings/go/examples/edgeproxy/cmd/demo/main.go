// Command demo runs the edge proxy in front of a fake kube-apiserver, both
// on loopback, and checks what it promises:
//
//  1. a stampede of identical concurrent LISTs costs one upstream LIST;
//  2. a watch that disconnects resumes from its last resourceVersion and
//     gets exactly the events it missed, each once, in order;
//  3. a watch from a resourceVersion that has left the window gets an ERROR
//     event holding a 410 Expired Status.
//
// It prints what it saw and exits 0 when every check holds, 1 otherwise.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/edgecache/edgecache/bindings/go/edgecache"
	"github.com/edgecache/edgecache/bindings/go/examples/edgeproxy"
	"github.com/edgecache/edgecache/bindings/go/examples/edgeproxy/fakeapi"
)

const pods = "/api/v1/pods"

var (
	clients     = flag.Int("clients", 1000, "concurrent identical LISTs")
	listLatency = flag.Duration("list-latency", 200*time.Millisecond, "the fake upstream's LIST latency")
	ttl         = flag.Duration("ttl", 2*time.Second, "how long the proxy serves a cached LIST")
	window      = flag.Int("window", 100, "events the proxy's watch cache keeps")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "\ndemo: FAILED: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("\ndemo: every check passed")
}

func run() error {
	if *clients < 1 || *window < 1 {
		return errors.New("-clients and -window must be positive")
	}
	// Each client connection is two descriptors here: the client's end and
	// the proxy's.
	if err := raiseFileLimit(2*uint64(*clients) + 256); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()

	fake := fakeapi.New(fakeapi.Options{ListLatency: *listLatency})
	if _, err := fake.Seed("default", 100); err != nil {
		return err
	}
	upstreamURL, stopUpstream, err := serve(fake)
	if err != nil {
		return err
	}
	defer stopUpstream()
	defer fake.Close() // ends its watch streams first (defers run last-in, first-out)

	proxy, err := edgeproxy.New(edgeproxy.Options{
		Upstream: upstreamURL,
		TTL:      *ttl,
		Watched:  []string{pods},
		Watch:    edgecache.WatchOptions{Capacity: *window, MaxCapacity: *window},
	})
	if err != nil {
		return err
	}
	defer proxy.Close()
	proxyURL, stopProxy, err := serve(proxy)
	if err != nil {
		return err
	}
	defer stopProxy()
	if err := proxy.WaitSynced(ctx); err != nil {
		return fmt.Errorf("the proxy did not list the upstream: %w", err)
	}
	fmt.Printf("fake apiserver %s (LIST latency %v, 100 pods), edge proxy %s (LIST TTL %v, watch window %d events)\n",
		upstreamURL, *listLatency, proxyURL, *ttl, *window)

	if err := stampede(ctx, fake, proxy, proxyURL); err != nil {
		return err
	}
	resumeRV, err := resume(ctx, fake, proxy, proxyURL)
	if err != nil {
		return err
	}
	if err := expired(ctx, fake, proxy, proxyURL, resumeRV); err != nil {
		return err
	}
	if n := fake.Counts().Watches; n != 1 {
		return fmt.Errorf("the upstream served %d watches; the proxy should need only its own one", n)
	}
	fmt.Println("\nupstream watches: 1 (the proxy's own), for 3 client watches")
	return nil
}

// serve runs h on a loopback port and returns its URL and a stop function.
func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

// stampede fires the identical LISTs at once and checks that the upstream
// saw (nearly) one.
func stampede(ctx context.Context, fake *fakeapi.Server, proxy *edgeproxy.Proxy, proxyURL string) error {
	n := *clients
	fmt.Printf("\n1. %d concurrent identical LISTs through the proxy\n", n)
	transport := &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: n, IdleConnTimeout: 30 * time.Second}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	url := proxyURL + "/api/v1/namespaces/default/pods?limit=500"

	type result struct {
		latency time.Duration
		status  int
		body    []byte
		err     error
	}
	results := make([]result, n)
	before := fake.Counts().Lists
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(r *result) {
			defer wg.Done()
			<-start
			t0 := time.Now()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				r.err = err
				return
			}
			resp, err := client.Do(req)
			if err != nil {
				r.err = err
				return
			}
			r.body, r.err = io.ReadAll(resp.Body)
			resp.Body.Close()
			r.status, r.latency = resp.StatusCode, time.Since(t0)
		}(&results[i])
	}
	close(start)
	wg.Wait()
	upstream := fake.Counts().Lists - before

	latencies := make([]time.Duration, 0, n)
	for i, r := range results {
		switch {
		case r.err != nil:
			return fmt.Errorf("LIST %d failed: %w", i, r.err)
		case r.status != http.StatusOK:
			return fmt.Errorf("LIST %d: status %d: %s", i, r.status, r.body)
		case !bytes.Equal(r.body, results[0].body):
			return fmt.Errorf("LIST %d answered differently from LIST 0", i)
		}
		latencies = append(latencies, r.latency)
	}
	var list fakeapi.PodList
	if err := json.Unmarshal(results[0].body, &list); err != nil || len(list.Items) != 100 {
		return fmt.Errorf("the LIST answer is not the 100 pods: %v", err)
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	st := proxy.Stats()
	fmt.Printf("   upstream LIST requests: %d\n", upstream)
	fmt.Printf("   dedup ratio:            %d client requests / %d upstream = %.0f\n", n, upstream, float64(n)/math.Max(1, float64(upstream)))
	fmt.Printf("   client latency:         p50 %v  p90 %v  p99 %v  max %v\n",
		pct(latencies, 0.50), pct(latencies, 0.90), pct(latencies, 0.99), latencies[n-1])
	fmt.Printf("   proxy cache:            %d gets, %d cache hits, %d loads, %d ran after dedup, %d upstream fetches\n",
		st.Gets, st.CacheHits, st.Loads, st.LoadsDeduped, st.LocalLoads)
	if upstream < 1 || upstream > 2 {
		return fmt.Errorf("%d identical LISTs cost %d upstream LISTs; want 1 (2 at most)", n, upstream)
	}
	return nil
}

// pct is the q-quantile of sorted durations (nearest rank).
func pct(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	if i < 0 {
		i = 0
	}
	return sorted[i].Round(time.Microsecond)
}

// event is one watch line, decoded.
type event struct {
	Type string
	Key  string
	RV   uint64
	Raw  string
}

func (e event) String() string { return fmt.Sprintf("%-8s %-20s rv %d", e.Type, e.Key, e.RV) }

// watch opens a watch through the proxy and reads at most max events (the
// stream may end sooner: timeoutSeconds, an ERROR event). Returning closes
// the connection: the client disconnects.
func watch(ctx context.Context, url string, max int) ([]event, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("watch %s: status %d: %s", url, resp.StatusCode, body)
	}
	var out []event
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for len(out) < max && sc.Scan() {
		var ev fakeapi.WatchEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return out, fmt.Errorf("watch %s: bad line %q: %w", url, sc.Text(), err)
		}
		e := event{Type: ev.Type, Raw: sc.Text()}
		if ev.Type != fakeapi.Error {
			var pod fakeapi.Pod
			if err := json.Unmarshal(ev.Object, &pod); err != nil {
				return out, fmt.Errorf("watch %s: bad object %q: %w", url, sc.Text(), err)
			}
			e.Key = pod.Metadata.Namespace + "/" + pod.Metadata.Name
			e.RV, _ = strconv.ParseUint(pod.Metadata.ResourceVersion, 10, 64)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// resume watches, disconnects after a few events, lets more happen, and
// resumes from the last resourceVersion it saw; it returns that version.
func resume(ctx context.Context, fake *fakeapi.Server, proxy *edgeproxy.Proxy, proxyURL string) (uint64, error) {
	fmt.Println("\n2. a watch that disconnects and resumes")
	rv0 := fake.ResourceVersion()
	first, err := fake.Churn(10)
	if err != nil {
		return 0, err
	}
	got, err := watch(ctx, fmt.Sprintf("%s%s?watch=1&resourceVersion=%d", proxyURL, pods, rv0), 4)
	if err != nil {
		return 0, err
	}
	if len(got) != 4 {
		return 0, fmt.Errorf("the first watch ended after %d events", len(got))
	}
	fmt.Printf("   watch from rv %d read 4 events and disconnected:\n", rv0)
	for i, e := range got {
		fmt.Printf("     %v\n", e)
		if c := first[i]; e.Type != c.Type || e.Key != c.Key || e.RV != c.ResourceVersion {
			return 0, fmt.Errorf("watch event %d is %v, want %s %s rv %d", i, e, c.Type, c.Key, c.ResourceVersion)
		}
	}
	last := got[3].RV
	if _, err := fake.Churn(8); err != nil {
		return 0, err
	}
	if err := proxy.WaitUntilFresh(ctx, pods, fake.ResourceVersion()); err != nil {
		return 0, fmt.Errorf("the proxy did not catch up with the upstream: %w", err)
	}
	want := fake.ChangesSince(last)
	// timeoutSeconds ends the stream, so the read sees all of it: anything
	// beyond the missed events would be a duplicate or worse.
	resumed, err := watch(ctx, fmt.Sprintf("%s%s?watch=1&resourceVersion=%d&timeoutSeconds=1", proxyURL, pods, last), len(want)+10)
	if err != nil {
		return 0, err
	}
	fmt.Printf("   resumed from rv %d (missed meanwhile: %d events), got %d:\n", last, len(want), len(resumed))
	seen := map[uint64]bool{}
	for i, e := range resumed {
		fmt.Printf("     %v\n", e)
		switch {
		case e.RV <= last || seen[e.RV]:
			return 0, fmt.Errorf("resumed event %v was delivered before", e)
		case i >= len(want):
			return 0, fmt.Errorf("resumed event %v is one too many", e)
		case e.Type != want[i].Type || e.Key != want[i].Key || e.RV != want[i].ResourceVersion:
			return 0, fmt.Errorf("resumed event %d is %v, want %s %s rv %d", i, e, want[i].Type, want[i].Key, want[i].ResourceVersion)
		}
		seen[e.RV] = true
	}
	if len(resumed) != len(want) {
		return 0, fmt.Errorf("the resumed watch missed events: got %d of %d", len(resumed), len(want))
	}
	fmt.Println("   every missed event arrived once, in order")
	return last, nil
}

// expired pushes rv out of the proxy's window and watches from it.
func expired(ctx context.Context, fake *fakeapi.Server, proxy *edgeproxy.Proxy, proxyURL string, rv uint64) error {
	fmt.Printf("\n3. a watch from rv %d after %d more changes (the window holds %d)\n", rv, *window+50, *window)
	if _, err := fake.Churn(*window + 50); err != nil {
		return err
	}
	if err := proxy.WaitUntilFresh(ctx, pods, fake.ResourceVersion()); err != nil {
		return fmt.Errorf("the proxy did not catch up with the upstream: %w", err)
	}
	got, err := watch(ctx, fmt.Sprintf("%s%s?watch=1&resourceVersion=%d", proxyURL, pods, rv), 5)
	if err != nil {
		return err
	}
	if len(got) != 1 || got[0].Type != fakeapi.Error {
		return fmt.Errorf("want one ERROR event, got %d events: %v", len(got), got)
	}
	fmt.Printf("   %s\n", got[0].Raw)
	var line struct {
		Object edgeproxy.Status `json:"object"`
	}
	if err := json.Unmarshal([]byte(got[0].Raw), &line); err != nil {
		return err
	}
	st, prefix := line.Object, fmt.Sprintf("too old resource version: %d (", rv)
	if st.Kind != "Status" || st.Status != "Failure" || st.Reason != "Expired" || st.Code != http.StatusGone ||
		len(st.Message) < len(prefix) || st.Message[:len(prefix)] != prefix {
		return fmt.Errorf("the ERROR event is not a 410 Expired Status: %+v", st)
	}
	fmt.Println("   410 Expired, as the apiserver answers: the client must list again")
	return nil
}
