/*
 * The watch cache's Kubernetes protocol through the C ABI: streaming lists
 * (initial events and their end bookmark), periodic and explicit bookmarks,
 * paged lists with continue tokens and Exact reads, typed watch errors
 * (edgecache_watch_last_error), Kubernetes selector strings, declared
 * fields, growable request structs and bad input.
 */
#include "test_common.h"

#include <limits.h>


/* A limit for waits that should end quickly: generous for valgrind, small
 * enough that a test stuck on one fails in seconds. */
#define QUICK_MS 5000u

static edgecache_watch_cache *new_cache(const edgecache_watch_options *opts) {
    edgecache_watch_cache *wc = NULL;
    CHECK_OK(edgecache_watch_cache_new(opts, &wc));
    CHECK(wc != NULL);
    return wc;
}

static edgecache_watch_options default_options(void) {
    edgecache_watch_options o;
    edgecache_watch_options_init(&o, sizeof o);
    return o;
}

static bool str_is(edgecache_str s, const char *want) {
    return s.len == strlen(want) && (s.len == 0 || memcmp(s.ptr, want, s.len) == 0);
}

static void check_key(const edgecache_item *it, const char *key) {
    edgecache_str k;
    CHECK(it != NULL);
    CHECK_OK(edgecache_item_key(it, &k));
    CHECKF(str_is(k, key), "key \"%.*s\", expected \"%s\"", (int)k.len, k.ptr, key);
}

static void check_data(const edgecache_item *it, const char *data) {
    const uint8_t *d = NULL;
    size_t n = 0;
    CHECK_OK(edgecache_item_object(it, &d, &n));
    CHECKF(n == strlen(data) && memcmp(d, data, n) == 0, "object \"%.*s\", expected \"%s\"", (int)n,
           (const char *)d, data);
}

/* The items of `l` have exactly the keys in `keys` (NULL-terminated), in order. */
static void check_keys(const edgecache_item_list *l, const char *const *keys) {
    size_t n = 0;
    while (keys[n] != NULL) n++;
    CHECKF(edgecache_item_list_len(l) == n, "%zu items, expected %zu", edgecache_item_list_len(l), n);
    for (size_t i = 0; i < n; i++) check_key(edgecache_item_list_at(l, i), keys[i]);
}

/* Reads the next event, which must come within `ms`. */
static edgecache_event *next_event(edgecache_watcher *w, uint64_t ms) {
    edgecache_event *ev = NULL;
    CHECK_OK(edgecache_watcher_next(w, ms, &ev));
    CHECK(ev != NULL);
    return ev;
}

static void expect_event(edgecache_watcher *w, uint32_t type, const char *key, uint64_t rv, bool end) {
    edgecache_event *ev = next_event(w, QUICK_MS);
    CHECKF(edgecache_event_type(ev) == type, "event type %u, expected %u", edgecache_event_type(ev), type);
    CHECKF(edgecache_event_resource_version(ev) == rv, "event rv %" PRIu64 ", expected %" PRIu64,
           edgecache_event_resource_version(ev), rv);
    CHECK(edgecache_event_initial_events_end(ev) == end);
    if (key != NULL) check_key(edgecache_event_item(ev), key);
    edgecache_event_free(ev);
}

static void expect_no_event(edgecache_watcher *w, uint64_t ms) {
    edgecache_event *ev = NULL;
    edgecache_status s = edgecache_watcher_next(w, ms, &ev);
    CHECKF(s == EDGECACHE_TIMEOUT, "expected no event, got status %d, event type %u rv %" PRIu64, (int)s,
           s == EDGECACHE_OK ? edgecache_event_type(ev) : 0u, s == EDGECACHE_OK ? edgecache_event_resource_version(ev) : 0u);
}

static edgecache_watch_error last_watch_error(void) {
    edgecache_watch_error e;
    memset(&e, 0xAB, sizeof e);
    CHECK_OK(edgecache_watch_last_error(&e));
    return e;
}

static bool cstr_is(const char *s, const char *want) { return s != NULL && strcmp(s, want) == 0; }

static bool last_error_contains(const char *needle) {
    char msg[512];
    tc_last_error(msg, sizeof msg);
    return strstr(msg, needle) != NULL;
}

/* ---- the request structs ---- */

static void test_request_init(void) {
    edgecache_watch_request r;
    memset(&r, 0xFF, sizeof r);
    edgecache_watch_request_init(&r, sizeof r);
    CHECK(r.size == sizeof r);
    CHECK(r.fresh_timeout_ms == EDGECACHE_DEFAULT_TIMEOUT);
    CHECK(r.resource_version == 0 && r.label_selector.ptr == NULL && r.label_selector.len == 0);
    CHECK(r.field_selector.ptr == NULL && r.labels == NULL && r.n_labels == 0 && r.fields == NULL && r.n_fields == 0);
    CHECK(!r.bookmarks && !r.send_initial_events && r.buffer == 0 && r.bookmark_interval_ms == 0);
    edgecache_watch_request_init(NULL, sizeof r); /* a no-op */

    edgecache_list_request l;
    memset(&l, 0xFF, sizeof l);
    edgecache_list_request_init(&l, sizeof l);
    CHECK(l.size == sizeof l);
    CHECK(l.timeout_ms == EDGECACHE_DEFAULT_TIMEOUT);
    CHECK(l.limit == 0 && l.continue_token.ptr == NULL && l.continue_token.len == 0 && l.resource_version == 0);
    CHECK(l.resource_version_match == EDGECACHE_MATCH_UNSET);
    CHECK(l.label_selector.ptr == NULL && l.field_selector.ptr == NULL && l.labels == NULL && l.fields == NULL);
    CHECK(l.n_labels == 0 && l.n_fields == 0);
    edgecache_list_request_init(NULL, sizeof l);

    /* A caller whose struct is smaller (an older header) gets exactly its
       bytes written, and its size recorded. */
    unsigned char buf[sizeof(edgecache_watch_request) + 16];
    memset(buf, 0xEE, sizeof buf);
    size_t older = sizeof(size_t) + sizeof(uint64_t);
    edgecache_watch_request_init((edgecache_watch_request *)(void *)buf, older);
    size_t written;
    memcpy(&written, buf, sizeof written);
    CHECK(written == older);
    for (size_t i = older; i < sizeof buf; i++) CHECK(buf[i] == 0xEE);
    /* Too small to hold the size itself: nothing written. */
    memset(buf, 0xEE, sizeof buf);
    edgecache_list_request_init((edgecache_list_request *)(void *)buf, sizeof(size_t) - 1);
    for (size_t i = 0; i < sizeof buf; i++) CHECK(buf[i] == 0xEE);
}

/* resourceVersionMatch unset is NotOlderThan, with or without a limit;
   Exact serves the older state. */
