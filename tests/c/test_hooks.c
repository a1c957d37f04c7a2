/*
 * Completion hooks and tickets of the C ABI: a group get that does not block
 * a thread (edgecache_group_begin and its ticket), the flight ticket's hook,
 * a watcher's and a watch cache's hooks; and the contract's defects: a
 * recursive load, a getter that sets nothing, a second sink error, a
 * leader that leaves.
 */
#include "test_common.h"

/* A hook that counts its runs and remembers the thread it ran on. */
struct ready {
    atomic_int runs;
    pthread_t thread;
};

static void ready_init(struct ready *r) { atomic_init(&r->runs, 0); }

static void on_ready(void *user_data) {
    struct ready *r = user_data;
    r->thread = pthread_self();
    atomic_fetch_add(&r->runs, 1);
}

static int32_t upper_getter(void *user_data, const uint8_t *key, size_t key_len, edgecache_sink *sink) {
    atomic_int *calls = user_data;
    atomic_fetch_add(calls, 1);
    uint8_t buf[64];
    CHECK(key_len <= sizeof buf);
    for (size_t i = 0; i < key_len; i++) buf[i] = (uint8_t)(key[i] >= 'a' && key[i] <= 'z' ? key[i] - 32 : key[i]);
    CHECK_OK(edgecache_sink_set_bytes(sink, buf, key_len));
    return 0;
}

static void test_group_tickets(void) {
    atomic_int calls;
    atomic_init(&calls, 0);
    edgecache_group *g = NULL;
    CHECK_OK(edgecache_group_new(LIT("test_hooks/tickets"), 1 << 16, 0, upper_getter, &calls, NULL, NULL, &g));
    edgecache_bytes v = {NULL, 0};
    edgecache_group_ticket *lead = NULL, *wait = NULL;
    CHECK_STATUS(edgecache_group_begin(g, LIT("k"), &v, &lead), EDGECACHE_PENDING);
    CHECK(lead != NULL && edgecache_group_ticket_is_leader(lead));
    CHECK_STATUS(edgecache_group_begin(g, LIT("k"), &v, &wait), EDGECACHE_PENDING);
    CHECK(wait != NULL && !edgecache_group_ticket_is_leader(wait));

    /* Wrong roles are refused and change nothing. */
    struct ready r;
    ready_init(&r);
    CHECK_STATUS(edgecache_group_ticket_on_ready(lead, on_ready, &r), EDGECACHE_WRONG_STATE);
    CHECK_STATUS(edgecache_group_ticket_result(lead, &v, NULL), EDGECACHE_WRONG_STATE);
    CHECK_STATUS(edgecache_group_ticket_complete(wait, LIT("x")), EDGECACHE_WRONG_STATE);
    CHECK_STATUS(edgecache_group_ticket_on_ready(wait, NULL, &r), EDGECACHE_NULL_ARGUMENT);

    CHECK_OK(edgecache_group_ticket_on_ready(wait, on_ready, &r));
    CHECK(atomic_load(&r.runs) == 0);
    CHECK_STATUS(edgecache_group_ticket_result(wait, &v, NULL), EDGECACHE_PENDING);
    CHECK_STATUS(edgecache_group_ticket_wait(wait, 0, &v, NULL), EDGECACHE_TIMEOUT);
    CHECK_STATUS(edgecache_group_ticket_wait(wait, 5, &v, NULL), EDGECACHE_TIMEOUT);

    /* The leader publishes a value it made itself: the hook runs on this
     * thread, inside the call, once. */
    CHECK_OK(edgecache_group_ticket_complete(lead, LIT("mine")));
    CHECK(atomic_load(&r.runs) == 1);
    CHECK(pthread_equal(r.thread, pthread_self()));
    CHECK_STATUS(edgecache_group_ticket_complete(lead, LIT("again")), EDGECACHE_WRONG_STATE);
    CHECK_OK(edgecache_group_ticket_result(wait, &v, NULL));
    CHECK_BYTES_LIT(v, "mine");
    edgecache_bytes_free(v);
    CHECK_STATUS(edgecache_group_ticket_result(wait, &v, NULL), EDGECACHE_WRONG_STATE);
    /* A finished ticket runs a late hook at once. */
    CHECK_OK(edgecache_group_ticket_on_ready(wait, on_ready, &r));
    CHECK(atomic_load(&r.runs) == 2);
    edgecache_group_ticket_free(lead);
    edgecache_group_ticket_free(wait);

    /* Now a hit: no ticket. */
    edgecache_group_ticket *t = (edgecache_group_ticket *)&v;
    CHECK_OK(edgecache_group_begin(g, LIT("k"), &v, &t));
    CHECK(t == NULL);
    CHECK_BYTES_LIT(v, "mine");
    edgecache_bytes_free(v);
    CHECK(atomic_load(&calls) == 0);

    /* A leader that loads the group's own way runs the getter here. */
    CHECK_STATUS(edgecache_group_begin(g, LIT("abc"), &v, &t), EDGECACHE_PENDING);
    CHECK_OK(edgecache_group_ticket_load(t, NULL, &v, NULL));
    CHECK_BYTES_LIT(v, "ABC");
    edgecache_bytes_free(v);
    edgecache_group_ticket_free(t);
    CHECK(atomic_load(&calls) == 1);

    edgecache_group_stats st;
    CHECK_OK(edgecache_group_get_stats(g, &st));
    CHECK(st.gets == 4 && st.cache_hits == 1 && st.loads == 3 && st.loads_deduped == 2 && st.local_loads == 2);

    /* Bad arguments. */
    CHECK_STATUS(edgecache_group_begin(NULL, LIT("k"), &v, &t), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_group_begin(g, LIT("k"), NULL, &t), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_group_begin(g, LIT("k"), &v, NULL), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_group_begin(g, NULL, 5, &v, &t), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_group_ticket_result(NULL, &v, NULL), EDGECACHE_NULL_ARGUMENT);
    CHECK(!edgecache_group_ticket_is_leader(NULL));
    edgecache_group_ticket_free(NULL);

    CHECK_OK(edgecache_group_close(g));
    CHECK_STATUS(edgecache_group_begin(g, LIT("k"), &v, &t), EDGECACHE_CLOSED);
    edgecache_group_free(g);
}

