/*
 * Bad input through the C ABI: NULL for each pointer argument of each
 * function, NULL with a nonzero length, (NULL, 0) as the empty slice,
 * invalid enum values and sizes, misbehaving getters, buffers too small,
 * and a Rust panic inside the boundary (edgecache_test_panic, built with
 * the test-hooks feature and -DEDGECACHE_TEST_HOOKS).
 *
 * After each bad call the structure it touched must keep working: stored
 * values are still there and a new set/get succeeds.
 */
#include "test_common.h"

#ifndef EDGECACHE_TEST_HOOKS
#error "build with -DEDGECACHE_TEST_HOOKS against a library built with --features test-hooks"
#endif

static const uint8_t some_bytes[8] = {'b', 'y', 't', 'e', 's', '!', '!', '!'};

/* ---- the "still works" checks ---- */

static void cache_intact(const edgecache_cache *c) {
    static unsigned n;
    edgecache_bytes b = {NULL, 0};
    CHECK_OK(edgecache_cache_get(c, LIT("sentinel"), &b));
    CHECK_BYTES_LIT(b, "kept");
    edgecache_bytes_free(b);
    char key[32];
    snprintf(key, sizeof key, "fresh-%u", n++);
    CHECK_OK(edgecache_cache_set(c, STR(key), LIT("fresh value"), 0, NULL));
    CHECK_OK(edgecache_cache_get(c, STR(key), &b));
    CHECK_BYTES_LIT(b, "fresh value");
    edgecache_bytes_free(b);
}

struct getter_state {
    atomic_int calls;
    atomic_int errors_released;
    atomic_int released;
    atomic_uint_fast64_t last_code;
};

static struct getter_state gs;

static void release_data(void *user_data) {
    struct getter_state *s = user_data;
    atomic_fetch_add(&s->released, 1);
}

static void release_code(void *user_data, uint64_t code) {
    struct getter_state *s = user_data;
    atomic_store(&s->last_code, code);
    atomic_fetch_add(&s->errors_released, 1);
}

/*
 * One getter, behaviour chosen by the key:
 *   "err:..."      sets an error (code 77, message "bad key") and returns 1
 *   "rc:..."       returns -7 without setting anything
 *   "zero:..."     returns 0 without setting a value
 *   "errzero:..."  sets an error but returns 0
 *   "valrc:..."    sets a value but returns 3
 *   "nullarg:..."  tries NULL with a length on the sink, then sets a value
 *   anything else  "v:" + key
 */
static bool has_prefix(const uint8_t *key, size_t key_len, const char *prefix) {
    size_t n = strlen(prefix);
    return key_len >= n && memcmp(key, prefix, n) == 0;
}

static int32_t picky_getter(void *user_data, const uint8_t *key, size_t key_len, edgecache_sink *sink) {
    struct getter_state *s = user_data;
    atomic_fetch_add(&s->calls, 1);
    if (has_prefix(key, key_len, "err:")) {
        CHECK_OK(edgecache_sink_set_error(sink, 77, LIT("bad key")));
        return 1;
    }
    if (has_prefix(key, key_len, "rc:")) return -7;
    if (has_prefix(key, key_len, "zero:")) return 0;
    if (has_prefix(key, key_len, "errzero:")) {
        CHECK_OK(edgecache_sink_set_error(sink, 78, LIT("set but returned 0")));
        return 0;
    }
    if (has_prefix(key, key_len, "valrc:")) {
        CHECK_OK(edgecache_sink_set_bytes(sink, LIT("ignored")));
        return 3;
    }
    if (has_prefix(key, key_len, "nullarg:")) {
        CHECK_STATUS(edgecache_sink_set_bytes(sink, NULL, 5), EDGECACHE_NULL_ARGUMENT);
        CHECK_STATUS(edgecache_sink_set_error(sink, 1, NULL, 5), EDGECACHE_NULL_ARGUMENT);
        CHECK_STATUS(edgecache_sink_set_bytes(NULL, LIT("x")), EDGECACHE_NULL_ARGUMENT);
        CHECK_STATUS(edgecache_sink_set_error(NULL, 1, LIT("x")), EDGECACHE_NULL_ARGUMENT);
        CHECK_OK(edgecache_sink_set_bytes(sink, LIT("survived")));
        return 0;
    }
    uint8_t buf[128];
    CHECK(key_len + 2 <= sizeof buf);
    buf[0] = 'v';
    buf[1] = ':';
    if (key_len) memcpy(buf + 2, key, key_len);
    CHECK_OK(edgecache_sink_set_bytes(sink, buf, key_len + 2));
    return 0;
}