static void test_list_unset_match_is_not_older_than(void) {
    edgecache_watch_cache *wc = new_cache(NULL);
    edgecache_object a1 = tc_object("a", "1", NULL, 0, NULL, 0);
    edgecache_object b1 = tc_object("b", "1", NULL, 0, NULL, 0);
    edgecache_object a2 = tc_object("a", "2", NULL, 0, NULL, 0);
    CHECK_OK(edgecache_watch_cache_add(wc, &a1, 1));
    CHECK_OK(edgecache_watch_cache_add(wc, &b1, 2));
    CHECK_OK(edgecache_watch_cache_update(wc, &a2, 3));
    edgecache_list_request l;
    edgecache_list_request_init(&l, sizeof l);
    l.resource_version = 2;
    l.limit = 10;
    edgecache_list_page *p = NULL;
    CHECK_OK(edgecache_watch_cache_list_page(wc, &l, &p));
    CHECK(edgecache_list_page_resource_version(p) == 3);
    edgecache_list_page_free(p);
    l.limit = 0;
    CHECK_OK(edgecache_watch_cache_list_page(wc, &l, &p));
    CHECK(edgecache_list_page_resource_version(p) == 3);
    edgecache_list_page_free(p);
    l.limit = 10;
    l.resource_version_match = EDGECACHE_MATCH_EXACT;
    CHECK_OK(edgecache_watch_cache_list_page(wc, &l, &p));
    CHECK(edgecache_list_page_resource_version(p) == 2);
    const edgecache_item_list *items = edgecache_list_page_items(p);
    CHECK(edgecache_item_list_len(items) == 2);
    CHECK(edgecache_item_resource_version(edgecache_item_list_at(items, 0)) == 1);
    edgecache_list_page_free(p);
    edgecache_watch_cache_free(wc);
}

static void test_request_size_rule(void) {
    edgecache_watch_cache *wc = new_cache(NULL);
    edgecache_object a = tc_object("a", "1", NULL, 0, NULL, 0);
    CHECK_OK(edgecache_watch_cache_add(wc, &a, 1));

    edgecache_watch_request r;
    edgecache_watch_request_init(&r, sizeof r);
    edgecache_watcher *w = (edgecache_watcher *)&r; /* must stay untouched on failure */
    r.size = sizeof r - 1;
    CHECK_STATUS(edgecache_watch_cache_watch_with(wc, &r, &w), EDGECACHE_INVALID_ARGUMENT);
    CHECK(w == (edgecache_watcher *)&r);
    CHECK(last_error_contains("edgecache_watch_request"));
    r.size = 0;
    CHECK_STATUS(edgecache_watch_cache_watch_with(wc, &r, &w), EDGECACHE_INVALID_ARGUMENT);
    r.size = sizeof(size_t) + sizeof(uint64_t); /* up to resource_version only */
    CHECK_STATUS(edgecache_watch_cache_watch_with(wc, &r, &w), EDGECACHE_INVALID_ARGUMENT);

    /* A larger struct (a newer header): the unknown tail is ignored, whatever it holds. */
    struct {
        edgecache_watch_request r;
        unsigned char newer[64];
    } big;
    memset(&big, 0, sizeof big);
    edgecache_watch_request_init(&big.r, sizeof big.r);
    memset(big.newer, 0xAB, sizeof big.newer);
    big.r.size = sizeof big;
    big.r.label_selector = S("app");
    w = NULL;
    CHECK_OK(edgecache_watch_cache_watch_with(wc, &big.r, &w));
    CHECK(w != NULL);
    expect_no_event(w, 0); /* "a" has no app label */
    edgecache_watcher_free(w);
    r.size = SIZE_MAX; /* read as "ours" */
    w = NULL;
    CHECK_OK(edgecache_watch_cache_watch_with(wc, &r, &w));
    expect_event(w, EDGECACHE_EVENT_ADDED, "a", 1, false);
    edgecache_watcher_free(w);

    edgecache_list_request l;
    edgecache_list_request_init(&l, sizeof l);
    edgecache_list_page *p = NULL;
    l.size = sizeof l - 1;
    CHECK_STATUS(edgecache_watch_cache_list_page(wc, &l, &p), EDGECACHE_INVALID_ARGUMENT);
    CHECK(p == NULL);
    l.size = 0;
    CHECK_STATUS(edgecache_watch_cache_list_page(wc, &l, &p), EDGECACHE_INVALID_ARGUMENT);
    CHECK(p == NULL);
    l.size = sizeof l + 8;
    CHECK_OK(edgecache_watch_cache_list_page(wc, &l, &p));
    CHECK(edgecache_item_list_len(edgecache_list_page_items(p)) == 1);
    edgecache_list_page_free(p);
    edgecache_watch_cache_free(wc);
}

/* ---- streaming lists ---- */

static void test_streaming_list(void) {
    edgecache_watch_cache *wc = new_cache(NULL);
    edgecache_pair web[] = {{S("app"), S("web")}};
    edgecache_object init[] = {tc_object("ns/b", "b1", web, 1, NULL, 0), tc_object("ns/a", "a1", web, 1, NULL, 0),
                               tc_object("ns/x", "x1", NULL, 0, NULL, 0)};
    CHECK_OK(edgecache_watch_cache_replace(wc, init, 3, 10));
    edgecache_object c = tc_object("ns/c", "c1", web, 1, NULL, 0);
    CHECK_OK(edgecache_watch_cache_add(wc, &c, 11));

    edgecache_watch_request r;
    edgecache_watch_request_init(&r, sizeof r);
    r.send_initial_events = true; /* the end bookmark comes even without bookmarks */
    r.labels = web;
    r.n_labels = 1;
    edgecache_watcher *w = NULL;
    CHECK_OK(edgecache_watch_cache_watch_with(wc, &r, &w));
    /* The state, in key order, all at the cache's resourceVersion. */
    expect_event(w, EDGECACHE_EVENT_ADDED, "ns/a", 11, false);
    expect_event(w, EDGECACHE_EVENT_ADDED, "ns/b", 11, false);
    expect_event(w, EDGECACHE_EVENT_ADDED, "ns/c", 11, false);
    expect_event(w, EDGECACHE_EVENT_BOOKMARK, NULL, 11, true);
    expect_no_event(w, 0);
    /* Then live changes. */
    edgecache_object a2 = tc_object("ns/a", "a2", web, 1, NULL, 0);
    CHECK_OK(edgecache_watch_cache_update(wc, &a2, 12));
    edgecache_object x2 = tc_object("ns/x", "x2", NULL, 0, NULL, 0); /* not selected */
    CHECK_OK(edgecache_watch_cache_update(wc, &x2, 13));
    CHECK_OK(edgecache_watch_cache_delete(wc, &c, 14));
    edgecache_event *ev = next_event(w, QUICK_MS);
    CHECK(edgecache_event_type(ev) == EDGECACHE_EVENT_MODIFIED);
    CHECK(edgecache_event_resource_version(ev) == 12);
    CHECK(!edgecache_event_initial_events_end(ev));
    check_data(edgecache_event_item(ev), "a2");
    check_data(edgecache_event_prev_item(ev), "a1");
    edgecache_event_free(ev);
    expect_event(w, EDGECACHE_EVENT_DELETED, "ns/c", 14, false);
    expect_no_event(w, 0);
    edgecache_watcher_free(w);

    /* "Not older than" a resourceVersion the cache has: no wait, same shape. */
    edgecache_watch_request_init(&r, sizeof r);
    r.send_initial_events = true;
    r.resource_version = 12;
    r.label_selector = S("app=web");
    w = NULL;
    CHECK_OK(edgecache_watch_cache_watch_with(wc, &r, &w));
    expect_event(w, EDGECACHE_EVENT_ADDED, "ns/a", 14, false);
    expect_event(w, EDGECACHE_EVENT_ADDED, "ns/b", 14, false);
    expect_event(w, EDGECACHE_EVENT_BOOKMARK, NULL, 14, true);
    expect_no_event(w, 0);
    edgecache_watcher_free(w);

    /* Without send_initial_events, a watch from a resourceVersion replays
     * the window and has no end bookmark. */
    edgecache_watch_request_init(&r, sizeof r);
    r.resource_version = 11;
    r.bookmarks = true;
    r.bookmark_interval_ms = EDGECACHE_WAIT_FOREVER;
    w = NULL;
    CHECK_OK(edgecache_watch_cache_watch_with(wc, &r, &w));
    expect_event(w, EDGECACHE_EVENT_MODIFIED, "ns/a", 12, false);
    expect_event(w, EDGECACHE_EVENT_MODIFIED, "ns/x", 13, false);
    expect_event(w, EDGECACHE_EVENT_DELETED, "ns/c", 14, false);
    expect_no_event(w, 0);
    edgecache_watcher_free(w);
    CHECK(!edgecache_event_initial_events_end(NULL));
    edgecache_watch_cache_free(wc);
}

