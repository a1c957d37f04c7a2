package edgecache

/*
#include "shims.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
)

// The errors the package reports, for errors.Is. A failed call returns an
// *Error (or, for a getter's own failure, the getter's error itself) that
// matches one of these.
var (
	// ErrInvalidArgument: an argument is out of range (a negative size,
	// a resourceVersion that does not increase, an unknown index, ...).
	ErrInvalidArgument = errors.New("edgecache: invalid argument")
	// ErrClosed: the object was closed.
	ErrClosed = errors.New("edgecache: closed")
	// ErrTimeout: a wait ran out of time; the load or stream goes on.
	ErrTimeout = errors.New("edgecache: timed out")
	// ErrLoaderPanicked: the getter or loader panicked. A Go panic arrives
	// as a *PanicError that matches this.
	ErrLoaderPanicked = errors.New("edgecache: the getter panicked")
	// ErrAbandoned: the caller running a load went away without a result.
	ErrAbandoned = errors.New("edgecache: the load was abandoned by the caller running it")
	// ErrDuplicateGroup: a group with this name is already registered.
	ErrDuplicateGroup = errors.New("edgecache: a group with this name is already registered")
	// ErrResourceExpired: the resourceVersion is older than the watch window
	// (HTTP 410 Gone, reason Expired): list again.
	ErrResourceExpired = errors.New("edgecache: too old resource version")
	// ErrTooLargeResourceVersion: the cache has not seen the
	// resourceVersion in time (HTTP 504; retry after a second).
	ErrTooLargeResourceVersion = errors.New("edgecache: too large resource version")
	// ErrInternal: a bug inside edgecache (it panicked); the object stays
	// usable.
	ErrInternal = errors.New("edgecache: internal error")
)

// StatusError is a failure reported by the library: which kind (Unwrap gives the
// sentinel above) and the library's detail.
type StatusError struct {
	// Kind is one of the sentinel errors of this package.
	Kind error
	// Message is the library's detail, e.g. "too old resource version: 3 (10)".
	Message string
}

func (e *StatusError) Error() string {
	if e.Message == "" {
		return e.Kind.Error()
	}
	return "edgecache: " + e.Message
}

// Unwrap returns the sentinel, so errors.Is(err, ErrResourceExpired) works.
func (e *StatusError) Unwrap() error { return e.Kind }

// HTTPStatus is the HTTP status code Kubernetes uses for this error: 410 for
// ErrResourceExpired, 504 for ErrTooLargeResourceVersion, 503 for ErrClosed,
// 500 otherwise.
func (e *StatusError) HTTPStatus() int {
	switch e.Kind {
	case ErrResourceExpired:
		return 410
	case ErrTooLargeResourceVersion:
		return 504
	case ErrClosed:
		return 503
	case ErrTimeout:
		return 504
	}
	return 500
}

// PanicError is what every caller sharing a load gets when a Go getter
// panics. It matches ErrLoaderPanicked; Unwrap gives the panic value when
// that value is an error.
type PanicError struct {
	// Value is what the getter passed to panic.
	Value interface{}
	// Stack is the getter's stack at the panic.
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("edgecache: the getter panicked: %v", e.Value)
}

// Is reports ErrLoaderPanicked as matching.
func (e *PanicError) Is(target error) bool { return target == ErrLoaderPanicked }

// Unwrap returns the panic value if it is an error.
func (e *PanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}

// kindOf maps a status to its sentinel.
func kindOf(s C.edgecache_status) error {
	switch s {
	case C.EDGECACHE_NULL_ARGUMENT, C.EDGECACHE_INVALID_ARGUMENT, C.EDGECACHE_BUFFER_TOO_SMALL, C.EDGECACHE_WRONG_STATE:
		return ErrInvalidArgument
	case C.EDGECACHE_LOADER_PANICKED:
		return ErrLoaderPanicked
	case C.EDGECACHE_ABANDONED:
		return ErrAbandoned
	case C.EDGECACHE_TIMEOUT, C.EDGECACHE_CANCELLED:
		return ErrTimeout
	case C.EDGECACHE_DUPLICATE_GROUP:
		return ErrDuplicateGroup
	case C.EDGECACHE_CLOSED:
		return ErrClosed
	case C.EDGECACHE_RESOURCE_EXPIRED:
		return ErrResourceExpired
	case C.EDGECACHE_TOO_LARGE_RESOURCE_VERSION:
		return ErrTooLargeResourceVersion
	}
	return ErrInternal
}

// statusError turns a status and detail into an error (nil for OK).
func statusError(s C.edgecache_status, msg string) error {
	if s == C.EDGECACHE_OK {
		return nil
	}
	return &StatusError{Kind: kindOf(s), Message: msg}
}

// call runs one C call on a locked thread so that the thread's last error
// detail, read right after a failure, is this call's.
func call(f func() C.edgecache_status) error {
	runtime.LockOSThread()
	s := f()
	var msg string
	if s != C.EDGECACHE_OK {
		msg = lastError()
	}
	runtime.UnlockOSThread()
	return statusError(s, msg)
}
