/* SPDX-License-Identifier: MIT */
/*
 * bench_harness.h: what the benchmark's C files share.  Plain C with no RCU
 * header, so it can sit next to qemu_rcu.h in one file and next to liburcu's
 * headers in another: the two define the same names (rcu_read_lock,
 * struct rcu_head, ...) and must never meet in one translation unit.
 */
#ifndef QEMU_RCU_BENCH_HARNESS_H
#define QEMU_RCU_BENCH_HARNESS_H

#include <stdint.h>
#include <time.h>

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* An RCU flavour as the grace-period harness sees it.  Helper threads call
 * these through pointers; that is fine because helpers are never timed.
 * The timed loops are written out in each flavour's own file, inlined. */
struct bench_flavor {
    void (*register_thread)(void);
    void (*unregister_thread)(void);
    void (*read_lock)(void);
    void (*read_unlock)(void);
    void (*synchronize)(void);
};

/* Who else is around while synchronize() is timed. */
enum bench_sync_mode {
    BENCH_SYNC_ALONE = 0,     /* no other thread of ours */
    BENCH_SYNC_IDLE4 = 1,     /* 4 registered threads, asleep outside sections */
    BENCH_SYNC_READER = 2,    /* 1 thread looping short read-side sections */
};

/* Time n calls of f->synchronize() one by one, into out_ns[0..n).  Returns
 * 0, or -1 if a helper thread could not be started. */
int bench_sync_latency(const struct bench_flavor *f, int mode, int n,
                       uint64_t *out_ns);

/* liburcu, one set per flavour (bench_urcu.c compiled once for each). */
#define BENCH_URCU_DECLARE(flv)                                               \
    int bench_##flv##_setup(void);                                            \
    uint64_t bench_##flv##_read_pairs(long n);                                \
    int bench_##flv##_sync_latency(int mode, int n, uint64_t *out_ns);        \
    long bench_##flv##_call_rcu(long n, uint64_t *enqueue_ns,                 \
                                uint64_t *total_ns);
BENCH_URCU_DECLARE(memb)
BENCH_URCU_DECLARE(mb)

#endif
