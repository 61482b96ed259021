/* SPDX-License-Identifier: MIT */
/*
 * torture.c: an rcutorture-style stress of the RCU core (see torture.h for
 * the design).  Written for this project; no Python here, so a plain C
 * program linked against the core can run it too.
 *
 * Which accesses are atomic, and why:
 *
 *  - The ring's objects are rewritten while readers may be looking at them
 *    (that is the point: a reader that should not see the object any more
 *    would see the change), so every access to their fields is a relaxed
 *    atomic.  Only the RCU logic is under test, not data races we create
 *    on purpose.
 *  - A heap object is written before it is published and by its callback
 *    after a grace period, never in between, so its fields are plain
 *    variables: under ThreadSanitizer the core's own synchronisation must
 *    order the callback after every reader, or TSan reports it.
 *  - Counters are written by one thread each and read by snapshots: relaxed
 *    atomics, no read-modify-write needed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "qemu_rcu.h"
#include "torture.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Built against QEMU's own qemu/rcu.h (qemu-check runs it on QEMU's
 * util/rcu.c; qemu_rcu.h alone defines QEMU_RCU_API_VERSION): every reader
 * registers, as QEMU requires, expedited updaters wait for normal grace
 * periods, and free_rcu is QEMU's g_free_rcu (glib's g_free is free()). */
#ifdef QEMU_RCU_API_VERSION
#define TORTURE_AUTO_REGISTER 1
#else
#define TORTURE_AUTO_REGISTER 0
#define synchronize_rcu_expedited() synchronize_rcu()
#define free_rcu(obj, field) g_free_rcu(obj, field)
#endif

#define PIPE_LEN QEMU_RCU_TORTURE_PIPE_LEN
#define AGES QEMU_RCU_TORTURE_AGES

#define LD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define ST(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
/* Increment a counter that only the calling thread writes. */
#define BUMP(p) ST((p), LD(p) + 1)

struct torture_obj {
    struct rcu_head rcu;            /* first, for call_rcu1/free_rcu */
    struct qemu_rcu_torture *owner; /* heap objects: whose counters */
    int age;                        /* updates since it was published */
    int mbtest;                     /* 1 once fully initialised */
    int generation;                 /* changes each time it is re-used */
    int poison;                     /* 1 once reclaimed */
};

/* One per reader; the padding keeps two readers' counters off one cache
 * line, so readers do not slow each other down through the snapshot. */
struct reader {
    struct qemu_rcu_torture *t;
    pthread_t thread;
    uint64_t reads, mberrors, poisoned, recycled;
    uint64_t age[AGES];
    char pad[64];
};

struct updater {
    struct qemu_rcu_torture *t;
    pthread_t thread;
    int role;                       /* the updater's index: see torture.h */
    uint64_t count;                 /* updates or synchronize loops */
    uint64_t longest_ns;            /* role 0: slowest synchronize_rcu() */
    char pad[64];
};

struct qemu_rcu_torture {
    struct torture_obj pipe[PIPE_LEN];
    struct torture_obj *current;        /* one of pipe[], RCU-protected */
    struct torture_obj *heap_current;   /* malloc'ed, RCU-protected */
    int stop;
    uint64_t reclaimed;                 /* written by the callback thread */
    int nreaders, nupdaters;
    struct reader *readers;
    struct updater *updaters;
};

static bool stopping(struct qemu_rcu_torture *t)
{
    return __atomic_load_n(&t->stop, __ATOMIC_ACQUIRE);
}

