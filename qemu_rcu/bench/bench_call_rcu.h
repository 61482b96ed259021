/* SPDX-License-Identifier: MIT */
/*
 * bench_call_rcu.h: the call_rcu1 throughput loop, shared by the benches of
 * every core that has QEMU's API (bench_c.c for qemu-rcu, bench_qemu.c for
 * QEMU's util/rcu.c).  Include after qemu_rcu.h and bench_harness.h.
 */
#ifndef QEMU_RCU_BENCH_CALL_RCU_H
#define QEMU_RCU_BENCH_CALL_RCU_H

#include <stdlib.h>

static long bench_callbacks_run;

static void bench_count_callback(struct rcu_head *head)
{
    (void)head;
    __atomic_fetch_add(&bench_callbacks_run, 1, __ATOMIC_RELAXED);
}

/* Queue n callbacks on preallocated heads, then drain_call_rcu(); returns
 * how many ran (n, or the bench is wrong), -1 without memory.  The same
 * shape as bench_urcu.c's loop for liburcu. */
static long bench_call_rcu(long n, uint64_t *enqueue_ns, uint64_t *total_ns)
{
    struct rcu_head *heads = calloc((size_t)n, sizeof(*heads));
    uint64_t t0, t1;
    long before;

    if (heads == NULL) {
        return -1;
    }
    before = __atomic_load_n(&bench_callbacks_run, __ATOMIC_RELAXED);
    t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        call_rcu1(&heads[i], bench_count_callback);
    }
    t1 = bench_now_ns();
    drain_call_rcu();
    *total_ns = bench_now_ns() - t0;
    *enqueue_ns = t1 - t0;
    free(heads);
    return __atomic_load_n(&bench_callbacks_run, __ATOMIC_RELAXED) - before;
}

#endif /* QEMU_RCU_BENCH_CALL_RCU_H */