static void group_intact(const edgecache_group *g) {
    static unsigned n;
    int calls = atomic_load(&gs.calls);
    edgecache_bytes b = {NULL, 0};
    CHECK_OK(edgecache_group_get(g, LIT("sentinel"), EDGECACHE_WAIT_FOREVER, &b, NULL));
    CHECK_BYTES_LIT(b, "v:sentinel");
    edgecache_bytes_free(b);
    CHECK(atomic_load(&gs.calls) == calls); /* still cached */
    char key[32];
    snprintf(key, sizeof key, "fresh-%u", n++);
    CHECK_OK(edgecache_group_get(g, STR(key), EDGECACHE_WAIT_FOREVER, &b, NULL));
    CHECK(b.len == strlen(key) + 2 && memcmp(b.data + 2, key, strlen(key)) == 0);
    edgecache_bytes_free(b);
    CHECK(atomic_load(&gs.calls) == calls + 1);
}

/* ---- status messages and the last error ---- */

static void test_status_messages(void) {
    for (uint32_t s = 0; s <= EDGECACHE_PENDING; s++) {
        char buf[128];
        size_t len = 0;
        CHECK_OK(edgecache_status_message(s, buf, sizeof buf, &len));
        CHECKF(len > 0 && len == strlen(buf), "status %u: \"%s\" len %zu", s, buf, len);
        CHECK_OK(edgecache_status_message(s, buf, sizeof buf, NULL));
    }
    /* Unknown values are refused, not read out of bounds. */
    const uint32_t bad[] = {EDGECACHE_PENDING + 1, 20, 100, 0x7FFFFFFFu, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[128];
        size_t len = 0;
        CHECK_STATUS(edgecache_status_message(bad[i], buf, sizeof buf, &len), EDGECACHE_INVALID_ARGUMENT);
    }
    /* Buffer too small: needed length written, nothing copied. */
    char buf[16];
    size_t len = 0;
    memset(buf, 'x', sizeof buf);
    CHECK_STATUS(edgecache_status_message(EDGECACHE_NOT_FOUND, buf, 3, &len), EDGECACHE_BUFFER_TOO_SMALL);
    CHECK(len == strlen("not found"));
    CHECK(buf[0] == 'x' && buf[3] == 'x');
    /* Exactly the length: no room for the NUL. */
    CHECK_STATUS(edgecache_status_message(EDGECACHE_NOT_FOUND, buf, len, &len), EDGECACHE_BUFFER_TOO_SMALL);
    CHECK(buf[0] == 'x');
    CHECK_OK(edgecache_status_message(EDGECACHE_NOT_FOUND, buf, len + 1, &len));
    CHECK(strcmp(buf, "not found") == 0);
    /* NULL with capacity 0 asks for the length; NULL with a capacity is an error. */
    len = 0;
    CHECK_STATUS(edgecache_status_message(EDGECACHE_OK, NULL, 0, &len), EDGECACHE_BUFFER_TOO_SMALL);
    CHECK(len == strlen("ok"));
    CHECK_STATUS(edgecache_status_message(EDGECACHE_OK, NULL, 10, &len), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_status_message(EDGECACHE_OK, NULL, 0, NULL), EDGECACHE_BUFFER_TOO_SMALL);
    /* Capacity 0 with a real buffer: too small, nothing written. */
    buf[0] = 'x';
    CHECK_STATUS(edgecache_status_message(EDGECACHE_OK, buf, 0, NULL), EDGECACHE_BUFFER_TOO_SMALL);
    CHECK(buf[0] == 'x');
}

