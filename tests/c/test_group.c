/*
 * edgecache_group through the C ABI: a C getter and its sink, the cache in
 * front of it, stats, lookup/close/free, TTL, timeouts, 32 threads on one
 * key, getter error codes, and the two release hooks (user_data and error
 * codes).
 *
 * Every group name is unique in this process (groups are registered
 * process-wide): each test uses its own "test_group/<test>" name.
 */
#include "test_common.h"

enum probe_mode {
    PROBE_VALUE = 0, /* "v:" + key */
    PROBE_ERROR = 1, /* edgecache_sink_set_error(code + call number - 1, msg), return 1 */
    PROBE_BIG = 2,   /* a 64-byte value */
};

/* A getter's user_data: what it does, and what happened to it. */
struct probe {
    enum probe_mode mode;
    uint64_t error_code;
    const char *error_msg;
    /* Before answering, wait until the group's `gets` counter reaches this (0: don't). */
    uint64_t wait_gets;
    /* Before answering, wait until `loads` reaches this, then 20 ms more (0: don't). */
    uint64_t wait_loads;
    /* Before answering, wait until `go` is set (after setting `entered`). */
    bool block;
    edgecache_group *group; /* for the stats the getter polls */
    void *seen_call_data;   /* edgecache_sink_call_data at the last call */

    atomic_int calls;
    atomic_bool entered;
    atomic_bool go;

    atomic_int seq;            /* orders the hook calls below */
    atomic_int released;       /* release(user_data) calls */
    atomic_int released_at;    /* seq value at the last release */
    atomic_int errors_released;
    atomic_int error_released_at;
    atomic_uint_fast64_t last_released_code;
};

static void probe_init(struct probe *p, enum probe_mode mode) {
    memset(p, 0, sizeof *p);
    p->mode = mode;
    atomic_init(&p->calls, 0);
    atomic_init(&p->entered, false);
    atomic_init(&p->go, false);
    atomic_init(&p->seq, 0);
    atomic_init(&p->released, 0);
    atomic_init(&p->released_at, 0);
    atomic_init(&p->errors_released, 0);
    atomic_init(&p->error_released_at, 0);
    atomic_init(&p->last_released_code, 0);
}

static uint64_t group_gets(const edgecache_group *g) {
    edgecache_group_stats s;
    CHECK_OK(edgecache_group_get_stats(g, &s));
    return s.gets;
}

static uint64_t group_loads(const edgecache_group *g) {
    edgecache_group_stats s;
    CHECK_OK(edgecache_group_get_stats(g, &s));
    return s.loads;
}

static int32_t probe_getter(void *user_data, const uint8_t *key, size_t key_len, edgecache_sink *sink) {
    struct probe *p = user_data;
    p->seen_call_data = edgecache_sink_call_data(sink);
    int n = atomic_fetch_add(&p->calls, 1) + 1;
    atomic_store(&p->entered, true);
    if (p->wait_gets > 0) {
        uint64_t start = tc_now_ms();
        while (group_gets(p->group) < p->wait_gets) {
            CHECKF(tc_now_ms() - start < TC_WAIT_LIMIT_MS, "only %" PRIu64 " of %" PRIu64 " callers arrived",
                   group_gets(p->group), p->wait_gets);
            tc_sleep_ms(1);
        }
    }
    if (p->wait_loads > 0) {
        uint64_t start = tc_now_ms();
        while (group_loads(p->group) < p->wait_loads) {
            CHECKF(tc_now_ms() - start < TC_WAIT_LIMIT_MS, "only %" PRIu64 " of %" PRIu64 " callers joined",
                   group_loads(p->group), p->wait_loads);
            tc_sleep_ms(1);
        }
        tc_sleep_ms(20); /* counted, now let them join the flight */
    }
    if (p->block) {
        uint64_t start = tc_now_ms();
        while (!atomic_load(&p->go)) {
            CHECKF(tc_now_ms() - start < TC_WAIT_LIMIT_MS, "the getter was never released");
            tc_sleep_ms(1);
        }
    }
    switch (p->mode) {
    case PROBE_VALUE: {
        uint8_t buf[256];
        CHECK(key_len + 2 <= sizeof buf);
        buf[0] = 'v';
        buf[1] = ':';
        if (key_len > 0) memcpy(buf + 2, key, key_len);
        CHECK_OK(edgecache_sink_set_bytes(sink, buf, key_len + 2));
        return 0;
    }
    case PROBE_ERROR:
        CHECK_OK(edgecache_sink_set_error(sink, p->error_code + (uint64_t)(n - 1), STR(p->error_msg)));
        return 1;
    case PROBE_BIG:
        CHECK_OK(edgecache_sink_set_bytes(sink, LIT("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")));
        return 0;
    }
    return 99;
}

static void probe_release(void *user_data) {
    struct probe *p = user_data;
    atomic_store(&p->released_at, atomic_fetch_add(&p->seq, 1) + 1);
    atomic_fetch_add(&p->released, 1);
}

static void probe_release_error(void *user_data, uint64_t code) {
    struct probe *p = user_data;
    atomic_store(&p->last_released_code, code);
    atomic_store(&p->error_released_at, atomic_fetch_add(&p->seq, 1) + 1);
    atomic_fetch_add(&p->errors_released, 1);
}

