package edgecache

/*
#include "shims.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
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
	// ErrInvalidSelector: a label or field selector string that does not
	// parse, or a field selector on a field the cache does not extract (the
	// apiserver's "field label not supported"; HTTP 400). Never an empty
	// result instead.
	ErrInvalidSelector = errors.New("edgecache: invalid selector")
	// ErrInternal: a bug inside edgecache (it panicked); the object stays
	// usable.
	ErrInternal = errors.New("edgecache: internal error")
	// ErrRecursiveLoad: a getter asked for the key it is loading (through
	// the ctx it was given, or on the same thread in another language's
	// getter): waiting for itself would never end, so the inner Get fails
	// at once.
	ErrRecursiveLoad = errors.New("edgecache: recursive load: the getter asked for the key it is loading")
	// ErrNoValue: the getter returned nil without setting a value on its
	// Sink (an empty value is a value; this is its absence).
	ErrNoValue = errors.New("edgecache: the getter returned without setting a value")
	// ErrGetterFailed: the getter of a group made from C or Python failed
	// (a Go getter's own error reaches callers as itself instead).
	ErrGetterFailed = errors.New("edgecache: the getter failed")
)

// errLeaderLeft tells a waiter that the load it waited for was abandoned by
// its leader (a context, runtime.Goexit): take the key again. Never
// returned to a caller; a user error that wraps ErrAbandoned is not it.
var errLeaderLeft = errors.New("edgecache: the leader left")

// StatusError is a failure reported by the library: which kind (Unwrap gives the
// sentinel above) and the library's detail.
type StatusError struct {
	// Kind is one of the sentinel errors of this package.
	Kind error
	// Message is the library's detail, e.g. "too old resource version: 3 (10)".
	Message string
	// Code is the number a C or Python getter attached to its failure
	// (ErrGetterFailed from a group made in another language); 0 otherwise.
	Code uint64
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
// 400 for ErrInvalidArgument and ErrInvalidSelector (the core's codes),
// 500 otherwise.
func (e *StatusError) HTTPStatus() int {
	switch e.Kind {
	case ErrInvalidSelector, ErrInvalidArgument:
		return 400
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
	case C.EDGECACHE_INVALID_SELECTOR:
		return ErrInvalidSelector
	case C.EDGECACHE_RECURSIVE_LOAD:
		return ErrRecursiveLoad
	case C.EDGECACHE_NO_VALUE:
		return ErrNoValue
	case C.EDGECACHE_GETTER_FAILED:
		return ErrGetterFailed
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

// ResourceExpiredError is the 410 of the watch cache: the resourceVersion
// asked for (a watch's, an Exact list's, a continue token's) is older than
// the window reaches back, so events after it are gone; list again. Every
// watch-cache call that can fail this way returns one; get it with
// errors.As. errors.Is(err, ErrResourceExpired) is true for it, and
// errors.As to a *StatusError still works (Unwrap gives one).
type ResourceExpiredError struct {
	// Requested is the resourceVersion the call asked for.
	Requested uint64
	// Oldest is the smallest resourceVersion the cache accepted at the
	// time (the number Kubernetes prints in parentheses).
	Oldest uint64
	// Message is the library's wording, e.g. "too old resource version:
	// 3 (10)".
	Message string
}

func (e *ResourceExpiredError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("edgecache: too old resource version: %d (%d)", e.Requested, e.Oldest)
	}
	return "edgecache: " + e.Message
}

// Is reports ErrResourceExpired as matching.
func (e *ResourceExpiredError) Is(target error) bool { return target == ErrResourceExpired }

// Unwrap gives the equivalent *StatusError, for code written before the
// typed errors.
func (e *ResourceExpiredError) Unwrap() error {
	return &StatusError{Kind: ErrResourceExpired, Message: e.Message}
}

// HTTPStatus is 410 (Gone).
func (e *ResourceExpiredError) HTTPStatus() int { return 410 }

// Reason is the Kubernetes Status reason, "Expired".
func (e *ResourceExpiredError) Reason() string { return "Expired" }

// TooLargeResourceVersionError is the 504 of the watch cache: it had not
// seen the resourceVersion asked for when the freshness wait ran out;
// retry after RetryAfterSeconds. Every watch-cache call that waits for
// freshness returns one; get it with errors.As.
// errors.Is(err, ErrTooLargeResourceVersion) is true for it, and errors.As
// to a *StatusError still works (Unwrap gives one).
type TooLargeResourceVersionError struct {
	// Requested is the resourceVersion the call waited for.
	Requested uint64
	// Current is the cache's resourceVersion when the wait gave up.
	Current uint64
	// RetryAfterSeconds is the Retry-After hint (1, as Kubernetes).
	RetryAfterSeconds int
	// Message is the library's wording, e.g. "Too large resource version:
	// 12, current: 10".
	Message string
}

func (e *TooLargeResourceVersionError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("edgecache: Too large resource version: %d, current: %d", e.Requested, e.Current)
	}
	return "edgecache: " + e.Message
}

// Is reports ErrTooLargeResourceVersion as matching.
func (e *TooLargeResourceVersionError) Is(target error) bool {
	return target == ErrTooLargeResourceVersion
}

// Unwrap gives the equivalent *StatusError, for code written before the
// typed errors.
func (e *TooLargeResourceVersionError) Unwrap() error {
	return &StatusError{Kind: ErrTooLargeResourceVersion, Message: e.Message}
}

// HTTPStatus is 504 (Gateway Timeout).
func (e *TooLargeResourceVersionError) HTTPStatus() int { return 504 }

// Reason is the Kubernetes Status reason, "Timeout".
func (e *TooLargeResourceVersionError) Reason() string { return "Timeout" }

// Cause is the Kubernetes Status cause type, "ResourceVersionTooLarge"
// (what client-go's IsTooLargeResourceVersion looks for).
func (e *TooLargeResourceVersionError) Cause() string { return "ResourceVersionTooLarge" }

// watchCall is call for the watch cache: a 410 or 504 comes back as a
// *ResourceExpiredError or *TooLargeResourceVersionError carrying the
// library's numbers, read on the same OS thread right after the failure.
func watchCall(f func() C.edgecache_status) error {
	var (
		msg    string
		detail C.edgecache_watch_error
		have   bool
	)
	runtime.LockOSThread()
	s := f()
	if s != C.EDGECACHE_OK {
		if s == C.EDGECACHE_RESOURCE_EXPIRED || s == C.EDGECACHE_TOO_LARGE_RESOURCE_VERSION {
			have = C.edgecache_watch_last_error(&detail) == C.EDGECACHE_OK
		}
		msg = lastError()
	}
	runtime.UnlockOSThread()
	if !have {
		detail = C.edgecache_watch_error{}
	}
	return watchError(s, msg, &detail)
}

// watchError builds the error of a watch-cache status; detail (zero when
// there is none) counts only when its HTTP code is the status's.
func watchError(s C.edgecache_status, msg string, detail *C.edgecache_watch_error) error {
	switch s {
	case C.EDGECACHE_RESOURCE_EXPIRED:
		e := &ResourceExpiredError{Message: msg}
		if detail.http_code == 410 {
			e.Requested, e.Oldest = uint64(detail.requested_rv), uint64(detail.oldest_rv)
		}
		return e
	case C.EDGECACHE_TOO_LARGE_RESOURCE_VERSION:
		e := &TooLargeResourceVersionError{RetryAfterSeconds: 1, Message: msg}
		if detail.http_code == 504 {
			e.Requested, e.Current = uint64(detail.requested_rv), uint64(detail.current_rv)
			if detail.retry_after_seconds > 0 {
				e.RetryAfterSeconds = int(detail.retry_after_seconds)
			}
		}
		return e
	}
	return statusError(s, msg)
}

// CloseReason is why a watch ended on its own.
type CloseReason int

const (
	// CloseFellBehind: the watcher read too slowly and its buffer filled.
	// Watch again from the last resourceVersion received (an
	// ErrResourceExpired then means list again).
	CloseFellBehind CloseReason = 1
	// CloseRelisted: the cache was relisted (WatchCache.Replace). List
	// again, at ResourceVersion or later.
	CloseRelisted CloseReason = 2
	// CloseCacheClosed: the cache was closed.
	CloseCacheClosed CloseReason = 3
	// CloseStopped: the watch was stopped.
	CloseStopped CloseReason = 4
)

func (r CloseReason) String() string {
	switch r {
	case CloseFellBehind:
		return "fell behind"
	case CloseRelisted:
		return "relisted"
	case CloseCacheClosed:
		return "cache closed"
	case CloseStopped:
		return "stopped"
	}
	return "CloseReason(" + strconv.Itoa(int(r)) + ")"
}

// WatchClosedError is why a watch ended on its own (Watcher.Err and the
// last Error event). It matches ErrClosed; use errors.As to read Reason.
type WatchClosedError struct {
	Reason CloseReason
	// Buffer is the watcher's buffer, for CloseFellBehind.
	Buffer int
	// ResourceVersion is the relist's resourceVersion, for CloseRelisted.
	ResourceVersion uint64
	// Message is the library's wording.
	Message string
}

func (e *WatchClosedError) Error() string { return "edgecache: " + e.Message }

// Is reports ErrClosed as matching.
func (e *WatchClosedError) Is(target error) bool { return target == ErrClosed }
