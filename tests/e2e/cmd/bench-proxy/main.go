// Command bench-proxy measures edgeproxy against the apiserver it fronts,
// side by side in one run (docs/benchmarks.md, `make bench-proxy`):
//
//   - LIST: C clients each sending LISTs of one namespace's widgets one
//     after another, through the proxy and to the apiserver directly, for
//     resourceVersion "" (consistent) and "0"; LISTs/s, p50, p99 and the
//     ratio.
//   - Fan-out: W watch clients on the collection, through the proxy or
//     directly; E writes to the apiserver; the time until every client
//     has every event, events/s delivered, and the proxy's CPU time and
//     resident memory.
//
// The apiserver runs in this process (etcd + apiextensions-apiserver) and
// the load generator too, so the "direct" numbers share two cores with
// both: read the ratios, not the absolute numbers.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/edgecache/edgecache/tests/e2e/apiserver"
	"github.com/edgecache/edgecache/tests/e2e/loadgen"
	"github.com/edgecache/edgecache/tests/e2e/proxyproc"
)

var (
	bin      = flag.String("edgeproxy", "", "the edgeproxy binary (required)")
	widgets  = flag.Int("widgets", 500, "widgets in the listed namespace")
	clients  = flag.Int("clients", 50, "concurrent LIST clients")
	each     = flag.Int("each", 20, "LISTs per client")
	watchers = flag.Int("watchers", 1000, "watch clients in the fan-out")
	events   = flag.Int("events", 200, "writes in the fan-out")
)

const ns = "bench"

func main() {
	flag.Parse()
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "bench-proxy: --edgeproxy is required")
		os.Exit(2)
	}
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "bench-proxy: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	s, err := apiserver.Start(ctx, apiserver.Options{})
	if err != nil {
		return err
	}
	defer s.Stop()
	dir, err := os.MkdirTemp("", "edgecache-bench-proxy-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := proxyproc.Start(ctx, *bin, dir, s.KubeconfigPath, apiserver.ResourcePath(""))
	if err != nil {
		return err
	}
	defer p.Stop()
	dyn, err := dynamic.NewForConfig(s.RESTConfig())
	if err != nil {
		return err
	}
	up := dyn.Resource(apiserver.WidgetGVR).Namespace(ns)
	if err := apiserver.CreateWidgets(ctx, dyn.Resource(apiserver.WidgetGVR), ns, *widgets); err != nil {
		return err
	}
	// HTTP/1.1, a connection per client as separate agents have: over
	// HTTP/2 the apiserver would cap one connection's concurrent streams
	// (watches beyond the cap wait for a free stream).
	// A transport of our own: client-go's keeps 25 idle connections per
	// host, and the clients above it would redo TLS handshakes.
	tlsCfg, err := rest.TLSConfigFor(s.RESTConfig())
	if err != nil {
		return err
	}
	tlsCfg.NextProtos = []string{"http/1.1"}
	direct := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg, MaxIdleConnsPerHost: *watchers}}
	viaProxy := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *watchers}}
	fmt.Printf("edgeproxy vs the apiserver (apiextensions-apiserver v0.37, etcd embedded), %d widgets of ~%d B\n",
		*widgets, widgetSize(viaProxy, p.URL))

	fmt.Printf("\nLIST of %d widgets, %d clients x %d LISTs\n", *widgets, *clients, *each)
	fmt.Printf("%-28s %10s %10s %10s\n", "", "LISTs/s", "p50", "p99")
	for _, q := range []struct{ name, query string }{{`resourceVersion=""`, ""}, {`resourceVersion="0"`, "?resourceVersion=0"}} {
		path := apiserver.ResourcePath(ns) + q.query
		// A warm-up round each, then the measured one.
		if _, err := loadgen.Lists(viaProxy, p.URL+path, *clients, 1, *widgets); err != nil {
			return err
		}
		pr, err := loadgen.Lists(viaProxy, p.URL+path, *clients, *each, *widgets)
		if err != nil {
			return fmt.Errorf("proxy: %w", err)
		}
		if _, err := loadgen.Lists(direct, s.URL+path, *clients, 1, *widgets); err != nil {
			return err
		}
		dr, err := loadgen.Lists(direct, s.URL+path, *clients, *each, *widgets)
		if err != nil {
			return fmt.Errorf("apiserver: %w", err)
		}
		row := func(name string, r loadgen.Result) {
			fmt.Printf("%-28s %10.0f %10v %10v\n", name, r.PerSecond(), r.Percentile(50).Round(100*time.Microsecond), r.Percentile(99).Round(100*time.Microsecond))
		}
		row("proxy "+q.name, pr)
		row("apiserver "+q.name, dr)
		fmt.Printf("%-28s %10.2fx\n", "ratio proxy/apiserver", pr.PerSecond()/dr.PerSecond())
	}

	fmt.Printf("\nfan-out: %d watch clients, %d writes\n", *watchers, *events)
	fmt.Printf("%-12s %12s %14s %12s %12s\n", "", "all in", "events/s", "proxy CPU", "proxy RSS")
	round := 0
	for _, target := range []struct {
		name string
		hc   *http.Client
		url  string
	}{{"proxy", viaProxy, p.URL}, {"apiserver", direct, s.URL}} {
		cpu0, _, _ := p.Usage()
		round++
		took, err := fanOut(ctx, target.hc, target.url, up, round)
		if err != nil {
			return fmt.Errorf("fan-out %s: %w", target.name, err)
		}
		cpu1, rss, _ := p.Usage()
		delivered := float64(*watchers) * float64(*events)
		cpuCol, rssCol := "-", "-"
		if target.name == "proxy" {
			cpuCol, rssCol = (cpu1 - cpu0).Round(10*time.Millisecond).String(), fmt.Sprintf("%d MiB", rss>>20)
		}
		fmt.Printf("%-12s %12v %14.0f %12s %12s\n", target.name, took.Round(time.Millisecond), delivered/took.Seconds(), cpuCol, rssCol)
	}
	return nil
}