/* ---- bookmarks ---- */

static void test_periodic_bookmarks_on_a_selective_watcher(void) {
    edgecache_watch_cache *wc = new_cache(NULL);
    edgecache_pair web[] = {{S("app"), S("web")}};
    edgecache_object a = tc_object("a", "1", web, 1, NULL, 0);
    CHECK_OK(edgecache_watch_cache_add(wc, &a, 5));

    edgecache_watch_request r;
    edgecache_watch_request_init(&r, sizeof r);
    r.resource_version = 5;
    r.label_selector = S("app=nothing-matches-this");
    r.bookmarks = true;
    r.bookmark_interval_ms = 20;
    edgecache_watcher *w = NULL;
    CHECK_OK(edgecache_watch_cache_watch_with(wc, &r, &w));

    /* A watcher that asked for none, and one with periodic bookmarks off. */
    edgecache_watch_request quiet = r;
    quiet.bookmarks = false;
    edgecache_watcher *wq = NULL;
    CHECK_OK(edgecache_watch_cache_watch_with(wc, &quiet, &wq));
    edgecache_watch_request off = r;
    off.bookmark_interval_ms = EDGECACHE_WAIT_FOREVER;
    edgecache_watcher *wo = NULL;
    CHECK_OK(edgecache_watch_cache_watch_with(wc, &off, &wo));

    uint64_t start = tc_now_ms();
    expect_event(w, EDGECACHE_EVENT_BOOKMARK, NULL, 5, false);
    uint64_t first = tc_now_ms() - start;
    CHECKF(first < QUICK_MS, "first periodic bookmark after %" PRIu64 " ms", first);

    /* Writes the watcher does not select still move its bookmarks on. */
    edgecache_object b = tc_object("b", "1", web, 1, NULL, 0);
    CHECK_OK(edgecache_watch_cache_add(wc, &b, 6));
    uint64_t last = 5;
    int bookmarks = 0;
    while (last < 6) {
        edgecache_event *ev = next_event(w, QUICK_MS);
        CHECK(edgecache_event_type(ev) == EDGECACHE_EVENT_BOOKMARK);
        uint64_t rv = edgecache_event_resource_version(ev);
        CHECKF(rv >= last && rv <= 6, "bookmark at %" PRIu64 " after %" PRIu64, rv, last);
        last = rv;
        edgecache_event_free(ev);
        CHECKF(++bookmarks < 1000, "no bookmark at 6 after %d bookmarks", bookmarks);
    }
    /* They keep coming at a steady resourceVersion. */
    expect_event(w, EDGECACHE_EVENT_BOOKMARK, NULL, 6, false);

    /* The others got nothing in all that time (well over 20 ms). */
    CHECK(tc_now_ms() - start >= 20);
    expect_no_event(wq, 30);
    expect_no_event(wo, 30);
    edgecache_watcher_free(w);
    edgecache_watcher_free(wq);
    edgecache_watcher_free(wo);
    edgecache_watch_cache_free(wc);

    /* The cache's interval, taken by a request's 0, and turned off. */
    edgecache_watch_options o = default_options();
    o.bookmark_interval_ms = 20;
    wc = new_cache(&o);
    CHECK_OK(edgecache_watch_cache_add(wc, &a, 7));
    edgecache_watch_request_init(&r, sizeof r);
    r.resource_version = 7;
    r.bookmarks = true;
    w = NULL;
    CHECK_OK(edgecache_watch_cache_watch_with(wc, &r, &w));
    expect_event(w, EDGECACHE_EVENT_BOOKMARK, NULL, 7, false);
    edgecache_watcher_free(w);
    edgecache_watch_cache_free(wc);

    o.bookmark_interval_ms = EDGECACHE_WAIT_FOREVER;
    wc = new_cache(&o);
    CHECK_OK(edgecache_watch_cache_add(wc, &a, 7));
    w = NULL;
    CHECK_OK(edgecache_watch_cache_watch_with(wc, &r, &w));
    expect_no_event(w, 60);
    /* A request's own interval overrides the cache's "none". */
    edgecache_watcher *w2 = NULL;
    r.bookmark_interval_ms = 20;
    CHECK_OK(edgecache_watch_cache_watch_with(wc, &r, &w2));
    expect_event(w2, EDGECACHE_EVENT_BOOKMARK, NULL, 7, false);
    edgecache_watcher_free(w2);
    edgecache_watcher_free(w);
    edgecache_watch_cache_free(wc);
}

static void test_bookmark_after_explicit_call(void) {
    edgecache_watch_cache *wc = new_cache(NULL);
    edgecache_object a = tc_object("a", "1", NULL, 0, NULL, 0);
    CHECK_OK(edgecache_watch_cache_add(wc, &a, 3));
    edgecache_watch_request r;
    edgecache_watch_request_init(&r, sizeof r);
    r.resource_version = 3;
    r.bookmarks = true;
    r.bookmark_interval_ms = EDGECACHE_WAIT_FOREVER; /* only explicit ones */
    r.field_selector = S("metadata.name=none");
    edgecache_watcher *w = NULL;
    CHECK_OK(edgecache_watch_cache_watch_with(wc, &r, &w));
    edgecache_watch_request plain = r;
    plain.bookmarks = false;
    edgecache_watcher *wp = NULL;
    CHECK_OK(edgecache_watch_cache_watch_with(wc, &plain, &wp));
    expect_no_event(w, 0);
    CHECK_OK(edgecache_watch_cache_bookmark(wc, 50));
    expect_event(w, EDGECACHE_EVENT_BOOKMARK, NULL, 50, false);
    expect_no_event(w, 0);
    expect_no_event(wp, 0);
    uint64_t rv = 0;
    CHECK_OK(edgecache_watch_cache_resource_version(wc, &rv));
    CHECK(rv == 50);
    edgecache_watcher_free(w);
    edgecache_watcher_free(wp);
    edgecache_watch_cache_free(wc);
}

/* ---- paged lists ---- */

