package throughproxy

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

// informer is a client-go shared informer on widgets through the proxy,
// with its own recorder.
type informer struct {
	name string
	rec  *recorder
	inf  cache.SharedIndexInformer
	opts metav1.ListOptions // its selectors, to list the same on the apiserver
	ns   string
	stop context.CancelFunc
}

func startInformer(t *testing.T, p *proxyProc, name, ns string, opts metav1.ListOptions) *informer {
	t.Helper()
	rec := newRecorder()
	cfg := p.config()
	cfg.WrapTransport = rec.wrap
	client := through(t, cfg)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector, o.FieldSelector = opts.LabelSelector, opts.FieldSelector
			return client.Namespace(ns).List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector, o.FieldSelector = opts.LabelSelector, opts.FieldSelector
			return client.Namespace(ns).Watch(ctx, o)
		},
	}
	inf := cache.NewSharedIndexInformer(lw, &unstructured.Unstructured{}, 0, cache.Indexers{})
	ctx, cancel := context.WithCancel(context.Background())
	go inf.RunWithContext(ctx)
	t.Cleanup(cancel)
	i := &informer{name: name, rec: rec, inf: inf, opts: opts, ns: ns, stop: cancel}
	sctx, scancel := context.WithTimeout(ctx, 60*time.Second)
	defer scancel()
	if !cache.WaitForCacheSync(sctx.Done(), inf.HasSynced) {
		t.Fatalf("informer %s did not sync in 60 s; its requests: %v", name, i.requests())
	}
	return i
}

// store is the informer's view: name -> resourceVersion.
func (i *informer) store() map[string]string {
	out := map[string]string{}
	for _, o := range i.inf.GetStore().List() {
		u := o.(*unstructured.Unstructured)
		out[u.GetName()] = u.GetResourceVersion()
	}
	return out
}

func (i *informer) requests() string {
	var parts []string
	for _, r := range i.rec.log() {
		parts = append(parts, r.Method+" "+r.Path+"?"+r.Query.Encode())
	}
	return strings.Join(parts, "\n  ")
}

// listsAndStreams counts the informer's plain LISTs and streaming lists.
func (i *informer) listsAndStreams() (lists, streams int) {
	return i.rec.count(recorded.isList), i.rec.count(recorded.isStreamingList)
}

// converge waits until every informer's store equals the apiserver's state
// for its selectors, then checks it once more and fails on a difference.
func converge(t *testing.T, ctx context.Context, infs []*informer, within time.Duration) {
	t.Helper()
	for _, i := range infs {
		var last string
		ok := eventually(within, func() bool {
			want, _ := state(t, ctx, i.ns, i.opts)
			last = diff(i.store(), want)
			return last == ""
		})
		if !ok {
			t.Fatalf("informer %s never matched the apiserver: %s", i.name, last)
		}
	}
}

// checkStreamingOnly asserts an informer made exactly one streaming list
// and no LIST: it synced through sendInitialEvents and never relisted.
func checkStreamingOnly(t *testing.T, infs []*informer) {
	t.Helper()
	for _, i := range infs {
		lists, streams := i.listsAndStreams()
		if lists != 0 || streams != 1 {
			t.Errorf("informer %s: %d LISTs and %d streaming lists, want 0 and 1; requests:\n  %s", i.name, lists, streams, i.requests())
		}
	}
}

