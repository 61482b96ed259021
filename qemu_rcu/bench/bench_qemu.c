/* SPDX-License-Identifier: MIT */
/*
 * bench_qemu.c: the C part's loops on QEMU's own util/rcu.c, for
 * `qemu-rcu bench --qemu-source`.  Written for qemu-rcu.
 *
 * A plain C program, built at bench time against QEMU's qemu/rcu.h (through
 * qemu_check/qemu_core_api/qemu_rcu.h) and linked with QEMU's util/rcu.c,
 * once per QEMU build (native.py).  The loops are those of bench_c.c for
 * qemu-rcu and of bench_urcu.c for liburcu: the inline read side from the
 * header, bench_harness.c around synchronize_rcu(), preallocated heads for
 * call_rcu1() and then drain_call_rcu().
 *
 *   bench_qemu PAIRS_N SYNC_N CALLBACKS_N
 *
 * prints one JSON object: the ns for PAIRS_N lock+unlock pairs, each of
 * SYNC_N synchronize_rcu() times in ns per mode of bench_harness.h, and
 * the second of two call_rcu1 runs of CALLBACKS_N callbacks (the first pays
 * the page faults).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "qemu_rcu.h"
#include "bench_harness.h"
#include "bench_call_rcu.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static void qemu_register(void) { rcu_register_thread(); }
static void qemu_unregister(void) { rcu_unregister_thread(); }
static void qemu_lock(void) { rcu_read_lock(); }
static void qemu_unlock(void) { rcu_read_unlock(); }
static void qemu_synchronize(void) { synchronize_rcu(); }

static const struct bench_flavor qemu = {
    qemu_register, qemu_unregister, qemu_lock, qemu_unlock, qemu_synchronize,
};

static uint64_t read_pairs(long n)
{
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        rcu_read_lock();
        rcu_read_unlock();
    }
    return bench_now_ns() - t0;
}

static int fail(const char *what)
{
    fprintf(stderr, "bench_qemu: %s\n", what);
    return 1;
}

int main(int argc, char **argv)
{
    static const char *const modes[] = { "alone", "idle4", "reader" };
    long pairs_n, callbacks_n, ran = 0;
    int sync_n;
    uint64_t *times, enqueue_ns = 0, total_ns = 0, pairs_ns;

    if (argc != 4) {
        fprintf(stderr, "usage: %s PAIRS_N SYNC_N CALLBACKS_N\n", argv[0]);
        return 2;
    }
    pairs_n = atol(argv[1]);
    sync_n = atoi(argv[2]);
    callbacks_n = atol(argv[3]);
    if (pairs_n < 1 || sync_n < 1 || callbacks_n < 1) {
        fprintf(stderr, "usage: %s PAIRS_N SYNC_N CALLBACKS_N (each at least 1)\n", argv[0]);
        return 2;
    }
    times = calloc((size_t)sync_n, sizeof(*times));
    if (times == NULL) {
        return fail("out of memory");
    }

    /* No rcu_register_thread() here: QEMU's core registers the thread that
     * runs its constructor, this one, and a second registration would
     * corrupt its list of readers. */
    pairs_ns = read_pairs(pairs_n);
    printf("{\"membarrier\": %d, \"pairs_ns\": %" PRIu64 ", \"sync\": {",
#ifdef CONFIG_MEMBARRIER
           1,
#else
           0,
#endif
           pairs_ns);
    for (int m = 0; m < 3; m++) {
        if (bench_sync_latency(&qemu, m, sync_n, times) != 0) {
            return fail("cannot start helper threads");
        }
        printf("%s\"%s\": [", m ? ", " : "", modes[m]);
        for (int i = 0; i < sync_n; i++) {
            printf("%s%" PRIu64, i ? ", " : "", times[i]);
        }
        printf("]");
    }
    for (int run = 0; run < 2; run++) {
        ran = bench_call_rcu(callbacks_n, &enqueue_ns, &total_ns);
        if (ran < 0) {
            return fail("out of memory");
        }
    }
    printf("}, \"callbacks\": {\"ran\": %ld, \"enqueue_ns\": %" PRIu64
           ", \"total_ns\": %" PRIu64 "}}\n", ran, enqueue_ns, total_ns);
    free(times);
    return 0;
}