/* A leader that frees its ticket unfinished abandons the load: the waiter's
 * hook runs with EDGECACHE_ABANDONED, and it rejoins as the new leader. */
static void test_abandoned_leader_hands_over(void) {
    atomic_int calls;
    atomic_init(&calls, 0);
    edgecache_group *g = NULL;
    CHECK_OK(edgecache_group_new(LIT("test_hooks/abandon"), 1 << 16, 0, upper_getter, &calls, NULL, NULL, &g));
    edgecache_bytes v = {NULL, 0};
    edgecache_group_ticket *lead = NULL, *wait = NULL;
    CHECK_STATUS(edgecache_group_begin(g, LIT("k"), &v, &lead), EDGECACHE_PENDING);
    CHECK_STATUS(edgecache_group_begin(g, LIT("k"), &v, &wait), EDGECACHE_PENDING);
    struct ready r;
    ready_init(&r);
    CHECK_OK(edgecache_group_ticket_on_ready(wait, on_ready, &r));
    edgecache_group_ticket_free(lead);
    CHECK(atomic_load(&r.runs) == 1);
    edgecache_error *err = NULL;
    CHECK_STATUS(edgecache_group_ticket_result(wait, &v, &err), EDGECACHE_ABANDONED);
    CHECK(err != NULL);
    edgecache_error_free(err);
    edgecache_group_ticket_free(wait);
    edgecache_group_ticket *again = NULL;
    CHECK_STATUS(edgecache_group_rejoin(g, LIT("k"), &v, &again), EDGECACHE_PENDING);
    CHECK(edgecache_group_ticket_is_leader(again));
    CHECK_OK(edgecache_group_ticket_load(again, NULL, &v, NULL));
    CHECK_BYTES_LIT(v, "K");
    edgecache_bytes_free(v);
    edgecache_group_ticket_free(again);
    edgecache_group_stats st;
    CHECK_OK(edgecache_group_get_stats(g, &st));
    CHECKF(st.gets == 2, "a rejoin is not another get: %" PRIu64, st.gets);
    CHECK(atomic_load(&calls) == 1);
    CHECK_OK(edgecache_group_close(g));
    edgecache_group_free(g);
}

/* A leader ticket's failure reaches the waiter with the code, and the
 * group's release_error hook gets it once nobody holds it. */
static atomic_int released_codes;
static atomic_ullong last_code;

static void release_code(void *user_data, uint64_t code) {
    (void)user_data;
    atomic_store(&last_code, code);
    atomic_fetch_add(&released_codes, 1);
}

