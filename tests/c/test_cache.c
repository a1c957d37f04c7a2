/*
 * edgecache_cache through the C ABI: set/get/remove/clear/stats, the byte
 * budget and LRU eviction, TTL, values outliving their entry and cache,
 * concurrent use; plus edgecache_version and edgecache_bytes.
 */
#include "test_common.h"

static edgecache_cache *new_cache(int64_t max_bytes) {
    edgecache_cache *c = NULL;
    CHECK_OK(edgecache_cache_new(max_bytes, &c));
    CHECK(c != NULL);
    return c;
}

static edgecache_cache_stats stats_of(const edgecache_cache *c) {
    edgecache_cache_stats s;
    memset(&s, 0xAB, sizeof s);
    CHECK_OK(edgecache_cache_get_stats(c, &s));
    return s;
}

static void expect_value(const edgecache_cache *c, const uint8_t *key, size_t key_len, const char *want) {
    edgecache_bytes b = {NULL, 0};
    CHECK_OK(edgecache_cache_get(c, key, key_len, &b));
    CHECK_BYTES(b, want, strlen(want));
    edgecache_bytes_free(b);
}

static void expect_miss(const edgecache_cache *c, const uint8_t *key, size_t key_len) {
    static const uint8_t marker = 0;
    edgecache_bytes b = {&marker, 12345};
    CHECK_STATUS(edgecache_cache_get(c, key, key_len, &b), EDGECACHE_NOT_FOUND);
    /* A miss leaves the out-parameter untouched. */
    CHECK(b.data == &marker && b.len == 12345);
}

static void test_version(void) {
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", EDGECACHE_VERSION_MAJOR, EDGECACHE_VERSION_MINOR,
             EDGECACHE_VERSION_PATCH);
    const char *got = edgecache_version();
    CHECK(got != NULL);
    CHECKF(strcmp(got, want) == 0, "edgecache_version() = \"%s\", header macros say \"%s\"", got, want);
    /* A static string: the same pointer every time. */
    CHECK(edgecache_version() == got);
}

static void test_set_get_remove(void) {
    edgecache_cache *c = new_cache(1 << 20);
    bool stored = false;
    CHECK_OK(edgecache_cache_set(c, LIT("alpha"), LIT("one"), 0, &stored));
    CHECK(stored);
    CHECK_OK(edgecache_cache_set(c, LIT("beta"), LIT("two"), 0, NULL));
    expect_value(c, LIT("alpha"), "one");
    expect_value(c, LIT("beta"), "two");
    expect_miss(c, LIT("gamma"));

    /* Keys are bytes, not strings: embedded NULs and prefixes are distinct. */
    const uint8_t k1[] = {'a', 0, 'b'};
    const uint8_t k2[] = {'a', 0};
    CHECK_OK(edgecache_cache_set(c, k1, sizeof k1, LIT("nul-b"), 0, NULL));
    CHECK_OK(edgecache_cache_set(c, k2, sizeof k2, LIT("nul"), 0, NULL));
    expect_value(c, k1, sizeof k1, "nul-b");
    expect_value(c, k2, sizeof k2, "nul");

    bool removed = false;
    CHECK_OK(edgecache_cache_remove(c, LIT("alpha"), &removed));
    CHECK(removed);
    expect_miss(c, LIT("alpha"));
    removed = true;
    CHECK_OK(edgecache_cache_remove(c, LIT("alpha"), &removed));
    CHECK(!removed);
    CHECK_OK(edgecache_cache_remove(c, LIT("beta"), NULL));
    expect_miss(c, LIT("beta"));

    edgecache_cache_free(c);
}

static void test_replace_counts_once(void) {
    edgecache_cache *c = new_cache(1 << 20);
    CHECK_OK(edgecache_cache_set(c, LIT("key"), LIT("short"), 0, NULL));
    edgecache_cache_stats s = stats_of(c);
    CHECK(s.items == 1 && s.bytes == 3 + 5);
    CHECK_OK(edgecache_cache_set(c, LIT("key"), LIT("a longer value"), 0, NULL));
    s = stats_of(c);
    CHECK(s.items == 1);
    CHECKF(s.bytes == 3 + 14, "bytes = %" PRIu64, s.bytes);
    expect_value(c, LIT("key"), "a longer value");
    edgecache_cache_free(c);
}

