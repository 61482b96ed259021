/* SPDX-License-Identifier: MIT */
/*
 * test_fork.c: fork at any moment leaves a working RCU in the child
 * (docs/design.md, "Fork and exit"): outside and inside a section, while
 * callbacks are queued and run, while a thread is half-way through
 * call_rcu1, during grace periods, and with fork handling disabled.
 *
 * Every child runs under alarm() and reports through its exit code, so a
 * child that deadlocks fails the test instead of hanging it; the parent
 * checks that it keeps working afterwards too.
 */
/* Under ThreadSanitizer and a loaded machine one fork, with its child's
 * drains and the parent's, has taken up to 17 s (each slow fork is logged):
 * the watchdogs catch hangs, and must not mistake that for one. */
#define TU_WATCHDOG_S 90
#include "testutil.h"

#ifdef QEMU_RCU_TEST_HOOKS
/* In the core built for this test. */
extern void (*qemu_rcu_test_enqueue_gap)(void);
#endif

/* Seconds a child may take to prove its RCU works. */
#define CHILD_WATCHDOG_S 30

/* Exit codes of a child's self-check, first failure wins. */
enum {
    CHILD_OK = 0,
    CHILD_NOT_IN_SECTION = 10,
    CHILD_IN_SECTION,
    CHILD_WRITER_DID_NOT_WAIT,
    CHILD_CALLBACK_DID_NOT_RUN,
    CHILD_WRONG_DEPTH,
    CHILD_OWN_CALLBACK_LOST,
};

/* Queued by the forking thread just before fork: the child must run it. */
static struct rcu_head own_head;
static int own_ran;

static void own_cb(struct rcu_head *head)
{
    (void)head;
    own_ran = 1;
}

static int child_cb_ran;

static void child_cb(struct rcu_head *head)
{
    (void)head;
    child_cb_ran = 1;
}

/* The minimum a child must manage: a grace period, a callback, a drain. */
static int child_write_side_works(void)
{
    struct rcu_head head;

    synchronize_rcu();
    child_cb_ran = 0;
    call_rcu1(&head, child_cb);
    drain_call_rcu();
    if (!child_cb_ran) {
        return CHILD_CALLBACK_DID_NOT_RUN;
    }
    tu_synchronize_expedited();
    return CHILD_OK;
}

static pid_t fork_child(void)
{
    pid_t pid;

    fflush(stdout);
    fflush(stderr);
    pid = tu_fork();
    if (pid < 0) {
        FATAL("fork: %s", strerror(errno));
    }
    if (pid == 0) {
        alarm(CHILD_WATCHDOG_S);
    }
    return pid;
}

/* Wait for a child; true if it exited 0.  Prints how it failed.  A child
 * stuck before its alarm() was armed (inside fork itself) is killed. */
static bool child_ok(pid_t pid, const char *what)
{
    int status;

    if (!tu_wait_child(pid, (CHILD_WATCHDOG_S + 3) * 1000L, &status)) {
        NOTE("%s: child hung (inside fork?) and was killed", what);
        return false;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return true;
    }
    if (WIFSIGNALED(status)) {
        NOTE("%s: child killed by signal %d (%s)%s", what, WTERMSIG(status),
             strsignal(WTERMSIG(status)),
             WTERMSIG(status) == SIGALRM ? ": it hung" : "");
    } else {
        NOTE("%s: child exited with %d", what, WEXITSTATUS(status));
    }
    return false;
}

/* ---- fork outside a section ---- */

static void fork_outside_section(void)
{
    pid_t pid;

    synchronize_rcu();
    pid = fork_child();
    if (pid == 0) {
        if (rcu_read_lock_held()) {
            _exit(CHILD_IN_SECTION);
        }
        rcu_read_lock();
        rcu_read_unlock();
        _exit(child_write_side_works());
    }
    CHECK(child_ok(pid, "fork outside a section"));
    CHECK(child_write_side_works() == CHILD_OK);
}

/* ---- fork inside a section (QEMU: the child aborts) ---- */

