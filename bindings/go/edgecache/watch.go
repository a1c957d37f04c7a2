package edgecache

/*
#include "shims.h"
*/
import "C"

import (
	"context"
	"errors"
	"runtime"
	"runtime/cgo"
	"sync"
	"time"
	"unsafe"
)

// WatchOptions configure a WatchCache; zero values take the defaults.
type WatchOptions struct {
	// Capacity is the initial and smallest number of events kept (default 100).
	Capacity int
	// MaxCapacity is the largest number of events kept (default 102400).
	MaxCapacity int
	// MaxBytes bounds the summed size of the events kept (key + object +
	// previous object); 0 means unbounded.
	MaxBytes int64
	// Indexes declares selectors to index, like "label:app" or
	// "field:spec.nodeName". Selectors on other names still work, by scan.
	Indexes []string
	// FreshTimeout is how long List, ListPage, Get and WaitUntilFresh wait
	// for a resourceVersion when the context has no deadline, and how long
	// a streaming-list watch waits (default 3s).
	FreshTimeout time.Duration
	// BookmarkInterval is how often a watcher that asked for bookmarks
	// (WatcherOptions.Bookmarks) gets a Bookmark event at the cache's
	// resourceVersion, even when nothing matched its selector: 0 for the
	// default (60s, jittered by up to a tenth), negative for none (only
	// those of WatchCache.Bookmark). A watcher may override it.
	BookmarkInterval time.Duration
	// Fields declares the fields writers extract into Object.Fields (for
	// example "metadata.name", "spec.nodeName"); a field selector on any
	// other field then fails with ErrInvalidSelector, as the apiserver's
	// "field label not supported". Fields of "field:" indexes count as
	// declared. Empty: the cache learns the fields from the writes (until
	// a write carries one, every name is accepted).
	Fields []string
}

// Object is a stored object: its key ("namespace/name"), serialized bytes,
// the resourceVersion that wrote it, and the labels and fields selectors
// match on.
type Object struct {
	Key             string
	Data            []byte
	ResourceVersion uint64
	Labels          map[string]string
	Fields          map[string]string
}

// Selector matches objects whose labels and fields satisfy every part
// given: the equality pairs of the maps and the requirements of the
// selector strings, all ANDed. The zero Selector matches everything.
type Selector struct {
	// Labels: each label must equal its value.
	Labels map[string]string
	// Fields: each field must equal its value.
	Fields map[string]string
	// LabelSelector is a label selector in Kubernetes syntax: "app=web",
	// "tier!=db", "env in (prod,qa)", "env notin (dev)", "canary",
	// "!canary", comma-separated (AND). A string that does not parse gives
	// ErrInvalidSelector.
	LabelSelector string
	// FieldSelector is a field selector in Kubernetes syntax
	// ("spec.nodeName=n1,status.phase!=Failed"). A field the cache does
	// not extract (WatchOptions.Fields) gives ErrInvalidSelector.
	FieldSelector string
}

// hasStrings reports whether sel uses a selector string (which only the
// request-struct calls of the library accept).
func (sel *Selector) hasStrings() bool { return sel.LabelSelector != "" || sel.FieldSelector != "" }

// EventType is the type of a watch event, as Kubernetes spells it.
type EventType string

// The event types. Error events carry Err and end a watch.
const (
	Added    EventType = "ADDED"
	Modified EventType = "MODIFIED"
	Deleted  EventType = "DELETED"
	Bookmark EventType = "BOOKMARK"
	Error    EventType = "ERROR"
)

// Event is one change: the object after it (for Deleted, the object as
// deleted), the object before it (Modified and Deleted), and its
// resourceVersion. For an Error event only Err is set.
type Event struct {
	Type            EventType
	Object          Object
	PrevObject      *Object
	ResourceVersion uint64
	Err             error
	// InitialEventsEnd is true only on the Bookmark that ends the initial
	// state of a streaming list (WatcherOptions.SendInitialEvents), as
	// Kubernetes' "k8s.io/initial-events-end" annotation.
	InitialEventsEnd bool
}

