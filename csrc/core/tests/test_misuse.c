/* SPDX-License-Identifier: MIT */
/*
 * test_misuse.c: mistakes that QEMU turns into hangs or corruption must
 * print a message naming the mistake and abort (docs/design.md,
 * "Differences from QEMU").  Each mistake runs in a forked child whose
 * stderr is captured; the child's watchdog turns a hang into SIGALRM, which
 * fails the check.
 */
#include "testutil.h"

/* Seconds a misusing child may live; an abort is immediate. */
#define CHILD_WATCHDOG_S 5

static void nop_cb(struct rcu_head *head)
{
    (void)head;
}

/* The harness itself: a child that does everything right exits 0. */
static void child_correct_use(void)
{
    struct rcu_head head;

    rcu_read_lock();
    rcu_read_unlock();
    synchronize_rcu();
    call_rcu1(&head, nop_cb);
    drain_call_rcu();
}

static void correct_use_exits_cleanly(void)
{
    struct tu_child c;

    tu_run_child(child_correct_use, CHILD_WATCHDOG_S, &c);
    CHECK(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0);
    CHECKF(c.err[0] == '\0', "unexpected stderr: %s", c.err);
}

/* rcu_read_unlock() with no section open, first or after the last one
 * ended, aborts naming it. */
static void child_unlock_without_lock(void)
{
    rcu_read_unlock();
}

static void child_unlock_twice(void)
{
    rcu_read_lock();
    rcu_read_unlock();
    rcu_read_unlock();
}

/* Runs fn on a thread of its own and waits for it: the same mistakes away
 * from the main thread, which the core registered when it loaded. */
static void (*new_thread_fn)(void);

static void *new_thread_main(void *arg)
{
    (void)arg;
    new_thread_fn();
    return NULL;
}

static void on_new_thread(void (*fn)(void))
{
    pthread_t tid;

    new_thread_fn = fn;
    tu_thread_start(&tid, new_thread_main, NULL);
    pthread_join(tid, NULL);
}

/* The same on threads that are not registered: one that never locked, and
 * one that has unregistered. */
static void child_unlock_on_new_thread(void)
{
    on_new_thread(child_unlock_without_lock);
}

static void child_unlock_after_unregister(void)
{
    rcu_read_lock();
    rcu_read_unlock();
    rcu_unregister_thread();
    rcu_read_unlock();
}

static void unbalanced_unlock(void)
{
    struct tu_child c;

    tu_run_child(child_unlock_without_lock, CHILD_WATCHDOG_S, &c);
    CHECK_ABORTED_WITH(&c, "rcu_read_unlock");
    tu_run_child(child_unlock_twice, CHILD_WATCHDOG_S, &c);
    CHECK_ABORTED_WITH(&c, "rcu_read_unlock");
    tu_run_child(child_unlock_on_new_thread, CHILD_WATCHDOG_S, &c);
    CHECK_ABORTED_WITH(&c, "rcu_read_unlock");
    tu_run_child(child_unlock_after_unregister, CHILD_WATCHDOG_S, &c);
    CHECK_ABORTED_WITH(&c, "rcu_read_unlock");
}

/* Waiting for a grace period inside one's own section (outermost or
 * nested) would wait forever: it aborts naming the call. */
static void child_sync_in_section(void)
{
    rcu_read_lock();
    synchronize_rcu();
}

static void child_sync_in_nested_section(void)
{
    rcu_read_lock();
    rcu_read_lock();
    rcu_read_unlock();
    synchronize_rcu();
}

static void child_expedited_in_section(void)
{
    rcu_read_lock();
    tu_synchronize_expedited();
}

static void synchronize_inside_section(void)
{
    struct tu_child c;

    tu_run_child(child_sync_in_section, CHILD_WATCHDOG_S, &c);
    CHECK_ABORTED_WITH(&c, "synchronize_rcu", "section");
    tu_run_child(child_sync_in_nested_section, CHILD_WATCHDOG_S, &c);
    CHECK_ABORTED_WITH(&c, "synchronize_rcu", "section");
    /* The expedited variant deadlocks just the same. */
    tu_run_child(child_expedited_in_section, CHILD_WATCHDOG_S, &c);
    CHECK_ABORTED_WITH(&c, "synchronize_rcu", "section");
}

