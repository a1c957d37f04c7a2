package edgecache

/*
#include "shims.h"
*/
import "C"

import (
	"sort"
	"unsafe"
)

// arena is one C allocation holding the structs and bytes of a call's
// inputs (objects, label pairs, selectors). cgo forbids storing Go pointers
// in memory passed to C, so inputs with pointers inside are built here and
// freed after the call.
type arena struct {
	base unsafe.Pointer
	off  uintptr
	size uintptr
}

// newArena allocates size bytes, zeroed. Zeroed matters: the structs built
// here hold pointer fields, and Go's write barrier reads a pointer slot's
// old value before a store. Garbage left in malloc'd memory can look like a
// pointer into the Go heap, and when it points at a freed object the
// runtime dies with "found bad pointer in Go heap" (the proxy's tests hit
// this about once in 300 runs).
func newArena(size uintptr) *arena {
	if size == 0 {
		size = 1
	}
	base := C.calloc(1, C.size_t(size))
	if base == nil { // unlike C.malloc, cgo's C.calloc does not panic on OOM
		panic("edgecache: out of memory")
	}
	return &arena{base: base, size: size}
}

func (a *arena) free() { C.free(a.base) }

// alloc returns n bytes aligned to 8.
func (a *arena) alloc(n uintptr) unsafe.Pointer {
	a.off = (a.off + 7) &^ 7
	if a.off+n > a.size {
		panic("edgecache: arena overflow")
	}
	p := unsafe.Add(a.base, a.off)
	a.off += n
	return p
}

func (a *arena) str(s string) C.edgecache_str {
	if len(s) == 0 {
		return C.edgecache_str{}
	}
	p := a.alloc(uintptr(len(s)))
	copy(unsafe.Slice((*byte)(p), len(s)), s)
	return C.edgecache_str{ptr: (*C.char)(p), len: C.size_t(len(s))}
}

func (a *arena) bytes(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	p := a.alloc(uintptr(len(b)))
	copy(unsafe.Slice((*byte)(p), len(b)), b)
	return (*C.uint8_t)(p), C.size_t(len(b))
}

// strs copies l as an array of edgecache_str ((NULL, 0) for an empty l).
func (a *arena) strs(l []string) (*C.edgecache_str, C.size_t) {
	if len(l) == 0 {
		return nil, 0
	}
	arr := unsafe.Slice((*C.edgecache_str)(a.alloc(uintptr(len(l))*unsafe.Sizeof(C.edgecache_str{}))), len(l))
	for i, s := range l {
		arr[i] = a.str(s)
	}
	return &arr[0], C.size_t(len(l))
}

// pairs copies m (in key order) as an array of edgecache_pair.
func (a *arena) pairs(m map[string]string) (*C.edgecache_pair, C.size_t) {
	if len(m) == 0 {
		return nil, 0
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	arr := unsafe.Slice((*C.edgecache_pair)(a.alloc(uintptr(len(m))*unsafe.Sizeof(C.edgecache_pair{}))), len(m))
	for i, k := range keys {
		arr[i] = C.edgecache_pair{name: a.str(k), value: a.str(m[k])}
	}
	return &arr[0], C.size_t(len(m))
}

func (a *arena) objects(objs []Object) *C.edgecache_object {
	if len(objs) == 0 {
		return nil
	}
	arr := unsafe.Slice((*C.edgecache_object)(a.alloc(uintptr(len(objs))*unsafe.Sizeof(C.edgecache_object{}))), len(objs))
	for i := range objs {
		o := &objs[i]
		var c C.edgecache_object
		c.key = a.str(o.Key)
		c.data, c.data_len = a.bytes(o.Data)
		c.labels, c.n_labels = a.pairs(o.Labels)
		c.fields, c.n_fields = a.pairs(o.Fields)
		arr[i] = c
	}
	return &arr[0]
}

// Sizes for an arena holding what the methods above copy.
func mapSize(m map[string]string) uintptr {
	n := uintptr(len(m)) * (unsafe.Sizeof(C.edgecache_pair{}) + 16)
	for k, v := range m {
		n += uintptr(len(k) + len(v))
	}
	return n + 8
}

// selectorSize is what a selector's maps and strings take in an arena.
func selectorSize(sel *Selector) uintptr {
	return mapSize(sel.Labels) + mapSize(sel.Fields) + uintptr(len(sel.LabelSelector)+len(sel.FieldSelector)) + 16
}

func objectsSize(objs []Object) uintptr {
	n := uintptr(len(objs))*unsafe.Sizeof(C.edgecache_object{}) + 8
	for i := range objs {
		n += uintptr(len(objs[i].Key)+len(objs[i].Data)) + 16 + mapSize(objs[i].Labels) + mapSize(objs[i].Fields)
	}
	return n
}
