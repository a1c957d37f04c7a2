#include <string.h>
#include "shims.h"
#include "_cgo_export.h"

static int32_t ec_getter(void *ud, const uint8_t *key, size_t key_len, edgecache_sink *sink) {
	return edgecacheGoGetter((uintptr_t)ud, (uint8_t *)key, key_len, sink);
}

static void ec_release(void *ud) { edgecacheGoRelease((uintptr_t)ud); }

static void ec_release_code(void *ud, uint64_t code) { edgecacheGoReleaseCode((uintptr_t)ud, code); }

edgecache_status ec_group_new(const uint8_t *name, size_t name_len, int64_t cache_bytes, uint64_t ttl_ms,
                              uintptr_t handle, edgecache_group **out) {
	return edgecache_group_new(name, name_len, cache_bytes, ttl_ms, ec_getter, (void *)handle, ec_release,
	                           ec_release_code, out);
}

/* A hit in one call: the value is copied into hit->buf when it fits (and
 * the shared bytes released); otherwise hit->big keeps them for the caller. */
static void ec_take_hit(edgecache_bytes b, ec_hit *hit) {
	hit->n = b.len;
	if (b.len <= sizeof hit->buf) {
		if (b.len > 0) memcpy(hit->buf, b.data, b.len);
		edgecache_bytes_free(b);
		hit->big.data = NULL;
		hit->big.len = 0;
	} else {
		hit->big = b;
	}
}

static edgecache_status ec_group_get_cached(uintptr_t g, const uint8_t *key, size_t key_len, ec_hit *hit) {
	edgecache_bytes b;
	edgecache_status s = edgecache_group_get_cached((const edgecache_group *)g, key, key_len, &b);
	if (s != EDGECACHE_OK) return s;
	ec_take_hit(b, hit);
	return EDGECACHE_OK;
}

edgecache_status ec_group_get(uintptr_t g, const uint8_t *key, size_t key_len, ec_hit *hit) {
	edgecache_status s = ec_group_get_cached(g, key, key_len, hit);
	if (s != EDGECACHE_NOT_FOUND) return s;
	edgecache_bytes b;
	s = edgecache_group_begin((const edgecache_group *)g, key, key_len, &b, &hit->ticket);
	if (s == EDGECACHE_OK) {
		ec_take_hit(b, hit);
		hit->ticket = NULL;
	} else if (s == EDGECACHE_PENDING) {
		hit->leader = edgecache_group_ticket_is_leader(hit->ticket);
	}
	return s;
}

/* Failure codes are cgo.Handles of Go errors; the hook deletes them. */
edgecache_status ec_flight_new(edgecache_flight **out) {
	return edgecache_flight_new_with_hooks(NULL, NULL, ec_release_code, out);
}

static void ec_ready(void *h) { edgecacheGoReady((uintptr_t)h); }

edgecache_status ec_group_ticket_on_ready(edgecache_group_ticket *t, uintptr_t h) {
	return edgecache_group_ticket_on_ready(t, ec_ready, (void *)h);
}

edgecache_status ec_ticket_on_ready(edgecache_ticket *t, uintptr_t h) {
	return edgecache_ticket_on_ready(t, ec_ready, (void *)h);
}

edgecache_status ec_watcher_on_ready(const edgecache_watcher *w, uintptr_t h, uint64_t *recheck_ms, uint64_t *id) {
	return edgecache_watcher_on_ready(w, ec_ready, (void *)h, recheck_ms, id);
}

edgecache_status ec_on_fresh(const edgecache_watch_cache *wc, uint64_t rv, uintptr_t h, uint64_t *id) {
	return edgecache_watch_cache_on_fresh(wc, rv, ec_ready, (void *)h, id);
}

edgecache_status ec_group_go_state(const edgecache_group *g, uintptr_t *out) {
	void *ud = NULL;
	edgecache_status s = edgecache_group_getter_data(g, ec_getter, &ud);
	*out = (uintptr_t)ud;
	return s;
}

edgecache_status ec_group_begin(const edgecache_group *g, const uint8_t *key, size_t key_len, int rejoin, ec_begin *o) {
	edgecache_status s = rejoin ? edgecache_group_rejoin(g, key, key_len, &o->value, &o->ticket)
	                            : edgecache_group_begin(g, key, key_len, &o->value, &o->ticket);
	o->leader = s == EDGECACHE_PENDING && edgecache_group_ticket_is_leader(o->ticket);
	return s;
}

edgecache_status ec_group_ticket_load(edgecache_group_ticket *t, uintptr_t call, edgecache_bytes *out,
                                      edgecache_error **err) {
	return edgecache_group_ticket_load(t, (void *)call, out, err);
}

/* For the package's tests: a group made the way a C program makes one,
 * with a C getter (the value is "c:" + key; the key "fail" fails with code
 * 42), so Go can be shown to see and use groups it did not make. */
static int32_t ec_test_c_getter(void *ud, const uint8_t *key, size_t key_len, edgecache_sink *sink) {
	(void)ud;
	if (key_len == 4 && memcmp(key, "fail", 4) == 0) {
		edgecache_sink_set_error(sink, 42, (const uint8_t *)"c failure", 9);
		return 1;
	}
	uint8_t buf[256];
	if (key_len > sizeof buf - 2) return 1;
	buf[0] = 'c';
	buf[1] = ':';
	if (key_len > 0) memcpy(buf + 2, key, key_len);
	return edgecache_sink_set_bytes(sink, buf, key_len + 2) == EDGECACHE_OK ? 0 : 1;
}

edgecache_status ec_test_c_group_new(const uint8_t *name, size_t name_len, edgecache_group **out) {
	return edgecache_group_new(name, name_len, 1 << 20, 0, ec_test_c_getter, NULL, NULL, NULL, out);
}
