/* SPDX-License-Identifier: MIT */
/*
 * test_grace.c: grace periods.  synchronize_rcu() waits for every section
 * that was in progress when it began (also a nested one, until its
 * outermost unlock), and for nothing that began later; several writers may
 * wait at once; polled and expedited grace periods; force-RCU notifiers;
 * the grace-period counters of rcu_get_stats().  See docs/design.md,
 * "Grace periods".
 */
#include "testutil.h"

#if TU_QEMU_RCU
/* The core honours QEMU_RCU_MEMBARRIER=0, and the stats agree with the
 * exported flag the inline read side looks at. */
static void membarrier_setting(void)
{
    struct rcu_stats st;
    const char *env = getenv("QEMU_RCU_MEMBARRIER");

    rcu_get_stats(&st);
    CHECK(st.membarrier == rcu_membarrier_active);
    if (env && strcmp(env, "0") == 0) {
        CHECKF(!rcu_membarrier_active, "QEMU_RCU_MEMBARRIER=0 was ignored");
    }
    NOTE("membarrier active: %d", (int)rcu_membarrier_active);
}
#endif

/* A writer does not return while a reader that was inside when
 * it started is still inside. */
static void waits_for_reader(void)
{
    struct holder h = { 0 };

    holder_start(&h);
    tu_check_sync_waits_for(&h, "synchronize_rcu returned while a reader was "
                            "still inside its section");
}

/* Sections that start after the writer began do not delay it. */
static void ignores_new_readers(void)
{
    tu_check_sync_ignores_new_reader(TU_SOON_MS, "synchronize_rcu waited for "
                                     "a section that began after it");
}

/* After lock, lock, unlock the thread is still inside; only the
 * outermost unlock ends the section. */
static void nesting(void)
{
    struct holder h = { .nest = true };

    holder_start(&h);
    tu_check_sync_waits_for(&h, "an inner unlock ended the section");

    /* Same thing on the calling thread itself. */
    rcu_read_lock();
    rcu_read_lock();
    CHECK(get_ptr_rcu_reader()->depth == 2);
    rcu_read_unlock();
    CHECK(rcu_read_lock_held());
    CHECK(get_ptr_rcu_reader()->ctr != 0);
    rcu_read_unlock();
    CHECK(!rcu_read_lock_held());
    CHECK(get_ptr_rcu_reader()->ctr == 0);
}

/*
 * Several writers at once, each satisfying the guarantee.
 *
 * Readers record, inside each section, the value of "epoch" they saw, and
 * INT_MAX right before unlocking.  A writer bumps epoch to e and then calls
 * synchronize_rcu(): a section that saw a value below e started before the
 * bump, so it must have ended (and stored INT_MAX) by the time the writer
 * returns; a section still running then can only have seen e or later.
 */
#define CS_READERS 2
#define CS_WRITERS 3
#define CS_ROUNDS 20
/* A writer starts no new round after this long (it always does one): on a
 * loaded 2-core machine under ThreadSanitizer the readers below, which
 * never leave the CPU, can stretch a grace period to seconds, and 60 of
 * them would outlast the watchdog.  The property is checked on every
 * round that does run. */
#define CS_BUDGET_MS 3000

static int cs_epoch;
static int64_t cs_deadline_ns;
static int cs_rounds;
static int cs_seen[CS_READERS];
static int cs_stop;
static int cs_violations;
static int cs_reads;

static void *cs_reader(void *arg)
{
    int *slot = arg;

    tu_reader_begin();
    while (!tu_load(&cs_stop)) {
        rcu_read_lock();
        __atomic_store_n(slot, __atomic_load_n(&cs_epoch, __ATOMIC_SEQ_CST),
                         __ATOMIC_SEQ_CST);
        tu_spin_us(20);
        __atomic_store_n(slot, INT_MAX, __ATOMIC_SEQ_CST);
        rcu_read_unlock();
        tu_inc(&cs_reads);
    }
    tu_reader_end();
    return NULL;
}

