/*
 * Deferred callbacks: call_rcu1's wait-free queue, the one thread that runs
 * callbacks after a grace period, drain_call_rcu, and completions that the
 * Python layer waits on with a timeout.
 *
 * The queue is a multi-producer, single-consumer list with a permanent
 * dummy node: producers swap themselves in as the tail and then link the
 * previous tail to themselves; the consumer follows links from the head.
 */
#define _GNU_SOURCE
#include "rcu_internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

int rcu_call_count;
int rcu_drains_in_progress;

static struct rcu_head dummy;
static struct rcu_head *queue_head = &dummy;        /* consumer's end */
static struct rcu_head **queue_tail = &dummy.next;  /* producers' end */
static QemuEvent rcu_call_ready_event;

/* Held only while the consumer moves the head (never while a callback
 * runs), so fork can wait for it without waiting on any callback. */
static pthread_mutex_t consumer_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t callbacks_taken;      /* written under consumer_lock */
static uint64_t callbacks_invoked;    /* written by the callback thread */

static __thread bool on_callback_thread;

static void enqueue(struct rcu_head *node)
{
    struct rcu_head **prev_link;

    __atomic_store_n(&node->next, NULL, __ATOMIC_RELAXED);
    prev_link = __atomic_exchange_n(&queue_tail, &node->next, __ATOMIC_SEQ_CST);
    /* Until this store the consumer sees the queue end just before us. */
    __atomic_store_n(prev_link, node, __ATOMIC_RELEASE);
}

/* Take the oldest node, or NULL if there is none or its link is not
 * written yet.  Consumer only, under consumer_lock. */
static struct rcu_head *try_dequeue(void)
{
    for (;;) {
        struct rcu_head *node = queue_head;
        struct rcu_head *next = __atomic_load_n(&node->next, __ATOMIC_ACQUIRE);

        if (next == NULL) {
            return NULL;
        }
        queue_head = next;
        if (node != &dummy) {
            callbacks_taken++;
            __atomic_fetch_sub(&rcu_call_count, 1, __ATOMIC_RELAXED);
            return node;
        }
        /* The dummy keeps the queue non-empty for producers; put it back. */
        enqueue(&dummy);
    }
}

static struct rcu_head *dequeue_locked(void)
{
    struct rcu_head *node;

    pthread_mutex_lock(&consumer_lock);
    node = try_dequeue();
    pthread_mutex_unlock(&consumer_lock);
    return node;
}

/* The node counted for us may still be half-linked: wait for its producer. */
static struct rcu_head *dequeue(void)
{
    for (;;) {
        struct rcu_head *node = dequeue_locked();
        if (node) {
            return node;
        }
        qemu_event_reset(&rcu_call_ready_event);
        node = dequeue_locked();
        if (node) {
            return node;
        }
        qemu_event_wait(&rcu_call_ready_event);
    }
}

void call_rcu1(struct rcu_head *head, RCUCBFunc *func)
{
    head->func = func;
    enqueue(head);
    __atomic_fetch_add(&rcu_call_count, 1, __ATOMIC_SEQ_CST);
    qemu_event_set(&rcu_call_ready_event);
}

void qemu_rcu_free_head(struct rcu_head *head)
{
    free(head);
}

static void *call_rcu_thread(void *arg)
{
    (void)arg;
    on_callback_thread = true;
    rcu_register_thread();
    for (;;) {
        int n;

        for (;;) {
            qemu_event_reset(&rcu_call_ready_event);
            n = __atomic_load_n(&rcu_call_count, __ATOMIC_SEQ_CST);
            if (n > 0) {
                break;
            }
            qemu_event_wait(&rcu_call_ready_event);
        }
        /* Every one of the n callbacks was queued before this grace period
         * began, so all of them may run once it ends. */
        synchronize_rcu();
        while (n-- > 0) {
            struct rcu_head *node = dequeue();
            node->func(node);
            __atomic_store_n(&callbacks_invoked, callbacks_invoked + 1,
                             __ATOMIC_RELAXED);
        }
    }
    return NULL;
}

