/* SPDX-License-Identifier: MIT */
/*
 * workloads.c: the workloads people choose an RCU by, as a plain C program.
 *
 * Built at bench time once per flavour (workloads.py), with exactly one of
 *   -DFLAVOR_QEMU_RCU    the core's sources compiled in, -DQEMU_RCU_CORE, as
 *                        QEMU or any C program links it (direct calls, the
 *                        header's inline read side); or, with QEMU's headers
 *                        first on the include path, QEMU's own util/rcu.c;
 *   -DFLAVOR_URCU_MEMB   liburcu urcu-memb, inlined (_LGPL_SOURCE);
 *   -DFLAVOR_URCU_MB     liburcu urcu-mb, inlined (_LGPL_SOURCE);
 *   -DFLAVOR_RWLOCK      pthread_rwlock_t: readers take the read lock, the
 *                        updater the write lock, and it frees at once;
 *   -DFLAVOR_MUTEX       pthread_mutex_t, the same with one lock for all.
 * -DBENCH_BREAK_GRACE_PERIOD (qemu-rcu only) frees without waiting for a
 * grace period, to show that the poison check below catches it.
 *
 *   workloads MODE READERS SECONDS INTERVAL_US
 *
 * MODE is "read" (readers only), "sync" (an updater publishes a new object
 * every INTERVAL_US, 0 for flat out, then waits with synchronize_rcu and
 * frees the old one; the lock flavours swap under the write lock and free),
 * or "call" (the same, but the old object goes to call_rcu).  It prints one
 * JSON line of results on stdout.
 *
 * Every thread keeps time itself and stops at the deadline, SECONDS after
 * the first thread passes the start line (a reader looks at the clock every
 * BATCH * CLOCK_EVERY reads), so rates are per SECONDS: a main thread or a
 * reader that a loaded machine leaves unscheduled past the deadline adds
 * nothing to the counts (but every reader does one batch and the updater
 * one update, so no figure is ever empty).  "wall_seconds" says how long
 * the run really took.
 *
 * Correctness: readers dereference the published object and check its
 * value; the updater poisons that value just before freeing an object.  A
 * reader that sees anything but MAGIC counts a poisoned read, and the
 * program then says so on stderr and exits with status 1.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#if defined(FLAVOR_QEMU_RCU)
#include "qemu_rcu.h"
#ifdef QEMU_RCU_API_VERSION
#define FLAVOR_NAME "qemu-rcu"
#else
/* QEMU's own util/rcu.c (bench --qemu-source): qemu_rcu.h is then an
 * adapter over QEMU's qemu/rcu.h, which has none of qemu-rcu's additions. */
#define FLAVOR_NAME "QEMU util/rcu.c"
#endif
#define FLAVOR_RCU 1
#define FL_REGISTER() rcu_register_thread()
#define FL_UNREGISTER() rcu_unregister_thread()
#define FL_READ_LOCK() rcu_read_lock()
#define FL_READ_UNLOCK() rcu_read_unlock()
#define FL_DEREF(p) qatomic_rcu_read(&(p))
#define FL_PUBLISH(p, v) qatomic_rcu_set(&(p), (v))
#ifdef BENCH_BREAK_GRACE_PERIOD
#define FL_SYNCHRONIZE() do { } while (0)
#define FL_CALL(head, fn) (fn)(head)
#else
#define FL_SYNCHRONIZE() synchronize_rcu()
#define FL_CALL(head, fn) call_rcu1((head), (fn))
#endif
#define FL_DRAIN() drain_call_rcu()
#ifdef QEMU_RCU_API_VERSION
#define FL_MEMBARRIER() ((int)rcu_membarrier_active)
#elif defined(CONFIG_MEMBARRIER)
#define FL_MEMBARRIER() 1
#else
#define FL_MEMBARRIER() 0
#endif

