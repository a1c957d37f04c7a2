// Command gcload measures what a large cache costs the Go garbage collector:
// one process fills about 1 GiB (850,000 entries of 1 KiB: 0.82 GiB of
// keys and values, about 1 GiB with either cache's overhead) into a cache (the
// binding's Group or groupcache's Group, with the same byte budget), then
// serves a steady load of Gets with a server's allocation churn (a 4 KiB
// buffer per request, briefly kept) for -duration, and reports the GC's
// pauses and CPU, the Go heap and the process's RSS over that window.
//
// Run it once per cache, in separate processes so the heaps do not mix,
// then print both side by side:
//
//	gcload -cache edgecache  -json ec.json
//	gcload -cache groupcache -json gc.json
//	gcload -report ec.json gc.json
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/bits"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/edgecache/edgecache/bindings/go/edgecache"
	"github.com/golang/groupcache"
)

// processStart approximates the runtime's start, from which it computes
// GCCPUFraction (see gcCPU).
var processStart = time.Now()

var (
	which    = flag.String("cache", "", "edgecache or groupcache")
	entries  = flag.Int("entries", 850000, "entries to load")
	valSize  = flag.Int("value", 1024, "bytes per value")
	budget   = flag.Int64("budget", 1288490188, "cacheBytes (1.2 GiB: all entries fit)")
	duration = flag.Duration("duration", 8*time.Second, "length of the steady load")
	rate     = flag.Int("rate", 0, "Gets per second over all workers (0: as fast as they go)")
	workers  = flag.Int("workers", 0, "load goroutines (0: GOMAXPROCS)")
	churn    = flag.Int("churn", 4096, "bytes of short-lived buffer allocated per request (0: none)")
	appHeap  = flag.Int("appheap", 0, "MiB of the program's own long-lived, pointer-linked heap (0: none)")
	jsonOut  = flag.String("json", "", "write the result to this file")
	report   = flag.Bool("report", false, "print the results in the JSON files given as arguments side by side")
)

// node is one object of the -appheap: 64 bytes with a pointer, so the
// collector traces it as it would a service's own state.
type node struct {
	next    *node
	payload [56]byte
}

// appState holds the -appheap objects for the life of the process.
var appState []*node

func buildAppHeap(mib int) {
	n := mib << 20 / 64
	appState = make([]*node, n)
	var prev *node
	for i := range appState {
		appState[i] = &node{next: prev}
		prev = appState[i]
	}
}

// cache is what the load needs of either Group.
type cache interface {
	get(ctx context.Context, key string, dst *[]byte, alloc bool) error
	items() (items, evictions, bytes int64)
}

type ecCache struct{ g *edgecache.Group }

func (c ecCache) get(ctx context.Context, key string, dst *[]byte, alloc bool) error {
	if alloc {
		return c.g.Get(ctx, key, edgecache.AllocatingByteSliceSink(dst))
	}
	return c.g.Get(ctx, key, edgecache.TruncatingByteSliceSink(dst))
}

func (c ecCache) items() (int64, int64, int64) {
	s := c.g.CacheStats(edgecache.MainCache)
	return s.Items, s.Evictions, s.Bytes
}

type gcCache struct{ g *groupcache.Group }

func (c gcCache) get(ctx context.Context, key string, dst *[]byte, alloc bool) error {
	if alloc {
		return c.g.Get(ctx, key, groupcache.AllocatingByteSliceSink(dst))
	}
	return c.g.Get(ctx, key, groupcache.TruncatingByteSliceSink(dst))
}

func (c gcCache) items() (int64, int64, int64) {
	s := c.g.CacheStats(groupcache.MainCache)
	return s.Items, s.Evictions, s.Bytes
}

// keyOf appends the key of entry i ("key:" and 8 digits, 12 bytes).
func keyOf(buf []byte, i int) []byte {
	buf = append(buf[:0], "key:00000000"...)
	for j := len(buf) - 1; i > 0; j-- {
		buf[j] = byte('0' + i%10)
		i /= 10
	}
	return buf
}

// fillValue writes entry i's value: i in the first 8 bytes, then a pattern.
func fillValue(v []byte, i int) {
	binary.BigEndian.PutUint64(v, uint64(i))
	for j := 8; j < len(v); j++ {
		v[j] = byte(i + j)
	}
}

var valuePool = sync.Pool{New: func() interface{} { b := make([]byte, *valSize); return &b }}

