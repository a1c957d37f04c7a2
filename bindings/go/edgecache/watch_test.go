package edgecache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func newWC(t *testing.T, opts WatchOptions) *WatchCache {
	t.Helper()
	wc, err := NewWatchCache(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(wc.Close)
	return wc
}

func pod(name string, rv uint64, app string) Object {
	return Object{Key: "default/" + name, Data: []byte(fmt.Sprintf(`{"name":%q,"rv":%d}`, name, rv)),
		ResourceVersion: rv, Labels: map[string]string{"app": app}, Fields: map[string]string{"spec.nodeName": "n1"}}
}

// next reads one event or fails after 5 s.
func next(t *testing.T, w *Watcher) (Event, bool) {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		return ev, ok
	case <-time.After(5 * time.Second):
		t.Fatal("no event in 5 s")
		return Event{}, false
	}
}

func TestWatchCacheEventsSinceAndExpiry(t *testing.T) {
	wc := newWC(t, WatchOptions{Capacity: 4, MaxCapacity: 4, Indexes: []string{"label:app"}})
	if err := wc.Replace([]Object{pod("a", 10, "web")}, 10); err != nil {
		t.Fatal(err)
	}
	must(t, wc.Update(pod("a", 11, "web")))
	must(t, wc.Add(pod("b", 12, "db")))
	must(t, wc.Delete(pod("b", 13, "db")))
	if err := wc.Add(pod("c", 13, "db")); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("a resourceVersion that does not increase: %v", err)
	}
	if wc.ResourceVersion() != 13 {
		t.Fatalf("ResourceVersion = %d", wc.ResourceVersion())
	}
	evs, err := wc.EventsSince(10)
	if err != nil || len(evs) != 3 {
		t.Fatalf("EventsSince(10) = %d events, %v", len(evs), err)
	}
	e := evs[0]
	if e.Type != Modified || e.ResourceVersion != 11 || e.Object.Key != "default/a" || e.PrevObject == nil ||
		e.PrevObject.ResourceVersion != 10 || e.Object.Labels["app"] != "web" || e.Object.Fields["spec.nodeName"] != "n1" {
		t.Fatalf("event 0 = %+v", e)
	}
	if evs[1].Type != Added || evs[2].Type != Deleted || evs[2].Object.Key != "default/b" {
		t.Fatalf("events = %+v", evs)
	}
	for rv := uint64(14); rv <= 16; rv++ {
		must(t, wc.Update(pod("a", rv, "web")))
	}
	_, err = wc.EventsSince(10)
	var se *StatusError
	if !errors.Is(err, ErrResourceExpired) || !errors.As(err, &se) || se.HTTPStatus() != 410 {
		t.Fatalf("EventsSince an expired rv = %v", err)
	}
	cur, err := wc.EventsSince(0)
	if err != nil || len(cur) != 1 || cur[0].Type != Added || cur[0].ResourceVersion != 16 {
		t.Fatalf("EventsSince(0) = %+v %v", cur, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestWatchCacheListGetAndFreshness(t *testing.T) {
	wc := newWC(t, WatchOptions{FreshTimeout: 50 * time.Millisecond, Indexes: []string{"label:app"}})
	must(t, wc.Replace([]Object{pod("a", 1, "web"), pod("b", 1, "db"), pod("c", 1, "web")}, 5))
	ctx := context.Background()
	objs, rv, err := wc.List(ctx, 0, Selector{Labels: map[string]string{"app": "web"}})
	if err != nil || rv != 5 || len(objs) != 2 || objs[0].Key != "default/a" || objs[1].Key != "default/c" {
		t.Fatalf("List = %+v at %d, %v", objs, rv, err)
	}
	objs, _, err = wc.List(ctx, 0, Selector{Fields: map[string]string{"spec.nodeName": "n2"}})
	if err != nil || len(objs) != 0 {
		t.Fatalf("List by an unindexed field = %+v %v", objs, err)
	}
	o, err := wc.Get(ctx, "default/b", 5)
	if err != nil || o == nil || string(o.Data) != `{"name":"b","rv":1}` {
		t.Fatalf("Get = %+v %v", o, err)
	}
	if o, err := wc.Get(ctx, "default/zzz", 0); err != nil || o != nil {
		t.Fatalf("Get of a missing key = %+v %v", o, err)
	}
	// An rv the cache has not seen: 504 after the fresh timeout...
	err = wc.WaitUntilFresh(ctx, 6)
	var se *StatusError
	if !errors.Is(err, ErrTooLargeResourceVersion) || !errors.As(err, &se) || se.HTTPStatus() != 504 {
		t.Fatalf("WaitUntilFresh(6) = %v", err)
	}
	// ...or the context's error when it is cancelled first.
	cctx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	long := newWC(t, WatchOptions{FreshTimeout: time.Minute})
	if err := long.WaitUntilFresh(cctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled WaitUntilFresh = %v", err)
	}
	// A write that arrives while waiting ends the wait.
	go func() { time.Sleep(20 * time.Millisecond); _ = wc.Add(pod("d", 6, "web")) }()
	objs, rv, err = wc.List(context.Background(), 6, Selector{})
	if err != nil || rv != 6 || len(objs) != 4 {
		t.Fatalf("List after waiting for rv 6 = %d objects at %d, %v", len(objs), rv, err)
	}
}

func TestWatchFiltersAndResumes(t *testing.T) {
	wc := newWC(t, WatchOptions{Capacity: 100})
	must(t, wc.Replace(nil, 1))
	w, err := wc.Watch(context.Background(), 1, Selector{Labels: map[string]string{"app": "web"}})
	must(t, err)
	rv := uint64(1)
	for i := 0; i < 4; i++ {
		rv++
		must(t, wc.Add(pod(fmt.Sprint("web", i), rv, "web")))
		rv++
		must(t, wc.Add(pod(fmt.Sprint("db", i), rv, "db")))
	}
	var last uint64
	for i := 0; i < 2; i++ {
		ev, ok := next(t, w)
		if !ok || ev.Type != Added || ev.Object.Key != fmt.Sprint("default/web", i) {
			t.Fatalf("event %d = %+v", i, ev)
		}
		last = ev.ResourceVersion
	}
	w.Stop()
	w.Stop()
	for i := 0; i < 10; i++ { // what was in flight may still arrive, then the channel closes
		if _, ok := next(t, w); !ok {
			break
		}
	}
	if w.Err() != nil {
		t.Fatalf("Err after Stop = %v", w.Err())
	}
	// Resume: exactly the web events after the last one seen.
	w2, err := wc.Watch(context.Background(), last, Selector{Labels: map[string]string{"app": "web"}})
	must(t, err)
	defer w2.Stop()
	for i := 2; i < 4; i++ {
		ev, ok := next(t, w2)
		if !ok || ev.Object.Key != fmt.Sprint("default/web", i) || ev.ResourceVersion <= last {
			t.Fatalf("resumed event = %+v", ev)
		}
	}
}

func TestWatchFromAnExpiredVersionAndEndings(t *testing.T) {
	wc := newWC(t, WatchOptions{Capacity: 2, MaxCapacity: 2})
	must(t, wc.Replace(nil, 1))
	for rv := uint64(2); rv <= 6; rv++ {
		must(t, wc.Add(pod(fmt.Sprint("p", rv), rv, "web")))
	}
	if _, err := wc.Watch(context.Background(), 1, Selector{}); !errors.Is(err, ErrResourceExpired) {
		t.Fatalf("watch from an expired rv = %v", err)
	}
	// A relist ends a watcher with an Error event and a reason.
	w, err := wc.Watch(context.Background(), 6, Selector{})
	must(t, err)
	must(t, wc.Replace([]Object{pod("x", 7, "web")}, 7))
	ev, ok := next(t, w)
	if !ok || ev.Type != Error || !errors.Is(ev.Err, ErrClosed) {
		t.Fatalf("after a relist: %+v", ev)
	}
	if _, ok := next(t, w); ok {
		t.Fatal("the channel stays open after the Error event")
	}
	if !errors.Is(w.Err(), ErrClosed) {
		t.Fatalf("Err = %v", w.Err())
	}
	// A cancelled context stops a watcher.
	ctx, cancel := context.WithCancel(context.Background())
	w, err = wc.Watch(ctx, 7, Selector{})
	must(t, err)
	cancel()
	if _, ok := next(t, w); ok {
		t.Fatal("a cancelled watch delivered an event")
	}
	// Close ends watchers and later calls.
	w, err = wc.Watch(context.Background(), 7, Selector{})
	must(t, err)
	wc.Close()
	if ev, ok := next(t, w); !ok || ev.Type != Error {
		t.Fatalf("after Close: %+v %v", ev, ok)
	}
	if err := wc.Add(pod("y", 8, "web")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Add after Close = %v", err)
	}
	if _, err := wc.EventsSince(0); !errors.Is(err, ErrClosed) {
		t.Fatalf("EventsSince after Close = %v", err)
	}
}

func TestSlowWatcherIsClosedWithAReason(t *testing.T) {
	wc := newWC(t, WatchOptions{Capacity: 100, MaxCapacity: 5000})
	must(t, wc.Replace(nil, 1))
	w, err := wc.Watch(context.Background(), 1, Selector{})
	must(t, err)
	defer w.Stop()
	// Nobody reads: the library's buffer (1024 events) fills and the
	// watcher is closed as fallen behind; writes never block.
	for rv := uint64(2); rv < 2+3000; rv++ {
		must(t, wc.Add(pod(fmt.Sprint("p", rv), rv, "web")))
	}
	var last Event
	for i := 0; i < 4000; i++ {
		ev, ok := next(t, w)
		if !ok {
			break
		}
		last = ev
	}
	if last.Type != Error || !errors.Is(last.Err, ErrClosed) {
		t.Fatalf("last event = %+v", last)
	}
	if w.Err() == nil {
		t.Fatal("Err is nil for a watcher that fell behind")
	}
	t.Logf("closed with: %v", w.Err())
}

func TestWatchCacheBadOptions(t *testing.T) {
	for _, o := range []WatchOptions{{Capacity: -1}, {MaxBytes: -1}, {Capacity: 10, MaxCapacity: 5}, {Indexes: []string{"nope"}}} {
		if _, err := NewWatchCache(o); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("%+v: %v", o, err)
		}
	}
}

func TestWatcherOptionsBookmarksAndBuffer(t *testing.T) {
	wc := newWC(t, WatchOptions{})
	must(t, wc.Replace(nil, 1))
	plain, err := wc.Watch(context.Background(), 1, Selector{})
	must(t, err)
	defer plain.Stop()
	marks, err := wc.WatchWithOptions(context.Background(), 1, Selector{}, WatcherOptions{Bookmarks: true})
	must(t, err)
	defer marks.Stop()
	must(t, wc.Bookmark(2))
	must(t, wc.Add(pod("a", 3, "web")))
	if ev, _ := next(t, marks); ev.Type != Bookmark || ev.ResourceVersion != 2 {
		t.Fatalf("with bookmarks: %+v", ev)
	}
	if ev, _ := next(t, marks); ev.Type != Added || ev.ResourceVersion != 3 {
		t.Fatalf("after the bookmark: %+v", ev)
	}
	if ev, _ := next(t, plain); ev.Type != Added || ev.ResourceVersion != 3 {
		t.Fatalf("without bookmarks the first event is %+v", ev)
	}
	// A small buffer ends an unread watch sooner.
	small, err := wc.WatchWithOptions(context.Background(), 3, Selector{}, WatcherOptions{Buffer: 4})
	must(t, err)
	defer small.Stop()
	for rv := uint64(4); rv < 20; rv++ {
		must(t, wc.Add(pod(fmt.Sprint("p", rv), rv, "web")))
	}
	var last Event
	for i := 0; i < 100; i++ {
		ev, ok := next(t, small)
		if !ok {
			break
		}
		last = ev
	}
	if last.Type != Error {
		t.Fatalf("a 4-event watcher behind by 16 ended with %+v", last)
	}
	if _, err := wc.WatchWithOptions(context.Background(), 3, Selector{}, WatcherOptions{Buffer: -1}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("negative buffer: %v", err)
	}
}

func TestLongLibraryMessagesReachGoWhole(t *testing.T) {
	bad := "nope-" + strings.Repeat("x", 1000) + "-end"
	_, err := NewWatchCache(WatchOptions{Indexes: []string{bad}})
	if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "-end") {
		t.Fatalf("the library's detail was cut or lost: %.200v", err)
	}
}