#elif defined(FLAVOR_URCU_MEMB) || defined(FLAVOR_URCU_MB)
#define _LGPL_SOURCE
#if defined(FLAVOR_URCU_MEMB)
#include <urcu/urcu-memb.h>
#define URCU(name) urcu_memb_##name
#define FLAVOR_NAME "liburcu urcu-memb"
#else
#include <urcu/urcu-mb.h>
#define URCU(name) urcu_mb_##name
#define FLAVOR_NAME "liburcu urcu-mb"
#endif
#define FLAVOR_RCU 1
#define FL_REGISTER() URCU(register_thread)()
#define FL_UNREGISTER() URCU(unregister_thread)()
#define FL_READ_LOCK() URCU(read_lock)()
#define FL_READ_UNLOCK() URCU(read_unlock)()
#define FL_DEREF(p) rcu_dereference(p)
#define FL_PUBLISH(p, v) rcu_assign_pointer(p, v)
#define FL_SYNCHRONIZE() URCU(synchronize_rcu)()
#define FL_CALL(head, fn) URCU(call_rcu)((head), (fn))
#define FL_DRAIN() URCU(barrier)()
#define FL_MEMBARRIER() (-1)

#elif defined(FLAVOR_RWLOCK)
#include <pthread.h>
#define FLAVOR_NAME "pthread_rwlock_t"
static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
#define FL_READ_LOCK() pthread_rwlock_rdlock(&lock)
#define FL_READ_UNLOCK() pthread_rwlock_unlock(&lock)
#define FL_WRITE_LOCK() pthread_rwlock_wrlock(&lock)
#define FL_WRITE_UNLOCK() pthread_rwlock_unlock(&lock)

#elif defined(FLAVOR_MUTEX)
#include <pthread.h>
#define FLAVOR_NAME "pthread_mutex_t"
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
#define FL_READ_LOCK() pthread_mutex_lock(&lock)
#define FL_READ_UNLOCK() pthread_mutex_unlock(&lock)
#define FL_WRITE_LOCK() pthread_mutex_lock(&lock)
#define FL_WRITE_UNLOCK() pthread_mutex_unlock(&lock)

#else
#error "compile with one of -DFLAVOR_QEMU_RCU, -DFLAVOR_URCU_MEMB, -DFLAVOR_URCU_MB, \
-DFLAVOR_RWLOCK, -DFLAVOR_MUTEX"
#endif

#if defined(BENCH_BREAK_GRACE_PERIOD) && !defined(FLAVOR_QEMU_RCU)
#error "BENCH_BREAK_GRACE_PERIOD applies to FLAVOR_QEMU_RCU only"
#endif

#ifndef FLAVOR_RCU
/* The locks: the read lock is all the protection a reader needs. */
#define FLAVOR_RCU 0
#define FL_REGISTER() do { } while (0)
#define FL_UNREGISTER() do { } while (0)
#define FL_DEREF(p) __atomic_load_n(&(p), __ATOMIC_RELAXED)
#define FL_PUBLISH(p, v) __atomic_store_n(&(p), (v), __ATOMIC_RELAXED)
#define FL_MEMBARRIER() (-1)
#endif

#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAGIC  UINT64_C(0x5eed5eed5eed5eed)
#define POISON UINT64_C(0xdeaddeaddeaddead)
#define BATCH  64                      /* reads between looks at the stop flag */
#define CLOCK_EVERY 16                 /* batches between looks at the clock */
#define SAMPLES_MAX ((size_t)1 << 21)  /* grace periods timed, at most */

enum mode { MODE_READ, MODE_SYNC, MODE_CALL };

/* value first: once freed, malloc's own bookkeeping lands there too. */
struct object {
    uint64_t value;          /* MAGIC while reachable, POISON once retired */
    uint64_t serial;
    uint64_t retired_ns;     /* when handed to call_rcu */
#if FLAVOR_RCU
    struct rcu_head head;
#endif
};

struct reader {
    pthread_t thread;
    uint64_t reads;
    uint64_t poisoned;
} __attribute__((aligned(64)));

static struct object *current;
/* The run ends at the deadline, seen by whichever thread looks first: the
 * threads keep time themselves, so a main thread that a loaded machine
 * leaves asleep never stretches a run. */
