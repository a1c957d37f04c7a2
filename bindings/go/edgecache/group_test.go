package edgecache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var groupSeq int64

// uniqueName gives each test its own group name (groups are process-wide).
func uniqueName(t *testing.T) string {
	return fmt.Sprintf("%s/%d", t.Name(), atomic.AddInt64(&groupSeq, 1))
}

// waitFor polls cond every millisecond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 10000; i++ {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func upper(calls *int64) GetterFunc {
	return func(_ context.Context, key string, dest Sink) error {
		atomic.AddInt64(calls, 1)
		return dest.SetString(strings.ToUpper(key))
	}
}

func TestGetLoadsOnceAndCountsLikeGroupcache(t *testing.T) {
	var calls int64
	g := NewGroup(uniqueName(t), 1<<20, upper(&calls))
	defer g.Close()
	for i := 0; i < 3; i++ {
		var s string
		if err := g.Get(context.Background(), "abc", StringSink(&s)); err != nil || s != "ABC" {
			t.Fatalf("Get = %q, %v", s, err)
		}
	}
	if calls != 1 {
		t.Fatalf("getter calls = %d, want 1", calls)
	}
	want := Stats{Gets: 3, CacheHits: 2, Loads: 1, LoadsDeduped: 1, LocalLoads: 1}
	if st := g.Stats(); st != want {
		t.Fatalf("Stats = %+v, want %+v", st, want)
	}
	if cs := g.CacheStats(MainCache); cs.Items != 1 || cs.Bytes != 6 {
		t.Fatalf("main CacheStats = %+v, want 1 item of 6 bytes", cs)
	}
	if cs := g.CacheStats(HotCache); cs.Items != 0 {
		t.Fatalf("hot CacheStats = %+v", cs)
	}
	if GetGroup(g.Name()) != g {
		t.Fatal("GetGroup does not return the group")
	}
}

func TestThousandGoroutinesOneKeyOneGetterCall(t *testing.T) {
	const n = 1000
	var calls int64
	var g *Group
	g = NewGroup(uniqueName(t), 1<<20, GetterFunc(func(_ context.Context, key string, dest Sink) error {
		atomic.AddInt64(&calls, 1)
		// Hold the load until every caller has missed and joined it.
		waitFor(t, "all callers to join", func() bool { return g.Stats().Loads >= int64(n) })
		return dest.SetString("v:" + key)
	}))
	defer g.Close()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b []byte
			if err := g.Get(context.Background(), "hot", AllocatingByteSliceSink(&b)); err != nil {
				errs <- err
			} else if string(b) != "v:hot" {
				errs <- fmt.Errorf("got %q", b)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Fatalf("getter calls = %d, want 1", calls)
	}
	st := g.Stats()
	if st.Gets != n || st.Loads != n || st.LoadsDeduped != 1 || st.LocalLoads != 1 {
		t.Fatalf("Stats = %+v", st)
	}
}

type upstreamError struct{ code int }

func (e *upstreamError) Error() string { return fmt.Sprintf("upstream said %d", e.code) }

func TestGetterErrorReachesEveryCallerUnchangedAndIsNotCached(t *testing.T) {
	const n = 20
	sentinel := &upstreamError{code: 503}
	var calls int64
	var fail int32 = 1
	var g *Group
	g = NewGroup(uniqueName(t), 1<<20, GetterFunc(func(_ context.Context, key string, dest Sink) error {
		atomic.AddInt64(&calls, 1)
		if atomic.LoadInt32(&fail) == 1 {
			waitFor(t, "callers to join", func() bool { return g.Stats().Loads >= n })
			return sentinel
		}
		return dest.SetString("ok")
	}))
	defer g.Close()
	var wg sync.WaitGroup
	got := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var s string
			got[i] = g.Get(context.Background(), "k", StringSink(&s))
		}(i)
	}
	wg.Wait()
	for i, err := range got {
		if err != error(sentinel) {
			t.Fatalf("caller %d got %#v, want the getter's own error value", i, err)
		}
	}
	if calls != 1 || g.Stats().LocalLoadErrs != 1 {
		t.Fatalf("calls = %d, stats %+v", calls, g.Stats())
	}
	atomic.StoreInt32(&fail, 0)
	var s string
	if err := g.Get(context.Background(), "k", StringSink(&s)); err != nil || s != "ok" {
		t.Fatalf("after an error the key loads again: %q %v", s, err)
	}
}