// WatchCache is a sliding window of watch events plus the current state
// (the Kubernetes apiserver's watch cache): a client that reconnects
// resumes from its resourceVersion instead of listing again, while one
// writer feeds it from the upstream watch.
//
// Safe for concurrent use. Close wakes every waiter and ends every watcher;
// the handle's few bytes go when the *WatchCache is collected.
type WatchCache struct {
	h            *C.edgecache_watch_cache
	freshTimeout time.Duration
}

// NewWatchCache creates a watch cache. Bad options (MaxCapacity below
// Capacity, negative sizes, an index not "label:NAME" or "field:NAME") give
// ErrInvalidArgument.
func NewWatchCache(opts WatchOptions) (*WatchCache, error) {
	if opts.Capacity < 0 || opts.MaxCapacity < 0 || opts.MaxBytes < 0 || opts.FreshTimeout < 0 {
		return nil, &StatusError{Kind: ErrInvalidArgument, Message: "negative watch cache option"}
	}
	size := unsafe.Sizeof(C.edgecache_watch_options{}) + 16
	for _, l := range [][]string{opts.Indexes, opts.Fields} {
		size += uintptr(len(l))*(unsafe.Sizeof(C.edgecache_str{})+8) + 8
		for _, s := range l {
			size += uintptr(len(s))
		}
	}
	a := newArena(size)
	defer a.free()
	var c C.edgecache_watch_options
	C.edgecache_watch_options_init(&c, C.size_t(unsafe.Sizeof(c)))
	c.capacity = C.size_t(opts.Capacity)
	c.max_capacity = C.size_t(opts.MaxCapacity)
	c.max_bytes = C.size_t(opts.MaxBytes)
	c.fresh_timeout_ms = C.uint64_t(ceilMS(opts.FreshTimeout))
	c.bookmark_interval_ms = intervalMS(opts.BookmarkInterval)
	c.indexes, c.n_indexes = a.strs(opts.Indexes)
	c.fields, c.n_fields = a.strs(opts.Fields)
	copts := (*C.edgecache_watch_options)(a.alloc(unsafe.Sizeof(c)))
	*copts = c
	var h *C.edgecache_watch_cache
	if err := call(func() C.edgecache_status { return C.edgecache_status(C.edgecache_watch_cache_new(copts, &h)) }); err != nil {
		return nil, err
	}
	ft := opts.FreshTimeout
	if ft == 0 {
		ft = 3 * time.Second
	}
	wc := &WatchCache{h: h, freshTimeout: ft}
	runtime.SetFinalizer(wc, func(wc *WatchCache) { C.edgecache_watch_cache_free(wc.h) })
	return wc, nil
}

func (wc *WatchCache) ptr() *C.edgecache_watch_cache {
	checkGC()
	return wc.h
}

type writeKind int

const (
	writeAdd writeKind = iota
	writeUpdate
	writeDelete
)

func (wc *WatchCache) write(kind writeKind, obj Object) error {
	a := newArena(objectsSize([]Object{obj}))
	defer a.free()
	o := a.objects([]Object{obj})
	rv := C.uint64_t(obj.ResourceVersion)
	err := call(func() C.edgecache_status {
		switch kind {
		case writeAdd:
			return C.edgecache_status(C.edgecache_watch_cache_add(wc.ptr(), o, rv))
		case writeUpdate:
			return C.edgecache_status(C.edgecache_watch_cache_update(wc.ptr(), o, rv))
		default:
			return C.edgecache_status(C.edgecache_watch_cache_delete(wc.ptr(), o, rv))
		}
	})
	runtime.KeepAlive(wc)
	return err
}

// Add records that obj was created at obj.ResourceVersion, which must be
// above every resourceVersion seen (else ErrInvalidArgument; nothing
// changes).
func (wc *WatchCache) Add(obj Object) error { return wc.write(writeAdd, obj) }

// Update records that obj changed at obj.ResourceVersion.
func (wc *WatchCache) Update(obj Object) error { return wc.write(writeUpdate, obj) }

// Delete records that obj was deleted at obj.ResourceVersion.
func (wc *WatchCache) Delete(obj Object) error { return wc.write(writeDelete, obj) }