/* Copies a page's continue token into a fresh NUL-terminated buffer. */
static char *copy_token(const edgecache_list_page *p) {
    edgecache_str t = {NULL, 0};
    CHECK_OK(edgecache_list_page_continue(p, &t));
    CHECK(t.ptr != NULL && t.len > 0);
    char *buf = malloc(t.len + 1);
    CHECK(buf != NULL);
    memcpy(buf, t.ptr, t.len);
    buf[t.len] = '\0';
    return buf;
}

static edgecache_list_page *page_with_token(edgecache_watch_cache *wc, const char *token, size_t limit) {
    edgecache_list_request l;
    edgecache_list_request_init(&l, sizeof l);
    l.limit = limit;
    l.continue_token.ptr = token;
    l.continue_token.len = strlen(token);
    edgecache_list_page *p = NULL;
    CHECK_OK(edgecache_watch_cache_list_page(wc, &l, &p));
    CHECK(p != NULL);
    return p;
}

static edgecache_watch_cache *five_objects(size_t capacity, uint64_t rv) {
    edgecache_watch_options o = default_options();
    o.capacity = capacity;
    o.max_capacity = capacity;
    edgecache_watch_cache *wc = new_cache(&o);
    edgecache_object items[] = {tc_object("k5", "v5", NULL, 0, NULL, 0), tc_object("k1", "v1", NULL, 0, NULL, 0),
                                tc_object("k3", "v3", NULL, 0, NULL, 0), tc_object("k2", "v2", NULL, 0, NULL, 0),
                                tc_object("k4", "v4", NULL, 0, NULL, 0)};
    CHECK_OK(edgecache_watch_cache_replace(wc, items, 5, rv));
    return wc;
}

static void test_list_pages_across_writes(void) {
    edgecache_watch_cache *wc = five_objects(100, 10);
    edgecache_list_request l;
    edgecache_list_request_init(&l, sizeof l);
    l.limit = 2;
    l.resource_version = 10;
    edgecache_list_page *p = NULL;
    CHECK_OK(edgecache_watch_cache_list_page(wc, &l, &p));
    CHECK(edgecache_list_page_resource_version(p) == 10);
    const char *const page1[] = {"k1", "k2", NULL};
    check_keys(edgecache_list_page_items(p), page1);
    char *token = copy_token(p);
    edgecache_list_page_free(p);

    /* Writes between pages change nothing in the listing. */
    edgecache_object k0 = tc_object("k0", "new", NULL, 0, NULL, 0);
    edgecache_object k3 = tc_object("k3", "v3-changed", NULL, 0, NULL, 0);
    edgecache_object k4 = tc_object("k4", "", NULL, 0, NULL, 0);
    edgecache_object k6 = tc_object("k6", "new", NULL, 0, NULL, 0);
    CHECK_OK(edgecache_watch_cache_add(wc, &k0, 11));
    CHECK_OK(edgecache_watch_cache_update(wc, &k3, 12));
    CHECK_OK(edgecache_watch_cache_delete(wc, &k4, 13));

    p = page_with_token(wc, token, 2);
    free(token);
    CHECK(edgecache_list_page_resource_version(p) == 10);
    const char *const page2[] = {"k3", "k4", NULL};
    const edgecache_item_list *items = edgecache_list_page_items(p);
    check_keys(items, page2);
    check_data(edgecache_item_list_at(items, 0), "v3");
    CHECK(edgecache_item_resource_version(edgecache_item_list_at(items, 0)) == 10);
    token = copy_token(p);
    edgecache_list_page_free(p);

    CHECK_OK(edgecache_watch_cache_add(wc, &k6, 14));
    p = page_with_token(wc, token, 2);
    free(token);
    const char *const page3[] = {"k5", NULL};
    check_keys(edgecache_list_page_items(p), page3);
    CHECK(edgecache_list_page_resource_version(p) == 10);
    edgecache_str t = S("untouched");
    CHECK_STATUS(edgecache_list_page_continue(p, &t), EDGECACHE_NOT_FOUND);
    CHECK(str_is(t, "untouched"));
    edgecache_list_page_free(p);

    /* A fresh listing sees the writes. */
    edgecache_list_request_init(&l, sizeof l);
    l.resource_version = 14;
    l.limit = 100;
    p = NULL;
    CHECK_OK(edgecache_watch_cache_list_page(wc, &l, &p));
    CHECK(edgecache_list_page_resource_version(p) == 14);
    const char *const now[] = {"k0", "k1", "k2", "k3", "k5", "k6", NULL};
    check_keys(edgecache_list_page_items(p), now);
    CHECK_STATUS(edgecache_list_page_continue(p, &t), EDGECACHE_NOT_FOUND);
    edgecache_list_page_free(p);

    /* resourceVersion 0 ("any"): the current state in one page, limit ignored. */
    edgecache_list_request_init(&l, sizeof l);
    l.limit = 1;
    p = NULL;
    CHECK_OK(edgecache_watch_cache_list_page(wc, &l, &p));
    check_keys(edgecache_list_page_items(p), now);
    edgecache_list_page_free(p);

    /* Exact at an older resourceVersion still in the window. */
    edgecache_list_request_init(&l, sizeof l);
    l.resource_version = 12;
    l.resource_version_match = EDGECACHE_MATCH_EXACT;
    p = NULL;
    CHECK_OK(edgecache_watch_cache_list_page(wc, &l, &p));
    CHECK(edgecache_list_page_resource_version(p) == 12);
    const char *const at12[] = {"k0", "k1", "k2", "k3", "k4", "k5", NULL};
    items = edgecache_list_page_items(p);
    check_keys(items, at12);
    check_data(edgecache_item_list_at(items, 3), "v3-changed");
    edgecache_list_page_free(p);
    l.resource_version = 10;
    l.limit = 3;
    p = NULL;
    CHECK_OK(edgecache_watch_cache_list_page(wc, &l, &p));
    const char *const at10[] = {"k1", "k2", "k3", NULL};
    check_keys(edgecache_list_page_items(p), at10);
    check_data(edgecache_item_list_at(edgecache_list_page_items(p), 2), "v3");
    token = copy_token(p);
    edgecache_list_page_free(p);
    p = page_with_token(wc, token, 3);
    free(token);
    const char *const at10b[] = {"k4", "k5", NULL};
    check_keys(edgecache_list_page_items(p), at10b);
    edgecache_list_page_free(p);

    /* Selectors apply to pages. */
    edgecache_list_request_init(&l, sizeof l);
    l.resource_version = 14;
    l.field_selector = S("metadata.name=k1"); /* no field was ever written: accepted, matches none */
    p = NULL;
    CHECK_OK(edgecache_watch_cache_list_page(wc, &l, &p));
    CHECK(edgecache_item_list_len(edgecache_list_page_items(p)) == 0);
    edgecache_list_page_free(p);
    edgecache_watch_cache_free(wc);
}

