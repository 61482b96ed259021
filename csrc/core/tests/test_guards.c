/* SPDX-License-Identifier: MIT */
/*
 * test_guards.c: rcu_read_lock_held() and the scoped guards
 * (docs/design.md, "The read path").  RCU_READ_LOCK_GUARD() and
 * WITH_RCU_READ_LOCK_GUARD() must unlock exactly once whichever way the
 * scope is left: falling off the end, break, continue, return or goto.
 * "Exactly once" is checked through the nesting depth: one unlock too many
 * aborts (unbalanced), one too few leaves depth > 0.
 */
#include "testutil.h"

/* The nesting depth; qemu-rcu's record also marks an unregistered thread
 * in the same field, which here counts as 0. */
static unsigned depth(void)
{
    unsigned d = get_ptr_rcu_reader()->depth;

#ifdef QEMU_RCU_DEPTH_UNREGISTERED
    if (d == QEMU_RCU_DEPTH_UNREGISTERED) {
        return 0;
    }
#endif
    return d;
}

static void lock_held(void)
{
    CHECK(!rcu_read_lock_held());
    rcu_read_lock();
    CHECK(rcu_read_lock_held());
    rcu_read_lock();
    CHECK(rcu_read_lock_held());
    rcu_read_unlock();
    CHECK(rcu_read_lock_held());
    rcu_read_unlock();
    CHECK(!rcu_read_lock_held());
}

/* A thread that is not registered is not in a section: before its first
 * lock, and after it unregisters.  (QEMU's core needs the registration by
 * hand, and cannot unregister a thread that did not register.) */
static void *unregistered_main(void *arg)
{
    (void)arg;
    CHECK(!rcu_read_lock_held());
    CHECK(depth() == 0);
    tu_reader_begin();
    rcu_read_lock();
    CHECK(rcu_read_lock_held());
    rcu_read_unlock();
    rcu_unregister_thread();
    CHECK(!rcu_read_lock_held());
    CHECK(depth() == 0);
    return NULL;
}

static void lock_held_unregistered(void)
{
    pthread_t tid;

    tu_thread_start(&tid, unregistered_main, NULL);
    pthread_join(tid, NULL);
}

#if TU_QEMU_RCU
/* The out-of-line pair for bindings behaves as the inline one. */
static void out_of_line_lock(void)
{
    qemu_rcu_read_lock();
    CHECK(rcu_read_lock_held());
    CHECK(depth() == 1);
    qemu_rcu_read_unlock();
    CHECK(!rcu_read_lock_held());
}
#endif

/* ---- RCU_READ_LOCK_GUARD ---- */

static int guard_fall_through(void)
{
    RCU_READ_LOCK_GUARD();
    return (int)depth();
}

static int guard_early_return(int early)
{
    RCU_READ_LOCK_GUARD();
    if (early) {
        return (int)depth() + 100;
    }
    return (int)depth();
}

static void lock_guard(void)
{
    CHECK(guard_fall_through() == 1);
    CHECK(depth() == 0);
    CHECK(guard_early_return(1) == 101);
    CHECK(depth() == 0);
    CHECK(guard_early_return(0) == 1);
    CHECK(depth() == 0);

    /* Leaving a loop body by break, continue and goto. */
    for (int i = 0; i < 3; i++) {
        RCU_READ_LOCK_GUARD();
        CHECK(depth() == 1);
        if (i == 0) {
            continue;
        }
        if (i == 1) {
            break;
        }
    }
    CHECK(depth() == 0);
    for (int i = 0; i < 3; i++) {
        RCU_READ_LOCK_GUARD();
        if (i == 1) {
            goto out;
        }
    }
out:
    CHECK(depth() == 0);
}

#if TU_QEMU_RCU
/* Scoped to a block; two guards in one scope nest.  (QEMU's guard declares
 * one fixed name, so there a second one in the scope does not compile.) */
static void two_guards_in_one_scope(void)
{
    {
        RCU_READ_LOCK_GUARD();
        RCU_READ_LOCK_GUARD();
        CHECK(depth() == 2);
    }
    CHECK(depth() == 0);
}
#endif

