/*
 * edgecache_flight and edgecache_ticket through the C ABI: a leader on one
 * thread, waiters on others; complete, fail, abandon (leader freed), wait
 * timeouts, wrong-state calls, forget.
 *
 * Ordering is made explicit: every waiter has begun (and so joined the
 * leader's load) before the leader finishes, so the outcomes are exact.
 */
#include "test_common.h"

#define WAITERS 8

static edgecache_flight *new_flight(void) {
    edgecache_flight *f = NULL;
    CHECK_OK(edgecache_flight_new(&f));
    CHECK(f != NULL);
    return f;
}

static edgecache_ticket *begin(const edgecache_flight *f, const uint8_t *key, size_t key_len, bool want_leader) {
    edgecache_ticket *t = NULL;
    bool leader = !want_leader;
    CHECK_OK(edgecache_flight_begin(f, key, key_len, &t, &leader));
    CHECK(t != NULL);
    CHECKF(leader == want_leader, "leader = %d, expected %d", (int)leader, (int)want_leader);
    return t;
}

enum leader_action { LEAD_COMPLETE, LEAD_FAIL, LEAD_ABANDON };

/* Shared by the leader thread and the waiter threads of one scenario. */
struct scenario {
    edgecache_flight *flight;
    const char *key;
    enum leader_action action;
    pthread_barrier_t leader_began; /* leader + waiters */
    pthread_barrier_t all_began;    /* leader + waiters */
    bool shared;                    /* written by the leader */
};

struct waiter_result {
    struct scenario *sc;
    edgecache_status status;
    edgecache_bytes value;
    edgecache_error *err;
    char last_error[128];
};

static void barrier(pthread_barrier_t *b) {
    int rc = pthread_barrier_wait(b);
    CHECK(rc == 0 || rc == PTHREAD_BARRIER_SERIAL_THREAD);
}

static void *leader_thread(void *arg) {
    struct scenario *sc = arg;
    edgecache_ticket *t = begin(sc->flight, STR(sc->key), true);
    barrier(&sc->leader_began);
    barrier(&sc->all_began);
    switch (sc->action) {
    case LEAD_COMPLETE:
        sc->shared = false;
        CHECK_OK(edgecache_ticket_complete(t, LIT("the loaded value"), &sc->shared));
        /* A finished leader cannot finish again. */
        CHECK_STATUS(edgecache_ticket_complete(t, LIT("again"), NULL), EDGECACHE_WRONG_STATE);
        CHECK_STATUS(edgecache_ticket_fail(t, 1, LIT("again")), EDGECACHE_WRONG_STATE);
        break;
    case LEAD_FAIL:
        CHECK_OK(edgecache_ticket_fail(t, 503, LIT("upstream unavailable")));
        CHECK_STATUS(edgecache_ticket_fail(t, 1, LIT("again")), EDGECACHE_WRONG_STATE);
        break;
    case LEAD_ABANDON:
        break;
    }
    edgecache_ticket_free(t);
    return NULL;
}

static void *waiter_thread(void *arg) {
    struct waiter_result *r = arg;
    struct scenario *sc = r->sc;
    barrier(&sc->leader_began);
    edgecache_ticket *t = begin(sc->flight, STR(sc->key), false);
    /* A waiter cannot complete or fail the load; nothing changes. */
    CHECK_STATUS(edgecache_ticket_complete(t, LIT("not mine"), NULL), EDGECACHE_WRONG_STATE);
    CHECK_STATUS(edgecache_ticket_fail(t, 9, LIT("not mine")), EDGECACHE_WRONG_STATE);
    barrier(&sc->all_began);
    r->err = NULL;
    r->status = edgecache_ticket_wait(t, EDGECACHE_WAIT_FOREVER, &r->value, &r->err);
    tc_last_error(r->last_error, sizeof r->last_error);
    /* Done: the ticket cannot wait again. */
    edgecache_bytes b = {NULL, 0};
    CHECK_STATUS(edgecache_ticket_wait(t, 0, &b, NULL), EDGECACHE_WRONG_STATE);
    edgecache_ticket_free(t);
    return NULL;
}