static void test_token_expiry(void) {
    edgecache_watch_cache *wc = five_objects(2, 10);
    edgecache_list_request l;
    edgecache_list_request_init(&l, sizeof l);
    l.limit = 2;
    l.resource_version = 10;
    edgecache_list_page *p = NULL;
    CHECK_OK(edgecache_watch_cache_list_page(wc, &l, &p));
    char *token = copy_token(p);
    edgecache_list_page_free(p);

    /* Three events through a window of two: events after 10 have left. */
    edgecache_object k = tc_object("k1", "x", NULL, 0, NULL, 0);
    CHECK_OK(edgecache_watch_cache_update(wc, &k, 11));
    CHECK_OK(edgecache_watch_cache_update(wc, &k, 12));
    CHECK_OK(edgecache_watch_cache_update(wc, &k, 13));

    edgecache_list_request_init(&l, sizeof l);
    l.limit = 2;
    l.continue_token.ptr = token;
    l.continue_token.len = strlen(token);
    p = (edgecache_list_page *)&l; /* must stay untouched */
    CHECK_STATUS(edgecache_watch_cache_list_page(wc, &l, &p), EDGECACHE_RESOURCE_EXPIRED);
    CHECK(p == (edgecache_list_page *)&l);
    free(token);
    CHECK(last_error_contains("too old resource version: 10 (11)"));
    edgecache_watch_error e = last_watch_error();
    CHECK(e.http_code == 410);
    CHECK(cstr_is(e.reason, "Expired"));
    CHECK(e.cause == NULL);
    CHECK(e.requested_rv == 10);
    CHECK(e.oldest_rv == 11);
    CHECK(e.current_rv == 0);
    CHECK(e.retry_after_seconds == 0);

    /* Exact at an expired resourceVersion, and a watch from one, say the same. */
    edgecache_list_request_init(&l, sizeof l);
    l.resource_version = 10;
    l.resource_version_match = EDGECACHE_MATCH_EXACT;
    p = NULL;
    CHECK_STATUS(edgecache_watch_cache_list_page(wc, &l, &p), EDGECACHE_RESOURCE_EXPIRED);
    l.resource_version = 11;
    CHECK_OK(edgecache_watch_cache_list_page(wc, &l, &p)); /* the oldest accepted */
    edgecache_list_page_free(p);
    edgecache_watch_request r;
    edgecache_watch_request_init(&r, sizeof r);
    r.resource_version = 9;
    edgecache_watcher *w = NULL;
    CHECK_STATUS(edgecache_watch_cache_watch_with(wc, &r, &w), EDGECACHE_RESOURCE_EXPIRED);
    CHECK(w == NULL);
    e = last_watch_error();
    CHECK(e.http_code == 410 && e.requested_rv == 9 && e.oldest_rv == 11);
    edgecache_watch_cache_free(wc);
}

static void test_too_large_resource_version(void) {
    edgecache_watch_options o = default_options();
    o.fresh_timeout_ms = 30000; /* the requests' own timeouts must win */
    edgecache_watch_cache *wc = new_cache(&o);
    edgecache_object a = tc_object("a", "1", NULL, 0, NULL, 0);
    CHECK_OK(edgecache_watch_cache_add(wc, &a, 7));

    edgecache_list_request l;
    edgecache_list_request_init(&l, sizeof l);
    l.resource_version = 1000;
    l.timeout_ms = 20;
    edgecache_list_page *p = NULL;
    uint64_t start = tc_now_ms();
    CHECK_STATUS(edgecache_watch_cache_list_page(wc, &l, &p), EDGECACHE_TOO_LARGE_RESOURCE_VERSION);
    uint64_t took = tc_now_ms() - start;
    CHECKF(took >= 20 && took < 10000, "gave up after %" PRIu64 " ms", took);
    CHECK(p == NULL);
    CHECK(last_error_contains("Too large resource version: 1000, current: 7"));
    edgecache_watch_error e = last_watch_error();
    CHECK(e.http_code == 504);
    CHECK(cstr_is(e.reason, "Timeout"));
    CHECK(cstr_is(e.cause, "ResourceVersionTooLarge"));
    CHECK(e.retry_after_seconds == 1);
    CHECK(e.requested_rv == 1000);
    CHECK(e.current_rv == 7);
    CHECK(e.oldest_rv == 0);

    /* A streaming list that waits in vain. */
    edgecache_watch_request r;
    edgecache_watch_request_init(&r, sizeof r);
    r.send_initial_events = true;
    r.resource_version = 2000;
    r.fresh_timeout_ms = 20;
    edgecache_watcher *w = NULL;
    start = tc_now_ms();
    CHECK_STATUS(edgecache_watch_cache_watch_with(wc, &r, &w), EDGECACHE_TOO_LARGE_RESOURCE_VERSION);
    took = tc_now_ms() - start;
    CHECKF(took >= 20 && took < 10000, "gave up after %" PRIu64 " ms", took);
    CHECK(w == NULL);
    e = last_watch_error();
    CHECK(e.http_code == 504 && e.requested_rv == 2000 && e.current_rv == 7 && e.retry_after_seconds == 1);
    /* fresh_timeout_ms 0: do not wait at all. */
    r.fresh_timeout_ms = 0;
    CHECK_STATUS(edgecache_watch_cache_watch_with(wc, &r, &w), EDGECACHE_TOO_LARGE_RESOURCE_VERSION);
    /* Without initial events a future resourceVersion is fine: the stream starts after it. */
    r.send_initial_events = false;
    CHECK_OK(edgecache_watch_cache_watch_with(wc, &r, &w));
    expect_no_event(w, 0);
    edgecache_watcher_free(w);
    edgecache_watch_cache_free(wc);
}

/* ---- the thread's last watch error ---- */

static void *other_thread_sees_none(void *arg) {
    (void)arg;
    edgecache_watch_error e;
    CHECK_STATUS(edgecache_watch_last_error(&e), EDGECACHE_NOT_FOUND);
    return NULL;
}

static void test_last_watch_error_follows_the_last_failure(void) {
    edgecache_watch_cache *wc = new_cache(NULL);
    edgecache_watch_request r;
    edgecache_watch_request_init(&r, sizeof r);
    r.label_selector = S("app in (");
    edgecache_watcher *w = NULL;
    CHECK_STATUS(edgecache_watch_cache_watch_with(wc, &r, &w), EDGECACHE_INVALID_SELECTOR);
    edgecache_watch_error e = last_watch_error();
    CHECK(e.http_code == 400 && cstr_is(e.reason, "BadRequest") && e.cause == NULL);
    CHECK(e.requested_rv == 0 && e.oldest_rv == 0 && e.current_rv == 0 && e.retry_after_seconds == 0);

    /* Thread-local: another thread has none. */
    pthread_t t;
    CHECK_PT(pthread_create(&t, NULL, other_thread_sees_none, NULL));
    CHECK_PT(pthread_join(t, NULL));

    /* Reading it, or asking with NULL, keeps it; a success keeps it. */
    CHECK_STATUS(edgecache_watch_last_error(NULL), EDGECACHE_NULL_ARGUMENT);
    e = last_watch_error();
    CHECK(e.http_code == 400);
    uint64_t rv;
    CHECK_OK(edgecache_watch_cache_resource_version(wc, &rv));
    e = last_watch_error();
    CHECK(e.http_code == 400);

    /* A failure the C layer records itself (a NULL argument) clears it. */
    CHECK_STATUS(edgecache_watch_cache_watch_with(wc, NULL, &w), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_watch_last_error(&e), EDGECACHE_NOT_FOUND);

    /* So does a failure of another part (status messages), and a closed
     * watcher's read sets a new one. */
    CHECK_STATUS(edgecache_watch_cache_watch_with(wc, &r, &w), EDGECACHE_INVALID_SELECTOR);
    char buf[64];
    CHECK_STATUS(edgecache_status_message(999, buf, sizeof buf, NULL), EDGECACHE_INVALID_ARGUMENT);
    CHECK_STATUS(edgecache_watch_last_error(&e), EDGECACHE_NOT_FOUND);
    edgecache_watch_request_init(&r, sizeof r);
    w = NULL;
    CHECK_OK(edgecache_watch_cache_watch_with(wc, &r, &w));
    CHECK_OK(edgecache_watch_cache_close(wc));
    edgecache_event *ev = NULL;
    CHECK_STATUS(edgecache_watcher_next(w, QUICK_MS, &ev), EDGECACHE_CLOSED);
    e = last_watch_error();
    CHECK(e.http_code == 503 && cstr_is(e.reason, "ServiceUnavailable"));
    edgecache_watcher_free(w);
    edgecache_watch_cache_free(wc);
}