static edgecache_group *new_group(const char *name, int64_t cache_bytes, uint64_t ttl_ms, struct probe *p) {
    edgecache_group *g = NULL;
    CHECK_OK(edgecache_group_new(STR(name), cache_bytes, ttl_ms, probe_getter, p, probe_release,
                                 probe_release_error, &g));
    CHECK(g != NULL);
    p->group = g;
    return g;
}

/* Closes and frees a group and checks its release hook ran exactly once. */
static void end_group(edgecache_group *g, struct probe *p) {
    CHECK_OK(edgecache_group_close(g));
    CHECK(atomic_load(&p->released) == 0);
    edgecache_group_free(g);
    CHECK(atomic_load(&p->released) == 1);
}

static void expect_get(const edgecache_group *g, const uint8_t *key, size_t key_len, const char *want) {
    edgecache_bytes b = {NULL, 0};
    edgecache_error *err = (edgecache_error *)&b; /* a sentinel: must stay untouched on success */
    CHECK_OK(edgecache_group_get(g, key, key_len, EDGECACHE_WAIT_FOREVER, &b, &err));
    CHECK(err == (edgecache_error *)&b);
    CHECK_BYTES(b, want, strlen(want));
    edgecache_bytes_free(b);
}

static void test_get_loads_once_and_caches(void) {
    struct probe p;
    probe_init(&p, PROBE_VALUE);
    edgecache_group *g = new_group("test_group/loads_once", 1 << 20, 0, &p);
    expect_get(g, LIT("alpha"), "v:alpha");
    expect_get(g, LIT("alpha"), "v:alpha");
    expect_get(g, LIT("beta"), "v:beta");
    expect_get(g, NULL, 0, "v:"); /* (NULL, 0) is the empty key */
    expect_get(g, LIT(""), "v:");
    CHECK(atomic_load(&p.calls) == 3);

    edgecache_group_stats s;
    memset(&s, 0xAB, sizeof s);
    CHECK_OK(edgecache_group_get_stats(g, &s));
    CHECK(s.gets == 5);
    CHECK(s.cache_hits == 2);
    CHECK(s.loads == 3);
    CHECK(s.loads_deduped == 3);
    CHECK(s.local_loads == 3);
    CHECK(s.local_load_errs == 0);
    CHECK(s.peer_loads == 0 && s.peer_errors == 0 && s.server_requests == 0);

    edgecache_cache_stats main_s, hot_s;
    memset(&main_s, 0xAB, sizeof main_s);
    memset(&hot_s, 0xAB, sizeof hot_s);
    CHECK_OK(edgecache_group_get_cache_stats(g, EDGECACHE_MAIN_CACHE, &main_s));
    CHECK_OK(edgecache_group_get_cache_stats(g, EDGECACHE_HOT_CACHE, &hot_s));
    CHECK(main_s.items == 3);
    CHECKF(main_s.bytes == (5 + 7) + (4 + 6) + (0 + 2), "main bytes %" PRIu64, main_s.bytes);
    CHECK(main_s.hits == 2);
    CHECK(main_s.evictions == 0);
    /* No peers through the C ABI: the hot cache stays empty. */
    CHECK(hot_s.items == 0 && hot_s.bytes == 0 && hot_s.hits == 0 && hot_s.evictions == 0);
    end_group(g, &p);
}

static void test_name_and_lookup(void) {
    static const char name[] = "test_group/name_and_lookup";
    struct probe p;
    probe_init(&p, PROBE_VALUE);
    edgecache_group *g = new_group(name, 1 << 20, 0, &p);

    char buf[64];
    size_t len = 0;
    CHECK_OK(edgecache_group_name(g, buf, sizeof buf, &len));
    CHECK(len == strlen(name));
    CHECK(strcmp(buf, name) == 0);
    /* Too small (no room for the NUL): the needed length, nothing written. */
    memset(buf, 'x', sizeof buf);
    len = 0;
    CHECK_STATUS(edgecache_group_name(g, buf, strlen(name), &len), EDGECACHE_BUFFER_TOO_SMALL);
    CHECK(len == strlen(name));
    CHECK(buf[0] == 'x');
    /* NULL buffer, capacity 0: asks for the length. */
    len = 0;
    CHECK_STATUS(edgecache_group_name(g, NULL, 0, &len), EDGECACHE_BUFFER_TOO_SMALL);
    CHECK(len == strlen(name));
    /* Exactly enough. */
    CHECK_OK(edgecache_group_name(g, buf, strlen(name) + 1, NULL));
    CHECK(strcmp(buf, name) == 0);

    expect_get(g, LIT("k"), "v:k");
    edgecache_group *g2 = NULL;
    CHECK_OK(edgecache_group_lookup(STR(name), &g2));
    CHECK(g2 != NULL && g2 != g);
    /* The same group: the value is cached already, the getter is not called. */
    expect_get(g2, LIT("k"), "v:k");
    CHECK(atomic_load(&p.calls) == 1);
    CHECK_OK(edgecache_group_name(g2, buf, sizeof buf, NULL));
    CHECK(strcmp(buf, name) == 0);
    edgecache_group_free(g2);

    edgecache_group *none = (edgecache_group *)&p;
    CHECK_STATUS(edgecache_group_lookup(LIT("test_group/no such group"), &none), EDGECACHE_NOT_FOUND);
    CHECK(none == (edgecache_group *)&p);
    end_group(g, &p);
}