static void *cs_writer(void *arg)
{
    (void)arg;
    for (int i = 0; i < CS_ROUNDS; i++) {
        if (i > 0 && tu_now_ns() > cs_deadline_ns) {
            break;
        }
        int e = __atomic_add_fetch(&cs_epoch, 1, __ATOMIC_SEQ_CST);
        synchronize_rcu();
        for (int r = 0; r < CS_READERS; r++) {
            if (__atomic_load_n(&cs_seen[r], __ATOMIC_SEQ_CST) < e) {
                tu_inc(&cs_violations);
            }
        }
        tu_inc(&cs_rounds);
    }
    return NULL;
}

static void concurrent_writers(void)
{
    pthread_t readers[CS_READERS], writers[CS_WRITERS];
#if TU_QEMU_RCU
    struct rcu_stats before, after;

    rcu_get_stats(&before);
#endif
    for (int r = 0; r < CS_READERS; r++) {
        cs_seen[r] = INT_MAX;
    }
    cs_deadline_ns = tu_now_ns() + (int64_t)CS_BUDGET_MS * 1000000;
    for (int r = 0; r < CS_READERS; r++) {
        tu_thread_start(&readers[r], cs_reader, &cs_seen[r]);
    }
    for (int w = 0; w < CS_WRITERS; w++) {
        tu_thread_start(&writers[w], cs_writer, NULL);
    }
    for (int w = 0; w < CS_WRITERS; w++) {
        pthread_join(writers[w], NULL);
    }
    tu_store(&cs_stop, 1);
    for (int r = 0; r < CS_READERS; r++) {
        pthread_join(readers[r], NULL);
    }
    CHECKF(cs_violations == 0, "%d sections outlived a grace period",
           cs_violations);
    CHECK(cs_rounds >= CS_WRITERS);
#if TU_QEMU_RCU
    rcu_get_stats(&after);
    CHECK(after.grace_periods > before.grace_periods);
    NOTE("%d of %d rounds, %d grace periods, %d reads", cs_rounds,
         CS_WRITERS * CS_ROUNDS, (int)(after.grace_periods -
         before.grace_periods), cs_reads);
#else
    NOTE("%d of %d rounds, %d reads", cs_rounds, CS_WRITERS * CS_ROUNDS,
         cs_reads);
#endif
}

/* Writers with registered but idle readers do not wait for anyone. */
static void *idle_registered(void *arg)
{
    int *stop = arg;

    rcu_register_thread();
    while (!tu_load(stop)) {
        tu_sleep_ms(1);
    }
    tu_reader_end();
    return NULL;
}

static void idle_readers_do_not_delay(void)
{
    pthread_t t[3];
    int stop = 0;
    int64_t t0;
    double ms;

    for (int i = 0; i < 3; i++) {
        tu_thread_start(&t[i], idle_registered, &stop);
    }
    t0 = tu_now_ns();
    for (int i = 0; i < 100; i++) {
        synchronize_rcu();
    }
    ms = tu_elapsed_ms(t0);
    tu_store(&stop, 1);
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
    }
    /* No reader is in a section, so every grace period ends on its first
     * scan; a writer that waited for an idle reader would never return, and
     * the watchdog fails the test.  How long they take is the bench's
     * business ("4 idle registered threads"), not an assertion here. */
    NOTE("100 grace periods with idle readers: %.1f ms", ms);
}

#if TU_QEMU_RCU
/* Polled grace periods: a cookie is not complete before a grace period has
 * passed since it was taken, and is complete after one, whoever ran it. */
