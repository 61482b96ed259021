/* SPDX-License-Identifier: MIT */
/*
 * Deferred callbacks: call_rcu1's wait-free queue and the one thread that
 * runs callbacks after a grace period.  Calls down into rcu.c only (grace
 * periods, registration, the fork-safe enqueue bracket); drain_call_rcu,
 * which waits here, lives a layer up in rcu_completion.c.
 *
 * The queue is a list that many threads append to and one thread (the
 * callback thread) takes from, with a permanent dummy node: a queuing thread
 * swaps its node in as the tail and then links the previous tail to it; the
 * callback thread follows links from the head.
 */
#define _GNU_SOURCE
#include "rcu_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_ALIGNED __attribute__((aligned(64)))

/* Let queuing threads fill the next batch this long without contending
 * with the callback thread, unless someone waits for callbacks to run. */
#define RCU_BATCH_PAUSE_NS 10000000
/* This many queued callbacks make a grace period force at once. */
#define RCU_CALL_MIN_SIZE 30

static struct rcu_head dummy;

/* Written by every call_rcu1(): kept on a line of their own. */
static struct {
    struct rcu_head **tail;     /* queuing threads' end of the queue */
    int count;                  /* queued, not yet run and subtracted */
} enqueue_side CACHE_ALIGNED = { &dummy.next, 0 };

/* Written by the callback thread (and owner, rarely, by a thread taking the
 * queue over). */
static struct {
    struct rcu_head *head;      /* callback thread's end of the queue */
    int batch_size;             /* callbacks in this batch */
    int batch_taken;            /* taken in this batch, still in count */
    uint64_t taken;
    uint64_t invoked;
    unsigned long owner;        /* see OWNER_MAY_HANG */
} run_side CACHE_ALIGNED = { &dummy, 0, 0, 0, 0, 0 };

static QemuRcuEvent rcu_call_ready_event;
static QemuRcuEvent rcu_hurry_event;
static int hurry;
/* Drains waiting for callbacks (qemu_rcu_callbacks_drain_begin). */
static int drains_waiting;

static __thread bool on_callback_thread;

/* The hook rcu.c asks while a grace period polls: callbacks piling up, or a
 * drain waiting, make it force at once. */
static bool grace_period_must_force(void)
{
    return __atomic_load_n(&enqueue_side.count, __ATOMIC_RELAXED) >= RCU_CALL_MIN_SIZE ||
           __atomic_load_n(&drains_waiting, __ATOMIC_RELAXED) > 0;
}

#ifdef QEMU_RCU_TEST_HOOKS
/* The C tests' build only: called in the gap below, to hold a thread
 * there while they fork. */
void (*qemu_rcu_test_enqueue_gap)(void);
#endif

/* Only between rcu_enqueue_begin() and rcu_enqueue_end(). */
static void enqueue(struct rcu_head *node)
{
    struct rcu_head **prev_link;

    __atomic_store_n(&node->next, NULL, __ATOMIC_RELAXED);
    prev_link = __atomic_exchange_n(&enqueue_side.tail, &node->next, __ATOMIC_SEQ_CST);
#ifdef QEMU_RCU_TEST_HOOKS
    {
        void (*gap)(void) = __atomic_load_n(&qemu_rcu_test_enqueue_gap, __ATOMIC_ACQUIRE);
        if (gap) {
            gap();
        }
    }
#endif
    /* Until this store the callback thread sees the queue end just before
     * us. */
    __atomic_store_n(prev_link, node, __ATOMIC_RELEASE);
}

/* Take the oldest node, or NULL if there is none or its link is not
 * written yet.  Callback thread only.  No lock: a fork that cuts this short
 * leaves a whole queue in the child (see qemu_rcu_callbacks_fork_child). */
static struct rcu_head *try_dequeue(void)
{
    for (;;) {
        struct rcu_head *node = run_side.head;
        struct rcu_head *next = __atomic_load_n(&node->next, __ATOMIC_ACQUIRE);

        if (next == NULL) {
            return NULL;
        }
        __atomic_store_n(&run_side.head, next, __ATOMIC_RELAXED);
        if (node != &dummy) {
            return node;
        }
        /* The dummy keeps the queue non-empty for queuing threads; put it
         * back. */
        rcu_enqueue_begin();
        enqueue(&dummy);
        rcu_enqueue_end();
    }
}

/* The node counted for us may still be half-linked: wait for the thread
 * that queues it. */
static struct rcu_head *dequeue(void)
{
    for (;;) {
        struct rcu_head *node = try_dequeue();
        if (node) {
            return node;
        }
        qemu_rcu_event_reset(&rcu_call_ready_event);
        node = try_dequeue();
        if (node) {
            return node;
        }
        qemu_rcu_event_wait(&rcu_call_ready_event);
    }
}