static void sleep_us(long us)
{
    struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
    nanosleep(&ts, NULL);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- Readers ------------------------------------------------------------ */

/* Work done inside the nested section.  Mostly short; now and then long
 * enough, or descheduled, so that writers really do find readers inside. */
static void linger(uint64_t n)
{
    if ((n & 1023) == 0) {
        sched_yield();
    } else if ((n & 63) == 0) {
        int64_t end = now_ns() + 20000;
        while (now_ns() < end) {
            __asm__ __volatile__("" ::: "memory");
        }
    } else {
        for (int i = 0; i < 100; i++) {
            __asm__ __volatile__("" ::: "memory");
        }
    }
}

static void *reader_main(void *arg)
{
    struct reader *me = arg;
    struct qemu_rcu_torture *t = me->t;
    /* Both ways of joining the registry are under load: explicitly, or by
     * the first rcu_read_lock() (and left by the thread's exit). */
    bool registers = (me - t->readers) % 2 == 0 || !TORTURE_AUTO_REGISTER;
    uint64_t n = 0;

    if (registers) {
        rcu_register_thread();
    }
    while (!stopping(t)) {
        struct torture_obj *p, *h;
        int gen, heap_gen, age;

        rcu_read_lock();
        p = qatomic_rcu_read(&t->current);
        h = qatomic_rcu_read(&t->heap_current);
        /* Publication: both were complete before they became current. */
        if (!LD(&p->mbtest)) {
            BUMP(&me->mberrors);
        }
        if (!h->mbtest) {
            BUMP(&me->mberrors);
        }
        gen = LD(&p->generation);
        heap_gen = h->generation;

        /* A nested section, as when a reader calls a helper that takes the
         * lock itself: it must not end the outer one. */
        rcu_read_lock();
        linger(++n);
        rcu_read_unlock();

        /* Checked last, after the widest window: reclaiming or re-using
         * either object while this section runs is a grace-period bug. */
        age = LD(&p->age);
        if (LD(&p->poison) || h->poison) {
            BUMP(&me->poisoned);
        }
        if (LD(&p->generation) != gen || h->generation != heap_gen) {
            BUMP(&me->recycled);
        }
        rcu_read_unlock();

        BUMP(&me->age[age < 0 ? 0 : age >= AGES ? AGES - 1 : age]);
        BUMP(&me->reads);
    }
    if (registers) {
        rcu_unregister_thread();
    }
    return NULL;
}

/* ---- Updater 0: the ring of static objects -------------------------------- */

static void *pipeline_main(void *arg)
{
    struct updater *me = arg;
    struct qemu_rcu_torture *t = me->t;
    int idx = 0, generation = 1;

    rcu_register_thread();
    while (!stopping(t)) {
        struct torture_obj *old = LD(&t->current);  /* only we write it */
        struct torture_obj *p;
        int64_t gp_ns;

        idx = (idx + 1) % PIPE_LEN;
        p = &t->pipe[idx];
        if (p == old) {
            abort();        /* a bug in this ring, not in RCU */
        }
        /* p was poisoned PIPE_LEN - 1 grace periods ago, so no reader
         * holds it; one that (wrongly) did sees its generation change. */
        ST(&p->mbtest, 0);
        ST(&p->age, 0);
        ST(&p->generation, ++generation);
        ST(&p->poison, 0);
        ST(&p->mbtest, 1);
        qatomic_rcu_set(&t->current, p);

        /* old becomes 1: readers that got it before the publication may
         * still see it until the grace period below ends, never 2. */
        for (int i = 0; i < PIPE_LEN; i++) {
            if (i != idx) {
                ST(&t->pipe[i].age, LD(&t->pipe[i].age) + 1);
            }
        }
        gp_ns = now_ns();
        synchronize_rcu();
        gp_ns = now_ns() - gp_ns;
        if ((uint64_t)gp_ns > LD(&me->longest_ns)) {
            ST(&me->longest_ns, (uint64_t)gp_ns);
        }
        ST(&old->poison, 1);
        BUMP(&me->count);
    }
    rcu_unregister_thread();
    return NULL;
}

/* ---- Updater 1: heap objects reclaimed by callbacks ----------------------- */

static struct torture_obj *heap_new(struct qemu_rcu_torture *t, int generation)
{
    struct torture_obj *h = calloc(1, sizeof(*h));

    if (h == NULL) {
        abort();            /* out of memory mid-run: nothing sane to do */
    }
    h->owner = t;
    h->generation = generation;
    h->mbtest = 1;
    return h;
}

/* Stage one, a grace period after the object was retired: poison it, and
 * free it after one more grace period.  A reader that (wrongly) still holds
 * it meanwhile reads the poison rather than freed memory. */
static void heap_reclaim(struct rcu_head *head)
{
    struct torture_obj *h = (struct torture_obj *)head;
    struct qemu_rcu_torture *t = h->owner;

    h->poison = 1;
    h->mbtest = 0;
    free_rcu(h, rcu);
    ST(&t->reclaimed, LD(&t->reclaimed) + 1);    /* callback thread only */
}

static void *heap_main(void *arg)
{
    struct updater *me = arg;
    struct qemu_rcu_torture *t = me->t;
    int generation = 1;

    /* Not registered: writers need not be. */
    while (!stopping(t)) {
        struct torture_obj *old = LD(&t->heap_current);   /* only we write it */

        qatomic_rcu_set(&t->heap_current, heap_new(t, ++generation));
        call_rcu1(&old->rcu, heap_reclaim);
        BUMP(&me->count);
        /* Keep the backlog bounded, and let readers have the CPU. */
        if ((me->count & 1023) == 0) {
            drain_call_rcu();
        } else if ((me->count & 63) == 0) {
            sleep_us(50);
        }
    }
    return NULL;
}

/* ---- Updaters 2 and up: concurrent grace periods -------------------------- */

static void *sync_main(void *arg)
{
    struct updater *me = arg;
    struct qemu_rcu_torture *t = me->t;
    bool expedited = me->role % 2;

    rcu_register_thread();
    while (!stopping(t)) {
        if (expedited) {
            synchronize_rcu_expedited();
        } else {
            synchronize_rcu();
        }
        BUMP(&me->count);
        sleep_us(1000);
    }
    rcu_unregister_thread();
    return NULL;
}

/* ---- Start, snapshot, stop ------------------------------------------------ */

/* The torture threads never take signals: those belong to the program
 * (Python, for one, expects them on its own threads). */
static bool spawn(pthread_t *thread, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    int err;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    err = pthread_create(thread, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err == 0;
}

typedef void *thread_fn(void *);

static thread_fn *updater_main(int role)
{
    return role == 0 ? pipeline_main : role == 1 ? heap_main : sync_main;
}

/* Join the first nr readers and nu updaters, reclaim what is left, free. */
static void finish(struct qemu_rcu_torture *t, int nr, int nu)
{
    __atomic_store_n(&t->stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < nr; i++) {
        pthread_join(t->readers[i].thread, NULL);
    }
    for (int i = 0; i < nu; i++) {
        pthread_join(t->updaters[i].thread, NULL);
    }
    /* The first drain runs every heap_reclaim() queued so far, the second
     * every free_rcu() those queued in turn. */
    drain_call_rcu();
    drain_call_rcu();
    free(t->heap_current);          /* no reader is left to see it */
}

static void destroy(struct qemu_rcu_torture *t)
{
    free(t->readers);
    free(t->updaters);
    free(t);
}

struct qemu_rcu_torture *qemu_rcu_torture_start(int readers, int updaters)
{
    struct qemu_rcu_torture *t;

    if (readers < 1 || readers > QEMU_RCU_TORTURE_MAX_READERS ||
        updaters < 1 || updaters > QEMU_RCU_TORTURE_MAX_UPDATERS) {
        return NULL;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return NULL;
    }
    t->readers = calloc((size_t)readers, sizeof(*t->readers));
    t->updaters = calloc((size_t)updaters, sizeof(*t->updaters));
    if (t->readers == NULL || t->updaters == NULL) {
        destroy(t);
        return NULL;
    }
    t->pipe[0].mbtest = 1;
    t->pipe[0].generation = 1;
    t->current = &t->pipe[0];
    t->heap_current = heap_new(t, 1);
    /* Thread creation publishes all of the above to the new threads. */

    for (int i = 0; i < readers; i++) {
        t->readers[i].t = t;
        if (!spawn(&t->readers[i].thread, reader_main, &t->readers[i])) {
            finish(t, i, 0);
            destroy(t);
            return NULL;
        }
        t->nreaders++;
    }
    for (int i = 0; i < updaters; i++) {
        t->updaters[i].t = t;
        t->updaters[i].role = i;
        if (!spawn(&t->updaters[i].thread, updater_main(i), &t->updaters[i])) {
            finish(t, readers, i);
            destroy(t);
            return NULL;
        }
        t->nupdaters++;
    }
    return t;
}

void qemu_rcu_torture_snapshot(struct qemu_rcu_torture *t,
                               struct qemu_rcu_torture_counts *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < t->nreaders; i++) {
        struct reader *r = &t->readers[i];

        out->reads += LD(&r->reads);
        out->mberrors += LD(&r->mberrors);
        out->poisoned += LD(&r->poisoned);
        out->recycled += LD(&r->recycled);
        for (int a = 0; a < AGES; a++) {
            out->age[a] += LD(&r->age[a]);
        }
    }
    for (int i = 0; i < t->nupdaters; i++) {
        struct updater *u = &t->updaters[i];
        uint64_t count = LD(&u->count);

        if (u->role == 0) {
            out->updates += count;
            out->longest_gp_ns = LD(&u->longest_ns);
        } else if (u->role == 1) {
            out->heap_updates += count;
        } else {
            out->sync_loops += count;
        }
    }
    out->reclaimed = LD(&t->reclaimed);
}

void qemu_rcu_torture_stop(struct qemu_rcu_torture *t,
                           struct qemu_rcu_torture_counts *final)
{
    finish(t, t->nreaders, t->nupdaters);
    if (final != NULL) {
        qemu_rcu_torture_snapshot(t, final);
    }
    destroy(t);
}

uint64_t qemu_rcu_torture_errors(const struct qemu_rcu_torture_counts *c)
{
    uint64_t errors = c->mberrors + c->poisoned + c->recycled;

    for (int a = 2; a < AGES; a++) {
        errors += c->age[a];
    }
    return errors;
}
