/* SPDX-License-Identifier: MIT */
/*
 * A manual-reset, broadcast event (QEMU's QemuEvent semantics): once set it
 * stays set and releases every waiter until someone resets it.  The intended
 * use is reset, re-check the condition, then wait: a set() that races with
 * the check is never lost.
 */
#ifndef QEMU_RCU_EVENT_H
#define QEMU_RCU_EVENT_H

#include <stdbool.h>
#include <stdint.h>

#ifndef __linux__
#include <pthread.h>
#endif

typedef struct QemuEvent {
    unsigned value;           /* EV_SET, EV_FREE or EV_BUSY */
#ifndef __linux__
    pthread_mutex_t lock;     /* no futex: a mutex and condvar stand in */
    pthread_cond_t cond;
#endif
} QemuEvent;

void qemu_event_init(QemuEvent *ev, bool set);
void qemu_event_destroy(QemuEvent *ev);
void qemu_event_set(QemuEvent *ev);
void qemu_event_reset(QemuEvent *ev);
void qemu_event_wait(QemuEvent *ev);
/* Wait at most timeout_ns (negative: forever); true if the event is set. */
bool qemu_event_timedwait(QemuEvent *ev, int64_t timeout_ns);

/* Monotonic clock in nanoseconds. */
int64_t qemu_rcu_clock_ns(void);

#endif