// load is the getter: it produces the value from the key, as a loader that
// reads a backing store would.
func load(key string) (*[]byte, error) {
	i, err := strconv.Atoi(strings.TrimPrefix(key, "key:"))
	if err != nil || i < 0 || i >= *entries {
		return nil, fmt.Errorf("bad key %q", key)
	}
	v := valuePool.Get().(*[]byte)
	fillValue(*v, i)
	return v, nil
}

// Result is one run's measurements (the JSON of -json).
type Result struct {
	Cache      string
	GoVersion  string
	GOMAXPROCS int
	Entries    int
	ValueBytes int
	Budget     int64

	FillSeconds    float64
	Items          int64
	Evictions      int64
	CacheBytes     int64
	HeapInuseFill  uint64 // after the fill and two forced collections
	HeapObjectFill uint64
	RSSFill        uint64

	AppHeapMiB int

	Workers       int
	RateTarget    int
	WindowSeconds float64
	Gets          int64
	GetsPerSecond float64
	LatencyP50Ns  float64
	LatencyP99Ns  float64
	LatencyP999Ns float64
	LatencyMaxNs  float64

	GCs          uint32
	GCsPerSecond float64
	PauseCount   uint64 // stop-the-world pauses (two per cycle)
	PauseP50Ns   float64
	PauseP99Ns   float64
	PauseMaxNs   float64
	PauseTotalNs uint64
	GCCPU        float64 // GC CPU time over GOMAXPROCS x GCSpan (GCCPUFraction's definition)
	GCSpan       float64 // seconds from the collection before the window to the window's last one
	ProcessCPU   float64 // cores busy on average (user+system)
	HeapInuseEnd uint64
	HeapGoalEnd  uint64 // NextGC
	GoSysEnd     uint64
	RSSEnd       uint64
	RSSPeak      uint64 // VmHWM: the whole run's peak, fill included
}

func main() {
	flag.Parse()
	if *report {
		if err := printReport(flag.Args()); err != nil {
			fmt.Fprintln(os.Stderr, "gcload:", err)
			os.Exit(1)
		}
		return
	}
	if *workers <= 0 {
		*workers = runtime.GOMAXPROCS(0)
	}
	res, err := run()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gcload:", err)
		os.Exit(1)
	}
	printOne(res)
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gcload:", err)
			os.Exit(1)
		}
	}
}

