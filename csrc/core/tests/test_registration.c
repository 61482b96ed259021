/* SPDX-License-Identifier: MIT */
/*
 * test_registration.c: the reader registry (docs/design.md,
 * "The read path" and "Fork and exit").
 * A thread's first rcu_read_lock() registers it; a thread that exits is
 * unregistered, even inside a section; register/unregister are idempotent;
 * writers (synchronize_rcu, call_rcu1, drain_call_rcu) need no
 * registration; registration can churn while grace periods run.
 */
#include "testutil.h"

/* The size of the registry; 0 on QEMU's core, which cannot tell.  A thread
 * that registers adds TU_QEMU_RCU to it, so each check of the count holds
 * on QEMU's core trivially and means the same as before on qemu-rcu's. */
static unsigned registered_threads(void)
{
#if TU_QEMU_RCU
    struct rcu_stats st;

    rcu_get_stats(&st);
    return st.registered_threads;
#else
    return 0;
#endif
}

#if TU_QEMU_RCU
/* The thread that loaded the core (here: main) is registered,
 * and so is the callback thread. */
static void loader_thread_registered(void)
{
    CHECK(tu_registered());
    CHECKF(registered_threads() >= 2, "%u registered threads at start",
           registered_threads());
}
#endif

/* A thread that never registered is registered by its first
 * rcu_read_lock(), so a writer waits for its section (in QEMU, a writer
 * would not wait for it; docs/design.md, "Differences from QEMU"). */
static void first_lock_registers(void)
{
    struct holder h = { .auto_register = true };
    unsigned before = registered_threads();

    holder_start(&h);
#if TU_QEMU_RCU
    CHECKF(!h.was_registered, "a fresh thread started out registered");
    CHECK(registered_threads() == before + 1);
#endif
    tu_check_sync_waits_for(&h, "the auto-registered reader was not waited "
                            "for");
    CHECKF(registered_threads() == before, "the exited reader is still "
           "registered (%u, was %u)", registered_threads(), before);
}

/* A registered thread that exits is removed from the registry, and later
 * grace periods do not look at its (now freed) record. */
struct exiter {
    bool inside;    /* exit from inside a read-side section */
    int ready;
    int go;
    int leaving;    /* set just before the thread returns */
};

static void *exiter_main(void *arg)
{
    struct exiter *e = arg;

    rcu_register_thread();
    if (e->inside) {
        rcu_read_lock();
        rcu_read_lock();
    }
    tu_store(&e->ready, 1);
    tu_wait_int(&e->go, 1, TU_SOON_MS);
    return NULL;    /* the thread-exit destructor must clean up */
}

static void exit_unregisters(bool inside)
{
    struct exiter e = { .inside = inside };
    struct tu_async w;
    pthread_t t;
    unsigned before = registered_threads();

    tu_thread_start(&t, exiter_main, &e);
    tu_wait_started(&e.ready, 1, "the thread to start");
    CHECK(registered_threads() == before + TU_QEMU_RCU);
    tu_store(&e.go, 1);
    pthread_join(t, NULL);
    CHECKF(registered_threads() == before, "%u registered after exit, %u "
           "before", registered_threads(), before);
    /* A writer that waited for the thread that has exited would never
     * return. */
    tu_async_start(&w, tu_do_synchronize, NULL);
    tu_async_join(&w, TU_SOON_MS, "synchronize_rcu after the thread exited");
}

static void exit_unregisters_outside_section(void)
{
    exit_unregisters(false);
}

static void exit_unregisters_inside_section(void)
{
    exit_unregisters(true);
}

/*
 * A writer is already waiting for a reader when that reader's thread exits
 * inside its section.  The exit ends the section, so the writer must
 * return; it may be asleep on the grace-period event by then (forced at
 * once when expedited, after the polls otherwise), so the exit must also
 * wake it.
 */
