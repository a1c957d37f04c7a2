package edgecache

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestGoexitInTheLeaderHandsTheLoadToAWaiter(t *testing.T) {
	var calls int64
	release := make(chan struct{})
	g := NewGroup(uniqueName(t), 1<<20, GetterFunc(func(_ context.Context, key string, dest Sink) error {
		if atomic.AddInt64(&calls, 1) == 1 {
			<-release
			runtime.Goexit() // as t.Fatal does in a getter
		}
		return dest.SetString("v:" + key)
	}))
	defer g.Close()
	leaderDone := make(chan struct{})
	go func() {
		defer close(leaderDone)
		var s string
		_ = g.Get(context.Background(), "k", StringSink(&s))
		t.Error("the leader's Get returned after Goexit")
	}()
	waitFor(t, "the leader", func() bool { return atomic.LoadInt64(&calls) == 1 })
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var s string
			if err := g.Get(context.Background(), "k", StringSink(&s)); err != nil || s != "v:k" {
				errs <- errors.New("waiter got " + s + ": " + errString(err))
			}
		}()
	}
	waitFor(t, "the waiters", func() bool { return g.Stats().Loads == n+1 })
	close(release)
	<-leaderDone
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if c := atomic.LoadInt64(&calls); c != 2 {
		t.Fatalf("getter calls = %d, want 2 (the Goexit one and one retry)", c)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestGoexitInAFlightLeaderHandsTheCallToAWaiter(t *testing.T) {
	f := NewFlight()
	var calls int64
	release := make(chan struct{})
	fn := func() ([]byte, error) {
		if atomic.AddInt64(&calls, 1) == 1 {
			<-release
			runtime.Goexit()
		}
		return []byte("v"), nil
	}
	done := make(chan struct{})
	go func() { defer close(done); f.Do("k", fn) }()
	waitFor(t, "the leader", func() bool { return atomic.LoadInt64(&calls) == 1 })
	got := make(chan string, 1)
	go func() { v, err, _ := f.Do("k", fn); got <- string(v) + errString(err) }()
	time.Sleep(20 * time.Millisecond) // let the waiter park (either way it must end with the value)
	close(release)
	<-done
	select {
	case s := <-got:
		if s != "v<nil>" {
			t.Fatalf("waiter got %q", s)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the waiter hangs after the leader's Goexit")
	}
}

func TestAGetterGettingItsOwnKeyGetsErrRecursiveLoad(t *testing.T) {
	var g *Group
	var inner error
	g = NewGroup(uniqueName(t), 1<<20, GetterFunc(func(ctx context.Context, key string, dest Sink) error {
		var s string
		inner = g.Get(ctx, key, StringSink(&s))
		return dest.SetString("outer")
	}))
	defer g.Close()
	done := make(chan error, 1)
	var s string
	go func() { done <- g.Get(context.Background(), "k", StringSink(&s)) }()
	select {
	case err := <-done:
		if err != nil || s != "outer" {
			t.Fatalf("Get = %q, %v", s, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a recursive Get deadlocked")
	}
	if !errors.Is(inner, ErrRecursiveLoad) {
		t.Fatalf("inner Get error = %v, want ErrRecursiveLoad", inner)
	}
}

func TestAGetterThatSetsNothingIsErrNoValue(t *testing.T) {
	g := NewGroup(uniqueName(t), 1<<20, GetterFunc(func(context.Context, string, Sink) error { return nil }))
	defer g.Close()
	var s string
	if err := g.Get(context.Background(), "k", StringSink(&s)); !errors.Is(err, ErrNoValue) {
		t.Fatalf("Get = %q, %v; want ErrNoValue", s, err)
	}
	if st := g.Stats(); st.LocalLoadErrs != 1 {
		t.Fatalf("stats %+v: the empty load counts as a failed load", st)
	}
}

func TestGetGroupSeesAGroupMadeFromC(t *testing.T) {
	name := uniqueName(t)
	if err := makeCGroup(name); err != nil {
		t.Fatal(err)
	}
	g := GetGroup(name)
	if g == nil {
		t.Fatal("GetGroup does not see the C group")
	}
	defer g.Close()
	var s string
	if err := g.Get(context.Background(), "k", StringSink(&s)); err != nil || s != "c:k" {
		t.Fatalf("Get = %q, %v", s, err)
	}
	if st := g.Stats(); st.Gets != 1 || st.LocalLoads != 1 {
		t.Fatalf("stats %+v", st)
	}
	// Its failure codes are C's, not Go handles: a number, never a panic
	// or another Go error.
	err := g.Get(context.Background(), "fail", StringSink(&s))
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 42 || !errors.Is(err, ErrGetterFailed) || !strings.Contains(err.Error(), "c failure") {
		t.Fatalf("a C getter's failure = %#v", err)
	}
}

func TestAUserErrorWrappingErrAbandonedIsNotARetry(t *testing.T) {
	f := NewFlight()
	var calls int64
	mine := fmt.Errorf("my own: %w", ErrAbandoned)
	_, err, _ := f.Do("k", func() ([]byte, error) {
		atomic.AddInt64(&calls, 1)
		return nil, mine
	})
	if err != mine || atomic.LoadInt64(&calls) != 1 {
		t.Fatalf("Do = %v after %d calls; want the function's own error after 1", err, calls)
	}
}

func TestTenThousandIdleWatchersHoldNoThreads(t *testing.T) {
	if gcEveryCall {
		t.Skip("10,000 callers with a collection in every library call: minutes; the plain -race run covers it")
	}
	const n = 10000
	wc, err := NewWatchCache(WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	before := osThreads(t)
	ws := make([]*Watcher, n)
	for i := range ws {
		if ws[i], err = wc.Watch(context.Background(), 0, Selector{}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	during := osThreads(t)
	t.Logf("OS threads: %d before, %d with %d idle watchers", before, during, n)
	if during > before+64 {
		t.Fatalf("%d idle watchers took %d OS threads", n, during-before)
	}
	// They still work: one write reaches all of them.
	if err := wc.Add(Object{Key: "a", Data: []byte("1"), ResourceVersion: 1}); err != nil {
		t.Fatal(err)
	}
	for i, w := range ws {
		select {
		case ev := <-w.ResultChan():
			if ev.Object.Key != "a" {
				t.Fatalf("watcher %d got %+v", i, ev)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("watcher %d got nothing", i)
		}
		w.Stop()
	}
}

func TestWaitUntilFreshParksAndWakes(t *testing.T) {
	wc, err := NewWatchCache(WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	done := make(chan error, 1)
	go func() { done <- wc.WaitUntilFresh(context.Background(), 2) }()
	time.Sleep(20 * time.Millisecond)
	if err := wc.Add(Object{Key: "a", Data: []byte("1"), ResourceVersion: 2}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("WaitUntilFresh did not wake")
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- wc.WaitUntilFresh(ctx, 99) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait = %v", err)
	}
	ctx, cancel2 := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel2()
	if err := wc.WaitUntilFresh(ctx, 99); !errors.Is(err, ErrTooLargeResourceVersion) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timed-out wait = %v", err)
	}
}

func TestWatchCloseReasonsAreTyped(t *testing.T) {
	wc, err := NewWatchCache(WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	slow, err := wc.WatchWithOptions(context.Background(), 0, Selector{}, WatcherOptions{Buffer: 1})
	if err != nil {
		t.Fatal(err)
	}
	relisted, err := wc.Watch(context.Background(), 0, Selector{})
	if err != nil {
		t.Fatal(err)
	}
	// The relisted watcher's reader keeps up; the slow one is not read.
	got := make(chan error, 1)
	go func() {
		for ev := range relisted.ResultChan() {
			if ev.Type == Error {
				got <- ev.Err
			}
		}
	}()
	for rv := uint64(1); rv <= 3; rv++ {
		if err := wc.Add(Object{Key: "k" + strconv.FormatUint(rv, 10), Data: []byte("x"), ResourceVersion: rv}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(20 * time.Millisecond)
	if err := wc.Replace(nil, 9); err != nil {
		t.Fatal(err)
	}
	var wce *WatchClosedError
	select {
	case err := <-got:
		if !errors.As(err, &wce) || wce.Reason != CloseRelisted || wce.ResourceVersion != 9 || !errors.Is(err, ErrClosed) {
			t.Fatalf("relisted watcher's error: %#v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no close error on the relisted watcher")
	}
	var last Event
	for ev := range slow.ResultChan() {
		last = ev
	}
	if !errors.As(last.Err, &wce) || wce.Reason != CloseFellBehind || wce.Buffer != 1 {
		t.Fatalf("slow watcher's last event: %#v", last)
	}
}
