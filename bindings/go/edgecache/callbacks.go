package edgecache

// The functions Rust calls back into Go. Each recovers every panic: a panic
// must never unwind into Rust frames.

/*
#include <stdint.h>
#include <edgecache.h>
*/
import "C"

import (
	"context"
	"errors"
	"runtime/cgo"
	"runtime/debug"
	"unsafe"
)

// callCtx is what a miss passes as the call's data: the caller's context.
type callCtx struct {
	ctx context.Context
}

//export edgecacheGoGetter
func edgecacheGoGetter(group C.uintptr_t, key *C.uint8_t, keyLen C.size_t, sink *C.edgecache_sink) (rc C.int32_t) {
	defer func() {
		if r := recover(); r != nil {
			sinkError(sink, &PanicError{Value: r, Stack: debug.Stack()})
			rc = 1
		}
	}()
	st := cgo.Handle(group).Value().(*groupState)
	ctx := context.Background()
	if cd := C.edgecache_sink_call_data(sink); cd != nil {
		ctx = cgo.Handle(uintptr(cd)).Value().(*callCtx).ctx
	}
	k := C.GoStringN((*C.char)(unsafe.Pointer(key)), C.int(keyLen))
	var dest loadSink
	if err := st.getter.Get(ctx, k, &dest); err != nil {
		sinkError(sink, err)
		return 1
	}
	if !dest.ok {
		// Nothing set: the library reports EDGECACHE_NO_VALUE.
		return 0
	}
	if C.edgecache_sink_set_bytes(sink, bytesData(dest.b), C.size_t(len(dest.b))) != C.EDGECACHE_OK {
		sinkError(sink, errors.New("edgecache: could not store the getter's value"))
		return 1
	}
	return 0
}

// sinkError hands err to every caller of the load: its handle travels as the
// error code and is deleted by edgecacheGoReleaseCode once nobody holds it.
func sinkError(sink *C.edgecache_sink, err error) {
	msg := err.Error()
	h := cgo.NewHandle(err)
	if C.edgecache_sink_set_error(sink, C.uint64_t(h), strData(msg), C.size_t(len(msg))) != C.EDGECACHE_OK {
		h.Delete()
	}
}

//export edgecacheGoReady
func edgecacheGoReady(h C.uintptr_t) {
	defer func() { _ = recover() }()
	handle := cgo.Handle(h)
	close(handle.Value().(chan struct{}))
	handle.Delete()
}

//export edgecacheGoRelease
func edgecacheGoRelease(handle C.uintptr_t) {
	defer func() { _ = recover() }()
	cgo.Handle(handle).Delete()
}

//export edgecacheGoReleaseCode
func edgecacheGoReleaseCode(_ C.uintptr_t, code C.uint64_t) {
	defer func() { _ = recover() }()
	if code != 0 {
		cgo.Handle(uintptr(code)).Delete()
	}
}

// takeError turns a load's edgecache_error into the Go error: the getter's
// own error object when it set one, else a *StatusError. Frees err. Only
// for loads whose failure codes are Go's (cgo.Handles of Go errors): a Go
// Flight's, a group made by NewGroup.
func takeError(s C.edgecache_status, err *C.edgecache_error) error {
	return takeErrorCodes(s, err, true)
}

// takeErrorCodes is takeError for a load whose failure codes may be
// another language's (goCodes false: a group made from C or Python): the
// code then stays a number, in StatusError.Code, and is never read as a
// handle.
func takeErrorCodes(s C.edgecache_status, err *C.edgecache_error, goCodes bool) error {
	if err == nil {
		return statusError(s, "")
	}
	defer C.edgecache_error_free(err)
	code := uint64(C.edgecache_error_code(err))
	if code != 0 && goCodes && s == C.EDGECACHE_GETTER_FAILED {
		if e, ok := cgo.Handle(uintptr(code)).Value().(error); ok {
			return e
		}
	}
	msg, _ := cMessage(func(buf *C.char, cap C.size_t, n *C.size_t) C.edgecache_status {
		return C.edgecache_status(C.edgecache_error_message(err, buf, cap, n))
	})
	e := statusError(s, msg)
	if se, ok := e.(*StatusError); ok && !goCodes {
		se.Code = code
	}
	return e
}
