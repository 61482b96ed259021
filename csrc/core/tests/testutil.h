/* SPDX-License-Identifier: MIT */
/*
 * testutil.h: the small harness shared by the C tests of the RCU core.
 *
 * Each test program runs a list of subtests and prints TAP: "ok N - name" or
 * "not ok N - name", then the plan "1..N"; it exits 1 if anything failed.
 * CHECK() records a failure and carries on, so one run shows every broken
 * property.  A per-subtest alarm() is the watchdog: a hang kills the program
 * (SIGALRM, default action, so no sanitizer runtime is involved) instead of
 * blocking CI, and the "# start:" line printed before each subtest tells
 * which one hung.
 *
 * A program runs every subtest by default (as meson runs it); "prog --list"
 * prints the subtests' names, and "prog NAME" runs that one alone, which is
 * how qemu-check runs each in a process of its own.
 *
 * The tests also build against QEMU's own qemu/rcu.h and util/rcu.c
 * (qemu-check, README "Check it against QEMU").  qemu_rcu.h defines
 * QEMU_RCU_API_VERSION and QEMU's header does not: TU_QEMU_RCU tells which
 * one is in use.  A subtest that needs what only qemu-rcu has (rcu_get_stats,
 * the polled and expedited grace periods, whether a thread is registered) is
 * skipped on QEMU's, saying why; where qemu-rcu does by itself what QEMU leaves to the
 * caller (registering readers, unregistering them before they exit), the
 * helpers below do it by hand on QEMU's core only, so that what the tests
 * check on qemu-rcu's own core stays exactly the same.
 *
 * Waiting rules: a test never uses a sleep as its only synchronisation.  It
 * waits for flags (tu_wait_int) and joins threads; a sleep appears only where
 * the property itself is "X is still blocked after a while".
 */
#ifndef QEMU_RCU_TESTUTIL_H
#define QEMU_RCU_TESTUTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qemu_rcu.h"

#ifdef QEMU_RCU_API_VERSION
#define TU_QEMU_RCU 1
#else
#define TU_QEMU_RCU 0
#endif

#if TU_QEMU_RCU
/* Whether the calling thread is in qemu-rcu's reader registry. */
static inline bool tu_registered(void)
{
    return get_ptr_rcu_reader()->depth != QEMU_RCU_DEPTH_UNREGISTERED;
}
#endif

/* Seconds one subtest may run.  Generous because ThreadSanitizer slows
 * everything down several times on a 2-core machine; a program whose
 * subtests fork may set its own before including this file. */
#ifndef TU_WATCHDOG_S
#define TU_WATCHDOG_S 20
#endif

/* How long a test waits for something that must happen "soon" before it
 * calls it a failure.  Grace periods take milliseconds; this is slack for
 * sanitizers and a loaded machine. */
#define TU_SOON_MS 5000

/* How long "still blocked" is observed before the test believes it. */
#define TU_BLOCKED_MS 100

#ifndef container_of
#define container_of(ptr, type, member) \
    ((type *)((char *)(ptr) - offsetof(type, member)))
#endif

/* ---- what QEMU's core lacks, or leaves to the caller ----------------------- */

#if TU_QEMU_RCU
/* qemu-rcu's fork handlers work whatever the other threads do. */
static inline pid_t tu_fork(void)
{
    return fork();
}
/* qemu-rcu registers a reader on its first rcu_read_lock() and unregisters
 * it when its thread exits: nothing to do, and the tests check that. */
static inline void tu_reader_begin(void) {}
static inline void tu_reader_end(void) {}
/* Where expedited is only one more way to wait for readers. */
#define tu_synchronize_expedited() synchronize_rcu_expedited()
#else
#include "qemu/main-loop.h"

/* QEMU forks holding the big QEMU lock, which its callback thread takes
 * around callbacks: a child forked while a callback ran would inherit the
 * lock taken, and its own callback thread would wait for it forever.  The
 * child keeps the lock (its forking thread holds it) and drops it. */
static inline pid_t tu_fork(void)
{
    pid_t pid;

    bql_lock();
    pid = fork();
    bql_unlock();
    return pid;
}
/* QEMU: a reader registers before its first section and unregisters before
 * its thread exits. */
static inline void tu_reader_begin(void)
{
    rcu_register_thread();
}
static inline void tu_reader_end(void)
{
    rcu_unregister_thread();
}
/* QEMU has no expedited grace period; a normal one waits for the same
 * readers. */