static void test_stats_and_clear(void) {
    edgecache_cache *c = new_cache(1 << 20);
    edgecache_cache_stats s = stats_of(c);
    CHECK(s.bytes == 0 && s.items == 0 && s.gets == 0 && s.hits == 0 && s.evictions == 0);
    CHECK_OK(edgecache_cache_set(c, LIT("k1"), LIT("v1"), 0, NULL));
    CHECK_OK(edgecache_cache_set(c, LIT("k2"), LIT("v22"), 0, NULL));
    expect_value(c, LIT("k1"), "v1");
    expect_value(c, LIT("k1"), "v1");
    expect_miss(c, LIT("nope"));
    s = stats_of(c);
    CHECK(s.items == 2);
    CHECK(s.bytes == 4 + 5);
    CHECK(s.gets == 3);
    CHECK(s.hits == 2);
    CHECK(s.evictions == 0);

    CHECK_OK(edgecache_cache_clear(c));
    s = stats_of(c);
    CHECK(s.items == 0 && s.bytes == 0);
    /* Other counters are kept across a clear. */
    CHECK(s.gets == 3 && s.hits == 2);
    expect_miss(c, LIT("k1"));
    /* Usable after a clear. */
    CHECK_OK(edgecache_cache_set(c, LIT("k1"), LIT("again"), 0, NULL));
    expect_value(c, LIT("k1"), "again");
    edgecache_cache_free(c);
}

static void test_lru_eviction(void) {
    /* 100 bytes, a single shard (small budgets get exact LRU order). Each
     * entry costs 4 (key) + 16 (value) = 20 bytes: five fit. */
    edgecache_cache *c = new_cache(100);
    const char *keys[] = {"k000", "k001", "k002", "k003", "k004", "k005", "k006"};
    for (int i = 0; i < 5; i++) {
        CHECK_OK(edgecache_cache_set(c, STR(keys[i]), LIT("0123456789abcdef"), 0, NULL));
    }
    edgecache_cache_stats s = stats_of(c);
    CHECK(s.items == 5 && s.bytes == 100 && s.evictions == 0);

    /* Touch k000 so k001 is the least recently used. */
    expect_value(c, STR(keys[0]), "0123456789abcdef");
    CHECK_OK(edgecache_cache_set(c, STR(keys[5]), LIT("0123456789abcdef"), 0, NULL));
    s = stats_of(c);
    CHECK(s.items == 5 && s.bytes == 100);
    CHECK(s.evictions == 1);
    expect_miss(c, STR(keys[1]));
    expect_value(c, STR(keys[0]), "0123456789abcdef");
    expect_value(c, STR(keys[5]), "0123456789abcdef");

    /* A bigger entry pushes out as many as needed. */
    CHECK_OK(edgecache_cache_set(c, STR(keys[6]), LIT("0123456789abcdef0123456789abcdef"), 0, NULL));
    s = stats_of(c);
    CHECKF(s.bytes <= 100, "bytes = %" PRIu64, s.bytes);
    expect_value(c, STR(keys[6]), "0123456789abcdef0123456789abcdef");
    edgecache_cache_free(c);
}

static void test_oversized_entry_not_kept(void) {
    edgecache_cache *c = new_cache(32);
    bool stored = false;
    CHECK_OK(edgecache_cache_set(c, LIT("key"), LIT("small"), 0, &stored));
    CHECK(stored);
    /* 3 + 40 > 32: not kept, not an error, and the older entry goes. */
    stored = true;
    CHECK_OK(edgecache_cache_set(c, LIT("key"), LIT("0123456789012345678901234567890123456789"), 0, &stored));
    CHECK(!stored);
    expect_miss(c, LIT("key"));
    edgecache_cache_stats s = stats_of(c);
    CHECK(s.items == 0 && s.bytes == 0);
    /* Exactly the budget fits. */
    CHECK_OK(edgecache_cache_set(c, LIT("key"), LIT("01234567890123456789012345678"), 0, &stored));
    CHECK(stored);
    edgecache_cache_free(c);
}

static void test_zero_budget_keeps_nothing(void) {
    edgecache_cache *c = new_cache(0);
    bool stored = true;
    CHECK_OK(edgecache_cache_set(c, LIT("k"), LIT("v"), 0, &stored));
    CHECK(!stored);
    expect_miss(c, LIT("k"));
    edgecache_cache_free(c);
}

