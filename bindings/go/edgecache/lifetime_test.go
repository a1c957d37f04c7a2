package edgecache

import (
	"context"
	"runtime"
	"testing"
)

// Objects dropped without Close, and closed ones, are freed by their
// finalizers without disturbing live objects; run under -race and in the
// edgecache_gccheck build (a collection inside every call) this catches a
// handle freed while in use.
func TestFinalizersFreeDroppedObjects(t *testing.T) {
	var calls int64
	keep := NewGroup(uniqueName(t), 1<<20, upper(&calls))
	defer keep.Close()
	for i := 0; i < 50; i++ {
		g := NewGroup(uniqueName(t), 1<<20, upper(&calls))
		var s string
		if err := g.Get(context.Background(), "k", StringSink(&s)); err != nil {
			t.Fatal(err)
		}
		g.Close()
		f := NewFlight()
		if _, err, _ := f.Do("k", func() ([]byte, error) { return []byte("v"), nil }); err != nil {
			t.Fatal(err)
		}
		wc, err := NewWatchCache(WatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_ = wc.Add(Object{Key: "a", ResourceVersion: 1})
		w, err := wc.Watch(context.Background(), 0, Selector{})
		if err != nil {
			t.Fatal(err)
		}
		if ev := <-w.ResultChan(); ev.Object.Key != "a" {
			t.Fatalf("event %+v", ev)
		}
		if i%2 == 0 {
			w.Stop()
		} else {
			wc.Close() // the watcher ends on its own
		}
	}
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
	var s string
	if err := keep.Get(context.Background(), "still", StringSink(&s)); err != nil || s != "STILL" {
		t.Fatalf("a live group was disturbed: %q %v", s, err)
	}
}