func TestPanickingGetterBecomesAnErrorForEveryCaller(t *testing.T) {
	var calls int64
	var g *Group
	g = NewGroup(uniqueName(t), 1<<20, GetterFunc(func(_ context.Context, key string, dest Sink) error {
		if atomic.AddInt64(&calls, 1) == 1 {
			waitFor(t, "callers to join", func() bool { return g.Stats().Loads >= 4 })
			panic(fmt.Errorf("bad key %q", key))
		}
		return dest.SetString("fine")
	}))
	defer g.Close()
	var wg sync.WaitGroup
	got := make([]error, 4)
	for i := range got {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var s string
			got[i] = g.Get(context.Background(), "boom", StringSink(&s))
		}(i)
	}
	wg.Wait()
	for i, err := range got {
		var pe *PanicError
		if !errors.As(err, &pe) || !errors.Is(err, ErrLoaderPanicked) {
			t.Fatalf("caller %d: %v, want a *PanicError", i, err)
		}
		if !strings.Contains(err.Error(), `bad key "boom"`) || len(pe.Stack) == 0 {
			t.Fatalf("caller %d: %v lacks the panic value or stack", i, err)
		}
		if errors.Unwrap(err) == nil {
			t.Fatalf("the panic value (an error) is not wrapped")
		}
	}
	var s string
	if err := g.Get(context.Background(), "boom", StringSink(&s)); err != nil || s != "fine" {
		t.Fatalf("the key is not free after the panic: %q %v", s, err)
	}
}

func TestCloseWhileOthersWait(t *testing.T) {
	release := make(chan struct{})
	var g *Group
	g = NewGroup(uniqueName(t), 1<<20, GetterFunc(func(_ context.Context, key string, dest Sink) error {
		<-release
		return dest.SetString("late")
	}))
	name := g.Name()
	var wg sync.WaitGroup
	got := make([]string, 5)
	errs := make([]error, 5)
	for i := range got {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = g.Get(context.Background(), "k", StringSink(&got[i]))
		}(i)
	}
	waitFor(t, "callers to join", func() bool { return g.Stats().Loads >= 5 })
	g.Close()
	g.Close() // idempotent
	close(release)
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i] != "late" {
			t.Fatalf("caller %d: %q %v; callers of a load still get its result", i, got[i], errs[i])
		}
	}
	var s string
	if err := g.Get(context.Background(), "k", StringSink(&s)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close = %v, want ErrClosed", err)
	}
	if GetGroup(name) != nil {
		t.Fatal("a closed group is still registered")
	}
	g2, err := NewGroupWithOptions(name, 1<<20, upper(new(int64)), GroupOptions{})
	if err != nil {
		t.Fatalf("the name of a closed group cannot be reused: %v", err)
	}
	g2.Close()
}