static void run_scenario(struct scenario *sc, struct waiter_result *results) {
    CHECK_PT(pthread_barrier_init(&sc->leader_began, NULL, WAITERS + 1));
    CHECK_PT(pthread_barrier_init(&sc->all_began, NULL, WAITERS + 1));
    pthread_t lt, wt[WAITERS];
    CHECK_PT(pthread_create(&lt, NULL, leader_thread, sc));
    for (int i = 0; i < WAITERS; i++) {
        results[i] = (struct waiter_result){sc, EDGECACHE_PANIC, {NULL, 0}, NULL, {0}};
        CHECK_PT(pthread_create(&wt[i], NULL, waiter_thread, &results[i]));
    }
    CHECK_PT(pthread_join(lt, NULL));
    for (int i = 0; i < WAITERS; i++) CHECK_PT(pthread_join(wt[i], NULL));
    CHECK_PT(pthread_barrier_destroy(&sc->leader_began));
    CHECK_PT(pthread_barrier_destroy(&sc->all_began));
}

static void test_complete_reaches_every_waiter(void) {
    struct scenario sc = {new_flight(), "key", LEAD_COMPLETE, {{0}}, {{0}}, false};
    struct waiter_result r[WAITERS];
    run_scenario(&sc, r);
    CHECK(sc.shared);
    for (int i = 0; i < WAITERS; i++) {
        CHECK_OK(r[i].status);
        CHECK(r[i].err == NULL);
        CHECK_BYTES_LIT(r[i].value, "the loaded value");
        CHECK(r[i].value.data == r[0].value.data); /* one value, shared */
    }
    for (int i = 0; i < WAITERS; i++) edgecache_bytes_free(r[i].value);
    /* The key is free again: the next caller leads. */
    edgecache_ticket *t = begin(sc.flight, LIT("key"), true);
    bool shared = true;
    CHECK_OK(edgecache_ticket_complete(t, LIT("alone"), &shared));
    CHECK(!shared);
    edgecache_ticket_free(t);
    edgecache_flight_free(sc.flight);
}

static void test_fail_reaches_every_waiter(void) {
    struct scenario sc = {new_flight(), "key", LEAD_FAIL, {{0}}, {{0}}, false};
    struct waiter_result r[WAITERS];
    run_scenario(&sc, r);
    for (int i = 0; i < WAITERS; i++) {
        CHECK_STATUS(r[i].status, EDGECACHE_GETTER_FAILED);
        CHECK(r[i].value.data == NULL);
        CHECK(r[i].err != NULL);
        CHECK_STATUS(edgecache_error_status(r[i].err), EDGECACHE_GETTER_FAILED);
        CHECK(edgecache_error_code(r[i].err) == 503);
        char msg[64];
        CHECK(strcmp(tc_error_message(r[i].err, msg, sizeof msg), "upstream unavailable") == 0);
        CHECKF(strcmp(r[i].last_error, "upstream unavailable") == 0, "last error on the waiter: \"%s\"",
               r[i].last_error);
        edgecache_error_free(r[i].err);
    }
    /* Nothing is kept: the key is free, the next caller leads. */
    edgecache_ticket *t = begin(sc.flight, LIT("key"), true);
    CHECK_OK(edgecache_ticket_complete(t, LIT("ok now"), NULL));
    edgecache_ticket_free(t);
    edgecache_flight_free(sc.flight);
}

