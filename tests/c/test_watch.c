/*
 * The watch cache through the C ABI: writes, events_since and its 410,
 * list/get with selectors and freshness, watchers fed by another thread,
 * close waking a blocked next, and bad input.
 */
#include "test_common.h"

static edgecache_object obj(const char *key, const char *data, const edgecache_pair *labels, size_t n_labels) {
    return tc_object(key, data, labels, n_labels, NULL, 0);
}

static edgecache_watch_cache *new_cache(size_t capacity) {
    edgecache_str idx[] = {S("label:app")};
    edgecache_watch_options opts;
    edgecache_watch_options_init(&opts, sizeof opts);
    opts.capacity = capacity;
    opts.max_capacity = capacity;
    opts.indexes = idx;
    opts.n_indexes = 1;
    opts.fresh_timeout_ms = 50;
    edgecache_watch_cache *wc = NULL;
    CHECK_OK(edgecache_watch_cache_new(&opts, &wc));
    CHECK(wc != NULL);
    return wc;
}

static bool str_is(edgecache_str s, const char *want) {
    return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

static void check_item(const edgecache_item *it, const char *key, const char *data, uint64_t rv) {
    edgecache_str k;
    const uint8_t *d = NULL;
    size_t n = 0;
    CHECK(it != NULL);
    CHECK_OK(edgecache_item_key(it, &k));
    CHECKF(str_is(k, key), "key %.*s, expected %s", (int)k.len, k.ptr, key);
    CHECK_OK(edgecache_item_object(it, &d, &n));
    CHECK(n == strlen(data) && memcmp(d, data, n) == 0);
    CHECK(edgecache_item_resource_version(it) == rv);
}

static void test_writes_and_events_since(void) {
    edgecache_watch_cache *wc = new_cache(4);
    edgecache_pair web[] = {{S("app"), S("web")}};
    edgecache_object a = obj("default/a", "a1", web, 1);
    CHECK_OK(edgecache_watch_cache_replace(wc, &a, 1, 10));
    uint64_t rv = 0;
    CHECK_OK(edgecache_watch_cache_resource_version(wc, &rv));
    CHECK(rv == 10);
    edgecache_object a2 = obj("default/a", "a2", web, 1);
    CHECK_OK(edgecache_watch_cache_update(wc, &a2, 11));
    edgecache_object b = obj("default/b", "b1", NULL, 0);
    CHECK_OK(edgecache_watch_cache_add(wc, &b, 12));
    CHECK_OK(edgecache_watch_cache_delete(wc, &b, 13));
    /* A resourceVersion that does not increase is refused; nothing changes. */
    CHECK_STATUS(edgecache_watch_cache_add(wc, &b, 13), EDGECACHE_INVALID_ARGUMENT);

    edgecache_event_list *l = NULL;
    CHECK_OK(edgecache_watch_cache_events_since(wc, 10, &l));
    CHECK(edgecache_event_list_len(l) == 3);
    const edgecache_event *e0 = edgecache_event_list_at(l, 0);
    CHECK(edgecache_event_type(e0) == EDGECACHE_EVENT_MODIFIED);
    check_item(edgecache_event_item(e0), "default/a", "a2", 11);
    check_item(edgecache_event_prev_item(e0), "default/a", "a1", 10);
    edgecache_str v;
    CHECK_OK(edgecache_item_attr(edgecache_event_item(e0), EDGECACHE_ATTR_LABEL, S("app"), &v));
    CHECK(str_is(v, "web"));
    CHECK_STATUS(edgecache_item_attr(edgecache_event_item(e0), EDGECACHE_ATTR_FIELD, S("app"), &v), EDGECACHE_NOT_FOUND);
    CHECK_STATUS(edgecache_item_attr(edgecache_event_item(e0), 7, S("app"), &v), EDGECACHE_INVALID_ARGUMENT);
    /* Enumerated: the one label, then the end; no fields. */
    edgecache_str an, av;
    CHECK_OK(edgecache_item_attr_at(edgecache_event_item(e0), EDGECACHE_ATTR_LABEL, 0, &an, &av));
    CHECK(str_is(an, "app") && str_is(av, "web"));
    CHECK_STATUS(edgecache_item_attr_at(edgecache_event_item(e0), EDGECACHE_ATTR_LABEL, 1, &an, &av), EDGECACHE_NOT_FOUND);
    CHECK_STATUS(edgecache_item_attr_at(edgecache_event_item(e0), EDGECACHE_ATTR_FIELD, 0, &an, &av), EDGECACHE_NOT_FOUND);
    CHECK_STATUS(edgecache_item_attr_at(edgecache_event_item(e0), 7, 0, &an, &av), EDGECACHE_INVALID_ARGUMENT);
    CHECK_STATUS(edgecache_item_attr_at(edgecache_event_item(e0), EDGECACHE_ATTR_LABEL, 0, NULL, &av), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_item_attr_at(NULL, EDGECACHE_ATTR_LABEL, 0, &an, &av), EDGECACHE_NULL_ARGUMENT);
    CHECK(edgecache_event_type(edgecache_event_list_at(l, 1)) == EDGECACHE_EVENT_ADDED);
    CHECK(edgecache_event_type(edgecache_event_list_at(l, 2)) == EDGECACHE_EVENT_DELETED);
    CHECK(edgecache_event_resource_version(edgecache_event_list_at(l, 2)) == 13);
    CHECK(edgecache_event_list_at(l, 3) == NULL);
    edgecache_event_list_free(l);

    /* Push the window (capacity 4) past rv 10: 11..16 leave only 13..16. */
    for (uint64_t i = 14; i <= 16; i++) {
        CHECK_OK(edgecache_watch_cache_update(wc, &a2, i));
    }
    CHECK_OK(edgecache_watch_cache_events_since(wc, 12, &l)); /* oldest - 1 */
    CHECK(edgecache_event_list_len(l) == 4);
    edgecache_event_list_free(l);
    l = NULL;
    CHECK_STATUS(edgecache_watch_cache_events_since(wc, 11, &l), EDGECACHE_RESOURCE_EXPIRED);
    CHECK(l == NULL);
    char msg[256];
    CHECKF(strstr(tc_last_error(msg, sizeof msg), "too old resource version") != NULL, "last error: %s", msg);

    /* rv 0: the current state as ADDED events. */
    CHECK_OK(edgecache_watch_cache_events_since(wc, 0, &l));
    CHECK(edgecache_event_list_len(l) == 1);
    CHECK(edgecache_event_type(edgecache_event_list_at(l, 0)) == EDGECACHE_EVENT_ADDED);
    edgecache_event_list_free(l);
    edgecache_watch_cache_free(wc);
}

static void test_list_get_and_freshness(void) {
    edgecache_watch_cache *wc = new_cache(100);
    edgecache_pair web[] = {{S("app"), S("web")}};
    edgecache_pair db[] = {{S("app"), S("db")}};
    edgecache_object items[3] = {obj("ns/a", "A", web, 1), obj("ns/b", "B", db, 1), obj("ns/c", "C", web, 1)};
    CHECK_OK(edgecache_watch_cache_replace(wc, items, 3, 5));

    edgecache_item_list *l = NULL;
    uint64_t at = 0;
    CHECK_OK(edgecache_watch_cache_list(wc, 5, web, 1, NULL, 0, EDGECACHE_DEFAULT_TIMEOUT, &l, &at));
    CHECK(at == 5);
    CHECK(edgecache_item_list_len(l) == 2);
    check_item(edgecache_item_list_at(l, 0), "ns/a", "A", 5);
    check_item(edgecache_item_list_at(l, 1), "ns/c", "C", 5);
    CHECK(edgecache_item_list_at(l, 2) == NULL);
    edgecache_item_list_free(l);

    /* Not fresh enough: 504 after the timeout. */
    l = NULL;
    CHECK_STATUS(edgecache_watch_cache_list(wc, 6, NULL, 0, NULL, 0, 20, &l, &at), EDGECACHE_TOO_LARGE_RESOURCE_VERSION);
    CHECK(l == NULL);
    CHECK_STATUS(edgecache_watch_cache_wait_until_fresh(wc, 6, 0), EDGECACHE_TOO_LARGE_RESOURCE_VERSION);
    CHECK_OK(edgecache_watch_cache_wait_until_fresh(wc, 5, 0));

    edgecache_item *it = NULL;
    CHECK_OK(edgecache_watch_cache_get(wc, S("ns/b"), 0, EDGECACHE_DEFAULT_TIMEOUT, &it));
    check_item(it, "ns/b", "B", 5);
    edgecache_item_free(it);
    it = NULL;
    CHECK_STATUS(edgecache_watch_cache_get(wc, S("ns/zz"), 5, 100, &it), EDGECACHE_NOT_FOUND);
    CHECK(it == NULL);
    edgecache_watch_cache_free(wc);
}

struct writer_args {
    edgecache_watch_cache *wc;
    uint64_t from, to;
};

static void *writer(void *p) {
    struct writer_args *a = p;
    edgecache_object o = obj("ns/x", "x", NULL, 0);
    for (uint64_t rv = a->from; rv <= a->to; rv++) {
        CHECK_OK(edgecache_watch_cache_update(a->wc, &o, rv));
    }
    return NULL;
}

static void test_watcher_fed_by_another_thread(void) {
    edgecache_watch_cache *wc = new_cache(1000);
    edgecache_object o = obj("ns/x", "x", NULL, 0);
    CHECK_OK(edgecache_watch_cache_add(wc, &o, 1));
    edgecache_watcher *w = NULL;
    CHECK_OK(edgecache_watch_cache_watch(wc, 1, NULL, 0, NULL, 0, false, 0, &w));
    struct writer_args args = {wc, 2, 201};
    pthread_t t;
    CHECK_PT(pthread_create(&t, NULL, writer, &args));
    /* Contiguous resourceVersions 2..201, in order. */
    for (uint64_t want = 2; want <= 201; want++) {
        edgecache_event *ev = NULL;
        CHECK_OK(edgecache_watcher_next(w, TC_WAIT_LIMIT_MS, &ev));
        CHECKF(edgecache_event_resource_version(ev) == want, "got rv %" PRIu64 ", want %" PRIu64,
               edgecache_event_resource_version(ev), want);
        CHECK(edgecache_event_type(ev) == EDGECACHE_EVENT_MODIFIED);
        edgecache_event_free(ev);
    }
    CHECK_PT(pthread_join(t, NULL));
    edgecache_event *ev = NULL;
    CHECK_STATUS(edgecache_watcher_next(w, 0, &ev), EDGECACHE_TIMEOUT);
    CHECK(ev == NULL);
    char buf[128];
    CHECK_STATUS(edgecache_watcher_close_reason(w, buf, sizeof buf, NULL), EDGECACHE_NOT_FOUND);
    edgecache_watcher_free(w);
    edgecache_watch_cache_free(wc);
}

static void *blocked_next(void *p) {
    edgecache_watcher *w = p;
    edgecache_event *ev = NULL;
    return (void *)(intptr_t)edgecache_watcher_next(w, EDGECACHE_WAIT_FOREVER, &ev);
}

static void test_close_wakes_a_blocked_next(void) {
    edgecache_watch_cache *wc = new_cache(10);
    edgecache_watcher *w = NULL;
    CHECK_OK(edgecache_watch_cache_watch(wc, 0, NULL, 0, NULL, 0, false, 0, &w));
    pthread_t t;
    CHECK_PT(pthread_create(&t, NULL, blocked_next, w));
    tc_sleep_ms(20); /* let it block; the result is the same if it has not yet */
    CHECK_OK(edgecache_watcher_close(w));
    void *rc = NULL;
    CHECK_PT(pthread_join(t, &rc));
    CHECK((int)(intptr_t)rc == EDGECACHE_CLOSED);
    char buf[256];
    size_t len = 0;
    CHECK_OK(edgecache_watcher_close_reason(w, buf, sizeof buf, &len));
    CHECK(len > 0 && strstr(buf, "closed") != NULL);
    CHECK_OK(edgecache_watcher_close(w)); /* idempotent */
    edgecache_watcher_free(w);

    /* Closing the cache ends a second watcher the same way. */
    CHECK_OK(edgecache_watch_cache_watch(wc, 0, NULL, 0, NULL, 0, false, 0, &w));
    CHECK_PT(pthread_create(&t, NULL, blocked_next, w));
    CHECK_OK(edgecache_watch_cache_close(wc));
    CHECK_PT(pthread_join(t, &rc));
    CHECK((int)(intptr_t)rc == EDGECACHE_CLOSED);
    edgecache_object o = obj("k", "v", NULL, 0);
    CHECK_STATUS(edgecache_watch_cache_add(wc, &o, 1), EDGECACHE_CLOSED);
    edgecache_watcher_free(w);
    edgecache_watch_cache_free(wc);
}

static void test_slow_watcher_is_closed_with_a_reason(void) {
    edgecache_watch_cache *wc = new_cache(100);
    edgecache_watcher *w = NULL;
    /* A buffer of 1 and three live events: closed as fallen behind. */
    CHECK_OK(edgecache_watch_cache_watch(wc, 0, NULL, 0, NULL, 0, false, 1, &w));
    uint64_t rv = 0;
    CHECK_OK(edgecache_watch_cache_resource_version(wc, &rv));
    for (uint64_t i = 1; i <= 3; i++) {
        edgecache_object x = obj("slow", "s", NULL, 0);
        CHECK_OK(edgecache_watch_cache_add(wc, &x, rv + 10 * i));
        x.key = S("slow");
        CHECK_OK(edgecache_watch_cache_delete(wc, &x, rv + 10 * i + 1));
    }
    edgecache_event *ev = NULL;
    CHECK_OK(edgecache_watcher_next(w, 0, &ev));
    CHECK(edgecache_event_resource_version(ev) == rv + 10);
    edgecache_event_free(ev);
    ev = NULL;
    CHECK_STATUS(edgecache_watcher_next(w, 0, &ev), EDGECACHE_CLOSED);
    char buf[256];
    CHECK_OK(edgecache_watcher_close_reason(w, buf, sizeof buf, NULL));
    CHECKF(strstr(buf, "fell behind") != NULL, "reason: %s", buf);
    edgecache_watcher_free(w);
    edgecache_watch_cache_free(wc);
}

static void test_bookmarks(void) {
    edgecache_watch_cache *wc = new_cache(10);
    edgecache_watcher *w = NULL;
    CHECK_OK(edgecache_watch_cache_watch(wc, 0, NULL, 0, NULL, 0, true, 0, &w));
    CHECK_OK(edgecache_watch_cache_bookmark(wc, 42));
    edgecache_event *ev = NULL;
    CHECK_OK(edgecache_watcher_next(w, TC_WAIT_LIMIT_MS, &ev));
    CHECK(edgecache_event_type(ev) == EDGECACHE_EVENT_BOOKMARK);
    CHECK(edgecache_event_resource_version(ev) == 42);
    CHECK(edgecache_event_prev_item(ev) == NULL);
    edgecache_event_free(ev);
    edgecache_watcher_free(w);
    edgecache_watch_cache_free(wc);
}

/* The window and state as the cache counts them: events and their bytes
 * (key + object + previous object), resourceVersions, items, watchers; a
 * relist empties the window. */
static void test_window_stats(void) {
    edgecache_watch_cache *wc = new_cache(10);
    edgecache_window_stats st;
    CHECK_OK(edgecache_watch_cache_window_stats(wc, &st, sizeof st));
    CHECK(st.events == 0 && st.bytes == 0 && st.resource_version == 0 && st.items == 0 && st.watchers == 0);
    CHECK(st.max_capacity == 10 && st.max_bytes == 0 && st.oldest_buffered == 0 && st.list_resource_version == 0);

    edgecache_object a = obj("ns/a", "{\"v\":1}", NULL, 0);
    CHECK_OK(edgecache_watch_cache_add(wc, &a, 5));
    edgecache_object a2 = obj("ns/a", "{\"v\":22}", NULL, 0);
    CHECK_OK(edgecache_watch_cache_update(wc, &a2, 6));
    edgecache_watcher *w = NULL;
    CHECK_OK(edgecache_watch_cache_watch(wc, 6, NULL, 0, NULL, 0, false, 0, &w));
    CHECK_OK(edgecache_watch_cache_window_stats(wc, &st, sizeof st));
    CHECKF(st.events == 2, "events %llu", (unsigned long long)st.events);
    /* add: 4 + 7; update: 4 + 8 + 7 (the previous object counts) */
    CHECKF(st.bytes == 30, "bytes %llu", (unsigned long long)st.bytes);
    CHECK(st.resource_version == 6 && st.oldest_buffered == 5 && st.items == 1 && st.watchers == 1);

    CHECK_OK(edgecache_watch_cache_replace(wc, &a2, 1, 9));
    CHECK_OK(edgecache_watch_cache_window_stats(wc, &st, sizeof st));
    CHECK(st.events == 0 && st.bytes == 0 && st.list_resource_version == 9 && st.resource_version == 9);
    CHECK(st.oldest_accepted == 9);

    /* Bad input: the struct unchanged. */
    edgecache_window_stats before = st;
    CHECK_STATUS(edgecache_watch_cache_window_stats(wc, &st, sizeof st - 1), EDGECACHE_INVALID_ARGUMENT);
    CHECK(memcmp(&before, &st, sizeof st) == 0);
    CHECK_STATUS(edgecache_watch_cache_window_stats(wc, NULL, sizeof st), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_watch_cache_window_stats(NULL, &st, sizeof st), EDGECACHE_NULL_ARGUMENT);
    edgecache_watcher_free(w);
    edgecache_watch_cache_free(wc);
}

static void test_bad_input(void) {
    edgecache_watch_cache *wc = NULL;
    CHECK_STATUS(edgecache_watch_cache_new(NULL, NULL), EDGECACHE_NULL_ARGUMENT);
    CHECK_OK(edgecache_watch_cache_new(NULL, &wc)); /* all defaults */
    edgecache_watch_cache_free(wc);
    edgecache_watch_options bad;
    edgecache_watch_options_init(&bad, sizeof bad);
    bad.capacity = 10;
    bad.max_capacity = 5;
    wc = NULL;
    CHECK_STATUS(edgecache_watch_cache_new(&bad, &wc), EDGECACHE_INVALID_ARGUMENT);
    CHECK(wc == NULL);
    edgecache_str idx[] = {S("nonsense")};
    edgecache_watch_options_init(&bad, sizeof bad);
    bad.indexes = idx;
    bad.n_indexes = 1;
    CHECK_STATUS(edgecache_watch_cache_new(&bad, &wc), EDGECACHE_INVALID_ARGUMENT);
    bad.indexes = NULL;
    CHECK_STATUS(edgecache_watch_cache_new(&bad, &wc), EDGECACHE_NULL_ARGUMENT);

    wc = new_cache(10);
    edgecache_object good = obj("k", "v", NULL, 0);
    CHECK_OK(edgecache_watch_cache_add(wc, &good, 1));
    CHECK_STATUS(edgecache_watch_cache_add(NULL, &good, 2), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_watch_cache_add(wc, NULL, 2), EDGECACHE_NULL_ARGUMENT);
    edgecache_object o = good;
    o.data = NULL; /* with a nonzero length */
    CHECK_STATUS(edgecache_watch_cache_update(wc, &o, 2), EDGECACHE_NULL_ARGUMENT);
    o = good;
    o.n_labels = 3; /* NULL labels with a count */
    CHECK_STATUS(edgecache_watch_cache_update(wc, &o, 2), EDGECACHE_NULL_ARGUMENT);
    o = good;
    o.key.ptr = "\xff\xfe";
    o.key.len = 2;
    CHECK_STATUS(edgecache_watch_cache_update(wc, &o, 2), EDGECACHE_INVALID_ARGUMENT);
    CHECK_STATUS(edgecache_watch_cache_replace(wc, NULL, 2, 5), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_watch_cache_bookmark(NULL, 5), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_watch_cache_resource_version(wc, NULL), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_watch_cache_events_since(wc, 0, NULL), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_watch_cache_wait_until_fresh(NULL, 0, 0), EDGECACHE_NULL_ARGUMENT);
    edgecache_item_list *il = NULL;
    uint64_t at;
    CHECK_STATUS(edgecache_watch_cache_list(wc, 0, NULL, 1, NULL, 0, 0, &il, &at), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_watch_cache_list(wc, 0, NULL, 0, NULL, 0, 0, NULL, &at), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_watch_cache_list(wc, 0, NULL, 0, NULL, 0, 0, &il, NULL), EDGECACHE_NULL_ARGUMENT);
    edgecache_item *it = NULL;
    CHECK_STATUS(edgecache_watch_cache_get(wc, (edgecache_str){NULL, 3}, 0, 0, &it), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_watch_cache_get(wc, S("k"), 0, 0, NULL), EDGECACHE_NULL_ARGUMENT);
    edgecache_watcher *w = NULL;
    CHECK_STATUS(edgecache_watch_cache_watch(wc, 0, NULL, 0, NULL, 0, false, 0, NULL), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_watcher_next(NULL, 0, NULL), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_watcher_close(NULL), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_watcher_close_reason(NULL, NULL, 0, NULL), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_watch_cache_close(NULL), EDGECACHE_NULL_ARGUMENT);
    CHECK(edgecache_event_type(NULL) == 0);
    CHECK(edgecache_event_resource_version(NULL) == 0);
    CHECK(edgecache_event_item(NULL) == NULL);
    CHECK(edgecache_event_prev_item(NULL) == NULL);
    CHECK(edgecache_item_resource_version(NULL) == 0);
    edgecache_str s;
    const uint8_t *d;
    size_t n;
    CHECK_STATUS(edgecache_item_key(NULL, &s), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_item_object(NULL, &d, &n), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_item_attr(NULL, 0, S("a"), &s), EDGECACHE_NULL_ARGUMENT);
    CHECK(edgecache_event_list_len(NULL) == 0);
    CHECK(edgecache_event_list_at(NULL, 0) == NULL);
    CHECK(edgecache_item_list_len(NULL) == 0);
    CHECK(edgecache_item_list_at(NULL, 0) == NULL);
    edgecache_event_free(NULL);
    edgecache_item_free(NULL);
    edgecache_event_list_free(NULL);
    edgecache_item_list_free(NULL);
    edgecache_watcher_free(NULL);
    edgecache_watch_cache_free(NULL);
    /* The cache still works, and still holds what it had. */
    CHECK_OK(edgecache_watch_cache_get(wc, S("k"), 1, 0, &it));
    check_item(it, "k", "v", 1);
    edgecache_item_free(it);
    CHECK_OK(edgecache_watch_cache_watch(wc, 1, NULL, 0, NULL, 0, false, 0, &w));
    edgecache_watcher_free(w);
    edgecache_watch_cache_free(wc);
}

int main(void) {
    printf("test_watch\n");
    RUN(test_writes_and_events_since);
    RUN(test_list_get_and_freshness);
    RUN(test_watcher_fed_by_another_thread);
    RUN(test_close_wakes_a_blocked_next);
    RUN(test_slow_watcher_is_closed_with_a_reason);
    RUN(test_bookmarks);
    RUN(test_window_stats);
    RUN(test_bad_input);
    return 0;
}
