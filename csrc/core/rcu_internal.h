/* SPDX-License-Identifier: MIT */
/*
 * What the core's files share with each other; not installed.  Grouped by
 * the file that defines them, lowest layer first.  A file calls only what a
 * group above its own declares (event.h is the bottom layer):
 *
 *     event.c <- rcu.c <- rcu_callbacks.c <- rcu_completion.c <- domain.c
 */
#ifndef QEMU_RCU_INTERNAL_H
#define QEMU_RCU_INTERNAL_H

#ifndef QEMU_RCU_CORE
#define QEMU_RCU_CORE
#endif
/* The core always uses its own Notifier, whatever is on the include path;
 * QEMU's has the same layout where the core looks (see qemu_rcu.h). */
#ifndef QEMU_RCU_NO_QEMU_HEADERS
#define QEMU_RCU_NO_QEMU_HEADERS
#endif

#include "qemu_rcu.h"
#include "event.h"

#define HIDDEN __attribute__((visibility("hidden")))

/* ---- rcu.c: grace periods, the reader registry, shared helpers --------- */

/* Print "qemu-rcu: fatal: <message>" and abort: for misuse that QEMU would
 * turn into a hang or memory corruption. */
HIDDEN void qemu_rcu_fatal(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));

/* Start a detached helper thread with every signal blocked (signals belong
 * to the application's threads); false if the thread cannot be created. */
HIDDEN bool qemu_rcu_start_helper_thread(void *(*fn)(void *));

/* Set up membarrier, the thread-exit destructor and the writers' event;
 * before any other call into the core. */
HIDDEN void qemu_rcu_start(void);

/* While a grace period polls readers, it asks check() (if installed) before
 * each look; true makes it force at once, as an expedited one does.  The
 * callbacks layer installs it at start-up. */
HIDDEN void qemu_rcu_set_force_check(bool (*check)(void));

/* Fill in grace_periods, registered_threads and membarrier. */
HIDDEN void qemu_rcu_grace_period_stats(struct rcu_stats *out);

/* Fork: prepare waits for every enqueue to finish and holds the registry
 * lock until parent or child; child rebuilds writer state with the forking
 * thread as the only reader.  Called by domain.c only. */
HIDDEN void qemu_rcu_fork_prepare(void);
HIDDEN void qemu_rcu_fork_parent(void);
HIDDEN void qemu_rcu_fork_child(void);

/* Bracket an enqueue on the callback queue: no fork copies the process
 * between rcu_enqueue_begin() and rcu_enqueue_end(), so no child inherits a
 * half-linked queue.  Either the fork (qemu_rcu_fork_prepare) sees us mid-enqueue
 * and waits, or we see the fork and wait: our barrier pairs with its
 * smp_mb_global(), so with membarrier a queuing thread pays only a compiler
 * barrier, as readers do.  The first enqueue of a thread, or one that meets
 * a fork, takes the slow path.  Not re-entrant: a signal handler must not
 * queue callbacks (call_rcu1 is not async-signal-safe). */
HIDDEN void qemu_rcu_enqueue_begin_slow(struct rcu_reader_data *self);

/* Mark self mid-enqueue; true unless a fork has begun, in which case the
 * mark must be taken back before waiting for the fork to end. */
static inline bool rcu_enqueue_try_begin(struct rcu_reader_data *self)
{
    __atomic_store_n(&self->mid_enqueue_, true, __ATOMIC_RELAXED);
    qemu_rcu_reader_barrier();
    return !__atomic_load_n(&qemu_rcu_read_mostly.forking, __ATOMIC_RELAXED);
}

static inline void rcu_enqueue_begin(void)
{
    struct rcu_reader_data *self = &rcu_reader;

    if (__builtin_expect(self->queuing_thread_, 1) &&
        __builtin_expect(rcu_enqueue_try_begin(self), 1)) {
        return;
    }
    qemu_rcu_enqueue_begin_slow(self);
}

static inline void rcu_enqueue_end(void)
{
    __atomic_store_n(&rcu_reader.mid_enqueue_, false, __ATOMIC_RELEASE);
}

/* ---- rcu_callbacks.c: the callback queue and its thread ----------------- */

/* Start the callback thread (and install rcu.c's force check); after
 * qemu_rcu_start(). */
HIDDEN void qemu_rcu_callbacks_start(void);
/* In a forked child, after qemu_rcu_fork_child(): make the inherited queue whole
 * and start a new callback thread for it. */
HIDDEN void qemu_rcu_callbacks_fork_child(void);
/* Fill in the callbacks_* counters. */
HIDDEN void qemu_rcu_callbacks_stats(struct rcu_stats *out);

/* A waiter needs queued callbacks run now: skip the pause between batches. */
HIDDEN void qemu_rcu_callbacks_hurry(void);
/* Between begin and end a drain waits: grace periods force at once and the
 * callback thread does not pause between batches.  A forked child starts
 * with no drain counted. */
HIDDEN void qemu_rcu_callbacks_drain_begin(void);
HIDDEN void qemu_rcu_callbacks_drain_end(void);

/* True on the thread that runs callbacks. */
HIDDEN bool qemu_rcu_on_callback_thread(void);
/* From a callback: true if the next callback is func, already queued and
 * due in the same batch (its grace period has passed too). */
HIDDEN bool qemu_rcu_next_callback_is(RCUCBFunc *func);
/* Bracket a part of a callback that may never return (a call into Python,
 * whose finalization ends or parks threads that ask for the GIL).  While
 * inside, qemu_rcu_callbacks_replace_thread() may hand the queue to a new
 * thread; qemu_rcu_callback_may_hang_end() then returns false, and the callback
 * must return at once (its thread then leaves the queue alone). */
HIDDEN void qemu_rcu_callback_may_hang_begin(void);
HIDDEN bool qemu_rcu_callback_may_hang_end(void);
/* If the callback thread is inside such a part, start a new callback
 * thread, which carries on with the rest of the batch.  False if not. */
HIDDEN bool qemu_rcu_callbacks_replace_thread(void);

/* ---- rcu_completion.c: waits for bindings that wait interruptibly ------- */

/* Something to wait for: with drain, a queued callback that is done once
 * every callback this thread queued before it has run; without, a grace
 * period that starts after the call (never behind queued callbacks).
 * NULL if out of memory. */
struct rcu_completion;
HIDDEN struct rcu_completion *qemu_rcu_completion_new(bool drain);
/* Wait at most timeout_ns (negative: forever); true once it is done. */
HIDDEN bool qemu_rcu_completion_wait(struct rcu_completion *c, int64_t timeout_ns);
/* The waiter's last word; the completion may still be queued, and is freed
 * by whichever side lets go last. */
HIDDEN void qemu_rcu_completion_free(struct rcu_completion *c);
/* In a forked child, after qemu_rcu_callbacks_fork_child(). */
HIDDEN void qemu_rcu_completions_fork_child(void);

/* ---- domain.c: start-up and fork order ----------------------------------- */

/* Nothing but public functions (rcu_get_stats, rcu_enable_atfork,
 * rcu_disable_atfork) and the constructor. */

#endif
