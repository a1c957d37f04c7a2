package bench

import (
	"context"
	"encoding/binary"
	"sync/atomic"
	"testing"

	"github.com/edgecache/edgecache/bindings/go/edgecache"
	"github.com/golang/groupcache"
)

// The miss path: every Get asks for a key never asked before, so each one
// runs a load (the flight, the getter, storing the value, evicting to stay
// in a 1 MiB budget). The getter does no work of its own, so this measures
// what the cache adds to a load.
const missBudget = 1 << 20

var missSeq uint64

func missKey() string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], atomic.AddUint64(&missSeq, 1))
	return string(b[:])
}

func benchMiss(b *testing.B, size int) {
	payload := value(7, size)
	b.Run("edgecache", func(b *testing.B) {
		g := edgecache.NewGroup("miss"+itoa(size)+"/"+itoa(b.N), missBudget, edgecache.GetterFunc(
			func(_ context.Context, _ string, dest edgecache.Sink) error { return dest.SetBytes(payload) }))
		defer g.Close()
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			var v []byte
			for pb.Next() {
				if err := g.Get(ctx, missKey(), edgecache.AllocatingByteSliceSink(&v)); err != nil || len(v) != size {
					panic("edgecache miss failed")
				}
			}
		})
		if st := g.Stats(); st.CacheHits != 0 {
			b.Fatalf("a miss benchmark hit the cache: %+v", st)
		}
	})
	b.Run("groupcache", func(b *testing.B) {
		// groupcache cannot unregister a group: one per run, by name.
		g := groupcache.NewGroup("miss"+itoa(size)+"/"+itoa(b.N)+"/gc"+itoa(int(atomic.AddUint64(&missSeq, 1)%1e6)),
			missBudget, groupcache.GetterFunc(
				func(_ context.Context, _ string, dest groupcache.Sink) error { return dest.SetBytes(payload) }))
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			var v []byte
			for pb.Next() {
				if err := g.Get(nil, missKey(), groupcache.AllocatingByteSliceSink(&v)); err != nil || len(v) != size {
					panic("groupcache miss failed")
				}
			}
		})
	})
}

// BenchmarkGetMiss16: a load of a 16-byte value.
func BenchmarkGetMiss16(b *testing.B) { benchMiss(b, 16) }

// BenchmarkGetMiss1K: a load of a 1 KiB value.
func BenchmarkGetMiss1K(b *testing.B) { benchMiss(b, 1024) }