func run() (*Result, error) {
	var c cache
	switch *which {
	case "edgecache":
		c = ecCache{edgecache.NewGroup("gcload", *budget, edgecache.GetterFunc(
			func(_ context.Context, key string, dest edgecache.Sink) error {
				v, err := load(key)
				if err != nil {
					return err
				}
				defer valuePool.Put(v)
				return dest.SetBytes(*v) // copies
			}))}
	case "groupcache":
		c = gcCache{groupcache.NewGroup("gcload", *budget, groupcache.GetterFunc(
			func(_ context.Context, key string, dest groupcache.Sink) error {
				v, err := load(key)
				if err != nil {
					return err
				}
				defer valuePool.Put(v)
				return dest.SetBytes(*v) // copies
			}))}
	default:
		return nil, errors.New("-cache must be edgecache or groupcache")
	}
	r := &Result{Cache: *which, GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		Entries: *entries, ValueBytes: *valSize, Budget: *budget, Workers: *workers, RateTarget: *rate,
		AppHeapMiB: *appHeap}
	ctx := context.Background()
	buildAppHeap(*appHeap)

	// Fill: every entry loaded once through Get and the getter, by
	// GOMAXPROCS goroutines, into a reused buffer.
	t0 := time.Now()
	var wg sync.WaitGroup
	errc := make(chan error, runtime.GOMAXPROCS(0))
	n := runtime.GOMAXPROCS(0)
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var kb []byte
			buf := make([]byte, *valSize)
			for i := w; i < *entries; i += n {
				kb = keyOf(kb, i)
				dst := buf[:cap(buf)]
				if err := c.get(ctx, string(kb), &dst, false); err != nil {
					errc <- err
					return
				}
				if len(dst) != *valSize || binary.BigEndian.Uint64(dst) != uint64(i) {
					errc <- fmt.Errorf("entry %d: wrong value on load", i)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return nil, err
	}
	r.FillSeconds = time.Since(t0).Seconds()
	r.Items, r.Evictions, r.CacheBytes = c.items()
	if r.Items != int64(*entries) || r.Evictions != 0 {
		return nil, fmt.Errorf("after the fill the cache holds %d of %d entries (%d evictions): raise -budget",
			r.Items, *entries, r.Evictions)
	}
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.HeapInuseFill, r.HeapObjectFill = ms.HeapInuse, ms.HeapObjects
	r.RSSFill = procStatus("VmRSS")
	fmt.Fprintf(os.Stderr, "%s: filled %d entries in %.1f s; Go heap in use %s, RSS %s; load for %v\n",
		*which, r.Items, r.FillSeconds, mib(r.HeapInuseFill), mib(r.RSSFill), *duration)

	// The window.
	s0 := snap()
	lat, gets, err := steadyLoad(ctx, c)
	if err != nil {
		return nil, err
	}
	s1 := snap()

	window := s1.t.Sub(s0.t).Seconds()
	r.WindowSeconds = window
	r.Gets = gets
	r.GetsPerSecond = float64(gets) / window
	r.LatencyP50Ns, r.LatencyP99Ns, r.LatencyP999Ns = lat.quantile(0.5), lat.quantile(0.99), lat.quantile(0.999)
	r.LatencyMaxNs = float64(lat.max)

	r.GCs = s1.ms.NumGC - s0.ms.NumGC
	r.GCsPerSecond = float64(r.GCs) / window
	r.PauseTotalNs = s1.ms.PauseTotalNs - s0.ms.PauseTotalNs
	r.PauseCount, r.PauseP50Ns, r.PauseP99Ns, r.PauseMaxNs = pauseStats(s0.pauses, s1.pauses)
	// GC CPU over the window: the runtime's cumulative GC CPU time is
	// GCCPUFraction x (time from start to the last GC's end) x GOMAXPROCS;
	// both are as of the last completed cycle.
	if span := s1.ms.LastGC - s0.ms.LastGC; span > 0 {
		r.GCSpan = float64(span) / 1e9
		r.GCCPU = (gcCPU(&s1.ms) - gcCPU(&s0.ms)) / (float64(span) * float64(runtime.GOMAXPROCS(0)))
	}
	r.ProcessCPU = (s1.cpu - s0.cpu).Seconds() / window
	r.HeapInuseEnd, r.HeapGoalEnd, r.GoSysEnd = s1.ms.HeapInuse, s1.ms.NextGC, s1.ms.Sys
	r.RSSEnd = procStatus("VmRSS")
	r.RSSPeak = procStatus("VmHWM")
	return r, nil
}

// gcCPU is the runtime's cumulative GC CPU time in ns as of m.LastGC.
func gcCPU(m *runtime.MemStats) float64 {
	return m.GCCPUFraction * float64(int64(m.LastGC)-processStart.UnixNano()) * float64(runtime.GOMAXPROCS(0))
}

type snapshot struct {
	t      time.Time
	ms     runtime.MemStats
	pauses *metrics.Float64Histogram
	cpu    time.Duration
}

func snap() snapshot {
	var s snapshot
	sample := []metrics.Sample{{Name: "/gc/pauses:seconds"}}
	metrics.Read(sample)
	s.pauses = sample[0].Value.Float64Histogram()
	runtime.ReadMemStats(&s.ms)
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	s.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	s.t = time.Now()
	return s
}

// pauseStats reads the pauses recorded between two histograms: their
// count, and the p50, p99 and max as bucket upper bounds (about 6 % wide).
func pauseStats(a, b *metrics.Float64Histogram) (n uint64, p50, p99, max float64) {
	counts := make([]uint64, len(b.Counts))
	for i := range counts {
		counts[i] = b.Counts[i] - a.Counts[i]
		n += counts[i]
	}
	if n == 0 {
		return 0, 0, 0, 0
	}
	q := func(f float64) float64 {
		want := uint64(math.Ceil(f * float64(n)))
		var seen uint64
		for i, c := range counts {
			seen += c
			if seen >= want && c > 0 {
				return upper(b.Buckets, i)
			}
		}
		return upper(b.Buckets, len(counts)-1)
	}
	for i := len(counts) - 1; i >= 0; i-- {
		if counts[i] > 0 {
			max = upper(b.Buckets, i)
			break
		}
	}
	return n, q(0.5), q(0.99), max
}

func upper(buckets []float64, i int) float64 {
	u := buckets[i+1]
	if math.IsInf(u, 1) {
		u = buckets[i]
	}
	return u * 1e9
}

// hist is a log-linear latency histogram: 16 buckets per power of two.
type hist struct {
	counts [1024]uint64
	n      uint64
	max    uint64
}

func bucketOf(v uint64) int {
	if v < 32 {
		return int(v)
	}
	e := bits.Len64(v) - 5
	return e*16 + int(v>>uint(e))
}

func bucketUpper(i int) float64 {
	if i < 32 {
		return float64(i + 1)
	}
	e := i/16 - 1
	m := i%16 + 16
	return float64(uint64(m+1) << uint(e))
}

func (h *hist) add(v uint64) {
	h.counts[bucketOf(v)]++
	h.n++
	if v > h.max {
		h.max = v
	}
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	if o.max > h.max {
		h.max = o.max
	}
}

func (h *hist) quantile(f float64) float64 {
	want := uint64(math.Ceil(f * float64(h.n)))
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= want && c > 0 {
			return math.Min(bucketUpper(i), float64(h.max))
		}
	}
	return float64(h.max)
}