static void *last_error_on_new_thread(void *arg) {
    (void)arg;
    char buf[8] = "xxxxxxx";
    size_t len = 99;
    CHECK_OK(edgecache_last_error_message(buf, sizeof buf, &len));
    CHECK(len == 0 && buf[0] == '\0');
    CHECK_OK(edgecache_last_error_message(buf, 1, NULL));
    return NULL;
}

static void test_last_error_message(void) {
    edgecache_cache *c = NULL;
    CHECK_STATUS(edgecache_cache_new(-5, &c), EDGECACHE_INVALID_ARGUMENT);
    char buf[128];
    size_t len = 0;
    CHECK_OK(edgecache_last_error_message(buf, sizeof buf, &len));
    CHECK(len == strlen(buf) && len > 0);
    CHECKF(strstr(buf, "-5") != NULL, "\"%s\"", buf);
    /* Buffer rules as edgecache_status_message. */
    size_t need = len;
    char small[4];
    memset(small, 'x', sizeof small);
    len = 0;
    CHECK_STATUS(edgecache_last_error_message(small, sizeof small, &len), EDGECACHE_BUFFER_TOO_SMALL);
    CHECK(len == need);
    CHECK(small[0] == 'x');
    len = 0;
    CHECK_STATUS(edgecache_last_error_message(NULL, 0, &len), EDGECACHE_BUFFER_TOO_SMALL);
    CHECK(len == need);
    CHECK_STATUS(edgecache_last_error_message(NULL, 1, NULL), EDGECACHE_NULL_ARGUMENT);
    /* Reading it does not clear it. */
    CHECK_OK(edgecache_last_error_message(buf, sizeof buf, &len));
    CHECK(len == need);
    /* Each thread has its own: a fresh thread has none. */
    pthread_t t;
    CHECK_PT(pthread_create(&t, NULL, last_error_on_new_thread, NULL));
    CHECK_PT(pthread_join(t, NULL));
    CHECK_OK(edgecache_last_error_message(buf, sizeof buf, &len));
    CHECK(len == need);
}

/* ---- the panic boundary ---- */

static void test_panic_becomes_status(void) {
    edgecache_cache *c = NULL;
    CHECK_OK(edgecache_cache_new(1 << 16, &c));
    CHECK_OK(edgecache_cache_set(c, LIT("sentinel"), LIT("kept"), 0, NULL));
    CHECK_STATUS(edgecache_test_panic(), EDGECACHE_PANIC);
    char buf[256];
    tc_last_error(buf, sizeof buf);
    CHECKF(strstr(buf, "panic") != NULL, "last error after a panic: \"%s\"", buf);
    CHECKF(strstr(buf, "edgecache_test_panic was called") != NULL, "last error: \"%s\"", buf);
    cache_intact(c);
    /* Again, and the library is still fine. */
    CHECK_STATUS(edgecache_test_panic(), EDGECACHE_PANIC);
    cache_intact(c);
    edgecache_cache_free(c);
}

/* ---- Cache ---- */

