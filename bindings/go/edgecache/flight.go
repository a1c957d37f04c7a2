package edgecache

/*
#include "shims.h"
*/
import "C"

import (
	"runtime"
	"runtime/cgo"
	"runtime/debug"
	"sync"
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

	// As in Group: one goroutine per key begins a ticket in the library;
	// the others park here rather than block an OS thread each in it.
	mu    sync.Mutex
	calls map[string]*flightCall
}

// flightCall is a Do in progress on the Go side.
type flightCall struct {
	done   chan struct{}
	val    []byte
	err    error
	joined int32 // goroutines parked on it
}

// NewFlight creates a Flight.
func NewFlight() *Flight {
	var h *C.edgecache_flight
	if err := call(func() C.edgecache_status { return C.ec_flight_new(&h) }); err != nil {
		panic(err)
	}
	f := &Flight{h: h, calls: map[string]*flightCall{}}
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
	f.mu.Lock()
	if c, ok := f.calls[key]; ok {
		atomic.AddInt32(&c.joined, 1)
		f.mu.Unlock()
		<-c.done
		if c.err != nil {
			return nil, c.err, true
		}
		return cloneBytes(c.val), nil, true
	}
	c := &flightCall{done: make(chan struct{})}
	f.calls[key] = c
	f.mu.Unlock()
	v, err, shared := f.doC(key, fn)
	f.mu.Lock()
	if f.calls[key] == c {
		delete(f.calls, key)
	}
	f.mu.Unlock()
	// No goroutine joins c any more. The parked ones get a copy of their
	// own, so the caller may change v.
	joined := atomic.LoadInt32(&c.joined) > 0
	c.err = err
	if err == nil && joined {
		c.val = cloneBytes(v)
	}
	close(c.done)
	return v, err, shared || joined
}

// doC runs one Do through the library's flight: this goroutine leads and
// runs fn, or waits for a caller from another language that leads.
func (f *Flight) doC(key string, fn func() ([]byte, error)) ([]byte, error, bool) {
	o := new(ticketOut)
	s := C.edgecache_status(C.edgecache_flight_begin(f.ptr(), strData(key), C.size_t(len(key)), &o.t, &o.leader))
	runtime.KeepAlive(f)
	if s != C.EDGECACHE_OK {
		return nil, statusError(s, ""), false
	}
	defer C.edgecache_ticket_free(o.t)
	if !o.leader {
		s = C.edgecache_status(C.edgecache_ticket_wait(o.t, C.EDGECACHE_WAIT_FOREVER, &o.out, &o.err))
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
	f.mu.Lock()
	delete(f.calls, key)
	f.mu.Unlock()
	C.edgecache_flight_forget(f.ptr(), strData(key), C.size_t(len(key)), nil)
	runtime.KeepAlive(f)
}

// Close makes later Do calls fail with ErrClosed; calls in progress finish.
// Idempotent.
func (f *Flight) Close() {
	atomic.StoreInt32(&f.closed, 1)
}
