// Command demo is `make demo`: the edgeproxy program in front of a real
// apiserver (etcd and apiextensions-apiserver serving the Widget CRD, all
// on loopback), showing with numbers what an edge agent needs of it:
//
//  1. a client-go informer syncs through the proxy with a streaming list;
//  2. a stampede of 1,000 concurrent LISTs costs the apiserver a few
//     limit=1 probes, never a full LIST (the dedup ratio, latencies, and
//     the same load sent to the apiserver directly);
//  3. a watch that disconnects resumes from its last resourceVersion and
//     gets exactly what it missed, in order;
//  4. a watch from a resourceVersion older than the window gets 410
//     Expired with the apiserver's message;
//  5. with the apiserver stopped, LISTs are served from the cache and a
//     client watch stays open with bookmarks; once it is back the next
//     write arrives on that same watch and the proxy did not list again.
//
// It prints what it saw and exits 0 when every check holds, 1 otherwise.
// --edgeproxy names the proxy binary (tests/e2e/demo.sh builds it).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/edgecache/edgecache/tests/e2e/apiserver"
	"github.com/edgecache/edgecache/tests/e2e/loadgen"
	"github.com/edgecache/edgecache/tests/e2e/proxyproc"
)

var (
	bin     = flag.String("edgeproxy", "", "the edgeproxy binary (required)")
	widgets = flag.Int("widgets", 500, "widgets in the demo namespace")
	clients = flag.Int("clients", 1000, "concurrent LISTs in the stampede")
	window  = flag.Int("window", 100, "events the proxy's watch cache keeps")
)

const ns = "demo"

type demo struct {
	ctx     context.Context
	s       *apiserver.Server
	p       *proxyproc.Proc
	up      dynamic.ResourceInterface              // the apiserver, namespace demo
	widgets dynamic.NamespaceableResourceInterface // the apiserver, all namespaces
	failed  []string
}

func main() {
	flag.Parse()
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "demo: --edgeproxy is required (make demo builds it)")
		os.Exit(2)
	}
	d, stop, err := setUp()
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
	err = d.run()
	stop()
	switch {
	case err != nil:
		fmt.Fprintf(os.Stderr, "\ndemo: FAILED: %v\n", err)
		os.Exit(1)
	case len(d.failed) > 0:
		fmt.Fprintf(os.Stderr, "\ndemo: FAILED checks:\n  %s\n", strings.Join(d.failed, "\n  "))
		os.Exit(1)
	}
	fmt.Println("\ndemo: every check passed")
}

func setUp() (*demo, func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	fmt.Println("== starting etcd and the apiserver (apiextensions-apiserver, CRD widgets.edge.example.com) on loopback")
	start := time.Now()
	s, err := apiserver.Start(ctx, apiserver.Options{})
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("apiserver: %w", err)
	}
	fmt.Printf("   ready in %v at %s (log: %s)\n", time.Since(start).Round(time.Millisecond), s.URL, s.LogPath)
	dir, err := os.MkdirTemp("", "edgecache-demo-")
	if err != nil {
		cancel()
		_ = s.Stop()
		return nil, nil, err
	}
	p, err := proxyproc.Start(ctx, *bin, dir, s.KubeconfigPath, apiserver.ResourcePath(""),
		"--window", strconv.Itoa(*window), "--bookmark-interval", "1s")
	if err != nil {
		cancel()
		_ = s.Stop()
		return nil, nil, err
	}
	fmt.Printf("== edgeproxy on %s serves %s from a watch cache (window %d events)\n", p.URL, apiserver.ResourcePath(""), *window)
	dyn, err := dynamic.NewForConfig(s.RESTConfig())
	if err != nil {
		cancel()
		return nil, nil, err
	}
	d := &demo{ctx: ctx, s: s, p: p, up: dyn.Resource(apiserver.WidgetGVR).Namespace(ns), widgets: dyn.Resource(apiserver.WidgetGVR)}
	return d, func() {
		p.Stop()
		if len(d.failed) > 0 {
			fmt.Fprintf(os.Stderr, "edgeproxy's last output:\n%s\n", p.Tail(20))
		}
		_ = s.Stop()
		_ = os.RemoveAll(dir)
		cancel()
	}, nil
}