static void test_cache_bad_input(void) {
    edgecache_cache *sentinel_ptr = (edgecache_cache *)(uintptr_t)&gs;
    edgecache_cache *c = sentinel_ptr;
    CHECK_STATUS(edgecache_cache_new(1024, NULL), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_cache_new(-1, &c), EDGECACHE_INVALID_ARGUMENT);
    CHECK(c == sentinel_ptr); /* out untouched on failure */
    CHECK_STATUS(edgecache_cache_new(INT64_MIN, &c), EDGECACHE_INVALID_ARGUMENT);
    CHECK(c == sentinel_ptr);
    CHECK_OK(edgecache_cache_new(INT64_MAX, &c)); /* a huge budget is not allocated up front */
    edgecache_cache_free(c);
    CHECK_OK(edgecache_cache_new(1 << 16, &c));
    CHECK_OK(edgecache_cache_set(c, LIT("sentinel"), LIT("kept"), 0, NULL));

    /* set */
    bool stored = false;
    CHECK_STATUS(edgecache_cache_set(NULL, LIT("k"), LIT("v"), 0, &stored), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_cache_set(c, NULL, 3, LIT("v"), 0, &stored), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_cache_set(c, LIT("k"), NULL, 3, 0, &stored), EDGECACHE_NULL_ARGUMENT);
    CHECK(!stored); /* out_stored untouched on failure */
    char msg[128];
    CHECKF(strstr(tc_last_error(msg, sizeof msg), "value") != NULL, "\"%s\"", msg);
    cache_intact(c);
    edgecache_bytes b = {NULL, 0};
    CHECK_STATUS(edgecache_cache_get(c, LIT("k"), &b), EDGECACHE_NOT_FOUND); /* nothing stored by the bad sets */
    /* A length that no object can have is refused before the pointer is read. */
    CHECK_STATUS(edgecache_cache_set(c, some_bytes, SIZE_MAX, LIT("v"), 0, NULL), EDGECACHE_INVALID_ARGUMENT);
    cache_intact(c);

    /* get */
    static const uint8_t marker = 0;
    b = (edgecache_bytes){&marker, 5};
    CHECK_STATUS(edgecache_cache_get(NULL, LIT("sentinel"), &b), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_cache_get(c, NULL, 8, &b), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_cache_get(c, LIT("sentinel"), NULL), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_cache_get(c, some_bytes, SIZE_MAX, &b), EDGECACHE_INVALID_ARGUMENT);
    CHECK(b.data == &marker && b.len == 5);
    cache_intact(c);

    /* remove */
    bool removed = true;
    CHECK_STATUS(edgecache_cache_remove(NULL, LIT("sentinel"), &removed), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_cache_remove(c, NULL, 8, &removed), EDGECACHE_NULL_ARGUMENT);
    CHECK(removed);
    cache_intact(c);

    /* stats, clear */
    edgecache_cache_stats s;
    CHECK_STATUS(edgecache_cache_get_stats(NULL, &s), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_cache_get_stats(c, NULL), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_cache_clear(NULL), EDGECACHE_NULL_ARGUMENT);
    cache_intact(c);

    /* (NULL, 0) is the empty key and the empty value, not an error. */
    CHECK_OK(edgecache_cache_set(c, NULL, 0, NULL, 0, 0, &stored));
    CHECK(stored);
    CHECK_OK(edgecache_cache_get(c, NULL, 0, &b));
    CHECK(b.data != NULL && b.len == 0);
    edgecache_bytes_free(b);
    CHECK_OK(edgecache_cache_remove(c, NULL, 0, &removed));
    CHECK(removed);
    cache_intact(c);

    /* _free functions: NULL is a no-op. */
    edgecache_cache_free(NULL);
    edgecache_bytes_free((edgecache_bytes){NULL, 0});
    edgecache_bytes_free((edgecache_bytes){NULL, 17});
    cache_intact(c);
    edgecache_cache_free(c);
}

/* ---- Flight ---- */

