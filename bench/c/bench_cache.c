/*
 * Cache hits through the C ABI: edgecache_cache_get + edgecache_bytes_free
 * per operation, single-threaded, in ns/op.
 *
 * The workload is defined once here and copied exactly in
 * crates/edgecache/examples/hit_from_rust.rs (same keys, values, index
 * streams and checksum), which times edgecache::Cache::get from Rust;
 * bench/c/bench.sh runs both and prints the ratio.
 *
 *   32,768 keys of 8 bytes (little-endian i), values of 16 bytes
 *   (le(i) || le(~i)), a 64 MiB budget (everything fits: every get hits).
 *   Index streams of 2^20 entries from splitmix64(seed 42):
 *     uniform: r mod 32768
 *     zipf:    s = 0.99 over the 32,768 ranks (YCSB's constant), by inverse CDF
 *   One warm-up round, then 7 rounds of 2^22 gets (the stream four times);
 *   the median round is reported. EDGECACHE_BENCH_OPS (gets per round) and
 *   EDGECACHE_BENCH_ROUNDS override the 2^22 and the 7.
 *
 * Output, one line per stream:
 *   c-abi uniform: 41.7 ns/op (median of 7 rounds x 4194304 gets; 32768 keys; checksum 123)
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edgecache.h"

#define N_KEYS 32768u
#define STREAM_LEN (1u << 20)
#define MAX_ROUNDS 31
#define ZIPF_S 0.99

/* Gets per round and rounds: 2^22 and 7 unless EDGECACHE_BENCH_OPS /
 * EDGECACHE_BENCH_ROUNDS say otherwise (bench.sh --callgrind uses fewer). */
static uint32_t ops_per_round = 1u << 22;
static int rounds = 7;

static uint64_t splitmix_state;

static uint64_t splitmix64(void) {
    uint64_t z = (splitmix_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void put_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void fill_uniform(uint32_t *idx) {
    splitmix_state = 42;
    for (uint32_t i = 0; i < STREAM_LEN; i++) idx[i] = (uint32_t)(splitmix64() % N_KEYS);
}

static void fill_zipf(uint32_t *idx) {
    double *cdf = malloc(N_KEYS * sizeof *cdf);
    if (cdf == NULL) abort();
    double sum = 0;
    for (uint32_t k = 0; k < N_KEYS; k++) {
        sum += 1.0 / pow((double)(k + 1), ZIPF_S);
        cdf[k] = sum;
    }
    for (uint32_t k = 0; k < N_KEYS; k++) cdf[k] /= sum;
    splitmix_state = 42;
    for (uint32_t i = 0; i < STREAM_LEN; i++) {
        double u = (double)(splitmix64() >> 11) * (1.0 / 9007199254740992.0); /* [0, 1) */
        uint32_t lo = 0, hi = N_KEYS - 1;                                  /* first k with cdf[k] >= u */
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (cdf[mid] >= u) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        idx[i] = lo;
    }
    free(cdf);
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint8_t keys[N_KEYS][8];

/* noinline: callgrind counts this function (--toggle-collect=run_round). */
__attribute__((noinline)) static uint64_t run_round(const edgecache_cache *c, const uint32_t *idx) {
    uint64_t checksum = 0;
    for (uint32_t op = 0; op < ops_per_round; op++) {
        const uint8_t *key = keys[idx[op & (STREAM_LEN - 1)]];
        edgecache_bytes b;
        if (edgecache_cache_get(c, key, 8, &b) != EDGECACHE_OK) {
            fprintf(stderr, "bench_cache: a get missed\n");
            exit(1);
        }
        checksum += (uint64_t)b.data[0] + b.len;
        edgecache_bytes_free(b);
    }
    return checksum;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void bench(const edgecache_cache *c, const char *name, const uint32_t *idx) {
    uint64_t checksum = run_round(c, idx); /* warm-up */
    double ns[MAX_ROUNDS];
    for (int r = 0; r < rounds; r++) {
        double t0 = now_ns();
        uint64_t sum = run_round(c, idx);
        ns[r] = (now_ns() - t0) / ops_per_round;
        if (sum != checksum) {
            fprintf(stderr, "bench_cache: checksum changed between rounds\n");
            exit(1);
        }
    }
    qsort(ns, (size_t)rounds, sizeof ns[0], cmp_double);
    printf("c-abi %s: %.1f ns/op (median of %d rounds x %u gets; %u keys; checksum %llu)\n", name, ns[rounds / 2],
           rounds, ops_per_round, N_KEYS, (unsigned long long)checksum);
    fflush(stdout);
}

int main(void) {
    const char *env = getenv("EDGECACHE_BENCH_OPS");
    if (env != NULL) ops_per_round = (uint32_t)strtoul(env, NULL, 10);
    env = getenv("EDGECACHE_BENCH_ROUNDS");
    if (env != NULL) rounds = atoi(env);
    if (ops_per_round == 0 || rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "bench_cache: bad EDGECACHE_BENCH_OPS / EDGECACHE_BENCH_ROUNDS\n");
        return 2;
    }
    edgecache_cache *c = NULL;
    if (edgecache_cache_new(64ll << 20, &c) != EDGECACHE_OK) return 1;
    for (uint32_t i = 0; i < N_KEYS; i++) {
        uint8_t value[16];
        put_le64(keys[i], i);
        put_le64(value, i);
        put_le64(value + 8, ~(uint64_t)i);
        bool stored = false;
        if (edgecache_cache_set(c, keys[i], 8, value, 16, 0, &stored) != EDGECACHE_OK || !stored) return 1;
    }
    uint32_t *idx = malloc(STREAM_LEN * sizeof *idx);
    if (idx == NULL) return 1;
    fill_uniform(idx);
    bench(c, "uniform", idx);
    fill_zipf(idx);
    bench(c, "zipf", idx);
    free(idx);
    edgecache_cache_free(c);
    return 0;
}