func (d *demo) check(ok bool, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if ok {
		fmt.Println("   ok:", msg)
		return
	}
	fmt.Println("   FAILED:", msg)
	d.failed = append(d.failed, msg)
}

func (d *demo) counters() proxyproc.Counters {
	c, err := d.p.Counters(apiserver.ResourcePath(""))
	if err != nil {
		d.check(false, "read the proxy's metrics: %v", err)
	}
	return c
}

func (d *demo) run() error {
	if err := d.seed(); err != nil {
		return err
	}
	steps := []func() error{d.streamingList, d.stampede, d.resume, d.expired, d.offline}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	c := d.counters()
	fmt.Printf("\n== the proxy asked the apiserver for: %v full LIST(s), %v relist(s), %v watch(es), %v list requests in all (pages and probes)\n",
		c.FullLists, c.Relists, c.UpstreamWatches, c.ListRequests)
	return nil
}

func (d *demo) seed() error {
	start := time.Now()
	if err := apiserver.CreateWidgets(d.ctx, d.widgets, ns, *widgets); err != nil {
		return err
	}
	fmt.Printf("== %d widgets created in namespace %s in %v\n", *widgets, ns, time.Since(start).Round(time.Millisecond))
	return nil
}

// 1. A client-go informer through the proxy.
func (d *demo) streamingList() error {
	fmt.Println("\n1. a client-go informer through the proxy")
	var mu sync.Mutex
	var requests []string
	cfg := &rest.Config{Host: d.p.URL, QPS: -1}
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			requests = append(requests, r.URL.RawQuery)
			mu.Unlock()
			return rt.RoundTrip(r)
		})
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	f := dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, ns, nil)
	inf := f.ForResource(apiserver.WidgetGVR).Informer()
	ctx, cancel := context.WithCancel(d.ctx)
	defer cancel()
	start := time.Now()
	f.Start(ctx.Done())
	sctx, scancel := context.WithTimeout(ctx, time.Minute)
	defer scancel()
	if !cache.WaitForCacheSync(sctx.Done(), inf.HasSynced) {
		return errors.New("the informer did not sync in a minute")
	}
	took := time.Since(start)
	mu.Lock()
	var streams, lists int
	for _, q := range requests {
		switch {
		case strings.Contains(q, "sendInitialEvents=true"):
			streams++
		case !strings.Contains(q, "watch=true"):
			lists++
		}
	}
	mu.Unlock()
	n := len(inf.GetStore().List())
	d.check(n == *widgets, "synced %d widgets in %v", n, took.Round(time.Millisecond))
	d.check(streams == 1 && lists == 0, "by %d streaming list (sendInitialEvents=true, ended by the initial-events-end bookmark) and %d LISTs", streams, lists)
	return nil
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// 2. The stampede, then the same load on the apiserver directly.
func (d *demo) stampede() error {
	fmt.Printf("\n2. %d concurrent LISTs of the %d widgets (resourceVersion \"\": consistent, what kubectl sends)\n", *clients, *widgets)
	before := d.counters()
	proxyClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *clients}, Timeout: time.Minute}
	res, err := loadgen.Lists(proxyClient, d.p.URL+apiserver.ResourcePath(ns), *clients, 1, *widgets)
	if err != nil {
		return fmt.Errorf("through the proxy: %w", err)
	}
	after := d.counters()
	probes := after.ListRequests - before.ListRequests
	fmt.Printf("   through the proxy: p50 %v, p99 %v, all %d in %v\n", pct(res, 50), pct(res, 99), *clients, res.Wall.Round(time.Millisecond))
	d.check(after.FullLists == before.FullLists && probes >= 1,
		"the apiserver saw %v limit=1 resourceVersion probe(s) and no full LIST: %.0f LISTs per upstream request", probes, float64(*clients)/max(probes, 1))

	// The apiserver directly: it admits at most 400 reads at once
	// (--max-requests-inflight), so the same number of LISTs as 100
	// clients with 10 each, for both.
	hc, err := rest.HTTPClientFor(d.s.RESTConfig()) // HTTP/2: one connection for all 100
	if err != nil {
		return err
	}
	fmt.Printf("   the same %d LISTs from 100 clients in turn, through the proxy and to the apiserver directly:\n", *clients)
	pr, err := loadgen.Lists(proxyClient, d.p.URL+apiserver.ResourcePath(ns), 100, *clients/100, *widgets)
	if err != nil {
		return fmt.Errorf("through the proxy: %w", err)
	}
	dr, err := loadgen.Lists(hc, d.s.URL+apiserver.ResourcePath(ns), 100, *clients/100, *widgets)
	if err != nil {
		return fmt.Errorf("to the apiserver: %w", err)
	}
	fmt.Printf("   %-12s p50 %-10v p99 %-10v %6.0f LISTs/s\n", "proxy", pct(pr, 50), pct(pr, 99), pr.PerSecond())
	fmt.Printf("   %-12s p50 %-10v p99 %-10v %6.0f LISTs/s\n", "apiserver", pct(dr, 50), pct(dr, 99), dr.PerSecond())
	fmt.Printf("   throughput ratio proxy/apiserver: %.2fx\n", pr.PerSecond()/dr.PerSecond())
	return nil
}