static void *exit_in_section_main(void *arg)
{
    struct exiter *e = arg;

    tu_reader_begin();
    rcu_read_lock();
    tu_store(&e->ready, 1);
    tu_wait_int(&e->go, 1, TU_SOON_MS);
    tu_store(&e->leaving, 1);
    return NULL;    /* still inside */
}

static void writer_waiting_for_exiting_reader(bool expedited)
{
    struct exiter e = { 0 };
    struct tu_async w;
    pthread_t t;

    tu_thread_start(&t, exit_in_section_main, &e);
    tu_wait_started(&e.ready, 1, "the thread to start");
    tu_async_start(&w, expedited ? tu_do_synchronize_expedited
                                 : tu_do_synchronize, NULL);
    /* Long enough for a normal grace period to stop polling and sleep.  On
     * a loaded machine this thread may sleep past the reader's own
     * deadline, so the order is checked, not the time: a writer that is
     * done must have seen the reader's thread on its way out. */
    tu_sleep_ms(200);
    CHECK(!tu_async_done(&w) || tu_load(&e.leaving));
    tu_store(&e.go, 1);
    pthread_join(t, NULL);
    /* A writer that misses the exit sleeps for good once it forces (the
     * expedited one at once, the other after QEMU's five polls), holding
     * the sync lock, and the watchdog ends the program.  That is why this
     * subtest runs last. */
    tu_async_join(&w, 2000, expedited ?
                  "the expedited writer to be woken by the reader's exit" :
                  "the writer to be woken by the reader's exit");
}

static void exit_inside_section_wakes_writer(void)
{
    writer_waiting_for_exiting_reader(true);
    writer_waiting_for_exiting_reader(false);
}

/* Many threads that register, read and exit: none is left behind. */
static void *short_lived_reader(void *arg)
{
    (void)arg;
    rcu_read_lock();
    rcu_read_unlock();
    return NULL;
}

static void many_threads_exit(void)
{
    unsigned before = registered_threads();

    for (int round = 0; round < 20; round++) {
        pthread_t t[8];
        for (int i = 0; i < 8; i++) {
            tu_thread_start(&t[i], short_lived_reader, NULL);
        }
        for (int i = 0; i < 8; i++) {
            pthread_join(t[i], NULL);
        }
    }
    CHECK(registered_threads() == before);
    synchronize_rcu();
}

/* Registering or unregistering twice is harmless, and a
 * thread that unregistered is registered again by its next lock. */
struct twice {
    unsigned base;
    unsigned after_register2;
    unsigned after_unregister2;
    bool reg_flag_after_unregister;
};

static void *twice_main(void *arg)
{
    struct twice *t = arg;

    rcu_register_thread();
    rcu_register_thread();
    t->after_register2 = registered_threads();
    rcu_unregister_thread();
    rcu_unregister_thread();
    t->after_unregister2 = registered_threads();
#if TU_QEMU_RCU
    t->reg_flag_after_unregister = tu_registered();
#endif

    /* Inside a section the thread is registered already: a no-op. */
    rcu_read_lock();
    rcu_register_thread();
    rcu_read_unlock();
    rcu_unregister_thread();
    return NULL;
}

static void register_twice(void)
{
    struct twice t = { .base = registered_threads() };
    pthread_t tid;

    tu_thread_start(&tid, twice_main, &t);
    pthread_join(tid, NULL);
    CHECKF(t.after_register2 == t.base + TU_QEMU_RCU,
           "registering twice counted %u", t.after_register2 - t.base);
    CHECK(t.after_unregister2 == t.base);
    CHECK(!t.reg_flag_after_unregister);
    CHECK(registered_threads() == t.base);

    /* The calling thread too. */
    rcu_register_thread();
    rcu_register_thread();
#if TU_QEMU_RCU
    CHECK(tu_registered());
#endif
    rcu_unregister_thread();
    rcu_unregister_thread();
#if TU_QEMU_RCU
    CHECK(!tu_registered());
#endif
    synchronize_rcu();
    rcu_register_thread();
}

