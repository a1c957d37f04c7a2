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
	"runtime/debug"
	"strconv"
	"sync"
	"time"
	"unsafe"
	"weak"
)

// A Getter loads the value for a key on a miss (groupcache's Getter). It is
// called once per key for every caller that asks while the load runs, with
// the context of the caller that leads the load. It must set the value
// through dest and return nil, or return an error: every caller sharing the
// load gets that same error value, and nothing is cached. A panic is
// recovered and reaches every caller as a *PanicError. Returning nil
// without setting dest is ErrNoValue for every caller.
//
// A getter that leaves through runtime.Goexit (t.Fatal in a test) does not
// fail the others: they retry, and one of them loads. A getter that Gets
// its own key with the ctx it was given gets ErrRecursiveLoad at once
// instead of waiting for itself; pass ctx on, as groupcache getters do.
type Getter interface {
	Get(ctx context.Context, key string, dest Sink) error
}

// GetterFunc adapts a function to Getter.
type GetterFunc func(ctx context.Context, key string, dest Sink) error

// Get calls f.
func (f GetterFunc) Get(ctx context.Context, key string, dest Sink) error { return f(ctx, key, dest) }

// CacheType selects a group's main or hot cache in CacheStats.
type CacheType int

const (
	// MainCache holds the keys this process owns and loaded itself.
	MainCache CacheType = 1
	// HotCache holds popular keys owned by peers.
	HotCache CacheType = 2
)

// Stats are a group's counters (groupcache's Stats, as a snapshot).
type Stats struct {
	Gets           int64 // every Get
	CacheHits      int64 // Gets answered from cache
	PeerLoads      int64 // values fetched from a peer
	PeerErrors     int64 // failed peer fetches
	Loads          int64 // Gets that missed and joined or started a load
	LoadsDeduped   int64 // loads that ran after deduplication
	LocalLoads     int64 // successful getter calls
	LocalLoadErrs  int64 // failed getter calls
	ServerRequests int64 // gets on behalf of peers
}

// CacheStats are the counters of one cache of a group.
type CacheStats struct {
	Bytes     int64 // sum of len(key)+len(value) over the entries held
	Items     int64 // entries held
	Gets      int64 // lookups
	Hits      int64 // lookups that found an entry
	Evictions int64 // entries removed to make room or because their TTL ran out
}

// GroupOptions are the settings beyond groupcache's.
type GroupOptions struct {
	// TTL bounds how long a loaded value is served; 0 means no expiry.
	TTL time.Duration
}

// Group is a named, loader-backed cache (groupcache's Group): a byte-bounded
// main cache plus a hot cache behind a Getter, with concurrent misses on one
// key collapsed into one load. The values live in the library's memory, not
// on the Go heap, so the garbage collector never scans them.
//
// A Group is safe for concurrent use. It lives while registered: Close ends
// it (unregisters the name and frees the cached values); the handle's few
// bytes go when the *Group is collected.
//
// Every caller of a miss takes a ticket from the library: the one leader
// runs the getter (in Go, on its own goroutine, for a group made here);
// the others park on a channel that the library's completion hook closes,
// so a waiting goroutine holds no OS thread. There is no Go-side
// singleflight or registry: a group made from C or Python is a Group here
// too (GetGroup), and the library's counters count every caller.
type Group struct {
	name string
	h    *C.edgecache_group
	// state is the Go getter when this process's Go code made the group;
	// nil for a group made from C or Python (the library runs its getter).
	state *groupState
}

// groupState is what the library's callbacks reach through a cgo.Handle.
type groupState struct {
	getter Getter
	mu     sync.Mutex
	// self is the *Group NewGroup returned, for GetGroup.
	self weak.Pointer[Group]
}

// NewGroup creates and registers a group with groupcache's signature:
// cacheBytes bounds main + hot together (0 disables caching). It panics on
// a nil getter or a name already registered (as groupcache does) and on a
// negative cacheBytes; NewGroupWithOptions returns those as errors.
func NewGroup(name string, cacheBytes int64, getter Getter) *Group {
	g, err := NewGroupWithOptions(name, cacheBytes, getter, GroupOptions{})
	if err != nil {
		panic(err)
	}
	return g
}

