package edgecache

/*
#include "shims.h"
*/
import "C"

import (
	"context"
	"runtime"
	"time"
	"unsafe"
)

// ResourceVersionMatch is how a paged list matches its resourceVersion, as
// the apiserver's resourceVersionMatch.
type ResourceVersionMatch string

// The resourceVersion matches. The empty string means NotOlderThan.
const (
	// ResourceVersionMatchNotOlderThan lists the cache's current state once
	// it has seen the resourceVersion; the empty ResourceVersionMatch means
	// the same. (The apiserver reads a Limit at a nonzero resourceVersion
	// with no match as Exact: a server in front of the cache applies that
	// rule of its query parameters by passing ResourceVersionMatchExact.)
	ResourceVersionMatchNotOlderThan ResourceVersionMatch = "NotOlderThan"
	// ResourceVersionMatchExact lists the state exactly at the
	// resourceVersion, which must still be in the window.
	ResourceVersionMatchExact ResourceVersionMatch = "Exact"
)

// ListOptions is what ListPage lists (the apiserver's list parameters).
// The zero value lists everything at the current resourceVersion in one
// page.
type ListOptions struct {
	// Limit is the most items in a page; 0 for no limit. Ignored (one page
	// with everything) for ResourceVersion 0 without Exact, as the
	// apiserver does. Negative is ErrInvalidArgument.
	Limit int
	// Continue is the previous page's ListPage.Continue; it fixes the
	// snapshot and so must come without ResourceVersion or Exact
	// (ErrInvalidArgument otherwise). A token whose resourceVersion has
	// left the window gives a *ResourceExpiredError: list again without
	// it.
	Continue string
	// ResourceVersion: 0 for any (the current state); otherwise matched
	// as ResourceVersionMatch says, after waiting for the cache to see it.
	ResourceVersion uint64
	// ResourceVersionMatch: "" or ResourceVersionMatchNotOlderThan, or
	// ResourceVersionMatchExact (which needs a nonzero ResourceVersion).
	// Any other value is ErrInvalidArgument.
	ResourceVersionMatch ResourceVersionMatch
	// Selector filters the items.
	Selector Selector
}

// ListPage is one page of a paged list. Every page of one listing (the
// first page and those fetched with its continue tokens) comes from the
// snapshot the first page took, whatever is written in between. The
// caller owns it (plain Go memory).
type ListPage struct {
	// Items are the page's objects, in key order. A page may hold fewer
	// than Limit items (even none) and still have a Continue token.
	Items []Object
	// ResourceVersion is the snapshot's resourceVersion, the same on every
	// page of a listing.
	ResourceVersion uint64
	// Continue is the opaque token for the next page; "" on the last one.
	Continue string
}

// ListPage returns one page of a list served from a snapshot: up to
// opts.Limit objects matching opts.Selector, in key order, and a continue
// token while more remain. Which snapshot, as the apiserver decides: a
// continue token's; for ResourceVersion 0 (not Exact) the current state;
// for N with NotOlderThan the current state once the cache has seen N; for
// N with Exact the state at N. Waiting for N is bounded as in List: by
// ctx's deadline, else the cache's FreshTimeout; a cancelled ctx ends it
// with ctx.Err().
//
// Errors: a *TooLargeResourceVersionError when the cache does not reach N
// in time; a *ResourceExpiredError when the token's or the Exact
// resourceVersion has left the window; ErrInvalidSelector for a selector
// string that does not parse or a field the cache does not extract;
// ErrInvalidArgument for a malformed token, a token with a
// ResourceVersion or Exact, Exact with ResourceVersion 0, a negative
// Limit or an unknown ResourceVersionMatch; ErrClosed after Close.
// Safe for concurrent use.
func (wc *WatchCache) ListPage(ctx context.Context, opts ListOptions) (*ListPage, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if opts.Limit < 0 {
		return nil, &StatusError{Kind: ErrInvalidArgument, Message: "negative list limit"}
	}
	switch opts.ResourceVersionMatch {
	case "", ResourceVersionMatchNotOlderThan, ResourceVersionMatchExact:
	default:
		return nil, &StatusError{Kind: ErrInvalidArgument,
			Message: "unknown resourceVersionMatch " + string(opts.ResourceVersionMatch)}
	}
	end := wc.deadline(ctx)
	if opts.ResourceVersion > 0 && opts.Continue == "" {
		// Wait here, where ctx can end the wait; the library then finds
		// the cache fresh and does not wait again.
		if err := wc.waitFresh(ctx, opts.ResourceVersion, end); err != nil {
			return nil, err
		}
	}
	return wc.listPage(opts, time.Until(end))
}

// listPage makes one edgecache_watch_cache_list_page call; timeout bounds
// the library's freshness wait (at least 1 ms).
func (wc *WatchCache) listPage(opts ListOptions, timeout time.Duration) (*ListPage, error) {
	sel := &opts.Selector
	a := newArena(unsafe.Sizeof(C.edgecache_list_request{}) + selectorSize(sel) + uintptr(len(opts.Continue)) + 8)
	defer a.free()
	req := (*C.edgecache_list_request)(a.alloc(unsafe.Sizeof(C.edgecache_list_request{})))
	C.edgecache_list_request_init(req, C.size_t(unsafe.Sizeof(*req)))
	req.limit = C.size_t(opts.Limit)
	req.continue_token = a.str(opts.Continue)
	req.resource_version = C.uint64_t(opts.ResourceVersion)
	switch opts.ResourceVersionMatch {
	case ResourceVersionMatchExact:
		req.resource_version_match = C.EDGECACHE_MATCH_EXACT
	case ResourceVersionMatchNotOlderThan:
		req.resource_version_match = C.EDGECACHE_MATCH_NOT_OLDER_THAN
	default:
		req.resource_version_match = C.EDGECACHE_MATCH_UNSET
	}
	req.label_selector, req.field_selector = a.str(sel.LabelSelector), a.str(sel.FieldSelector)
	req.labels, req.n_labels = a.pairs(sel.Labels)
	req.fields, req.n_fields = a.pairs(sel.Fields)
	if timeout < time.Millisecond {
		timeout = time.Millisecond
	}
	req.timeout_ms = C.uint64_t(ceilMS(timeout))
	var p *C.edgecache_list_page
	err := watchCall(func() C.edgecache_status {
		return C.edgecache_status(C.edgecache_watch_cache_list_page(wc.ptr(), req, &p))
	})
	runtime.KeepAlive(wc)
	if err != nil {
		return nil, err
	}
	defer C.edgecache_list_page_free(p)
	out := &ListPage{ResourceVersion: uint64(C.edgecache_list_page_resource_version(p))}
	l := C.edgecache_list_page_items(p)
	n := int(C.edgecache_item_list_len(l))
	out.Items = make([]Object, n)
	for i := 0; i < n; i++ {
		out.Items[i] = goObject(C.edgecache_item_list_at(l, C.size_t(i)))
	}
	var tok C.edgecache_str
	if C.edgecache_list_page_continue(p, &tok) == C.EDGECACHE_OK && tok.len > 0 {
		out.Continue = C.GoStringN(tok.ptr, C.int(tok.len))
	}
	return out, nil
}
