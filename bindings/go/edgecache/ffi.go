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
	msg, _ := cMessage(func(buf *C.char, cap C.size_t, n *C.size_t) C.edgecache_status {
		return C.edgecache_status(C.edgecache_last_error_message(buf, cap, n))
	})
	return msg
}

// cMessage reads a string the library copies out under its buffer rules
// (EDGECACHE_BUFFER_TOO_SMALL with the needed length), growing the buffer
// once when the first one is too small. ok is false when there is none.
func cMessage(copyOut func(buf *C.char, cap C.size_t, n *C.size_t) C.edgecache_status) (msg string, ok bool) {
	buf := make([]C.char, 256)
	var n C.size_t
	s := copyOut(&buf[0], C.size_t(len(buf)), &n)
	if s == C.EDGECACHE_BUFFER_TOO_SMALL {
		buf = make([]C.char, int(n)+1)
		s = copyOut(&buf[0], C.size_t(len(buf)), &n)
	}
	if s != C.EDGECACHE_OK {
		return "", false
	}
	return C.GoStringN(&buf[0], C.int(n)), true
}