func TestContextStopsAWaiterAndReachesTheGetter(t *testing.T) {
	type ctxKey struct{}
	release := make(chan struct{})
	seen := make(chan interface{}, 1)
	var g *Group
	g = NewGroup(uniqueName(t), 1<<20, GetterFunc(func(ctx context.Context, key string, dest Sink) error {
		seen <- ctx.Value(ctxKey{})
		<-release
		return dest.SetString("v")
	}))
	defer g.Close()
	leaderDone := make(chan error, 1)
	go func() {
		var s string
		ctx := context.WithValue(context.Background(), ctxKey{}, "leader's")
		leaderDone <- g.Get(ctx, "k", StringSink(&s))
	}()
	if v := <-seen; v != "leader's" {
		t.Fatalf("the getter saw context value %v", v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	waiterDone := make(chan error, 1)
	go func() {
		var s string
		waiterDone <- g.Get(ctx, "k", StringSink(&s))
	}()
	waitFor(t, "the waiter to join", func() bool { return g.Stats().Loads >= 2 })
	cancel()
	if err := <-waiterDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter got %v", err)
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer dcancel()
	var s string
	if err := g.Get(dctx, "k", StringSink(&s)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiter past its deadline got %v", err)
	}
	close(release)
	if err := <-leaderDone; err != nil {
		t.Fatalf("the load did not go on: %v", err)
	}
	if st := g.Stats(); st.LocalLoads != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSinksCopy(t *testing.T) {
	g := NewGroup(uniqueName(t), 1<<20, GetterFunc(func(_ context.Context, key string, dest Sink) error {
		buf := []byte("value-of-" + key)
		err := dest.SetBytes(buf)
		copy(buf, "XXXXXXXX") // the getter reuses its buffer: the cache must hold a copy
		return err
	}))
	defer g.Close()
	ctx := context.Background()
	var a []byte
	if err := g.Get(ctx, "k", AllocatingByteSliceSink(&a)); err != nil || string(a) != "value-of-k" {
		t.Fatalf("alloc sink: %q %v", a, err)
	}
	copy(a, "YYYY") // the caller owns its copy
	var v ByteView
	if err := g.Get(ctx, "k", ByteViewSink(&v)); err != nil || v.String() != "value-of-k" {
		t.Fatalf("byte view sink: %q %v", v.String(), err)
	}
	bs := v.ByteSlice()
	bs[0] = 'Z'
	if v.String() != "value-of-k" {
		t.Fatal("ByteSlice is not a copy")
	}
	short := make([]byte, 5)
	if err := g.Get(ctx, "k", TruncatingByteSliceSink(&short)); err != nil || string(short) != "value" {
		t.Fatalf("truncating sink: %q %v", short, err)
	}
	var s string
	if err := g.Get(ctx, "k", StringSink(&s)); err != nil || s != "value-of-k" {
		t.Fatalf("string sink: %q %v", s, err)
	}
	if err := g.Get(ctx, "k", nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("nil sink: %v", err)
	}
}

func TestLargeAndEmptyValues(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), 10000) // beyond the hit scratch buffer
	g := NewGroup(uniqueName(t), 1<<22, GetterFunc(func(_ context.Context, key string, dest Sink) error {
		if key == "big" {
			return dest.SetBytes(big)
		}
		return dest.SetBytes(nil)
	}))
	defer g.Close()
	for i := 0; i < 2; i++ { // a load, then a hit
		var b []byte
		if err := g.Get(context.Background(), "big", AllocatingByteSliceSink(&b)); err != nil || !bytes.Equal(b, big) {
			t.Fatalf("round %d: big value of %d bytes, %v", i, len(b), err)
		}
		s := "unset"
		if err := g.Get(context.Background(), "empty", StringSink(&s)); err != nil || s != "" {
			t.Fatalf("round %d: empty value %q, %v", i, s, err)
		}
	}
	if st := g.Stats(); st.CacheHits != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestBadArgumentsAndDuplicates(t *testing.T) {
	name := uniqueName(t)
	g := NewGroup(name, 1<<20, upper(new(int64)))
	defer g.Close()
	if _, err := NewGroupWithOptions(name, 1<<20, upper(new(int64)), GroupOptions{}); !errors.Is(err, ErrDuplicateGroup) {
		t.Fatalf("duplicate name: %v", err)
	}
	func() {
		defer func() {
			if r := recover(); r == nil {
				t.Fatal("NewGroup with a taken name did not panic")
			}
		}()
		NewGroup(name, 1<<20, upper(new(int64)))
	}()
	if _, err := NewGroupWithOptions(uniqueName(t), -1, upper(new(int64)), GroupOptions{}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("negative cacheBytes: %v", err)
	}
	if _, err := NewGroupWithOptions(uniqueName(t), 1, nil, GroupOptions{}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("nil getter: %v", err)
	}
	if _, err := NewGroupWithOptions(uniqueName(t), 1, upper(new(int64)), GroupOptions{TTL: -time.Second}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("negative TTL: %v", err)
	}
	var s string
	if err := g.Get(context.Background(), "still fine", StringSink(&s)); err != nil || s != "STILL FINE" {
		t.Fatalf("the group is disturbed: %q %v", s, err)
	}
	if cs := g.CacheStats(CacheType(7)); cs != (CacheStats{}) {
		t.Fatalf("unknown cache type gives %+v", cs)
	}
}

func TestRemoveAndTTL(t *testing.T) {
	var calls int64
	g, err := NewGroupWithOptions(uniqueName(t), 1<<20, upper(&calls), GroupOptions{TTL: 40 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	var s string
	ctx := context.Background()
	_ = g.Get(ctx, "a", StringSink(&s))
	if !g.Remove("a") || g.Remove("a") {
		t.Fatal("Remove reports wrongly")
	}
	_ = g.Get(ctx, "a", StringSink(&s))
	if calls != 2 {
		t.Fatalf("after Remove the key did not load again: %d calls", calls)
	}
	waitFor(t, "the TTL to pass", func() bool {
		_ = g.Get(ctx, "a", StringSink(&s))
		return atomic.LoadInt64(&calls) == 3
	})
}

func TestByteView(t *testing.T) {
	for _, v := range []ByteView{{b: []byte("hello")}, {s: "hello"}} {
		if v.Len() != 5 || v.At(1) != 'e' || v.Slice(1, 3).String() != "el" || v.SliceFrom(3).String() != "lo" {
			t.Fatalf("accessors on %#v", v)
		}
		if !v.EqualString("hello") || !v.EqualBytes([]byte("hello")) || !v.Equal(ByteView{s: "hello"}) || v.Equal(ByteView{b: []byte("help!")}) {
			t.Fatalf("equality on %#v", v)
		}
		p := make([]byte, 3)
		if n, err := v.ReadAt(p, 3); n != 2 || err == nil || string(p[:n]) != "lo" {
			t.Fatalf("ReadAt = %d %v", n, err)
		}
		var w bytes.Buffer
		if n, err := v.WriteTo(&w); n != 5 || err != nil || w.String() != "hello" {
			t.Fatalf("WriteTo = %d %v", n, err)
		}
		r := v.Reader()
		all := make([]byte, 10)
		if n, _ := r.Read(all); string(all[:n]) != "hello" {
			t.Fatal("Reader")
		}
	}
}

// osThreads is the process's thread count (Linux).
func osThreads(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "Threads:") {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "Threads:")))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Skip("no Threads line")
	return 0
}

func TestWaitersParkWithoutAThreadEach(t *testing.T) {
	n := 10000
	if gcEveryCall {
		n = 2000 // a collection in every library call: 10,000 callers take minutes
	}
	before := osThreads(t)
	var threadsWhileWaiting int
	var g *Group
	g = NewGroup(uniqueName(t), 1<<20, GetterFunc(func(_ context.Context, key string, dest Sink) error {
		waitFor(t, "all callers to join", func() bool { return g.Stats().Loads >= int64(n) })
		threadsWhileWaiting = osThreads(t)
		return dest.SetString("v")
	}))
	defer g.Close()
	var wg sync.WaitGroup
	var bad int64
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var s string
			if err := g.Get(context.Background(), "k", StringSink(&s)); err != nil || s != "v" {
				atomic.AddInt64(&bad, 1)
			}
		}()
	}
	wg.Wait()
	if bad != 0 {
		t.Fatalf("%d callers failed", bad)
	}
	// Blocking each waiter in a cgo call would take a thread per waiter.
	t.Logf("OS threads: %d before, %d with %d goroutines waiting on one load", before, threadsWhileWaiting, n)
	if threadsWhileWaiting > before+64 {
		t.Fatalf("%d OS threads while %d goroutines waited on one load", threadsWhileWaiting, n)
	}
	if st := g.Stats(); st.Gets != int64(n) || st.Loads != int64(n) || st.LocalLoads != 1 {
		t.Fatalf("Stats = %+v", st)
	}
}