void call_rcu1(struct rcu_head *head, RCUCBFunc *func)
{
    head->func = func;
    rcu_enqueue_begin();
    enqueue(head);
    /* Counted before fork may copy us, or the child's count falls short. */
    __atomic_fetch_add(&enqueue_side.count, 1, __ATOMIC_SEQ_CST);
    rcu_enqueue_end();
    qemu_rcu_event_set(&rcu_call_ready_event);
}

void qemu_rcu_free_head(struct rcu_head *head)
{
    free(head);
}

/* Someone waits for callbacks: end the pause between batches now. */
void qemu_rcu_callbacks_hurry(void)
{
    __atomic_store_n(&hurry, 1, __ATOMIC_SEQ_CST);
    qemu_rcu_event_set(&rcu_hurry_event);
}

void qemu_rcu_callbacks_drain_begin(void)
{
    __atomic_fetch_add(&drains_waiting, 1, __ATOMIC_SEQ_CST);
}

void qemu_rcu_callbacks_drain_end(void)
{
    __atomic_fetch_sub(&drains_waiting, 1, __ATOMIC_SEQ_CST);
}

static void pause_between_batches(void)
{
    qemu_rcu_event_reset(&rcu_hurry_event);
    if (__atomic_exchange_n(&hurry, 0, __ATOMIC_SEQ_CST) ||
        __atomic_load_n(&drains_waiting, __ATOMIC_SEQ_CST) > 0) {
        return;
    }
    qemu_rcu_event_timedwait(&rcu_hurry_event, RCU_BATCH_PAUSE_NS);
}

static int wait_for_callbacks(void)
{
    for (;;) {
        int n;

        qemu_rcu_event_reset(&rcu_call_ready_event);
        n = __atomic_load_n(&enqueue_side.count, __ATOMIC_SEQ_CST);
        if (n > 0) {
            return n;
        }
        qemu_rcu_event_wait(&rcu_call_ready_event);
    }
}

/*
 * Which thread runs the queue: run_side.owner holds the owner's number
 * (each thread that takes the queue over has the next one) times two, plus
 * OWNER_MAY_HANG while the owner is in a part of a callback that may never
 * return (qemu_rcu_callback_may_hang_begin).  Only then may another thread take
 * the queue over (qemu_rcu_callbacks_replace_thread); the old thread, if it ever
 * comes back, finds a newer number and leaves the queue alone.  One word,
 * not two fields: a takeover must check "may hang" and bump the number in
 * one compare-and-swap, and so must the owner that clears "may hang".
 */
#define OWNER_MAY_HANG 1UL

static unsigned long owner_word(unsigned long number, bool may_hang)
{
    return number << 1 | (may_hang ? OWNER_MAY_HANG : 0);
}

static unsigned long owner_number(unsigned long word)
{
    return word >> 1;
}

/* The number this thread took the queue with. */
static __thread unsigned long my_owner_number;

static void *call_rcu_thread(void *arg);