func pct(r loadgen.Result, p int) time.Duration { return r.Percentile(p).Round(100 * time.Microsecond) }

// event is one line of a watch.
type event struct {
	Type   string `json:"type"`
	Object struct {
		Metadata struct {
			Name            string `json:"name"`
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
		Code    int    `json:"code"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
	} `json:"object"`
}

type watchConn struct {
	body   io.Closer
	events chan event
}

func (d *demo) watch(query string) (*watchConn, error) {
	req, err := http.NewRequestWithContext(d.ctx, http.MethodGet, d.p.URL+apiserver.ResourcePath(ns)+"?watch=1&"+query, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return nil, fmt.Errorf("watch %s: %s %s", query, resp.Status, b)
	}
	w := &watchConn{body: resp.Body, events: make(chan event, 1024)}
	go func() {
		defer close(w.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var ev event
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				w.events <- ev
			}
		}
	}()
	return w, nil
}

// next is the next event other than a BOOKMARK, within d.
func (w *watchConn) next(d time.Duration) (event, bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case ev, ok := <-w.events:
			if !ok {
				return event{}, false
			}
			if ev.Type != "BOOKMARK" {
				return ev, true
			}
		case <-t.C:
			return event{}, false
		}
	}
}

func (d *demo) listRV() (string, error) {
	l, err := d.up.List(d.ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return "", err
	}
	return l.GetResourceVersion(), nil
}

func (d *demo) patch(i, size int) error {
	_, err := d.up.Patch(d.ctx, fmt.Sprintf("w-%04d", i), "application/merge-patch+json",
		[]byte(fmt.Sprintf(`{"spec":{"size":%d}}`, size)), metav1.PatchOptions{})
	return err
}

// 3. Resume from the last resourceVersion seen.
func (d *demo) resume() error {
	fmt.Println("\n3. a watch disconnects and resumes from its last resourceVersion")
	rv, err := d.listRV()
	if err != nil {
		return err
	}
	w, err := d.watch("resourceVersion=" + rv)
	if err != nil {
		return err
	}
	for i := 0; i < 3; i++ {
		if err := d.patch(i, 1000+i); err != nil {
			return err
		}
	}
	last := rv
	for i := 0; i < 3; i++ {
		ev, ok := w.next(10 * time.Second)
		if !ok {
			return fmt.Errorf("event %d of the first watch did not come", i)
		}
		last = ev.Object.Metadata.ResourceVersion
	}
	w.body.Close()
	var want []string
	for i := 0; i < 20; i++ {
		if err := d.patch(10+i, 2000+i); err != nil {
			return err
		}
		want = append(want, fmt.Sprintf("MODIFIED w-%04d", 10+i))
	}
	w, err = d.watch("resourceVersion=" + last)
	if err != nil {
		return err
	}
	defer w.body.Close()
	var got []string
	for len(got) < len(want) {
		ev, ok := w.next(10 * time.Second)
		if !ok {
			break
		}
		got = append(got, ev.Type+" "+ev.Object.Metadata.Name)
	}
	_, extra := w.next(300 * time.Millisecond)
	d.check(slices.Equal(got, want) && !extra, "read 3 events up to resourceVersion %s, missed 20 writes, resumed: got exactly those 20, in order", last)
	return nil
}

// 4. 410 for a resourceVersion older than the window.
func (d *demo) expired() error {
	fmt.Printf("\n4. a watch from a resourceVersion older than the window (%d events)\n", *window)
	old, err := d.listRV()
	if err != nil {
		return err
	}
	for i := 0; i < *window+50; i++ {
		if err := d.patch(i%*widgets, 3000+i); err != nil {
			return err
		}
	}
	now, err := d.listRV()
	if err != nil {
		return err
	}
	target, _ := strconv.ParseFloat(now, 64)
	for deadline := time.Now().Add(30 * time.Second); ; {
		v, err := d.p.Metric("edgeproxy_resource_version", `resource="`+apiserver.ResourcePath("")+`"`)
		if err == nil && v >= target {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the proxy did not reach resourceVersion %s", now)
		}
		time.Sleep(20 * time.Millisecond)
	}
	w, err := d.watch("resourceVersion=" + old)
	if err != nil {
		return err
	}
	defer w.body.Close()
	ev, ok := w.next(10 * time.Second)
	d.check(ok && ev.Type == "ERROR" && ev.Object.Code == 410 && ev.Object.Reason == "Expired",
		"watch from %s after %d writes: %s %d %s %q", old, *window+50, ev.Type, ev.Object.Code, ev.Object.Reason, ev.Object.Message)
	return nil
}

// 5. The apiserver away and back.
func (d *demo) offline() error {
	fmt.Println("\n5. the apiserver stops for 5 s, then starts again")
	rv, err := d.listRV()
	if err != nil {
		return err
	}
	w, err := d.watch("allowWatchBookmarks=true&resourceVersion=" + rv)
	if err != nil {
		return err
	}
	defer w.body.Close()
	before := d.counters()
	offline0, _ := d.p.Metric("edgeproxy_offline_reads_total")
	if err := d.s.StopAPIServer(); err != nil {
		return err
	}
	fmt.Println("   apiserver stopped")
	resp, err := http.Get(d.p.URL + apiserver.ResourcePath(ns))
	n := -1
	if err == nil {
		var l struct {
			Items []json.RawMessage `json:"items"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&l)
		resp.Body.Close()
		n = len(l.Items)
	}
	offline1, _ := d.p.Metric("edgeproxy_offline_reads_total")
	d.check(n == *widgets && offline1 == offline0+1, "a consistent LIST with the apiserver away: %d widgets from the cache (offline reads %v -> %v)", n, offline0, offline1)
	bookmarks := 0
	for end := time.After(5 * time.Second); ; {
		select {
		case ev, ok := <-w.events:
			if !ok {
				return errors.New("the client watch ended while the apiserver was away")
			}
			if ev.Type == "BOOKMARK" {
				bookmarks++
			} else {
				d.check(false, "an event while the apiserver was away: %s", ev.Type)
			}
			continue
		case <-end:
		}
		break
	}
	d.check(bookmarks >= 3, "the client watch stayed open: %d bookmarks in 5 s, no other event", bookmarks)
	start := time.Now()
	if err := d.s.StartAPIServer(d.ctx); err != nil {
		return err
	}
	fmt.Printf("   apiserver back after %v\n", time.Since(start).Round(time.Millisecond))
	if err := d.patch(0, 9999); err != nil {
		return err
	}
	ev, ok := w.next(30 * time.Second)
	after := d.counters()
	d.check(ok && ev.Type == "MODIFIED" && ev.Object.Metadata.Name == "w-0000", "the next write arrived on the same client watch: %s %s", ev.Type, ev.Object.Metadata.Name)
	d.check(after.FullLists == before.FullLists && after.Relists == 0 && after.UpstreamWatches > before.UpstreamWatches,
		"the proxy resumed its upstream watch (%v -> %v watches) without listing again", before.UpstreamWatches, after.UpstreamWatches)
	return nil
}
