package edgecache

// Every cgo directive of the package lives here. The package links the
// static library that `make lib` builds (target/release/libedgecache.a) and
// includes the header from include/.

/*
#cgo CFLAGS: -I${SRCDIR}/../../../include
#cgo LDFLAGS: ${SRCDIR}/../../../target/release/libedgecache.a -lm -ldl -lpthread
#include "shims.h"
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// gcEveryCall is true in builds with the edgecache_gccheck tag: every ptr()
// then runs a garbage collection, so a missing runtime.KeepAlive shows up as
// a use after free in tests.
var _ = gcEveryCall

// strData is a pointer to the bytes of s for a C call that does not keep it
// (nil for an empty string).
func strData(s string) *C.uint8_t {
	if len(s) == 0 {
		return nil
	}
	return (*C.uint8_t)(*(*unsafe.Pointer)(unsafe.Pointer(&s)))
}

// bytesData is a pointer to b's first byte for a C call that does not keep
// it (nil for an empty slice).
func bytesData(b []byte) *C.uint8_t {
	if len(b) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0]))
}

// cBytes lends the bytes of an edgecache_bytes as a Go slice; valid until
// they are freed.
func cBytes(b C.edgecache_bytes) []byte {
	if b.len == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(b.data)), int(b.len))
}

// freeBytes releases an edgecache_bytes received from the library.
func freeBytes(b C.edgecache_bytes) {
	if b.data != nil {
		C.edgecache_bytes_free(b)
	}
}

// checkGC runs a collection on every call in edgecache_gccheck builds.
func checkGC() {
	if gcEveryCall {
		runtime.GC()
	}
}

// lastError is the thread's last error detail from the library. Only
// meaningful right after a failed call on the same OS thread; callers that
// need it lock the goroutine to its thread around the call.
func lastError() string {
	var buf [512]C.char
	var n C.size_t
	if C.edgecache_last_error_message(&buf[0], C.size_t(len(buf)), &n) != C.EDGECACHE_OK {
		return ""
	}
	return C.GoStringN(&buf[0], C.int(minInt(int(n), len(buf)-1)))
}

func minInt(a, b int) int {
	if a < b {
		return a
	}
	return b
}
