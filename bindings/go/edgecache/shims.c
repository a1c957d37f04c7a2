#include <string.h>
#include "shims.h"
#include "_cgo_export.h"

static int32_t ec_getter(void *ud, const uint8_t *key, size_t key_len, edgecache_sink *sink) {
	return edgecacheGoGetter((uintptr_t)ud, (uint8_t *)key, key_len, sink);
}

static bool ec_poll(void *call) { return edgecacheGoPoll((uintptr_t)call); }

static void ec_release(void *ud) { edgecacheGoRelease((uintptr_t)ud); }

static void ec_release_code(void *ud, uint64_t code) { edgecacheGoReleaseCode((uintptr_t)ud, code); }

edgecache_status ec_group_new(const uint8_t *name, size_t name_len, int64_t cache_bytes, uint64_t ttl_ms,
                              uintptr_t handle, edgecache_group **out) {
	return edgecache_group_new(name, name_len, cache_bytes, ttl_ms, ec_getter, (void *)handle, ec_release,
	                           ec_release_code, out);
}

/* A hit in one call: the value is copied into hit->buf when it fits (and
 * the shared bytes released); otherwise hit->big keeps them for the caller. */
edgecache_status ec_group_get_cached(uintptr_t g, const uint8_t *key, size_t key_len, ec_hit *hit) {
	edgecache_bytes b;
	edgecache_status s = edgecache_group_get_cached((const edgecache_group *)g, key, key_len, &b);
	if (s != EDGECACHE_OK) return s;
	hit->n = b.len;
	if (b.len <= sizeof hit->buf) {
		if (b.len > 0) memcpy(hit->buf, b.data, b.len);
		edgecache_bytes_free(b);
		hit->big.data = NULL;
		hit->big.len = 0;
	} else {
		hit->big = b;
	}
	return EDGECACHE_OK;
}

edgecache_status ec_group_get_with(const edgecache_group *g, const uint8_t *key, size_t key_len, uint64_t timeout_ms,
                                   int poll, uintptr_t call, edgecache_bytes *out, edgecache_error **err) {
	return edgecache_group_get_with(g, key, key_len, timeout_ms, poll ? ec_poll : NULL, (void *)call, out, err);
}

/* Failure codes are cgo.Handles of Go errors; the hook deletes them. */
edgecache_status ec_flight_new(edgecache_flight **out) {
	return edgecache_flight_new_with_hooks(NULL, NULL, ec_release_code, out);
}