// Replace sets the whole state to objs at rv (a relist): the window
// restarts, older resourceVersions expire, and every watcher ends.
func (wc *WatchCache) Replace(objs []Object, rv uint64) error {
	a := newArena(objectsSize(objs))
	defer a.free()
	arr := a.objects(objs)
	err := call(func() C.edgecache_status {
		return C.edgecache_status(C.edgecache_watch_cache_replace(wc.ptr(), arr, C.size_t(len(objs)), C.uint64_t(rv)))
	})
	runtime.KeepAlive(wc)
	return err
}

// Bookmark advances the resourceVersion to rv without a change (watchers
// that asked for bookmarks get a Bookmark event).
func (wc *WatchCache) Bookmark(rv uint64) error {
	err := call(func() C.edgecache_status {
		return C.edgecache_status(C.edgecache_watch_cache_bookmark(wc.ptr(), C.uint64_t(rv)))
	})
	runtime.KeepAlive(wc)
	return err
}

// ResourceVersion is the newest resourceVersion the cache has seen (0 after
// Close).
func (wc *WatchCache) ResourceVersion() uint64 {
	var rv C.uint64_t
	C.edgecache_watch_cache_resource_version(wc.ptr(), &rv)
	runtime.KeepAlive(wc)
	return uint64(rv)
}

// WindowStats is a watch cache's window and state at one moment
// (WatchCache.WindowStats).
type WindowStats struct {
	Events              uint64 // events in the window
	Bytes               uint64 // their counted bytes: key + object + previous object of each
	Capacity            uint64 // the window's current size in events
	MinCapacity         uint64 // the configured smallest size
	MaxCapacity         uint64 // the configured largest size
	MaxBytes            uint64 // the configured byte bound; 0: none
	ResourceVersion     uint64 // the cache's resourceVersion
	OldestAccepted      uint64 // the smallest resourceVersion a watch accepts now
	OldestBuffered      uint64 // the oldest event's resourceVersion; 0: none
	ListResourceVersion uint64 // the last Replace's resourceVersion; 0: none yet
	Items               uint64 // objects in the current state
	Watchers            uint64 // open watchers
}

// WindowStats reports the window and state as the cache counts them, for
// metrics. Safe from any goroutine; after Close, the last state.
func (wc *WatchCache) WindowStats() WindowStats {
	var s C.edgecache_window_stats
	C.edgecache_watch_cache_window_stats(wc.ptr(), &s, C.size_t(unsafe.Sizeof(s)))
	runtime.KeepAlive(wc)
	return WindowStats{
		Events: uint64(s.events), Bytes: uint64(s.bytes), Capacity: uint64(s.capacity),
		MinCapacity: uint64(s.min_capacity), MaxCapacity: uint64(s.max_capacity), MaxBytes: uint64(s.max_bytes),
		ResourceVersion: uint64(s.resource_version), OldestAccepted: uint64(s.oldest_accepted),
		OldestBuffered: uint64(s.oldest_buffered), ListResourceVersion: uint64(s.list_resource_version),
		Items: uint64(s.items), Watchers: uint64(s.watchers),
	}
}

// EventsSince returns the events after rv, oldest first; rv 0 gives the
// current state as Added events. A *ResourceExpiredError (matching
// ErrResourceExpired) when rv has left the window.
func (wc *WatchCache) EventsSince(rv uint64) ([]Event, error) {
	var l *C.edgecache_event_list
	err := watchCall(func() C.edgecache_status {
		return C.edgecache_status(C.edgecache_watch_cache_events_since(wc.ptr(), C.uint64_t(rv), &l))
	})
	runtime.KeepAlive(wc)
	if err != nil {
		return nil, err
	}
	defer C.edgecache_event_list_free(l)
	n := int(C.edgecache_event_list_len(l))
	out := make([]Event, n)
	for i := 0; i < n; i++ {
		out[i] = goEvent(C.edgecache_event_list_at(l, C.size_t(i)))
	}
	return out, nil
}

// deadline is when a freshness wait under ctx gives up.
func (wc *WatchCache) deadline(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(wc.freshTimeout)
}