void rcu_callbacks_start(void)
{
    pthread_attr_t attr;
    pthread_t thread;
    sigset_t all, old;
    int err;

    qemu_event_init(&rcu_call_ready_event, false);
    /* Signals belong to the application's threads, never to this one. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    err = pthread_create(&thread, &attr, call_rcu_thread, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0) {
        qemu_rcu_fatal("cannot start the RCU callback thread (error %d)", err);
    }
}

bool rcu_on_callback_thread(void)
{
    return on_callback_thread;
}

void rcu_callbacks_stats(struct rcu_stats *out)
{
    int pending;

    pthread_mutex_lock(&consumer_lock);
    pending = __atomic_load_n(&rcu_call_count, __ATOMIC_RELAXED);
    out->callbacks_queued = callbacks_taken + (pending > 0 ? pending : 0);
    out->callbacks_pending = pending > 0 ? pending : 0;
    pthread_mutex_unlock(&consumer_lock);
    out->callbacks_invoked = __atomic_load_n(&callbacks_invoked, __ATOMIC_RELAXED);
}

/* ---- Completions and drain ------------------------------------------- */

struct rcu_completion {
    struct rcu_head head;     /* first: the callback gets &c->head */
    QemuEvent done;
    int refs;                 /* the waiter and the queued callback */
    bool drain;
};

static void completion_put(struct rcu_completion *c)
{
    if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        qemu_event_destroy(&c->done);
        free(c);
    }
}

static void completion_done(struct rcu_head *head)
{
    struct rcu_completion *c = (struct rcu_completion *)head;

    qemu_event_set(&c->done);
    completion_put(c);
}

struct rcu_completion *rcu_completion_new(bool drain)
{
    struct rcu_completion *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        return NULL;
    }
    qemu_event_init(&c->done, false);
    c->refs = 2;
    c->drain = drain;
    if (drain) {
        /* Makes grace periods force until this drain is over. */
        __atomic_fetch_add(&rcu_drains_in_progress, 1, __ATOMIC_SEQ_CST);
    }
    call_rcu1(&c->head, completion_done);
    return c;
}

bool rcu_completion_wait(struct rcu_completion *c, int64_t timeout_ns)
{
    return qemu_event_timedwait(&c->done, timeout_ns);
}

void rcu_completion_free(struct rcu_completion *c)
{
    if (c->drain) {
        __atomic_fetch_sub(&rcu_drains_in_progress, 1, __ATOMIC_SEQ_CST);
    }
    completion_put(c);
}

void drain_call_rcu(void)
{
    struct rcu_completion *c;

    if (rcu_reader.depth > 0) {
        qemu_rcu_fatal("drain_call_rcu() called inside a read-side critical "
                       "section; the callbacks it waits for need that "
                       "section to end");
    }
    if (on_callback_thread) {
        qemu_rcu_fatal("drain_call_rcu() called from an RCU callback; the "
                       "callback thread would wait for itself");
    }
    c = rcu_completion_new(true);
    if (c == NULL) {
        qemu_rcu_fatal("drain_call_rcu(): out of memory");
    }
    rcu_completion_wait(c, -1);
    rcu_completion_free(c);
}

/* ---- Fork -------------------------------------------------------------- */

void rcu_callbacks_fork_prepare(void)
{
    pthread_mutex_lock(&consumer_lock);
}

void rcu_callbacks_fork_parent(void)
{
    pthread_mutex_unlock(&consumer_lock);
}

/*
 * The consumer's state is consistent (we held its lock), but a producer on
 * another thread may have been cut off between swapping the tail and
 * linking its node.  Those threads are gone: end the queue at the last
 * reachable node (their callbacks are lost to the child), recount, and
 * start a new callback thread.
 */
void rcu_callbacks_fork_child(void)
{
    struct rcu_head *last = queue_head;
    bool has_dummy = queue_head == &dummy;
    int count = !has_dummy;     /* the head itself is pending unless dummy */

    for (struct rcu_head *n = queue_head->next; n; n = n->next) {
        last = n;
        if (n == &dummy) {
            has_dummy = true;
        } else {
            count++;
        }
    }
    queue_tail = &last->next;
    if (!has_dummy) {
        /* It was cut off with the rest; the last node needs a successor. */
        enqueue(&dummy);
    }
    rcu_call_count = count;
    rcu_drains_in_progress = 0;
    pthread_mutex_init(&consumer_lock, NULL);
    rcu_callbacks_start();
}
