/* SPDX-License-Identifier: MIT */
/*
 * A manual-reset, broadcast event (QEMU's QemuRcuEvent semantics): once set it
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

typedef struct QemuRcuEvent {
    unsigned value;           /* EV_SET, EV_FREE or EV_BUSY */
#ifndef __linux__
    pthread_mutex_t lock;     /* no futex: a mutex and condvar stand in */
    pthread_cond_t cond;
#endif
} QemuRcuEvent;

void qemu_rcu_event_init(QemuRcuEvent *ev, bool set);
void qemu_rcu_event_destroy(QemuRcuEvent *ev);
void qemu_rcu_event_set(QemuRcuEvent *ev);
void qemu_rcu_event_reset(QemuRcuEvent *ev);
void qemu_rcu_event_wait(QemuRcuEvent *ev);
/* Wait at most timeout_ns (negative: forever); true if the event is set. */
bool qemu_rcu_event_timedwait(QemuRcuEvent *ev, int64_t timeout_ns);

/* Monotonic clock in nanoseconds. */
int64_t qemu_rcu_clock_ns(void);

#endif