static void test_ticket_fail_releases_code(void) {
    atomic_int calls;
    atomic_init(&calls, 0);
    atomic_init(&released_codes, 0);
    edgecache_group *g = NULL;
    CHECK_OK(edgecache_group_new(LIT("test_hooks/fail"), 1 << 16, 0, upper_getter, &calls, NULL, release_code, &g));
    edgecache_bytes v = {NULL, 0};
    edgecache_group_ticket *lead = NULL, *wait = NULL;
    CHECK_STATUS(edgecache_group_begin(g, LIT("k"), &v, &lead), EDGECACHE_PENDING);
    CHECK_STATUS(edgecache_group_begin(g, LIT("k"), &v, &wait), EDGECACHE_PENDING);
    CHECK_OK(edgecache_group_ticket_fail(lead, false, 31, LIT("upstream down")));
    edgecache_error *err = NULL;
    CHECK_STATUS(edgecache_group_ticket_result(wait, &v, &err), EDGECACHE_GETTER_FAILED);
    CHECK(edgecache_error_code(err) == 31);
    CHECK(atomic_load(&released_codes) == 0);
    edgecache_error_free(err);
    CHECK(atomic_load(&released_codes) == 1 && atomic_load(&last_code) == 31);
    edgecache_group_ticket_free(lead);
    edgecache_group_ticket_free(wait);

    /* no_value: the contract's "sets nothing". */
    CHECK_STATUS(edgecache_group_begin(g, LIT("n"), &v, &lead), EDGECACHE_PENDING);
    CHECK_STATUS(edgecache_group_begin(g, LIT("n"), &v, &wait), EDGECACHE_PENDING);
    CHECK_OK(edgecache_group_ticket_fail(lead, true, 0, NULL, 0));
    CHECK_STATUS(edgecache_group_ticket_wait(wait, EDGECACHE_WAIT_FOREVER, &v, NULL), EDGECACHE_NO_VALUE);
    edgecache_group_ticket_free(lead);
    edgecache_group_ticket_free(wait);
    CHECK_OK(edgecache_group_close(g));
    edgecache_group_free(g);
}

/* ---- the defects ---- */

/* A getter that gets its own key from its own group fails at once with
 * EDGECACHE_RECURSIVE_LOAD (it used to deadlock). */
struct self_ref {
    edgecache_group *g;
    edgecache_status inner;
};

static int32_t self_getter(void *user_data, const uint8_t *key, size_t key_len, edgecache_sink *sink) {
    struct self_ref *s = user_data;
    edgecache_bytes b = {NULL, 0};
    edgecache_error *err = NULL;
    s->inner = edgecache_group_get(s->g, key, key_len, EDGECACHE_WAIT_FOREVER, &b, &err);
    if (err != NULL) edgecache_error_free(err);
    if (s->inner == EDGECACHE_OK) edgecache_bytes_free(b);
    CHECK_OK(edgecache_sink_set_bytes(sink, LIT("outer")));
    return 0;
}

static void test_recursive_load_fails_at_once(void) {
    struct self_ref s = {NULL, EDGECACHE_OK};
    CHECK_OK(edgecache_group_new(LIT("test_hooks/recursive"), 1 << 16, 0, self_getter, &s, NULL, NULL, &s.g));
    edgecache_bytes v = {NULL, 0};
    CHECK_OK(edgecache_group_get(s.g, LIT("k"), EDGECACHE_WAIT_FOREVER, &v, NULL));
    CHECK_BYTES_LIT(v, "outer");
    edgecache_bytes_free(v);
    CHECK_STATUS(s.inner, EDGECACHE_RECURSIVE_LOAD);
    CHECK_OK(edgecache_group_close(s.g));
    edgecache_group_free(s.g);
}

/* A getter that reports two errors: the first one's code is released at
 * once (it used to leak), the second reaches the caller. */
static int32_t two_errors(void *user_data, const uint8_t *key, size_t key_len, edgecache_sink *sink) {
    (void)user_data;
    (void)key;
    (void)key_len;
    CHECK_OK(edgecache_sink_set_error(sink, 1, LIT("first")));
    CHECK_OK(edgecache_sink_set_error(sink, 2, LIT("second")));
    return 1;
}

