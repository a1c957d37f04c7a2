/*
 * The contract every binding keeps, through the C ABI: reads
 * tests/contract/cases.tsv (docs/contract.md explains it) when it runs and,
 * for each row, runs the subject with the input and checks the outcome in
 * the `c` column.
 *
 * The file: the first argument, else $EDGECACHE_CONTRACT_CASES, else
 * tests/contract/cases.tsv from the current directory (run.sh runs every
 * program from the repository root).
 *
 * Every row is checked before any runs: a subject or an outcome this
 * program does not know, in any column, fails it (so a new row cannot slip
 * past a suite). Rows whose `c` outcome is `n/a` are skipped. A case with
 * no check here for its outcome fails.
 *
 * C spells "not set" as 0: a TTL of 0 ms never expires, a watch buffer of 0
 * is the default (1024); a timeout of 0 does not wait. Negative inputs have
 * no C spelling (the types are unsigned), so those rows are n/a.
 *
 * Every wait is bounded (TC_WAIT_LIMIT_MS): threads are joined only after
 * they said they are done, and a call that must not wait runs on a thread
 * of its own, so one that blocks fails the program instead of hanging it.
 */
#include "test_common.h"

#include <unistd.h>

#define CASES_DEFAULT "tests/contract/cases.tsv"

/* "At once": far below the 3 s freshness default, far above a call that
 * does not block (even under valgrind). */
#define AT_ONCE_MS 2000u

/* The default watch buffer ("0 for the default (1024)" in edgecache.h). */
#define DEFAULT_WATCH_BUFFER 1024u

static const char *const COLUMNS[] = {"id", "subject", "input", "rust", "python", "c", "go"};
#define N_COLUMNS (sizeof COLUMNS / sizeof COLUMNS[0])
#define C_COLUMN 5

static const char *const SUBJECTS[] = {
    "cache.budget",   "group.budget",         "cache.ttl",           "group.ttl",
    "watch.buffer",   "flight.timeout",       "fresh.timeout",       "watcher.next_timeout",
    "leader.leaves",  "getter.sets_nothing",  "leader.error",        "leader.panic",
    "getter.recursive",
};

static const char *const OUTCOMES[] = {
    "disabled", "ok",       "never_expires",  "invalid",     "default",        "no_wait",
    "waits",    "no_value", "waiter_retries", "reaches_all", "recursive_load", "n/a",
};

#define MAX_CASES 256
#define MAX_FIELD 64

struct contract_case {
    int line;
    char field[N_COLUMNS][MAX_FIELD];
};

static struct contract_case cases[MAX_CASES];
static size_t n_cases;
static const char *cases_path;

static bool one_of(const char *s, const char *const *set, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, set[i]) == 0) return true;
    return false;
}

#define ONE_OF(s, arr) one_of((s), (arr), sizeof(arr) / sizeof((arr)[0]))

/* Reads and checks the file: the header row, seven fields a row, unique
 * ids, known subjects and outcomes. */
static void load_cases(const char *path) {
    cases_path = path;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        char cwd[512];
        if (getcwd(cwd, sizeof cwd) == NULL) snprintf(cwd, sizeof cwd, "(unknown)");
        fprintf(stderr,
                "test_contract: cannot open %s (current directory %s): %s\n"
                "  run it from the repository root (tests/c/run.sh does), or pass the path of\n"
                "  tests/contract/cases.tsv as the first argument or in EDGECACHE_CONTRACT_CASES\n",
                path, cwd, strerror(errno));
        tc_die();
    }
    char line[1024];
    int line_no = 0;
    bool header = false;
    while (fgets(line, sizeof line, f) != NULL) {
        line_no++;
        size_t len = strlen(line);
        CHECKF(len > 0 && (line[len - 1] == '\n' || feof(f)), "%s:%d: line too long", path, line_no);
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (len == 0 || line[0] == '#') continue;

        char *fields[N_COLUMNS + 1];
        size_t n = 0;
        for (char *p = line;; n++) {
            if (n < N_COLUMNS + 1) fields[n] = p;
            char *tab = strchr(p, '\t');
            if (tab == NULL) {
                n++;
                break;
            }
            *tab = '\0';
            p = tab + 1;
        }
        CHECKF(n == N_COLUMNS, "%s:%d: %zu fields, expected %zu", path, line_no, n, N_COLUMNS);
        if (!header) {
            for (size_t i = 0; i < N_COLUMNS; i++)
                CHECKF(strcmp(fields[i], COLUMNS[i]) == 0, "%s:%d: header column %zu is \"%s\", expected \"%s\"", path,
                       line_no, i + 1, fields[i], COLUMNS[i]);
            header = true;
            continue;
        }
        CHECKF(n_cases < MAX_CASES, "%s: more than %d cases", path, MAX_CASES);
        struct contract_case *c = &cases[n_cases];
        c->line = line_no;
        for (size_t i = 0; i < N_COLUMNS; i++) {
            CHECKF(strlen(fields[i]) < MAX_FIELD, "%s:%d: field %zu too long", path, line_no, i + 1);
            snprintf(c->field[i], MAX_FIELD, "%s", fields[i]);
        }
        CHECKF(c->field[0][0] != '\0', "%s:%d: empty id", path, line_no);
        for (size_t j = 0; j < n_cases; j++)
            CHECKF(strcmp(cases[j].field[0], c->field[0]) != 0, "%s:%d: id %s used twice", path, line_no, c->field[0]);
        CHECKF(ONE_OF(c->field[1], SUBJECTS), "%s:%d: unknown subject \"%s\" (case %s)", path, line_no, c->field[1],
               c->field[0]);
        for (size_t i = 3; i < N_COLUMNS; i++)
            CHECKF(ONE_OF(c->field[i], OUTCOMES), "%s:%d: unknown outcome \"%s\" in column %s (case %s)", path,
                   line_no, c->field[i], COLUMNS[i], c->field[0]);
        n_cases++;
    }
    CHECKF(!ferror(f), "%s: read error", path);
    fclose(f);
    CHECKF(header, "%s: no header row", path);
    CHECKF(n_cases > 0, "%s: no cases", path);
}