#define tu_synchronize_expedited() synchronize_rcu()
/* QEMU's reader record has the nesting depth, not this helper. */
static inline bool rcu_read_lock_held(void)
{
    return get_ptr_rcu_reader()->depth > 0;
}
/* QEMU's name for free_rcu (glib's g_free is free()). */
#define free_rcu(obj, field) g_free_rcu(obj, field)
#endif

/* ---- atomics on plain ints (flags shared between test threads) -------- */

static inline int tu_load(const int *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void tu_store(int *p, int v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline int tu_inc(int *p)
{
    return __atomic_add_fetch(p, 1, __ATOMIC_ACQ_REL);
}

/* ---- time ---------------------------------------------------------------- */

static inline int64_t tu_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline double tu_elapsed_ms(int64_t since_ns)
{
    return (double)(tu_now_ns() - since_ns) / 1e6;
}

static inline void tu_sleep_us(long us)
{
    struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        /* keep sleeping for the rest */
    }
}

static inline void tu_sleep_ms(long ms)
{
    tu_sleep_us(ms * 1000);
}

/* Burn CPU for about us microseconds (a reader "doing work" in a section,
 * or a slow callback) without giving the CPU away. */
static inline void tu_spin_us(long us)
{
    int64_t end = tu_now_ns() + (int64_t)us * 1000;

    while (tu_now_ns() < end) {
        __asm__ __volatile__("" ::: "memory");
    }
}

/* Poll *p until it equals want; false if timeout_ms passed first. */
static inline bool tu_wait_int(const int *p, int want, long timeout_ms)
{
    int64_t end = tu_now_ns() + (int64_t)timeout_ms * 1000000;

    while (tu_load(p) != want) {
        if (tu_now_ns() > end) {
            return false;
        }
        tu_sleep_us(200);
    }
    return true;
}

/* Wait for helper threads to get going: *p reaches want.  Starting a
 * thread is not what these tests test, and on a loaded machine it can take
 * longer than TU_SOON_MS, so after that the wait is only noted and goes on;
 * a thread that never starts is left to the watchdog. */
static inline void tu_wait_started(const int *p, int want, const char *what)
{
    if (!tu_wait_int(p, want, TU_SOON_MS)) {
        printf("# still waiting for %s after %d ms\n", what, TU_SOON_MS);
        fflush(stdout);
        while (tu_load(p) != want) {
            tu_sleep_us(1000);
        }
    }
}

/* ---- TAP output ------------------------------------------------------------ */

static int tu_tests_run;
static int tu_tests_failed;
static int tu_cur_failures;
/* Subtest selection: list the names, or run only the one named. */
static bool tu_listing;
static const char *tu_only;
static bool tu_only_found;

/* Whether subtest name runs now; lists it instead when listing. */
static inline bool tu_selected(const char *name)
{
    if (tu_listing) {
        printf("%s\n", name);
        return false;
    }
    if (tu_only != NULL && strcmp(tu_only, name) != 0) {
        return false;
    }
    tu_only_found = true;
    return true;
}

static inline bool tu_check(bool ok, const char *what, const char *file,
                            int line)
{
    if (!ok) {
        tu_cur_failures++;
        printf("# FAILED %s:%d: %s\n", file, line, what);
    }
    return ok;
}

#define CHECK(cond) tu_check((cond), #cond, __FILE__, __LINE__)

/* CHECK with a printf-style explanation printed on failure. */
#define CHECKF(cond, ...)                                                   \
    ({                                                                      \
        bool tu_ok_ = (cond);                                               \
        if (!tu_check(tu_ok_, #cond, __FILE__, __LINE__)) {                 \
            printf("#   ");                                                 \
            printf(__VA_ARGS__);                                            \
            printf("\n");                                                   \
        }                                                                   \
        tu_ok_;                                                             \
    })

/* A comment line in the TAP stream. */
#define NOTE(...)                                                           \
    do {                                                                    \
        printf("# ");                                                       \
        printf(__VA_ARGS__);                                                \
        printf("\n");                                                       \
    } while (0)

/* Something went so wrong that continuing would hang (e.g. a thread that
 * cannot be joined): report this subtest as failed and stop the program. */
#define FATAL(...)                                                          \
    do {                                                                    \
        printf("# FATAL %s:%d: ", __FILE__, __LINE__);                      \
        printf(__VA_ARGS__);                                                \
        printf("\nnot ok %d - (aborted)\n1..%d\n", tu_tests_run + 1,        \
               tu_tests_run + 1);                                           \
        fflush(stdout);                                                     \
        _exit(1);                                                           \
    } while (0)

static inline void tu_run(const char *name, void (*fn)(void))
{
    int64_t t0 = tu_now_ns();

    if (!tu_selected(name)) {
        return;
    }
    tu_cur_failures = 0;
    printf("# start: %s\n", name);
    fflush(stdout);
    alarm(TU_WATCHDOG_S);
    fn();
    alarm(0);
    printf("# %s took %.1f ms\n", name, tu_elapsed_ms(t0));
    tu_tests_run++;
    if (tu_cur_failures) {
        tu_tests_failed++;
    }
    printf("%sok %d - %s\n", tu_cur_failures ? "not " : "", tu_tests_run,
           name);
    fflush(stdout);
}

#define RUN(fn) tu_run(#fn, fn)

/* A subtest that cannot run in this configuration, with the reason. */
static inline void tu_skip(const char *name, const char *why)
{
    if (!tu_selected(name)) {
        return;
    }
    tu_tests_run++;
    printf("ok %d - %s # SKIP %s\n", tu_tests_run, name, why);
    fflush(stdout);
}

#define SKIP(fn, why) ((void)(fn), tu_skip(#fn, why))

/* RUN_NEEDS(fn, what): a subtest of something only qemu-rcu has; on QEMU's
 * core it is skipped as "QEMU's RCU has no <what>", and fn's body is
 * compiled only #if TU_QEMU_RCU. */
#if TU_QEMU_RCU
#define RUN_NEEDS(fn, what) RUN(fn)
#else
#define RUN_NEEDS(fn, what) tu_skip(#fn, "QEMU's RCU has no " what)
#endif

/* Reads the command line (nothing, --list or a subtest's name), makes
 * stdout line-buffered (meson reads it through a pipe, and a killed test
 * must still show what it printed) and prints the membarrier mode in use. */
static inline void tu_init(int argc, char **argv, const char *prog)
{
    if (argc > 2 || (argc == 2 && argv[1][0] == '-' &&
                     strcmp(argv[1], "--list") != 0)) {
        fprintf(stderr, "usage: %s [--list | SUBTEST]\n", prog);
        exit(2);
    }
    tu_listing = argc == 2 && strcmp(argv[1], "--list") == 0;
    tu_only = argc == 2 && !tu_listing ? argv[1] : NULL;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (tu_listing) {
        return;
    }
    /* The callback thread registers itself once it runs; after a drain it
     * has, so registered_threads no longer moves behind the tests' back. */
    drain_call_rcu();
#if TU_QEMU_RCU
    {
        struct rcu_stats st;
        const char *env = getenv("QEMU_RCU_MEMBARRIER");

        rcu_get_stats(&st);
        printf("# %s: rcu_membarrier_active=%d (QEMU_RCU_MEMBARRIER=%s), "
               "%u registered threads\n", prog, (int)rcu_membarrier_active,
               env ? env : "unset", st.registered_threads);
    }
#else
    printf("# %s: on QEMU's own RCU core\n", prog);
#endif
}

static inline int tu_done(void)
{
    if (tu_listing) {
        return 0;
    }
    if (tu_only != NULL && !tu_only_found) {
        printf("# no subtest named %s (--list names them)\n", tu_only);
        return 2;
    }
    printf("1..%d\n", tu_tests_run);
    printf("# %d of %d subtests failed\n", tu_tests_failed, tu_tests_run);
    return tu_tests_failed ? 1 : 0;
}

/* ---- threads ----------------------------------------------------------------- */

static inline void tu_thread_start(pthread_t *tid, void *(*fn)(void *),
                                   void *arg)
{
    int err = pthread_create(tid, NULL, fn, arg);

    if (err) {
        FATAL("pthread_create: %s", strerror(err));
    }
}

/*
 * A function run on its own thread, with a "done" flag the test can poll:
 * used for writers whose blocking is the thing under test.
 */
struct tu_async {
    pthread_t tid;
    void (*fn)(void *arg);
    void *arg;
    int done;
};

static inline void *tu_async_main(void *opaque)
{
    struct tu_async *a = opaque;

    a->fn(a->arg);
    tu_store(&a->done, 1);
    return NULL;
}

static inline void tu_async_start(struct tu_async *a, void (*fn)(void *),
                                  void *arg)
{
    a->fn = fn;
    a->arg = arg;
    a->done = 0;
    tu_thread_start(&a->tid, tu_async_main, a);
}

static inline bool tu_async_done(struct tu_async *a)
{
    return tu_load(&a->done) != 0;
}

/* Join a, which must finish.  After timeout_ms the wait is only noted and
 * goes on: a loaded machine can stall a thread for seconds, and what these
 * tests catch is a writer that never returns, which the watchdog ends. */
static inline void tu_async_join(struct tu_async *a, long timeout_ms,
                                 const char *what)
{
    if (!tu_wait_int(&a->done, 1, timeout_ms)) {
        printf("# still waiting for %s after %ld ms\n", what, timeout_ms);
        fflush(stdout);
    }
    pthread_join(a->tid, NULL);
}

/* Adapters so tu_async can run the writer-side API directly. */
static inline void tu_do_synchronize(void *arg)
{
    (void)arg;
    synchronize_rcu();
}

static inline void tu_do_synchronize_expedited(void *arg)
{
    (void)arg;
    tu_synchronize_expedited();
}

static inline void tu_do_drain(void *arg)
{
    (void)arg;
    drain_call_rcu();
}

/*
 * A reader thread that sits in a read-side section until told to leave.
 *
 * The test sets the options, calls holder_start() and waits for "inside";
 * it sets "release" to let the reader go.  "unlocking" is set right before
 * the outermost rcu_read_unlock(), so a writer that returns can check that
 * it really waited for the unlock.  With "notifier" set, the reader
 * registers a force-RCU notifier that counts kicks, and with
 * "leave_on_kick" a kick also makes it leave (as a TCG vCPU would).  The
 * reader never stays longer than TU_SOON_MS, so a missing kick fails the
 * test instead of hanging it ("timed_out"), unless "patient" is set: then
 * it stays until released, and a writer that wrongly waits for it hangs
 * until the watchdog ends the program.
 */
struct holder {
    /* options */
    bool nest;           /* lock, lock, unlock: depth 1 via nesting */
    bool auto_register;  /* leave registration to the first lock, also on
                          * QEMU's core (which then does not see it) */
    bool notifier;
    bool leave_on_kick;
    bool patient;        /* no deadline: only release ends the section */
    /* state */
    pthread_t tid;
    pthread_t self;      /* set by the reader itself, before any notifier */
    Notifier n;
    int kicks;
    int kicks_on_reader; /* notifier calls made on the reader's own thread */
    int inside;
    int release;
    int unlocking;
    int outside;
    int timed_out;
    int was_registered;  /* tu_registered() before the first lock */
};

static inline void tu_holder_kick(Notifier *n, void *data)
{
    struct holder *h = container_of(n, struct holder, n);

    (void)data;
    /* Runs on the writer's thread under the registry lock: only a flag. */
    if (pthread_equal(pthread_self(), h->self)) {
        tu_inc(&h->kicks_on_reader);
    }
    tu_inc(&h->kicks);
}

static inline void *tu_holder_main(void *opaque)
{
    struct holder *h = opaque;
    int64_t deadline = tu_now_ns() + (int64_t)TU_SOON_MS * 1000000;

    h->self = pthread_self();
#if TU_QEMU_RCU
    h->was_registered = tu_registered();
#endif
    if (!h->auto_register) {
        tu_reader_begin();
    }
    if (h->notifier) {
        h->n.notify = tu_holder_kick;
        rcu_add_force_rcu_notifier(&h->n);
    }
    rcu_read_lock();
    if (h->nest) {
        rcu_read_lock();
        rcu_read_lock();
        rcu_read_unlock();
        rcu_read_unlock();   /* back at depth 1: the outer section remains */
    }
    tu_store(&h->inside, 1);
    while (!tu_load(&h->release) &&
           !(h->leave_on_kick && tu_load(&h->kicks) > 0)) {
        if (!h->patient && tu_now_ns() > deadline) {
            tu_store(&h->timed_out, 1);
            break;
        }
        tu_sleep_us(100);
    }
    tu_store(&h->unlocking, 1);
    rcu_read_unlock();
    if (h->notifier) {
        rcu_remove_force_rcu_notifier(&h->n);
    }
    if (!h->auto_register) {
        tu_reader_end();
    }
    tu_store(&h->outside, 1);
    return NULL;
}

static inline void holder_start(struct holder *h)
{
    tu_thread_start(&h->tid, tu_holder_main, h);
    tu_wait_started(&h->inside, 1, "the reader thread to enter its section");
}

static inline void holder_stop(struct holder *h)
{
    tu_store(&h->release, 1);
    pthread_join(h->tid, NULL);
}

/* A writer that records, the moment synchronize_rcu() returns, whether the
 * holder had already started its unlock. */
struct sync_probe {
    struct holder *h;
    bool expedited;
    int saw_unlocking;
};

static inline void tu_do_sync_probe(void *arg)
{
    struct sync_probe *p = arg;

    if (p->expedited) {
        tu_synchronize_expedited();
    } else {
        synchronize_rcu();
    }
    p->saw_unlocking = tu_load(&p->h->unlocking);
}

/*
 * h is inside its section: a synchronize_rcu() started now must not return
 * before h begins to unlock ("what" says what it means if it does), and
 * must return once h is released.  Stops h.  After TU_BLOCKED_MS it is
 * normally still blocked; but this thread may sleep far longer on a loaded
 * machine, long enough for h to leave on its own deadline, so what is
 * checked is the order, not the time: done means h was already unlocking.
 */
static inline void tu_check_sync_waits_for(struct holder *h, const char *what)
{
    struct sync_probe p = { .h = h };
    struct tu_async w;

    tu_async_start(&w, tu_do_sync_probe, &p);
    tu_sleep_ms(TU_BLOCKED_MS);
    CHECKF(!tu_async_done(&w) || p.saw_unlocking == 1, "%s", what);
    holder_stop(h);
    tu_async_join(&w, TU_SOON_MS, "synchronize_rcu after the reader left");
    CHECK(p.saw_unlocking == 1);
}

/* Wait (bounded) until a grace period advances the reader counter from
 * ctr: that writer has begun, and looks at readers from now on. */
static inline bool tu_counter_moves_from(unsigned long ctr)
{
    int64_t end = tu_now_ns() + (int64_t)TU_SOON_MS * 1000000;

    while (__atomic_load_n(&rcu_gp_ctr, __ATOMIC_ACQUIRE) == ctr) {
        if (tu_now_ns() > end) {
            return false;
        }
        tu_sleep_us(200);
    }
    return true;
}

/*
 * A writer does not wait for sections that began after it: reader B enters
 * while synchronize_rcu() is blocked on reader A, and once A is released
 * the writer must return with B still inside ("what" says what it means
 * if not).  B stays until released, however slow the machine, so the check
 * is on order, not time: a writer that waits for B never returns, and the
 * watchdog fails the program.  timeout_ms is only when to say so early.
 */
static inline void tu_check_sync_ignores_new_reader(long timeout_ms,
                                                    const char *what)
{
    struct holder a = { 0 }, b = { .patient = true };
    struct tu_async w;
    unsigned long ctr;

    drain_call_rcu();            /* no other grace period runs meanwhile */
    holder_start(&a);
    ctr = __atomic_load_n(&rcu_gp_ctr, __ATOMIC_ACQUIRE);
    tu_async_start(&w, tu_do_synchronize, NULL);
    /* B must enter after the writer's grace period began, not after a
     * guess at how long starting it takes. */
    CHECKF(tu_counter_moves_from(ctr), "the writer's grace period did not start");
    /* Done only if A already left on its own deadline (see holder). */
    CHECK(!tu_async_done(&w) || tu_load(&a.unlocking));
    holder_start(&b);
    tu_store(&a.release, 1);
    if (!tu_wait_int(&w.done, 1, timeout_ms)) {
        NOTE("the writer is still waiting after %ld ms: %s?", timeout_ms, what);
        while (!tu_async_done(&w)) {
            tu_sleep_ms(1);
        }
    }
    CHECKF(tu_load(&b.unlocking) == 0, "%s", what);
    holder_stop(&b);
    holder_stop(&a);
    tu_async_join(&w, TU_SOON_MS, "synchronize_rcu");
}

/* ---- forked children ---------------------------------------------------------- */

/*
 * Reap child pid, waiting at most timeout_ms.  A child that is still alive
 * then is killed with SIGKILL (its own alarm() may never have been armed if
 * it hung inside fork()) so no stuck process outlives the test; returns
 * false in that case.
 */
static inline bool tu_wait_child(pid_t pid, long timeout_ms, int *status)
{
    int64_t end = tu_now_ns() + (int64_t)timeout_ms * 1000000;

    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid) {
            return true;
        }
        if (r < 0 && errno != EINTR) {
            FATAL("waitpid: %s", strerror(errno));
        }
        if (tu_now_ns() > end) {
            kill(pid, SIGKILL);
            while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
            }
            return false;
        }
        tu_sleep_us(500);
    }
}

