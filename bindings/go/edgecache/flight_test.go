package edgecache

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// overlap runs n callers of f.Do(key, fn) at once and returns what each got.
func overlap(f *Flight, n int, key string, fn func() ([]byte, error)) ([][]byte, []error, []bool) {
	vals, errs, shared := make([][]byte, n), make([]error, n), make([]bool, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			vals[i], errs[i], shared[i] = f.Do(key, fn)
		}(i)
	}
	wg.Wait()
	return vals, errs, shared
}

func TestFlightRunsOnceAndSharesTheValue(t *testing.T) {
	f := NewFlight()
	defer f.Close()
	var calls, entered int64
	const n = 50
	release := make(chan struct{})
	fn := func() ([]byte, error) {
		atomic.AddInt64(&calls, 1)
		<-release
		return []byte("v"), nil
	}
	vals, errs, shared := make([][]byte, n), make([]error, n), make([]bool, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			atomic.AddInt64(&entered, 1)
			vals[i], errs[i], shared[i] = f.Do("k", fn)
		}(i)
	}
	// Every caller is about to call Do; give them 50 ms to join the call. A
	// caller later than that runs a second call, which the bound below allows.
	waitFor(t, "callers", func() bool { return atomic.LoadInt64(&entered) == n })
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if calls < 1 || calls > 2 {
		t.Fatalf("fn ran %d times for %d overlapping callers", calls, n)
	}
	nShared := 0
	for i := range vals {
		if errs[i] != nil || string(vals[i]) != "v" {
			t.Fatalf("caller %d: %q %v", i, vals[i], errs[i])
		}
		if shared[i] {
			nShared++
		}
	}
	if nShared < n-2 {
		t.Fatalf("only %d of %d callers shared", nShared, n)
	}
	vals[0][0] = 'X' // each caller owns its copy
	if string(vals[1]) != "v" {
		t.Fatal("callers share one slice")
	}
	// Not overlapping: a fresh call, not shared.
	v, err, sh := f.Do("k", func() ([]byte, error) { return []byte("again"), nil })
	if err != nil || string(v) != "again" || sh {
		t.Fatalf("second round: %q %v %v", v, err, sh)
	}
}

func TestFlightErrorAndPanicReachEveryCaller(t *testing.T) {
	f := NewFlight()
	defer f.Close()
	var calls int64
	_, errs, _ := overlap(f, 10, "e", func() ([]byte, error) {
		n := atomic.AddInt64(&calls, 1)
		time.Sleep(20 * time.Millisecond)
		return nil, &upstreamError{code: int(n)} // a new error value per call
	})
	distinct := map[error]bool{}
	for i, err := range errs {
		var ue *upstreamError
		if !errors.As(err, &ue) {
			t.Fatalf("caller %d got %v, want the call's own error", i, err)
		}
		distinct[err] = true
	}
	if int64(len(distinct)) != calls {
		t.Fatalf("%d calls produced %d distinct error values: waiters did not get the leader's", calls, len(distinct))
	}
	_, errs, _ = overlap(f, 5, "p", func() ([]byte, error) { panic("kaboom") })
	for i, err := range errs {
		var pe *PanicError
		if !errors.As(err, &pe) || pe.Value != "kaboom" || !errors.Is(err, ErrLoaderPanicked) {
			t.Fatalf("caller %d got %v, want a *PanicError", i, err)
		}
	}
	v, err, _ := f.Do("p", func() ([]byte, error) { return []byte("ok"), nil })
	if err != nil || string(v) != "ok" {
		t.Fatalf("the key is not free after a panic: %q %v", v, err)
	}
}

func TestFlightForgetAndClose(t *testing.T) {
	f := NewFlight()
	release := make(chan struct{})
	first := make(chan []byte, 1)
	entered := make(chan struct{})
	go func() {
		v, _, _ := f.Do("k", func() ([]byte, error) {
			close(entered)
			<-release
			return []byte("old"), nil
		})
		first <- v
	}()
	<-entered
	f.Forget("k")
	v, err, shared := f.Do("k", func() ([]byte, error) { return []byte("new"), nil })
	if err != nil || string(v) != "new" || shared {
		t.Fatalf("after Forget a new call runs: %q %v %v", v, err, shared)
	}
	close(release)
	if got := <-first; string(got) != "old" {
		t.Fatalf("the forgotten call got %q", got)
	}
	if _, err, _ := f.Do("k", nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("nil fn: %v", err)
	}
	f.Close()
	f.Close()
	if _, err, _ := f.Do("k", func() ([]byte, error) { return nil, nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Do after Close: %v", err)
	}
}

func TestFlightWaitersParkWithoutAThreadEach(t *testing.T) {
	f := NewFlight()
	defer f.Close()
	const n = 2000
	var entered int64
	var threadsWhileWaiting int
	var wg sync.WaitGroup
	results := make([][]byte, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			atomic.AddInt64(&entered, 1)
			v, err, _ := f.Do("k", func() ([]byte, error) {
				waitFor(t, "callers", func() bool { return atomic.LoadInt64(&entered) == n })
				time.Sleep(50 * time.Millisecond) // let them reach Do
				threadsWhileWaiting = osThreads(t)
				return []byte("v"), nil
			})
			if err == nil {
				v[0] = 'X' // each caller may change its own copy
				results[i] = v
			}
		}(i)
	}
	wg.Wait()
	for i, v := range results {
		if string(v) != "X" {
			t.Fatalf("caller %d got %q", i, v)
		}
	}
	if threadsWhileWaiting > 200 {
		t.Fatalf("%d OS threads while %d goroutines waited on one call", threadsWhileWaiting, n)
	}
}