/* ---- inputs, spelled the C way ---- */

static const struct contract_case *current;

static void not_expressible(const char *kind) {
    tc_fail(__FILE__, __LINE__, "input", "case %s (%s:%d): input \"%s\" is not a %s C can express", current->field[0],
            cases_path, current->line, current->field[2], kind);
}

/* A non-negative decimal number, or false. */
static bool parse_u64(const char *s, uint64_t *out) {
    if (*s == '\0') return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* A byte budget: an int64_t (C has no "unset" budget). */
static int64_t input_budget(const char *in) {
    if (strcmp(in, "-1") == 0) return -1;
    uint64_t v = 0;
    if (!parse_u64(in, &v) || v > INT64_MAX) not_expressible("budget");
    return (int64_t)v;
}

/* A TTL in milliseconds: unset is 0; a number is seconds. */
static uint64_t input_ttl_ms(const char *in) {
    if (strcmp(in, "unset") == 0) return 0;
    uint64_t v = 0;
    if (!parse_u64(in, &v) || v > UINT64_MAX / 1000) not_expressible("TTL");
    return v * 1000;
}

/* A watch buffer: unset is 0. */
static size_t input_buffer(const char *in) {
    if (strcmp(in, "unset") == 0) return 0;
    uint64_t v = 0;
    if (!parse_u64(in, &v) || v > SIZE_MAX) not_expressible("buffer");
    return (size_t)v;
}

/* A timeout in milliseconds; a number is seconds. */
static uint64_t input_timeout_ms(const char *in) {
    uint64_t v = 0;
    if (!parse_u64(in, &v) || v > UINT64_MAX / 1000) not_expressible("timeout");
    return v * 1000;
}

static void input_none(const char *in) { CHECKF(strcmp(in, "-") == 0, "a behaviour's input is \"-\", not \"%s\"", in); }

/* ---- helpers ---- */

/* A group name no other case uses (groups are registered process-wide). */
struct name {
    char s[96];
};

static struct name group_name(const char *tag) {
    static unsigned n;
    struct name out;
    snprintf(out.s, sizeof out.s, "test_contract/%s/%u", tag, n++);
    return out;
}

/* Polls `flag` every millisecond until set, for at most TC_WAIT_LIMIT_MS. */
static void wait_flag(atomic_bool *flag, const char *what) {
    uint64_t start = tc_now_ms();
    while (!atomic_load(flag)) {
        CHECKF(tc_now_ms() - start < TC_WAIT_LIMIT_MS, "gave up waiting (%u ms): %s", TC_WAIT_LIMIT_MS, what);
        tc_sleep_ms(1);
    }
}

/* Runs `fn(arg)` on a thread of its own; fails if it takes AT_ONCE_MS or
 * more (and stops waiting after TC_WAIT_LIMIT_MS: a call that blocks for
 * good ends the program). */
struct bounded {
    void (*fn)(void *);
    void *arg;
    atomic_bool done;
    uint64_t took_ms;
};

static void *bounded_main(void *p) {
    struct bounded *b = p;
    uint64_t start = tc_now_ms();
    b->fn(b->arg);
    b->took_ms = tc_now_ms() - start;
    atomic_store(&b->done, true);
    return NULL;
}

static void at_once(const char *what, void (*fn)(void *), void *arg) {
    struct bounded b = {fn, arg, false, 0};
    atomic_init(&b.done, false);
    pthread_t t;
    CHECK_PT(pthread_create(&t, NULL, bounded_main, &b));
    wait_flag(&b.done, what);
    CHECK_PT(pthread_join(t, NULL));
    CHECKF(b.took_ms < AT_ONCE_MS, "%s waited %" PRIu64 " ms", what, b.took_ms);
}

/* A getter answering "v:" + key, counting its calls (user_data: atomic_int). */
static int32_t counting_getter(void *user_data, const uint8_t *key, size_t key_len, edgecache_sink *sink) {
    atomic_fetch_add((atomic_int *)user_data, 1);
    uint8_t buf[64] = {'v', ':'};
    CHECK(key_len <= sizeof buf - 2);
    if (key_len > 0) memcpy(buf + 2, key, key_len);
    CHECK_OK(edgecache_sink_set_bytes(sink, buf, key_len + 2));
    return 0;
}

/* A get on a thread of its own: edgecache_group_get, or with `seen`
 * edgecache_group_get_with whose poll (called only while the call waits
 * for another caller's load) sets `waiting`: a waiter the test sees join. */
struct get_call {
    edgecache_group *g;
    const char *key;
    bool seen;
    atomic_bool waiting;
    atomic_bool done;
    edgecache_status status;
    edgecache_bytes value;
    edgecache_error *err;
    pthread_t thread;
};

static bool mark_waiting(void *call_data) {
    struct get_call *c = call_data;
    atomic_store(&c->waiting, true);
    return false; /* keep waiting */
}

static void *get_main(void *p) {
    struct get_call *c = p;
    if (c->seen)
        c->status = edgecache_group_get_with(c->g, STR(c->key), EDGECACHE_WAIT_FOREVER, mark_waiting, c, &c->value,
                                             &c->err);
    else
        c->status = edgecache_group_get(c->g, STR(c->key), EDGECACHE_WAIT_FOREVER, &c->value, &c->err);
    atomic_store(&c->done, true);
    return NULL;
}

static void start_get(struct get_call *c, edgecache_group *g, const char *key, bool seen) {
    memset(c, 0, sizeof *c);
    c->g = g;
    c->key = key;
    c->seen = seen;
    atomic_init(&c->waiting, false);
    atomic_init(&c->done, false);
    CHECK_PT(pthread_create(&c->thread, NULL, get_main, c));
}

static void finish_get(struct get_call *c) {
    wait_flag(&c->done, "a get on another thread to return");
    CHECK_PT(pthread_join(c->thread, NULL));
}

static void free_get(struct get_call *c) {
    if (c->status == EDGECACHE_OK) edgecache_bytes_free(c->value);
    edgecache_error_free(c->err);
    c->err = NULL;
}

static uint64_t group_loads(const edgecache_group *g) {
    edgecache_group_stats st;
    CHECK_OK(edgecache_group_get_stats(g, &st));
    return st.loads;
}

static uint64_t main_items(const edgecache_group *g) {
    edgecache_cache_stats st;
    CHECK_OK(edgecache_group_get_cache_stats(g, EDGECACHE_MAIN_CACHE, &st));
    return st.items;
}

static void close_group(edgecache_group *g) {
    CHECK_OK(edgecache_group_close(g));
    edgecache_group_free(g);
}

/* ---- cache.budget / group.budget ---- */

/* Accepted; nothing is kept. */
static void cache_budget_disabled(int64_t budget) {
    edgecache_cache *c = NULL;
    CHECK_OK(edgecache_cache_new(budget, &c));
    bool stored = true;
    CHECK_OK(edgecache_cache_set(c, LIT("k"), LIT("v"), 0, &stored));
    CHECKF(!stored, "a cache with budget %" PRId64 " kept an entry", budget);
    edgecache_bytes v = {NULL, 0};
    CHECK_STATUS(edgecache_cache_get(c, LIT("k"), &v), EDGECACHE_NOT_FOUND);
    edgecache_cache_stats st;
    CHECK_OK(edgecache_cache_get_stats(c, &st));
    CHECK(st.items == 0 && st.bytes == 0);
    edgecache_cache_free(c);
}

/* EDGECACHE_INVALID_ARGUMENT; no cache is written. */
static void cache_budget_invalid(int64_t budget) {
    edgecache_cache *c = NULL;
    CHECK_STATUS(edgecache_cache_new(budget, &c), EDGECACHE_INVALID_ARGUMENT);
    CHECK(c == NULL);
}

/* Accepted; every get loads, nothing is kept. */
static void group_budget_disabled(int64_t budget) {
    atomic_int calls;
    atomic_init(&calls, 0);
    edgecache_group *g = NULL;
    struct name name = group_name("budget");
    CHECK_OK(edgecache_group_new(STR(name.s), budget, 0, counting_getter, &calls, NULL, NULL, &g));
    for (int i = 0; i < 2; i++) {
        edgecache_bytes v = {NULL, 0};
        CHECK_OK(edgecache_group_get(g, LIT("k"), EDGECACHE_WAIT_FOREVER, &v, NULL));
        CHECK_BYTES_LIT(v, "v:k");
        edgecache_bytes_free(v);
    }
    CHECKF(atomic_load(&calls) == 2, "nothing is kept, so each get loads: %d getter calls", atomic_load(&calls));
    CHECK(main_items(g) == 0);
    edgecache_bytes v = {NULL, 0};
    CHECK_STATUS(edgecache_group_get_cached(g, LIT("k"), &v), EDGECACHE_NOT_FOUND);
    close_group(g);
}

/* EDGECACHE_INVALID_ARGUMENT; no group is written or registered. */
static void group_budget_invalid(int64_t budget) {
    atomic_int calls;
    atomic_init(&calls, 0);
    struct name name = group_name("budget");
    edgecache_group *g = NULL;
    CHECK_STATUS(edgecache_group_new(STR(name.s), budget, 0, counting_getter, &calls, NULL, NULL, &g),
                 EDGECACHE_INVALID_ARGUMENT);
    CHECK(g == NULL);
    CHECK_STATUS(edgecache_group_lookup(STR(name.s), &g), EDGECACHE_NOT_FOUND);
}

/* ---- cache.ttl / group.ttl ---- */

/* Accepted; the entry outlives one whose 1 ms TTL ran out. */
static void cache_ttl_never_expires(uint64_t ttl_ms) {
    edgecache_cache *c = NULL;
    CHECK_OK(edgecache_cache_new(1 << 10, &c));
    bool stored = false;
    CHECK_OK(edgecache_cache_set(c, LIT("k"), LIT("v"), ttl_ms, &stored));
    CHECK(stored);
    CHECK_OK(edgecache_cache_set(c, LIT("short"), LIT("v"), 1, &stored));
    CHECK(stored);
    edgecache_bytes v = {NULL, 0};
    uint64_t start = tc_now_ms();
    for (;;) {
        edgecache_status s = edgecache_cache_get(c, LIT("short"), &v);
        if (s == EDGECACHE_NOT_FOUND) break;
        CHECK_OK(s);
        edgecache_bytes_free(v);
        CHECKF(tc_now_ms() - start < TC_WAIT_LIMIT_MS, "an entry with a 1 ms TTL never expired");
        tc_sleep_ms(1);
    }
    CHECK_OK(edgecache_cache_get(c, LIT("k"), &v));
    CHECK_BYTES_LIT(v, "v");
    edgecache_bytes_free(v);
    edgecache_cache_free(c);
}

/* Accepted; a loaded entry outlives one whose 1 ms TTL ran out (in another
 * group) and is not loaded again. */
static void group_ttl_never_expires(uint64_t ttl_ms) {
    atomic_int calls, control_calls;
    atomic_init(&calls, 0);
    atomic_init(&control_calls, 0);
    edgecache_group *g = NULL, *control = NULL;
    struct name name = group_name("ttl"), control_name = group_name("ttl-control");
    CHECK_OK(edgecache_group_new(STR(name.s), 1 << 10, ttl_ms, counting_getter, &calls, NULL, NULL, &g));
    CHECK_OK(edgecache_group_new(STR(control_name.s), 1 << 10, 1, counting_getter, &control_calls, NULL,
                                 NULL, &control));
    edgecache_bytes v = {NULL, 0};
    CHECK_OK(edgecache_group_get(g, LIT("k"), EDGECACHE_WAIT_FOREVER, &v, NULL));
    edgecache_bytes_free(v);
    CHECK_OK(edgecache_group_get(control, LIT("k"), EDGECACHE_WAIT_FOREVER, &v, NULL));
    edgecache_bytes_free(v);
    uint64_t start = tc_now_ms();
    for (;;) {
        edgecache_status s = edgecache_group_get_cached(control, LIT("k"), &v);
        if (s == EDGECACHE_NOT_FOUND) break;
        CHECK_OK(s);
        edgecache_bytes_free(v);
        CHECKF(tc_now_ms() - start < TC_WAIT_LIMIT_MS, "a group entry with a 1 ms TTL never expired");
        tc_sleep_ms(1);
    }
    CHECK_OK(edgecache_group_get_cached(g, LIT("k"), &v));
    CHECK_BYTES_LIT(v, "v:k");
    edgecache_bytes_free(v);
    CHECKF(atomic_load(&calls) == 1, "the entry was loaded again: %d getter calls", atomic_load(&calls));
    close_group(g);
    close_group(control);
}

/* ---- watch.buffer ---- */

static void add(edgecache_watch_cache *wc, const char *key, uint64_t rv) {
    edgecache_object o = tc_object(key, "{}", NULL, 0, NULL, 0);
    CHECK_OK(edgecache_watch_cache_add(wc, &o, rv));
}

static bool is_open(const edgecache_watcher *w) {
    char why[256];
    edgecache_status s = edgecache_watcher_close_reason(w, why, sizeof why, NULL);
    if (s == EDGECACHE_NOT_FOUND) return true;
    CHECK_OK(s);
    return false;
}

static void check_fell_behind(const edgecache_watcher *w, const char *how) {
    char why[256];
    CHECK_OK(edgecache_watcher_close_reason(w, why, sizeof why, NULL));
    CHECKF(strstr(why, "fell behind") != NULL && strstr(why, "1024") != NULL, "%s: closed for \"%s\"", how, why);
}

/* Accepted; a watcher (from edgecache_watch_cache_watch, and from
 * edgecache_watch_cache_watch_with) holds exactly 1024 unread live events
 * and is closed as fallen behind by the next one. */
static void watch_buffer_default(size_t buffer) {
    edgecache_watch_cache *wc = NULL;
    CHECK_OK(edgecache_watch_cache_new(NULL, &wc));
    edgecache_watcher *plain = NULL, *with = NULL;
    CHECK_OK(edgecache_watch_cache_watch(wc, 0, NULL, 0, NULL, 0, false, buffer, &plain));
    edgecache_watch_request req;
    edgecache_watch_request_init(&req, sizeof req);
    req.buffer = buffer;
    CHECK_OK(edgecache_watch_cache_watch_with(wc, &req, &with));
    char key[32];
    for (uint64_t rv = 1; rv <= DEFAULT_WATCH_BUFFER; rv++) {
        snprintf(key, sizeof key, "k%" PRIu64, rv);
        add(wc, key, rv);
    }
    CHECKF(is_open(plain), "edgecache_watch_cache_watch: closed before its default buffer was full");
    CHECKF(is_open(with), "edgecache_watch_cache_watch_with: closed before its default buffer was full");
    add(wc, "one-more", DEFAULT_WATCH_BUFFER + 1);
    check_fell_behind(plain, "edgecache_watch_cache_watch");
    check_fell_behind(with, "edgecache_watch_cache_watch_with");
    edgecache_watcher_free(plain);
    edgecache_watcher_free(with);
    edgecache_watch_cache_free(wc);
}

/* ---- timeouts ---- */

struct ticket_probe {
    edgecache_ticket *t;
    uint64_t timeout_ms;
    edgecache_status status;
    edgecache_bytes value;
    edgecache_error *err;
};

static void ticket_wait_probe(void *p) {
    struct ticket_probe *tp = p;
    tp->status = edgecache_ticket_wait(tp->t, tp->timeout_ms, &tp->value, &tp->err);
}

/* A flight waiter's wait with the timeout returns EDGECACHE_TIMEOUT at once
 * while the load runs (the ticket stays usable), and the value at once once
 * it is there. */
static void flight_timeout_no_wait(uint64_t timeout_ms) {
    edgecache_flight *f = NULL;
    CHECK_OK(edgecache_flight_new(&f));
    edgecache_ticket *lead = NULL, *wait = NULL;
    bool leader = false;
    CHECK_OK(edgecache_flight_begin(f, LIT("k"), &lead, &leader));
    CHECK(leader);
    CHECK_OK(edgecache_flight_begin(f, LIT("k"), &wait, &leader));
    CHECK(!leader);
    struct ticket_probe tp = {wait, timeout_ms, EDGECACHE_OK, {NULL, 0}, NULL};
    at_once("edgecache_ticket_wait with a load in flight", ticket_wait_probe, &tp);
    CHECK_STATUS(tp.status, EDGECACHE_TIMEOUT);
    CHECK(tp.err != NULL && edgecache_error_status(tp.err) == EDGECACHE_TIMEOUT);
    edgecache_error_free(tp.err);
    tp.err = NULL;
    CHECK_OK(edgecache_ticket_complete(lead, LIT("v"), NULL));
    at_once("edgecache_ticket_wait after the load", ticket_wait_probe, &tp);
    CHECK_OK(tp.status);
    CHECK_BYTES_LIT(tp.value, "v");
    edgecache_bytes_free(tp.value);
    edgecache_ticket_free(lead);
    edgecache_ticket_free(wait);
    edgecache_flight_free(f);
}

struct fresh_probe {
    edgecache_watch_cache *wc;
    uint64_t rv, timeout_ms;
    edgecache_status status;
};

static void fresh_wait_probe(void *p) {
    struct fresh_probe *fp = p;
    fp->status = edgecache_watch_cache_wait_until_fresh(fp->wc, fp->rv, fp->timeout_ms);
}

/* A freshness wait for a resourceVersion not seen yet fails at once with
 * EDGECACHE_TOO_LARGE_RESOURCE_VERSION; for one seen it succeeds. */
static void fresh_timeout_no_wait(uint64_t timeout_ms) {
    edgecache_watch_cache *wc = NULL;
    CHECK_OK(edgecache_watch_cache_new(NULL, &wc));
    add(wc, "a", 1);
    struct fresh_probe fp = {wc, 5, timeout_ms, EDGECACHE_OK};
    at_once("edgecache_watch_cache_wait_until_fresh(5) at 1", fresh_wait_probe, &fp);
    CHECK_STATUS(fp.status, EDGECACHE_TOO_LARGE_RESOURCE_VERSION);
    fp.rv = 1;
    at_once("edgecache_watch_cache_wait_until_fresh(1) at 1", fresh_wait_probe, &fp);
    CHECK_OK(fp.status);
    edgecache_watch_cache_free(wc);
}

struct next_probe {
    edgecache_watcher *w;
    uint64_t timeout_ms;
    edgecache_status status;
    edgecache_event *ev;
};

static void next_probe(void *p) {
    struct next_probe *np = p;
    np->status = edgecache_watcher_next(np->w, np->timeout_ms, &np->ev);
}

/* A watcher's read with the timeout returns EDGECACHE_TIMEOUT at once when
 * nothing is there (not a close), and the event when one is. */
static void next_timeout_no_wait(uint64_t timeout_ms) {
    edgecache_watch_cache *wc = NULL;
    CHECK_OK(edgecache_watch_cache_new(NULL, &wc));
    edgecache_watcher *w = NULL;
    CHECK_OK(edgecache_watch_cache_watch(wc, 0, NULL, 0, NULL, 0, false, 0, &w));
    struct next_probe np = {w, timeout_ms, EDGECACHE_OK, NULL};
    at_once("edgecache_watcher_next on an idle watcher", next_probe, &np);
    CHECK_STATUS(np.status, EDGECACHE_TIMEOUT);
    CHECKF(is_open(w), "a timeout is not a close");
    add(wc, "a", 1);
    at_once("edgecache_watcher_next with an event ready", next_probe, &np);
    CHECK_OK(np.status);
    CHECK(edgecache_event_resource_version(np.ev) == 1);
    edgecache_event_free(np.ev);
    edgecache_watcher_free(w);
    edgecache_watch_cache_free(wc);
}

/* ---- behaviours ---- */

/* A getter that returns 0 without setting a value. */
static int32_t sets_nothing(void *user_data, const uint8_t *key, size_t key_len, edgecache_sink *sink) {
    (void)key;
    (void)key_len;
    (void)sink;
    atomic_fetch_add((atomic_int *)user_data, 1);
    return 0;
}

static void check_no_value(edgecache_status s, edgecache_error *err, const char *who) {
    CHECKF(s == EDGECACHE_NO_VALUE, "%s: status %d, expected EDGECACHE_NO_VALUE", who, (int)s);
    CHECKF(err != NULL && edgecache_error_status(err) == EDGECACHE_NO_VALUE, "%s: no NO_VALUE error written", who);
    edgecache_error_free(err);
}

/* The load fails with EDGECACHE_NO_VALUE, for a plain get and for a leader
 * ticket and its waiter; nothing is cached. */
static void getter_sets_nothing(void) {
    atomic_int calls;
    atomic_init(&calls, 0);
    edgecache_group *g = NULL;
    struct name name = group_name("nothing");
    CHECK_OK(edgecache_group_new(STR(name.s), 1 << 10, 0, sets_nothing, &calls, NULL, NULL, &g));
    edgecache_bytes v = {NULL, 0};
    edgecache_error *err = NULL;
    edgecache_status s = edgecache_group_get(g, LIT("k"), EDGECACHE_WAIT_FOREVER, &v, &err);
    check_no_value(s, err, "edgecache_group_get");

    edgecache_group_ticket *lead = NULL, *wait = NULL;
    CHECK_STATUS(edgecache_group_begin(g, LIT("k"), &v, &lead), EDGECACHE_PENDING);
    CHECK(edgecache_group_ticket_is_leader(lead));
    CHECK_STATUS(edgecache_group_begin(g, LIT("k"), &v, &wait), EDGECACHE_PENDING);
    CHECK(!edgecache_group_ticket_is_leader(wait));
    err = NULL;
    s = edgecache_group_ticket_load(lead, NULL, &v, &err);
    check_no_value(s, err, "the leader's edgecache_group_ticket_load");
    err = NULL;
    s = edgecache_group_ticket_result(wait, &v, &err);
    check_no_value(s, err, "the waiter's edgecache_group_ticket_result");
    edgecache_group_ticket_free(lead);
    edgecache_group_ticket_free(wait);

    CHECKF(atomic_load(&calls) == 2, "nothing was cached, so each load calls the getter: %d", atomic_load(&calls));
    CHECK(main_items(g) == 0);
    close_group(g);
}

/* A leader ticket freed unfinished fails no waiter: the waiters (threads in
 * edgecache_group_get) take the key over, one loads, all get the value, and
 * the getter runs once. */
static void leader_leaves_waiter_retries(void) {
    atomic_int calls;
    atomic_init(&calls, 0);
    edgecache_group *g = NULL;
    struct name name = group_name("leaves");
    CHECK_OK(edgecache_group_new(STR(name.s), 1 << 10, 0, counting_getter, &calls, NULL, NULL, &g));
    edgecache_bytes v = {NULL, 0};
    edgecache_group_ticket *lead = NULL;
    CHECK_STATUS(edgecache_group_begin(g, LIT("k"), &v, &lead), EDGECACHE_PENDING);
    CHECK(edgecache_group_ticket_is_leader(lead));
    uint64_t loads = group_loads(g);
    struct get_call w[3];
    start_get(&w[0], g, "k", false);
    start_get(&w[1], g, "k", false);
    start_get(&w[2], g, "k", true);
    /* The seen waiter is in the load; the plain ones have missed (counted)
     * and are a few instructions from joining it. One that joins late leads
     * the next load itself: the outcome is the same, and the seen one always
     * takes the retry path. */
    wait_flag(&w[2].waiting, "the seen waiter to join the load");
    uint64_t start = tc_now_ms();
    while (group_loads(g) < loads + 3) {
        CHECKF(tc_now_ms() - start < TC_WAIT_LIMIT_MS, "the waiters never missed");
        tc_sleep_ms(1);
    }
    tc_sleep_ms(50);
    edgecache_group_ticket_free(lead); /* leaves for its own reasons */
    for (int i = 0; i < 3; i++) {
        finish_get(&w[i]);
        CHECKF(w[i].status == EDGECACHE_OK, "waiter %d: status %d after the leader left", i, (int)w[i].status);
        CHECK_BYTES_LIT(w[i].value, "v:k");
        free_get(&w[i]);
    }
    CHECKF(atomic_load(&calls) == 1, "one getter call for the take-over: %d", atomic_load(&calls));
    close_group(g);
}

/* A getter that waits at a gate (at most TC_WAIT_LIMIT_MS), then fails with
 * code 42. */
struct gated {
    atomic_int calls;
    atomic_bool entered;
    atomic_bool open;
    atomic_int released;
    atomic_ullong released_code;
};

static int32_t gated_fail(void *user_data, const uint8_t *key, size_t key_len, edgecache_sink *sink) {
    (void)key;
    (void)key_len;
    struct gated *gt = user_data;
    atomic_fetch_add(&gt->calls, 1);
    atomic_store(&gt->entered, true);
    uint64_t start = tc_now_ms();
    while (!atomic_load(&gt->open)) {
        if (tc_now_ms() - start >= TC_WAIT_LIMIT_MS) {
            CHECK_OK(edgecache_sink_set_error(sink, 99, LIT("the gate never opened")));
            return 1;
        }
        tc_sleep_ms(1);
    }
    CHECK_OK(edgecache_sink_set_error(sink, 42, LIT("upstream down")));
    return 1;
}

static void gated_release_code(void *user_data, uint64_t code) {
    struct gated *gt = user_data;
    atomic_store(&gt->released_code, code);
    atomic_fetch_add(&gt->released, 1);
}

static void check_upstream_down(edgecache_status s, edgecache_error *err, const char *who) {
    char msg[128];
    CHECKF(s == EDGECACHE_GETTER_FAILED, "%s: status %d, expected EDGECACHE_GETTER_FAILED", who, (int)s);
    CHECKF(err != NULL, "%s: no error written", who);
    CHECKF(edgecache_error_code(err) == 42, "%s: code %" PRIu64 ", expected 42", who, edgecache_error_code(err));
    CHECKF(strcmp(tc_error_message(err, msg, sizeof msg), "upstream down") == 0, "%s: message \"%s\"", who, msg);
}

/* The getter's failure reaches the leader (a thread in edgecache_group_get),
 * two waiters seen to join (threads in edgecache_group_get_with) and a
 * waiter ticket: one getter call, the same code and message for all, and
 * the code is released once, after the last of them is freed. */
static void leader_error_reaches_all(void) {
    struct gated gt;
    memset(&gt, 0, sizeof gt);
    atomic_init(&gt.calls, 0);
    atomic_init(&gt.entered, false);
    atomic_init(&gt.open, false);
    atomic_init(&gt.released, 0);
    atomic_init(&gt.released_code, 0);
    edgecache_group *g = NULL;
    struct name name = group_name("error");
    CHECK_OK(edgecache_group_new(STR(name.s), 1 << 10, 0, gated_fail, &gt, NULL, gated_release_code, &g));
    struct get_call leader, w[2];
    start_get(&leader, g, "k", false);
    wait_flag(&gt.entered, "the getter to start");
    start_get(&w[0], g, "k", true);
    start_get(&w[1], g, "k", true);
    wait_flag(&w[0].waiting, "waiter 0 to join the load");
    wait_flag(&w[1].waiting, "waiter 1 to join the load");
    edgecache_bytes v = {NULL, 0};
    edgecache_group_ticket *t = NULL;
    CHECK_STATUS(edgecache_group_begin(g, LIT("k"), &v, &t), EDGECACHE_PENDING);
    CHECK(!edgecache_group_ticket_is_leader(t));
    atomic_store(&gt.open, true);

    finish_get(&leader);
    check_upstream_down(leader.status, leader.err, "the leader");
    for (int i = 0; i < 2; i++) {
        finish_get(&w[i]);
        check_upstream_down(w[i].status, w[i].err, i == 0 ? "waiter 0" : "waiter 1");
    }
    edgecache_error *terr = NULL;
    edgecache_status ts = edgecache_group_ticket_wait(t, TC_WAIT_LIMIT_MS, &v, &terr);
    check_upstream_down(ts, terr, "the waiter ticket");
    CHECKF(atomic_load(&gt.calls) == 1, "the getter ran %d times", atomic_load(&gt.calls));
    CHECK(main_items(g) == 0);

    CHECK(atomic_load(&gt.released) == 0);
    free_get(&leader);
    free_get(&w[0]);
    free_get(&w[1]);
    edgecache_error_free(terr);
    edgecache_group_ticket_free(t);
    CHECKF(atomic_load(&gt.released) == 1 && atomic_load(&gt.released_code) == 42,
           "one failure, released once: %d releases, last code %llu", atomic_load(&gt.released),
           (unsigned long long)atomic_load(&gt.released_code));
    close_group(g);
}

/* A getter that gets its own key, directly ("self") or through another
 * key's load ("a" gets "b", which gets "a"), fails at once with
 * EDGECACHE_RECURSIVE_LOAD; the outer load goes on. */
struct recursive {
    edgecache_group *g;
    int n;
    struct {
        char key[8];
        edgecache_status inner;
        uint64_t took_ms;
    } seen[4];
};

static int32_t recursive_getter(void *user_data, const uint8_t *key, size_t key_len, edgecache_sink *sink) {
    struct recursive *r = user_data;
    char k[8];
    CHECK(key_len < sizeof k);
    memcpy(k, key, key_len);
    k[key_len] = '\0';
    const char *inner = strcmp(k, "self") == 0 ? "self" : strcmp(k, "a") == 0 ? "b" : "a";
    edgecache_bytes v = {NULL, 0};
    edgecache_error *err = NULL;
    uint64_t start = tc_now_ms();
    edgecache_status s = edgecache_group_get(r->g, STR(inner), EDGECACHE_WAIT_FOREVER, &v, &err);
    CHECK(r->n < 4);
    snprintf(r->seen[r->n].key, sizeof r->seen[r->n].key, "%s", k);
    r->seen[r->n].inner = s;
    r->seen[r->n].took_ms = tc_now_ms() - start;
    r->n++;
    edgecache_error_free(err);
    if (s == EDGECACHE_OK) {
        CHECK_OK(edgecache_sink_set_bytes(sink, v.data, v.len));
        edgecache_bytes_free(v);
        return 0;
    }
    if (s == EDGECACHE_RECURSIVE_LOAD) {
        CHECK_OK(edgecache_sink_set_bytes(sink, LIT("outer")));
        return 0;
    }
    CHECK_OK(edgecache_sink_set_error(sink, (uint64_t)s, LIT("inner get failed")));
    return 1;
}

static void getter_recursive_load(void) {
    struct recursive r;
    memset(&r, 0, sizeof r);
    struct name name = group_name("recursive");
    CHECK_OK(edgecache_group_new(STR(name.s), 1 << 10, 0, recursive_getter, &r, NULL, NULL, &r.g));
    /* On threads: a deadlock fails the program instead of hanging it. */
    const char *outer[2] = {"self", "a"};
    for (int i = 0; i < 2; i++) {
        struct get_call c;
        start_get(&c, r.g, outer[i], false);
        finish_get(&c);
        CHECKF(c.status == EDGECACHE_OK, "the outer get of \"%s\": status %d", outer[i], (int)c.status);
        CHECK_BYTES_LIT(c.value, "outer");
        free_get(&c);
    }
    CHECKF(r.n == 3, "three getter calls (self; a, then b), got %d", r.n);
    const char *recursive_in[2] = {"self", "b"};
    for (int i = 0; i < 2; i++) {
        CHECKF(strcmp(r.seen[i].key, recursive_in[i]) == 0, "getter call %d was for \"%s\"", i, r.seen[i].key);
        CHECKF(r.seen[i].inner == EDGECACHE_RECURSIVE_LOAD, "the getter of \"%s\": inner get gave status %d",
               r.seen[i].key, (int)r.seen[i].inner);
        CHECKF(r.seen[i].took_ms < AT_ONCE_MS, "the getter of \"%s\": RECURSIVE_LOAD took %" PRIu64 " ms",
               r.seen[i].key, r.seen[i].took_ms);
    }
    /* Nothing is stuck: the key is free and cached. */
    edgecache_bytes v = {NULL, 0};
    CHECK_OK(edgecache_group_get_cached(r.g, LIT("self"), &v));
    CHECK_BYTES_LIT(v, "outer");
    edgecache_bytes_free(v);
    close_group(r.g);
}

/* ---- the table ---- */

static void no_check(const char *subject, const char *outcome) {
    tc_fail(__FILE__, __LINE__, "check", "case %s (%s:%d): no check for outcome \"%s\" of \"%s\" in C",
            current->field[0], cases_path, current->line, outcome, subject);
}

#define IS(subject_, outcome_) (strcmp(subject, subject_) == 0 && strcmp(outcome, outcome_) == 0)

static void run_case(const struct contract_case *c) {
    current = c;
    const char *subject = c->field[1], *in = c->field[2], *outcome = c->field[C_COLUMN];
    if (IS("cache.budget", "disabled"))
        cache_budget_disabled(input_budget(in));
    else if (IS("cache.budget", "invalid"))
        cache_budget_invalid(input_budget(in));
    else if (IS("group.budget", "disabled"))
        group_budget_disabled(input_budget(in));
    else if (IS("group.budget", "invalid"))
        group_budget_invalid(input_budget(in));
    else if (IS("cache.ttl", "never_expires"))
        cache_ttl_never_expires(input_ttl_ms(in));
    else if (IS("group.ttl", "never_expires"))
        group_ttl_never_expires(input_ttl_ms(in));
    else if (IS("watch.buffer", "default"))
        watch_buffer_default(input_buffer(in));
    else if (IS("flight.timeout", "no_wait"))
        flight_timeout_no_wait(input_timeout_ms(in));
    else if (IS("fresh.timeout", "no_wait"))
        fresh_timeout_no_wait(input_timeout_ms(in));
    else if (IS("watcher.next_timeout", "no_wait"))
        next_timeout_no_wait(input_timeout_ms(in));
    else if (IS("getter.sets_nothing", "no_value")) {
        input_none(in);
        getter_sets_nothing();
    } else if (IS("leader.leaves", "waiter_retries")) {
        input_none(in);
        leader_leaves_waiter_retries();
    } else if (IS("leader.error", "reaches_all")) {
        input_none(in);
        leader_error_reaches_all();
    } else if (IS("getter.recursive", "recursive_load")) {
        input_none(in);
        getter_recursive_load();
    } else
        no_check(subject, outcome);
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : getenv("EDGECACHE_CONTRACT_CASES");
    load_cases(path != NULL && *path != '\0' ? path : CASES_DEFAULT);
    printf("test_contract: %zu cases from %s\n", n_cases, cases_path);
    int ran = 0, skipped = 0;
    for (size_t i = 0; i < n_cases; i++) {
        const struct contract_case *c = &cases[i];
        printf("  %-24s %-22s %-6s -> %-15s ", c->field[0], c->field[1], c->field[2], c->field[C_COLUMN]);
        fflush(stdout);
        if (strcmp(c->field[C_COLUMN], "n/a") == 0) {
            printf("skip\n");
            skipped++;
            continue;
        }
        run_case(c);
        printf("ok\n");
        fflush(stdout);
        ran++;
    }
    CHECKF(ran > 0, "no case has a C outcome");
    printf("test_contract: ok (%d cases, %d n/a)\n", ran, skipped);
    return 0;
}
