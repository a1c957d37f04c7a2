package edgecache

/*
#include "shims.h"
*/
import "C"

import (
	"runtime"
	"runtime/cgo"
	"runtime/debug"
	"sync/atomic"
)

// Flight collapses concurrent calls for one key into one (singleflight, as
// golang.org/x/sync/singleflight and groupcache's singleflight), run by the
// library's flight so every language in the process shares one
// implementation.
//
// A Flight is safe for concurrent use. Close makes later calls fail; the
// handle's few bytes go when the *Flight is collected.
type Flight struct {
	h      *C.edgecache_flight
	closed int32
}

// NewFlight creates a Flight.
func NewFlight() *Flight {
	var h *C.edgecache_flight
	if err := call(func() C.edgecache_status { return C.ec_flight_new(&h) }); err != nil {
		panic(err)
	}
	f := &Flight{h: h}
	runtime.SetFinalizer(f, func(f *Flight) { C.edgecache_flight_free(f.h) })
	return f
}

func (f *Flight) ptr() *C.edgecache_flight {
	checkGC()
	return f.h
}

// ticketOut holds begin's out-parameters (on the heap: they cross cgo).
type ticketOut struct {
	t      *C.edgecache_ticket
	leader C.bool
	shared C.bool
	out    C.edgecache_bytes
	err    *C.edgecache_error
}

// Do runs fn once for every caller that overlaps on key and returns its
// result to all of them: the value (each caller gets its own copy), the
// error (the same error value for every caller), and whether the result was
// shared with another caller (false for the caller whose own fn failed).
// If fn panics, every caller, including the one that ran it, gets a
// *PanicError; the key is free again afterwards. A nil fn, or a call after
// Close, returns an error without running anything.
func (f *Flight) Do(key string, fn func() ([]byte, error)) ([]byte, error, bool) {
	if fn == nil {
		return nil, &StatusError{Kind: ErrInvalidArgument, Message: "nil function"}, false
	}
	if atomic.LoadInt32(&f.closed) != 0 {
		return nil, &StatusError{Kind: ErrClosed, Message: "the flight is closed"}, false
	}
	for {
		v, err, shared := f.do(key, fn)
		if err == errLeaderLeft {
			// The leader left through runtime.Goexit: take the key again.
			continue
		}
		return v, err, shared
	}
}

// do is one try: lead (run fn and publish) or park until the leader's
// result is ready; a waiter whose leader left gets ErrAbandoned.
func (f *Flight) do(key string, fn func() ([]byte, error)) ([]byte, error, bool) {
	o := new(ticketOut)
	s := C.edgecache_status(C.edgecache_flight_begin(f.ptr(), strData(key), C.size_t(len(key)), &o.t, &o.leader))
	runtime.KeepAlive(f)
	if s != C.EDGECACHE_OK {
		return nil, statusError(s, ""), false
	}
	// Freeing a leader that has not published (fn called runtime.Goexit)
	// abandons the call: the waiters take the key again.
	defer C.edgecache_ticket_free(o.t)
	if !o.leader {
		ready := make(chan struct{})
		h := cgo.NewHandle(ready)
		if s := C.ec_ticket_on_ready(o.t, C.uintptr_t(h)); s != C.EDGECACHE_OK {
			h.Delete()
			return nil, statusError(s, ""), true
		}
		<-ready
		s = C.edgecache_status(C.edgecache_ticket_result(o.t, &o.out, &o.err))
		if s == C.EDGECACHE_ABANDONED {
			if o.err != nil {
				C.edgecache_error_free(o.err)
			}
			return nil, errLeaderLeft, true
		}
		if s != C.EDGECACHE_OK {
			return nil, takeError(s, o.err), true
		}
		v := cloneBytes(cBytes(o.out))
		freeBytes(o.out)
		return v, nil, true
	}
	v, err := runGuarded(fn)
	if err != nil {
		msg := err.Error()
		h := cgo.NewHandle(err)
		if C.edgecache_ticket_fail(o.t, C.uint64_t(h), strData(msg), C.size_t(len(msg))) != C.EDGECACHE_OK {
			h.Delete()
		}
		return nil, err, false
	}
	C.edgecache_ticket_complete(o.t, bytesData(v), C.size_t(len(v)), &o.shared)
	return v, nil, bool(o.shared)
}

// runGuarded calls fn, turning a panic into a *PanicError.
func runGuarded(fn func() ([]byte, error)) (v []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return fn()
}

// Forget detaches key from its call in flight: later callers start a new
// one, and the forgotten call, when it ends, does not disturb its
// successor.
func (f *Flight) Forget(key string) {
	C.edgecache_flight_forget(f.ptr(), strData(key), C.size_t(len(key)), nil)
	runtime.KeepAlive(f)
}

// Close makes later Do calls fail with ErrClosed; calls in progress finish.
// Idempotent.
func (f *Flight) Close() {
	atomic.StoreInt32(&f.closed, 1)
}