static void test_freed_leader_abandons(void) {
    struct scenario sc = {new_flight(), "key", LEAD_ABANDON, {{0}}, {{0}}, false};
    struct waiter_result r[WAITERS];
    run_scenario(&sc, r);
    for (int i = 0; i < WAITERS; i++) {
        CHECK_STATUS(r[i].status, EDGECACHE_ABANDONED);
        CHECK(r[i].value.data == NULL);
        CHECK(r[i].err != NULL);
        CHECK_STATUS(edgecache_error_status(r[i].err), EDGECACHE_ABANDONED);
        CHECK(edgecache_error_code(r[i].err) == 0);
        edgecache_error_free(r[i].err);
    }
    edgecache_ticket *t = begin(sc.flight, LIT("key"), true);
    edgecache_ticket_free(t);
    edgecache_flight_free(sc.flight);
}

/* A waiter given up by one thread is picked up on another. */
struct handoff {
    edgecache_ticket *ticket;
    edgecache_status status;
    edgecache_bytes value;
};

static void *wait_forever(void *arg) {
    struct handoff *h = arg;
    h->status = edgecache_ticket_wait(h->ticket, EDGECACHE_WAIT_FOREVER, &h->value, NULL);
    return NULL;
}

static void test_wait_timeout_then_usable(void) {
    edgecache_flight *f = new_flight();
    edgecache_ticket *leader = begin(f, LIT("k"), true);
    edgecache_ticket *waiter = begin(f, LIT("k"), false);

    /* A leader cannot wait. */
    edgecache_bytes b = {NULL, 0};
    CHECK_STATUS(edgecache_ticket_wait(leader, 0, &b, NULL), EDGECACHE_WRONG_STATE);

    /* Polling (0) and a short wait both time out; the ticket is still good. */
    edgecache_error *err = NULL;
    CHECK_STATUS(edgecache_ticket_wait(waiter, 0, &b, &err), EDGECACHE_TIMEOUT);
    CHECK(b.data == NULL);
    /* A timeout is reported like any failed wait. */
    CHECK(err != NULL);
    CHECK_STATUS(edgecache_error_status(err), EDGECACHE_TIMEOUT);
    edgecache_error_free(err);
    char msg[128];
    CHECK(strstr(tc_last_error(msg, sizeof msg), "timed out") != NULL);
    uint64_t t0 = tc_now_ms();
    CHECK_STATUS(edgecache_ticket_wait(waiter, 30, &b, NULL), EDGECACHE_TIMEOUT);
    CHECK(tc_now_ms() - t0 >= 25);
    CHECK_STATUS(edgecache_ticket_wait(waiter, 0, &b, NULL), EDGECACHE_TIMEOUT);

    /* Complete on a waiter: wrong state, nothing changes. */
    CHECK_STATUS(edgecache_ticket_complete(waiter, LIT("impostor"), NULL), EDGECACHE_WRONG_STATE);

    /* Hand the waiter to another thread, which waits; then complete. */
    struct handoff h = {waiter, EDGECACHE_PANIC, {NULL, 0}};
    pthread_t t;
    CHECK_PT(pthread_create(&t, NULL, wait_forever, &h));
    tc_sleep_ms(10);
    bool shared = false;
    CHECK_OK(edgecache_ticket_complete(leader, LIT("real"), &shared));
    CHECK(shared);
    CHECK_PT(pthread_join(t, NULL));
    CHECK_OK(h.status);
    CHECK_BYTES_LIT(h.value, "real");
    edgecache_bytes_free(h.value);
    edgecache_ticket_free(waiter);
    edgecache_ticket_free(leader);

    /* A poll after the outcome is in returns it at once. */
    leader = begin(f, LIT("k2"), true);
    waiter = begin(f, LIT("k2"), false);
    CHECK_OK(edgecache_ticket_complete(leader, NULL, 0, NULL)); /* (NULL, 0): the empty value */
    b = (edgecache_bytes){NULL, 99};
    CHECK_OK(edgecache_ticket_wait(waiter, 0, &b, NULL));
    CHECK(b.data != NULL && b.len == 0);
    edgecache_bytes_free(b);
    edgecache_ticket_free(waiter);
    edgecache_ticket_free(leader);
    edgecache_flight_free(f);
}