// WaitUntilFresh blocks until the cache has seen rv. It gives up with a
// *TooLargeResourceVersionError (matching ErrTooLargeResourceVersion) at
// ctx's deadline (or after FreshTimeout when ctx has none), and with
// ctx.Err() when ctx is cancelled.
func (wc *WatchCache) WaitUntilFresh(ctx context.Context, rv uint64) error {
	if ctx == nil {
		ctx = context.Background()
	}
	return wc.waitFresh(ctx, rv, wc.deadline(ctx))
}

// waitFresh waits until the cache has seen rv, or until end or ctx ends
// the wait. The goroutine parks on a channel the library's freshness hook
// closes; it holds no OS thread while it waits.
func (wc *WatchCache) waitFresh(ctx context.Context, rv uint64, end time.Time) error {
	ready := make(chan struct{})
	h := cgo.NewHandle(ready)
	var id C.uint64_t
	if s := C.ec_on_fresh(wc.ptr(), C.uint64_t(rv), C.uintptr_t(h), &id); s != C.EDGECACHE_OK {
		h.Delete()
		return watchCall(func() C.edgecache_status { return s })
	}
	if id != 0 {
		timer := time.NewTimer(time.Until(end))
		defer timer.Stop()
		select {
		case <-ready:
		case <-timer.C:
		case <-ctx.Done():
		}
		var cancelled C.bool
		C.edgecache_watch_cache_cancel_fresh(wc.ptr(), id, &cancelled)
		if cancelled {
			// The hook will never run: its handle is ours to delete.
			h.Delete()
		}
	}
	// The verdict (fresh, closed, or too large) from the library, without
	// waiting.
	err := watchCall(func() C.edgecache_status {
		return C.edgecache_status(C.edgecache_watch_cache_wait_until_fresh(wc.ptr(), C.uint64_t(rv), 0))
	})
	runtime.KeepAlive(wc)
	if err != nil && errors.Is(err, ErrTooLargeResourceVersion) && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// List returns the current objects matching sel, in key order, and the
// resourceVersion they are current at, after waiting (as WaitUntilFresh)
// until the cache has seen rv (0: no wait). Errors: as WaitUntilFresh;
// ErrInvalidSelector for a selector string that does not parse or a field
// the cache does not extract.
func (wc *WatchCache) List(ctx context.Context, rv uint64, sel Selector) ([]Object, uint64, error) {
	if rv > 0 {
		if err := wc.WaitUntilFresh(ctx, rv); err != nil {
			return nil, 0, err
		}
	}
	if sel.hasStrings() {
		p, err := wc.listPage(ListOptions{Selector: sel}, 0)
		if err != nil {
			return nil, 0, err
		}
		return p.Items, p.ResourceVersion, nil
	}
	a := newArena(mapSize(sel.Labels) + mapSize(sel.Fields))
	defer a.free()
	lp, ln := a.pairs(sel.Labels)
	fp, fn := a.pairs(sel.Fields)
	var l *C.edgecache_item_list
	var at C.uint64_t
	err := watchCall(func() C.edgecache_status {
		return C.edgecache_status(C.edgecache_watch_cache_list(wc.ptr(), 0, lp, ln, fp, fn, 0, &l, &at))
	})
	runtime.KeepAlive(wc)
	if err != nil {
		return nil, 0, err
	}
	defer C.edgecache_item_list_free(l)
	n := int(C.edgecache_item_list_len(l))
	out := make([]Object, n)
	for i := 0; i < n; i++ {
		out[i] = goObject(C.edgecache_item_list_at(l, C.size_t(i)))
	}
	return out, uint64(at), nil
}

// Get returns the current object under key (nil when there is none), after
// waiting until the cache has seen rv as List does. Errors: as
// WaitUntilFresh.
func (wc *WatchCache) Get(ctx context.Context, key string, rv uint64) (*Object, error) {
	if rv > 0 {
		if err := wc.WaitUntilFresh(ctx, rv); err != nil {
			return nil, err
		}
	}
	a := newArena(uintptr(len(key)) + 16)
	defer a.free()
	k := a.str(key)
	var it *C.edgecache_item
	err := watchCall(func() C.edgecache_status {
		s := C.edgecache_status(C.edgecache_watch_cache_get(wc.ptr(), k, 0, 0, &it))
		if s == C.EDGECACHE_NOT_FOUND {
			return C.EDGECACHE_OK
		}
		return s
	})
	runtime.KeepAlive(wc)
	if err != nil || it == nil {
		return nil, err
	}
	defer C.edgecache_item_free(it)
	o := goObject(it)
	return &o, nil
}

// Close ends the cache: waits wake with ErrClosed, watchers deliver what
// they hold and then end, later calls fail with ErrClosed. Idempotent.
func (wc *WatchCache) Close() {
	C.edgecache_watch_cache_close(wc.ptr())
	runtime.KeepAlive(wc)
}

// goObject copies a library item into Go memory.
func goObject(it *C.edgecache_item) Object {
	var o Object
	if it == nil {
		return o
	}
	var k C.edgecache_str
	if C.edgecache_item_key(it, &k) == C.EDGECACHE_OK {
		o.Key = C.GoStringN(k.ptr, C.int(k.len))
	}
	var d *C.uint8_t
	var n C.size_t
	if C.edgecache_item_object(it, &d, &n) == C.EDGECACHE_OK {
		o.Data = C.GoBytes(unsafe.Pointer(d), C.int(n))
	}
	o.ResourceVersion = uint64(C.edgecache_item_resource_version(it))
	o.Labels = goAttrs(it, C.EDGECACHE_ATTR_LABEL)
	o.Fields = goAttrs(it, C.EDGECACHE_ATTR_FIELD)
	return o
}

func goAttrs(it *C.edgecache_item, which C.uint32_t) map[string]string {
	var m map[string]string
	for i := 0; ; i++ {
		var name, value C.edgecache_str
		if C.edgecache_item_attr_at(it, which, C.size_t(i), &name, &value) != C.EDGECACHE_OK {
			return m
		}
		if m == nil {
			m = map[string]string{}
		}
		m[C.GoStringN(name.ptr, C.int(name.len))] = C.GoStringN(value.ptr, C.int(value.len))
	}
}

func goEvent(e *C.edgecache_event) Event {
	ev := Event{ResourceVersion: uint64(C.edgecache_event_resource_version(e))}
	switch C.edgecache_event_type(e) {
	case C.EDGECACHE_EVENT_ADDED:
		ev.Type = Added
	case C.EDGECACHE_EVENT_MODIFIED:
		ev.Type = Modified
	case C.EDGECACHE_EVENT_DELETED:
		ev.Type = Deleted
	default:
		ev.Type = Bookmark
		ev.InitialEventsEnd = bool(C.edgecache_event_initial_events_end(e))
	}
	ev.Object = goObject(C.edgecache_event_item(e))
	if p := C.edgecache_event_prev_item(e); p != nil {
		prev := goObject(p)
		ev.PrevObject = &prev
	}
	return ev
}

// Watcher is a stream of events (the shape of Kubernetes' watch.Interface).
// Read ResultChan until it closes; Stop ends the stream early. When the
// stream ends for a reason other than Stop (the watcher fell behind, the
// cache was relisted or closed), the last event is an Error event and Err
// tells the reason.
type Watcher struct {
	h    *C.edgecache_watcher
	ch   chan Event
	stop chan struct{}
	// exited is closed when the pump returns.
	exited chan struct{}
	mu     sync.Mutex // guards h against the pump freeing it; done and err
	done   bool
	err    error
	once   sync.Once
}

// Watch starts a watch from rv (0: the current state first, as Added
// events) for the objects matching sel. A *ResourceExpiredError (matching
// ErrResourceExpired) when rv has left the window: list again;
// ErrInvalidSelector for a bad selector. The watch ends when ctx is done or
// Stop is called.
func (wc *WatchCache) Watch(ctx context.Context, rv uint64, sel Selector) (*Watcher, error) {
	return wc.WatchWithOptions(ctx, rv, sel, WatcherOptions{})
}

// WatcherOptions are a watch's settings beyond Kubernetes' watch.Interface.
type WatcherOptions struct {
	// Bookmarks asks for Bookmark events (WatchCache.Bookmark), as
	// Kubernetes' allowWatchBookmarks does.
	Bookmarks bool
	// Buffer is how many events the library holds for this watcher unread
	// before it ends the watch as fallen behind (0: the default, 1024).
	Buffer int
	// SendInitialEvents makes the watch a streaming list (Kubernetes'
	// sendInitialEvents=true): first the current objects matching the
	// selector as Added events, then a Bookmark with InitialEventsEnd set,
	// all at one resourceVersion (the cache's), then the changes after it.
	// A nonzero rv then means "not older than": the watch first waits
	// until the cache has seen rv (see FreshTimeout), and rv is never
	// expired.
	SendInitialEvents bool
	// BookmarkInterval overrides WatchOptions.BookmarkInterval for this
	// watcher (with Bookmarks): 0 for the cache's, negative for none.
	BookmarkInterval time.Duration
	// FreshTimeout bounds the wait of SendInitialEvents with a nonzero rv
	// (0: the cache's FreshTimeout; ctx's deadline, when sooner, wins);
	// when it runs out the watch fails with a
	// *TooLargeResourceVersionError. Negative is ErrInvalidArgument.
	FreshTimeout time.Duration
}

// WatchWithOptions is Watch with WatcherOptions. Errors: as Watch, plus a
// *TooLargeResourceVersionError when SendInitialEvents waits for rv in
// vain, ctx.Err() when ctx ends that wait, and ErrInvalidArgument for a
// negative Buffer or FreshTimeout.
func (wc *WatchCache) WatchWithOptions(ctx context.Context, rv uint64, sel Selector, opts WatcherOptions) (*Watcher, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if opts.Buffer < 0 {
		return nil, &StatusError{Kind: ErrInvalidArgument, Message: "negative watcher buffer"}
	}
	if opts.FreshTimeout < 0 {
		return nil, &StatusError{Kind: ErrInvalidArgument, Message: "negative watcher fresh timeout"}
	}
	fresh := opts.FreshTimeout
	if fresh == 0 {
		fresh = wc.freshTimeout
	}
	if opts.SendInitialEvents && rv > 0 {
		// Wait here, where ctx can end the wait, rather than in the library.
		end := time.Now().Add(fresh)
		if d, ok := ctx.Deadline(); ok && d.Before(end) {
			end = d
		}
		if err := wc.waitFresh(ctx, rv, end); err != nil {
			return nil, err
		}
	}
	a := newArena(unsafe.Sizeof(C.edgecache_watch_request{}) + selectorSize(&sel))
	defer a.free()
	req := (*C.edgecache_watch_request)(a.alloc(unsafe.Sizeof(C.edgecache_watch_request{})))
	C.edgecache_watch_request_init(req, C.size_t(unsafe.Sizeof(*req)))
	req.resource_version = C.uint64_t(rv)
	req.label_selector, req.field_selector = a.str(sel.LabelSelector), a.str(sel.FieldSelector)
	req.labels, req.n_labels = a.pairs(sel.Labels)
	req.fields, req.n_fields = a.pairs(sel.Fields)
	req.bookmarks = C.bool(opts.Bookmarks)
	req.send_initial_events = C.bool(opts.SendInitialEvents)
	if opts.Buffer > 0 {
		req.buffer = C.size_t(opts.Buffer)
	}
	if opts.BookmarkInterval != 0 {
		req.bookmark_interval_ms = intervalMS(opts.BookmarkInterval)
	}
	req.fresh_timeout_ms = C.uint64_t(ceilMS(fresh))
	var h *C.edgecache_watcher
	err := watchCall(func() C.edgecache_status {
		return C.edgecache_status(C.edgecache_watch_cache_watch_with(wc.ptr(), req, &h))
	})
	runtime.KeepAlive(wc)
	if err != nil {
		return nil, err
	}
	w := &Watcher{h: h, ch: make(chan Event), stop: make(chan struct{}), exited: make(chan struct{})}
	go w.pump()
	if ctx.Done() != nil {
		go func() {
			select {
			case <-ctx.Done():
				w.Stop()
			case <-w.exited:
			}
		}()
	}
	return w, nil
}

// pump moves events from the library to the channel, on its own goroutine,
// then frees the watcher. Between events it parks on a channel that the
// library's ready hook closes: an idle watcher holds no OS thread.
func (w *Watcher) pump() {
	defer close(w.exited)
	defer close(w.ch)
	for {
		var e *C.edgecache_event
		s := C.edgecache_watcher_next(w.h, 0, &e)
		if s == C.EDGECACHE_TIMEOUT {
			if !w.park() {
				w.finish()
				return
			}
			continue
		}
		if s != C.EDGECACHE_OK {
			break
		}
		ev := goEvent(e)
		C.edgecache_event_free(e)
		select {
		case w.ch <- ev:
		case <-w.stop:
			w.finish()
			return
		}
	}
	reason, ok := cMessage(func(buf *C.char, cap C.size_t, n *C.size_t) C.edgecache_status {
		return C.edgecache_status(C.edgecache_watcher_close_reason(w.h, buf, cap, n))
	})
	if !ok {
		reason = "closed"
	}
	info := new(C.edgecache_close_info)
	C.edgecache_watcher_close_info(w.h, info)
	stopped := w.finish()
	if !stopped {
		err := &WatchClosedError{Reason: CloseReason(info.reason), Buffer: int(info.buffer),
			ResourceVersion: uint64(info.resource_version), Message: "watch closed: " + reason}
		w.mu.Lock()
		w.err = err
		w.mu.Unlock()
		select {
		case w.ch <- Event{Type: Error, Err: err}:
		case <-w.stop:
		}
	}
}

// park waits until the watcher has something to read (or a periodic
// bookmark is due); false when Stop was called.
func (w *Watcher) park() bool {
	ready := make(chan struct{})
	h := cgo.NewHandle(ready)
	var recheck, id C.uint64_t
	if C.ec_watcher_on_ready(w.h, C.uintptr_t(h), &recheck, &id) != C.EDGECACHE_OK {
		h.Delete()
		return true // next read reports the problem
	}
	var due <-chan time.Time
	if recheck != C.EDGECACHE_WAIT_FOREVER {
		t := time.NewTimer(time.Duration(recheck) * time.Millisecond)
		defer t.Stop()
		due = t.C
	}
	// The hook runs once (at the latest when the watcher is freed) and
	// deletes h, unless it is cancelled first: then h is ours to delete.
	// Cancelling when the timer or Stop wins keeps at most one hook
	// pending on an idle watcher.
	stopped := false
	select {
	case <-ready:
		return true
	case <-due:
	case <-w.stop:
		stopped = true
	}
	var cancelled C.bool
	C.edgecache_watcher_cancel_ready(w.h, id, &cancelled)
	if cancelled {
		h.Delete()
	}
	return !stopped
}

// finish frees the library watcher once; it reports whether Stop was called.
func (w *Watcher) finish() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.done = true
		C.edgecache_watcher_free(w.h)
		w.h = nil
	}
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

// ResultChan returns the events. It closes when the watch ends.
func (w *Watcher) ResultChan() <-chan Event { return w.ch }

// Stop ends the watch; ResultChan closes soon after. Idempotent, safe from
// any goroutine.
func (w *Watcher) Stop() {
	w.once.Do(func() {
		close(w.stop)
		w.mu.Lock()
		if !w.done {
			C.edgecache_watcher_close(w.h)
		}
		w.mu.Unlock()
	})
}

// Err is why the watch ended on its own: a *WatchClosedError (matching
// ErrClosed) whose Reason tells a client what to do (CloseFellBehind: watch
// again from the last resourceVersion; CloseRelisted: list again); nil
// while it runs and after Stop.
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// ceilMS is d in whole milliseconds, rounded up so that a positive
// duration never becomes 0 (which the library reads as "the default").
func ceilMS(d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	return uint64((d + time.Millisecond - 1) / time.Millisecond)
}

// intervalMS is a bookmark interval for the library: 0 stays 0 (the
// default), negative is EDGECACHE_WAIT_FOREVER (none).
func intervalMS(d time.Duration) C.uint64_t {
	if d < 0 {
		return C.EDGECACHE_WAIT_FOREVER
	}
	return C.uint64_t(ceilMS(d))
}
