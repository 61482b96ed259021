/* SPDX-License-Identifier: MIT */
/*
 * bench_urcu.c: the benchmark's loops for liburcu, the reference.  Compiled
 * once per flavour, with -DBENCH_URCU_MEMB (urcu-memb: membarrier, readers
 * pay a compiler barrier) or -DBENCH_URCU_MB (urcu-mb: full fences in every
 * reader).  _LGPL_SOURCE inlines the read side, as a liburcu user would.
 * This file never includes qemu_rcu.h: both headers define rcu_read_lock,
 * struct rcu_head and friends.
 */
#define _LGPL_SOURCE
#include <stdlib.h>

#if defined(BENCH_URCU_MEMB)
#include <urcu/urcu-memb.h>
#define URCU(name) urcu_memb_##name
#define BENCH(name) bench_memb_##name
#elif defined(BENCH_URCU_MB)
#include <urcu/urcu-mb.h>
#define URCU(name) urcu_mb_##name
#define BENCH(name) bench_mb_##name
#else
#error "compile with -DBENCH_URCU_MEMB or -DBENCH_URCU_MB"
#endif

#include "bench_harness.h"

/* liburcu corrupts its registry if a thread registers twice. */
static __thread int registered;

static void register_thread(void)
{
    if (!registered) {
        URCU(register_thread)();
        registered = 1;
    }
}

static void unregister_thread(void)
{
    if (registered) {
        URCU(unregister_thread)();
        registered = 0;
    }
}

static void read_lock(void) { URCU(read_lock)(); }
static void read_unlock(void) { URCU(read_unlock)(); }
static void synchronize(void) { URCU(synchronize_rcu)(); }

static const struct bench_flavor flavor = {
    register_thread, unregister_thread, read_lock, read_unlock, synchronize,
};

static long callbacks_run;

static void count_callback(struct rcu_head *head)
{
    (void)head;
    __atomic_fetch_add(&callbacks_run, 1, __ATOMIC_RELAXED);
}

/* Register the timing thread and start the flavour's call_rcu thread now,
 * so neither is timed and the writer sees the same registry as ours (the
 * caller and a registered callback thread). */
int BENCH(setup)(void)
{
    static struct rcu_head warmup;

    register_thread();
    URCU(call_rcu)(&warmup, count_callback);
    URCU(barrier)();
    return 0;
}

uint64_t BENCH(read_pairs)(long n)
{
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        URCU(read_lock)();
        URCU(read_unlock)();
    }
    return bench_now_ns() - t0;
}

int BENCH(sync_latency)(int mode, int n, uint64_t *out_ns)
{
    return bench_sync_latency(&flavor, mode, n, out_ns);
}

/* n callbacks queued back to back, then rcu_barrier().  Heads are allocated
 * up front so malloc is not timed.  Returns how many callbacks ran (n when
 * all is well), or -1 if out of memory. */
long BENCH(call_rcu)(long n, uint64_t *enqueue_ns, uint64_t *total_ns)
{
    struct rcu_head *heads = calloc((size_t)n, sizeof(*heads));
    uint64_t t0, t1;
    long before;

    if (heads == NULL) {
        return -1;
    }
    before = __atomic_load_n(&callbacks_run, __ATOMIC_RELAXED);
    t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        URCU(call_rcu)(&heads[i], count_callback);
    }
    t1 = bench_now_ns();
    URCU(barrier)();
    *total_ns = bench_now_ns() - t0;
    *enqueue_ns = t1 - t0;
    free(heads);
    return __atomic_load_n(&callbacks_run, __ATOMIC_RELAXED) - before;
}