static void test_remove_reloads(void) {
    struct probe p;
    probe_init(&p, PROBE_VALUE);
    edgecache_group *g = new_group("test_group/remove", 1 << 20, 0, &p);
    expect_get(g, LIT("k"), "v:k");
    bool removed = false;
    CHECK_OK(edgecache_group_remove(g, LIT("k"), &removed));
    CHECK(removed);
    CHECK_OK(edgecache_group_remove(g, LIT("k"), &removed));
    CHECK(!removed);
    CHECK_OK(edgecache_group_remove(g, LIT("never loaded"), NULL));
    expect_get(g, LIT("k"), "v:k");
    CHECK(atomic_load(&p.calls) == 2);
    end_group(g, &p);
}

static void test_ttl(void) {
    struct probe p;
    probe_init(&p, PROBE_VALUE);
    edgecache_group *g = new_group("test_group/ttl", 1 << 20, 1, &p);
    expect_get(g, LIT("k"), "v:k");
    tc_sleep_ms(30);
    expect_get(g, LIT("k"), "v:k");
    CHECK(atomic_load(&p.calls) == 2);
    end_group(g, &p);

    struct probe q;
    probe_init(&q, PROBE_VALUE);
    g = new_group("test_group/ttl_none", 1 << 20, 0, &q);
    expect_get(g, LIT("k"), "v:k");
    tc_sleep_ms(30);
    expect_get(g, LIT("k"), "v:k");
    CHECK(atomic_load(&q.calls) == 1);
    end_group(g, &q);
}

static void test_zero_budget_loads_every_time(void) {
    struct probe p;
    probe_init(&p, PROBE_VALUE);
    edgecache_group *g = new_group("test_group/zero_budget", 0, 0, &p);
    expect_get(g, LIT("k"), "v:k");
    expect_get(g, LIT("k"), "v:k");
    CHECK(atomic_load(&p.calls) == 2);
    edgecache_cache_stats s;
    CHECK_OK(edgecache_group_get_cache_stats(g, EDGECACHE_MAIN_CACHE, &s));
    CHECK(s.items == 0 && s.bytes == 0);
    end_group(g, &p);
}

static void test_oversized_value_returned_not_kept(void) {
    struct probe p;
    probe_init(&p, PROBE_BIG);
    edgecache_group *g = new_group("test_group/oversized", 32, 0, &p);
    const char *big = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    expect_get(g, LIT("k"), big);
    expect_get(g, LIT("k"), big);
    CHECK(atomic_load(&p.calls) == 2);
    edgecache_cache_stats s;
    CHECK_OK(edgecache_group_get_cache_stats(g, EDGECACHE_MAIN_CACHE, &s));
    CHECK(s.items == 0 && s.bytes == 0);
    end_group(g, &p);
}

/* A getter whose second edgecache_sink_set_bytes replaces the first. */
static int32_t twice_getter(void *user_data, const uint8_t *key, size_t key_len, edgecache_sink *sink) {
    (void)user_data;
    (void)key;
    (void)key_len;
    CHECK_OK(edgecache_sink_set_bytes(sink, LIT("first")));
    CHECK_OK(edgecache_sink_set_bytes(sink, LIT("second")));
    return 0;
}

static void test_sink_second_set_replaces(void) {
    edgecache_group *g = NULL;
    CHECK_OK(edgecache_group_new(LIT("test_group/sink_twice"), 1024, 0, twice_getter, NULL, NULL, NULL, &g));
    expect_get(g, LIT("k"), "second");
    CHECK_OK(edgecache_group_close(g));
    edgecache_group_free(g);
}

/* Group B's getter reads through group A: a getter may call back into edgecache. */
struct reenter {
    edgecache_group *inner;
    atomic_int calls;
};

static int32_t reenter_getter(void *user_data, const uint8_t *key, size_t key_len, edgecache_sink *sink) {
    struct reenter *r = user_data;
    atomic_fetch_add(&r->calls, 1);
    edgecache_bytes b = {NULL, 0};
    edgecache_error *err = NULL;
    edgecache_status s = edgecache_group_get(r->inner, key, key_len, EDGECACHE_WAIT_FOREVER, &b, &err);
    if (s != EDGECACHE_OK) {
        char msg[128];
        CHECK_OK(edgecache_sink_set_error(sink, edgecache_error_code(err), STR(tc_error_message(err, msg, sizeof msg))));
        edgecache_error_free(err);
        return 1;
    }
    uint8_t buf[256];
    CHECK(b.len + 6 <= sizeof buf);
    memcpy(buf, "outer(", 6);
    memcpy(buf + 6, b.data, b.len);
    buf[6 + b.len] = ')';
    CHECK_OK(edgecache_sink_set_bytes(sink, buf, b.len + 7));
    edgecache_bytes_free(b);
    return 0;
}