func widgetSize(hc *http.Client, base string) int {
	resp, err := hc.Get(base + apiserver.ResourcePath(ns) + "/w-0000")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&raw)
	return len(raw)
}

// fanOut opens *watchers watches of the namespace at base from its current
// resourceVersion, makes *events patches (values of this round), and returns how long it took from
// the first patch until every watcher had every event.
func fanOut(ctx context.Context, hc *http.Client, base string, up dynamic.ResourceInterface, round int) (time.Duration, error) {
	l, err := up.List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return 0, err
	}
	rv := l.GetResourceVersion()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var done sync.WaitGroup
	var opened, failed, received atomic.Int64
	var lastErr atomic.Value
	url := base + apiserver.ResourcePath(ns) + "?watch=1&resourceVersion=" + rv
	for i := 0; i < *watchers; i++ {
		done.Add(1)
		go func() {
			defer done.Done()
			req, _ := http.NewRequestWithContext(wctx, http.MethodGet, url, nil)
			resp, err := hc.Do(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				failed.Add(1)
				return
			}
			defer resp.Body.Close()
			opened.Add(1)
			// Decode, not split lines: the apiserver does not end its
			// events with a newline (the proxy does).
			dec := json.NewDecoder(resp.Body)
			n := 0
			for n < *events {
				var ev json.RawMessage
				if err := dec.Decode(&ev); err != nil {
					lastErr.Store(fmt.Sprintf("after %d events: %v", n, err))
					break
				}
				n++
				received.Add(1)
			}
			if n < *events {
				failed.Add(1)
			}
		}()
	}
	for deadline := time.Now().Add(time.Minute); opened.Load()+failed.Load() < int64(*watchers); {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%d of %d watches opened in a minute", opened.Load(), *watchers)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if failed.Load() > 0 {
		return 0, fmt.Errorf("%d watches failed to open", failed.Load())
	}
	start := time.Now()
	for i := 0; i < *events; i++ {
		// A new value every round: a patch that changes nothing makes no
		// event.
		patch := []byte(`{"spec":{"size":` + strconv.Itoa(round*1000000+i) + `}}`)
		if _, err := up.Patch(ctx, fmt.Sprintf("w-%04d", i%*widgets), "application/merge-patch+json", patch, metav1.PatchOptions{}); err != nil {
			return 0, err
		}
	}
	waited := make(chan struct{})
	go func() { done.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(time.Duration(*events) * time.Second):
		return 0, fmt.Errorf("not every watcher got its %d events in time: %d of %d events received (last error: %v)", *events, received.Load(), *events**watchers, lastErr.Load())
	}
	if failed.Load() > 0 {
		return 0, fmt.Errorf("%d watchers ended early", failed.Load())
	}
	return time.Since(start), nil
}