// WindowStats reports what the library counts: events and their bytes
// (key + object + previous object), resourceVersions, items, watchers; a
// Replace empties the window.
func TestWatchCacheWindowStats(t *testing.T) {
	wc, err := NewWatchCache(WatchOptions{Capacity: 10, MaxCapacity: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	if s := wc.WindowStats(); s != (WindowStats{Capacity: s.Capacity, MinCapacity: s.MinCapacity, MaxCapacity: 10}) {
		t.Fatalf("empty cache: %+v", s)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(wc.Add(Object{Key: "ns/a", Data: []byte(`{"v":1}`), ResourceVersion: 5}))
	must(wc.Update(Object{Key: "ns/a", Data: []byte(`{"v":22}`), ResourceVersion: 6}))
	w, err := wc.Watch(context.Background(), 6, Selector{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	s := wc.WindowStats()
	if s.Events != 2 || s.Bytes != 30 || s.ResourceVersion != 6 || s.OldestBuffered != 5 || s.Items != 1 || s.Watchers != 1 {
		t.Fatalf("after two writes and a watch: %+v", s)
	}
	must(wc.Replace([]Object{{Key: "ns/a", Data: []byte(`{"v":22}`), ResourceVersion: 6}}, 9))
	if s := wc.WindowStats(); s.Events != 0 || s.Bytes != 0 || s.ListResourceVersion != 9 || s.OldestAccepted != 9 {
		t.Fatalf("after a replace: %+v", s)
	}
}