static void test_getter_reenters(void) {
    struct probe pa;
    probe_init(&pa, PROBE_VALUE);
    edgecache_group *a = new_group("test_group/reenter_inner", 1 << 20, 0, &pa);
    struct reenter r;
    r.inner = a;
    atomic_init(&r.calls, 0);
    edgecache_group *b = NULL;
    CHECK_OK(edgecache_group_new(LIT("test_group/reenter_outer"), 1 << 20, 0, reenter_getter, &r, NULL, NULL, &b));
    expect_get(b, LIT("x"), "outer(v:x)");
    expect_get(b, LIT("x"), "outer(v:x)");
    expect_get(a, LIT("x"), "v:x");
    CHECK(atomic_load(&r.calls) == 1);
    CHECK(atomic_load(&pa.calls) == 1);
    CHECK_OK(edgecache_group_close(b));
    edgecache_group_free(b);
    end_group(a, &pa);
}

static void test_release_after_close_and_all_handles(void) {
    static const char name[] = "test_group/release";
    struct probe p;
    probe_init(&p, PROBE_VALUE);
    edgecache_group *g = new_group(name, 1 << 20, 0, &p);
    expect_get(g, LIT("k"), "v:k");

    /* Freeing the only handle does not end a registered group. */
    edgecache_group_free(g);
    CHECK(atomic_load(&p.released) == 0);
    edgecache_group *g1 = NULL, *g2 = NULL;
    CHECK_OK(edgecache_group_lookup(STR(name), &g1));
    CHECK_OK(edgecache_group_lookup(STR(name), &g2));
    expect_get(g1, LIT("k"), "v:k");
    CHECK(atomic_load(&p.calls) == 1);

    /* Close: unregistered, gets fail, but the handles stay valid. */
    CHECK_OK(edgecache_group_close(g1));
    CHECK_OK(edgecache_group_close(g1)); /* idempotent */
    CHECK_OK(edgecache_group_close(g2));
    edgecache_group *none = NULL;
    CHECK_STATUS(edgecache_group_lookup(STR(name), &none), EDGECACHE_NOT_FOUND);
    edgecache_bytes b = {NULL, 0};
    edgecache_error *err = NULL;
    CHECK_STATUS(edgecache_group_get(g2, LIT("k"), EDGECACHE_WAIT_FOREVER, &b, &err), EDGECACHE_CLOSED);
    CHECK(b.data == NULL);
    CHECK(err != NULL);
    CHECK_STATUS(edgecache_error_status(err), EDGECACHE_CLOSED);
    CHECK(edgecache_error_code(err) == 0);
    edgecache_error_free(err);
    CHECK_STATUS(edgecache_group_get(g1, LIT("k"), 0, &b, NULL), EDGECACHE_CLOSED);
    char buf[64];
    CHECK_OK(edgecache_group_name(g1, buf, sizeof buf, NULL));
    CHECK(strcmp(buf, name) == 0);
    edgecache_group_stats s;
    CHECK_OK(edgecache_group_get_stats(g1, &s));
    edgecache_cache_stats cs;
    CHECK_OK(edgecache_group_get_cache_stats(g1, EDGECACHE_MAIN_CACHE, &cs));
    CHECK(cs.items == 0); /* close drops what the group caches */
    CHECK(atomic_load(&p.released) == 0);

    edgecache_group_free(g1);
    CHECK(atomic_load(&p.released) == 0);
    edgecache_group_free(g2);
    CHECK(atomic_load(&p.released) == 1);
    /* A closed group's name can be used again. */
    struct probe q;
    probe_init(&q, PROBE_VALUE);
    g = new_group(name, 1 << 20, 0, &q);
    expect_get(g, LIT("k"), "v:k");
    CHECK(atomic_load(&q.calls) == 1);
    end_group(g, &q);
    CHECK(atomic_load(&p.released) == 1);
    CHECK(atomic_load(&p.errors_released) == 0);
}

static void test_duplicate_group_does_not_release(void) {
    static const char name[] = "test_group/duplicate";
    struct probe p, dup;
    probe_init(&p, PROBE_VALUE);
    probe_init(&dup, PROBE_VALUE);
    edgecache_group *g = new_group(name, 1 << 20, 0, &p);
    edgecache_group *g2 = (edgecache_group *)&dup; /* sentinel */
    CHECK_STATUS(edgecache_group_new(STR(name), 1 << 20, 0, probe_getter, &dup, probe_release, probe_release_error,
                                     &g2),
                 EDGECACHE_DUPLICATE_GROUP);
    CHECK(g2 == (edgecache_group *)&dup);
    char msg[256];
    CHECKF(strstr(tc_last_error(msg, sizeof msg), name) != NULL, "last error \"%s\" does not name the group", msg);
    CHECK(atomic_load(&dup.released) == 0);
    /* The first group is untouched and its getter still the one used. */
    expect_get(g, LIT("k"), "v:k");
    CHECK(atomic_load(&p.calls) == 1);
    CHECK(atomic_load(&dup.calls) == 0);
    end_group(g, &p);
    CHECK(atomic_load(&dup.released) == 0);
    CHECK(atomic_load(&dup.errors_released) == 0);
}

