/* SPDX-License-Identifier: MIT */
/*
 * Stand-in for QEMU's qemu/main-loop.h, reduced to the big QEMU lock (BQL)
 * that QEMU's call_rcu thread takes around callbacks: one process-wide mutex
 * and a per-thread "held" flag.  Both spellings are provided: QEMU 8.2 and
 * later (bql_lock, bql_unlock, bql_locked) and earlier releases
 * (qemu_mutex_lock_iothread, qemu_mutex_unlock_iothread,
 * qemu_mutex_iothread_locked).  The state is defined weak, so that every
 * translation unit that includes this header shares one lock.  Written for
 * qemu-rcu; only names and behaviour follow QEMU.
 */
#ifndef QEMU_MAIN_LOOP_H
#define QEMU_MAIN_LOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

__attribute__((weak)) pthread_mutex_t qemu_shim_bql = PTHREAD_MUTEX_INITIALIZER;
__attribute__((weak)) __thread bool qemu_shim_bql_held;

static inline bool bql_locked(void)
{
    return qemu_shim_bql_held;
}

static inline void bql_lock(void)
{
    if (qemu_shim_bql_held) {
        fputs("qemu shim: bql_lock() with the BQL already held\n", stderr);
        abort();
    }
    pthread_mutex_lock(&qemu_shim_bql);
    qemu_shim_bql_held = true;
}

static inline void bql_unlock(void)
{
    if (!qemu_shim_bql_held) {
        fputs("qemu shim: bql_unlock() without the BQL\n", stderr);
        abort();
    }
    qemu_shim_bql_held = false;
    pthread_mutex_unlock(&qemu_shim_bql);
}

/* QEMU before 8.2 spelled the same operations this way. */
#define qemu_mutex_lock_iothread()   bql_lock()
#define qemu_mutex_unlock_iothread() bql_unlock()
#define qemu_mutex_iothread_locked() bql_locked()

#endif /* QEMU_MAIN_LOOP_H */