static void polled_grace_periods(void)
{
    struct holder h = { 0 };
    struct tu_async w;
    unsigned long c;

    c = get_state_synchronize_rcu();
    CHECK(!poll_state_synchronize_rcu(c));
    synchronize_rcu();
    CHECK(poll_state_synchronize_rcu(c));

    /* A reader inside keeps the cookie incomplete (unless this thread slept
     * past the holder's own deadline, and it has begun to leave). */
    holder_start(&h);
    c = get_state_synchronize_rcu();
    tu_sleep_ms(50);
    CHECK(!poll_state_synchronize_rcu(c) || tu_load(&h.unlocking));
    tu_async_start(&w, tu_do_synchronize, NULL);
    tu_sleep_ms(TU_BLOCKED_MS);
    CHECK(!poll_state_synchronize_rcu(c) || tu_load(&h.unlocking));
    holder_stop(&h);
    tu_async_join(&w, TU_SOON_MS, "synchronize_rcu");
    CHECKF(poll_state_synchronize_rcu(c),
           "another thread's grace period did not complete the cookie");

    /* An old cookie stays complete. */
    synchronize_rcu();
    CHECK(poll_state_synchronize_rcu(c));
}

/* Polled grace periods, the other half: a cookie taken while a grace
 * period is already running is not complete when that one ends.  It may
 * have looked at a reader before the caller's unpublish, so only the next
 * grace period proves that reader is gone.  The running one is told apart
 * by the counter it advances before it looks at any reader. */

static void cookie_taken_during_a_grace_period(void)
{
    struct holder h = { 0 };
    struct tu_async w;
    unsigned long ctr, c;

    drain_call_rcu();            /* no grace period runs behind our back */
    holder_start(&h);
    ctr = __atomic_load_n(&rcu_gp_ctr, __ATOMIC_ACQUIRE);
    tu_async_start(&w, tu_do_synchronize, NULL);
    CHECKF(tu_counter_moves_from(ctr), "the writer's grace period did not start");
    c = get_state_synchronize_rcu();     /* mid-grace-period */
    /* Done only if the reader already left on its own deadline. */
    CHECK(!tu_async_done(&w) || tu_load(&h.unlocking));
    holder_stop(&h);
    tu_async_join(&w, TU_SOON_MS, "synchronize_rcu");
    CHECKF(!poll_state_synchronize_rcu(c), "a cookie taken during a grace "
           "period was complete as soon as that grace period ended");
    synchronize_rcu();
    CHECK(poll_state_synchronize_rcu(c));
}

/* synchronize_rcu_expedited() kicks a reader through its notifier; the
 * reader leaves on the kick, and only then does the writer return. */
static void expedited_kicks_reader(void)
{
    struct holder h = { .notifier = true, .leave_on_kick = true };
    struct sync_probe p = { .h = &h, .expedited = true };
    struct tu_async w;
    int64_t t0;

    holder_start(&h);
    t0 = tu_now_ns();
    tu_async_start(&w, tu_do_sync_probe, &p);
    tu_async_join(&w, TU_SOON_MS + 2000, "synchronize_rcu_expedited");
    NOTE("expedited grace period with a kicked reader: %.1f ms",
         tu_elapsed_ms(t0));
    CHECKF(tu_load(&h.kicks) >= 1, "the force-RCU notifier never fired");
    CHECKF(tu_load(&h.kicks_on_reader) == 0, "a notifier ran on the reader's "
           "own thread instead of the writer's");
    CHECK(!tu_load(&h.timed_out));
    CHECK(p.saw_unlocking == 1);
    holder_stop(&h);

    /* With nobody inside, it simply returns. */
    synchronize_rcu_expedited();
}

#endif

/* Notifiers also fire while drain_call_rcu() waits, and only the ones
 * still registered. */
static int drain_cb_saw_unlocking;
static int drain_cb_ran;
static struct holder *drain_holder;

static void drain_cb(struct rcu_head *head)
{
    (void)head;
    drain_cb_saw_unlocking = tu_load(&drain_holder->unlocking);
    drain_cb_ran = 1;
}

struct removed_notifier {
    Notifier n;
    int calls;
};

static void count_call(Notifier *n, void *data)
{
    (void)data;
    tu_inc(&container_of(n, struct removed_notifier, n)->calls);
}

struct drain_holder_args {
    struct holder h;
    struct removed_notifier gone;
};

/* Registers a notifier and removes it again before holding its section
 * with the usual kicked notifier. */