static void child_drain_in_section(void)
{
    struct rcu_head head;

    call_rcu1(&head, nop_cb);
    rcu_read_lock();
    drain_call_rcu();
}

static void drain_inside_section(void)
{
    struct tu_child c;

    tu_run_child(child_drain_in_section, CHILD_WATCHDOG_S, &c);
    CHECK_ABORTED_WITH(&c, "drain_call_rcu", "section");
}

/* drain_call_rcu() from a callback would wait for the callback thread,
 * i.e. for itself. */
static void drain_cb(struct rcu_head *head)
{
    (void)head;
    drain_call_rcu();
}

static void child_drain_in_callback(void)
{
    static struct rcu_head head;

    call_rcu1(&head, drain_cb);
    /* If the core does not catch it, this waits forever (watchdog). */
    drain_call_rcu();
}

static void drain_from_callback(void)
{
    struct tu_child c;

    tu_run_child(child_drain_in_callback, CHILD_WATCHDOG_S, &c);
    CHECK_ABORTED_WITH(&c, "drain_call_rcu", "callback");
}

/* Unregistering inside a section would make writers stop waiting for a
 * section that is still open: it aborts naming the call. */
static void child_unregister_in_section(void)
{
    rcu_read_lock();
    rcu_unregister_thread();
}

static void unregister_inside_section(void)
{
    struct tu_child c;

    tu_run_child(child_unregister_in_section, CHILD_WATCHDOG_S, &c);
    CHECK_ABORTED_WITH(&c, "rcu_unregister_thread", "section");
}

/* The same mistakes on a thread other than the main one. */
static void child_thread_sync_in_section(void)
{
    on_new_thread(child_sync_in_section);
}

static void misuse_on_other_thread(void)
{
    struct tu_child c;

    tu_run_child(child_thread_sync_in_section, CHILD_WATCHDOG_S, &c);
    CHECK_ABORTED_WITH(&c, "synchronize_rcu", "section");
}

/* A callback that returns inside a section would make the callback
 * thread's next grace period wait for itself. */
static void leaky_cb(struct rcu_head *head)
{
    (void)head;
    rcu_read_lock();
}

static void child_callback_leaves_section(void)
{
    struct rcu_head head, second;

    call_rcu1(&head, leaky_cb);
    call_rcu1(&second, nop_cb);
    drain_call_rcu();
}

static void callback_leaves_section_open(void)
{
    struct tu_child c;

    tu_run_child(child_callback_leaves_section, CHILD_WATCHDOG_S, &c);
    CHECK_ABORTED_WITH(&c, "callback", "returned inside a read-side");
}

#if TU_QEMU_RCU
/* Sections nested 2^32 - 2 deep (a loop that forgets to unlock): one more
 * would make the depth read as "unregistered", so it aborts instead.  The
 * depth is set by hand rather than counted up for seconds. */
static void child_nest_too_deep(void)
{
    rcu_read_lock();
    get_ptr_rcu_reader()->depth = QEMU_RCU_DEPTH_UNREGISTERED - 2;
    rcu_read_lock();          /* the deepest a section may nest */
    CHECK(rcu_read_lock_held());
    rcu_read_lock();
}

static void nesting_too_deep(void)
{
    struct tu_child c;

    tu_run_child(child_nest_too_deep, CHILD_WATCHDOG_S, &c);
    CHECK_ABORTED_WITH(&c, "rcu_read_lock", "nested", "rcu_read_unlock() is missing");
}
#endif

int main(int argc, char **argv)
{
    tu_init(argc, argv, "test_misuse");
    RUN(correct_use_exits_cleanly);
    RUN(unbalanced_unlock);
    RUN(synchronize_inside_section);
    RUN(drain_inside_section);
    RUN(drain_from_callback);
    RUN(unregister_inside_section);
    RUN(callback_leaves_section_open);
    RUN(misuse_on_other_thread);
    RUN_NEEDS(nesting_too_deep, "QEMU_RCU_DEPTH_UNREGISTERED to reach by nesting");
    return tu_done();
}