static void test_getter_error_code(void) {
    struct probe p;
    probe_init(&p, PROBE_ERROR);
    p.error_code = 42;
    p.error_msg = "upstream said 503";
    edgecache_group *g = new_group("test_group/error_code", 1 << 20, 0, &p);

    edgecache_bytes b = {NULL, 7};
    edgecache_error *err = NULL;
    CHECK_STATUS(edgecache_group_get(g, LIT("k"), EDGECACHE_WAIT_FOREVER, &b, &err), EDGECACHE_GETTER_FAILED);
    CHECK(b.data == NULL && b.len == 7); /* out untouched on failure */
    CHECK(err != NULL);
    CHECK_STATUS(edgecache_error_status(err), EDGECACHE_GETTER_FAILED);
    CHECK(edgecache_error_code(err) == 42);
    char msg[128], last[128];
    size_t len = 0;
    CHECK_OK(edgecache_error_message(err, msg, sizeof msg, &len));
    CHECK(strcmp(msg, "upstream said 503") == 0);
    CHECK(len == strlen("upstream said 503"));
    CHECK(strcmp(tc_last_error(last, sizeof last), "upstream said 503") == 0);
    /* Buffer rules as everywhere: too small gives the length, NULL/0 asks for it. */
    len = 0;
    CHECK_STATUS(edgecache_error_message(err, msg, 5, &len), EDGECACHE_BUFFER_TOO_SMALL);
    CHECK(len == strlen("upstream said 503"));
    CHECK_STATUS(edgecache_error_message(err, NULL, 0, &len), EDGECACHE_BUFFER_TOO_SMALL);

    /* Errors are not cached: the next get runs the getter again. */
    edgecache_error *err2 = NULL;
    CHECK_STATUS(edgecache_group_get(g, LIT("k"), EDGECACHE_WAIT_FOREVER, &b, &err2), EDGECACHE_GETTER_FAILED);
    CHECK(edgecache_error_code(err2) == 43);
    CHECK(atomic_load(&p.calls) == 2);
    edgecache_group_stats s;
    CHECK_OK(edgecache_group_get_stats(g, &s));
    CHECK(s.local_load_errs == 2 && s.local_loads == 0);

    /* release_error runs once per error, when its holder frees it. */
    CHECK(atomic_load(&p.errors_released) == 0);
    edgecache_error_free(err2);
    CHECK(atomic_load(&p.errors_released) == 1);
    CHECK(atomic_load(&p.last_released_code) == 43);
    edgecache_error_free(err);
    CHECK(atomic_load(&p.errors_released) == 2);
    CHECK(atomic_load(&p.last_released_code) == 42);

    /* Without out_err nobody holds the error: released before get returns. */
    CHECK_STATUS(edgecache_group_get(g, LIT("k"), EDGECACHE_WAIT_FOREVER, &b, NULL), EDGECACHE_GETTER_FAILED);
    CHECK(atomic_load(&p.errors_released) == 3);
    CHECK(atomic_load(&p.last_released_code) == 44);
    CHECK(strcmp(tc_last_error(last, sizeof last), "upstream said 503") == 0);

    /* An error without a message. */
    struct probe q;
    probe_init(&q, PROBE_ERROR);
    q.error_code = 0;
    q.error_msg = "";
    edgecache_group *g2 = new_group("test_group/error_no_message", 1 << 20, 0, &q);
    CHECK_STATUS(edgecache_group_get(g2, LIT("k"), EDGECACHE_WAIT_FOREVER, &b, &err), EDGECACHE_GETTER_FAILED);
    CHECK(edgecache_error_code(err) == 0);
    CHECK_OK(edgecache_error_message(err, msg, sizeof msg, &len));
    CHECK(len == 0 && msg[0] == '\0');
    edgecache_error_free(err);
    CHECK(atomic_load(&q.errors_released) == 1);
    end_group(g2, &q);

    end_group(g, &p);
    CHECK(atomic_load(&p.errors_released) == 3);
}

static void test_error_outlives_group(void) {
    struct probe p;
    probe_init(&p, PROBE_ERROR);
    p.error_code = 0xDEADBEEFCAFEull;
    p.error_msg = "kept past the group";
    edgecache_group *g = new_group("test_group/error_outlives", 1 << 20, 0, &p);
    edgecache_bytes b = {NULL, 0};
    edgecache_error *err = NULL;
    CHECK_STATUS(edgecache_group_get(g, LIT("k"), EDGECACHE_WAIT_FOREVER, &b, &err), EDGECACHE_GETTER_FAILED);
    CHECK_OK(edgecache_group_close(g));
    edgecache_group_free(g);
    /* The error still refers to user_data (through its code): no release yet. */
    CHECK(atomic_load(&p.released) == 0);
    CHECK(atomic_load(&p.errors_released) == 0);
    char msg[64];
    CHECK(strcmp(tc_error_message(err, msg, sizeof msg), "kept past the group") == 0);
    CHECK(edgecache_error_code(err) == 0xDEADBEEFCAFEull);
    edgecache_error_free(err);
    CHECK(atomic_load(&p.errors_released) == 1);
    CHECK(atomic_load(&p.last_released_code) == 0xDEADBEEFCAFEull);
    CHECK(atomic_load(&p.released) == 1);
    /* release_error before release. */
    CHECK(atomic_load(&p.error_released_at) == 1);
    CHECK(atomic_load(&p.released_at) == 2);
}

/* ---- many threads on one key ---- */

#define HAMMER_THREADS 32

struct caller {
    edgecache_group *group;
    pthread_barrier_t *start;
    const char *key;
    edgecache_status status;
    edgecache_bytes value;
    edgecache_error *err;
};