static void test_ttl(void) {
    edgecache_cache *c = new_cache(1 << 20);
    CHECK_OK(edgecache_cache_set(c, LIT("long"), LIT("stays"), 3600u * 1000u, NULL));
    CHECK_OK(edgecache_cache_set(c, LIT("short"), LIT("goes"), 1, NULL));
    tc_sleep_ms(30);
    expect_value(c, LIT("long"), "stays");
    expect_miss(c, LIT("short"));
    /* Replacing with ttl 0 means no expiry. */
    CHECK_OK(edgecache_cache_set(c, LIT("short"), LIT("forever"), 0, NULL));
    tc_sleep_ms(5);
    expect_value(c, LIT("short"), "forever");
    edgecache_cache_free(c);
}

static void test_empty_key_and_value(void) {
    edgecache_cache *c = new_cache(1024);
    /* (NULL, 0) is the empty key; a non-NULL pointer with length 0 is the same key. */
    CHECK_OK(edgecache_cache_set(c, NULL, 0, LIT("for the empty key"), 0, NULL));
    expect_value(c, NULL, 0, "for the empty key");
    expect_value(c, (const uint8_t *)"ignored", 0, "for the empty key");

    /* An empty value comes back with len 0 and non-NULL data. */
    CHECK_OK(edgecache_cache_set(c, LIT("empty"), NULL, 0, 0, NULL));
    edgecache_bytes b = {NULL, 99};
    CHECK_OK(edgecache_cache_get(c, LIT("empty"), &b));
    CHECK(b.data != NULL);
    CHECK(b.len == 0);
    edgecache_bytes_free(b);
    edgecache_cache_stats s = stats_of(c);
    CHECK(s.items == 2 && s.bytes == 17 + 5);

    bool removed = false;
    CHECK_OK(edgecache_cache_remove(c, NULL, 0, &removed));
    CHECK(removed);
    expect_miss(c, NULL, 0);
    edgecache_cache_free(c);
}

static void test_values_outlive_entry_and_cache(void) {
    edgecache_cache *c = new_cache(1 << 20);
    CHECK_OK(edgecache_cache_set(c, LIT("a"), LIT("value of a"), 0, NULL));
    CHECK_OK(edgecache_cache_set(c, LIT("b"), LIT("value of b"), 0, NULL));
    edgecache_bytes a1 = {NULL, 0}, a2 = {NULL, 0}, b1 = {NULL, 0};
    CHECK_OK(edgecache_cache_get(c, LIT("a"), &a1));
    CHECK_OK(edgecache_cache_get(c, LIT("a"), &a2));
    CHECK_OK(edgecache_cache_get(c, LIT("b"), &b1));
    /* No copy: both reads share the cached bytes. */
    CHECK(a1.data == a2.data);

    /* Replace, remove and clear: what was handed out stays valid. */
    CHECK_OK(edgecache_cache_set(c, LIT("a"), LIT("new a"), 0, NULL));
    CHECK_BYTES_LIT(a1, "value of a");
    CHECK_OK(edgecache_cache_remove(c, LIT("a"), NULL));
    CHECK_OK(edgecache_cache_clear(c));
    CHECK_BYTES_LIT(a2, "value of a");
    edgecache_bytes_free(a1);

    /* ... and after the cache itself is freed. */
    edgecache_cache_free(c);
    CHECK_BYTES_LIT(a2, "value of a");
    CHECK_BYTES_LIT(b1, "value of b");
    edgecache_bytes_free(a2);
    edgecache_bytes_free(b1);

    /* A zeroed edgecache_bytes is "nothing" and free ignores it. */
    edgecache_bytes none = {NULL, 0};
    edgecache_bytes_free(none);
}

/* Values freed on another thread than the one that got them. */
static void *free_on_thread(void *arg) {
    edgecache_bytes *b = arg;
    CHECK_BYTES_LIT(*b, "crosses threads");
    edgecache_bytes_free(*b);
    return NULL;
}

static void test_bytes_freed_on_other_thread(void) {
    edgecache_cache *c = new_cache(1 << 20);
    CHECK_OK(edgecache_cache_set(c, LIT("x"), LIT("crosses threads"), 0, NULL));
    edgecache_bytes b = {NULL, 0};
    CHECK_OK(edgecache_cache_get(c, LIT("x"), &b));
    edgecache_cache_free(c);
    pthread_t t;
    CHECK_PT(pthread_create(&t, NULL, free_on_thread, &b));
    CHECK_PT(pthread_join(t, NULL));
}