static void test_second_sink_error_releases_the_first(void) {
    atomic_init(&released_codes, 0);
    edgecache_group *g = NULL;
    CHECK_OK(edgecache_group_new(LIT("test_hooks/two_errors"), 1 << 16, 0, two_errors, NULL, NULL, release_code, &g));
    edgecache_bytes v = {NULL, 0};
    edgecache_error *err = NULL;
    CHECK_STATUS(edgecache_group_get(g, LIT("k"), EDGECACHE_WAIT_FOREVER, &v, &err), EDGECACHE_GETTER_FAILED);
    CHECK(atomic_load(&released_codes) == 1 && atomic_load(&last_code) == 1);
    CHECK(edgecache_error_code(err) == 2);
    edgecache_error_free(err);
    CHECK(atomic_load(&released_codes) == 2 && atomic_load(&last_code) == 2);
    CHECK_OK(edgecache_group_close(g));
    edgecache_group_free(g);
}

/* edgecache_group_getter_data finds a group's own context from any handle. */
static void test_getter_data(void) {
    atomic_int calls;
    atomic_init(&calls, 0);
    edgecache_group *g = NULL, *found = NULL;
    CHECK_OK(edgecache_group_new(LIT("test_hooks/data"), 1 << 16, 0, upper_getter, &calls, NULL, NULL, &g));
    CHECK_OK(edgecache_group_lookup(LIT("test_hooks/data"), &found));
    void *ud = NULL;
    CHECK_OK(edgecache_group_getter_data(found, upper_getter, &ud));
    CHECK(ud == &calls);
    CHECK_STATUS(edgecache_group_getter_data(found, two_errors, &ud), EDGECACHE_NOT_FOUND);
    CHECK_STATUS(edgecache_group_getter_data(found, NULL, &ud), EDGECACHE_NOT_FOUND);
    CHECK_STATUS(edgecache_group_getter_data(NULL, upper_getter, &ud), EDGECACHE_NULL_ARGUMENT);
    edgecache_group_free(found);
    CHECK_OK(edgecache_group_close(g));
    edgecache_group_free(g);
}

/* ---- flight ticket hooks ---- */

static void test_flight_ticket_hook(void) {
    edgecache_flight *f = NULL;
    CHECK_OK(edgecache_flight_new(&f));
    edgecache_ticket *lead = NULL, *wait = NULL;
    bool leader = false;
    CHECK_OK(edgecache_flight_begin(f, LIT("k"), &lead, &leader));
    CHECK(leader);
    CHECK_OK(edgecache_flight_begin(f, LIT("k"), &wait, &leader));
    CHECK(!leader);
    struct ready r;
    ready_init(&r);
    CHECK_STATUS(edgecache_ticket_on_ready(lead, on_ready, &r), EDGECACHE_WRONG_STATE);
    CHECK_OK(edgecache_ticket_on_ready(wait, on_ready, &r));
    edgecache_bytes v = {NULL, 0};
    CHECK_STATUS(edgecache_ticket_result(wait, &v, NULL), EDGECACHE_PENDING);
    CHECK(atomic_load(&r.runs) == 0);
    CHECK_OK(edgecache_ticket_complete(lead, LIT("v"), NULL));
    CHECK(atomic_load(&r.runs) == 1);
    CHECK_OK(edgecache_ticket_result(wait, &v, NULL));
    CHECK_BYTES_LIT(v, "v");
    edgecache_bytes_free(v);
    CHECK_STATUS(edgecache_ticket_result(wait, &v, NULL), EDGECACHE_WRONG_STATE);
    edgecache_ticket_free(lead);
    edgecache_ticket_free(wait);
    edgecache_flight_free(f);
}

/* ---- watch hooks ---- */

static void add(edgecache_watch_cache *wc, const char *key, uint64_t rv) {
    edgecache_object o;
    memset(&o, 0, sizeof o);
    o.key.ptr = key;
    o.key.len = strlen(key);
    o.data = (const uint8_t *)"{}";
    o.data_len = 2;
    CHECK_OK(edgecache_watch_cache_add(wc, &o, rv));
}

struct writer {
    edgecache_watch_cache *wc;
    pthread_t thread;
};

static void *write_later(void *arg) {
    struct writer *w = arg;
    tc_sleep_ms(20);
    add(w->wc, "late", 2);
    return NULL;
}