// NewGroupWithOptions creates and registers a group. Errors: ErrDuplicateGroup
// for a taken name, ErrInvalidArgument for a nil getter or negative sizes.
func NewGroupWithOptions(name string, cacheBytes int64, getter Getter, opts GroupOptions) (*Group, error) {
	if getter == nil {
		return nil, &StatusError{Kind: ErrInvalidArgument, Message: "nil Getter"}
	}
	if opts.TTL < 0 {
		return nil, &StatusError{Kind: ErrInvalidArgument, Message: "negative TTL"}
	}
	ttl := uint64(0)
	if opts.TTL > 0 {
		ttl = uint64((opts.TTL + time.Millisecond - 1) / time.Millisecond)
	}
	st := &groupState{getter: getter}
	h := cgo.NewHandle(st)
	var out *C.edgecache_group
	err := call(func() C.edgecache_status {
		return C.ec_group_new(strData(name), C.size_t(len(name)), C.int64_t(cacheBytes), C.uint64_t(ttl), C.uintptr_t(h), &out)
	})
	if err != nil {
		// The library calls release only for a group it created.
		h.Delete()
		return nil, err
	}
	g := wrapGroup(name, out, st)
	st.mu.Lock()
	st.self = weak.Make(g)
	st.mu.Unlock()
	return g, nil
}

func wrapGroup(name string, h *C.edgecache_group, st *groupState) *Group {
	g := &Group{name: name, h: h, state: st}
	runtime.SetFinalizer(g, func(g *Group) { C.edgecache_group_free(g.h) })
	return g
}

// GetGroup returns the group registered under name in this process, or nil:
// one made here by NewGroup, or from C or Python through the library. Each
// call returns a new handle to the same group.
func GetGroup(name string) *Group {
	var h *C.edgecache_group
	if C.edgecache_group_lookup(strData(name), C.size_t(len(name)), &h) != C.EDGECACHE_OK {
		return nil
	}
	var st *groupState
	var ud C.uintptr_t
	if C.ec_group_go_state(h, &ud) == C.EDGECACHE_OK && ud != 0 {
		st, _ = cgo.Handle(ud).Value().(*groupState)
	}
	if st != nil {
		// The *Group NewGroup returned, while the program holds it (as
		// groupcache's registry would give).
		st.mu.Lock()
		g := st.self.Value()
		st.mu.Unlock()
		if g != nil {
			C.edgecache_group_free(h)
			return g
		}
	}
	return wrapGroup(name, h, st)
}

// ptr is the library handle; in edgecache_gccheck builds it collects first.
func (g *Group) ptr() *C.edgecache_group {
	checkGC()
	return g.h
}

// handle is the library handle as an integer (C memory: it needs no cgo
// pointer check, which would allocate on every call).
func (g *Group) handle() C.uintptr_t {
	checkGC()
	return C.uintptr_t(uintptr(unsafe.Pointer(g.h)))
}

// Name returns the group's name.
func (g *Group) Name() string { return g.name }

// hitPool holds the buffers a hit is copied into: pooled, and one heap
// object so the cgo call checks one pointer and allocates nothing.
var hitPool = sync.Pool{New: func() interface{} { return new(C.ec_hit) }}

// Get fills dest with the value for key: from the main or hot cache, else
// loaded once for every caller that asks at the same time.
//
// ctx reaches the Getter when this call leads the load. A caller waiting for
// another's load stops when ctx is done (returning ctx.Err(); the load goes
// on). Errors: the getter's own error value, a *PanicError, ErrClosed after
// Close, or ctx.Err().
func (g *Group) Get(ctx context.Context, key string, dest Sink) error {
	if dest == nil {
		return &StatusError{Kind: ErrInvalidArgument, Message: "nil dest Sink"}
	}
	hit := hitPool.Get().(*C.ec_hit)
	s := C.ec_group_get(g.handle(), strData(key), C.size_t(len(key)), hit)
	runtime.KeepAlive(g)
	if s == C.EDGECACHE_OK {
		var err error
		if hit.big.data == nil {
			err = dest.SetBytes(unsafe.Slice((*byte)(unsafe.Pointer(&hit.buf[0])), int(hit.n)))
		} else {
			err = dest.SetBytes(cBytes(hit.big))
			freeBytes(hit.big)
			hit.big = C.edgecache_bytes{}
		}
		hitPool.Put(hit)
		return err
	}
	t, leader := hit.ticket, bool(hit.leader)
	hit.ticket, hit.leader = nil, false
	hitPool.Put(hit)
	if s != C.EDGECACHE_PENDING {
		return statusError(s, "")
	}
	return g.load(ctx, key, dest, t, leader)
}