bool qemu_rcu_callbacks_replace_thread(void)
{
    unsigned long now = __atomic_load_n(&run_side.owner, __ATOMIC_ACQUIRE);

    if (!(now & OWNER_MAY_HANG) ||
        !__atomic_compare_exchange_n(&run_side.owner, &now,
                                     owner_word(owner_number(now) + 1, false), false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        return false;
    }
    if (!qemu_rcu_start_helper_thread(call_rcu_thread)) {
        qemu_rcu_fatal("cannot start a new RCU callback thread");
    }
    return true;
}

void qemu_rcu_callback_may_hang_begin(void)
{
    __atomic_store_n(&run_side.owner, owner_word(my_owner_number, true), __ATOMIC_RELEASE);
}

bool qemu_rcu_callback_may_hang_end(void)
{
    unsigned long inside = owner_word(my_owner_number, true);

    return __atomic_compare_exchange_n(&run_side.owner, &inside,
                                       owner_word(my_owner_number, false), false,
                                       __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

static bool still_owner(void)
{
    return owner_number(__atomic_load_n(&run_side.owner, __ATOMIC_ACQUIRE)) == my_owner_number;
}

/* Run what is left of the current batch: every one of its callbacks was
 * queued before its grace period began, so all of them may run.  False if
 * this thread no longer runs the queue. */
static bool finish_batch(void)
{
    while (run_side.batch_taken < run_side.batch_size) {
        struct rcu_head *node = dequeue();
        RCUCBFunc *func = node->func;

        __atomic_store_n(&run_side.batch_taken, run_side.batch_taken + 1, __ATOMIC_RELAXED);
        __atomic_store_n(&run_side.taken, run_side.taken + 1, __ATOMIC_RELAXED);
        func(node);
        if (!still_owner()) {
            return false;
        }
        if (rcu_read_lock_held()) {
            /* The next grace period would wait for this thread forever. */
            qemu_rcu_fatal("RCU callback %p returned inside a read-side "
                           "section; a callback must end every "
                           "section it starts", (void *)(uintptr_t)func);
        }
        __atomic_store_n(&run_side.invoked, run_side.invoked + 1, __ATOMIC_RELAXED);
    }
    /* Once per batch, so queuing threads' line is not pulled away per
     * node. */
    __atomic_fetch_sub(&enqueue_side.count, run_side.batch_size, __ATOMIC_RELAXED);
    run_side.batch_size = 0;
    __atomic_store_n(&run_side.batch_taken, 0, __ATOMIC_RELAXED);
    return true;
}

static void *call_rcu_thread(void *arg)
{
    (void)arg;
    my_owner_number = owner_number(__atomic_load_n(&run_side.owner, __ATOMIC_ACQUIRE));
    on_callback_thread = true;
    rcu_register_thread();
    for (;;) {
        /* A thread that took the queue over starts mid-batch. */
        if (run_side.batch_size == 0) {
            int n = wait_for_callbacks();

            synchronize_rcu();
            run_side.batch_size = n;
        }
        if (!finish_batch()) {
            return NULL;
        }
        pause_between_batches();
    }
    return NULL;
}

void qemu_rcu_callbacks_start(void)
{
    qemu_rcu_set_force_check(grace_period_must_force);
    qemu_rcu_event_init(&rcu_call_ready_event, false);
    qemu_rcu_event_init(&rcu_hurry_event, false);
    if (!qemu_rcu_start_helper_thread(call_rcu_thread)) {
        qemu_rcu_fatal("cannot start the RCU callback thread");
    }
}

bool qemu_rcu_on_callback_thread(void)
{
    return on_callback_thread;
}

bool qemu_rcu_next_callback_is(RCUCBFunc *func)
{
    struct rcu_head *next = run_side.head;

    if (!on_callback_thread || run_side.batch_taken >= run_side.batch_size) {
        return false;
    }
    if (next == &dummy) {
        next = __atomic_load_n(&dummy.next, __ATOMIC_ACQUIRE);
    }
    return next != NULL && next->func == func;
}

/* A snapshot of independently read counters: good enough for monitoring. */
void qemu_rcu_callbacks_stats(struct rcu_stats *out)
{
    int pending = __atomic_load_n(&enqueue_side.count, __ATOMIC_RELAXED) -
                  __atomic_load_n(&run_side.batch_taken, __ATOMIC_RELAXED);

    out->callbacks_pending = pending > 0 ? (uint64_t)pending : 0;
    out->callbacks_queued = __atomic_load_n(&run_side.taken, __ATOMIC_RELAXED) +
                            out->callbacks_pending;
    out->callbacks_invoked = __atomic_load_n(&run_side.invoked, __ATOMIC_RELAXED);
}

/* ---- Fork -------------------------------------------------------------- */

/*
 * fork waited for queuing threads to finish linking, so the queue is whole in the
 * child, though its dummy may be missing.  The parent's callback thread is
 * gone, with the callback it was running (the parent runs it); recount what
 * is left and start a new thread.
 * Forked from a callback, this thread is the callback thread, and its loop
 * carries on where it was.
 */
void qemu_rcu_callbacks_fork_child(void)
{
    bool has_dummy = run_side.head == &dummy;
    int count = !has_dummy;                 /* the head is pending unless dummy */

    hurry = 0;
    /* Drains under way before the fork stop counting (see
     * qemu_rcu_completions_fork_child, which runs next). */
    drains_waiting = 0;
    if (on_callback_thread) {
        return;
    }
    for (struct rcu_head *n = run_side.head->next; n; n = n->next) {
        if (n == &dummy) {
            has_dummy = true;
        } else {
            count++;
        }
    }
    if (!has_dummy) {
        /* The parent's thread had taken it out to put it back at the end,
         * and fork came first: without it the last node could not be taken. */
        enqueue(&dummy);
    }
    enqueue_side.count = count;
    run_side.batch_size = 0;
    run_side.batch_taken = 0;
    /* The parent's callback thread, in a callback or not, is not here. */
    run_side.owner = owner_word(owner_number(run_side.owner) + 1, false);
    qemu_rcu_callbacks_start();
}