static void test_watcher_hook(void) {
    edgecache_watch_cache *wc = NULL;
    CHECK_OK(edgecache_watch_cache_new(NULL, &wc));
    edgecache_watcher *w = NULL;
    CHECK_OK(edgecache_watch_cache_watch(wc, 0, NULL, 0, NULL, 0, false, 0, &w));
    struct ready r;
    ready_init(&r);
    uint64_t recheck = 0;
    uint64_t id = 99;
    CHECK_OK(edgecache_watcher_on_ready(w, on_ready, &r, &recheck, &id));
    CHECK(id != 0);
    CHECK(recheck == EDGECACHE_WAIT_FOREVER);
    CHECK(atomic_load(&r.runs) == 0);
    add(wc, "a", 1);
    CHECK(atomic_load(&r.runs) == 1);
    edgecache_event *ev = NULL;
    CHECK_OK(edgecache_watcher_next(w, 0, &ev));
    edgecache_event_free(ev);
    CHECK_STATUS(edgecache_watcher_next(w, 0, &ev), EDGECACHE_TIMEOUT);

    /* A writer on another thread runs the hook there. */
    CHECK_OK(edgecache_watcher_on_ready(w, on_ready, &r, NULL, NULL));
    struct writer wr = {wc, pthread_self()};
    pthread_t t;
    CHECK_PT(pthread_create(&t, NULL, write_later, &wr));
    uint64_t start = tc_now_ms();
    while (atomic_load(&r.runs) < 2) {
        CHECKF(tc_now_ms() - start < TC_WAIT_LIMIT_MS, "the writer never ran the hook");
        tc_sleep_ms(1);
    }
    CHECK_PT(pthread_join(t, NULL));
    CHECK(pthread_equal(r.thread, t));

    /* A cancelled hook never runs, however the watcher goes on. */
    CHECK_OK(edgecache_watcher_next(w, 0, &ev));
    edgecache_event_free(ev);
    struct ready never;
    ready_init(&never);
    CHECK_OK(edgecache_watcher_on_ready(w, on_ready, &never, NULL, &id));
    bool cancelled = false;
    CHECK_OK(edgecache_watcher_cancel_ready(w, id, &cancelled));
    CHECK(cancelled);
    CHECK_OK(edgecache_watcher_cancel_ready(w, id, &cancelled));
    CHECK(!cancelled);
    CHECK_OK(edgecache_watcher_cancel_ready(w, 0, &cancelled));
    CHECK(!cancelled);
    add(wc, "after-cancel", 3);
    CHECK(atomic_load(&never.runs) == 0);

    /* Freeing the watcher runs a pending hook. */
    CHECK_OK(edgecache_watcher_next(w, 0, &ev));
    edgecache_event_free(ev);
    CHECK_OK(edgecache_watcher_on_ready(w, on_ready, &r, NULL, NULL));
    CHECK(atomic_load(&r.runs) == 2);
    edgecache_watcher_free(w);
    CHECK(atomic_load(&r.runs) == 3);
    CHECK_STATUS(edgecache_watcher_on_ready(NULL, on_ready, &r, NULL, NULL), EDGECACHE_NULL_ARGUMENT);
    edgecache_watch_cache_free(wc);
}

static void test_fresh_hook(void) {
    edgecache_watch_cache *wc = NULL;
    CHECK_OK(edgecache_watch_cache_new(NULL, &wc));
    struct ready now, later, cancelled;
    ready_init(&now);
    ready_init(&later);
    ready_init(&cancelled);
    uint64_t id = 99;
    CHECK_OK(edgecache_watch_cache_on_fresh(wc, 0, on_ready, &now, &id));
    CHECK(id == 0 && atomic_load(&now.runs) == 1);
    CHECK_OK(edgecache_watch_cache_on_fresh(wc, 2, on_ready, &later, &id));
    CHECK(id != 0);
    uint64_t cid = 0;
    CHECK_OK(edgecache_watch_cache_on_fresh(wc, 5, on_ready, &cancelled, &cid));
    add(wc, "a", 1);
    CHECK(atomic_load(&later.runs) == 0);
    CHECK_OK(edgecache_watch_cache_bookmark(wc, 2));
    CHECK(atomic_load(&later.runs) == 1);
    bool gone = true;
    CHECK_OK(edgecache_watch_cache_cancel_fresh(wc, id, &gone));
    CHECK(!gone);
    CHECK_OK(edgecache_watch_cache_cancel_fresh(wc, cid, &gone));
    CHECK(gone);
    CHECK_OK(edgecache_watch_cache_cancel_fresh(wc, 0, &gone));
    CHECK(!gone);
    edgecache_watch_cache_free(wc);
    CHECK(atomic_load(&cancelled.runs) == 0);
}

/* Why a watcher closed, as values: fell behind (resume) or relisted (list
 * again), told apart without parsing text. */