static void test_flight_bad_input(void) {
    edgecache_flight *f = NULL;
    CHECK_STATUS(edgecache_flight_new(NULL), EDGECACHE_NULL_ARGUMENT);
    CHECK_OK(edgecache_flight_new(&f));

    edgecache_ticket *t = NULL;
    bool leader = false;
    CHECK_STATUS(edgecache_flight_begin(NULL, LIT("k"), &t, &leader), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_flight_begin(f, NULL, 1, &t, &leader), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_flight_begin(f, LIT("k"), NULL, &leader), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_flight_begin(f, LIT("k"), &t, NULL), EDGECACHE_NULL_ARGUMENT);
    CHECK(t == NULL && !leader);
    /* None of those began a load: the next caller leads. */
    CHECK_OK(edgecache_flight_begin(f, LIT("k"), &t, &leader));
    CHECK(leader);
    edgecache_ticket *w = NULL;
    CHECK_OK(edgecache_flight_begin(f, LIT("k"), &w, &leader));
    CHECK(!leader);

    bool forgot = true;
    CHECK_STATUS(edgecache_flight_forget(NULL, LIT("k"), &forgot), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_flight_forget(f, NULL, 1, &forgot), EDGECACHE_NULL_ARGUMENT);
    CHECK(forgot);
    CHECK_OK(edgecache_flight_forget(f, NULL, 0, &forgot)); /* the empty key: nothing in flight */
    CHECK(!forgot);

    /* complete / fail / wait with bad arguments: the tickets keep their roles. */
    bool shared = false;
    CHECK_STATUS(edgecache_ticket_complete(NULL, LIT("v"), &shared), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_ticket_complete(t, NULL, 1, &shared), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_ticket_fail(NULL, 1, LIT("m")), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_ticket_fail(t, 1, NULL, 1), EDGECACHE_NULL_ARGUMENT);
    edgecache_bytes b = {NULL, 0};
    edgecache_error *err = NULL;
    CHECK_STATUS(edgecache_ticket_wait(NULL, 0, &b, &err), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_ticket_wait(w, 0, NULL, &err), EDGECACHE_NULL_ARGUMENT);
    CHECK(err == NULL);
    CHECK_STATUS(edgecache_ticket_wait(w, 0, &b, NULL), EDGECACHE_TIMEOUT); /* out_err may be NULL */
    CHECK_OK(edgecache_ticket_complete(t, LIT("after bad calls"), &shared));
    CHECK(shared);
    CHECK_OK(edgecache_ticket_wait(w, 0, &b, &err));
    CHECK(err == NULL);
    CHECK_BYTES_LIT(b, "after bad calls");
    edgecache_bytes_free(b);
    edgecache_ticket_free(t);
    edgecache_ticket_free(w);

    /* (NULL, 0) message on fail: an empty message. */
    CHECK_OK(edgecache_flight_begin(f, LIT("k"), &t, &leader));
    CHECK(leader);
    CHECK_OK(edgecache_flight_begin(f, LIT("k"), &w, &leader));
    CHECK_OK(edgecache_ticket_fail(t, 5, NULL, 0));
    CHECK_STATUS(edgecache_ticket_wait(w, EDGECACHE_WAIT_FOREVER, &b, &err), EDGECACHE_GETTER_FAILED);
    CHECK(edgecache_error_code(err) == 5);
    char msg[8];
    size_t len = 99;
    CHECK_OK(edgecache_error_message(err, msg, sizeof msg, &len));
    CHECK(len == 0 && msg[0] == '\0');

    /* edgecache_error with bad arguments. */
    CHECK_STATUS(edgecache_error_status(NULL), EDGECACHE_NULL_ARGUMENT);
    CHECK(edgecache_error_code(NULL) == 0);
    CHECK_STATUS(edgecache_error_message(NULL, msg, sizeof msg, &len), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_error_message(err, NULL, 4, &len), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_error_message(err, NULL, 0, NULL), EDGECACHE_BUFFER_TOO_SMALL);
    CHECK_STATUS(edgecache_error_status(err), EDGECACHE_GETTER_FAILED); /* unchanged */
    edgecache_error_free(err);
    edgecache_error_free(NULL);
    edgecache_ticket_free(t);
    edgecache_ticket_free(w);
    edgecache_ticket_free(NULL);

    /* The flight still works. */
    CHECK_OK(edgecache_flight_begin(f, LIT("k"), &t, &leader));
    CHECK(leader);
    CHECK_OK(edgecache_ticket_complete(t, LIT("v"), NULL));
    edgecache_ticket_free(t);
    edgecache_flight_free(NULL);
    edgecache_flight_free(f);
}

/* ---- Group ---- */