/* ---- selectors ---- */

static void test_set_based_selectors(void) {
    edgecache_watch_options o = default_options();
    edgecache_str idx[] = {S("label:app")};
    o.indexes = idx;
    o.n_indexes = 1;
    edgecache_watch_cache *wc = new_cache(&o);
    edgecache_pair la[] = {{S("app"), S("a")}, {S("tier"), S("web")}};
    edgecache_pair lb[] = {{S("app"), S("b")}};
    edgecache_pair lc[] = {{S("app"), S("c")}};
    edgecache_pair ld[] = {{S("app"), S("a")}, {S("canary"), S("true")}};
    edgecache_pair n1[] = {{S("spec.nodeName"), S("n1")}};
    edgecache_pair n2[] = {{S("spec.nodeName"), S("n2")}};
    edgecache_object objs[] = {tc_object("a", "a", la, 2, n1, 1), tc_object("b", "b", lb, 1, n2, 1), tc_object("c", "c", lc, 1, n1, 1),
                               tc_object("d", "d", ld, 2, n1, 1), tc_object("e", "e", NULL, 0, n2, 1)};
    CHECK_OK(edgecache_watch_cache_replace(wc, objs, 5, 3));

    edgecache_list_request l;
    edgecache_list_request_init(&l, sizeof l);
    l.label_selector = S("app in (a,b),!canary");
    edgecache_list_page *p = NULL;
    CHECK_OK(edgecache_watch_cache_list_page(wc, &l, &p));
    const char *const ab[] = {"a", "b", NULL};
    check_keys(edgecache_list_page_items(p), ab);
    edgecache_list_page_free(p);

    /* ANDed with the equality pairs. */
    edgecache_pair only_b[] = {{S("app"), S("b")}};
    l.labels = only_b;
    l.n_labels = 1;
    CHECK_OK(edgecache_watch_cache_list_page(wc, &l, &p));
    const char *const b[] = {"b", NULL};
    check_keys(edgecache_list_page_items(p), b);
    edgecache_list_page_free(p);

    /* More set-based forms, and a field selector string. */
    edgecache_list_request_init(&l, sizeof l);
    l.label_selector = S("app notin (a), app");
    CHECK_OK(edgecache_watch_cache_list_page(wc, &l, &p));
    const char *const bc[] = {"b", "c", NULL};
    check_keys(edgecache_list_page_items(p), bc);
    edgecache_list_page_free(p);
    l.label_selector = S("!app");
    l.field_selector = S("spec.nodeName!=n1");
    CHECK_OK(edgecache_watch_cache_list_page(wc, &l, &p));
    const char *const e[] = {"e", NULL};
    check_keys(edgecache_list_page_items(p), e);
    edgecache_list_page_free(p);
    edgecache_pair on_n1[] = {{S("spec.nodeName"), S("n1")}};
    l.label_selector = S("app=a");
    l.field_selector = S("");
    l.fields = on_n1;
    l.n_fields = 1;
    CHECK_OK(edgecache_watch_cache_list_page(wc, &l, &p));
    const char *const ad[] = {"a", "d", NULL};
    check_keys(edgecache_list_page_items(p), ad);
    edgecache_list_page_free(p);

    /* A watch with the same selector: its initial state and its changes. */
    edgecache_watch_request r;
    edgecache_watch_request_init(&r, sizeof r);
    r.label_selector = S("app in (a,b),!canary");
    edgecache_watcher *w = NULL;
    CHECK_OK(edgecache_watch_cache_watch_with(wc, &r, &w));
    expect_event(w, EDGECACHE_EVENT_ADDED, "a", 3, false);
    expect_event(w, EDGECACHE_EVENT_ADDED, "b", 3, false);
    edgecache_object d2 = tc_object("d", "d2", lb, 1, n1, 1); /* d leaves canary, joins b */
    CHECK_OK(edgecache_watch_cache_update(wc, &d2, 4));
    edgecache_object c2 = tc_object("c", "c2", lc, 1, n1, 1); /* never selected */
    CHECK_OK(edgecache_watch_cache_update(wc, &c2, 5));
    edgecache_object a2 = tc_object("a", "a2", ld, 2, n1, 1); /* a becomes canary: leaves */
    CHECK_OK(edgecache_watch_cache_update(wc, &a2, 6));
    expect_event(w, EDGECACHE_EVENT_ADDED, "d", 4, false);
    expect_event(w, EDGECACHE_EVENT_DELETED, "a", 6, false);
    expect_no_event(w, 0);
    edgecache_watcher_free(w);
    edgecache_watch_cache_free(wc);
}

static void test_field_selector_on_an_undeclared_field(void) {
    edgecache_watch_options o = default_options();
    edgecache_str fields[] = {S("spec.nodeName"), S("metadata.namespace")};
    edgecache_str idx[] = {S("field:status.phase")};
    o.fields = fields;
    o.n_fields = 2;
    o.indexes = idx;
    o.n_indexes = 1;
    edgecache_watch_cache *wc = new_cache(&o);
    edgecache_pair f[] = {{S("spec.nodeName"), S("n1")}, {S("status.phase"), S("Running")}};
    edgecache_object a = tc_object("a", "1", NULL, 0, f, 2);
    CHECK_OK(edgecache_watch_cache_add(wc, &a, 1));

    edgecache_watch_request r;
    edgecache_watch_request_init(&r, sizeof r);
    r.field_selector = S("spec.nodeName=n1,metadata.name=a");
    edgecache_watcher *w = NULL;
    CHECK_STATUS(edgecache_watch_cache_watch_with(wc, &r, &w), EDGECACHE_INVALID_SELECTOR);
    CHECK(w == NULL);
    CHECK(last_error_contains("metadata.name"));
    CHECK(last_error_contains("field label not supported"));
    edgecache_watch_error e = last_watch_error();
    CHECK(e.http_code == 400 && cstr_is(e.reason, "BadRequest"));
    char msg[128];
    CHECK_OK(edgecache_status_message(EDGECACHE_INVALID_SELECTOR, msg, sizeof msg, NULL));
    CHECK(strcmp(msg, "invalid label or field selector") == 0);
    CHECK(EDGECACHE_INVALID_SELECTOR == 16);

    /* The same through a list, through the equality pairs, and through
     * the older calls. */
    edgecache_list_request l;
    edgecache_list_request_init(&l, sizeof l);
    edgecache_pair bad[] = {{S("metadata.name"), S("a")}};
    l.fields = bad;
    l.n_fields = 1;
    edgecache_list_page *p = NULL;
    CHECK_STATUS(edgecache_watch_cache_list_page(wc, &l, &p), EDGECACHE_INVALID_SELECTOR);
    CHECK(last_error_contains("metadata.name"));
    edgecache_item_list *il = NULL;
    uint64_t at = 0;
    CHECK_STATUS(edgecache_watch_cache_list(wc, 0, NULL, 0, bad, 1, EDGECACHE_DEFAULT_TIMEOUT, &il, &at),
                 EDGECACHE_INVALID_SELECTOR);
    CHECK_STATUS(edgecache_watch_cache_watch(wc, 0, NULL, 0, bad, 1, false, 0, &w), EDGECACHE_INVALID_SELECTOR);

    /* Declared fields, and those of field: indexes, are accepted. */
    r.field_selector = S("spec.nodeName=n1,metadata.namespace!=kube-system,status.phase=Running");
    CHECK_OK(edgecache_watch_cache_watch_with(wc, &r, &w));
    expect_event(w, EDGECACHE_EVENT_ADDED, "a", 1, false);
    edgecache_watcher_free(w);
    edgecache_watch_cache_free(wc);
}

