/* SPDX-License-Identifier: MIT */
/* QemuRcuEvent on a futex word, with a mutex/condvar fallback elsewhere. */
#include "event.h"

#ifndef QEMU_RCU_CORE
#define QEMU_RCU_CORE
#endif
#include "qemu_rcu.h"     /* qemu_rcu_smp_mb() */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

/* Set is 0 so that reset can be an OR with 1; busy means "free, and someone
 * sleeps on the futex", so set() knows whether a wake-up is needed. */
enum { EV_SET = 0, EV_FREE = 1, EV_BUSY = UINT_MAX };

int64_t qemu_rcu_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#ifdef __linux__

static void futex_wake_all(unsigned *addr)
{
    syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Sleep while *addr == val, at most until the deadline (or forever if
 * deadline < 0).  Returns false once the deadline has passed. */
static bool futex_wait(unsigned *addr, unsigned val, int64_t deadline)
{
    struct timespec rel, *timeout = NULL;

    if (deadline >= 0) {
        int64_t left = deadline - qemu_rcu_clock_ns();
        if (left <= 0) {
            return false;
        }
        rel.tv_sec = left / 1000000000;
        rel.tv_nsec = left % 1000000000;
        timeout = &rel;
    }
    if (syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, timeout, NULL, 0) < 0
        && errno != EAGAIN && errno != EINTR && errno != ETIMEDOUT) {
        fprintf(stderr, "qemu-rcu: fatal: futex wait failed (errno %d)\n", errno);
        abort();
    }
    return true;
}

void qemu_rcu_event_init(QemuRcuEvent *ev, bool set)
{
    __atomic_store_n(&ev->value, set ? EV_SET : EV_FREE, __ATOMIC_RELAXED);
}

void qemu_rcu_event_destroy(QemuRcuEvent *ev)
{
    (void)ev;
}

void qemu_rcu_event_set(QemuRcuEvent *ev)
{
    /* Whatever the setter did before must be visible to released waiters. */
    qemu_rcu_smp_mb();
    if (__atomic_load_n(&ev->value, __ATOMIC_RELAXED) != EV_SET) {
        if (__atomic_exchange_n(&ev->value, EV_SET, __ATOMIC_SEQ_CST) == EV_BUSY) {
            futex_wake_all(&ev->value);
        }
    }
}

void qemu_rcu_event_reset(QemuRcuEvent *ev)
{
    /* SET becomes FREE; FREE and BUSY keep their value (BUSY has sleepers). */
    __atomic_fetch_or(&ev->value, EV_FREE, __ATOMIC_SEQ_CST);
    /* The caller's re-check of its condition must not move above the reset. */
    qemu_rcu_smp_mb();
}

bool qemu_rcu_event_timedwait(QemuRcuEvent *ev, int64_t timeout_ns)
{
    int64_t deadline = timeout_ns < 0 ? -1 : qemu_rcu_clock_ns() + timeout_ns;

    for (;;) {
        unsigned v = __atomic_load_n(&ev->value, __ATOMIC_ACQUIRE);
        if (v == EV_SET) {
            return true;
        }
        if (v == EV_FREE &&
            !__atomic_compare_exchange_n(&ev->value, &v, EV_BUSY, false,
                                         __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
            continue;       /* it changed under us: look again */
        }
        if (!futex_wait(&ev->value, EV_BUSY, deadline)) {
            return __atomic_load_n(&ev->value, __ATOMIC_ACQUIRE) == EV_SET;
        }
    }
}

#else /* no futex */

void qemu_rcu_event_init(QemuRcuEvent *ev, bool set)
{
    pthread_mutex_init(&ev->lock, NULL);
    pthread_cond_init(&ev->cond, NULL);
    ev->value = set ? EV_SET : EV_FREE;
}

void qemu_rcu_event_destroy(QemuRcuEvent *ev)
{
    pthread_cond_destroy(&ev->cond);
    pthread_mutex_destroy(&ev->lock);
}

void qemu_rcu_event_set(QemuRcuEvent *ev)
{
    pthread_mutex_lock(&ev->lock);
    __atomic_store_n(&ev->value, EV_SET, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&ev->cond);
    pthread_mutex_unlock(&ev->lock);
}

void qemu_rcu_event_reset(QemuRcuEvent *ev)
{
    pthread_mutex_lock(&ev->lock);
    ev->value = EV_FREE;
    pthread_mutex_unlock(&ev->lock);
    qemu_rcu_smp_mb();
}

bool qemu_rcu_event_timedwait(QemuRcuEvent *ev, int64_t timeout_ns)
{
    struct timespec abs;
    bool set;

    if (timeout_ns >= 0) {
        clock_gettime(CLOCK_REALTIME, &abs);
        abs.tv_sec += timeout_ns / 1000000000 + (abs.tv_nsec + timeout_ns % 1000000000) / 1000000000;
        abs.tv_nsec = (abs.tv_nsec + timeout_ns % 1000000000) % 1000000000;
    }
    pthread_mutex_lock(&ev->lock);
    while (ev->value != EV_SET) {
        if (timeout_ns < 0) {
            pthread_cond_wait(&ev->cond, &ev->lock);
        } else if (pthread_cond_timedwait(&ev->cond, &ev->lock, &abs) == ETIMEDOUT) {
            break;
        }
    }
    set = ev->value == EV_SET;
    pthread_mutex_unlock(&ev->lock);
    return set;
}

#endif

void qemu_rcu_event_wait(QemuRcuEvent *ev)
{
    qemu_rcu_event_timedwait(ev, -1);
}