static void test_group_new_bad_input(void) {
    static const char name[] = "test_errors/group_new";
    edgecache_group *sentinel_ptr = (edgecache_group *)(uintptr_t)&gs;
    edgecache_group *g = sentinel_ptr;
    static struct getter_state local; /* zero-initialised */
    CHECK_STATUS(edgecache_group_new(STR(name), 1024, 0, picky_getter, &local, release_data, release_code, NULL),
                 EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_group_new(NULL, 5, 1024, 0, picky_getter, &local, release_data, release_code, &g),
                 EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_group_new(STR(name), 1024, 0, NULL, &local, release_data, release_code, &g),
                 EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_group_new(STR(name), -1, 0, picky_getter, &local, release_data, release_code, &g),
                 EDGECACHE_INVALID_ARGUMENT);
    CHECK_STATUS(edgecache_group_new(STR(name), INT64_MIN, 0, picky_getter, &local, release_data, release_code, &g),
                 EDGECACHE_INVALID_ARGUMENT);
    const uint8_t not_utf8[] = {'g', 0xC3, 0x28, 0xFF};
    CHECK_STATUS(edgecache_group_new(not_utf8, sizeof not_utf8, 1024, 0, picky_getter, &local, release_data,
                                     release_code, &g),
                 EDGECACHE_INVALID_ARGUMENT);
    char msg[128];
    CHECKF(strstr(tc_last_error(msg, sizeof msg), "UTF-8") != NULL, "\"%s\"", msg);
    CHECK(g == sentinel_ptr);
    /* No failed group_new releases the caller's data or registers the name. */
    CHECK(atomic_load(&local.released) == 0);
    edgecache_group *found = NULL;
    CHECK_STATUS(edgecache_group_lookup(STR(name), &found), EDGECACHE_NOT_FOUND);
    CHECK_OK(edgecache_group_new(STR(name), 1024, 0, picky_getter, &local, release_data, release_code, &g));
    CHECK(g != sentinel_ptr);
    CHECK_OK(edgecache_group_close(g));
    edgecache_group_free(g);
    CHECK(atomic_load(&local.released) == 1);

    /* (NULL, 0) is the empty name, a valid one. */
    CHECK_OK(edgecache_group_new(NULL, 0, 1024, 0, picky_getter, &local, NULL, NULL, &g));
    CHECK_OK(edgecache_group_lookup(NULL, 0, &found));
    size_t len = 99;
    CHECK_OK(edgecache_group_name(found, msg, sizeof msg, &len));
    CHECK(len == 0 && msg[0] == '\0');
    edgecache_group_free(found);
    CHECK_OK(edgecache_group_close(g));
    edgecache_group_free(g);
}