// steadyLoad runs the workers for -duration: each request Gets a uniformly
// random entry into a new slice (AllocatingByteSliceSink, as a handler
// that keeps the value would), checks it, and copies it into a fresh
// -churn buffer that stays live for the next 64 requests (a server's
// in-flight request state). The Get alone is timed.
func steadyLoad(ctx context.Context, c cache) (*hist, int64, error) {
	var (
		wg    sync.WaitGroup
		total int64
		stop  int32
		mu    sync.Mutex
		all   = new(hist)
		first error
	)
	start := time.Now()
	perWorker := float64(*rate) / float64(*workers)
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			h := new(hist)
			var ring [64][]byte
			var kb []byte
			x := uint64(w)*0x9E3779B97F4A7C15 + 1
			var done int64
			var err error
			for atomic.LoadInt32(&stop) == 0 {
				if perWorker > 0 {
					due := int64(time.Since(start).Seconds() * perWorker)
					if done >= due {
						time.Sleep(200 * time.Microsecond)
						continue
					}
				}
				// xorshift64*
				x ^= x >> 12
				x ^= x << 25
				x ^= x >> 27
				i := int((x * 2685821657736338717) % uint64(*entries))
				kb = keyOf(kb, i)
				key := string(kb)
				var v []byte
				t := time.Now()
				err = c.get(ctx, key, &v, true)
				h.add(uint64(time.Since(t)))
				if err != nil {
					break
				}
				if len(v) != *valSize || binary.BigEndian.Uint64(v) != uint64(i) {
					err = fmt.Errorf("entry %d: wrong value", i)
					break
				}
				if *churn > 0 {
					b := make([]byte, *churn)
					copy(b, v)
					ring[done%int64(len(ring))] = b
				}
				done++
			}
			mu.Lock()
			all.merge(h)
			total += done
			if err != nil && first == nil {
				first = err
			}
			mu.Unlock()
		}(w)
	}
	time.Sleep(*duration)
	atomic.StoreInt32(&stop, 1)
	wg.Wait()
	return all, total, first
}