// leadingKey marks, in a getter's context, the loads its goroutine leads.
type leadingKey struct{}

// leading is one load a context's goroutine leads, and the ones outside it.
type leading struct {
	group, key string
	outer      *leading
}

// isLeading reports whether ctx comes from the getter of (group, key).
func isLeading(ctx context.Context, group, key string) bool {
	for l, _ := ctx.Value(leadingKey{}).(*leading); l != nil; l = l.outer {
		if l.group == group && l.key == key {
			return true
		}
	}
	return false
}

// load runs the miss path: lead the library's load of key, or park until
// the leader's result is ready.
// t is the miss's ticket (from the same library call as the cache lookup);
// load owns it.
func (g *Group) load(ctx context.Context, key string, dest Sink, t *C.edgecache_group_ticket, leader bool) error {
	if ctx == nil {
		ctx = context.Background()
	}
	for {
		if leader {
			v, err := g.lead(ctx, key, t)
			if err != nil {
				return err
			}
			return dest.SetBytes(v)
		}
		if isLeading(ctx, g.name, key) {
			// This goroutine's own getter leads the load it would wait for.
			C.edgecache_group_ticket_free(t)
			return &StatusError{Kind: ErrRecursiveLoad, Message: "recursive load of " + strconv.Quote(key) +
				" in group " + strconv.Quote(g.name)}
		}
		v, err := g.wait(ctx, t)
		if err != errLeaderLeft {
			if err != nil {
				return err
			}
			return dest.SetBytes(v)
		}
		// The leader left for its own reasons (its context, Goexit): take
		// the key again; this caller may lead now.
		if err := ctx.Err(); err != nil {
			return err
		}
		o := new(C.ec_begin)
		s := C.ec_group_begin(g.ptr(), strData(key), C.size_t(len(key)), 1, o)
		runtime.KeepAlive(g)
		if s == C.EDGECACHE_OK {
			err := dest.SetBytes(cBytes(o.value))
			freeBytes(o.value)
			return err
		}
		if s != C.EDGECACHE_PENDING {
			return statusError(s, "")
		}
		t, leader = o.ticket, bool(o.leader)
	}
}

// wait parks until the ticket's load ends (or ctx does), then reads it.
// The ticket is freed.
func (g *Group) wait(ctx context.Context, t *C.edgecache_group_ticket) ([]byte, error) {
	defer C.edgecache_group_ticket_free(t)
	ready := make(chan struct{})
	h := cgo.NewHandle(ready)
	if s := C.ec_group_ticket_on_ready(t, C.uintptr_t(h)); s != C.EDGECACHE_OK {
		h.Delete()
		return nil, statusError(s, "")
	}
	select {
	case <-ready:
	case <-ctx.Done():
		// The hook still runs when the load ends, and deletes h.
		return nil, ctx.Err()
	}
	r := new(loadResult)
	s := C.edgecache_status(C.edgecache_group_ticket_result(t, &r.out, &r.err))
	if s == C.EDGECACHE_ABANDONED {
		if r.err != nil {
			C.edgecache_error_free(r.err)
		}
		return nil, errLeaderLeft
	}
	return r.take(s, g.state != nil)
}

// loadResult holds a load's out-parameters (on the heap: they cross cgo).
type loadResult struct {
	out C.edgecache_bytes
	err *C.edgecache_error
}

// take turns a finished load into Go values, freeing what C handed out;
// goCodes: the failure codes are Go error handles (see takeErrorCodes).
func (r *loadResult) take(s C.edgecache_status, goCodes bool) ([]byte, error) {
	if s == C.EDGECACHE_OK {
		v := cloneBytes(cBytes(r.out))
		freeBytes(r.out)
		return v, nil
	}
	return nil, takeErrorCodes(s, r.err, goCodes)
}

