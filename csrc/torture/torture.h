/* SPDX-License-Identifier: MIT */
/*
 * torture.h: an rcutorture-style stress of the RCU core, run by C threads.
 *
 * Plain C, no Python: the extension module exposes it to
 * `python -m qemu_rcu torture`, and a C program linked against the core
 * (with QEMU_RCU_CORE defined) can drive it the same way.
 *
 * What runs between start and stop:
 *
 *  - readers: each loop is one read-side section with a nested one inside.
 *    The reader loads the current pipeline object and the current heap
 *    object with qatomic_rcu_read(), checks that both were fully published
 *    (mbtest), lingers, then checks that neither was poisoned or recycled
 *    meanwhile and records the pipeline object's age in a histogram.
 *    Even-numbered readers register themselves; odd ones are registered by
 *    their first rcu_read_lock() and unregistered by their thread's exit.
 *  - updater 0 advances a ring of QEMU_RCU_TORTURE_PIPE_LEN static objects:
 *    re-initialise the next one, publish it, age every other one, wait for
 *    a grace period (timed: longest_gp_ns), poison the one it replaced.
 *    A reader can therefore see age 0 (current) or 1 (replaced, grace
 *    period still running): age 2 or more means a grace period ended while
 *    a reader still held the object.
 *  - updater 1 (if updaters >= 2) publishes malloc'ed objects and retires
 *    each old one with call_rcu1(); its callback poisons the object and
 *    frees it one grace period later (so a reader that got there too early
 *    sees the poison instead of freed memory).
 *  - updaters 2 and up loop on synchronize_rcu() (even ones) or
 *    synchronize_rcu_expedited() (odd ones), so grace periods overlap.
 *
 * Built against QEMU's own qemu/rcu.h instead of qemu_rcu.h (see torture.c),
 * every reader registers itself and the odd updaters call synchronize_rcu();
 * torture_main.c runs the engine as a program of its own, for QEMU's core.
 *
 * Every thread is started and joined by this module; the functions are
 * not thread-safe with respect to the same torture object.
 */
#ifndef QEMU_RCU_TORTURE_H
#define QEMU_RCU_TORTURE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define QEMU_RCU_TORTURE_PIPE_LEN 10
/* Ages 0 .. PIPE_LEN - 1, and a last bucket for PIPE_LEN and over. */
#define QEMU_RCU_TORTURE_AGES 11
#define QEMU_RCU_TORTURE_MAX_READERS 1024
#define QEMU_RCU_TORTURE_MAX_UPDATERS 64

struct qemu_rcu_torture;

/* Totals since start (longest_gp_ns: a maximum).  A snapshot taken while
 * the threads run is the sum of per-thread counters read one after the
 * other, not one consistent cut. */
struct qemu_rcu_torture_counts {
    uint64_t reads;          /* read-side sections completed by readers */
    uint64_t updates;        /* pipeline advances (each ends with a grace period) */
    uint64_t heap_updates;   /* heap objects retired through call_rcu1() */
    uint64_t reclaimed;      /* ... whose callback has run (poisoned them) */
    uint64_t sync_loops;     /* synchronize_rcu*() calls of updaters 2 and up */
    uint64_t mberrors;       /* a reader saw an object before it was ready */
    uint64_t poisoned;       /* a reader saw an object that was reclaimed */
    uint64_t recycled;       /* an object was re-initialised under a reader */
    uint64_t age[QEMU_RCU_TORTURE_AGES];   /* ages readers saw */
    uint64_t longest_gp_ns;  /* updater 0's slowest synchronize_rcu(), ns */
};

/* Start `readers` reader threads (1 .. MAX_READERS) and `updaters` updater
 * threads (1 .. MAX_UPDATERS).  NULL if an argument is out of range or
 * memory or threads ran out (nothing is left running then). */
struct qemu_rcu_torture *qemu_rcu_torture_start(int readers, int updaters);

/* The counts so far; the threads keep running. */
void qemu_rcu_torture_snapshot(struct qemu_rcu_torture *t,
                               struct qemu_rcu_torture_counts *out);

/* Stop and join every thread, wait until every retired heap object has been
 * reclaimed, store the final counts in *final (if not NULL) and free t.
 * Waits for RCU callbacks (drain_call_rcu), so it must not be called inside
 * a read-side section or from an RCU callback. */
void qemu_rcu_torture_stop(struct qemu_rcu_torture *t,
                           struct qemu_rcu_torture_counts *final);

/* The number of errors in c: mbtest errors, poisoned and recycled reads and
 * every age of 2 or more.  Zero on a correct RCU. */
uint64_t qemu_rcu_torture_errors(const struct qemu_rcu_torture_counts *c);

#ifdef __cplusplus
}
#endif

#endif /* QEMU_RCU_TORTURE_H */