static void *call_get(void *arg) {
    struct caller *c = arg;
    int rc = pthread_barrier_wait(c->start);
    CHECK(rc == 0 || rc == PTHREAD_BARRIER_SERIAL_THREAD);
    c->err = NULL;
    c->status = edgecache_group_get(c->group, STR(c->key), EDGECACHE_WAIT_FOREVER, &c->value, &c->err);
    if (c->status != EDGECACHE_OK && c->status != EDGECACHE_GETTER_FAILED) {
        CHECK_OK(c->status);
    }
    return NULL;
}

static void run_callers(struct caller *callers, int n, edgecache_group *g, const char *key) {
    pthread_t t[HAMMER_THREADS];
    pthread_barrier_t start;
    CHECK(n <= HAMMER_THREADS);
    CHECK_PT(pthread_barrier_init(&start, NULL, (unsigned)n));
    for (int i = 0; i < n; i++) {
        callers[i] = (struct caller){g, &start, key, EDGECACHE_PANIC, {NULL, 0}, NULL};
        CHECK_PT(pthread_create(&t[i], NULL, call_get, &callers[i]));
    }
    for (int i = 0; i < n; i++) CHECK_PT(pthread_join(t[i], NULL));
    CHECK_PT(pthread_barrier_destroy(&start));
}

static void test_32_threads_one_key(void) {
    struct probe p;
    probe_init(&p, PROBE_VALUE);
    p.wait_gets = HAMMER_THREADS; /* the getter holds the load until every caller arrived */
    edgecache_group *g = new_group("test_group/32_threads", 1 << 20, 0, &p);
    struct caller callers[HAMMER_THREADS];
    run_callers(callers, HAMMER_THREADS, g, "the-hot-key");

    CHECKF(atomic_load(&p.calls) == 1, "getter ran %d times", atomic_load(&p.calls));
    for (int i = 0; i < HAMMER_THREADS; i++) {
        CHECK_OK(callers[i].status);
        CHECK(callers[i].err == NULL);
        CHECK_BYTES_LIT(callers[i].value, "v:the-hot-key");
        /* One load, one value: every caller shares the same bytes. */
        CHECK(callers[i].value.data == callers[0].value.data);
    }
    for (int i = 0; i < HAMMER_THREADS; i++) edgecache_bytes_free(callers[i].value);
    edgecache_group_stats s;
    CHECK_OK(edgecache_group_get_stats(g, &s));
    CHECK(s.gets == HAMMER_THREADS);
    CHECK(s.local_loads == 1);
    CHECK(s.local_load_errs == 0);
    CHECK(s.loads + s.cache_hits >= HAMMER_THREADS);
    end_group(g, &p);
}

/*
 * One failed load shared by many callers: the same code and message for
 * all; release_error once, after the last of them frees its error.
 *
 * The getter waits until all callers have counted their load (and 20 ms
 * more), but a caller can still be between that count and joining the
 * load when the load ends;
 * it then runs the getter itself (errors are not cached). Each getter call
 * uses its own code (42, 43, ...), and the checks hold per code.
 */
static void test_shared_error_released_once(void) {
    enum { N = 8 };
    struct probe p;
    probe_init(&p, PROBE_ERROR);
    p.error_code = 42;
    p.error_msg = "shared failure";
    p.wait_loads = N;
    edgecache_group *g = new_group("test_group/shared_error", 1 << 20, 0, &p);
    struct caller callers[N];
    run_callers(callers, N, g, "k");

    int calls = atomic_load(&p.calls);
    CHECK(calls >= 1 && calls <= N);
    int holders[N] = {0};
    for (int i = 0; i < N; i++) {
        CHECK_STATUS(callers[i].status, EDGECACHE_GETTER_FAILED);
        CHECK(callers[i].value.data == NULL);
        CHECK(callers[i].err != NULL);
        CHECK_STATUS(edgecache_error_status(callers[i].err), EDGECACHE_GETTER_FAILED);
        uint64_t code = edgecache_error_code(callers[i].err);
        CHECKF(code >= 42 && code < 42u + (uint64_t)calls, "code %" PRIu64, code);
        holders[code - 42]++;
        char msg[64];
        CHECK(strcmp(tc_error_message(callers[i].err, msg, sizeof msg), "shared failure") == 0);
    }
    CHECKF(holders[0] >= 2 || N == 1, "the first load was shared by %d callers", holders[0]);
    CHECK(atomic_load(&p.errors_released) == 0);
    for (int i = 0; i < N; i++) {
        uint64_t code = edgecache_error_code(callers[i].err);
        int before = atomic_load(&p.errors_released);
        edgecache_error_free(callers[i].err);
        holders[code - 42]--;
        if (holders[code - 42] == 0) {
            CHECK(atomic_load(&p.errors_released) == before + 1);
            CHECK(atomic_load(&p.last_released_code) == code);
        } else {
            CHECK(atomic_load(&p.errors_released) == before);
        }
    }
    CHECK(atomic_load(&p.errors_released) == calls);
    if (calls > 1) printf("(%d getter calls: a caller joined late) ", calls);
    end_group(g, &p);
}

/* ---- timeouts and close while a load runs ---- */

struct bg_get {
    edgecache_group *group;
    const char *key;
    uint64_t timeout_ms;
    edgecache_status status;
    edgecache_bytes value;
};