// churn makes n writes in ns on the apiserver with workers goroutines:
// creates, then updates, then deletes of a share of what it created.
// Labels alternate parity=even/odd by index. It returns how many objects it
// created, updated and deleted.
func churn(t *testing.T, ctx context.Context, ns string, n, workers int) (created, updated, deleted int) {
	t.Helper()
	c := direct(t).Namespace(ns)
	creates := n * 2 / 5
	updates := n * 2 / 5
	deletes := n - creates - updates
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			mine := func(i int) bool { return i%workers == w }
			for i := 0; i < creates; i++ {
				if !mine(i) {
					continue
				}
				parity := map[bool]string{true: "even", false: "odd"}[i%2 == 0]
				if _, err := c.Create(ctx, widget(ns, fmt.Sprintf("w-%05d", i), map[string]string{"parity": parity}, i), metav1.CreateOptions{}); err != nil {
					errs <- fmt.Errorf("create %d: %w", i, err)
					return
				}
			}
			for j := 0; j < updates; j++ {
				i := j % creates
				if !mine(i) {
					continue
				}
				patch := fmt.Sprintf(`{"spec":{"size":%d}}`, 100000+j)
				if _, err := c.Patch(ctx, fmt.Sprintf("w-%05d", i), "application/merge-patch+json", []byte(patch), metav1.PatchOptions{}); err != nil {
					errs <- fmt.Errorf("patch %d: %w", i, err)
					return
				}
			}
			for j := 0; j < deletes; j++ {
				i := (j * 7) % creates // spread over the names, each at most once
				if !mine(i) {
					continue
				}
				if err := c.Delete(ctx, fmt.Sprintf("w-%05d", i), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
					errs <- fmt.Errorf("delete %d: %w", i, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return creates, updates, deletes
}

// Scenario (a): three informers (all widgets of a namespace; a label
// selector; a field selector) sync through the proxy with streaming lists;
// 10,000 creates, updates and deletes later every store equals the
// apiserver's state, no informer listed again, and the proxy itself made
// one full LIST and one WATCH upstream.
func TestInformersFollowTenThousandWrites(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ns := namespace(t)
	p := startProxy(t, "--bookmark-interval", "2s")
	infs := []*informer{
		startInformer(t, p, "all", ns, metav1.ListOptions{}),
		startInformer(t, p, "even", ns, metav1.ListOptions{LabelSelector: "parity=even"}),
		startInformer(t, p, "by-namespace-field", "", metav1.ListOptions{FieldSelector: "metadata.namespace=" + ns}),
	}
	// The third lists all namespaces: compare it with the namespace's state.
	infs[2].ns = ns
	infs[2].opts = metav1.ListOptions{}

	start := time.Now()
	created, updated, deleted := churn(t, ctx, ns, 10000, 16)
	t.Logf("%d creates, %d updates, %d deletes on the apiserver in %v", created, updated, deleted, time.Since(start).Round(time.Millisecond))
	converge(t, ctx, infs, 60*time.Second)
	if got := len(infs[0].store()); got != created-deletedNames(created, deleted) {
		t.Errorf("informer all holds %d widgets, want %d", got, created-deletedNames(created, deleted))
	}
	checkStreamingOnly(t, infs)
	c := p.counters(t)
	if c.FullLists != 1 || c.Relists != 0 || c.UpstreamWatches != 1 {
		t.Errorf("upstream: %+v, want one full LIST, no relist, one WATCH", c)
	}
	t.Logf("proxy upstream: %+v (list requests beyond the full list are limit=1 resourceVersion probes of consistent reads)", c)
	for _, i := range infs {
		// The informers' own watches stayed open: one streaming list, no
		// other watch.
		if n := i.rec.count(recorded.isWatch); n != 1 {
			t.Errorf("informer %s opened %d watches, want 1:\n  %s", i.name, n, i.requests())
		}
	}
}

// deletedNames is how many distinct names churn deleted.
func deletedNames(creates, deletes int) int {
	seen := map[int]bool{}
	for j := 0; j < deletes; j++ {
		seen[(j*7)%creates] = true
	}
	return len(seen)
}

// Scenario (b): the apiserver stops for 10 s and starts again. The
// informers' watches on the proxy stay open (no new watch, no relist),
// and what is written afterwards reaches them.
func TestApiserverRestartKeepsClientWatchesOpen(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := namespace(t)
	seed(t, ctx, ns, 20)
	p := startProxy(t, "--bookmark-interval", "1s")
	infs := []*informer{
		startInformer(t, p, "a", ns, metav1.ListOptions{}),
		startInformer(t, p, "b", ns, metav1.ListOptions{}),
	}
	converge(t, ctx, infs, 30*time.Second)
	// One write after the sync: a periodic bookmark at the resourceVersion
	// that ended the initial events would tell nothing new, and the proxy,
	// like the apiserver, sends none there.
	if _, err := direct(t).Namespace(ns).Create(ctx, widget(ns, "mid", nil, 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	converge(t, ctx, infs, 30*time.Second)
	before := p.counters(t)
	bookmarks := p.metric(t, "edgeproxy_bookmarks_sent_total", widgetsLabel)

	if err := upstream.RestartAPIServer(ctx, 10*time.Second); err != nil {
		t.Fatalf("restart: %v", err)
	}
	for i := 0; i < 5; i++ {
		if _, err := direct(t).Namespace(ns).Create(ctx, widget(ns, fmt.Sprintf("after-%02d", i), nil, i), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	converge(t, ctx, infs, 30*time.Second)
	checkStreamingOnly(t, infs)
	for _, i := range infs {
		if n := i.rec.count(recorded.isWatch); n != 1 {
			t.Errorf("informer %s opened %d watches across the restart, want 1:\n  %s", i.name, n, i.requests())
		}
	}
	after := p.counters(t)
	if after.FullLists != before.FullLists || after.Relists != 0 {
		t.Errorf("the proxy listed again across the restart: before %+v, after %+v", before, after)
	}
	if after.UpstreamWatches <= before.UpstreamWatches {
		t.Errorf("the proxy's upstream watch did not resume: before %+v, after %+v", before, after)
	}
	// Ten seconds away with a one-second interval: the open watches got
	// bookmarks meanwhile (two watchers).
	if got := p.metric(t, "edgeproxy_bookmarks_sent_total", widgetsLabel) - bookmarks; got < 10 {
		t.Errorf("%v bookmarks sent while the apiserver was away, want at least 10", got)
	}
	t.Logf("across the restart: %+v -> %+v", before, after)
}

// Scenario (c): a client whose resourceVersion left the proxy's window
// gets 410 Expired from the proxy; the informer's relist after it is
// answered by the proxy from its cache, never by the apiserver.
func TestWindowExpiryAndRelistServedByTheProxy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := namespace(t)
	seed(t, ctx, ns, 10)
	p := startProxy(t, "--window", "50")
	inf := startInformer(t, p, "lagging", ns, metav1.ListOptions{})
	converge(t, ctx, []*informer{inf}, 30*time.Second)

	// client-go takes a watch that ends within a second of its start with
	// no event for a failure and lists again; give this one an event.
	if _, err := direct(t).Namespace(ns).Create(ctx, widget(ns, "w-extra", nil, 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	converge(t, ctx, []*informer{inf}, 30*time.Second)
	_, oldRV := state(t, ctx, ns, metav1.ListOptions{})

	// The informer's watch ends cleanly and its next one is held back
	// while 200 writes push its resourceVersion out of the window.
	release := inf.rec.hold()
	inf.rec.endWatches()
	if !eventually(10*time.Second, func() bool { return inf.rec.openWatches() == 0 }) {
		t.Fatal("the informer's watch did not end")
	}
	c := direct(t).Namespace(ns)
	for j := 0; j < 200; j++ {
		patch := fmt.Sprintf(`{"spec":{"size":%d}}`, 1000+j)
		if _, err := c.Patch(ctx, fmt.Sprintf("w-%04d", j%10), "application/merge-patch+json", []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	_, newRV := state(t, ctx, ns, metav1.ListOptions{})
	want, _ := strconv.ParseFloat(newRV, 64)
	if !eventually(30*time.Second, func() bool { return p.metric(t, "edgeproxy_resource_version", widgetsLabel) >= want }) {
		t.Fatalf("the proxy did not reach resourceVersion %s", newRV)
	}

	// A raw watch from the old resourceVersion: 410 Expired, the
	// apiserver's words and numbers.
	w, err := through(t, p.config()).Namespace(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: oldRV})
	if err != nil {
		t.Fatalf("watch from %s: %v", oldRV, err)
	}
	select {
	case ev := <-w.ResultChan():
		err := apierrors.FromObject(ev.Object)
		if ev.Type != watch.Error || !apierrors.IsResourceExpired(err) || !strings.Contains(err.Error(), "too old resource version: "+oldRV) {
			t.Fatalf("watch from %s: %s %v, want ERROR 410 too old resource version", oldRV, ev.Type, err)
		}
		t.Logf("watch from %s: %v", oldRV, err)
	case <-ctx.Done():
		t.Fatal("no answer to the old watch")
	}
	w.Stop()

	before := p.counters(t)
	release()
	converge(t, ctx, []*informer{inf}, 30*time.Second)
	log := inf.rec.log()
	var expired, relists int
	for _, r := range log {
		if r.isWatch() && strings.Contains(string(r.Start), `"code":410`) {
			expired++
		}
		if r.isStreamingList() {
			relists++
		}
	}
	if expired != 1 || relists != 2 {
		t.Errorf("informer: %d watches answered 410, %d streaming lists; want 1 and 2 (the sync and the relist):\n  %s", expired, relists, inf.requests())
	}
	after := p.counters(t)
	if after.FullLists != 1 || after.Relists != 0 || after.ListRequests != before.ListRequests {
		t.Errorf("the informer's relist reached the apiserver: before %+v, after %+v", before, after)
	}
}
