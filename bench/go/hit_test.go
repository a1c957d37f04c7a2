package bench

import (
	"context"
	"encoding/binary"
	"math"
	"math/rand"
	"sort"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/edgecache/edgecache/bindings/go/edgecache"
	"github.com/golang/groupcache"
	lru "github.com/hashicorp/golang-lru"
)

// The workload of the Rust benchmark (docs/benchmarks.md, section 1):
// 32,768 keys (8-byte big-endian integers, here as Go strings), an access
// stream of 2^20 indices drawn up front from a zipf distribution (s = 1.0,
// ranks scattered over the key space), every key loaded before timing so
// every Get is a hit. All three caches get the same key strings.
const (
	numKeys    = 1 << 15
	streamLen  = 1 << 20
	zipfS      = 1.0
	cacheBytes = 64 << 20 // far above what the keys need: nothing is evicted
)

var (
	keys   []string      // keys[i] is i as 8 big-endian bytes
	boxed  []interface{} // keys[i] as an interface{}, for golang-lru
	stream []uint32      // indices into keys
)

func init() {
	keys = make([]string, numKeys)
	boxed = make([]interface{}, numKeys)
	for i := range keys {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(i))
		keys[i] = string(b[:])
		boxed[i] = keys[i]
	}
	// Inverse-CDF sampling of zipf(s) over ranks 1..numKeys; rank r maps to
	// key perm[r-1] so the popular keys are scattered (math/rand's Zipf
	// needs s > 1).
	rng := rand.New(rand.NewSource(42))
	cdf := make([]float64, numKeys)
	sum := 0.0
	for r := 1; r <= numKeys; r++ {
		sum += 1 / math.Pow(float64(r), zipfS)
		cdf[r-1] = sum
	}
	perm := rng.Perm(numKeys)
	stream = make([]uint32, streamLen)
	for i := range stream {
		u := rng.Float64() * sum
		r := sort.SearchFloat64s(cdf, u)
		if r >= numKeys {
			r = numKeys - 1
		}
		stream[i] = uint32(perm[r])
	}
}

// value is the 16- or 1024-byte value of key index i (its first 8 bytes
// are i, so a hit can be checked).
func value(i uint64, size int) []byte {
	v := make([]byte, size)
	binary.BigEndian.PutUint64(v, i)
	for j := 8; j < size; j++ {
		v[j] = byte(i + uint64(j))
	}
	return v
}

// A workload is the value size; each cache is built once per workload.
type caches struct {
	ec *edgecache.Group
	gc *groupcache.Group
	hl *lru.Cache
}

var (
	cachesMu sync.Mutex
	built    = map[int]*caches{}
)

func getCaches(b *testing.B, size int) *caches {
	cachesMu.Lock()
	defer cachesMu.Unlock()
	if c, ok := built[size]; ok {
		return c
	}
	load := func(key string) []byte { return value(binary.BigEndian.Uint64([]byte(key)), size) }
	c := &caches{}
	name := "hit" + itoa(size)
	c.ec = edgecache.NewGroup(name, cacheBytes, edgecache.GetterFunc(
		func(_ context.Context, key string, dest edgecache.Sink) error { return dest.SetBytes(load(key)) }))
	c.gc = groupcache.NewGroup(name, cacheBytes, groupcache.GetterFunc(
		func(_ context.Context, key string, dest groupcache.Sink) error { return dest.SetBytes(load(key)) }))
	var err error
	if c.hl, err = lru.New(numKeys); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i, k := range keys {
		var v []byte
		if err := c.ec.Get(ctx, k, edgecache.AllocatingByteSliceSink(&v)); err != nil || len(v) != size {
			b.Fatalf("edgecache load %d: %v", i, err)
		}
		if err := c.gc.Get(ctx, k, groupcache.AllocatingByteSliceSink(&v)); err != nil || len(v) != size {
			b.Fatalf("groupcache load %d: %v", i, err)
		}
		c.hl.Add(boxed[i], load(k))
	}
	if st := c.ec.CacheStats(edgecache.MainCache); st.Items != numKeys || st.Evictions != 0 {
		b.Fatalf("edgecache holds %d items, %d evictions", st.Items, st.Evictions)
	}
	if st := c.gc.CacheStats(groupcache.MainCache); st.Items != numKeys || st.Evictions != 0 {
		b.Fatalf("groupcache holds %d items, %d evictions", st.Items, st.Evictions)
	}
	if c.hl.Len() != numKeys {
		b.Fatalf("golang-lru holds %d items", c.hl.Len())
	}
	built[size] = c
	return c
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}

// start spreads the RunParallel goroutines over the stream.
var start uint64

func walk(b *testing.B, size int, get func(i uint32) []byte) {
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := (atomic.AddUint64(&start, 1) * 0x9E3779B1) & (streamLen - 1)
		for pb.Next() {
			k := stream[i]
			v := get(k)
			if len(v) != size || v[7] != byte(k) {
				panic("wrong value")
			}
			i = (i + 1) & (streamLen - 1)
		}
	})
}

func benchHit(b *testing.B, size int) {
	c := getCaches(b, size)
	ctx := context.Background()
	b.Run("edgecache", func(b *testing.B) {
		walk(b, size, func(i uint32) []byte {
			var v []byte
			if err := c.ec.Get(ctx, keys[i], edgecache.AllocatingByteSliceSink(&v)); err != nil {
				panic(err)
			}
			return v
		})
	})
	b.Run("groupcache", func(b *testing.B) {
		walk(b, size, func(i uint32) []byte {
			var v []byte
			if err := c.gc.Get(ctx, keys[i], groupcache.AllocatingByteSliceSink(&v)); err != nil {
				panic(err)
			}
			return v
		})
	})
	// golang-lru hands back the stored []byte itself (no copy), and gets
	// keys already boxed in an interface{} (passing a string variable would
	// add a 16-byte allocation per Get).
	b.Run("golang-lru", func(b *testing.B) {
		walk(b, size, func(i uint32) []byte {
			v, ok := c.hl.Get(boxed[i])
			if !ok {
				panic("golang-lru miss")
			}
			return v.([]byte)
		})
	})
}

// BenchmarkGetHit16: 16-byte values, as in the Rust benchmark.
func BenchmarkGetHit16(b *testing.B) { benchHit(b, 16) }

// BenchmarkGetHit1K: 1 KiB values, the size of the GC load (gcload).
func BenchmarkGetHit1K(b *testing.B) { benchHit(b, 1024) }
