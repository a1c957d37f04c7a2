/* C helpers of the Go binding: trampolines from the library's callbacks to
 * the Go functions in callbacks.go, and calls that save cgo round trips.
 * Handles travel as uintptr_t so Go never turns an integer into a pointer. */
#ifndef EDGECACHE_GO_SHIMS_H
#define EDGECACHE_GO_SHIMS_H

#include <stdint.h>
#include <stdlib.h>
#include <edgecache.h>

edgecache_status ec_group_new(const uint8_t *name, size_t name_len, int64_t cache_bytes, uint64_t ttl_ms,
                              uintptr_t handle, edgecache_group **out);
/* The hit path's buffers, in one Go allocation (one pointer to check). */
typedef struct ec_hit {
	size_t n;
	edgecache_bytes big;
	/* A miss (EDGECACHE_PENDING): the ticket edgecache_group_begin handed
	 * out, and whether it leads. */
	edgecache_group_ticket *ticket;
	bool leader;
	uint8_t buf[2048];
} ec_hit;

/* g is the group handle as an integer: it is C memory, and an integer needs
 * no cgo pointer check. */
/* A get in one call: a hit is copied into hit->buf when it fits (else
 * hit->big keeps the library's bytes for the caller); on a miss, the ticket
 * of edgecache_group_begin (EDGECACHE_PENDING, hit->ticket, hit->leader). */
edgecache_status ec_group_get(uintptr_t g, const uint8_t *key, size_t key_len, ec_hit *hit);
edgecache_status ec_flight_new(edgecache_flight **out);

/* Completion hooks: `h` is a cgo.Handle of a Go channel that the hook
 * closes (edgecacheGoReady), from whatever thread completes the wait. */
edgecache_status ec_group_ticket_on_ready(edgecache_group_ticket *t, uintptr_t h);
edgecache_status ec_ticket_on_ready(edgecache_ticket *t, uintptr_t h);
edgecache_status ec_watcher_on_ready(const edgecache_watcher *w, uintptr_t h, uint64_t *recheck_ms, uint64_t *id);
edgecache_status ec_on_fresh(const edgecache_watch_cache *wc, uint64_t rv, uintptr_t h, uint64_t *id);
/* The group's Go state (a cgo.Handle), when a Go getter made it. */
edgecache_status ec_group_go_state(const edgecache_group *g, uintptr_t *out);
/* A group load in progress: what edgecache_group_begin handed out. */
typedef struct ec_begin {
	edgecache_bytes value;
	edgecache_group_ticket *ticket;
	bool leader;
} ec_begin;
edgecache_status ec_group_begin(const edgecache_group *g, const uint8_t *key, size_t key_len, int rejoin, ec_begin *o);
edgecache_status ec_group_ticket_load(edgecache_group_ticket *t, uintptr_t call, edgecache_bytes *out,
                                      edgecache_error **err);

/* For the package's tests only: a group with a C getter. */
edgecache_status ec_test_c_group_new(const uint8_t *name, size_t name_len, edgecache_group **out);

#endif
