/* SPDX-License-Identifier: MIT */
/*
 * The other half of rcu.h (see there): grace periods, the callback thread,
 * drain_call_rcu, force-RCU notifiers and fork.  Written for qemu-rcu's
 * tests; nothing here comes from QEMU.  With FIXTURE_LIFO defined, each
 * batch of callbacks runs last first: the broken core the tests use to see
 * a failure that is not a documented difference, whatever the timing.
 */
#include "qemu/osdep.h"
#include "qemu/rcu.h"
#include "qemu/atomic.h"
#include "qemu/thread.h"

#define GP_STEP 2UL

unsigned long rcu_gp_ctr = 1;

QEMU_DEFINE_CO_TLS(struct rcu_reader_data, rcu_reader)

static QemuMutex sync_lock;         /* one grace period at a time */
static QemuMutex registry_lock;     /* the registry, and notifier lists */
static QLIST_HEAD(, rcu_reader_data) registry;
static int draining;                /* drain_call_rcu() calls under way */

/* Callbacks: a singly linked queue under a mutex, run by one thread. */
static QemuMutex queue_lock;
static QemuCond queue_cond;
static struct rcu_head *queue_head, **queue_tail = &queue_head;

static bool still_inside(struct rcu_reader_data *r)
{
    unsigned long ctr = qatomic_read(&r->ctr);

    return ctr != 0 && ctr != qatomic_read(&rcu_gp_ctr);
}

void synchronize_rcu(void)
{
    qemu_mutex_lock(&sync_lock);
    qemu_mutex_lock(&registry_lock);
    smp_mb();       /* the caller's unpublish before the new counter */
    qatomic_set(&rcu_gp_ctr, rcu_gp_ctr + GP_STEP);
    smp_mb();       /* the new counter before the readers' snapshots */
    for (;;) {
        struct rcu_reader_data *r, *pending = NULL;

        QLIST_FOREACH(r, &registry, node) {
            if (still_inside(r)) {
                pending = r;
                break;
            }
        }
        if (pending == NULL) {
            break;
        }
        if (qatomic_read(&draining)) {
            notifier_list_notify(&pending->force_rcu, NULL);
        }
        /* Let threads register and unregister meanwhile. */
        qemu_mutex_unlock(&registry_lock);
        g_usleep(100);
        qemu_mutex_lock(&registry_lock);
    }
    smp_mb();       /* the readers' sections before the caller's frees */
    qemu_mutex_unlock(&registry_lock);
    qemu_mutex_unlock(&sync_lock);
}

void rcu_register_thread(void)
{
    qemu_mutex_lock(&registry_lock);
    QLIST_INSERT_HEAD(&registry, get_ptr_rcu_reader(), node);
    qemu_mutex_unlock(&registry_lock);
}

void rcu_unregister_thread(void)
{
    qemu_mutex_lock(&registry_lock);
    QLIST_REMOVE(get_ptr_rcu_reader(), node);
    qemu_mutex_unlock(&registry_lock);
}

void rcu_add_force_rcu_notifier(Notifier *n)
{
    qemu_mutex_lock(&registry_lock);
    notifier_list_add(&get_ptr_rcu_reader()->force_rcu, n);
    qemu_mutex_unlock(&registry_lock);
}

void rcu_remove_force_rcu_notifier(Notifier *n)
{
    qemu_mutex_lock(&registry_lock);
    notifier_remove(n);
    qemu_mutex_unlock(&registry_lock);
}

void call_rcu1(struct rcu_head *head, RCUCBFunc *func)
{
    head->func = func;
    head->next = NULL;
    qemu_mutex_lock(&queue_lock);
    *queue_tail = head;
    queue_tail = &head->next;
    qemu_cond_signal(&queue_cond);
    qemu_mutex_unlock(&queue_lock);
}

/* Takes every queued callback, waits one grace period, runs them in order. */
static void *callback_thread(void *arg)
{
    (void)arg;
    rcu_register_thread();
    for (;;) {
        struct rcu_head *batch;

        qemu_mutex_lock(&queue_lock);
        while (queue_head == NULL) {
            qemu_cond_wait(&queue_cond, &queue_lock);
        }
        batch = queue_head;
        queue_head = NULL;
        queue_tail = &queue_head;
        qemu_mutex_unlock(&queue_lock);

#ifdef FIXTURE_LIFO
        {
            struct rcu_head *reversed = NULL;

            while (batch != NULL) {
                struct rcu_head *next = batch->next;

                batch->next = reversed;
                reversed = batch;
                batch = next;
            }
            batch = reversed;
        }
#endif
        synchronize_rcu();
        while (batch != NULL) {
            struct rcu_head *next = batch->next;

            batch->func(batch);
            batch = next;
        }
    }
    return NULL;
}

struct drain_marker {
    struct rcu_head head;           /* first: the callback gets its address */
    QemuEvent done;
};

static void drain_marker_reached(struct rcu_head *head)
{
    qemu_event_set(&((struct drain_marker *)head)->done);
}

void drain_call_rcu(void)
{
    struct drain_marker marker;

    qemu_event_init(&marker.done, false);
    qatomic_inc(&draining);
    call_rcu1(&marker.head, drain_marker_reached);
    qemu_event_wait(&marker.done);
    qatomic_dec(&draining);
    qemu_event_destroy(&marker.done);
}

static void start(void)
{
    QemuThread thread;

    qemu_mutex_init(&sync_lock);
    qemu_mutex_init(&registry_lock);
    qemu_mutex_init(&queue_lock);
    qemu_cond_init(&queue_cond);
    QLIST_INIT(&registry);
    qemu_thread_create(&thread, "fixture-rcu-callbacks", callback_thread, NULL,
                       QEMU_THREAD_DETACHED);
    rcu_register_thread();
}

static int atfork_enabled = 1;

void rcu_enable_atfork(void)
{
    atfork_enabled++;
}

void rcu_disable_atfork(void)
{
    atfork_enabled--;
}

static void before_fork(void)
{
    if (atfork_enabled > 0) {
        qemu_mutex_lock(&sync_lock);
        qemu_mutex_lock(&registry_lock);
        qemu_mutex_lock(&queue_lock);
    }
}

static void after_fork_parent(void)
{
    if (atfork_enabled > 0) {
        qemu_mutex_unlock(&queue_lock);
        qemu_mutex_unlock(&registry_lock);
        qemu_mutex_unlock(&sync_lock);
    }
}

/* The child: only the forking thread is left; the queue stays as it was,
 * and a new callback thread runs it. */
static void after_fork_child(void)
{
    if (atfork_enabled > 0) {
        start();
    }
}

static void __attribute__((constructor)) fixture_rcu_init(void)
{
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
    start();
}
