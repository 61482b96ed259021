/* SPDX-License-Identifier: MIT */
/*
 * The grace-period engine: reader registry, synchronize_rcu and its
 * "poll, then force" wait for readers (QEMU 10.2), and this layer's share of
 * start-up and fork (domain.c calls them in order).  It calls nothing above
 * it: what the callbacks layer needs it to know, it learns through the hook
 * installed with qemu_rcu_set_force_check().
 *
 * Locking: one grace period runs at a time, and writers that arrive while
 * it runs share the next one (gp_lock guards who runs it);
 * rcu_registry_lock protects the registry and every record's links and
 * notifiers.  A writer drops the registry lock while it sleeps, so threads
 * register and exit without waiting for a grace period.
 */
#define _GNU_SOURCE
#include "rcu_internal.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* A grace period waits politely for five 10 ms polls (QEMU's patience)
 * before it forces; before that, a few quick looks, since most sections last
 * microseconds (see quick_look_pause). */
#define RCU_POLL_NS     10000000
#define RCU_POLLS       5
#define RCU_QUICK_LOOKS 10
#define RCU_QUICK_SPINS 5           /* of them a spin apart, then a nap */
#define RCU_QUICK_SPIN_NS 2000
#define RCU_QUICK_NAP_NS 50000

/* Read by every outermost lock, written once per grace period. */
unsigned long rcu_gp_ctr __attribute__((aligned(64))) = RCU_GP_LOCKED;
struct qemu_rcu_read_mostly qemu_rcu_read_mostly;
QEMU_RCU_TLS struct rcu_reader_data rcu_reader = {
    .depth = QEMU_RCU_DEPTH_UNREGISTERED,
};

/* gp_running says a writer is running a grace period; the others sleep on
 * gp_done until one that covers them has completed.  Waiters asking for an
 * expedited one are counted so the running grace period hurries too. */
static pthread_mutex_t gp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gp_done = PTHREAD_COND_INITIALIZER;
static bool gp_running;
static int gp_expedite_waiters;
static pthread_mutex_t rcu_registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rcu_reader_data *registry;
static unsigned registered_threads;
static QemuRcuEvent rcu_gp_event;
static pthread_key_t reader_exit_key;
/* Asked by a polling grace period whether to force now (see should_force). */
static bool (*force_check)(void);

/* Threads that have queued callbacks (under the registry lock), and whether
 * a fork is waiting for their enqueues to finish. */
static struct rcu_reader_data *queuing_threads;

/* Grace-period sequence for the polled API: odd while one is running, and
 * advanced by two for each one completed. */
static unsigned long gp_seq __attribute__((aligned(64)));