static void test_keys_are_independent(void) {
    edgecache_flight *f = new_flight();
    edgecache_ticket *a = begin(f, LIT("a"), true);
    edgecache_ticket *b = begin(f, LIT("b"), true);
    edgecache_ticket *e = begin(f, NULL, 0, true); /* the empty key */
    edgecache_ticket *e2 = begin(f, LIT(""), false);
    CHECK_OK(edgecache_ticket_complete(e, LIT("empty key"), NULL));
    edgecache_bytes v = {NULL, 0};
    CHECK_OK(edgecache_ticket_wait(e2, 0, &v, NULL));
    CHECK_BYTES_LIT(v, "empty key");
    edgecache_bytes_free(v);
    CHECK_OK(edgecache_ticket_fail(a, 1, NULL, 0)); /* no message */
    CHECK_OK(edgecache_ticket_complete(b, LIT("b"), NULL));
    edgecache_ticket_free(a);
    edgecache_ticket_free(b);
    edgecache_ticket_free(e);
    edgecache_ticket_free(e2);
    edgecache_flight_free(f);
}

static void test_forget(void) {
    edgecache_flight *f = new_flight();
    bool forgot = true;
    CHECK_OK(edgecache_flight_forget(f, LIT("k"), &forgot));
    CHECK(!forgot);

    edgecache_ticket *old_leader = begin(f, LIT("k"), true);
    edgecache_ticket *old_waiter = begin(f, LIT("k"), false);
    CHECK_OK(edgecache_flight_forget(f, LIT("k"), &forgot));
    CHECK(forgot);
    /* Later callers start a new load. */
    edgecache_ticket *new_leader = begin(f, LIT("k"), true);
    edgecache_ticket *new_waiter = begin(f, LIT("k"), false);

    /* The forgotten load ends: its waiter gets it, the successor stays. */
    CHECK_OK(edgecache_ticket_complete(old_leader, LIT("old"), NULL));
    edgecache_bytes v = {NULL, 0};
    CHECK_OK(edgecache_ticket_wait(old_waiter, EDGECACHE_WAIT_FOREVER, &v, NULL));
    CHECK_BYTES_LIT(v, "old");
    edgecache_bytes_free(v);
    CHECK_STATUS(edgecache_ticket_wait(new_waiter, 0, &v, NULL), EDGECACHE_TIMEOUT);
    edgecache_ticket *third = begin(f, LIT("k"), false); /* joins the successor */
    CHECK_OK(edgecache_ticket_complete(new_leader, LIT("new"), NULL));
    CHECK_OK(edgecache_ticket_wait(new_waiter, EDGECACHE_WAIT_FOREVER, &v, NULL));
    CHECK_BYTES_LIT(v, "new");
    edgecache_bytes_free(v);
    CHECK_OK(edgecache_ticket_wait(third, EDGECACHE_WAIT_FOREVER, &v, NULL));
    CHECK_BYTES_LIT(v, "new");
    edgecache_bytes_free(v);
    CHECK_OK(edgecache_flight_forget(f, LIT("k"), NULL));
    edgecache_ticket_free(old_leader);
    edgecache_ticket_free(old_waiter);
    edgecache_ticket_free(new_leader);
    edgecache_ticket_free(new_waiter);
    edgecache_ticket_free(third);
    edgecache_flight_free(f);
}

static void test_tickets_outlive_flight(void) {
    edgecache_flight *f = new_flight();
    edgecache_ticket *leader = begin(f, LIT("k"), true);
    edgecache_ticket *waiter = begin(f, LIT("k"), false);
    edgecache_flight_free(f);
    CHECK_OK(edgecache_ticket_complete(leader, LIT("still fine"), NULL));
    edgecache_bytes v = {NULL, 0};
    CHECK_OK(edgecache_ticket_wait(waiter, EDGECACHE_WAIT_FOREVER, &v, NULL));
    CHECK_BYTES_LIT(v, "still fine");
    edgecache_bytes_free(v);
    edgecache_ticket_free(leader);
    edgecache_ticket_free(waiter);

    /* An unfinished waiter freed: the leader is not disturbed. */
    f = new_flight();
    leader = begin(f, LIT("k"), true);
    waiter = begin(f, LIT("k"), false);
    edgecache_ticket_free(waiter);
    bool shared = false;
    CHECK_OK(edgecache_ticket_complete(leader, LIT("v"), &shared));
    edgecache_ticket_free(leader);
    edgecache_flight_free(f);
}