/* Unregister, then lock again: the writer must wait for that section. */

static void *rereg_main(void *arg)
{
    struct holder *h = arg;

    rcu_register_thread();
    rcu_unregister_thread();
    return tu_holder_main(h);
}

static void lock_after_unregister_registers_again(void)
{
    struct holder h = { .auto_register = true };

    tu_thread_start(&h.tid, rereg_main, &h);
    tu_wait_started(&h.inside, 1, "the reader to enter its section");
    tu_check_sync_waits_for(&h, "the re-registered reader was not waited "
                            "for");
}

/* A thread that never reads can still write, and stays unregistered. */
static int unreg_cb_ran;

static void unreg_cb(struct rcu_head *head)
{
    (void)head;
    unreg_cb_ran = 1;
}

struct writer_only {
    bool registered_before, registered_after;
    unsigned count_before, count_after;
};

static void *writer_only_main(void *arg)
{
    struct writer_only *w = arg;
    struct rcu_head head;

#if TU_QEMU_RCU
    w->registered_before = tu_registered();
#endif
    w->count_before = registered_threads();
    synchronize_rcu();
    tu_synchronize_expedited();
#if TU_QEMU_RCU
    (void)poll_state_synchronize_rcu(get_state_synchronize_rcu());
#endif
    call_rcu1(&head, unreg_cb);
    drain_call_rcu();
#if TU_QEMU_RCU
    w->registered_after = tu_registered();
#endif
    w->count_after = registered_threads();
    return NULL;
}

static void writers_need_no_registration(void)
{
    struct writer_only w = { 0 };
    pthread_t t;

    tu_thread_start(&t, writer_only_main, &w);
    pthread_join(t, NULL);
    CHECK(!w.registered_before);
    CHECK(unreg_cb_ran == 1);
    CHECKF(!w.registered_after, "a pure writer was registered as a reader");
    CHECK(w.count_after == w.count_before);
}

/* Threads register and unregister while grace periods run,
 * without deadlock and without a writer missing a reader. */
#define CHURN_THREADS 4
#define CHURN_ROUNDS 300

static int churn_stop_writer;

static void *churn_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < CHURN_ROUNDS; i++) {
        if (i % 2) {
            rcu_register_thread();
        }
        rcu_read_lock();
        tu_spin_us(5);
        rcu_read_unlock();
        rcu_unregister_thread();
    }
    return NULL;
}

static void churn_writer(void *arg)
{
    int *n = arg;

    while (!tu_load(&churn_stop_writer)) {
        synchronize_rcu();
        (*n)++;
    }
}

static void registration_churn(void)
{
    pthread_t t[CHURN_THREADS];
    struct tu_async w;
    int grace_periods = 0;
    unsigned before = registered_threads();

    tu_async_start(&w, churn_writer, &grace_periods);
    for (int i = 0; i < CHURN_THREADS; i++) {
        tu_thread_start(&t[i], churn_main, NULL);
    }
    for (int i = 0; i < CHURN_THREADS; i++) {
        pthread_join(t[i], NULL);
    }
    tu_store(&churn_stop_writer, 1);
    tu_async_join(&w, TU_SOON_MS, "synchronize_rcu loop");
    CHECK(registered_threads() == before);
    NOTE("%d grace periods during the churn", grace_periods);
}

int main(int argc, char **argv)
{
    tu_init(argc, argv, "test_registration");
    RUN_NEEDS(loader_thread_registered, "qemu-rcu's registration state or rcu_get_stats()");
    RUN(first_lock_registers);
    RUN(exit_unregisters_outside_section);
    RUN(exit_unregisters_inside_section);
    RUN(many_threads_exit);
    RUN(register_twice);
    RUN(lock_after_unregister_registers_again);
    RUN(writers_need_no_registration);
    RUN(registration_churn);
    RUN(exit_inside_section_wakes_writer);    /* last: FATAL on failure */
    return tu_done();
}
