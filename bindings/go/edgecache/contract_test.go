package edgecache

import (
	"bufio"
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestContract runs the shared contract table (tests/contract/cases.tsv),
// the go column: every binding's suite runs the same rows, so a divergence
// between languages fails a build.
func TestContract(t *testing.T) {
	f, err := os.Open("../../../tests/contract/cases.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var header []string
	rows := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if header == nil {
			header = cols
			continue
		}
		if len(cols) != len(header) {
			t.Fatalf("malformed row %q", line)
		}
		row := map[string]string{}
		for i, h := range header {
			row[h] = cols[i]
		}
		rows++
		want := row["go"]
		if want == "n/a" {
			continue
		}
		t.Run(row["id"], func(t *testing.T) {
			got := contractCase(t, row["subject"], row["input"])
			if got != want {
				t.Fatalf("%s with %s: got %s, want %s", row["subject"], row["input"], got, want)
			}
		})
	}
	if rows < 20 {
		t.Fatalf("only %d contract rows read", rows)
	}
}

// goValue is the row's input spelled in Go: unset is the zero value.
func goValue(t *testing.T, in string) int64 {
	switch in {
	case "unset", "0":
		return 0
	case "-1":
		return -1
	}
	t.Fatalf("unknown input %q", in)
	return 0
}

func invalidOr(err error, ok string) string {
	if errors.Is(err, ErrInvalidArgument) {
		return "invalid"
	}
	if err != nil {
		return "error: " + err.Error()
	}
	return ok
}

func contractCase(t *testing.T, subject, input string) string {
	ctx := context.Background()
	upper := GetterFunc(func(_ context.Context, key string, dest Sink) error { return dest.SetString("v:" + key) })
	switch subject {
	case "cache.budget":
		c, err := NewCache(goValue(t, input))
		if err != nil {
			return invalidOr(err, "")
		}
		if kept, _ := c.Set("k", []byte("v"), 0); kept {
			return "ok"
		}
		return "disabled"
	case "group.budget":
		g, err := NewGroupWithOptions(uniqueName(t), goValue(t, input), upper, GroupOptions{})
		if err != nil {
			return invalidOr(err, "")
		}
		defer g.Close()
		var s string
		if err := g.Get(ctx, "k", StringSink(&s)); err != nil || s != "v:k" {
			return "load failed"
		}
		if g.CacheStats(MainCache).Items == 0 {
			return "disabled"
		}
		return "ok"
	case "cache.ttl":
		c, _ := NewCache(1 << 10)
		if _, err := c.Set("k", []byte("v"), time.Duration(goValue(t, input))); err != nil {
			return invalidOr(err, "")
		}
		time.Sleep(5 * time.Millisecond)
		if _, ok := c.Get("k"); ok {
			return "never_expires"
		}
		return "expired"
	case "group.ttl":
		g, err := NewGroupWithOptions(uniqueName(t), 1<<10, upper, GroupOptions{TTL: time.Duration(goValue(t, input))})
		if err != nil {
			return invalidOr(err, "")
		}
		defer g.Close()
		var s string
		_ = g.Get(ctx, "k", StringSink(&s))
		time.Sleep(5 * time.Millisecond)
		_ = g.Get(ctx, "k", StringSink(&s))
		if g.Stats().LocalLoads == 1 {
			return "never_expires"
		}
		return "expired"
	case "watch.buffer":
		wc, _ := NewWatchCache(WatchOptions{})
		defer wc.Close()
		w, err := wc.WatchWithOptions(ctx, 0, Selector{}, WatcherOptions{Buffer: int(goValue(t, input))})
		if err != nil {
			return invalidOr(err, "")
		}
		w.Stop()
		return "default"
	case "fresh.timeout":
		wc, _ := NewWatchCache(WatchOptions{FreshTimeout: 30 * time.Millisecond})
		defer wc.Close()
		start := time.Now()
		_, err := wc.WatchWithOptions(ctx, 5, Selector{}, WatcherOptions{SendInitialEvents: true,
			FreshTimeout: time.Duration(goValue(t, input))})
		if errors.Is(err, ErrInvalidArgument) {
			return "invalid"
		}
		if errors.Is(err, ErrTooLargeResourceVersion) && time.Since(start) >= 25*time.Millisecond {
			return "default" // the cache's 30 ms applied
		}
		return "other: " + errString(err)
	case "getter.sets_nothing":
		g := NewGroup(uniqueName(t), 1<<10, GetterFunc(func(context.Context, string, Sink) error { return nil }))
		defer g.Close()
		var s string
		if errors.Is(g.Get(ctx, "k", StringSink(&s)), ErrNoValue) {
			return "no_value"
		}
		return "value " + s
	case "leader.leaves", "leader.error", "leader.panic":
		return leaderCase(t, subject)
	case "getter.recursive":
		var g *Group
		var inner error
		g = NewGroup(uniqueName(t), 1<<10, GetterFunc(func(ctx context.Context, key string, dest Sink) error {
			var s string
			inner = g.Get(ctx, key, StringSink(&s))
			return dest.SetString("outer")
		}))
		defer g.Close()
		var s string
		if err := g.Get(ctx, "k", StringSink(&s)); err != nil {
			return "outer failed: " + err.Error()
		}
		if errors.Is(inner, ErrRecursiveLoad) {
			return "recursive_load"
		}
		return "inner: " + errString(inner)
	}
	t.Fatalf("unknown contract subject %q", subject)
	return ""
}

// leaderCase runs a leader that leaves (Goexit), fails or panics while
// waiters are parked on its load, and names what the waiters saw.
func leaderCase(t *testing.T, subject string) string {
	const waiters = 8
	var calls int64
	release := make(chan struct{})
	boom := errors.New("boom")
	g := NewGroup(uniqueName(t), 1<<10, GetterFunc(func(_ context.Context, key string, dest Sink) error {
		if atomic.AddInt64(&calls, 1) == 1 {
			<-release
			switch subject {
			case "leader.leaves":
				runtime.Goexit()
			case "leader.error":
				return boom
			case "leader.panic":
				panic("boom")
			}
		}
		return dest.SetString("v")
	}))
	defer g.Close()
	leaderErr := make(chan error, 2)
	go func() {
		defer func() { leaderErr <- nil }() // reached after Goexit too
		var s string
		if err := g.Get(context.Background(), "k", StringSink(&s)); err != nil {
			leaderErr <- err
		}
	}()
	waitFor(t, "the leader", func() bool { return atomic.LoadInt64(&calls) == 1 })
	var wg sync.WaitGroup
	results := make(chan error, waiters)
	for i := 0; i < waiters; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var s string
			results <- g.Get(context.Background(), "k", StringSink(&s))
		}()
	}
	waitFor(t, "the waiters", func() bool { return g.Stats().Loads == waiters+1 })
	close(release)
	wg.Wait()
	close(results)
	lerr := <-leaderErr
	var values, same int
	for err := range results {
		switch {
		case err == nil:
			values++
		case errors.Is(err, boom) || errors.Is(err, ErrLoaderPanicked):
			same++
		}
	}
	switch {
	case values == waiters && atomic.LoadInt64(&calls) == 2:
		return "waiter_retries"
	case same == waiters && lerr != nil && (errors.Is(lerr, boom) || errors.Is(lerr, ErrLoaderPanicked)):
		return "reaches_all"
	}
	return "mixed"
}