void qemu_rcu_fatal(const char *fmt, ...)
{
    va_list ap;

    fputs("qemu-rcu: fatal: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    abort();
}

/* Let another thread finish a few instructions: a short sleep, because
 * sched_yield() can keep the caller off the CPU for seconds when threads
 * outnumber CPUs (see quick_look_pause), while a sleep gives the CPU away
 * and comes back on time. */
static void wait_a_moment(void)
{
    struct timespec ts = { 0, 50000 };

    nanosleep(&ts, NULL);
}

bool qemu_rcu_start_helper_thread(void *(*fn)(void *))
{
    pthread_attr_t attr;
    pthread_t thread;
    sigset_t all, old;
    int err;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    err = pthread_create(&thread, &attr, fn, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err == 0;
}

/* ---- Barriers ---------------------------------------------------------- */

static long sys_membarrier(int cmd)
{
    return syscall(__NR_membarrier, cmd, 0, 0);
}

/* Readers skip their fence only if every writer can force one on them. */
static bool membarrier_setup(void)
{
    const char *env = getenv("QEMU_RCU_MEMBARRIER");
    long cmds;

    if (env && strcmp(env, "0") == 0) {
        return false;
    }
    cmds = sys_membarrier(MEMBARRIER_CMD_QUERY);
    return cmds >= 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
           sys_membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
}

/* A full barrier on every thread of the process, or on this one only when
 * readers pay for their own. */
static void smp_mb_global(void)
{
    if (qemu_rcu_read_mostly.membarrier) {
        if (sys_membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0) {
            qemu_rcu_fatal("membarrier failed (errno %d)", errno);
        }
    } else {
        qemu_rcu_smp_mb();
    }
}

/* ---- Registry ---------------------------------------------------------- */

static void list_insert(struct rcu_reader_data **head, struct rcu_reader_data *r)
{
    r->next_ = *head;
    if (r->next_) {
        r->next_->pprev_ = &r->next_;
    }
    *head = r;
    r->pprev_ = head;
}

/* Works whichever list holds r: the registry or a writer's local one. */
static void list_remove(struct rcu_reader_data *r)
{
    if (r->next_) {
        r->next_->pprev_ = r->pprev_;
    }
    *r->pprev_ = r->next_;
    r->next_ = NULL;
    r->pprev_ = NULL;
}

/* Only r's own thread calls this (registration is per thread). */
static void unregister_locked(struct rcu_reader_data *r)
{
    list_remove(r);
    r->depth = QEMU_RCU_DEPTH_UNREGISTERED;
    registered_threads--;
}

static void remove_queuing_thread_locked(struct rcu_reader_data *r)
{
    for (struct rcu_reader_data **p = &queuing_threads; *p; p = &(*p)->next_queuing_thread_) {
        if (*p == r) {
            *p = r->next_queuing_thread_;
            break;
        }
    }
    r->queuing_thread_ = false;
}

void qemu_rcu_enqueue_begin_slow(struct rcu_reader_data *self)
{
    if (!self->queuing_thread_) {
        pthread_mutex_lock(&rcu_registry_lock);
        self->next_queuing_thread_ = queuing_threads;
        queuing_threads = self;
        self->queuing_thread_ = true;
        pthread_mutex_unlock(&rcu_registry_lock);
        /* Gives the thread an exit destructor that takes it off the list. */
        pthread_setspecific(reader_exit_key, self);
    }
    while (!rcu_enqueue_try_begin(self)) {
        __atomic_store_n(&self->mid_enqueue_, false, __ATOMIC_RELEASE);
        while (__atomic_load_n(&qemu_rcu_read_mostly.forking, __ATOMIC_ACQUIRE)) {
            wait_a_moment();
        }
    }
}

void rcu_register_thread(void)
{
    struct rcu_reader_data *r = &rcu_reader;

    if (r->depth != QEMU_RCU_DEPTH_UNREGISTERED) {
        return;
    }
    pthread_mutex_lock(&rcu_registry_lock);
    list_insert(&registry, r);
    r->depth = 0;
    registered_threads++;
    pthread_mutex_unlock(&rcu_registry_lock);
    /* Gives the thread an exit destructor that unregisters it. */
    pthread_setspecific(reader_exit_key, r);
}

void rcu_unregister_thread(void)
{
    struct rcu_reader_data *r = &rcu_reader;

    if (r->depth == QEMU_RCU_DEPTH_UNREGISTERED) {
        return;
    }
    if (r->depth > 0) {
        qemu_rcu_fatal("rcu_unregister_thread() called inside a read-side "
                       "section; writers would stop waiting for it");
    }
    if (!r->queuing_thread_) {
        pthread_setspecific(reader_exit_key, NULL);   /* nothing left to undo */
    }
    pthread_mutex_lock(&rcu_registry_lock);
    unregister_locked(r);
    pthread_mutex_unlock(&rcu_registry_lock);
}

/* A registered or queuing thread is exiting: a section it left open ends
 * with it, and its record leaves every list. */
static void reader_exit(void *arg)
{
    struct rcu_reader_data *r = arg;

    __atomic_store_n(&r->ctr, 0, __ATOMIC_RELEASE);
    pthread_mutex_lock(&rcu_registry_lock);
    if (r->depth != QEMU_RCU_DEPTH_UNREGISTERED) {
        unregister_locked(r);
    }
    if (r->queuing_thread_) {
        remove_queuing_thread_locked(r);
    }
    r->force_rcu_ = NULL;
    pthread_mutex_unlock(&rcu_registry_lock);
    /* A forced writer may be asleep waiting for this section to end. */
    qemu_rcu_event_set(&rcu_gp_event);
}

void rcu_add_force_rcu_notifier(Notifier *n)
{
    struct rcu_reader_data *r = &rcu_reader;

    rcu_register_thread();
    pthread_mutex_lock(&rcu_registry_lock);
    n->next_ = r->force_rcu_;
    r->force_rcu_ = n;
    pthread_mutex_unlock(&rcu_registry_lock);
}

void rcu_remove_force_rcu_notifier(Notifier *n)
{
    Notifier **p;

    pthread_mutex_lock(&rcu_registry_lock);
    for (p = &rcu_reader.force_rcu_; *p; p = &(*p)->next_) {
        if (*p == n) {
            *p = n->next_;
            break;
        }
    }
    pthread_mutex_unlock(&rcu_registry_lock);
}

/* ---- Read side slow paths ---------------------------------------------- */

void qemu_rcu_reader_first_lock(struct rcu_reader_data *r)
{
    if (r->depth != QEMU_RCU_DEPTH_UNREGISTERED) {
        /* One more would read as "unregistered" and register it twice. */
        qemu_rcu_fatal("rcu_read_lock() nested %u deep; an rcu_read_unlock() "
                       "is missing", r->depth);
    }
    rcu_register_thread();
}

void qemu_rcu_reader_wake_writer(struct rcu_reader_data *r)
{
    __atomic_store_n(&r->waiting, false, __ATOMIC_RELAXED);
    qemu_rcu_event_set(&rcu_gp_event);
}

void qemu_rcu_unbalanced_unlock(void)
{
    qemu_rcu_fatal("rcu_read_unlock() called with no read-side "
                   "section open on this thread (unbalanced unlock)");
}

void qemu_rcu_read_lock(void)
{
    rcu_read_lock();
}

void qemu_rcu_read_unlock(void)
{
    rcu_read_unlock();
}

/* ---- Grace periods ----------------------------------------------------- */

/*
 * The pause before quick look number "look": first a few short spins, in
 * which a reader running on another CPU ends its section; then short naps,
 * which hand the CPU to a reader preempted on this one.  Never
 * sched_yield(): with more runnable threads than CPUs, the kernel's fair
 * scheduler (EEVDF, Linux 6.6 and later) may not run a thread that yields
 * again for hundreds of milliseconds, even seconds, while a nap comes back
 * on time.
 */
static void quick_look_pause(int look)
{
    int64_t end = qemu_rcu_clock_ns() + RCU_QUICK_SPIN_NS;

    if (look >= RCU_QUICK_SPINS) {
        struct timespec nap = { 0, RCU_QUICK_NAP_NS };
        nanosleep(&nap, NULL);
        return;
    }
    while (qemu_rcu_clock_ns() < end) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#else
        __asm__ __volatile__("" ::: "memory");
#endif
    }
}

/* A reader holds up the current grace period only if it entered its
 * section before the counter moved. */
static bool reader_is_quiescent(struct rcu_reader_data *r)
{
    unsigned long ctr = __atomic_load_n(&r->ctr, __ATOMIC_ACQUIRE);
    return ctr == 0 || ctr == __atomic_load_n(&rcu_gp_ctr, __ATOMIC_RELAXED);
}

/*
 * A hook rather than a counter of "hurry" requests that the callbacks layer
 * raises and lowers: its condition is a threshold on the number of queued
 * callbacks, which changes with every call_rcu1(), so a counter would need
 * threshold crossings tracked on call_rcu1's path and repaired after fork.
 * The hook asks the same question at the same moments as a direct call did.
 */
void qemu_rcu_set_force_check(bool (*check)(void))
{
    __atomic_store_n(&force_check, check, __ATOMIC_RELEASE);
}

static bool should_force(bool expedite, bool patience_over)
{
    bool (*check)(void) = __atomic_load_n(&force_check, __ATOMIC_ACQUIRE);

    return expedite || patience_over ||
           __atomic_load_n(&gp_expedite_waiters, __ATOMIC_RELAXED) > 0 ||
           (check != NULL && check());
}

/*
 * Called with both locks held and the counter already advanced.  Readers
 * found quiescent move to a local list so each scan only looks at the ones
 * still pending.  First a few quick looks, with readers' unlocks left
 * untouched (most sections end within microseconds).  Then every pending
 * reader is asked to wake us when it leaves ("waiting"), and we sleep on the
 * event, at most 10 ms at a time so that the force check runs as often as
 * QEMU's polls do; a reader preempted on this CPU thus ends the wait as soon
 * as it leaves, not at the next poll.  Once forced, the notifiers fire and
 * we sleep until woken.
 */
static void wait_for_readers(bool expedite)
{
    struct rcu_reader_data *done = NULL, *r, *next;
    bool forced = false, asked = false;
    int looks = 0;
    int64_t patience_end = 0;       /* when polite waiting gives way to force */

    for (;;) {
        if (!forced && should_force(expedite, asked && qemu_rcu_clock_ns() >= patience_end)) {
            forced = true;
            for (r = registry; r; r = r->next_) {
                for (Notifier *n = r->force_rcu_; n; n = n->next_) {
                    n->notify(n, NULL);
                }
            }
        }
        if (!asked && (forced || looks >= RCU_QUICK_LOOKS)) {
            /* Reset before asking, so that no reader's wake-up is lost. */
            qemu_rcu_event_reset(&rcu_gp_event);
            for (r = registry; r; r = r->next_) {
                __atomic_store_n(&r->waiting, true, __ATOMIC_RELAXED);
            }
            asked = true;
            patience_end = qemu_rcu_clock_ns() + (int64_t)RCU_POLLS * RCU_POLL_NS;
        }
        /* Pairs with the reader's barrier: we see its ctr, or it sees
         * "waiting".  The quick looks need no barrier of their own, only
         * the one run_grace_period() issued before advancing the counter:
         * after it, a reader either has its ctr visible to us or loads
         * only the updated pointers; and reader_is_quiescent()'s acquire
         * load orders a section's loads before what we free.  Skipping it
         * spares every reader an interrupt per look when the barrier is
         * membarrier(). */
        if (asked) {
            smp_mb_global();
        }
        for (r = registry; r; r = next) {
            next = r->next_;
            if (reader_is_quiescent(r)) {
                list_remove(r);
                list_insert(&done, r);
                __atomic_store_n(&r->waiting, false, __ATOMIC_RELAXED);
            }
        }
        if (!registry) {
            break;
        }
        pthread_mutex_unlock(&rcu_registry_lock);
        if (!asked) {
            quick_look_pause(looks++);
        } else {
            if (forced) {
                qemu_rcu_event_wait(&rcu_gp_event);
            } else {
                qemu_rcu_event_timedwait(&rcu_gp_event, RCU_POLL_NS);
            }
            qemu_rcu_event_reset(&rcu_gp_event);
        }
        pthread_mutex_lock(&rcu_registry_lock);
    }
    registry = done;
    if (registry) {
        registry->pprev_ = &registry;
    }
}

/* Runs one grace period; the caller owns gp_running. */
static void run_grace_period(bool expedite)
{
    __atomic_store_n(&gp_seq, gp_seq + 1, __ATOMIC_RELAXED);
    /* Our updates become visible before we look at any reader. */
    smp_mb_global();
    pthread_mutex_lock(&rcu_registry_lock);
    if (registry) {
        /* Full width: a 32-bit snapshot would make every reader look old
         * after 2^31 grace periods. */
        __atomic_store_n(&rcu_gp_ctr, rcu_gp_ctr + RCU_GP_CTR, __ATOMIC_RELAXED);
        wait_for_readers(expedite);
    }
    pthread_mutex_unlock(&rcu_registry_lock);
    __atomic_store_n(&gp_seq, gp_seq + 1, __ATOMIC_RELEASE);
}

/*
 * Waits until a grace period that began after this call has completed.
 * Writers that queue up behind a running grace period share the next one,
 * and each is done at most two grace periods after it arrived: a plain
 * mutex around the grace period let writers calling in a loop keep every
 * other writer (the callback thread among them) waiting indefinitely.
 */
static void synchronize(const char *caller, bool expedite)
{
    unsigned long cookie;

    if (rcu_read_lock_held()) {
        qemu_rcu_fatal("%s() called inside a read-side section of "
                       "the same thread; it would wait for itself forever",
                       caller);
    }
    cookie = get_state_synchronize_rcu();
    pthread_mutex_lock(&gp_lock);
    if (expedite) {
        __atomic_fetch_add(&gp_expedite_waiters, 1, __ATOMIC_RELAXED);
    }
    while (!poll_state_synchronize_rcu(cookie)) {
        if (gp_running) {
            pthread_cond_wait(&gp_done, &gp_lock);
            continue;
        }
        gp_running = true;
        pthread_mutex_unlock(&gp_lock);
        run_grace_period(expedite);
        pthread_mutex_lock(&gp_lock);
        gp_running = false;
        pthread_cond_broadcast(&gp_done);
    }
    if (expedite) {
        __atomic_fetch_sub(&gp_expedite_waiters, 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&gp_lock);
}

void synchronize_rcu(void)
{
    synchronize("synchronize_rcu", false);
}

void synchronize_rcu_expedited(void)
{
    synchronize("synchronize_rcu_expedited", true);
}

unsigned long get_state_synchronize_rcu(void)
{
    /* The caller's unpublish must come before the snapshot. */
    qemu_rcu_smp_mb();
    /* Idle: the next grace period will do; running: it may have looked at
     * readers already, so wait for the one after it. */
    return (__atomic_load_n(&gp_seq, __ATOMIC_ACQUIRE) + 3) & ~1UL;
}

bool poll_state_synchronize_rcu(unsigned long cookie)
{
    return (long)(__atomic_load_n(&gp_seq, __ATOMIC_ACQUIRE) - cookie) >= 0;
}

void qemu_rcu_grace_period_stats(struct rcu_stats *out)
{
    out->grace_periods = __atomic_load_n(&gp_seq, __ATOMIC_ACQUIRE) / 2;
    pthread_mutex_lock(&rcu_registry_lock);
    out->registered_threads = registered_threads;
    pthread_mutex_unlock(&rcu_registry_lock);
    out->membarrier = qemu_rcu_read_mostly.membarrier;
}

/* ---- Fork ---------------------------------------------------------------- */

/*
 * Before fork, take the registry lock (held only briefly) and wait until no
 * queuing thread is between taking the queue's tail and linking its node,
 * which takes a few instructions; a fork copying that gap would cut the
 * child's queue short.  A running grace period is not waited for: it can wait on a
 * reader that needs the forking thread (for example a Python thread waiting
 * for the GIL), so waiting for it could deadlock.  The child rebuilds
 * writer state instead.
 */
void qemu_rcu_fork_prepare(void)
{
    pthread_mutex_lock(&rcu_registry_lock);
    __atomic_store_n(&qemu_rcu_read_mostly.forking, true, __ATOMIC_RELAXED);
    smp_mb_global();
    for (struct rcu_reader_data *r = queuing_threads; r; r = r->next_queuing_thread_) {
        while (__atomic_load_n(&r->mid_enqueue_, __ATOMIC_ACQUIRE)) {
            wait_a_moment();
        }
    }
}

void qemu_rcu_fork_parent(void)
{
    __atomic_store_n(&qemu_rcu_read_mostly.forking, false, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&rcu_registry_lock);
}

/* Only the forking thread exists now; it keeps its record, including an
 * open section, so a guard held across fork still works in the child. */
void qemu_rcu_fork_child(void)
{
    struct rcu_reader_data *self = &rcu_reader;

    qemu_rcu_read_mostly.forking = false;
    pthread_mutex_init(&gp_lock, NULL);
    pthread_cond_init(&gp_done, NULL);
    gp_running = false;
    gp_expedite_waiters = 0;
    pthread_mutex_init(&rcu_registry_lock, NULL);
    registry = NULL;
    registered_threads = 0;
    if (self->depth != QEMU_RCU_DEPTH_UNREGISTERED) {
        list_insert(&registry, self);
        registered_threads = 1;
    }
    queuing_threads = NULL;
    if (self->queuing_thread_) {
        self->next_queuing_thread_ = NULL;
        queuing_threads = self;
    }
    self->waiting = false;
    /* A grace period cut off by fork did not complete. */
    gp_seq &= ~1UL;
    qemu_rcu_event_init(&rcu_gp_event, true);
    if (qemu_rcu_read_mostly.membarrier) {
        /* Only this thread runs, so readers can switch barriers safely. */
        qemu_rcu_read_mostly.membarrier =
            sys_membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
    }
}

/* ---- Start-up ---------------------------------------------------------- */

void qemu_rcu_start(void)
{
    qemu_rcu_read_mostly.membarrier = membarrier_setup();
    if (pthread_key_create(&reader_exit_key, reader_exit) != 0) {
        qemu_rcu_fatal("cannot set up the thread-exit handler");
    }
    qemu_rcu_event_init(&rcu_gp_event, true);
}