static void test_bad_selector_syntax(void) {
    edgecache_watch_cache *wc = new_cache(NULL);
    const char *bad_labels[] = {"app in ()", "app in (a", "app=(x)", "!", "app==a==b", "-bad-key=x"};
    for (size_t i = 0; i < sizeof bad_labels / sizeof bad_labels[0]; i++) {
        edgecache_watch_request r;
        edgecache_watch_request_init(&r, sizeof r);
        r.label_selector.ptr = bad_labels[i];
        r.label_selector.len = strlen(bad_labels[i]);
        edgecache_watcher *w = NULL;
        edgecache_status s = edgecache_watch_cache_watch_with(wc, &r, &w);
        CHECKF(s == EDGECACHE_INVALID_SELECTOR, "label selector \"%s\": status %d", bad_labels[i], (int)s);
        CHECK(w == NULL);
        edgecache_list_request l;
        edgecache_list_request_init(&l, sizeof l);
        l.label_selector = r.label_selector;
        edgecache_list_page *p = NULL;
        s = edgecache_watch_cache_list_page(wc, &l, &p);
        CHECKF(s == EDGECACHE_INVALID_SELECTOR, "label selector \"%s\": status %d", bad_labels[i], (int)s);
        CHECK(p == NULL);
    }
    const char *bad_fields[] = {"novalue", "=x", "a=b\\"};
    for (size_t i = 0; i < sizeof bad_fields / sizeof bad_fields[0]; i++) {
        edgecache_list_request l;
        edgecache_list_request_init(&l, sizeof l);
        l.field_selector.ptr = bad_fields[i];
        l.field_selector.len = strlen(bad_fields[i]);
        edgecache_list_page *p = NULL;
        edgecache_status s = edgecache_watch_cache_list_page(wc, &l, &p);
        CHECKF(s == EDGECACHE_INVALID_SELECTOR, "field selector \"%s\": status %d", bad_fields[i], (int)s);
    }
    /* Not UTF-8: an invalid argument, before any parsing. */
    edgecache_watch_request r;
    edgecache_watch_request_init(&r, sizeof r);
    r.label_selector = S("app=\xff");
    edgecache_watcher *w = NULL;
    CHECK_STATUS(edgecache_watch_cache_watch_with(wc, &r, &w), EDGECACHE_INVALID_ARGUMENT);
    edgecache_watch_error e;
    CHECK_STATUS(edgecache_watch_last_error(&e), EDGECACHE_NOT_FOUND);
    /* Fine ones, including the empty string (everything). */
    const char *good[] = {"", "app", "app in (a, b)", " app = a , tier != db ", "x>3", "example.com/app=a"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        edgecache_watch_request_init(&r, sizeof r);
        r.label_selector.ptr = good[i];
        r.label_selector.len = strlen(good[i]);
        w = NULL;
        edgecache_status s = edgecache_watch_cache_watch_with(wc, &r, &w);
        CHECKF(s == EDGECACHE_OK, "label selector \"%s\": status %d", good[i], (int)s);
        edgecache_watcher_free(w);
    }
    edgecache_watch_cache_free(wc);
}

/* ---- bad input ---- */

