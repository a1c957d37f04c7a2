package edgecache

import (
	"testing"
	"unsafe"
)

// An arena starts zeroed even where the C allocator hands back memory a
// previous arena dirtied: Go's write barrier reads the old value of each
// pointer slot the binding stores into, and leftover bytes there crashed
// the runtime ("found bad pointer in Go heap").
func TestArenaMemoryStartsZeroed(t *testing.T) {
	const size = 256
	for round := 0; round < 8; round++ {
		dirty := newArena(size)
		b := unsafe.Slice((*byte)(dirty.base), size)
		for i := range b {
			b[i] = 0xa5
		}
		dirty.free()

		a := newArena(size)
		got := unsafe.Slice((*byte)(a.base), size)
		for i, v := range got {
			if v != 0 {
				a.free()
				t.Fatalf("round %d: byte %d of a new arena is %#x, want 0", round, i, v)
			}
		}
		// What the binding stores into an arena reads back.
		p, n := a.pairs(map[string]string{"app": "edge"})
		if p == nil || n != 1 || p.name.len != 3 || p.value.len != 4 {
			t.Fatalf("pairs in a fresh arena: %+v", p)
		}
		a.free()
	}
}