static void nop_cb(struct rcu_head *head)
{
    (void)head;
}

static int child_inside_section(void)
{
    struct rcu_head head;
    struct tu_async w;
    int rc;

    if (!rcu_read_lock_held() || get_ptr_rcu_reader()->depth != 2) {
        return CHILD_NOT_IN_SECTION;
    }
    /* The child's registry knows this thread is inside: a writer on a new
     * thread of the child must wait for it. */
    tu_async_start(&w, tu_do_synchronize, NULL);
    tu_sleep_ms(TU_BLOCKED_MS);
    if (tu_async_done(&w)) {
        return CHILD_WRITER_DID_NOT_WAIT;
    }
    rcu_read_unlock();
    if (!rcu_read_lock_held()) {
        return CHILD_WRONG_DEPTH;
    }
    call_rcu1(&head, nop_cb);   /* legal inside; drained below */
    rcu_read_unlock();
    if (rcu_read_lock_held()) {
        return CHILD_WRONG_DEPTH;
    }
    pthread_join(w.tid, NULL);   /* the grace period ends now */
    rc = child_write_side_works();
    return rc;
}

static void fork_inside_section(void)
{
    pid_t pid;

    rcu_read_lock();
    rcu_read_lock();
    pid = fork_child();
    if (pid == 0) {
        _exit(child_inside_section());
    }
    rcu_read_unlock();
    rcu_read_unlock();
    CHECK(child_ok(pid, "fork inside a section"));
    CHECK(child_write_side_works() == CHILD_OK);
}

/* ---- fork while the callback thread is busy ----
 *
 * Producers recycle a fixed pool of nodes instead of calling malloc, drain
 * only after the forks are over, and are fully started before the first
 * fork: the sanitizer runtimes of gcc 12 do not protect their allocators
 * across fork, so a child forked while another thread is inside malloc/free
 * (a new thread allocates while it starts) can deadlock in the runtime, as
 * seen under both ASan and TSan.  glibc's own malloc is fork-safe, and the
 * core allocates nothing in call_rcu1, grace periods or callbacks, so this
 * loses nothing.
 */

#define POOL 256

struct busy_node {
    struct rcu_head head;
    long spin_us;
    int queued;        /* set by the producer, cleared by the callback */
};

struct flood {
    pthread_t tid;
    long spin_us;
    int started;       /* past thread start-up: safe to fork */
    struct busy_node nodes[POOL];
};

static int flood_stop;
static long flood_invoked;     /* atomic: counted by the callbacks */

static void busy_cb(struct rcu_head *head)
{
    struct busy_node *n = container_of(head, struct busy_node, head);

    tu_spin_us(n->spin_us);
    __atomic_add_fetch(&flood_invoked, 1, __ATOMIC_RELAXED);
    tu_store(&n->queued, 0);
}

/* Floods call_rcu1 with callbacks; at most POOL of them are pending per
 * producer, which also bounds the backlog a child inherits (its drain runs
 * it all). */
static void *flood_producer(void *arg)
{
    struct flood *f = arg;

    for (unsigned i = 0; !tu_load(&flood_stop); i = (i + 1) % POOL) {
        struct busy_node *n = &f->nodes[i];

        while (tu_load(&n->queued) && !tu_load(&flood_stop)) {
            tu_sleep_us(50);     /* the pool is full: wait for callbacks */
        }
        if (tu_load(&n->queued)) {
            break;
        }
        n->spin_us = f->spin_us;
        tu_store(&n->queued, 1);
        call_rcu1(&n->head, busy_cb);
        tu_store(&f->started, 1);
    }
    drain_call_rcu();    /* the pool must outlive its callbacks */
    return NULL;
}

static void flood_start(struct flood *f, long spin_us)
{
    memset(f, 0, sizeof(*f));
    f->spin_us = spin_us;
    tu_thread_start(&f->tid, flood_producer, f);
    tu_wait_started(&f->started, 1, "the producer");
}