static void test_null_and_bad_arguments(void) {
    edgecache_watch_cache *wc = new_cache(NULL);
    edgecache_object a = tc_object("a", "1", NULL, 0, NULL, 0);
    CHECK_OK(edgecache_watch_cache_add(wc, &a, 1));
    edgecache_watch_request r;
    edgecache_watch_request_init(&r, sizeof r);
    edgecache_watcher *w = NULL;
    CHECK_STATUS(edgecache_watch_cache_watch_with(NULL, &r, &w), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_watch_cache_watch_with(wc, NULL, &w), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_watch_cache_watch_with(wc, &r, NULL), EDGECACHE_NULL_ARGUMENT);
    r.n_labels = 2; /* NULL labels with a count */
    CHECK_STATUS(edgecache_watch_cache_watch_with(wc, &r, &w), EDGECACHE_NULL_ARGUMENT);
    edgecache_pair one[] = {{S("app"), S("a")}};
    r.labels = one;
    r.n_labels = SIZE_MAX;
    CHECK_STATUS(edgecache_watch_cache_watch_with(wc, &r, &w), EDGECACHE_INVALID_ARGUMENT);
    r.n_labels = 0;
    r.fields = one;
    r.n_fields = SIZE_MAX / 2;
    CHECK_STATUS(edgecache_watch_cache_watch_with(wc, &r, &w), EDGECACHE_INVALID_ARGUMENT);
    r.n_fields = 0;
    r.label_selector.ptr = NULL;
    r.label_selector.len = 4;
    CHECK_STATUS(edgecache_watch_cache_watch_with(wc, &r, &w), EDGECACHE_NULL_ARGUMENT);
    CHECK(w == NULL);

    edgecache_list_request l;
    edgecache_list_request_init(&l, sizeof l);
    edgecache_list_page *p = NULL;
    CHECK_STATUS(edgecache_watch_cache_list_page(NULL, &l, &p), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_watch_cache_list_page(wc, NULL, &p), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_watch_cache_list_page(wc, &l, NULL), EDGECACHE_NULL_ARGUMENT);
    l.resource_version_match = 3; /* unknown */
    l.resource_version = 1;
    CHECK_STATUS(edgecache_watch_cache_list_page(wc, &l, &p), EDGECACHE_INVALID_ARGUMENT);
    CHECK(last_error_contains("EDGECACHE_MATCH"));
    l.resource_version_match = EDGECACHE_MATCH_EXACT;
    l.resource_version = 0; /* Exact needs a resourceVersion */
    CHECK_STATUS(edgecache_watch_cache_list_page(wc, &l, &p), EDGECACHE_INVALID_ARGUMENT);
    edgecache_list_request_init(&l, sizeof l);
    l.continue_token = S("not-a-token");
    CHECK_STATUS(edgecache_watch_cache_list_page(wc, &l, &p), EDGECACHE_INVALID_ARGUMENT);
    /* A real token with a resourceVersion is refused too. */
    edgecache_object more[] = {tc_object("b", "2", NULL, 0, NULL, 0), tc_object("c", "3", NULL, 0, NULL, 0)};
    CHECK_OK(edgecache_watch_cache_add(wc, &more[0], 2));
    CHECK_OK(edgecache_watch_cache_add(wc, &more[1], 3));
    edgecache_list_request_init(&l, sizeof l);
    l.limit = 1;
    l.resource_version = 3;
    CHECK_OK(edgecache_watch_cache_list_page(wc, &l, &p));
    edgecache_str tok;
    CHECK_OK(edgecache_list_page_continue(p, &tok));
    l.continue_token = tok;
    edgecache_list_page *p2 = NULL;
    CHECK_STATUS(edgecache_watch_cache_list_page(wc, &l, &p2), EDGECACHE_INVALID_ARGUMENT);
    l.resource_version = 0;
    CHECK_OK(edgecache_watch_cache_list_page(wc, &l, &p2)); /* the token lent by a live page */
    const char *const second[] = {"b", NULL};
    check_keys(edgecache_list_page_items(p2), second);
    edgecache_list_page_free(p2);
    CHECK_STATUS(edgecache_list_page_continue(NULL, &tok), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_list_page_continue(p, NULL), EDGECACHE_NULL_ARGUMENT);
    edgecache_list_page_free(p);
    edgecache_list_request_init(&l, sizeof l);
    l.n_labels = 1; /* NULL with a count */
    CHECK_STATUS(edgecache_watch_cache_list_page(wc, &l, &p), EDGECACHE_NULL_ARGUMENT);
    l.labels = one;
    l.n_labels = SIZE_MAX;
    CHECK_STATUS(edgecache_watch_cache_list_page(wc, &l, &p), EDGECACHE_INVALID_ARGUMENT);

    CHECK(edgecache_list_page_items(NULL) == NULL);
    CHECK(edgecache_list_page_resource_version(NULL) == 0);
    edgecache_list_page_free(NULL);
    CHECK(!edgecache_event_initial_events_end(NULL));
    CHECK_STATUS(edgecache_watch_last_error(NULL), EDGECACHE_NULL_ARGUMENT);

    /* Counts no array can have, everywhere a count is taken. */
    CHECK_STATUS(edgecache_watch_cache_replace(wc, more, SIZE_MAX, 10), EDGECACHE_INVALID_ARGUMENT);
    CHECK(last_error_contains("too large"));
    edgecache_item_list *il = NULL;
    uint64_t at;
    CHECK_STATUS(edgecache_watch_cache_list(wc, 0, one, SIZE_MAX, NULL, 0, 0, &il, &at), EDGECACHE_INVALID_ARGUMENT);
    CHECK_STATUS(edgecache_watch_cache_watch(wc, 0, NULL, 0, one, SIZE_MAX, false, 0, &w), EDGECACHE_INVALID_ARGUMENT);
    edgecache_object huge = tc_object("z", "z", one, SIZE_MAX, NULL, 0);
    CHECK_STATUS(edgecache_watch_cache_add(wc, &huge, 20), EDGECACHE_INVALID_ARGUMENT);
    huge = tc_object("z", "z", NULL, 0, one, SIZE_MAX / 3);
    CHECK_STATUS(edgecache_watch_cache_add(wc, &huge, 20), EDGECACHE_INVALID_ARGUMENT);

    /* The cache still works. */
    edgecache_list_request_init(&l, sizeof l);
    CHECK_OK(edgecache_watch_cache_list_page(wc, &l, &p));
    CHECK(edgecache_item_list_len(edgecache_list_page_items(p)) == 3);
    edgecache_list_page_free(p);
    edgecache_watch_cache_free(wc);
}

static void test_option_counts(void) {
    edgecache_str idx[] = {S("label:app")};
    edgecache_watch_options o = default_options();
    o.indexes = idx;
    o.n_indexes = SIZE_MAX;
    edgecache_watch_cache *wc = NULL;
    CHECK_STATUS(edgecache_watch_cache_new(&o, &wc), EDGECACHE_INVALID_ARGUMENT);
    CHECK(wc == NULL);
    CHECK(last_error_contains("indexes"));
    o.n_indexes = SIZE_MAX / sizeof(edgecache_str) + 1;
    CHECK_STATUS(edgecache_watch_cache_new(&o, &wc), EDGECACHE_INVALID_ARGUMENT);
    o.n_indexes = 1;
    o.fields = idx;
    o.n_fields = SIZE_MAX;
    CHECK_STATUS(edgecache_watch_cache_new(&o, &wc), EDGECACHE_INVALID_ARGUMENT);
    CHECK(last_error_contains("fields"));
    o.fields = NULL;
    o.n_fields = 1;
    CHECK_STATUS(edgecache_watch_cache_new(&o, &wc), EDGECACHE_NULL_ARGUMENT);
    CHECK(wc == NULL);
    edgecache_str bad_utf8[] = {S("\xc3")};
    o.fields = bad_utf8;
    CHECK_STATUS(edgecache_watch_cache_new(&o, &wc), EDGECACHE_INVALID_ARGUMENT);
    /* (NULL, 0) fields: not declared; the cache learns from writes. */
    o.fields = NULL;
    o.n_fields = 0;
    wc = new_cache(&o);
    edgecache_list_request l;
    edgecache_list_request_init(&l, sizeof l);
    l.field_selector = S("anything.at.all=x");
    edgecache_list_page *p = NULL;
    CHECK_OK(edgecache_watch_cache_list_page(wc, &l, &p));
    edgecache_list_page_free(p);
    edgecache_pair f[] = {{S("spec.nodeName"), S("n1")}};
    edgecache_object a = tc_object("a", "1", NULL, 0, f, 1);
    CHECK_OK(edgecache_watch_cache_add(wc, &a, 1));
    CHECK_STATUS(edgecache_watch_cache_list_page(wc, &l, &p), EDGECACHE_INVALID_SELECTOR);
    l.field_selector = S("spec.nodeName=n1");
    CHECK_OK(edgecache_watch_cache_list_page(wc, &l, &p));
    CHECK(edgecache_item_list_len(edgecache_list_page_items(p)) == 1);
    edgecache_list_page_free(p);
    edgecache_watch_cache_free(wc);
}

int main(void) {
    printf("test_watch_protocol\n");
    RUN(test_request_init);
    RUN(test_request_size_rule);
    RUN(test_list_unset_match_is_not_older_than);
    RUN(test_streaming_list);
    RUN(test_periodic_bookmarks_on_a_selective_watcher);
    RUN(test_bookmark_after_explicit_call);
    RUN(test_list_pages_across_writes);
    RUN(test_token_expiry);
    RUN(test_too_large_resource_version);
    RUN(test_last_watch_error_follows_the_last_failure);
    RUN(test_set_based_selectors);
    RUN(test_field_selector_on_an_undeclared_field);
    RUN(test_bad_selector_syntax);
    RUN(test_null_and_bad_arguments);
    RUN(test_option_counts);
    return 0;
}