static int stop;
static uint64_t deadline_ns;           /* set by the first thread to start */
static uint64_t run_ns;
static pthread_barrier_t start_line;
static enum mode mode;
static uint64_t interval_ns;
static uint64_t updates;
static uint64_t *samples;
static size_t samples_cap;
static size_t samples_n;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Past the start line: the first thread to get here starts the clock. */
static void start(void)
{
    uint64_t unset = 0;

    pthread_barrier_wait(&start_line);
    __atomic_compare_exchange_n(&deadline_ns, &unset, now_ns() + run_ns, 0,
                                __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

/* True once the run is over; a thread that sees the deadline pass says so. */
static int time_is_up(void)
{
    uint64_t deadline;

    if (__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
        return 1;
    }
    deadline = __atomic_load_n(&deadline_ns, __ATOMIC_RELAXED);
    if (now_ns() >= deadline) {
        __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
        return 1;
    }
    return 0;
}

static void record(uint64_t ns)
{
    size_t i = __atomic_fetch_add(&samples_n, 1, __ATOMIC_RELAXED);
    if (i < samples_cap) {
        samples[i] = ns;
    }
}

static struct object *new_object(uint64_t serial)
{
    struct object *o = malloc(sizeof(*o));
    if (o == NULL) {
        fprintf(stderr, "workloads: out of memory\n");
        exit(2);
    }
    memset(o, 0, sizeof(*o));
    o->serial = serial;
    __atomic_store_n(&o->value, MAGIC, __ATOMIC_RELAXED);
    return o;
}

static void poison_and_free(struct object *o)
{
    __atomic_store_n(&o->value, POISON, __ATOMIC_RELAXED);
    free(o);
}

#if FLAVOR_RCU
static void retire_callback(struct rcu_head *head)
{
    struct object *o = (struct object *)((char *)head - offsetof(struct object, head));
    record(now_ns() - o->retired_ns);
    poison_and_free(o);
}
#endif

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    uint64_t reads = 0, poisoned = 0;
    unsigned batches = 0;

    FL_REGISTER();
    start();
    do {          /* at least one batch, even if it starts past the deadline */
        for (int i = 0; i < BATCH; i++) {
            struct object *o;
            uint64_t value;

            FL_READ_LOCK();
            o = FL_DEREF(current);
            value = __atomic_load_n(&o->value, __ATOMIC_RELAXED);
            FL_READ_UNLOCK();
            poisoned += value != MAGIC;
        }
        reads += BATCH;
    } while (!(++batches % CLOCK_EVERY == 0 ? time_is_up()
                                            : __atomic_load_n(&stop, __ATOMIC_RELAXED)));
    FL_UNREGISTER();
    r->reads = reads;
    r->poisoned = poisoned;
    return NULL;
}

/* Wait for the next tick; when late, start counting again from now. */
static void pace(uint64_t *next)
{
    uint64_t t = now_ns();
    struct timespec ts;

    *next += interval_ns;
    if (*next <= t) {
        *next = t;
        return;
    }
    ts.tv_sec = (time_t)(*next / 1000000000u);
    ts.tv_nsec = (long)(*next % 1000000000u);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
    }
}