static void test_group_bad_input(void) {
    static const char name[] = "test_errors/group";
    edgecache_group *g = NULL;
    CHECK_OK(edgecache_group_new(STR(name), 1 << 16, 0, picky_getter, &gs, release_data, release_code, &g));
    edgecache_bytes b = {NULL, 0};
    CHECK_OK(edgecache_group_get(g, LIT("sentinel"), EDGECACHE_WAIT_FOREVER, &b, NULL));
    edgecache_bytes_free(b);
    group_intact(g);
    int calls = atomic_load(&gs.calls);

    /* get */
    edgecache_error *err = NULL;
    static const uint8_t marker = 0;
    b = (edgecache_bytes){&marker, 3};
    CHECK_STATUS(edgecache_group_get(NULL, LIT("k"), EDGECACHE_WAIT_FOREVER, &b, &err), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_group_get(g, NULL, 1, EDGECACHE_WAIT_FOREVER, &b, &err), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_group_get(g, LIT("k"), EDGECACHE_WAIT_FOREVER, NULL, &err), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_group_get(g, some_bytes, SIZE_MAX, EDGECACHE_WAIT_FOREVER, &b, &err),
                 EDGECACHE_INVALID_ARGUMENT);
    CHECK(err == NULL); /* argument errors do not make an edgecache_error */
    CHECK(b.data == &marker && b.len == 3);
    CHECK(atomic_load(&gs.calls) == calls); /* the getter never ran */
    group_intact(g);

    /* lookup */
    edgecache_group *found = NULL;
    CHECK_STATUS(edgecache_group_lookup(NULL, 4, &found), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_group_lookup(STR(name), NULL), EDGECACHE_NULL_ARGUMENT);
    const uint8_t not_utf8[] = {0xFF, 0xFE};
    CHECK_STATUS(edgecache_group_lookup(not_utf8, sizeof not_utf8, &found), EDGECACHE_INVALID_ARGUMENT);
    CHECK(found == NULL);

    /* remove */
    bool removed = false;
    CHECK_STATUS(edgecache_group_remove(NULL, LIT("sentinel"), &removed), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_group_remove(g, NULL, 8, &removed), EDGECACHE_NULL_ARGUMENT);
    CHECK_OK(edgecache_group_remove(g, NULL, 0, &removed)); /* the empty key was never loaded */
    CHECK(!removed);
    group_intact(g);

    /* stats */
    edgecache_group_stats gs_out;
    edgecache_cache_stats cs;
    CHECK_STATUS(edgecache_group_get_stats(NULL, &gs_out), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_group_get_stats(g, NULL), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_group_get_cache_stats(NULL, EDGECACHE_MAIN_CACHE, &cs), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_group_get_cache_stats(g, EDGECACHE_MAIN_CACHE, NULL), EDGECACHE_NULL_ARGUMENT);
    const uint32_t bad_which[] = {0, 3, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof bad_which / sizeof bad_which[0]; i++) {
        memset(&cs, 0xAB, sizeof cs);
        CHECK_STATUS(edgecache_group_get_cache_stats(g, bad_which[i], &cs), EDGECACHE_INVALID_ARGUMENT);
        CHECK(cs.items == 0xABABABABABABABABull); /* untouched */
        char msg[128];
        CHECKF(strstr(tc_last_error(msg, sizeof msg), "cache type") != NULL, "\"%s\"", msg);
    }
    CHECK_OK(edgecache_group_get_cache_stats(g, EDGECACHE_MAIN_CACHE, &cs));
    CHECK(cs.items >= 1);
    group_intact(g);

    /* name */
    char buf[64];
    size_t len = 0;
    CHECK_STATUS(edgecache_group_name(NULL, buf, sizeof buf, &len), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_group_name(g, NULL, 8, &len), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_group_name(g, NULL, 0, NULL), EDGECACHE_BUFFER_TOO_SMALL);
    CHECK_OK(edgecache_group_name(g, buf, sizeof buf, NULL));
    CHECK(strcmp(buf, name) == 0);

    /* close, free */
    CHECK_STATUS(edgecache_group_close(NULL), EDGECACHE_NULL_ARGUMENT);
    edgecache_group_free(NULL);
    group_intact(g);
    CHECK(atomic_load(&gs.released) == 0);

    /* Sink misuse outside a getter. */
    CHECK_STATUS(edgecache_sink_set_bytes(NULL, LIT("x")), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_sink_set_error(NULL, 1, LIT("x")), EDGECACHE_NULL_ARGUMENT);
    group_intact(g);

    CHECK_OK(edgecache_group_close(g));
    edgecache_group_free(g);
    CHECK(atomic_load(&gs.released) == 1);
}

static void expect_getter_failure(const edgecache_group *g, const char *key, uint64_t code, const char *message) {
    edgecache_bytes b = {NULL, 0};
    edgecache_error *err = NULL;
    CHECK_STATUS(edgecache_group_get(g, STR(key), EDGECACHE_WAIT_FOREVER, &b, &err), EDGECACHE_GETTER_FAILED);
    CHECK(b.data == NULL);
    CHECK(err != NULL);
    CHECK_STATUS(edgecache_error_status(err), EDGECACHE_GETTER_FAILED);
    CHECKF(edgecache_error_code(err) == code, "%s: code %" PRIu64 ", expected %" PRIu64, key,
           edgecache_error_code(err), code);
    char msg[128], last[128];
    tc_error_message(err, msg, sizeof msg);
    CHECKF(strcmp(msg, message) == 0, "%s: message \"%s\", expected \"%s\"", key, msg, message);
    CHECKF(strcmp(tc_last_error(last, sizeof last), message) == 0, "%s: last error \"%s\"", key, last);
    edgecache_error_free(err);
}