/* Fork nforks times; with alternate, every other fork happens inside a
 * read-side section of the forking thread.  Each fork is checked in full,
 * but no new one starts after FORK_BUDGET_MS once MIN_FORKS have run: on a
 * loaded 2-core machine, under ThreadSanitizer, a fork with its child's
 * drains and the parent's drain has taken up to 3 s, and the loop must end
 * well inside the watchdog.  A fork slower than SLOW_FORK_MS is reported,
 * so that a run the watchdog ends shows how far it got and at what pace. */
#define FORK_BUDGET_MS 6000
#define MIN_FORKS 2
#define SLOW_FORK_MS 1000

static void fork_repeatedly(int nforks, const char *what, bool alternate)
{
    int64_t start = tu_now_ns(), fork_start;
    int failed = 0, forks = 0;

    for (int i = 0; i < nforks; i++) {
        bool inside = alternate && i % 2;
        pid_t pid;

        if (i >= MIN_FORKS && tu_elapsed_ms(start) > FORK_BUDGET_MS) {
            break;
        }
        forks++;
        fork_start = tu_now_ns();
        own_ran = 0;
        call_rcu1(&own_head, own_cb);
        if (inside) {
            rcu_read_lock();
        }
        pid = fork_child();
        if (pid == 0) {
            if (inside != rcu_read_lock_held()) {
                _exit(inside ? CHILD_NOT_IN_SECTION : CHILD_IN_SECTION);
            }
            if (inside) {
                rcu_read_unlock();
            }
            /* Other threads' half-done enqueues must not cut it off. */
            drain_call_rcu();
            if (!own_ran) {
                _exit(CHILD_OWN_CALLBACK_LOST);
            }
            _exit(child_write_side_works());
        }
        if (inside) {
            rcu_read_unlock();
        }
        if (!child_ok(pid, what)) {
            failed++;
        }
        drain_call_rcu();                       /* own_head is free again */
        if (tu_elapsed_ms(fork_start) > SLOW_FORK_MS) {
            NOTE("%s: fork %d took %.0f ms", what, i, tu_elapsed_ms(fork_start));
        }
        tu_sleep_us(500 + (i * 137) % 1500);   /* vary the fork moment */
    }
    NOTE("%s: %d of %d forks in %.0f ms", what, forks, nforks,
         tu_elapsed_ms(start));
    CHECKF(failed == 0, "%d of %d children failed (%s)", failed, forks, what);
}

#define ENQUEUERS 4

static struct flood floods[ENQUEUERS];

static void fork_while_callbacks_run(void)
{
    long before;

    tu_store(&flood_stop, 0);
    flood_start(&floods[0], 10);
    /* Wait until the callback thread is really busy. */
    while (__atomic_load_n(&flood_invoked, __ATOMIC_RELAXED) < 100) {
        tu_sleep_ms(1);
    }
    before = __atomic_load_n(&flood_invoked, __ATOMIC_RELAXED);
    fork_repeatedly(50, "fork while callbacks run", false);
    tu_store(&flood_stop, 1);
    pthread_join(floods[0].tid, NULL);
    NOTE("%ld slow callbacks ran in the parent during the forks",
         __atomic_load_n(&flood_invoked, __ATOMIC_RELAXED) - before);
    CHECK(child_write_side_works() == CHILD_OK);
}

/* ---- fork while other threads are inside call_rcu1 ---- */

static void fork_while_enqueuing(void)
{
    tu_store(&flood_stop, 0);
    for (int i = 0; i < ENQUEUERS; i++) {
        flood_start(&floods[i], 0);
    }
    fork_repeatedly(30, "fork while enqueuing", false);
    tu_store(&flood_stop, 1);
    for (int i = 0; i < ENQUEUERS; i++) {
        pthread_join(floods[i].tid, NULL);
    }
    CHECK(child_write_side_works() == CHILD_OK);
}