static void *updater_main(void *arg)
{
    uint64_t serial = 0, next, n = 0;

    (void)arg;
    FL_REGISTER();
    start();
    next = now_ns();
    do {          /* at least one update, even if it starts past the deadline */
        struct object *fresh = new_object(++serial);
        struct object *old;
        uint64_t t0;

#if FLAVOR_RCU
        old = current;                 /* only this thread writes it */
        FL_PUBLISH(current, fresh);
        if (mode == MODE_CALL) {
            old->retired_ns = now_ns();
            FL_CALL(&old->head, retire_callback);
        } else {
            t0 = now_ns();
            FL_SYNCHRONIZE();
            record(now_ns() - t0);
            poison_and_free(old);
        }
#else
        t0 = now_ns();
        FL_WRITE_LOCK();
        old = current;
        FL_PUBLISH(current, fresh);
        FL_WRITE_UNLOCK();
        record(now_ns() - t0);
        poison_and_free(old);
#endif
        n++;
        if (interval_ns) {
            pace(&next);
        }
    } while (!time_is_up());
#if FLAVOR_RCU
    if (mode == MODE_CALL) {
        FL_DRAIN();                    /* every callback has run and freed */
    }
#endif
    FL_UNREGISTER();
    updates = n;
    return NULL;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest rank, pct in 0..100, of sorted[0..n). */
static uint64_t percentile(const uint64_t *sorted, size_t n, double pct)
{
    size_t rank = (size_t)(pct / 100.0 * (double)n + 0.999999);
    if (n == 0) {
        return 0;
    }
    if (rank < 1) {
        rank = 1;
    }
    return sorted[(rank > n ? n : rank) - 1];
}

static int usage(void)
{
    fprintf(stderr, "usage: workloads read|sync|call READERS SECONDS INTERVAL_US\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct reader *readers;
    pthread_t updater;
    uint64_t t0, t1, reads = 0, min_reads = UINT64_MAX, poisoned = 0;
    double seconds;
    size_t n;
    int nreaders, with_updater;

    if (argc != 5) {
        return usage();
    }
    if (strcmp(argv[1], "read") == 0) {
        mode = MODE_READ;
    } else if (strcmp(argv[1], "sync") == 0) {
        mode = MODE_SYNC;
    } else if (strcmp(argv[1], "call") == 0 && FLAVOR_RCU) {
        mode = MODE_CALL;
    } else {
        return usage();
    }
    nreaders = atoi(argv[2]);
    seconds = atof(argv[3]);
    interval_ns = (uint64_t)strtoull(argv[4], NULL, 10) * 1000u;
    if (nreaders < 1 || nreaders > 4096 || !(seconds > 0 && seconds < 3600)) {
        return usage();
    }
    with_updater = mode != MODE_READ;
    run_ns = (uint64_t)(seconds * 1e9);

    samples_cap = SAMPLES_MAX;
    if (interval_ns) {
        size_t expected = (size_t)(seconds * 1e9 / (double)interval_ns) * 2 + 1024;
        samples_cap = expected < SAMPLES_MAX ? expected : SAMPLES_MAX;
    }
    samples = with_updater ? malloc(samples_cap * sizeof(*samples)) : NULL;
    readers = calloc((size_t)nreaders, sizeof(*readers));
    if ((with_updater && samples == NULL) || readers == NULL) {
        fprintf(stderr, "workloads: out of memory\n");
        return 2;
    }

    current = new_object(0);
    pthread_barrier_init(&start_line, NULL, (unsigned)(nreaders + with_updater + 1));
    for (int i = 0; i < nreaders; i++) {
        if (pthread_create(&readers[i].thread, NULL, reader_main, &readers[i]) != 0) {
            fprintf(stderr, "workloads: cannot start a reader thread\n");
            return 2;
        }
    }
    if (with_updater && pthread_create(&updater, NULL, updater_main, NULL) != 0) {
        fprintf(stderr, "workloads: cannot start the updater thread\n");
        return 2;
    }

    start();
    for (int i = 0; i < nreaders; i++) {
        pthread_join(readers[i].thread, NULL);
        reads += readers[i].reads;
        poisoned += readers[i].poisoned;
        if (readers[i].reads < min_reads) {
            min_reads = readers[i].reads;
        }
    }
    if (with_updater) {
        pthread_join(updater, NULL);
    }
    t1 = now_ns();
    t0 = deadline_ns - run_ns;
    free(current);

    n = samples_n < samples_cap ? samples_n : samples_cap;
    if (n) {
        qsort(samples, n, sizeof(*samples), compare_u64);
    }
    printf("{\"flavor\": \"%s\", \"mode\": \"%s\", \"readers\": %d, "
           "\"seconds\": %.6f, \"wall_seconds\": %.6f, \"reads\": %" PRIu64
           ", \"reads_min_thread\": %" PRIu64 ", \"updates\": %" PRIu64
           ", \"gp_n\": %zu, \"gp_p50_ns\": %" PRIu64 ", \"gp_p99_ns\": %" PRIu64
           ", \"gp_max_ns\": %" PRIu64
           ", \"poisoned\": %" PRIu64 ", \"membarrier\": %d}\n",
           FLAVOR_NAME, argv[1], nreaders, seconds, (double)(t1 - t0) / 1e9, reads,
           min_reads, updates, n, percentile(samples, n, 50), percentile(samples, n, 99),
           n ? samples[n - 1] : 0, poisoned, FL_MEMBARRIER());
    fflush(stdout);
    free(samples);
    free(readers);
    if (poisoned) {
        fprintf(stderr, "workloads: %s, %s, %d readers: %" PRIu64 " reads saw an object "
                "already retired (poisoned or freed): a grace period was too short\n",
                FLAVOR_NAME, argv[1], nreaders, poisoned);
        return 1;
    }
    return 0;
}