static void *bg_get_run(void *arg) {
    struct bg_get *a = arg;
    a->status = edgecache_group_get(a->group, STR(a->key), a->timeout_ms, &a->value, NULL);
    return NULL;
}

static void wait_entered(struct probe *p) {
    uint64_t start = tc_now_ms();
    while (!atomic_load(&p->entered)) {
        CHECKF(tc_now_ms() - start < TC_WAIT_LIMIT_MS, "the getter never started");
        tc_sleep_ms(1);
    }
}

static void test_waiter_timeout(void) {
    struct probe p;
    probe_init(&p, PROBE_VALUE);
    p.block = true;
    edgecache_group *g = new_group("test_group/timeout", 1 << 20, 0, &p);
    struct bg_get leader = {g, "slow", EDGECACHE_WAIT_FOREVER, EDGECACHE_PANIC, {NULL, 0}};
    pthread_t t;
    CHECK_PT(pthread_create(&t, NULL, bg_get_run, &leader));
    wait_entered(&p);

    /* The load runs on the other thread: a bounded wait gives up. */
    edgecache_bytes b = {NULL, 0};
    edgecache_error *err = NULL;
    CHECK_STATUS(edgecache_group_get(g, LIT("slow"), 20, &b, &err), EDGECACHE_TIMEOUT);
    CHECK(b.data == NULL);
    CHECK(err != NULL);
    CHECK_STATUS(edgecache_error_status(err), EDGECACHE_TIMEOUT);
    CHECK(edgecache_error_code(err) == 0);
    edgecache_error_free(err);
    CHECK_STATUS(edgecache_group_get(g, LIT("slow"), 0, &b, NULL), EDGECACHE_TIMEOUT);
    CHECK(atomic_load(&p.calls) == 1);

    /* The load goes on and completes for its caller. */
    atomic_store(&p.go, true);
    CHECK_PT(pthread_join(t, NULL));
    CHECK_OK(leader.status);
    CHECK_BYTES_LIT(leader.value, "v:slow");
    edgecache_bytes_free(leader.value);
    expect_get(g, LIT("slow"), "v:slow");
    CHECK(atomic_load(&p.calls) == 1);
    end_group(g, &p);
}

static void test_close_during_load(void) {
    struct probe p;
    probe_init(&p, PROBE_VALUE);
    p.block = true;
    edgecache_group *g = new_group("test_group/close_during_load", 1 << 20, 0, &p);
    struct bg_get leader = {g, "k", EDGECACHE_WAIT_FOREVER, EDGECACHE_PANIC, {NULL, 0}};
    struct bg_get waiter = leader;
    pthread_t t1, t2;
    CHECK_PT(pthread_create(&t1, NULL, bg_get_run, &leader));
    wait_entered(&p);
    CHECK_PT(pthread_create(&t2, NULL, bg_get_run, &waiter));
    /* Let the second caller join the load (if it is late it loads itself:
     * the outcome checked below is the same). */
    uint64_t start = tc_now_ms();
    while (group_gets(g) < 2) {
        CHECK(tc_now_ms() - start < TC_WAIT_LIMIT_MS);
        tc_sleep_ms(1);
    }
    tc_sleep_ms(10);
    CHECK_OK(edgecache_group_close(g));
    atomic_store(&p.go, true);
    CHECK_PT(pthread_join(t1, NULL));
    CHECK_PT(pthread_join(t2, NULL));
    /* Callers of a load still get its result; nothing is stored. */
    CHECK_OK(leader.status);
    CHECK_OK(waiter.status);
    CHECK_BYTES_LIT(leader.value, "v:k");
    CHECK_BYTES_LIT(waiter.value, "v:k");
    edgecache_bytes_free(leader.value);
    edgecache_bytes_free(waiter.value);
    edgecache_cache_stats s;
    CHECK_OK(edgecache_group_get_cache_stats(g, EDGECACHE_MAIN_CACHE, &s));
    CHECK(s.items == 0);
    edgecache_bytes b = {NULL, 0};
    CHECK_STATUS(edgecache_group_get(g, LIT("k"), EDGECACHE_WAIT_FOREVER, &b, NULL), EDGECACHE_CLOSED);
    CHECK(atomic_load(&p.released) == 0);
    edgecache_group_free(g);
    CHECK(atomic_load(&p.released) == 1);
}