#ifdef QEMU_RCU_TEST_HOOKS
/* ---- fork while a producer is half-way through call_rcu1 ----
 * The test hook holds one producer for 200 ms between taking the queue's
 * tail and linking its node, and the main thread forks meanwhile.  Fork
 * must wait for the link: a child that copied the gap has a queue that
 * ends at a link nobody will write, and its drain hangs. */

#define GAP_HOLD_MS 200

static __thread bool hold_in_gap;
static int in_gap;

static void hold_producer_in_gap(void)
{
    if (hold_in_gap) {
        hold_in_gap = false;
        tu_store(&in_gap, 1);
        tu_sleep_ms(GAP_HOLD_MS);
    }
}

static void *producer_held_in_gap(void *arg)
{
    static struct rcu_head head;

    (void)arg;
    hold_in_gap = true;
    call_rcu1(&head, nop_cb);
    return NULL;
}

static void fork_while_a_producer_is_half_way(void)
{
    pthread_t tid;
    pid_t pid;

    tu_store(&in_gap, 0);
    __atomic_store_n(&qemu_rcu_test_enqueue_gap, hold_producer_in_gap, __ATOMIC_RELEASE);
    pthread_create(&tid, NULL, producer_held_in_gap, NULL);
    tu_wait_started(&in_gap, 1, "the producer to stop half-way through call_rcu1");
    pid = fork_child();
    if (pid == 0) {
        _exit(child_write_side_works());
    }
    CHECK(child_ok(pid, "fork while a producer is half-way through call_rcu1"));
    pthread_join(tid, NULL);
    __atomic_store_n(&qemu_rcu_test_enqueue_gap, NULL, __ATOMIC_RELEASE);
    CHECK(child_write_side_works() == CHILD_OK);
}
#endif

/* ---- fork while readers and writers are busy ----
 * Every other fork happens inside a section while writers run, so a
 * writer may be waiting for the forking thread at that moment (see the
 * previous test for the deterministic version). */

static int churn_stop;
static int churn_started;   /* threads past start-up (see above) */

static void *churn_reader(void *arg)
{
    (void)arg;
    tu_reader_begin();
    tu_inc(&churn_started);
    while (!tu_load(&churn_stop)) {
        rcu_read_lock();
        tu_spin_us(50);
        rcu_read_unlock();
    }
    tu_reader_end();
    return NULL;
}

static void *churn_writer(void *arg)
{
    (void)arg;
    tu_inc(&churn_started);
    while (!tu_load(&churn_stop)) {
        synchronize_rcu();
    }
    return NULL;
}

static void fork_during_grace_periods(void)
{
    pthread_t r[2], w[2];

    tu_store(&churn_stop, 0);
    for (int i = 0; i < 2; i++) {
        tu_thread_start(&r[i], churn_reader, NULL);
        tu_thread_start(&w[i], churn_writer, NULL);
    }
    tu_wait_started(&churn_started, 4, "the reader and writer threads");
    fork_repeatedly(30, "fork during grace periods", true);
    tu_store(&churn_stop, 1);
    for (int i = 0; i < 2; i++) {
        pthread_join(r[i], NULL);
        pthread_join(w[i], NULL);
    }
    CHECK(child_write_side_works() == CHILD_OK);
}

#if TU_QEMU_RCU
/* ---- rcu_disable_atfork: a fork that only execs ----
 * With the handlers off the child must not touch RCU; it execs at once.
 * The parent's RCU keeps working, and fork handling comes back on.
 *
 * Whether the handlers ran shows in the child's registry: the child handler
 * keeps only the forking thread (and the callback thread it starts may add
 * itself), while a child forked without handlers keeps the parent's copy,
 * here with two more idle readers in it.  Reading the count is all such a
 * child does before it exits; safe because no thread is inside the core
 * at the fork. */
static unsigned registered_count(void)
{
    struct rcu_stats st;

    rcu_get_stats(&st);
    return st.registered_threads;
}

static int idle_stop;
static int idle_ready;

static void *idle_reader(void *arg)
{
    (void)arg;
    rcu_register_thread();
    tu_inc(&idle_ready);
    /* Past the watchdog: leaving early would change the count under test. */
    tu_wait_int(&idle_stop, 1, 2 * TU_WATCHDOG_S * 1000L);
    return NULL;
}