/* ---- WITH_RCU_READ_LOCK_GUARD ---- */

static int with_return(void)
{
    WITH_RCU_READ_LOCK_GUARD() {
        return (int)depth();
    }
    return -1;
}

static int with_goto(void)
{
    int seen = -1;

    WITH_RCU_READ_LOCK_GUARD() {
        seen = (int)depth();
        goto done;
    }
    seen = -2;      /* not reached */
done:
    return seen;
}

static void with_guard(void)
{
    int runs;

    /* Normal completion: the body runs once. */
    runs = 0;
    WITH_RCU_READ_LOCK_GUARD() {
        CHECK(depth() == 1);
        runs++;
    }
    CHECK(runs == 1);
    CHECK(depth() == 0);

    /* break leaves the guard's own loop. */
    runs = 0;
    WITH_RCU_READ_LOCK_GUARD() {
        runs++;
        break;
    }
    CHECK(runs == 1);
    CHECK(depth() == 0);

    /* continue ends the body like normal completion. */
    runs = 0;
    WITH_RCU_READ_LOCK_GUARD() {
        runs++;
        continue;
    }
    CHECK(runs == 1);
    CHECK(depth() == 0);

    CHECK(with_return() == 1);
    CHECK(depth() == 0);
    CHECK(with_goto() == 1);
    CHECK(depth() == 0);

    /* Nested guards, and a guard inside an explicit section. */
    WITH_RCU_READ_LOCK_GUARD() {
        WITH_RCU_READ_LOCK_GUARD() {
            CHECK(depth() == 2);
        }
        CHECK(depth() == 1);
    }
    CHECK(depth() == 0);
    rcu_read_lock();
    WITH_RCU_READ_LOCK_GUARD() {
        CHECK(depth() == 2);
    }
    CHECK(depth() == 1);
    rcu_read_unlock();
    CHECK(depth() == 0);

    /* Inside an outer loop, break from the guard does not leave the outer
     * loop (it is the guard's own for). */
    runs = 0;
    for (int i = 0; i < 3; i++) {
        WITH_RCU_READ_LOCK_GUARD() {
            runs++;
            break;
        }
    }
    CHECK(runs == 3);
    CHECK(depth() == 0);
}

/* A guard really holds a section: a writer waits for it. */
struct guard_reader {
    int inside;
    int release;
    int unlocking;
};

static void *guard_reader_main(void *arg)
{
    struct guard_reader *g = arg;

    tu_reader_begin();
    WITH_RCU_READ_LOCK_GUARD() {
        tu_store(&g->inside, 1);
        tu_wait_int(&g->release, 1, TU_SOON_MS);
        tu_store(&g->unlocking, 1);
    }
    tu_reader_end();
    return NULL;
}

static void guard_blocks_writer(void)
{
    struct guard_reader g = { 0 };
    struct tu_async w;
    pthread_t t;

    tu_thread_start(&t, guard_reader_main, &g);
    tu_wait_started(&g.inside, 1, "the reader to enter its section");
    tu_async_start(&w, tu_do_synchronize, NULL);
    tu_sleep_ms(TU_BLOCKED_MS);
    /* Done only if the reader already left on its own deadline (this
     * thread can sleep that long on a loaded machine). */
    CHECK(!tu_async_done(&w) || tu_load(&g.unlocking));
    tu_store(&g.release, 1);
    tu_async_join(&w, TU_SOON_MS, "synchronize_rcu");
    pthread_join(t, NULL);
}

int main(int argc, char **argv)
{
    tu_init(argc, argv, "test_guards");
    RUN(lock_held);
    RUN(lock_held_unregistered);
    RUN_NEEDS(out_of_line_lock, "qemu_rcu_read_lock()");
    RUN(lock_guard);
    RUN_NEEDS(two_guards_in_one_scope, "RCU_READ_LOCK_GUARD() that nests in one "
              "scope");
    RUN(with_guard);
    RUN(guard_blocks_writer);
    return tu_done();
}