/* Many threads on one cache: sets, gets, removes; budget holds throughout. */
#define HAMMER_THREADS 8
#define HAMMER_OPS 4000
#define HAMMER_BUDGET 4096

struct hammer_arg {
    edgecache_cache *cache;
    unsigned id;
    atomic_bool *stop_watch;
};

static void *cache_hammer(void *p) {
    struct hammer_arg *a = p;
    uint32_t x = 2463534242u + a->id * 7919u;
    for (int i = 0; i < HAMMER_OPS; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        char key[16];
        char val[64];
        int klen = snprintf(key, sizeof key, "k%u", x % 128u);
        /* The value names its key, so a reader can check it got the right one. */
        int vlen = snprintf(val, sizeof val, "%s=%0*u", key, (int)(x % 40u), a->id);
        switch (x % 5u) {
        case 0:
        case 1:
            CHECK_OK(edgecache_cache_set(a->cache, (const uint8_t *)key, (size_t)klen, (const uint8_t *)val,
                                         (size_t)vlen, 0, NULL));
            break;
        case 2:
            CHECK_OK(edgecache_cache_remove(a->cache, (const uint8_t *)key, (size_t)klen, NULL));
            break;
        default: {
            edgecache_bytes b = {NULL, 0};
            edgecache_status s = edgecache_cache_get(a->cache, (const uint8_t *)key, (size_t)klen, &b);
            CHECK(s == EDGECACHE_OK || s == EDGECACHE_NOT_FOUND);
            if (s == EDGECACHE_OK) {
                CHECK(b.len > (size_t)klen && memcmp(b.data, key, (size_t)klen) == 0 && b.data[klen] == '=');
                edgecache_bytes_free(b);
            }
            break;
        }
        }
    }
    return NULL;
}

static void *stats_watcher(void *p) {
    struct hammer_arg *a = p;
    while (!atomic_load(a->stop_watch)) {
        edgecache_cache_stats s;
        CHECK_OK(edgecache_cache_get_stats(a->cache, &s));
        CHECKF(s.bytes <= HAMMER_BUDGET, "bytes %" PRIu64 " over budget", s.bytes);
        tc_sleep_ms(1);
    }
    return NULL;
}

static void test_concurrent_use(void) {
    edgecache_cache *c = new_cache(HAMMER_BUDGET);
    atomic_bool stop = false;
    pthread_t t[HAMMER_THREADS], w;
    struct hammer_arg args[HAMMER_THREADS], wa = {c, 0, &stop};
    CHECK_PT(pthread_create(&w, NULL, stats_watcher, &wa));
    for (unsigned i = 0; i < HAMMER_THREADS; i++) {
        args[i] = (struct hammer_arg){c, i, &stop};
        CHECK_PT(pthread_create(&t[i], NULL, cache_hammer, &args[i]));
    }
    for (unsigned i = 0; i < HAMMER_THREADS; i++) CHECK_PT(pthread_join(t[i], NULL));
    atomic_store(&stop, true);
    CHECK_PT(pthread_join(w, NULL));
    edgecache_cache_stats s = stats_of(c);
    CHECK(s.bytes <= HAMMER_BUDGET);
    CHECK(s.hits <= s.gets);
    /* Still consistent: clear and reuse. */
    CHECK_OK(edgecache_cache_clear(c));
    s = stats_of(c);
    CHECK(s.bytes == 0 && s.items == 0);
    CHECK_OK(edgecache_cache_set(c, LIT("after"), LIT("hammer"), 0, NULL));
    expect_value(c, LIT("after"), "hammer");
    edgecache_cache_free(c);
}

int main(void) {
    printf("test_cache\n");
    RUN(test_version);
    RUN(test_set_get_remove);
    RUN(test_replace_counts_once);
    RUN(test_stats_and_clear);
    RUN(test_lru_eviction);
    RUN(test_oversized_entry_not_kept);
    RUN(test_zero_budget_keeps_nothing);
    RUN(test_ttl);
    RUN(test_empty_key_and_value);
    RUN(test_values_outlive_entry_and_cache);
    RUN(test_bytes_freed_on_other_thread);
    RUN(test_concurrent_use);
    printf("test_cache: all passed\n");
    return 0;
}