struct hook_log {
    atomic_int errors_released;
    atomic_uint_fast64_t last_code;
    atomic_int released;
    atomic_int released_after_errors; /* errors_released seen by release */
};

static void log_release(void *user_data) {
    struct hook_log *h = user_data;
    atomic_store(&h->released_after_errors, atomic_load(&h->errors_released));
    atomic_fetch_add(&h->released, 1);
}

static void log_release_error(void *user_data, uint64_t code) {
    struct hook_log *h = user_data;
    atomic_store(&h->last_code, code);
    atomic_fetch_add(&h->errors_released, 1);
}

static void test_hooks_release_failure_codes(void) {
    struct hook_log h = {0};
    edgecache_flight *f = NULL;
    CHECK_STATUS(edgecache_flight_new_with_hooks(&h, log_release, NULL, &f), EDGECACHE_NULL_ARGUMENT);
    CHECK(f == NULL);
    CHECK_STATUS(edgecache_flight_new_with_hooks(&h, log_release, log_release_error, NULL), EDGECACHE_NULL_ARGUMENT);
    CHECK_OK(edgecache_flight_new_with_hooks(&h, log_release, log_release_error, &f));
    edgecache_ticket *leader = begin(f, LIT("k"), true);
    edgecache_ticket *w1 = begin(f, LIT("k"), false);
    edgecache_ticket *w2 = begin(f, LIT("k"), false);
    CHECK_OK(edgecache_ticket_fail(leader, 42, LIT("boom")));
    edgecache_ticket_free(leader);
    edgecache_bytes v = {NULL, 0};
    edgecache_error *e1 = NULL, *e2 = NULL;
    CHECK_STATUS(edgecache_ticket_wait(w1, 0, &v, &e1), EDGECACHE_GETTER_FAILED);
    CHECK_STATUS(edgecache_ticket_wait(w2, 0, &v, &e2), EDGECACHE_GETTER_FAILED);
    CHECK(edgecache_error_code(e1) == 42 && edgecache_error_code(e2) == 42);
    edgecache_ticket_free(w1);
    edgecache_ticket_free(w2);
    /* Held by two errors: not released yet, and the flight outlives neither. */
    edgecache_flight_free(f);
    edgecache_error_free(e1);
    CHECK(atomic_load(&h.errors_released) == 0 && atomic_load(&h.released) == 0);
    edgecache_error_free(e2);
    CHECK(atomic_load(&h.errors_released) == 1 && atomic_load(&h.last_code) == 42);
    CHECK(atomic_load(&h.released) == 1 && atomic_load(&h.released_after_errors) == 1);

    /* A completed value never calls release_error; release runs at free. */
    struct hook_log h2 = {0};
    CHECK_OK(edgecache_flight_new_with_hooks(&h2, NULL, log_release_error, &f));
    leader = begin(f, LIT("k"), true);
    CHECK_OK(edgecache_ticket_complete(leader, LIT("v"), NULL));
    edgecache_ticket_free(leader);
    edgecache_flight_free(f);
    CHECK(atomic_load(&h2.errors_released) == 0);
}

int main(void) {
    printf("test_flight\n");
    RUN(test_complete_reaches_every_waiter);
    RUN(test_fail_reaches_every_waiter);
    RUN(test_freed_leader_abandons);
    RUN(test_wait_timeout_then_usable);
    RUN(test_keys_are_independent);
    RUN(test_forget);
    RUN(test_hooks_release_failure_codes);
    RUN(test_tickets_outlive_flight);
    printf("test_flight: all passed\n");
    return 0;
}
