/* SPDX-License-Identifier: MIT */
/*
 * Completions: waits that a binding can take in slices, with a timeout and
 * room for Ctrl-C between slices (the Python layer's synchronize_rcu and
 * drain_call_rcu), and the C drain_call_rcu, which waits for one at once.
 * The top layer below domain.c: it calls down into the callbacks layer and
 * rcu.c, and only the bindings and domain.c call into it.
 *
 * A drain is a callback queued behind the caller's callbacks.  A grace
 * period is served by a helper thread, so the waiter never waits for
 * callbacks queued before it; one grace period serves every request that
 * arrived before it started.
 */
#define _GNU_SOURCE
#include "rcu_internal.h"

#include <pthread.h>
#include <stdlib.h>

struct rcu_completion {
    struct rcu_head head;       /* first: the drain callback gets &c->head */
    QemuRcuEvent done;
    int refs;                   /* the waiter and whoever completes it */
    bool drain;
    unsigned generation;        /* fork_generation when it was made */
    struct rcu_completion *next_request;
};

static pthread_mutex_t requests_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rcu_completion *requests;     /* grace periods asked for */
static bool helper_started;
static QemuRcuEvent requests_ready;
/* Bumped in a forked child: drains counted before the fork were reset. */
static unsigned fork_generation;

static void completion_put(struct rcu_completion *c)
{
    if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        qemu_rcu_event_destroy(&c->done);
        free(c);
    }
}

static void complete(struct rcu_completion *c)
{
    qemu_rcu_event_set(&c->done);
    completion_put(c);
}

static void drain_done(struct rcu_head *head)
{
    complete((struct rcu_completion *)head);
}

static void *grace_period_helper(void *arg)
{
    (void)arg;
    for (;;) {
        struct rcu_completion *batch, *next;

        qemu_rcu_event_reset(&requests_ready);
        pthread_mutex_lock(&requests_lock);
        batch = requests;
        requests = NULL;
        pthread_mutex_unlock(&requests_lock);
        if (batch == NULL) {
            qemu_rcu_event_wait(&requests_ready);
            continue;
        }
        /* Every request in the batch came before this grace period. */
        synchronize_rcu();
        for (; batch; batch = next) {
            next = batch->next_request;
            complete(batch);
        }
    }
    return NULL;
}

/* Called with requests_lock held. */
static bool start_helper(void)
{
    qemu_rcu_event_init(&requests_ready, false);
    return qemu_rcu_start_helper_thread(grace_period_helper);
}

static bool request_grace_period(struct rcu_completion *c)
{
    bool ok = true;

    pthread_mutex_lock(&requests_lock);
    if (!helper_started) {
        ok = helper_started = start_helper();
    }
    if (ok) {
        c->next_request = requests;
        requests = c;
    }
    pthread_mutex_unlock(&requests_lock);
    if (ok) {
        qemu_rcu_event_set(&requests_ready);
    }
    return ok;
}

struct rcu_completion *qemu_rcu_completion_new(bool drain)
{
    struct rcu_completion *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        return NULL;
    }
    qemu_rcu_event_init(&c->done, false);
    c->refs = 2;
    c->drain = drain;
    c->generation = fork_generation;
    if (!drain) {
        if (!request_grace_period(c)) {
            qemu_rcu_event_destroy(&c->done);
            free(c);
            return NULL;
        }
        return c;
    }
    /* Makes grace periods force until this drain is over. */
    qemu_rcu_callbacks_drain_begin();
    call_rcu1(&c->head, drain_done);
    qemu_rcu_callbacks_hurry();
    return c;
}

bool qemu_rcu_completion_wait(struct rcu_completion *c, int64_t timeout_ns)
{
    return qemu_rcu_event_timedwait(&c->done, timeout_ns);
}

void qemu_rcu_completion_free(struct rcu_completion *c)
{
    if (c->drain && c->generation == fork_generation) {
        qemu_rcu_callbacks_drain_end();
    }
    completion_put(c);
}

void drain_call_rcu(void)
{
    struct rcu_completion *c;

    if (rcu_read_lock_held()) {
        qemu_rcu_fatal("drain_call_rcu() called inside a read-side "
                       "section; the callbacks it waits for need that "
                       "section to end");
    }
    if (qemu_rcu_on_callback_thread()) {
        qemu_rcu_fatal("drain_call_rcu() called from an RCU callback; the "
                       "callback thread would wait for itself");
    }
    c = qemu_rcu_completion_new(true);
    if (c == NULL) {
        qemu_rcu_fatal("drain_call_rcu(): out of memory");
    }
    qemu_rcu_completion_wait(c, -1);
    qemu_rcu_completion_free(c);
}

/* The helper is gone, with any request it had taken; a waiter that survives
 * (the forking thread) asks again (the Python layer does).  Drains other
 * threads had under way are gone too: the callbacks layer's fork handler,
 * which runs first, stopped counting them, and the new generation keeps
 * their completions from being uncounted again. */
void qemu_rcu_completions_fork_child(void)
{
    pthread_mutex_init(&requests_lock, NULL);
    requests = NULL;
    helper_started = false;
    fork_generation++;
}