static void fork_with_atfork_disabled(void)
{
    pthread_t idle[2];
    unsigned parent_count;
    pid_t pid;

    tu_store(&idle_stop, 0);
    tu_store(&idle_ready, 0);
    for (int i = 0; i < 2; i++) {
        tu_thread_start(&idle[i], idle_reader, NULL);
    }
    tu_wait_started(&idle_ready, 2, "the idle readers");
    drain_call_rcu();            /* the core's own threads are idle too */
    parent_count = registered_count();
    CHECKF(parent_count >= 4, "%u registered threads in the parent",
           parent_count);

    rcu_disable_atfork();
    pid = fork_child();
    if (pid == 0) {
        _exit(registered_count() == parent_count ? 0 : 1);
    }
    rcu_enable_atfork();
    CHECKF(child_ok(pid, "registry after a fork with atfork disabled"),
           "the fork handlers ran although rcu_disable_atfork() was called");

    /* Enabled again: the child's registry was rebuilt. */
    pid = fork_child();
    if (pid == 0) {
        _exit(registered_count() <= 2 ? 0 : 1);
    }
    CHECKF(child_ok(pid, "registry after a fork with atfork enabled"),
           "the fork handlers did not rebuild the child's registry");
    tu_store(&idle_stop, 1);
    for (int i = 0; i < 2; i++) {
        pthread_join(idle[i], NULL);
    }

    rcu_disable_atfork();
    pid = fork_child();
    if (pid == 0) {
        execl("/bin/true", "true", (char *)NULL);
        _exit(127);
    }
    rcu_enable_atfork();
    CHECK(child_ok(pid, "fork with atfork disabled"));
    CHECK(child_write_side_works() == CHILD_OK);

    /* Enabled again: a child has a working RCU. */
    pid = fork_child();
    if (pid == 0) {
        _exit(child_write_side_works());
    }
    CHECK(child_ok(pid, "fork after rcu_enable_atfork"));
}
#endif

/*
 * ---- fork inside a section that a writer is waiting for ----
 *
 * The forking thread holds a section; another thread sits in
 * synchronize_rcu() waiting for it.  A fork "prepare" handler that waits
 * for the writer to finish would deadlock the fork itself, which is why
 * this runs late: a hang here is caught by the watchdog and kills the
 * program.
 */
static void fork_inside_section_while_writer_waits(void)
{
    struct tu_async w;
    pid_t pid;

    rcu_read_lock();
    tu_async_start(&w, tu_do_synchronize, NULL);
    tu_sleep_ms(TU_BLOCKED_MS);
    CHECK(!tu_async_done(&w));
    NOTE("forking while a writer waits for this thread's section");
    pid = fork_child();
    if (pid == 0) {
        if (!rcu_read_lock_held()) {
            _exit(CHILD_NOT_IN_SECTION);
        }
        rcu_read_unlock();
        _exit(child_write_side_works());
    }
    CHECK(!tu_async_done(&w));
    rcu_read_unlock();
    tu_async_join(&w, TU_SOON_MS, "the parent's writer");
    CHECK(child_ok(pid, "fork inside a section a writer waits for"));
}

int main(int argc, char **argv)
{
    tu_init(argc, argv, "test_fork");
    RUN(fork_outside_section);
    RUN(fork_inside_section);
    RUN_NEEDS(fork_with_atfork_disabled, "rcu_get_stats() to count its registry");
    RUN(fork_while_callbacks_run);
    RUN(fork_while_enqueuing);
#ifdef QEMU_RCU_TEST_HOOKS
    RUN(fork_while_a_producer_is_half_way);
#else
    tu_skip("fork_while_a_producer_is_half_way", "needs the core's test hooks "
            "(QEMU_RCU_TEST_HOOKS)");
#endif
    RUN(fork_inside_section_while_writer_waits);
    RUN(fork_during_grace_periods);
    return tu_done();
}
