package edgecache

import (
	"context"
	"strconv"
	"testing"
)

// BenchmarkGroupGetHit is a hit through the binding (peers: bench/go).
func BenchmarkGroupGetHit(b *testing.B) {
	g := NewGroup("BenchmarkGroupGetHit/"+strconv.Itoa(b.N), 1<<26, GetterFunc(func(_ context.Context, key string, dest Sink) error {
		return dest.SetString("0123456789abcdef")
	}))
	defer g.Close()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "key-" + strconv.Itoa(i)
		var v []byte
		_ = g.Get(context.Background(), keys[i], AllocatingByteSliceSink(&v))
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var v []byte
		if err := g.Get(ctx, keys[i&1023], AllocatingByteSliceSink(&v)); err != nil {
			b.Fatal(err)
		}
	}
}