// procStatus reads a "kB" field of /proc/self/status, in bytes.
func procStatus(field string) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest := strings.TrimPrefix(sc.Text(), field+":"); rest != sc.Text() {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func mib(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func printOne(r *Result) {
	fmt.Printf("%s: %.0f Gets/s, %d GCs (%.1f/s), pause p50/p99/max %.0f/%.0f/%.0f µs, GC CPU %.1f %%, "+
		"process CPU %.2f cores, Go heap %s (fill) %s (end), RSS %s (end) %s (peak)\n",
		r.Cache, r.GetsPerSecond, r.GCs, r.GCsPerSecond, r.PauseP50Ns/1e3, r.PauseP99Ns/1e3, r.PauseMaxNs/1e3,
		100*r.GCCPU, r.ProcessCPU, mib(r.HeapInuseFill), mib(r.HeapInuseEnd), mib(r.RSSEnd), mib(r.RSSPeak))
}

func printReport(paths []string) error {
	if len(paths) != 2 {
		return errors.New("-report takes two JSON files: edgecache's, then the peer's")
	}
	var rs [2]Result
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &rs[i]); err != nil {
			return fmt.Errorf("%s: %v", p, err)
		}
	}
	a, b := &rs[0], &rs[1]
	rate := "as fast as they go"
	if a.RateTarget > 0 {
		rate = fmt.Sprintf("%d Gets/s in total", a.RateTarget)
	}
	fmt.Printf("%d entries x %d B values, cacheBytes %.2f GiB, %d MiB of other live heap, %s, GOMAXPROCS %d, "+
		"GOGC default;\nload: %d workers, %s, %.1f s; ratio = %s ÷ %s\n\n",
		a.Entries, a.ValueBytes, float64(a.Budget)/(1<<30), a.AppHeapMiB, a.GoVersion, a.GOMAXPROCS, a.Workers,
		rate, a.WindowSeconds, a.Cache, b.Cache)
	fmt.Printf("| | %s | %s | ratio |\n|---|---:|---:|---:|\n", a.Cache, b.Cache)
	row := func(name string, x, y float64, format string) {
		ratio := ""
		if y != 0 {
			ratio = fmt.Sprintf("%.2f", x/y)
		}
		fmt.Printf("| %s | "+format+" | "+format+" | %s |\n", name, x, y, ratio)
	}
	const mb = 1 << 20
	row("fill: a Get per entry, through the getter (s)", a.FillSeconds, b.FillSeconds, "%.1f")
	row("Go heap in use after fill (MiB)", float64(a.HeapInuseFill)/mb, float64(b.HeapInuseFill)/mb, "%.0f")
	row("Go heap objects after fill", float64(a.HeapObjectFill), float64(b.HeapObjectFill), "%.0f")
	row("RSS after fill (MiB)", float64(a.RSSFill)/mb, float64(b.RSSFill)/mb, "%.0f")
	row("Gets/s during the load", a.GetsPerSecond, b.GetsPerSecond, "%.0f")
	row("Get latency p50 (µs)", a.LatencyP50Ns/1e3, b.LatencyP50Ns/1e3, "%.2f")
	row("Get latency p99 (µs)", a.LatencyP99Ns/1e3, b.LatencyP99Ns/1e3, "%.2f")
	row("Get latency p99.9 (µs)", a.LatencyP999Ns/1e3, b.LatencyP999Ns/1e3, "%.2f")
	row("Get latency max (µs)", a.LatencyMaxNs/1e3, b.LatencyMaxNs/1e3, "%.0f")
	row("GC cycles", float64(a.GCs), float64(b.GCs), "%.0f")
	row("GC cycles per second", a.GCsPerSecond, b.GCsPerSecond, "%.1f")
	row("GC stop-the-world pause p50 (µs)", a.PauseP50Ns/1e3, b.PauseP50Ns/1e3, "%.0f")
	row("GC stop-the-world pause p99 (µs)", a.PauseP99Ns/1e3, b.PauseP99Ns/1e3, "%.0f")
	row("GC stop-the-world pause max (µs)", a.PauseMaxNs/1e3, b.PauseMaxNs/1e3, "%.0f")
	row("GC pause total (ms)", float64(a.PauseTotalNs)/1e6, float64(b.PauseTotalNs)/1e6, "%.1f")
	row("GC CPU, % of GOMAXPROCS (GCCPUFraction's measure)", 100*a.GCCPU, 100*b.GCCPU, "%.1f")
	row("GC CPU per 1M Gets (core-ms)", gcPerM(a), gcPerM(b), "%.0f")
	row("process CPU, all of it (cores)", a.ProcessCPU, b.ProcessCPU, "%.2f")
	row("process CPU per Get (µs)", cpuPerGet(a), cpuPerGet(b), "%.1f")
	row("Go heap in use at end (MiB)", float64(a.HeapInuseEnd)/mb, float64(b.HeapInuseEnd)/mb, "%.0f")
	row("Go heap goal at end (MiB)", float64(a.HeapGoalEnd)/mb, float64(b.HeapGoalEnd)/mb, "%.0f")
	row("RSS at end (MiB)", float64(a.RSSEnd)/mb, float64(b.RSSEnd)/mb, "%.0f")
	row("RSS peak (MiB)", float64(a.RSSPeak)/mb, float64(b.RSSPeak)/mb, "%.0f")
	return nil
}

// gcPerM is GC CPU milliseconds per million Gets, over the GC span (the
// Gets counted in proportion).
func gcPerM(r *Result) float64 {
	if r.Gets == 0 || r.GCSpan == 0 {
		return 0
	}
	gets := r.GetsPerSecond * r.GCSpan
	return r.GCCPU * float64(r.GOMAXPROCS) * r.GCSpan * 1e3 / (gets / 1e6)
}

// cpuPerGet is the process's CPU time (user + system, GC included) per Get.
func cpuPerGet(r *Result) float64 {
	if r.Gets == 0 {
		return 0
	}
	return r.ProcessCPU * r.WindowSeconds * 1e6 / float64(r.Gets)
}