static const char *reason_name(uint32_t r) {
    switch ((enum edgecache_close_reason)r) { /* the enum tag: -Wswitch checks the cases */
    case EDGECACHE_CLOSE_NONE: return "open";
    case EDGECACHE_CLOSE_FELL_BEHIND: return "fell behind";
    case EDGECACHE_CLOSE_RELISTED: return "relisted";
    case EDGECACHE_CLOSE_CACHE_CLOSED: return "cache closed";
    case EDGECACHE_CLOSE_STOPPED: return "stopped";
    }
    return "unknown";
}

static void test_close_info(void) {
    edgecache_watch_cache *wc = NULL;
    CHECK_OK(edgecache_watch_cache_new(NULL, &wc));
    edgecache_watcher *slow = NULL, *relisted = NULL, *stopped = NULL;
    CHECK_OK(edgecache_watch_cache_watch(wc, 0, NULL, 0, NULL, 0, false, 1, &slow));
    add(wc, "a", 1);
    add(wc, "b", 2); /* the second event overflows a buffer of 1 */
    CHECK_OK(edgecache_watch_cache_watch(wc, 0, NULL, 0, NULL, 0, false, 0, &relisted));
    CHECK_OK(edgecache_watch_cache_watch(wc, 0, NULL, 0, NULL, 0, false, 0, &stopped));
    edgecache_close_info info;
    CHECK_OK(edgecache_watcher_close_info(stopped, &info));
    CHECK(strcmp(reason_name(info.reason), "open") == 0);
    CHECK_OK(edgecache_watcher_close(stopped));
    CHECK_OK(edgecache_watcher_close_info(stopped, &info));
    CHECK(strcmp(reason_name(info.reason), "stopped") == 0);
    CHECK_OK(edgecache_watcher_close_info(slow, &info));
    CHECKF(info.reason == EDGECACHE_CLOSE_FELL_BEHIND && info.buffer == 1, "%s, buffer %" PRIu64,
           reason_name(info.reason), info.buffer);
    CHECK_OK(edgecache_watch_cache_replace(wc, NULL, 0, 7));
    CHECK_OK(edgecache_watcher_close_info(relisted, &info));
    CHECK(info.reason == EDGECACHE_CLOSE_RELISTED && info.resource_version == 7);
    CHECK_STATUS(edgecache_watcher_close_info(NULL, &info), EDGECACHE_NULL_ARGUMENT);
    CHECK_STATUS(edgecache_watcher_close_info(slow, NULL), EDGECACHE_NULL_ARGUMENT);
    edgecache_watcher_free(slow);
    edgecache_watcher_free(relisted);
    edgecache_watcher_free(stopped);
    edgecache_watch_cache_free(wc);
}

/* A count no array can have is refused, not read (it used to crash). */
static void test_huge_index_count(void) {
    edgecache_watch_options o;
    edgecache_watch_options_init(&o, sizeof o);
    edgecache_str one = {"label:app", 9};
    o.indexes = &one;
    o.n_indexes = SIZE_MAX;
    edgecache_watch_cache *wc = NULL;
    CHECK_STATUS(edgecache_watch_cache_new(&o, &wc), EDGECACHE_INVALID_ARGUMENT);
    CHECK(wc == NULL);
    /* Options that were never initialised (size 0) are refused too. */
    edgecache_watch_options raw;
    memset(&raw, 0, sizeof raw);
    CHECK_STATUS(edgecache_watch_cache_new(&raw, &wc), EDGECACHE_INVALID_ARGUMENT);
    /* A program built against a newer header passes a larger size. */
    struct {
        edgecache_watch_options o;
        uint64_t later_field;
    } newer;
    memset(&newer, 0xAB, sizeof newer);
    edgecache_watch_options_init(&newer.o, sizeof newer);
    CHECK(newer.o.size == sizeof newer.o && newer.later_field == 0xABABABABABABABABull);
    newer.o.size = sizeof newer;
    CHECK_OK(edgecache_watch_cache_new(&newer.o, &wc));
    edgecache_watch_cache_free(wc);
}

int main(void) {
    test_group_tickets();
    test_abandoned_leader_hands_over();
    test_ticket_fail_releases_code();
    test_recursive_load_fails_at_once();
    test_second_sink_error_releases_the_first();
    test_getter_data();
    test_flight_ticket_hook();
    test_watcher_hook();
    test_fresh_hook();
    test_close_info();
    test_huge_index_count();
    printf("test_hooks: ok\n");
    return 0;
}
