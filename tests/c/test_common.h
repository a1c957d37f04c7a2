/*
 * Small helpers shared by the C test programs in tests/c (see run.sh).
 *
 * Include this header first: it selects POSIX 2008 (pthread barriers,
 * nanosleep, clock_gettime) before any system header is read.
 *
 * A failed CHECK prints file:line, the expression, the status (number and
 * edgecache_status_message) when there is one, and this thread's
 * edgecache_last_error_message, then ends the process with exit status 1.
 */
#ifndef EDGECACHE_TEST_COMMON_H
#define EDGECACHE_TEST_COMMON_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edgecache.h"

/* A string literal as an edgecache (pointer, length) pair, without the NUL. */
#define LIT(s) ((const uint8_t *)(s)), (sizeof(s) - 1)

/* A NUL-terminated string as a (pointer, length) pair. */
#define STR(s) ((const uint8_t *)(s)), strlen(s)

static inline const char *tc_status_text(int status, char *buf, size_t cap) {
    if (edgecache_status_message((uint32_t)status, buf, cap, NULL) != EDGECACHE_OK) {
        snprintf(buf, cap, "(no message for status %d)", status);
    }
    return buf;
}

static inline void tc_print_last_error(void) {
    char msg[512];
    size_t len = 0;
    edgecache_status s = edgecache_last_error_message(msg, sizeof msg, &len);
    if (s == EDGECACHE_OK) {
        fprintf(stderr, "  last error: \"%s\"\n", msg);
    } else if (s == EDGECACHE_BUFFER_TOO_SMALL) {
        fprintf(stderr, "  last error: (%zu bytes, too long to show)\n", len);
    } else {
        fprintf(stderr, "  last error: (unavailable, status %d)\n", (int)s);
    }
}

static inline void tc_die(void) {
    fflush(stdout);
    fflush(stderr);
    /* _Exit: other threads may still be inside edgecache; do not run
     * atexit handlers or destructors under them. */
    _Exit(1);
}

static inline void tc_fail(const char *file, int line, const char *expr, const char *fmt, ...) {
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, expr);
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        fputs("  ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
    tc_print_last_error();
    tc_die();
}

static inline void tc_fail_status(const char *file, int line, const char *expr, int got, int want) {
    char a[128], b[128];
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, expr);
    fprintf(stderr, "  status %d (%s), expected %d (%s)\n", got, tc_status_text(got, a, sizeof a), want,
            tc_status_text(want, b, sizeof b));
    tc_print_last_error();
    tc_die();
}

/* A condition that must hold. */
#define CHECK(cond)                                               \
    do {                                                          \
        if (!(cond)) tc_fail(__FILE__, __LINE__, #cond, NULL);    \
    } while (0)

/* A condition that must hold, with a printf-style explanation. */
#define CHECKF(cond, ...)                                                \
    do {                                                                 \
        if (!(cond)) tc_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);    \
    } while (0)

/* A call that must return the given status. */
#define CHECK_STATUS(expr, want)                                                  \
    do {                                                                          \
        int tc_got_ = (int)(expr);                                                \
        if (tc_got_ != (int)(want)) tc_fail_status(__FILE__, __LINE__, #expr, tc_got_, (int)(want)); \
    } while (0)

/* A call that must succeed. */
#define CHECK_OK(expr) CHECK_STATUS(expr, EDGECACHE_OK)

/* `b` (an edgecache_bytes) holds exactly the bytes of string literal `lit`. */
#define CHECK_BYTES_LIT(b, lit)                                                               \
    do {                                                                                      \
        edgecache_bytes tc_b_ = (b);                                                          \
        if (!tc_bytes_eq(tc_b_, (const uint8_t *)(lit), sizeof(lit) - 1))                     \
            tc_fail(__FILE__, __LINE__, #b " == " #lit, "got %zu bytes \"%.*s\"", tc_b_.len,  \
                    (int)(tc_b_.len > 200 ? 200 : tc_b_.len), tc_b_.data ? (const char *)tc_b_.data : ""); \
    } while (0)

/* `b` holds exactly `len` bytes equal to `p`. */
#define CHECK_BYTES(b, p, n)                                                                  \
    do {                                                                                      \
        edgecache_bytes tc_b_ = (b);                                                          \
        if (!tc_bytes_eq(tc_b_, (const uint8_t *)(p), (n)))                                   \
            tc_fail(__FILE__, __LINE__, #b " == " #p, "got %zu bytes, expected %zu", tc_b_.len, (size_t)(n)); \
    } while (0)

static inline bool tc_bytes_eq(edgecache_bytes b, const uint8_t *p, size_t n) {
    if (b.data == NULL) return false; /* edgecache never writes NULL data */
    if (b.len != n) return false;
    return n == 0 || memcmp(b.data, p, n) == 0;
}

/* This thread's last error message, copied into `buf`. */
static inline const char *tc_last_error(char *buf, size_t cap) {
    buf[0] = '\0';
    if (edgecache_last_error_message(buf, cap, NULL) != EDGECACHE_OK) buf[0] = '\0';
    return buf;
}

/* An edgecache_error's message, copied into `buf`. */
static inline const char *tc_error_message(const edgecache_error *err, char *buf, size_t cap) {
    buf[0] = '\0';
    CHECK_OK(edgecache_error_message(err, buf, cap, NULL));
    return buf;
}

/* A borrowed edgecache_str for a string literal. */
#define S(lit) ((edgecache_str){(lit), sizeof(lit) - 1})

/* An object to write: key and data as C strings, labels and fields as
   (pointer, count) pairs (NULL, 0 for none). Borrows everything. */
static inline edgecache_object tc_object(const char *key, const char *data, const edgecache_pair *labels,
                                         size_t n_labels, const edgecache_pair *fields, size_t n_fields) {
    edgecache_object o;
    memset(&o, 0, sizeof o);
    o.key.ptr = key;
    o.key.len = strlen(key);
    o.data = (const uint8_t *)data;
    o.data_len = strlen(data);
    o.labels = labels;
    o.n_labels = n_labels;
    o.fields = fields;
    o.n_fields = n_fields;
    return o;
}

static inline void tc_sleep_ms(unsigned ms) {
    struct timespec ts;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static inline uint64_t tc_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Bounded waits: everything that waits for another thread gives up after
 * this long (generous: valgrind runs threads one at a time, 20-50x slower).
 */
#define TC_WAIT_LIMIT_MS 60000u

/* pthread calls that must succeed. */
#define CHECK_PT(expr)                                                           \
    do {                                                                         \
        int tc_rc_ = (expr);                                                     \
        if (tc_rc_ != 0) tc_fail(__FILE__, __LINE__, #expr, "pthread error %d (%s)", tc_rc_, strerror(tc_rc_)); \
    } while (0)

/* Runs one test function and says so (on stdout, which run.sh keeps in a log). */
#define RUN(test)                          \
    do {                                   \
        printf("  %-50s ", #test);         \
        fflush(stdout);                    \
        test();                            \
        printf("ok\n");                    \
        fflush(stdout);                    \
    } while (0)

#endif /* EDGECACHE_TEST_COMMON_H */