static void test_get_cached_and_call_data(void) {
    struct probe p;
    probe_init(&p, PROBE_VALUE);
    edgecache_group *g = new_group("test_group/get_cached", 1 << 20, 0, &p);
    edgecache_bytes b = {NULL, 0};
    /* A miss loads nothing and counts nothing. */
    CHECK_STATUS(edgecache_group_get_cached(g, LIT("k"), &b), EDGECACHE_NOT_FOUND);
    CHECK(b.data == NULL && atomic_load(&p.calls) == 0);
    CHECK(group_gets(g) == 0);

    /* The leading get's call_data reaches the getter through its sink. */
    int marker = 0;
    edgecache_error *err = NULL;
    CHECK_OK(edgecache_group_get_with(g, LIT("k"), EDGECACHE_WAIT_FOREVER, NULL, &marker, &b, &err));
    CHECK(err == NULL);
    CHECK_BYTES_LIT(b, "v:k");
    edgecache_bytes_free(b);
    CHECK(p.seen_call_data == &marker);
    /* A plain get passes none, even on a thread that used call_data before. */
    expect_get(g, LIT("other"), "v:other");
    CHECK(p.seen_call_data == NULL);
    CHECK(edgecache_sink_call_data(NULL) == NULL);

    /* Now a hit: answered and counted as get does. */
    CHECK_OK(edgecache_group_get_cached(g, LIT("k"), &b));
    CHECK_BYTES_LIT(b, "v:k");
    edgecache_bytes_free(b);
    edgecache_group_stats st;
    CHECK_OK(edgecache_group_get_stats(g, &st));
    CHECK(st.gets == 3 && st.cache_hits == 1 && st.loads == 2);
    CHECK(atomic_load(&p.calls) == 2);

    /* Bad arguments. */
    CHECK_STATUS(edgecache_group_get_cached(NULL, LIT("k"), &b), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_group_get_cached(g, LIT("k"), NULL), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_group_get_with(g, NULL, 3, 0, NULL, NULL, &b, NULL), EDGECACHE_NULL_ARGUMENT);
    CHECK_OK(edgecache_group_close(g));
    CHECK_STATUS(edgecache_group_get_cached(g, LIT("k"), &b), EDGECACHE_NOT_FOUND);
    CHECK_STATUS(edgecache_group_get_with(g, LIT("k"), 0, NULL, NULL, &b, NULL), EDGECACHE_CLOSED);
    edgecache_group_free(g);
    CHECK(atomic_load(&p.released) == 1);
}

struct poller {
    atomic_int calls;
    int stop_after; /* return true from this call on (0: never) */
};

static bool count_poll(void *call_data) {
    struct poller *pl = call_data;
    int n = atomic_fetch_add(&pl->calls, 1) + 1;
    return pl->stop_after > 0 && n >= pl->stop_after;
}

static void test_get_with_poll_cancels_and_times_out(void) {
    struct probe p;
    probe_init(&p, PROBE_VALUE);
    p.block = true;
    edgecache_group *g = new_group("test_group/poll", 1 << 20, 0, &p);
    struct bg_get leader = {g, "slow", EDGECACHE_WAIT_FOREVER, EDGECACHE_PANIC, {NULL, 0}};
    pthread_t t;
    CHECK_PT(pthread_create(&t, NULL, bg_get_run, &leader));
    wait_entered(&p);

    /* The poll asks to stop on its third call: the waiter gives up. */
    struct poller pl = {0};
    pl.stop_after = 3;
    edgecache_bytes b = {NULL, 0};
    edgecache_error *err = NULL;
    CHECK_STATUS(edgecache_group_get_with(g, LIT("slow"), EDGECACHE_WAIT_FOREVER, count_poll, &pl, &b, &err),
                 EDGECACHE_CANCELLED);
    CHECK(atomic_load(&pl.calls) == 3);
    CHECK(b.data == NULL && err != NULL);
    CHECK_STATUS(edgecache_error_status(err), EDGECACHE_CANCELLED);
    edgecache_error_free(err);

    /* A poll that never stops: the timeout still applies. */
    struct poller never = {0};
    err = NULL;
    CHECK_STATUS(edgecache_group_get_with(g, LIT("slow"), 30, count_poll, &never, &b, &err), EDGECACHE_TIMEOUT);
    CHECK(err != NULL);
    CHECK_STATUS(edgecache_error_status(err), EDGECACHE_TIMEOUT);
    edgecache_error_free(err);
    CHECK(atomic_load(&p.calls) == 1);

    /* The load went on; its caller gets the value, and so does the next get. */
    atomic_store(&p.go, true);
    CHECK_PT(pthread_join(t, NULL));
    CHECK_OK(leader.status);
    CHECK_BYTES_LIT(leader.value, "v:slow");
    edgecache_bytes_free(leader.value);
    struct poller unused = {0};
    CHECK_OK(edgecache_group_get_with(g, LIT("slow"), 0, count_poll, &unused, &b, NULL));
    CHECK_BYTES_LIT(b, "v:slow");
    edgecache_bytes_free(b);
    CHECK(atomic_load(&unused.calls) == 0); /* a hit never polls */
    CHECK(atomic_load(&p.calls) == 1);
    end_group(g, &p);
}

int main(void) {
    printf("test_group\n");
    RUN(test_get_loads_once_and_caches);
    RUN(test_name_and_lookup);
    RUN(test_remove_reloads);
    RUN(test_ttl);
    RUN(test_zero_budget_loads_every_time);
    RUN(test_oversized_value_returned_not_kept);
    RUN(test_sink_second_set_replaces);
    RUN(test_getter_reenters);
    RUN(test_release_after_close_and_all_handles);
    RUN(test_duplicate_group_does_not_release);
    RUN(test_getter_error_code);
    RUN(test_error_outlives_group);
    RUN(test_32_threads_one_key);
    RUN(test_shared_error_released_once);
    RUN(test_waiter_timeout);
    RUN(test_close_during_load);
    RUN(test_get_cached_and_call_data);
    RUN(test_get_with_poll_cancels_and_times_out);
    printf("test_group: all passed\n");
    return 0;
}
