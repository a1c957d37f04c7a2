// Package edgecache is the Go binding of edgecache: groupcache's Group,
// a singleflight Flight and a Kubernetes-style WatchCache, run by one Rust
// library (libedgecache.a, linked through cgo) that C and Python processes
// use too.
//
// # Switching from groupcache
//
// The names are groupcache's: NewGroup, GetGroup, Getter, GetterFunc, Sink
// with StringSink, ByteViewSink, AllocatingByteSliceSink and
// TruncatingByteSliceSink, ByteView, Group.Get, Name, CacheStats with
// MainCache and HotCache. Changing the import path is enough for code that
// does not use SetProto or peers. Beyond groupcache: Group.Remove,
// Group.Stats, Group.Close, a TTL (NewGroupWithOptions), a getter error
// that reaches every caller as the same value, and a context that stops a
// waiting caller.
//
// # Memory
//
// Cached values live in the library's memory, not on the Go heap: a process
// caching a gigabyte gives the garbage collector nothing to scan for it.
// Each value handed to Go is a copy owned by the caller.
//
// # Ownership and lifetime
//
// Each object (Group, Flight, WatchCache, Watcher) owns a library handle.
// Close is idempotent and safe to call concurrently with any other method;
// it releases what the object holds (cached values, events) at once, and
// later calls fail with ErrClosed. The handle itself is freed by a
// finalizer when the Go object is collected; every method keeps its object
// alive across the cgo call with runtime.KeepAlive. A registered Group
// stays reachable (GetGroup finds it) until Close.
//
// # Concurrency
//
// Every exported method is safe for concurrent use. On a miss, one goroutine
// per key calls into the library (which runs the getter on it); the other
// goroutines asking for that key park on a channel, as in groupcache (and
// likewise for Flight.Do), so a
// stampede of thousands of goroutines holds one OS thread, not thousands.
// A parked caller returns ctx.Err() as soon as its context is done; if the
// context of the goroutine running the load ends it, the parked callers
// load again rather than fail. A watcher has one goroutine that waits for
// events in the library and feeds ResultChan.
//
// # Errors
//
// Failures are *StatusError values matching the sentinels (ErrClosed,
// ErrInvalidSelector, ...) with errors.Is; a getter's own error comes back
// unchanged; a getter's panic is recovered and reaches every caller of the
// load as a *PanicError matching ErrLoaderPanicked. The watch cache's 410
// and 504 are typed, for errors.As: *ResourceExpiredError (Requested,
// Oldest) and *TooLargeResourceVersionError (Requested, Current,
// RetryAfterSeconds), with the HTTPStatus, Reason and Cause a Kubernetes
// Status needs; they match ErrResourceExpired and
// ErrTooLargeResourceVersion with errors.Is, and unwrap to a *StatusError.
//
// # Watch protocol
//
// WatchCache speaks today's Kubernetes list/watch: streaming lists
// (WatcherOptions.SendInitialEvents, ending with a Bookmark whose
// InitialEventsEnd is set), periodic bookmarks (BookmarkInterval),
// paged lists from one snapshot (ListPage with continue tokens and
// resourceVersionMatch), and selector strings in Kubernetes syntax
// (Selector.LabelSelector and FieldSelector).
package edgecache