func TestALeaderWhoseContextEndsDoesNotFailTheOthers(t *testing.T) {
	var calls int64
	release := make(chan struct{})
	var g *Group
	g = NewGroup(uniqueName(t), 1<<20, GetterFunc(func(ctx context.Context, key string, dest Sink) error {
		if atomic.AddInt64(&calls, 1) == 1 {
			<-ctx.Done() // the first caller leaves; its load ends with its context
			return ctx.Err()
		}
		<-release
		return dest.SetString("second try")
	}))
	defer g.Close()
	ctx, cancel := context.WithCancel(context.Background())
	leader := make(chan error, 1)
	go func() {
		var s string
		leader <- g.Get(ctx, "k", StringSink(&s))
	}()
	waitFor(t, "the first load", func() bool { return atomic.LoadInt64(&calls) == 1 })
	waiter := make(chan string, 1)
	go func() {
		var s string
		if err := g.Get(context.Background(), "k", StringSink(&s)); err != nil {
			s = "error: " + err.Error()
		}
		waiter <- s
	}()
	waitFor(t, "the waiter to join", func() bool { return g.Stats().Loads >= 2 })
	cancel()
	if err := <-leader; !errors.Is(err, context.Canceled) {
		t.Fatalf("the leaving caller got %v", err)
	}
	close(release)
	if s := <-waiter; s != "second try" {
		t.Fatalf("the waiter got %q; it should have loaded again", s)
	}
}