static void *drain_holder_main(void *arg)
{
    struct drain_holder_args *a = arg;

    a->gone.n.notify = count_call;
    rcu_add_force_rcu_notifier(&a->gone.n);
    rcu_remove_force_rcu_notifier(&a->gone.n);
    return tu_holder_main(&a->h);
}

static void notifiers_fire_during_drain(void)
{
    struct drain_holder_args a = {
        .h = { .notifier = true, .leave_on_kick = true },
    };
    struct rcu_head head;

    drain_holder = &a.h;
    tu_thread_start(&a.h.tid, drain_holder_main, &a);
    tu_wait_started(&a.h.inside, 1, "the reader to enter its section");
    call_rcu1(&head, drain_cb);
    drain_call_rcu();
    CHECK(drain_cb_ran == 1);
    CHECKF(drain_cb_saw_unlocking == 1,
           "a callback ran while a section older than it was still open");
    CHECKF(tu_load(&a.h.kicks) >= 1, "drain_call_rcu fired no notifier");
    CHECK(!tu_load(&a.h.timed_out));
    CHECKF(tu_load(&a.gone.calls) == 0, "a removed notifier was called");
    holder_stop(&a.h);
}

#if TU_QEMU_RCU
/* rcu_get_stats: grace periods and callbacks are counted. */
static int stats_cb_count;

static void stats_cb(struct rcu_head *head)
{
    (void)head;
    tu_inc(&stats_cb_count);
}

static void stats_counters(void)
{
    struct rcu_stats s0, s1, s2;
    struct rcu_head heads[10];

    rcu_register_thread();
    rcu_get_stats(&s0);
    CHECK(s0.registered_threads >= 1);
    synchronize_rcu();
    rcu_get_stats(&s1);
    CHECKF(s1.grace_periods > s0.grace_periods, "%llu -> %llu",
           (unsigned long long)s0.grace_periods,
           (unsigned long long)s1.grace_periods);

    for (int i = 0; i < 10; i++) {
        call_rcu1(&heads[i], stats_cb);
    }
    rcu_get_stats(&s1);
    CHECKF(s1.callbacks_queued - s0.callbacks_queued == 10, "queued +%llu",
           (unsigned long long)(s1.callbacks_queued - s0.callbacks_queued));
    drain_call_rcu();
    rcu_get_stats(&s2);
    CHECK(tu_load(&stats_cb_count) == 10);
    CHECKF(s2.callbacks_invoked - s0.callbacks_invoked >= 10, "invoked +%llu",
           (unsigned long long)(s2.callbacks_invoked - s0.callbacks_invoked));
    CHECKF(s2.callbacks_pending == 0, "pending %llu",
           (unsigned long long)s2.callbacks_pending);
    CHECK(s2.grace_periods > s1.grace_periods);
    CHECK(s2.callbacks_invoked <= s2.callbacks_queued);
    NOTE("grace_periods=%llu queued=%llu invoked=%llu pending=%llu "
         "registered=%u membarrier=%d",
         (unsigned long long)s2.grace_periods,
         (unsigned long long)s2.callbacks_queued,
         (unsigned long long)s2.callbacks_invoked,
         (unsigned long long)s2.callbacks_pending, s2.registered_threads,
         (int)s2.membarrier);
}

#endif

int main(int argc, char **argv)
{
    tu_init(argc, argv, "test_grace");
    RUN_NEEDS(membarrier_setting, "QEMU_RCU_MEMBARRIER or rcu_get_stats()");
    RUN(waits_for_reader);
    RUN(ignores_new_readers);
    RUN(nesting);
    RUN(concurrent_writers);
    RUN(idle_readers_do_not_delay);
    RUN_NEEDS(polled_grace_periods, "get_state/poll_state_synchronize_rcu()");
    RUN_NEEDS(cookie_taken_during_a_grace_period,
              "get_state/poll_state_synchronize_rcu()");
    RUN_NEEDS(expedited_kicks_reader, "synchronize_rcu_expedited()");
    RUN(notifiers_fire_during_drain);
    RUN_NEEDS(stats_counters, "rcu_get_stats()");
    return tu_done();
}
