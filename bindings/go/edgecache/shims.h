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
	uint8_t buf[2048];
} ec_hit;

/* g is the group handle as an integer: it is C memory, and an integer needs
 * no cgo pointer check. */
edgecache_status ec_group_get_cached(uintptr_t g, const uint8_t *key, size_t key_len, ec_hit *hit);
edgecache_status ec_group_get_with(const edgecache_group *g, const uint8_t *key, size_t key_len, uint64_t timeout_ms,
                                   int poll, uintptr_t call, edgecache_bytes *out, edgecache_error **err);
edgecache_status ec_flight_new(edgecache_flight **out);

#endif