static void test_misbehaving_getters(void) {
    edgecache_group *g = NULL;
    CHECK_OK(edgecache_group_new(LIT("test_errors/getters"), 1 << 16, 0, picky_getter, &gs, release_data,
                                 release_code, &g));
    edgecache_bytes b = {NULL, 0};
    CHECK_OK(edgecache_group_get(g, LIT("sentinel"), EDGECACHE_WAIT_FOREVER, &b, NULL));
    edgecache_bytes_free(b);

    int released = atomic_load(&gs.errors_released);
    /* A getter that reports an error. */
    expect_getter_failure(g, "err:1", 77, "bad key");
    CHECK(atomic_load(&gs.errors_released) == released + 1);
    CHECK(atomic_load(&gs.last_code) == 77);
    group_intact(g);

    /* Nonzero without an error: code 0 (the getter set none), the number in
     * the message, and release_error is not called for it. */
    released = atomic_load(&gs.errors_released);
    expect_getter_failure(g, "rc:1", 0, "the getter returned -7 without setting an error");
    group_intact(g);

    /* Zero without a value: EDGECACHE_NO_VALUE (the contract's "a getter
     * that sets nothing"), no code and no release_error call. */
    {
        edgecache_bytes nb = {NULL, 0};
        edgecache_error *nerr = NULL;
        CHECK_STATUS(edgecache_group_get(g, LIT("zero:1"), EDGECACHE_WAIT_FOREVER, &nb, &nerr), EDGECACHE_NO_VALUE);
        CHECK(nb.data == NULL && nerr != NULL);
        CHECK_STATUS(edgecache_error_status(nerr), EDGECACHE_NO_VALUE);
        CHECK(edgecache_error_code(nerr) == 0);
        edgecache_error_free(nerr);
    }
    CHECK(atomic_load(&gs.errors_released) == released);
    group_intact(g);

    /* An error set is never lost, whatever the return value. */
    expect_getter_failure(g, "errzero:1", 78, "set but returned 0");
    group_intact(g);

    /* A value with a nonzero return is a failure (the value is dropped). */
    expect_getter_failure(g, "valrc:1", 0, "the getter returned 3 without setting an error");
    group_intact(g);

    /* Bad arguments to the sink inside the getter, then a good value. */
    edgecache_bytes v = {NULL, 0};
    CHECK_OK(edgecache_group_get(g, LIT("nullarg:1"), EDGECACHE_WAIT_FOREVER, &v, NULL));
    CHECK_BYTES_LIT(v, "survived");
    edgecache_bytes_free(v);
    group_intact(g);

    /* None of the failures was cached. */
    edgecache_group_stats s;
    CHECK_OK(edgecache_group_get_stats(g, &s));
    CHECK(s.local_load_errs == 5);
    int calls = atomic_load(&gs.calls);
    expect_getter_failure(g, "err:1", 77, "bad key");
    CHECK(atomic_load(&gs.calls) == calls + 1);

    int rel = atomic_load(&gs.released);
    CHECK_OK(edgecache_group_close(g));
    edgecache_group_free(g);
    CHECK(atomic_load(&gs.released) == rel + 1);
}

int main(void) {
    printf("test_errors\n");
    RUN(test_status_messages);
    RUN(test_last_error_message);
    RUN(test_panic_becomes_status);
    RUN(test_cache_bad_input);
    RUN(test_flight_bad_input);
    RUN(test_group_new_bad_input);
    RUN(test_group_bad_input);
    RUN(test_misbehaving_getters);
    printf("test_errors: all passed\n");
    return 0;
}