struct tu_child {
    int status;
    bool hung;            /* killed by the parent after the timeout */
    char err[8192];       /* the child's stderr, NUL-terminated, truncated */
};

/*
 * Run fn in a forked child whose stderr goes into c->err.  The child has its
 * own watchdog; if fn returns, the child exits 0.  stdout is flushed first
 * so the child does not print the parent's buffered output again.
 */
static inline void tu_run_child(void (*fn)(void), unsigned watchdog_s,
                                struct tu_child *c)
{
    int64_t end = tu_now_ns() + ((int64_t)watchdog_s + 2) * 1000000000;
    int fds[2];
    size_t len = 0;
    pid_t pid;

    memset(c, 0, sizeof(*c));
    fflush(stdout);
    fflush(stderr);
    if (pipe(fds) != 0) {
        FATAL("pipe: %s", strerror(errno));
    }
    pid = tu_fork();
    if (pid < 0) {
        FATAL("fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        close(fds[1]);
        alarm(watchdog_s);
        fn();
        _exit(0);
    }
    close(fds[1]);
    /* Read until EOF, or until the deadline if the child hangs. */
    for (;;) {
        struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
        int left_ms = (int)((end - tu_now_ns()) / 1000000);
        ssize_t n;

        if (left_ms <= 0) {
            break;
        }
        if (poll(&pfd, 1, left_ms) <= 0) {
            continue;     /* EINTR, or the deadline: checked above */
        }
        if (len == sizeof(c->err) - 1) {
            char sink[512];    /* full: keep draining so it never blocks */
            n = read(fds[0], sink, sizeof(sink));
        } else {
            n = read(fds[0], c->err + len, sizeof(c->err) - 1 - len);
            if (n > 0) {
                len += (size_t)n;
            }
        }
        if (n == 0 || (n < 0 && errno != EINTR)) {
            break;
        }
    }
    c->err[len] = '\0';
    close(fds[0]);
    c->hung = !tu_wait_child(pid, end > tu_now_ns() ?
                             (end - tu_now_ns()) / 1000000 : 0, &c->status);
}

/* Print the child's fate and stderr as TAP comments. */
static inline void tu_child_describe(const struct tu_child *c)
{
    const char *p = c->err;

    if (c->hung) {
        NOTE("child hung and was killed");
    } else if (WIFSIGNALED(c->status)) {
        NOTE("child killed by signal %d (%s)", WTERMSIG(c->status),
             strsignal(WTERMSIG(c->status)));
    } else if (WIFEXITED(c->status)) {
        NOTE("child exited with status %d", WEXITSTATUS(c->status));
    }
    while (*p) {
        const char *nl = strchr(p, '\n');
        int n = nl ? (int)(nl - p) : (int)strlen(p);
        printf("#   stderr: %.*s\n", n, p);
        p += n + (nl != NULL);
    }
}

static inline bool tu_contains_nocase(const char *hay, const char *needle)
{
    return strcasestr(hay, needle) != NULL;
}

/* The child must have died of SIGABRT with a message naming the mistake:
 * every needle (case-insensitive) must appear in its stderr. */
#define CHECK_ABORTED_WITH(c, ...)                                          \
    do {                                                                    \
        const char *tu_needles_[] = { __VA_ARGS__, NULL };                  \
        CHECK(WIFSIGNALED((c)->status) && WTERMSIG((c)->status) == SIGABRT);\
        for (int tu_i_ = 0; tu_needles_[tu_i_]; tu_i_++) {                  \
            CHECKF(tu_contains_nocase((c)->err, tu_needles_[tu_i_]),        \
                   "stderr does not mention \"%s\"", tu_needles_[tu_i_]);   \
        }                                                                   \
        tu_child_describe(c);                                               \
    } while (0)

#endif /* QEMU_RCU_TESTUTIL_H */