// lead runs the load this caller leads and publishes it; it owns t. A Go
// group's getter runs here, in Go; another language's group's getter runs
// in the library, on this thread.
func (g *Group) lead(ctx context.Context, key string, t *C.edgecache_group_ticket) (v []byte, err error) {
	if g.state == nil {
		defer C.edgecache_group_ticket_free(t)
		h := cgo.NewHandle(&callCtx{ctx: ctx})
		defer h.Delete()
		r := new(loadResult)
		s := C.ec_group_ticket_load(t, C.uintptr_t(h), &r.out, &r.err)
		return r.take(s, false)
	}
	// Freeing a leader that has not published abandons the load: the
	// waiters take the key again. That is what happens when the getter
	// calls runtime.Goexit: deferred calls run, and the goroutine ends.
	defer C.edgecache_group_ticket_free(t)
	gctx := context.WithValue(ctx, leadingKey{}, &leading{group: g.name, key: key,
		outer: func() *leading { l, _ := ctx.Value(leadingKey{}).(*leading); return l }()})
	var dest loadSink
	err = runGetter(func() error { return g.state.getter.Get(gctx, key, &dest) })
	switch {
	case err == nil && !dest.ok:
		C.edgecache_group_ticket_fail(t, true, 0, nil, 0)
		return nil, &StatusError{Kind: ErrNoValue, Message: "the getter for " + strconv.Quote(key) + " set no value"}
	case err == nil:
		C.edgecache_group_ticket_complete(t, bytesData(dest.b), C.size_t(len(dest.b)))
		return dest.b, nil
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		// This caller's context ended the getter: the others still want the
		// value. Leave without a result (the deferred free abandons), so a
		// waiter leads a new load.
		return nil, err
	default:
		msg := err.Error()
		eh := cgo.NewHandle(err)
		if C.edgecache_group_ticket_fail(t, false, C.uint64_t(eh), strData(msg), C.size_t(len(msg))) != C.EDGECACHE_OK {
			eh.Delete()
		}
		return nil, err
	}
}

// runGetter calls f, turning a panic into a *PanicError. A Goexit inside
// f passes through (the caller's deferred calls handle it).
func runGetter(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return f()
}

// Remove drops key from the main and hot caches and detaches any load in
// flight for it (that load will not store its value); the next Get loads
// again. It reports whether an entry was removed.
func (g *Group) Remove(key string) bool {
	var removed C.bool
	C.edgecache_group_remove(g.ptr(), strData(key), C.size_t(len(key)), &removed)
	runtime.KeepAlive(g)
	return bool(removed)
}

// Stats returns a snapshot of the group's counters.
func (g *Group) Stats() Stats {
	var s C.edgecache_group_stats
	C.edgecache_group_get_stats(g.ptr(), &s)
	runtime.KeepAlive(g)
	return Stats{
		Gets: int64(s.gets), CacheHits: int64(s.cache_hits), PeerLoads: int64(s.peer_loads),
		PeerErrors: int64(s.peer_errors), Loads: int64(s.loads), LoadsDeduped: int64(s.loads_deduped),
		LocalLoads: int64(s.local_loads), LocalLoadErrs: int64(s.local_load_errs),
		ServerRequests: int64(s.server_requests),
	}
}

// CacheStats returns the counters of the main or hot cache; an unknown
// which gives zeroes.
func (g *Group) CacheStats(which CacheType) CacheStats {
	var s C.edgecache_cache_stats
	st := C.edgecache_group_get_cache_stats(g.ptr(), C.uint32_t(which), &s)
	runtime.KeepAlive(g)
	if st != C.EDGECACHE_OK {
		return CacheStats{}
	}
	return goCacheStats(&s)
}

// Close ends the group: unregisters its name (GetGroup no longer finds it,
// and the name can be used again), frees the cached values, and makes later
// Gets fail with ErrClosed. Callers waiting on a load still get its result.
// Idempotent and safe to call concurrently with anything.
func (g *Group) Close() {
	C.edgecache_group_close(g.ptr())
	runtime.KeepAlive(g)
}
